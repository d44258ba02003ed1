// Why each problem matters and what to do about it: the one table the status page, `check` (table
// and JSON), the alert annotations, the audit and the runbooks read, so the fix an operator is
// shown is the same wherever the problem is seen. Commands are built as argument vectors and
// printed by command_line() (core/shell_command.hpp), which quotes every value from outside. Pure:
// snapshot in, text out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/report.hpp"
#include "core/tier.hpp"
#include "core/types.hpp"
#include "rules/checks.hpp"
#include "rules/evaluate.hpp"
#include "sources/registry.hpp"
#include "state/snapshot.hpp"

namespace certwatch::state {

struct Remedy {
  std::string why;    // why it matters, one sentence
  std::string fix;    // what to do: commands and sentences
  std::string alert;  // the alert (and runbook page, /runbooks/<alert>) of this problem
  // The command lines in `fix` to paste as they are (each appears in `fix` exactly), and what
  // the shell variables some of them use stand for (a value no quoting shows safely).
  std::vector<std::string> commands;
  std::vector<std::string> notes;
};

// Without a particular certificate: for alert annotations, runbooks and the golden test. An action
// the product does not know (a custom rule's) gets the remedy of the default action it resembles.
Remedy action_remedy(std::string_view action, Severity severity = Severity::warning,
                     bool ca_only = false);
Remedy check_remedy(std::string_view check);
Remedy condition_remedy(Condition condition);
// The remedy of an alert of the generated rules (a condition's, a check's, a product action's, or
// the exporter's own); nullopt for a name none of them has. `conditions`: those of the sources
// the rules are generated for (sources::Registry::conditions()).
std::optional<Remedy> remedy_for_alert(
    std::string_view alert,
    std::span<const Condition> conditions = sources::Registry::builtin().conditions());
std::string file_error_fix(FileErrorReason reason);

// The alert of a certificate state ("CrdbCert" + the action in CamelCase for the product's own
// actions).
std::string action_alert(std::string_view action);

// With the certificate's own directory, SANs and user, adapted to the tier. Null for an ok state.
std::optional<Remedy> remedy_for(const CertObservation& cert, const rules::CertState& state,
                                 Tier tier);
// A failing check; every failure of the same check on the same certificate is folded into one fix
// (all missing SANs in one create-node line).
Remedy remedy_for(const rules::CheckFailure& failure, const Snapshot& snapshot);
Remedy remedy_for(const FileError& error);
Remedy remedy_for(const Finding& finding);

// One row of the page's Problems list and of `check`'s problem count: a non-ok certificate state,
// a failing check (one row per check and certificate, its details joined), a file error or a
// finding.
struct Problem {
  Severity severity = Severity::none;
  std::string kind;                       // the action, check or condition name
  std::string subject;                    // where: a path, a node
  std::string detail;                     // e.g. every missing SAN, comma-separated
  std::optional<std::int64_t> not_after;  // of the certificate concerned, when known
  Remedy remedy;
};

// Every problem of the snapshot, most severe first, then least time left (unknown time last).
std::vector<Problem> problems(const Snapshot& snapshot);

}  // namespace certwatch::state
