#include "state/collect.hpp"

#include <chrono>
#include <exception>

#include "core/clock.hpp"
#include "core/logging.hpp"
#include "state/caps.hpp"

namespace certwatch::state {

sources::PollResult run_poll(sources::Source& source) {
  sources::PollResult result;
  try {
    result = source.poll();
  } catch (const std::exception& e) {
    result = sources::PollResult::failed(ErrorReason::internal_error, e.what());
  } catch (...) {
    // Not a std::exception (a library's own type, a thrown int): the source is down with a
    // reason, and the poll thread lives on.
    result = sources::PollResult::failed(ErrorReason::internal_error,
                                         "the poll threw something that is not a std::exception");
  }
  result.source = source.name();
  if (result.ok()) {
    apply_caps(result, unix_now());
    if (!result.cut.empty()) {
      logger("main")->warn("source {}: output cut to its caps (docs/metrics.md): {}", result.source,
                           describe_cut(result.cut));
    }
  }
  return result;
}

void record_poll(sources::PollResult&& result, double started, double finished,
                 SourceHealth& health, SharedPollResult& last_good) {
  health.polled = true;
  health.last_poll = finished;
  health.last_duration = finished - started;
  health.up = result.ok();
  for (const SourceError& partial : result.partial_errors) ++health.errors_total[partial.reason];
  if (result.ok()) {
    for (const auto& [kind, count] : result.cut) {
      if (count > 0) ++health.truncated_total[kind];
    }
    health.last_success = finished;
    health.last_error.reset();
    last_good = std::make_shared<const sources::PollResult>(std::move(result));
  } else {
    ++health.errors_total[result.error->reason];
    health.last_error = std::move(result.error);
  }
}

std::shared_ptr<const Snapshot> poll_once(const sources::SourceList& sources,
                                          const std::vector<rules::Rule>& rules,
                                          const rules::ChecksConfig& checks, const BuildInfo& build,
                                          const Clock& now, Tier tier,
                                          const std::vector<rules::Automation>& automation) {
  SnapshotInputs inputs;
  inputs.tier = tier;
  inputs.automation = automation;
  inputs.rules = rules;
  inputs.checks = checks;
  inputs.build = build;
  inputs.config_reload_success_at = now();
  // Each source polls once, after the sources it depends on (Source::depends_on), whose results
  // it receives; the registry's order is kept otherwise, and so is the order of the outputs.
  std::vector<SourceHealth> health(sources.size());
  std::vector<SharedPollResult> good(sources.size());
  std::vector<bool> done(sources.size(), false);
  const auto index_of = [&](std::string_view name) {
    for (std::size_t i = 0; i < sources.size(); ++i) {
      if (sources[i]->name() == name) return i;
    }
    return sources.size();
  };
  const auto poll = [&](auto& self, std::size_t i) -> void {
    if (done[i]) return;
    done[i] = true;  // before its dependencies: a cycle ends here instead of recursing forever
    for (const std::string& name : sources[i]->depends_on()) {
      const std::size_t dependency = index_of(name);
      if (dependency == sources.size()) continue;
      self(self, dependency);
      if (good[dependency]) sources[i]->receive(name, good[dependency]);
    }
    health[i].source = sources[i]->name();
    const double started = now();
    record_poll(run_poll(*sources[i]), started, now(), health[i], good[i]);
  };
  for (std::size_t i = 0; i < sources.size(); ++i) poll(poll, i);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (good[i]) inputs.results.push_back(std::move(good[i]));
    inputs.health.push_back(std::move(health[i]));
  }
  return make_snapshot(inputs, now());
}

}  // namespace certwatch::state
