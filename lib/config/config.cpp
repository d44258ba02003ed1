#include "config/config.hpp"

#include <sys/stat.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <system_error>
#include <utility>

#include "config/section.hpp"
#include "config/yaml_strict.hpp"
#include "core/names.hpp"
#include "core/read_file.hpp"
#include "core/text.hpp"

namespace certwatch::config {
namespace {

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;

// The ranges of the shared sections' durations (the sources' own are in config/section.hpp).
// Alert `for:` durations: 0s fires at once; an alert held back for over 30 days never fires in
// time to matter.
constexpr DurationRange kAlertForRange{seconds{0}, 30 * kDay};
constexpr DurationRange kStaleAfterRange{seconds{1}, 30 * kDay};
// A rule threshold: no certificate is issued for more than a century.
constexpr DurationRange kRuleBelowRange{seconds{1}, 36500 * kDay};
// How late an automated renewal may be: a CronJob or a controller that is days late has stopped.
constexpr DurationRange kGraceRange{seconds{0}, 90 * kDay};

// Accepted duration units, largest first: a duration spells them in this order, each at most once
// (as Prometheus does), so every duration has one canonical spelling.
constexpr std::array<std::pair<char, std::int64_t>, 5> kDurationUnits{{
    {'w', 7 * 24 * 3600},
    {'d', 24 * 3600},
    {'h', 3600},
    {'m', 60},
    {'s', 1},
}};

// States the evaluator produces by itself; a rule reusing one would make alerts ambiguous.
constexpr std::array<std::string_view, 5> kBuiltinActions{"ok", "expired", "not_yet_valid",
                                                          "load_failed", "renewal_overdue"};

bool is_action_name(std::string_view name) {
  if (name.empty() || !is_lower(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_lower(c) || is_digit(c) || c == '_'; });
}

bool is_label_name(std::string_view name) {
  if (name.empty() || !(is_alpha(name.front()) || name.front() == '_')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

std::string check_list() {
  return name_list(rules::all_checks(), [](const rules::CheckInfo& check) { return check.name; });
}

// Holds the walk's state ahead of the SectionParser base that refers to it.
struct ParseStateHolder {
  ParseState held;
};

// Walks the document once, filling a Config and collecting every error on the way: the shared
// sections here, each source's section by the parser its registry entry carries.
class Parser : private ParseStateHolder, public SectionParser {
 public:
  Parser(std::string file, std::filesystem::path directory, std::span<const SourceSection> sections)
      : ParseStateHolder{ParseState{
            yaml_strict::Reader(std::move(file)), std::move(directory), {}}},
        SectionParser(held),
        sections_(sections) {}

  std::optional<YAML::Node> load(std::string_view yaml) { return reader_.load(yaml); }
  std::vector<ConfigError> take_errors() { return reader_.take_errors(); }

  void parse_root(const YAML::Node& root, Config& config) {
    if (root.IsNull()) return;  // an empty file or only comments: all defaults
    std::vector<std::string_view> known{"poll_interval",   "deployment", "rules",
                                        "alerting",        "checks",     "automation",
                                        "rotation_journal"};
    for (const SourceSection& section : sections_) known.push_back(section.name);
    const auto fields = map_of(Value{root, "", line_of(root)}, known);
    if (!fields) return;
    if (const Value* v = find(*fields, "poll_interval")) {
      set_duration(*v, kPollIntervalRange, config.poll_interval);
    }
    if (const Value* v = find(*fields, "deployment")) parse_deployment(*v, config.deployment);
    if (const Value* v = find(*fields, "rules")) parse_rules(*v, config.rules);
    if (const Value* v = find(*fields, "alerting")) parse_alerting(*v, config.alerting);
    if (const Value* v = find(*fields, "checks")) parse_checks(*v, config.checks);
    // In registry order: a section may read one before it (the probe's from_cluster needs the
    // cluster's; its default CA is in the first certs dir).
    for (const SourceSection& section : sections_) {
      if (const Value* v = find(*fields, section.name)) section.parse(*this, *v, config);
    }
    if (const Value* v = find(*fields, "automation")) parse_automation(*v, config.automation);
    if (const Value* v = find(*fields, "rotation_journal")) {
      if (const auto path = absolute_path(*v)) config.rotation_journal = *path;
    }
    check_tier(*fields, config);
    warn_lifetime_shares_on_cluster(*fields, config);
  }

  std::vector<ConfigWarning> take_warnings() { return std::move(warnings_); }

 private:
  void parse_rules(const Value& value, std::vector<rules::Rule>& out) {
    const auto items = list_of(value);
    if (!items) return;
    out.clear();
    for (const Value& item : *items) {
      if (auto rule = parse_rule(item)) out.push_back(std::move(*rule));
    }
  }

  std::optional<rules::Rule> parse_rule(const Value& value) {
    if (!value.node.IsMap()) {
      fail(value, "must be a map with cert_types, below, action and severity");
      return std::nullopt;
    }
    const auto fields =
        map_of(value, {"cert_types", "below", "action", "severity", "paths", "sources", "users"});
    if (!fields) return std::nullopt;
    rules::Rule rule;
    bool ok = true;
    if (const Value* v = require(*fields, value, "cert_types")) {
      ok = parse_cert_types(*v, rule.cert_types) && ok;
    } else {
      ok = false;
    }
    if (const Value* v = require(*fields, value, "below")) {
      rules::RenewBefore below;
      ok = set_duration_or_share(*v, kRuleBelowRange, below) && ok;
      rule.below = below.duration;
      rule.below_percent = below.percent;
    } else {
      ok = false;
    }
    ok = parse_selector(*fields, rule.select) && ok;
    if (const Value* v = require(*fields, value, "action")) {
      ok = parse_action(*v, rule.action) && ok;
    } else {
      ok = false;
    }
    if (const Value* v = require(*fields, value, "severity")) {
      ok = parse_severity(*v, rule.severity) && ok;
    } else {
      ok = false;
    }
    if (!ok) return std::nullopt;
    return rule;
  }

  bool parse_cert_types(const Value& value, std::vector<CertType>& out) {
    const auto items = list_of(value);
    if (!items) return false;
    if (items->empty()) {
      fail(value, "must not be empty");
      return false;
    }
    bool ok = true;
    for (const Value& item : *items) {
      const auto type = cert_type_of(item);
      if (!type) {
        ok = false;
      } else if (std::find(out.begin(), out.end(), *type) != out.end()) {
        fail(item, "duplicate cert type " + quote(to_string(*type)));
        ok = false;
      } else {
        out.push_back(*type);
      }
    }
    return ok;
  }

  bool parse_action(const Value& value, std::string& out) {
    const auto text = non_empty_string(value);
    if (!text) return false;
    if (!is_action_name(*text)) {
      fail(value, "invalid action name " + quote(*text) + " (must match [a-z][a-z0-9_]*)");
      return false;
    }
    if (std::find(kBuiltinActions.begin(), kBuiltinActions.end(), *text) != kBuiltinActions.end()) {
      fail(value, quote(*text) + " is a built-in state and cannot be a rule action");
      return false;
    }
    out = *text;
    return true;
  }

  bool parse_severity(const Value& value, Severity& out) {
    const auto text = scalar_of(value, "a severity");
    if (!text) return false;
    const auto severity = severity_from_string(*text);
    if (!severity || *severity == Severity::none) {
      fail(value, "unknown severity " + quote(*text) + " (expected info, warning or critical)");
      return false;
    }
    out = *severity;
    return true;
  }

  void parse_deployment(const Value& value, DeploymentConfig& deployment) {
    const auto fields = map_of(value, {"tier"});
    if (!fields) return;
    const Value* tier = find(*fields, "tier");
    if (tier == nullptr) return;
    const auto text = scalar_of(*tier, "a tier name");
    if (!text) return;
    if (const auto parsed = tier_from_string(*text)) {
      deployment.tier = *parsed;
    } else {
      fail(*tier,
           "unknown tier " + quote(*text) + " (expected " +
               name_list(all_tiers(), [](const TierFacts& t) { return std::string(t.name); }) +
               ")");
    }
  }

  void parse_alerting(const Value& value, AlertingConfig& alerting) {
    const auto fields =
        map_of(value, {"job", "runbook_base_url", "extra_labels", "expiry_for", "file_error_for",
                       "source_down_for", "node_stale_after", "reload_pending_for", "insecure_for",
                       "exporter_down_for", "cmek_transition_for"});
    if (!fields) return;
    if (const Value* v = find(*fields, "job")) {
      if (const auto text = non_empty_string(*v)) alerting.job = *text;
    }
    if (const Value* v = find(*fields, "runbook_base_url")) {
      if (const auto text = scalar_of(*v, "a string")) {
        // A link in an alert is opened from a notification, a phone, Grafana: only an absolute
        // web URL opens there (a relative or file:// one never does).
        const bool http = text->starts_with("http://") || text->starts_with("https://");
        const std::string_view rest =
            http ? std::string_view(*text).substr(text->find("//") + 2) : std::string_view();
        if (!http || rest.empty() || rest.front() == '/' ||
            rest.find_first_of(" \t\r\n") != std::string_view::npos) {
          fail(*v,
               "must be an absolute http:// or https:// URL with a host, e.g. "
               "https://runbooks.example.com/crdb-certwatch");
        } else {
          alerting.runbook_base_url = *text;
        }
      }
    }
    if (const Value* v = find(*fields, "extra_labels")) parse_labels(*v, alerting.extra_labels);
    const std::array<std::pair<std::string_view, seconds*>, 8> durations{{
        {"expiry_for", &alerting.expiry_for},
        {"file_error_for", &alerting.file_error_for},
        {"source_down_for", &alerting.source_down_for},
        {"node_stale_after", &alerting.node_stale_after},
        {"reload_pending_for", &alerting.reload_pending_for},
        {"insecure_for", &alerting.insecure_for},
        {"exporter_down_for", &alerting.exporter_down_for},
        {"cmek_transition_for", &alerting.cmek_transition_for},
    }};
    for (const auto& [key, target] : durations) {
      if (const Value* v = find(*fields, key)) {
        set_duration(*v, key == "node_stale_after" ? kStaleAfterRange : kAlertForRange, *target);
      }
    }
  }

  void parse_labels(const Value& value, std::map<std::string, std::string>& out) {
    const auto fields = map_of(value, {});  // an empty list admits any key; checked below
    if (!fields) return;
    for (const auto& [name, label] : *fields) {
      if (!is_label_name(name)) {
        fail(label, "invalid label name (must match [a-zA-Z_][a-zA-Z0-9_]*)");
      } else if (name.starts_with("__")) {
        fail(label, "label names starting with __ are reserved");
      } else if (name == "severity") {
        fail(label, "reserved: the alert rules set severity themselves");
      } else if (const auto text = scalar_of(label, "a string")) {
        out[name] = *text;
      }
    }
  }

  void parse_checks(const Value& value, rules::ChecksConfig& checks) {
    const auto fields = map_of(value, {"enabled", "disable", "severity", "san", "key_owner",
                                       "key_match", "denylist", "denylist_file"});
    if (!fields) return;
    if (const Value* v = find(*fields, "enabled")) set_bool(*v, checks.enabled);
    if (const Value* v = find(*fields, "disable")) {
      if (const auto items = list_of(*v)) {
        for (const Value& item : *items) {
          const auto name = check_name_of(item, scalar_of(item, "a check name"));
          if (!name) continue;
          if (std::find(checks.disable.begin(), checks.disable.end(), *name) !=
              checks.disable.end()) {
            fail(item, "duplicate check " + quote(*name));
          } else {
            checks.disable.push_back(*name);
          }
        }
      }
    }
    if (const Value* v = find(*fields, "severity")) {
      if (const auto entries = map_of(*v, {})) {  // any key: each is checked as a check name
        for (const auto& [name, entry] : *entries) {
          if (!check_name_of(entry, name)) continue;
          const auto text = scalar_of(entry, "a severity");
          if (!text) continue;
          if (const auto severity = severity_from_string(*text)) {
            checks.severity[name] = *severity;
          } else {
            fail(entry, "unknown severity " + quote(*text) +
                            " (expected none, info, warning or critical)");
          }
        }
      }
    }
    if (const Value* v = find(*fields, "san")) parse_san(*v, checks);
    if (const Value* v = find(*fields, "key_owner")) {
      if (const auto text = non_empty_string(*v)) checks.key_owner = *text;
    }
    if (const Value* v = find(*fields, "key_match")) set_bool(*v, checks.key_match);
    if (const Value* v = find(*fields, "denylist")) {
      if (const auto items = list_of(*v)) {
        for (const Value& item : *items) {
          const auto text = non_empty_string(item);
          if (!text) continue;
          if (rules::parse_deny_entry(*text)) {
            checks.denylist.push_back(*text);
          } else {
            fail(item, "invalid denylist entry " + quote(*text) +
                           " (expected a SHA-256 fingerprint of 64 hex digits, or serial:<hex> "
                           "issuer:<issuer DN>)");
          }
        }
      }
    }
    if (const Value* v = find(*fields, "denylist_file")) {
      // Read by the file source at every poll, not here: a load must not depend on it.
      if (const auto path = absolute_path(*v)) checks.denylist_file = *path;
    }
  }

  void parse_san(const Value& value, rules::ChecksConfig& checks) {
    const auto fields = map_of(value, {"required", "include_local"});
    if (!fields) return;
    if (const Value* v = find(*fields, "required")) {
      if (const auto items = list_of(*v)) {
        for (const Value& item : *items) {
          if (const auto name = non_empty_string(item)) checks.san_required.push_back(*name);
        }
      }
    }
    if (const Value* v = find(*fields, "include_local")) set_bool(*v, checks.san_include_local);
  }

  // `name` when it is a check's name (rules::all_checks), reported against `value` otherwise.
  std::optional<std::string> check_name_of(const Value& value, std::optional<std::string> name) {
    if (!name) return std::nullopt;
    if (rules::find_check(*name) == nullptr) {
      fail(value, "unknown check " + quote(*name) + " (expected one of " + check_list() + ")");
      return std::nullopt;
    }
    return name;
  }

  // A duration in `range`, or a share of the certificate's lifetime: `33%`, a whole number of
  // percent from 1 to 100 (rules[].below, automation[].renew_before).
  bool set_duration_or_share(const Value& value, const DurationRange& range,
                             rules::RenewBefore& out) {
    const auto text =
        scalar_of(value, "a duration such as 90d, or a share of the lifetime such as 33%");
    if (!text) return false;
    if (!text->ends_with('%')) return set_duration(value, range, out.duration);
    const std::string_view digits = std::string_view(*text).substr(0, text->size() - 1);
    std::size_t pos = 0;
    const auto percent = parse_digits(digits, pos, 1000);
    if (!percent || pos != digits.size() || *percent < 1 || *percent > 100) {
      fail(value, "invalid share of the lifetime " + quote(*text) +
                      " (expected a whole percentage from 1% to 100%, or a duration " +
                      range_text(range) + ")");
      return false;
    }
    out.percent = static_cast<int>(*percent);
    return true;
  }

  // The optional selectors beside cert_types: paths (globs over the path label), sources, users.
  bool parse_selector(const Fields& fields, rules::Selector& out) {
    bool ok = true;
    const auto strings = [&](std::string_view key, std::vector<std::string>& values,
                             const auto& valid, std::string_view expected) {
      const Value* v = find(fields, key);
      if (v == nullptr) return;
      const auto items = list_of(*v);
      if (!items) {
        ok = false;
        return;
      }
      if (items->empty()) {
        fail(*v, "must not be empty (leave the key out to select every certificate)");
        ok = false;
      }
      for (const Value& item : *items) {
        const auto text = non_empty_string(item);
        if (!text) {
          ok = false;
        } else if (!valid(*text)) {
          fail(item, "invalid " + std::string(key) + " entry " + quote(*text) + " (" +
                         std::string(expected) + ")");
          ok = false;
        } else if (std::find(values.begin(), values.end(), *text) != values.end()) {
          fail(item, "duplicate entry " + quote(*text));
          ok = false;
        } else {
          values.push_back(*text);
        }
      }
    };
    strings(
        "paths", out.paths, [](const std::string& glob) { return glob.size() <= 4096; },
        "a glob of at most 4096 characters");
    strings(
        "sources", out.sources, [](const std::string& name) { return is_action_name(name); },
        "a source name such as file, cluster or probe");
    strings(
        "users", out.users, [](const std::string& user) { return user.size() <= 256; },
        "a SQL user name");
    return ok;
  }

  void parse_automation(const Value& value, std::vector<rules::Automation>& out) {
    const auto items = list_of(value);
    if (!items) return;
    std::map<std::string, std::string> names;
    for (const Value& item : *items) {
      if (!item.node.IsMap()) {
        fail(item, "must be a map with name, and preset or renew_before");
        continue;
      }
      const auto fields = map_of(item, {"name", "preset", "match", "renew_before", "grace"});
      if (!fields) continue;
      rules::Automation entry;
      bool ok = true;
      if (const Value* v = require(*fields, item, "name")) {
        const auto name = non_empty_string(*v);
        const auto valid_char = [](char c) {
          return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.';
        };
        if (!name) {
          ok = false;
        } else if (name->size() > 64 || !(is_alpha(name->front()) || is_digit(name->front())) ||
                   !std::all_of(name->begin(), name->end(), valid_char)) {
          fail(*v, "invalid name " + quote(*name) +
                       " (letters, digits, _ - and ., at most 64, starting with a letter or "
                       "digit: it becomes the managed_by label)");
          ok = false;
        } else if (const auto [it, inserted] = names.emplace(*name, v->key); !inserted) {
          fail(*v, "same name as " + it->second);
          ok = false;
        } else {
          entry.name = *name;
        }
      } else {
        ok = false;
      }
      if (const Value* v = find(*fields, "preset")) {
        const auto text = scalar_of(*v, "a preset name");
        const auto& presets = rules::automation_presets();
        if (text && std::find(presets.begin(), presets.end(), *text) != presets.end()) {
          entry.preset = *text;
        } else {
          if (text) {
            fail(*v, "unknown preset " + quote(*text) + " (expected " +
                         name_list(presets, [](std::string_view p) { return std::string(p); }) +
                         ")");
          }
          ok = false;
        }
      }
      if (const Value* v = find(*fields, "match")) {
        if (const auto match = map_of(*v, {"cert_types", "paths", "sources", "users"})) {
          if (const Value* t = find(*match, "cert_types")) {
            ok = parse_cert_types(*t, entry.cert_types) && ok;
          }
          ok = parse_selector(*match, entry.match) && ok;
        } else {
          ok = false;
        }
      }
      if (const Value* v = find(*fields, "renew_before")) {
        rules::RenewBefore renew;
        if (set_duration_or_share(*v, kRuleBelowRange, renew)) {
          entry.renew_before = renew;
        } else {
          ok = false;
        }
      } else if (find(*fields, "preset") == nullptr) {
        fail(item.line, join_key(item.key, "renew_before"),
             "required without a preset (a duration such as 48h, or a share such as 33%)");
        ok = false;
      }
      if (const Value* v = find(*fields, "grace")) {
        ok = set_duration(*v, kGraceRange, entry.grace) && ok;
      }
      if (ok) out.push_back(std::move(entry));
    }
  }

  // A share of the lifetime needs notBefore, which the cluster source does not report: a rule or
  // an automation entry measured so never applies to the cluster's certificates.
  void warn_lifetime_shares_on_cluster(const Fields& fields, const Config& config) {
    const auto warn_items = [&](std::string_view section, std::size_t count,
                                const auto& shares_on_cluster) {
      const Value* v = find(fields, section);
      if (v == nullptr || !v->node.IsSequence()) return;
      const auto items = reader_.list_of(*v);
      if (!items) return;
      for (std::size_t i = 0; i < items->size() && i < count; ++i) {
        if (!shares_on_cluster(i)) continue;
        warn((*items)[i],
             "a share of the lifetime needs notBefore, which the cluster source does not report: "
             "this entry never applies to cluster certificates (use a duration, or select the "
             "file or probe source)");
      }
    };
    const auto selects_cluster = [](const rules::Selector& selector) {
      return std::find(selector.sources.begin(), selector.sources.end(), kSourceCluster) !=
             selector.sources.end();
    };
    warn_items("rules", config.rules.size(), [&](std::size_t i) {
      return config.rules[i].below_percent > 0 && selects_cluster(config.rules[i].select);
    });
    warn_items("automation", config.automation.size(), [&](std::size_t i) {
      const rules::Automation& entry = config.automation[i];
      const bool share = entry.renew_before ? entry.renew_before->percent > 0
                                            : entry.preset == rules::kPresetCertManager;
      return share && selects_cluster(entry.match);
    });
  }

  // What the tier (core/tier.hpp) rules out, and what it makes pointless. A source's section on
  // a tier it does not fit (its registry entry says which): an error where it cannot work (a
  // `cmek:` section where CMEK is not available), a warning where it is pointless (a `cluster:`
  // section on Standard or Basic). Warnings too: custom rules naming certificate types that
  // Cockroach Labs manages on the tier (node, UI, tenant: only client certificates, their CA and
  // the cluster CA clients verify with are yours). The default rules are never warned about.
  void check_tier(const Fields& fields, const Config& config) {
    const TierFacts& tier = tier_facts(config.deployment.tier);
    const std::string on_tier = " on " + std::string(tier.title);
    for (const SourceSection& section : sections_) {
      const Value* v = find(fields, section.name);
      if (v == nullptr || section.misfit == nullptr ||
          std::find(section.tiers.begin(), section.tiers.end(), tier.tier) != section.tiers.end()) {
        continue;
      }
      if (section.misfit_is_error) {
        fail(*v, section.misfit(tier));
      } else {
        warn(*v, section.misfit(tier));
      }
    }
    const Value* rules = find(fields, "rules");
    if (rules == nullptr || tier.node_certificates_yours) return;
    const auto items = rules->node.IsSequence() ? reader_.list_of(*rules) : std::nullopt;
    if (!items) return;
    for (std::size_t i = 0; i < items->size() && i < config.rules.size(); ++i) {
      std::string managed;
      int count = 0;
      for (CertType type : config.rules[i].cert_types) {
        if (tier_owns_cert_type(tier, type)) continue;
        managed += (count++ == 0 ? "" : ", ") + std::string(to_string(type));
      }
      if (count == 0) continue;
      warn(Value{(*items)[i].node, join_key((*items)[i].key, "cert_types"), (*items)[i].line},
           (count == 1 ? "cert type " + managed + " is" : "cert types " + managed + " are") +
               " managed by Cockroach Labs" + on_tier +
               ": only client certificates are yours, so this rule never asks you to act");
    }
  }

  std::span<const SourceSection> sections_;
};

}  // namespace

// Key names and values come from the file as they are: a terminal or a log shows them escaped
// (controls, bidi overrides, bytes that are not UTF-8), never raw.
std::string ConfigError::to_string() const {
  std::string location = file;
  if (line > 0)
    location += location.empty() ? "line " + std::to_string(line) : ":" + std::to_string(line);
  std::string out;
  for (std::string_view part :
       {std::string_view(location), std::string_view(key), std::string_view(message)}) {
    if (part.empty()) continue;
    if (!out.empty()) out += ": ";
    out += escape_for_display(part);
  }
  return out;
}

LoadResult parse_config(std::string_view yaml, const std::string& file,
                        std::span<const SourceSection> sections) {
  Parser parser(file, std::filesystem::path(file).parent_path(), sections);
  Config config;
  if (const auto root = parser.load(yaml)) parser.parse_root(*root, config);
  LoadResult result;
  result.errors = parser.take_errors();
  if (result.errors.empty()) {
    result.config = std::move(config);
    result.warnings = parser.take_warnings();
  }
  return result;
}

LoadResult load_config_file(const std::string& path, std::span<const SourceSection> sections) {
  const BoundedRead read = read_regular_file(path, kMaxConfigBytes);
  if (read.error) {
    LoadResult result;
    result.errors.push_back(
        ConfigError{path, 0, "", "cannot read config file: " + describe(*read.error)});
    return result;
  }
  return parse_config(read.content, path, sections);
}

std::optional<seconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // index into kDurationUnits of the smallest unit still allowed
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto number = parse_digits(text, pos, static_cast<std::uint64_t>(kMaxInt64));
    if (!number || pos == text.size()) return std::nullopt;
    const char unit = text[pos++];
    std::size_t index = next_unit;
    while (index < kDurationUnits.size() && kDurationUnits[index].first != unit) ++index;
    if (index == kDurationUnits.size()) return std::nullopt;  // unknown, repeated or out of order
    next_unit = index + 1;
    const std::int64_t factor = kDurationUnits[index].second;
    const auto value = static_cast<std::int64_t>(*number);
    if (value > kMaxInt64 / factor || value * factor > kMaxInt64 - total) return std::nullopt;
    total += value * factor;
  }
  return seconds{total};
}

std::string format_duration(seconds value) {
  std::int64_t left = value.count();
  if (left == 0) return "0s";
  std::string out;
  if (left < 0) {
    out = "-";
    if (left == std::numeric_limits<std::int64_t>::min()) {
      return out + std::to_string(left).substr(1) + "s";
    }
    left = -left;
  }
  // Weeks are left out on purpose: 90d reads better than 12w6d.
  for (const auto& [unit, factor] : kDurationUnits) {
    if (unit == 'w' || left < factor) continue;
    out += std::to_string(left / factor);
    out += unit;
    left %= factor;
  }
  return out;
}

}  // namespace certwatch::config
