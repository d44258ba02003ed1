// The evaluator: certificate observations + rules + clock -> one state per certificate, and the
// cross-checks between sources. Pure: no I/O, no clock of its own, no metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "rules/automation.hpp"
#include "rules/rule.hpp"

namespace certwatch::rules {

// Built-in actions that configured rules can neither name nor switch off.
inline constexpr std::string_view kActionOk = "ok";
inline constexpr std::string_view kActionExpired = "expired";
inline constexpr std::string_view kActionNotYetValid = "not_yet_valid";
inline constexpr std::string_view kActionLoadFailed = "load_failed";

struct CertState {
  std::string action;
  Severity severity = Severity::none;
  // A certificate an automation entry manages: the entry's name and when it should renew it
  // (notAfter - renew_before). Empty and nullopt for certificates rotated by hand.
  std::string managed_by;
  std::optional<std::int64_t> renewal_expected;

  friend bool operator==(const CertState&, const CertState&) = default;
};

// The state of one certificate at `now` (unix seconds). Candidates are the built-in states and
// every matching rule; the most severe wins, at equal severity the smaller threshold (built-ins
// count as threshold 0).
CertState evaluate(const CertObservation& cert, const std::vector<Rule>& rules, std::int64_t now);
// The same with the automation entries: a managed certificate (automation.hpp) is `ok` until
// renewal_expected + grace and `renewal_overdue`/critical past it, and the rules do not apply to
// it; load_failed, expired and not_yet_valid still win. Unmanaged ones get the rules.
CertState evaluate(const CertObservation& cert, const std::vector<Rule>& rules,
                   const std::vector<Automation>& automation, std::int64_t now);

// A certificate file of the local node whose first certificate differs from what the node
// reports it has loaded: replaced on disk, not yet reloaded (CockroachDB reloads on SIGHUP only).
struct ReloadPending {
  std::string node_id;
  CertType cert_type = CertType::other;
  std::string path;
  std::int64_t on_disk_not_after = 0;
  std::int64_t loaded_not_after = 0;

  friend bool operator==(const ReloadPending&, const ReloadPending&) = default;
};

// Compares the first certificate (index 0) of this host's CockroachDB files (node.crt, ca.crt,
// ui.crt, ca-client.crt, ca-ui.crt, client.node.crt) with what the local node (cluster
// observations marked `local_node`) reports it has loaded. A notAfter difference of more than one
// second is a pending reload.
std::vector<ReloadPending> find_reload_pending(
    std::span<const CertObservation* const> certificates);

// A node serving another leaf than expected, seen on the wire by the probe source.
struct ServedMismatch {
  std::string node_id;
  std::string target;   // the probed host:port
  std::string against;  // "disk" (this host's node.crt) or "cluster" (the node's reported expiry)
  std::int64_t served_not_after = 0;
  std::int64_t expected_not_after = 0;  // node.crt's, or what the node reports

  friend bool operator==(const ServedMismatch&, const ServedMismatch&) = default;
};

// Compares each served node leaf (probe, index 0, cert_type node) with
// - `disk`: when the target is this host's node (the probe marked it local_node, or its node id
//   is the local node's per the cluster source), the index-0 certificate of the node.crt files
//   read here; a mismatch when none has the served fingerprint;
// - `cluster`: the node's reported node expiry (cluster source, same node id); a notAfter
//   difference of more than one second.
std::vector<ServedMismatch> find_served_mismatch(
    std::span<const CertObservation* const> certificates);

// Whether the wire confirms a pending reload: the node still serves a leaf other than its disk's.
bool wire_confirms(const ReloadPending& pending, std::span<const ServedMismatch> mismatches);

}  // namespace certwatch::rules
