// The conditions the daemon raises itself, from what every source reports (a file error, a source
// down, a pending reload, a rejected reload), and the accessors `check`, the status page and the
// generated Prometheus rules read a condition's row through (core/report.hpp), so they agree. Each
// source's own conditions are beside the source; the registry (sources/registry.hpp) joins them.
#pragma once

#include <span>
#include <string_view>

#include "core/report.hpp"
#include "core/types.hpp"

namespace certwatch::rules {

inline Severity severity_of(Condition condition) { return condition.row().severity; }
inline std::string_view alert_of(Condition condition) { return condition.row().alert; }

// The daemon's own conditions, in the order outputs list them.
std::span<const Condition> daemon_conditions();

}  // namespace certwatch::rules
