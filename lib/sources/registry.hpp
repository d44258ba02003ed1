// The one visible list of sources (like blackbox_exporter's prober map): which sources a
// configuration enables, as named instances.
#pragma once

#include <memory>
#include <vector>

#include "config/config.hpp"
#include "sources/source.hpp"

namespace certwatch::sources {

using SourceList = std::vector<std::shared_ptr<Source>>;

// The enabled sources of `config`, in a fixed order (the order of every output).
SourceList make_sources(const config::Config& config);

}  // namespace certwatch::sources
