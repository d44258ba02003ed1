// The built-in sources' config sections, each parsed in its own file (sources/*_config.cpp)
// with the shared helpers of config/section.hpp, and carried by the source's registry entry.
#pragma once

#include <string>

#include "config/section.hpp"

namespace certwatch::sources {

// files: (files_config.cpp)
void parse_files_section(const config::SectionParser& parser, const config::Value& value,
                         config::Config& config);
// cluster: (cluster_config.cpp)
void parse_cluster_section(const config::SectionParser& parser, const config::Value& value,
                           config::Config& config);
std::string cluster_misfit(const TierFacts& tier);
// probe: (probe_config.cpp)
void parse_probe_section(const config::SectionParser& parser, const config::Value& value,
                         config::Config& config);
// cmek: (cmek_config.cpp)
void parse_cmek_section(const config::SectionParser& parser, const config::Value& value,
                        config::Config& config);
std::string cmek_misfit(const TierFacts& tier);

}  // namespace certwatch::sources
