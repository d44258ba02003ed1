// Vocabulary shared by every module: certificate types, severities, sources and the plain
// observation structs that sources return. No I/O, no OpenSSL, no metrics here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch {

// The `cert_type` label values of docs/metrics.md.
enum class CertType {
  ca,
  client_ca,
  ui_ca,
  tenant_ca,
  node,
  node_client,
  client,
  ui,
  tenant_client,
  tenant_signing,
  other,
};

std::string_view to_string(CertType type);
std::optional<CertType> cert_type_from_string(std::string_view label);
// CA types are the ones whose default rule is "plan rotation within a year".
bool is_ca_type(CertType type);
const std::vector<CertType>& all_cert_types();

enum class Severity { none = 0, info = 1, warning = 2, critical = 3 };
std::string_view to_string(Severity severity);
std::optional<Severity> severity_from_string(std::string_view label);

// The `source` label values of docs/metrics.md that cross-checks compare (a source may use others).
inline constexpr std::string_view kSourceFile = "file";
inline constexpr std::string_view kSourceCluster = "cluster";
inline constexpr std::string_view kSourceProbe = "probe";

// The fields of one parsed X.509 certificate that the daemon reports.
struct CertificateFacts {
  std::string subject_cn;
  std::string issuer_cn;
  std::string serial_hex;                 // lowercase hex, no separators, no leading zeros
  std::string fingerprint_sha256;         // lowercase hex of the DER's SHA-256, no separators
  std::int64_t not_before = 0;            // unix seconds
  std::int64_t not_after = 0;             // unix seconds
  bool is_ca = false;                     // basicConstraints CA:TRUE
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, textual
  // Extended key usage. has_eku is false when the extension is absent (any use allowed).
  bool has_eku = false;
  bool eku_server_auth = false;
  bool eku_client_auth = false;
  std::string key_type;        // "rsa", "ec", "ed25519", "ed448", "dsa", else OpenSSL's short name
  int key_bits = 0;            // RSA modulus, EC curve order, DSA p size in bits
  std::string signature_hash;  // "sha256", "sha1", "md5", ...; empty when none (ed25519)
  bool self_signed = false;    // issuer name == subject name and its own key verifies it
  std::string issuer_dn;       // the issuer name, RFC 2253 one line (denylist "issuer + serial")
  // OpenSSL could not fully parse it (a duplicate extension, one that does not decode): its names
  // and usages cannot be trusted, and verifiers reject it (chain_untrusted "malformed").
  bool malformed = false;
  std::string der;  // the DER, for chain verification and key_match; never rendered; empty from
                    // the file source with the checks off (nothing reads it then)

  friend bool operator==(const CertificateFacts&, const CertificateFacts&) = default;
};

// The identity label set every per-certificate series carries (docs/metrics.md); empty where a
// label does not apply.
struct CertIdentity {
  std::string source{kSourceFile};
  CertType cert_type = CertType::other;
  std::string node_id;
  std::string path;
  std::string index;
  std::string user;

  friend bool operator==(const CertIdentity&, const CertIdentity&) = default;
};

// One certificate as a source saw it. A file or probe source knows the full facts; the cluster
// source knows only notAfter, or that the node failed to load the certificate.
struct CertObservation {
  CertIdentity id;
  // File, probe. Shared and immutable: a source's cache, its poll results and every snapshot
  // made from them hold the same facts, so an unchanged certificate costs a pointer copy.
  std::shared_ptr<const CertificateFacts> facts;
  std::optional<std::int64_t> not_after;  // always set unless load_failed
  std::optional<std::int64_t> not_before;
  bool load_failed = false;  // cluster: the node reports 0 for a required type
  // Cluster: reported by the node this daemon runs beside, so it can be compared with the files
  // on this host (a certificate replaced on disk but not reloaded). Probe: the target is this
  // host (loopback or one of its addresses), so what it serves can be compared with node.crt.
  bool local_node = false;
  // Probe: the name the client asked for (SNI), which the served leaf must carry (san_missing),
  // and the CA certificates of the probe's ca_file it must verify against (chain_untrusted);
  // shared by every target of a poll. Null for other sources.
  std::string dialed_name;
  std::shared_ptr<const std::vector<CertificateFacts>> trust_anchors;

  // Compares the facts, not where they are held.
  friend bool operator==(const CertObservation& a, const CertObservation& b);
};

// Equal when both are null, or both point to equal facts.
bool same_facts(const std::shared_ptr<const CertificateFacts>& a,
                const std::shared_ptr<const CertificateFacts>& b);

// A private key file a source saw: stat(2) only. Its contents are read only by the opt-in key
// match (checks.key_match), and never reach logs, metrics or the page.
struct KeyFile {
  std::string path;
  CertType cert_type = CertType::other;  // by name: node.key -> node, ca.key -> ca, ...
  std::string user;                      // client.<user>.key
  bool exists = false;
  std::uint32_t mode = 0;  // permission bits (st_mode & 07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string owner;  // user name of uid; empty when unknown
  // checks.key_match: whether the key is the private key of the certificate beside it (nullopt:
  // not checked, or the key could not be read).
  std::optional<bool> matches_certificate;

  friend bool operator==(const KeyFile&, const KeyFile&) = default;
};

// Why a file could not be used (docs/metrics.md `crdb_cert_file_error` reasons).
enum class FileErrorReason {
  not_found,
  permission_denied,
  not_regular_file,
  too_large,
  no_certificate,
  bad_pem,
  read_error,
};
std::string_view to_string(FileErrorReason reason);

// Why a source's poll failed: the `reason` label of crdb_cert_source_errors_total.
enum class ErrorReason {
  connect_failed,
  auth_failed,
  permission_denied,
  query_failed,
  timeout,
  bad_config,
  internal_error,
  // Probe source, per target: the name did not resolve, the peer answered the SSLRequest with
  // `N` (no TLS).
  dns_failed,
  ssl_refused,
  // A TLS handshake failed (an untrusted or misnamed server certificate, a protocol error), in
  // every source that makes one: the probe, the CMEK source's HTTPS client (net/https_get). One
  // word for one event, so one `reason` label value selects it across sources; the CMEK source
  // said tls_failed before (README says so).
  handshake_failed,
  // An HTTP API (the CMEK source): 404, 429, 5xx, a body that is not the documented shape.
  not_found,
  rate_limited,
  server_error,
  bad_response,
};
std::string_view to_string(ErrorReason reason);

// A failed poll: the reason for the counter and a message for logs and the status page (never a
// secret).
struct SourceError {
  ErrorReason reason = ErrorReason::internal_error;
  std::string message;

  friend bool operator==(const SourceError&, const SourceError&) = default;
};

struct FileError {
  std::string path;
  FileErrorReason reason = FileErrorReason::read_error;
  std::string detail;  // for logs and the status page, never a label

  friend bool operator==(const FileError&, const FileError&) = default;
};

}  // namespace certwatch
