// The one-shot `crdb-certwatch check`: a snapshot turned into a monitoring-plugin verdict, a table
// for humans and JSON for scripts with the same content. Pure: snapshot and clock in, text out.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/report.hpp"
#include "core/types.hpp"
#include "state/remedy.hpp"
#include "state/snapshot.hpp"

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
  std::string managed_by;                        // the automation entry that renews it
  std::optional<std::int64_t> renewal_expected;  // when it should renew it (managed only)
  state::Remedy remedy;                          // empty when the action is ok
};

struct CheckSource {
  std::string source;  // the source's name
  bool up = false;
  std::string error_reason;  // when !up
  std::string error_message;
};

struct CheckFinding {
  Condition condition = Condition::file_error;
  Severity severity = Severity::none;
  std::string subject;
  std::string message;
  state::Remedy remedy;
};

struct CheckReport {
  CheckStatus status = CheckStatus::ok;
  double generated_at = 0;                     // unix seconds
  std::vector<CheckCertificate> certificates;  // most severe first, then least time left
  std::vector<FileError> file_errors;
  std::vector<CheckSource> sources;
  std::vector<rules::ReloadPending> reload_pending;
  // The sources' own conditions (an insecure cluster, a stale node), most severe first; file
  // errors, pending reloads and failed sources have their own lists.
  std::vector<CheckFinding> findings;
  std::vector<Table> tables;                  // the sources' own sections (cluster nodes)
  std::vector<rules::CheckFailure> checks;    // failing posture checks, most severe first
  std::vector<state::Remedy> check_remedies;  // check_remedies[i]: why and fix of checks[i]
  // Every problem once (missing SANs of one certificate in one row), most severe first, then
  // least time left: the "what to do" section, as the status page lists them.
  std::vector<state::Problem> problems;
  // Each CA of each bundle: how many certificates still verify through it.
  struct CaRow {
    CertIdentity id;
    std::string subject_cn;
    std::int64_t not_after = 0;
    std::size_t issued = 0;
    bool removable = false;
  };
  std::vector<CaRow> ca_usage;
};

std::string_view to_string(Condition condition);

// The verdict, worst first:
//   unknown (3)  a source failed: what was checked is incomplete;
//   critical (2) a certificate or a condition at severity critical (an insecure cluster);
//   warning (1)  a certificate or a condition at severity warning (an unusable certificate file,
//                a certificate replaced on disk but not reloaded, a stale node);
//   ok (0)       otherwise (info states such as plan_rotation do not raise the status).
// Condition severities come from rules/conditions.hpp, the table the alert rules use.
CheckReport make_check_report(const state::Snapshot& snapshot);

// First line: "<STATUS>: <summary>" (the plugin's status line), then the tables.
std::string render_check_table(const CheckReport& report);
std::string render_check_json(const CheckReport& report);

}  // namespace certwatch::alerting
