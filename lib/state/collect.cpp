#include "state/collect.hpp"

#include <chrono>
#include <exception>

#include "core/logging.hpp"
#include "state/caps.hpp"

namespace certwatch::state {

double system_clock_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

sources::PollResult run_poll(sources::Source& source) {
  sources::PollResult result;
  try {
    result = source.poll();
  } catch (const std::exception& e) {
    result = sources::PollResult::failed(ErrorReason::internal_error, e.what());
  }
  result.source = source.name();
  if (result.ok()) {
    apply_caps(result, system_clock_now());
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
  for (const auto& source : sources) {
    SourceHealth health;
    health.source = source->name();
    SharedPollResult last_good;
    const double started = now();
    record_poll(run_poll(*source), started, now(), health, last_good);
    if (last_good) inputs.results.push_back(std::move(last_good));
    inputs.health.push_back(std::move(health));
  }
  return make_snapshot(inputs, now());
}

}  // namespace certwatch::state
