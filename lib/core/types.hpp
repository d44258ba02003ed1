// Vocabulary shared by every module: certificate types, severities, sources and the plain
// observation structs that sources return. No I/O, no OpenSSL, no metrics here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch {

// The `cert_type` label values of METRICS.md.
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

// The `source` label values of METRICS.md that cross-checks compare (a source may use others).
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

  friend bool operator==(const CertificateFacts&, const CertificateFacts&) = default;
};

// The identity label set every per-certificate series carries (METRICS.md); empty where a label
// does not apply.
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
  std::optional<CertificateFacts> facts;  // file, probe
  std::optional<std::int64_t> not_after;  // always set unless load_failed
  std::optional<std::int64_t> not_before;
  bool load_failed = false;  // cluster: the node reports 0 for a required type
  // Cluster: reported by the node this daemon runs beside, so it can be compared with the files
  // on this host (a certificate replaced on disk but not reloaded).
  bool local_node = false;

  friend bool operator==(const CertObservation&, const CertObservation&) = default;
};

// Why a file could not be used (METRICS.md `crdb_cert_file_error` reasons).
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
