// The immutable value every output reads: what the sources last delivered, evaluated against the
// rules at one instant. Made by make_snapshot (pure: inputs + clock), never changed after; the
// daemon swaps a new one in after each poll. No rendering and no HTTP here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/report.hpp"
#include "core/tier.hpp"
#include "core/types.hpp"
#include "rules/checks.hpp"
#include "rules/evaluate.hpp"
#include "sources/source.hpp"
#include "state/rotation.hpp"

namespace certwatch::state {

// What the scheduler knows about one source across polls.
struct SourceHealth {
  std::string source;                                 // the source's name (its `source` label)
  bool polled = false;                                // at least one poll has finished (ready)
  bool up = false;                                    // the last poll succeeded
  double last_success = 0;                            // unix seconds; 0 = never
  double last_poll = 0;                               // unix seconds of the last finished poll
  double last_duration = 0;                           // seconds
  std::map<ErrorReason, std::uint64_t> errors_total;  // failed polls (and parts) by reason
  std::optional<SourceError> last_error;              // of the last poll, when it failed
  // Staleness (issue 28): the poll interval, when the source was installed, when the poll now
  // running started (0: none runs), and the polls that ran past their interval.
  double interval = 0;      // seconds; 0: unknown (`check`), never stale
  double installed_at = 0;  // unix seconds
  double poll_started = 0;  // unix seconds
  std::uint64_t overruns = 0;
  // Successful polls whose result a cap cut, by the kind of cap (crdb_cert_source_truncated_total).
  std::map<std::string, std::uint64_t> truncated_total;

  // Why the source's data is stale at `now`, or "" when it is not: a poll running past its
  // interval, or no successful poll for more than kStaleIntervals intervals (since the source was
  // installed, when it never succeeded).
  std::string stale_reason(double now) const;
};
// A source whose last success is older than this many intervals is stale: a healthy one succeeds
// every interval (plus up to 5% jitter and the poll's own duration, at most one interval).
inline constexpr double kStaleIntervals = 2.5;

struct BuildInfo {
  std::string version;
  std::string revision;
  std::string openssl_version;
};

// A source's poll result, shared (never copied) between the scheduler, which keeps each
// source's last good result, and every snapshot made from it.
using SharedPollResult = std::shared_ptr<const sources::PollResult>;

// Everything a snapshot is made of. Sources' results are the last *successful* ones, so a source
// that is down keeps serving its last good data (its health says it is down).
struct SnapshotInputs {
  std::vector<SharedPollResult> results;
  std::vector<SourceHealth> health;
  bool config_reload_ok = true;
  double config_reload_success_at = 0;
  std::vector<rules::Rule> rules;
  rules::ChecksConfig checks;
  // Verification results kept across snapshots (null: a cache for this snapshot alone).
  std::shared_ptr<rules::VerifyCache> verify_cache;
  BuildInfo build;
  Tier tier = Tier::self_hosted;  // deployment.tier: its ownership table leads the sections
  std::vector<rules::Automation> automation;  // certificates a machine renews
  // What the daemon's rotation tracker has seen (null: none, as in `check`).
  std::shared_ptr<const RotationRecord> rotations;
};

struct Snapshot {
  double generated_at = 0;  // unix seconds
  // The results the snapshot was made from; they own what `certificates` points to.
  std::vector<SharedPollResult> results;
  // Every certificate of every result, in result order.
  std::vector<const CertObservation*> certificates;
  std::vector<rules::CertState> states;       // states[i] is the state of certificates[i]
  std::vector<const FileError*> file_errors;  // every result's, in result order
  std::vector<Family> families;               // the sources' own metric families, in order
  std::vector<Table> tables;                  // the sources' own sections, in order
  std::vector<rules::ReloadPending> reload_pending;
  std::vector<rules::ServedMismatch> served_mismatch;  // probe: the wire against disk or report
  std::vector<rules::CheckFailure> check_failures;     // failing posture checks
  std::vector<rules::CaUsage> ca_usage;                // per CA of every bundle read
  // Every condition that holds: the sources' own (at generated_at), then file errors, pending
  // reloads and sources that are down. Severities come from rules/conditions.hpp.
  std::vector<Finding> findings;
  std::vector<sources::Notice> notices;  // the sources' own
  std::vector<SourceHealth> health;
  bool config_reload_ok = true;
  double config_reload_success_at = 0;
  BuildInfo build;
  std::shared_ptr<const RotationRecord> rotations;  // null without a rotation tracker
  Tier tier = Tier::self_hosted;  // how remedies are worded (who owns which certificate)

  bool ready() const;               // every enabled source has finished one poll
  Severity worst_severity() const;  // of the states, the failing checks and the findings
};

// Evaluates and cross-checks: the only place a snapshot is made. `now` in unix seconds.
std::shared_ptr<const Snapshot> make_snapshot(const SnapshotInputs& inputs, double now);

}  // namespace certwatch::state
