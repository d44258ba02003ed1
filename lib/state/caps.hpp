// Where core/caps.hpp is applied to what a source returns: once per poll, as the result enters
// the daemon (run_poll), the same for every source. Certificates past the per-target and
// per-source caps are dropped; the source's facts are replaced by a bounded view of them (series,
// table rows, texts, findings, notices within their caps, computed once per poll); what was cut
// is counted in the result's `cut`.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "sources/source.hpp"

namespace certwatch::state {

// `now` (unix seconds) is the instant the findings are counted at.
void apply_caps(sources::PollResult& result, double now);

// "series=31500, label_values=41500": the one log line's list; empty when nothing was cut.
std::string describe_cut(const std::map<std::string, std::uint64_t>& cut);

}  // namespace certwatch::state
