// The framework around sources (node_exporter's collector framework): every poll is timed, an
// exception becomes an error value, and the outcome updates the source's health. The loop never
// dies on a source.
#pragma once

#include <functional>

#include "sources/registry.hpp"
#include "state/snapshot.hpp"

namespace certwatch::state {

// Unix seconds; injected so tests control time.
using Clock = std::function<double()>;

// Calls source.poll(); an exception it throws becomes a failed result (internal_error). The result
// carries the source's name and is cut to the caps (state/caps.hpp), with one log line when
// something was cut.
sources::PollResult run_poll(sources::Source& source);

// Records a finished poll: health (up, timing, error counters) and, when it succeeded, the new
// last good result.
void record_poll(sources::PollResult&& result, double started, double finished,
                 SourceHealth& health, SharedPollResult& last_good);

// Polls every source once, in the calling thread, and evaluates the results (`check`).
std::shared_ptr<const Snapshot> poll_once(const sources::SourceList& sources,
                                          const std::vector<rules::Rule>& rules,
                                          const rules::ChecksConfig& checks, const BuildInfo& build,
                                          const Clock& now, Tier tier = Tier::self_hosted,
                                          const std::vector<rules::Automation>& automation = {});

}  // namespace certwatch::state
