#include "sources/registry.hpp"

#include <algorithm>

#include "rules/conditions.hpp"
#include "sources/cluster_source.hpp"
#include "sources/cmek_source.hpp"
#include "sources/file_source.hpp"
#include "sources/probe_source.hpp"

namespace certwatch::sources {

Registry::Registry(std::vector<SourceEntry> entries) : entries_(std::move(entries)) {
  const auto daemon = rules::daemon_conditions();
  conditions_.assign(daemon.begin(), daemon.end());
  for (const SourceEntry& entry : entries_) {
    conditions_.insert(conditions_.end(), entry.conditions.begin(), entry.conditions.end());
  }
}

const Registry& Registry::builtin() {
  static const Registry registry({
      {kSourceFile,
       &FileSource::from_config,
       {},
       std::nullopt,
       "certificate files on this host were not read"},
      {kSourceCluster,
       &ClusterSource::from_config,
       {Condition::node_stale, Condition::cluster_insecure},
       std::nullopt,
       "the certificates the nodes have loaded, and whether the cluster runs in secure mode, "
       "were not observed (no cluster: section)"},
      {kSourceProbe,
       &ProbeSource::from_config,
       {Condition::probe_failed, Condition::served_mismatch},
       std::nullopt,
       "the certificates served on the wire were not observed (no probe: section)"},
      {"cmek",
       &CmekSource::from_config,
       {Condition::cmek_key_revoked, Condition::cmek_failed, Condition::cmek_transition_stuck,
        Condition::cmek_api_unreachable},
       Condition::cmek_api_unreachable,
       "the CMEK key state was not observed (no cmek: section)"},
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

SourceList Registry::make_sources(const config::Config& config) const {
  SourceList out;
  for (const SourceEntry& entry : entries_) entry.add(config, out);
  return out;
}

SourceList make_sources(const config::Config& config) {
  return Registry::builtin().make_sources(config);
}

}  // namespace certwatch::sources
