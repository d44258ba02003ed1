#include "sources/registry.hpp"

#include <algorithm>

#include "rules/conditions.hpp"
#include "sources/cloud_client_ca_source.hpp"
#include "sources/cluster_source.hpp"
#include "sources/cmek_source.hpp"
#include "sources/file_source.hpp"
#include "sources/probe_source.hpp"
#include "sources/sections.hpp"

namespace certwatch::sources {

bool SourceEntry::fits(Tier tier) const {
  return std::find(section.tiers.begin(), section.tiers.end(), tier) != section.tiers.end();
}

Registry::Registry(std::vector<SourceEntry> entries) : entries_(std::move(entries)) {
  const auto daemon = rules::daemon_conditions();
  conditions_.assign(daemon.begin(), daemon.end());
  for (const SourceEntry& entry : entries_) {
    conditions_.insert(conditions_.end(), entry.conditions.begin(), entry.conditions.end());
    // A source that reads another's section (the cloud source, cmek:) parses nothing itself.
    if (entry.section.parse != nullptr) sections_.push_back(entry.section);
  }
}

const Registry& Registry::builtin() {
  constexpr Tier kAll[] = {Tier::self_hosted, Tier::advanced, Tier::byoc, Tier::standard,
                           Tier::basic};
  // From Cockroach Labs' documentation of the plans: on Standard and Basic the node certificates
  // are managed (the cluster source has nothing of yours to read), and CMEK needs Advanced.
  static const Registry registry({
      {kSourceFile,
       {"files", &parse_files_section, {std::begin(kAll), std::end(kAll)}},
       &FileSource::from_config,
       {},
       std::nullopt,
       "certificate files on this host were not read"},
      {kSourceCluster,
       {"cluster",
        &parse_cluster_section,
        {Tier::self_hosted, Tier::advanced, Tier::byoc},
        &cluster_misfit,
        false},
       &ClusterSource::from_config,
       {Condition::node_stale, Condition::cluster_insecure, Condition::client_child_metrics_off},
       std::nullopt,
       "the certificates the nodes have loaded, and whether the cluster runs in secure mode, "
       "were not observed (no cluster: section)"},
      {kSourceProbe,
       {"probe", &parse_probe_section, {std::begin(kAll), std::end(kAll)}},
       &ProbeSource::from_config,
       {Condition::probe_failed, Condition::served_mismatch},
       std::nullopt,
       "the certificates served on the wire were not observed (no probe: section)"},
      {"cmek",
       {"cmek", &parse_cmek_section, {Tier::advanced, Tier::byoc}, &cmek_misfit, true},
       &CmekSource::from_config,
       {Condition::cmek_key_revoked, Condition::cmek_failed, Condition::cmek_transition_stuck,
        Condition::cmek_api_unreachable},
       Condition::cmek_api_unreachable,
       "the CMEK key state was not observed (no cmek: section)"},
      {kSourceCloud,
       {"cmek", nullptr, {Tier::advanced, Tier::byoc}},
       &CloudClientCaSource::from_config,
       {Condition::cloud_client_ca_not_set, Condition::cloud_client_ca_failed,
        Condition::cloud_client_ca_pending},
       std::nullopt,
       "the client CA uploaded to CockroachDB Cloud was not observed (no cmek: section, whose API "
       "settings the cloud source uses)"},
  });
  return registry;
}

Registry Registry::with(SourceEntry entry) const {
  std::vector<SourceEntry> entries = entries_;
  entries.push_back(std::move(entry));
  return Registry(std::move(entries));
}

const SourceEntry* Registry::find_source(std::string_view source) const {
  const auto it = std::find_if(entries_.begin(), entries_.end(),
                               [source](const SourceEntry& e) { return e.source == source; });
  return it == entries_.end() ? nullptr : &*it;
}

Condition Registry::down_condition(std::string_view source) const {
  const SourceEntry* entry = find_source(source);
  return entry && entry->down_condition ? *entry->down_condition : Condition::source_down;
}

std::vector<std::string_view> Registry::useful_sections(Tier tier) const {
  std::vector<std::string_view> out;
  for (const SourceEntry& entry : entries_) {
    const bool listed = std::find(out.begin(), out.end(), entry.section.name) != out.end();
    if (entry.fits(tier) && !listed) out.push_back(entry.section.name);
  }
  return out;
}

SourceList Registry::make_sources(const config::Config& config) const {
  SourceList out;
  for (const SourceEntry& entry : entries_) entry.add(config, out);
  return out;
}

SourceList make_sources(const config::Config& config) {
  return Registry::builtin().make_sources(config);
}

}  // namespace certwatch::sources

// The config loader's built-in form: the sections of the built-in sources (config/config.hpp).
namespace certwatch::config {

LoadResult parse_config(std::string_view yaml, const std::string& file) {
  return parse_config(yaml, file, sources::Registry::builtin().sections());
}

LoadResult load_config_file(const std::string& path) {
  return load_config_file(path, sources::Registry::builtin().sections());
}

}  // namespace certwatch::config
