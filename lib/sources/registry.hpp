// The one visible list of sources (like blackbox_exporter's prober map). Each entry carries
// everything about one kind of source: its config section (name, parser, the tiers it fits), how
// it is made from the configuration, the conditions it raises, and what the audit says is not
// observed without it. Adding a source is its files and one line here (plus its runbooks and the
// regenerated rules); a test adds one with Registry::with.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/section.hpp"
#include "core/report.hpp"
#include "sources/source.hpp"

namespace certwatch::sources {

using SourceList = std::vector<std::shared_ptr<Source>>;

// An alert of a source's own condition, for the generated rules (alerting/rule_file.hpp): the
// group crdb-certwatch.<section> holds them. The built-in sources' alerts are written out in
// rule_file.cpp.
struct SourceAlert {
  Condition condition;
  std::string expr;  // PromQL; the alert fires for each series it returns
  std::chrono::seconds for_duration{0};
  std::string summary;
  std::string description;
};

struct SourceEntry {
  // The source label of its series ("file", "probe").
  std::string_view source;
  // Its config section: name, parser, the tiers it fits.
  config::SourceSection section;
  // Adds the instances of this kind of source that `config` enables, in a fixed order.
  void (*add)(const config::Config& config, SourceList& out) = nullptr;
  // The conditions it raises, or that the snapshot raises from what it saw: each condition of the
  // product is the daemon's own (rules::daemon_conditions) or exactly one entry's.
  std::vector<Condition> conditions;
  // Raised instead of the daemon's source_down when a poll of this source fails (its own alert
  // pages for it); one of `conditions`.
  std::optional<Condition> down_condition;
  // What the audit lists as not observed when the tier has use for the source and none is
  // configured.
  std::string_view audit_missing;
  // The alerts of its conditions, for a source that is not built in.
  std::vector<SourceAlert> (*alerts)(const config::Config& config) = nullptr;

  bool fits(Tier tier) const;
};

// The entries of a daemon: the built-in ones, and any a test adds.
class Registry {
 public:
  explicit Registry(std::vector<SourceEntry> entries);

  // The daemon's sources.
  static const Registry& builtin();
  // This registry and one more entry (a test's source).
  Registry with(SourceEntry entry) const;

  const std::vector<SourceEntry>& entries() const { return entries_; }
  const SourceEntry* find_source(std::string_view source) const;
  // The daemon's own conditions, then each entry's, in entry order.
  std::span<const Condition> conditions() const { return conditions_; }
  // The condition a failed poll of `source` raises.
  Condition down_condition(std::string_view source) const;
  // The config sections of the sources that fit `tier`, in entry order.
  std::vector<std::string_view> useful_sections(Tier tier) const;
  // Every entry's config section, for the config loader (config/section.hpp).
  std::span<const config::SourceSection> sections() const { return sections_; }
  // The enabled sources of `config`, in entry order (the order of every output).
  SourceList make_sources(const config::Config& config) const;

 private:
  std::vector<SourceEntry> entries_;
  std::vector<Condition> conditions_;
  std::vector<config::SourceSection> sections_;
};

// Registry::builtin().make_sources(config).
SourceList make_sources(const config::Config& config);

}  // namespace certwatch::sources
