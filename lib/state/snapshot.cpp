#include "state/snapshot.hpp"

#include <algorithm>
#include <cmath>

#include "core/metric_names.hpp"
#include "rules/conditions.hpp"
#include "sources/cluster_source.hpp"
#include "sources/registry.hpp"

namespace certwatch::state {

namespace {

std::string whole_seconds(double seconds) {
  return std::to_string(static_cast<long long>(std::floor(std::max(seconds, 0.0)))) + " s";
}

}  // namespace

std::string SourceHealth::stale_reason(double now) const {
  if (interval <= 0) return "";
  if (poll_started > 0 && now - poll_started > interval) {
    return "a poll running for " + whole_seconds(now - poll_started) + ", past its interval of " +
           whole_seconds(interval);
  }
  const double since = last_success > 0 ? last_success : installed_at;
  if (since > 0 && now - since > kStaleIntervals * interval) {
    return (last_success > 0 ? "no successful poll for " : "no successful poll yet, in ") +
           whole_seconds(now - since) + " (interval " + whole_seconds(interval) + ")";
  }
  return "";
}

bool Snapshot::ready() const {
  return std::all_of(health.begin(), health.end(), [](const SourceHealth& h) { return h.polled; });
}

Severity Snapshot::worst_severity() const {
  Severity worst = Severity::none;
  for (const rules::CertState& state : states) worst = std::max(worst, state.severity);
  for (const Finding& finding : findings) {
    worst = std::max(worst, rules::severity_of(finding.condition));
  }
  for (const rules::CheckFailure& failure : check_failures) {
    worst = std::max(worst, failure.severity);
  }
  return worst;
}

namespace {

// The posture checks over everything the sources saw.
void run_checks(const SnapshotInputs& inputs, std::int64_t now, Snapshot& snapshot) {
  std::vector<const KeyFile*> keys;
  std::vector<std::string> denylist;
  rules::CheckInputs in;
  for (const SharedPollResult& result : inputs.results) {
    for (const KeyFile& key : result->keys) keys.push_back(&key);
    denylist.insert(denylist.end(), result->denylist.begin(), result->denylist.end());
    if (result->facts) {
      for (std::string& name : result->facts->local_node_names()) {
        in.local_node_names.push_back(std::move(name));
      }
    }
  }
  in.certificates = snapshot.certificates;
  in.keys = keys;
  in.denylist = denylist;
  in.now = now;
  rules::VerifyCache local;
  rules::CheckResults results =
      rules::run_checks(in, inputs.checks, inputs.verify_cache ? *inputs.verify_cache : local);
  snapshot.check_failures = std::move(results.failures);
  snapshot.ca_usage = std::move(results.ca_usage);
}

}  // namespace

std::shared_ptr<const Snapshot> make_snapshot(const SnapshotInputs& inputs, double now) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->generated_at = now;
  snapshot->results = inputs.results;
  std::size_t total = 0;
  for (const SharedPollResult& result : inputs.results) total += result->certificates.size();
  snapshot->certificates.reserve(total);
  snapshot->tables.push_back(ownership_table(
      tier_facts(inputs.tier), sources::Registry::builtin().useful_sections(inputs.tier)));
  for (const SharedPollResult& result : inputs.results) {
    for (const CertObservation& cert : result->certificates) {
      snapshot->certificates.push_back(&cert);
    }
    for (const FileError& error : result->file_errors) snapshot->file_errors.push_back(&error);
    if (result->facts) {
      for (Family& family : result->facts->families()) {
        snapshot->families.push_back(std::move(family));
      }
      for (Table& table : result->facts->tables()) snapshot->tables.push_back(std::move(table));
      for (Finding& finding : result->facts->findings(now)) {
        snapshot->findings.push_back(std::move(finding));
      }
      for (sources::Notice& notice : result->facts->notices()) {
        snapshot->notices.push_back(std::move(notice));
      }
    }
  }
  // The client certificates the nodes saw, against the files on this host (node vars).
  for (const SharedPollResult& result : inputs.results) {
    const auto* cluster = sources::facts_as<sources::ClusterFacts>(*result);
    if (cluster == nullptr || !cluster->node_vars) continue;
    if (auto table =
            sources::client_inventory(cluster->node_vars->clients, snapshot->certificates)) {
      snapshot->tables.push_back(std::move(*table));
    }
  }
  Family cut{std::string(metric::kSourceItemsCut),
             "What the caps (docs/metrics.md) cut from the last successful poll of the source, "
             "by kind: certificates_per_target, certificates, series, label_values, table_rows, "
             "texts, findings, notices. Absent when nothing was cut.",
             Family::Type::gauge,
             true,
             {}};
  for (const SharedPollResult& result : inputs.results) {
    for (const auto& [kind, count] : result->cut) {
      cut.series.push_back(
          {{{"source", result->source}, {"kind", kind}}, static_cast<double>(count)});
    }
  }
  if (!cut.series.empty()) snapshot->families.push_back(std::move(cut));
  const auto now_seconds = static_cast<std::int64_t>(std::floor(now));
  snapshot->states.reserve(snapshot->certificates.size());
  for (const CertObservation* cert : snapshot->certificates) {
    snapshot->states.push_back(
        rules::evaluate(*cert, inputs.rules, inputs.automation, now_seconds));
  }
  snapshot->reload_pending = rules::find_reload_pending(snapshot->certificates);
  snapshot->served_mismatch = rules::find_served_mismatch(snapshot->certificates);
  run_checks(inputs, now_seconds, *snapshot);

  for (const FileError* error : snapshot->file_errors) {
    snapshot->findings.push_back({Condition::file_error, error->path,
                                  std::string(to_string(error->reason)) + ": " + error->detail});
  }
  for (const rules::ReloadPending& p : snapshot->reload_pending) {
    snapshot->findings.push_back(
        {Condition::reload_pending, p.path,
         p.path + " was replaced on disk but node " + p.node_id +
             " has not reloaded it: send SIGHUP to the cockroach process" +
             (rules::wire_confirms(p, snapshot->served_mismatch)
                  ? " (the probe confirms it: the node still serves the old certificate)"
                  : "")});
  }
  for (const rules::ServedMismatch& m : snapshot->served_mismatch) {
    snapshot->findings.push_back(
        {Condition::served_mismatch, m.target,
         m.target + " (node " + m.node_id + ") serves a leaf expiring " +
             std::to_string(m.served_not_after) + ", not the " +
             (m.against == "disk" ? "node.crt on disk" : "certificate the node reports") +
             " (expiring " + std::to_string(m.expected_not_after) +
             "): restart or SIGHUP the node (Kubernetes: kubectl rollout restart)"});
  }
  for (const SourceHealth& health : inputs.health) {
    if (health.polled && !health.up && health.last_error) {
      snapshot->findings.push_back(
          {sources::Registry::builtin().down_condition(health.source), health.source,
           std::string(to_string(health.last_error->reason)) + ": " + health.last_error->message});
    }
  }
  if (!inputs.config_reload_ok) {
    snapshot->findings.push_back({Condition::config_reload_failed, "",
                                  "The last configuration reload was rejected; the previous "
                                  "configuration stays in force."});
  }
  snapshot->health = inputs.health;
  snapshot->config_reload_ok = inputs.config_reload_ok;
  snapshot->config_reload_success_at = inputs.config_reload_success_at;
  snapshot->build = inputs.build;
  snapshot->rotations = inputs.rotations;
  snapshot->tier = inputs.tier;
  return snapshot;
}

}  // namespace certwatch::state
