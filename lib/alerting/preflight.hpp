// `crdb-certwatch preflight`: a staged certificate set judged before it replaces the live one.
// The posture checks run on the staged set as it will be after the swap; the transition checks
// compare it with the live set (and, when one is configured and reachable, the cluster's report):
// a SAN dropped, a trust break either way, a CA dropped while certificates still chain to it, a
// changed identity, a notBefore in the future, a downgrade. evaluate_preflight() is pure (sets,
// config and clock in, a report out); read_preflight_sets() is the I/O (the file source's bounded
// reader, one poll of the cluster source).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/check_report.hpp"
#include "config/config.hpp"
#include "core/types.hpp"
#include "rules/checks.hpp"
#include "sources/source.hpp"

namespace certwatch::alerting {

// The transition checks' names (JSON `check`, the docs); the posture checks keep theirs.
inline constexpr std::string_view kPreflightSansDropped = "sans_dropped";
inline constexpr std::string_view kPreflightTrustBreak = "trust_break";
inline constexpr std::string_view kPreflightCaDropped = "ca_dropped";
inline constexpr std::string_view kPreflightIdentityChanged = "identity_changed";
inline constexpr std::string_view kPreflightNotYetValidSoon = "not_yet_valid_soon";
inline constexpr std::string_view kPreflightDowngrade = "downgrade";
// A staged certificate file the node could not load (unreadable, not a regular file, bad PEM).
inline constexpr std::string_view kPreflightFileError = "file_error";

// Where the certificates are: a CockroachDB certs directory (node.crt, ca.crt, client.*.crt...)
// or a mounted Kubernetes TLS Secret (tls.crt, tls.key, ca.crt), whose leaf has the type given on
// the command line (`--cert-type`).
struct CertSetLayout {
  bool tls_secret = false;
  CertType cert_type = CertType::node;  // tls_secret: the type of tls.crt
  std::string user;                     // tls_secret, client: the SQL user its CN must name
};

// One directory as read: its certificates, key files (stat'ed; the staged keys also read for the
// key match) and unusable files. `error` set: the directory itself could not be read.
struct CertSet {
  std::string dir;
  std::vector<CertObservation> certificates;
  std::vector<KeyFile> keys;
  std::vector<FileError> file_errors;
  std::vector<std::string> denylist;  // checks.denylist_file's entries (staged read only)
  std::optional<FileError> error;
};

// What the cluster source said, when one is configured: the node names and every node's reported
// certificate expiry (cluster observations), or why it could not be asked.
struct ClusterView {
  bool consulted = false;   // a cluster section exists and it answered
  std::string skip_reason;  // !consulted: why (no config, no cluster section, unreachable)
  std::vector<CertObservation> reported;
  std::vector<std::string> local_node_names;
};

struct PreflightInputs {
  CertSetLayout layout;
  CertSet staged;
  std::optional<CertSet> live;   // nullopt: none given and none configured
  std::string live_skip_reason;  // why live is nullopt
  // Other certificates this host reads (the configured file source), for ca_dropped.
  std::vector<CertObservation> host_certificates;
  ClusterView cluster;
  rules::ChecksConfig checks;  // key_match forced on
  std::int64_t now = 0;
};

// One side of a certificate's change.
struct PreflightCertSide {
  std::string subject_cn;
  std::string issuer_cn;
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  std::string key;        // "rsa 4096", "ec 256"
  std::string signature;  // "sha256"; "-" when none (Ed25519)
  std::string fingerprint_sha256;
};

// A certificate by its name in the set (file name, #index in a bundle): old -> new.
struct PreflightCertChange {
  std::string name;
  CertType cert_type = CertType::other;
  std::optional<PreflightCertSide> live;
  std::optional<PreflightCertSide> staged;
  std::vector<std::string> sans_added;
  std::vector<std::string> sans_removed;
  // "unchanged", "renewed" (a new certificate), "added" (staged only), "removed" (live only).
  std::string change;
};

struct PreflightFinding {
  std::string check;  // a transition check above or a posture check's name
  Severity severity = Severity::warning;
  std::string subject;  // the certificate or file, by its name in the set
  std::string detail;
  std::string fix;
};

struct PreflightSkip {
  std::string check;
  std::string reason;
};

struct PreflightReport {
  CheckStatus status = CheckStatus::ok;  // 0 safe, 1 warnings, 2 unsafe, 3 could not check
  std::int64_t generated_at = 0;
  std::string staged_dir;
  std::string live_dir;  // empty: none
  CertSetLayout layout;
  std::vector<PreflightCertChange> certificates;
  std::vector<PreflightFinding> findings;  // most severe first
  std::vector<PreflightSkip> skipped;
  std::string error;  // status unknown: why the staged set could not be checked
};

// The chain verdict preflight asks for (trust_break, ca_dropped): nullopt when `leaf`, with the
// untrusted `intermediates` that travel with it (the rest of its file), verifies against `cas` as
// trust anchors, else why not. The one place preflight calls the chain verification: the posture
// checks' verdict (x509/chain.hpp), without the leaf's time (its time has findings of its own),
// and with each CA of the built chain judged at `now` (intermediate_expired).
std::optional<std::string> preflight_trust_error(
    const CertificateFacts& leaf, const std::vector<const CertificateFacts*>& cas, std::int64_t now,
    const std::vector<const CertificateFacts*>& intermediates = {});

// The verdict: unknown when the staged set could not be read (or holds no certificate), else
// critical for sans_dropped, trust_break, ca_dropped, identity_changed, key problems, unusable
// staged files and critical posture checks; warning for downgrade, not_yet_valid_soon and warning
// posture checks; ok otherwise.
PreflightReport evaluate_preflight(const PreflightInputs& inputs);

// What to read: the staged directory and its layout; the live directory (empty: from `config`,
// the first certs dir, or for a Secret the first tls_secrets entry of that type); the config
// (nullopt: none, no cluster and no other host certificates).
struct PreflightRequest {
  std::string staged_dir;
  std::string live_dir;
  std::optional<CertType> cert_type;  // --cert-type
  std::string user;                   // --user
  const config::Config* config = nullptr;
  std::int64_t now = 0;
};

// Reads both sets through the file source (bounded reads; FIFOs, devices and oversized files are
// file errors, never opened or read whole) and polls the configured cluster source once. A Secret
// layout (tls.crt in the staged directory) without a cert type is an error (nullopt + message).
struct PreflightRead {
  std::optional<PreflightInputs> inputs;
  std::string error;
};
PreflightRead read_preflight_sets(const PreflightRequest& request);

// First line "<STATUS>: ...", the old -> new table, the findings with their fixes, the skipped
// checks.
std::string render_preflight_table(const PreflightReport& report);
// The same content as JSON (docs/preflight.md documents the shape).
std::string render_preflight_json(const PreflightReport& report);

}  // namespace certwatch::alerting
