// `crdb-certwatch audit`: evidence of the encryption posture for a compliance review. One data
// model (AuditReport), made from a snapshot and the context of the run, rendered three ways with
// the same content: JSON for tooling (schema in docs/audit.md), Markdown, and one self-contained
// HTML file that prints well. Pure apart from audit_context(), which reads the host name and the
// config file's digest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/check_report.hpp"
#include "config/config.hpp"
#include "core/report.hpp"
#include "core/tier.hpp"
#include "core/types.hpp"
#include "state/rotation_journal.hpp"
#include "state/snapshot.hpp"

namespace certwatch::alerting {

// What the audit states about the run that the snapshot does not hold.
struct AuditContext {
  std::string host;
  std::string config_file;
  std::string config_sha256;  // lowercase hex; empty when the file could not be read again
  std::string config_digest_error;
  Tier tier = Tier::self_hosted;
  std::vector<rules::Rule> rules;
  rules::ChecksConfig checks;
  // The daemon's rotation journal: `rotation_journal` of the config, $STATE_DIRECTORY's, or the
  // packaged default path when readable; empty when there is none.
  std::string rotation_journal;
  state::JournalRead journal;  // what it held (or why it could not be read)
};

// The host name and the SHA-256 of the config file as it is now (bounded read), with the tier,
// rules and checks of `config`.
AuditContext audit_context(const config::Config& config, const std::string& config_file);

// SHA-256 of `bytes`, lowercase hex.
std::string sha256_hex(std::string_view bytes);

// One certificate as the audit shows it: where it was seen, what it is, its state.
struct AuditCertificate {
  CertIdentity id;
  bool has_facts = false;  // false: the source knows only notAfter (cluster)
  std::string subject_cn;
  std::string issuer_cn;
  std::string serial_hex;
  std::string fingerprint_sha256;
  std::vector<std::string> sans;  // DNS names, then IP addresses
  bool is_ca = false;
  bool self_signed = false;
  std::string key_type;
  int key_bits = 0;
  std::string signature_hash;
  std::optional<std::int64_t> not_before;
  std::optional<std::int64_t> not_after;  // absent: the node failed to load it
  std::string action;
  Severity severity = Severity::none;
};

// Everything one source produced, so evidence can be traced to where it was observed.
struct AuditSource {
  std::string name;
  bool up = false;
  std::string error_reason;
  std::string error_message;
  std::vector<AuditCertificate> certificates;  // in the source's order
  std::vector<Table> tables;                   // the source's own sections (cluster nodes)
};

// One posture check: whether it ran, at which severity, how many certificates failed it.
struct AuditCheck {
  std::string name;
  std::string summary;
  Severity severity = Severity::none;
  bool ran = false;
  std::size_t failures = 0;
};

// Data at rest: who holds the key and what the tool observed of it.
struct DataAtRest {
  enum class State { cmek_observed, cmek_unavailable, managed, not_observed };
  State state = State::not_observed;
  std::string owner;      // the tier's data_at_rest_owner
  std::string statement;  // one sentence for the reviewer
  std::vector<Table> tables;
};
std::string_view to_string(DataAtRest::State state);

// The client CA the cluster trusts for client certificates on CockroachDB Cloud (the cloud
// source): whether it was observed, and what of it. `applies` is false on self-hosted, Standard
// and Basic without a cloud source: the audit then has no Cloud section.
struct CloudClientCa {
  bool applies = false;
  std::string owner;      // the tier's client_ca_owner
  std::string status;     // NOT_SET, IS_SET, PENDING, FAILED; empty when not observed
  std::string statement;  // one sentence for the reviewer
};

// A date by which something must be done about a certificate.
struct CalendarEntry {
  std::int64_t due = 0;  // unix seconds
  bool now = false;      // the certificate is in this state already: act now
  CertIdentity id;
  std::string subject_cn;
  std::string action;
  Severity severity = Severity::none;
  std::int64_t not_after = 0;
};

// What rotated when, from the daemon's rotation journal (the last 12 months).
struct RotationHistory {
  std::string journal;                       // its path; empty: no journal kept
  std::string note;                          // why it is missing or partial, for the reviewer
  std::vector<state::RotationEvent> events;  // newest first, within the 12 months
  std::size_t bad_lines = 0;
};

// Something the audit could not establish, and why.
struct Unchecked {
  std::string what;
  std::string why;
};

struct AuditReport {
  // What `check` reports of the same snapshot: the verdict (the exit code), the failing checks
  // (most severe first), the CA usage, the findings, pending reloads and file errors.
  CheckReport check;
  double generated_at = 0;
  std::string host;
  state::BuildInfo build;
  std::string config_file;
  std::string config_sha256;
  TierFacts tier;
  std::optional<bool> cluster_secure;  // absent when no cluster source reported
  std::vector<AuditSource> sources;
  std::size_t certificate_count = 0;
  std::vector<AuditCheck> checks;  // every posture check, run or not
  DataAtRest data_at_rest;
  CloudClientCa cloud_client_ca;
  std::int64_t calendar_until = 0;  // the end of the 12 months the calendar covers
  std::vector<CalendarEntry> calendar;
  std::vector<Unchecked> unchecked;
  RotationHistory rotation_history;
};

// The report at the snapshot's time (its generated_at is the clock: tests inject it).
AuditReport make_audit_report(const state::Snapshot& snapshot, const AuditContext& context);

// The CMEK part of data at rest: the only place that knows how the CMEK source reports.
DataAtRest data_at_rest_of(const state::Snapshot& snapshot, const TierFacts& tier);

// The HTML report's Content-Security-Policy (a meta tag): inline style only, no scripts, no
// fetches of any kind, no frames, forms or base URL.
inline constexpr std::string_view kAuditContentSecurityPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

std::string render_audit_json(const AuditReport& report);
std::string render_audit_markdown(const AuditReport& report);
std::string render_audit_html(const AuditReport& report);

}  // namespace certwatch::alerting
