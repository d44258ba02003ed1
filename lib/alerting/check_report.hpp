// The one-shot `crdb-certwatch check`: a snapshot turned into a monitoring-plugin verdict, a table
// for humans and JSON for scripts with the same content. Pure: snapshot and clock in, text out.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"
#include "exporter/snapshot.hpp"

namespace certwatch::alerting {

// Exit codes of a Nagios/Icinga plugin.
enum class CheckStatus { ok = 0, warning = 1, critical = 2, unknown = 3 };
std::string_view to_string(CheckStatus status);  // "OK", "WARNING", "CRITICAL", "UNKNOWN"

struct CheckCertificate {
  CertIdentity id;
  std::string subject_cn;                 // empty when the source does not know it (cluster)
  std::optional<std::int64_t> not_after;  // absent when the node failed to load it
  std::string action;
  Severity severity = Severity::none;
};

struct CheckSource {
  SourceKind kind = SourceKind::file;
  bool up = false;
  std::string error_reason;  // when !up
  std::string error_message;
};

struct CheckStaleNode {
  std::string node_id;
  double age_seconds = 0;
};

struct CheckReport {
  CheckStatus status = CheckStatus::ok;
  double generated_at = 0;                     // unix seconds
  std::vector<CheckCertificate> certificates;  // most severe first, then least time left
  std::vector<FileError> file_errors;
  std::vector<CheckSource> sources;
  std::vector<rules::ReloadPending> reload_pending;
  std::vector<CheckStaleNode> stale_nodes;
  std::optional<bool> cluster_secure;  // set when the cluster source delivered data
};

// The verdict, worst first:
//   unknown (3)  a source failed: what was checked is incomplete;
//   critical (2) a certificate at severity critical, or an insecure cluster;
//   warning (1)  a certificate at severity warning, an unusable certificate file, a certificate
//                replaced on disk but not reloaded, a node whose status is older than
//                node_stale_after;
//   ok (0)       otherwise (info states such as plan_rotation do not raise the status).
CheckReport make_check_report(const exporter::Snapshot& snapshot,
                              std::chrono::seconds node_stale_after);

// First line: "<STATUS>: <summary>" (the plugin's status line), then the tables.
std::string render_check_table(const CheckReport& report);
std::string render_check_json(const CheckReport& report);

}  // namespace certwatch::alerting
