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

#include "config/yaml_strict.hpp"
#include "core/libpq_handles.hpp"
#include "core/names.hpp"
#include "core/read_file.hpp"
#include "core/text.hpp"

namespace certwatch::config {
namespace {

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxDsnFileBytes = 64 * 1024;
constexpr std::size_t kMaxApiKeyFileBytes = 64 * 1024;

// The closed range a configured duration must fall in. Every bound keeps the value far from what
// a timer's nanosecond count (int64: 292 years) or `now + below` can hold, so no later conversion
// can overflow; config/config.example.yaml and the README say why each range is what it is.
struct DurationRange {
  seconds min;
  seconds max;
};
constexpr seconds kDay{24 * 3600};
// Under a second is a busy loop on the disk or the database; a week is slower than any rotation
// schedule needs.
constexpr DurationRange kPollIntervalRange{seconds{1}, 7 * kDay};
// Under a second fails on any real network; past ten minutes a hung cluster silences the source
// for longer than its alert waits.
constexpr DurationRange kTimeoutRange{seconds{1}, seconds{600}};
// Alert `for:` durations: 0s fires at once; an alert held back for over 30 days never fires in
// time to matter.
constexpr DurationRange kAlertForRange{seconds{0}, 30 * kDay};
constexpr DurationRange kStaleAfterRange{seconds{1}, 30 * kDay};
// A rule threshold: no certificate is issued for more than a century.
constexpr DurationRange kRuleBelowRange{seconds{1}, 36500 * kDay};
// How late an automated renewal may be: a CronJob or a controller that is days late has stopped.
constexpr DurationRange kGraceRange{seconds{0}, 90 * kDay};

struct SizeRange {
  std::uint64_t min;
  std::uint64_t max;
};
// One PEM certificate is 0.5-2 KiB, so under 1 KiB refuses real files; a file is held in memory
// while parsed, and no certificate bundle comes near 64 MiB.
constexpr SizeRange kMaxFileBytesRange{1024, 64 * 1024 * 1024};

// Accepted duration units, largest first: a duration spells them in this order, each at most once
// (as Prometheus does), so every duration has one canonical spelling.
constexpr std::array<std::pair<char, std::int64_t>, 5> kDurationUnits{{
    {'w', 7 * 24 * 3600},
    {'d', 24 * 3600},
    {'h', 3600},
    {'m', 60},
    {'s', 1},
}};

constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kSizeUnits{{
    {"B", 1},
    {"KiB", 1024},
    {"MiB", 1024 * 1024},
    {"GiB", 1024 * 1024 * 1024},
}};

// States the evaluator produces by itself; a rule reusing one would make alerts ambiguous.
constexpr std::array<std::string_view, 5> kBuiltinActions{"ok", "expired", "not_yet_valid",
                                                          "load_failed", "renewal_overdue"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return is_lower(c) || (c >= 'A' && c <= 'Z'); }

// Accumulates decimal digits from text[pos]; nullopt on overflow or when there are none.
std::optional<std::uint64_t> parse_digits(std::string_view text, std::size_t& pos,
                                          std::uint64_t max) {
  const std::size_t start = pos;
  std::uint64_t value = 0;
  for (; pos < text.size() && is_digit(text[pos]); ++pos) {
    const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (pos == start) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t pos = 0;
  const auto number = parse_digits(text, pos, std::numeric_limits<std::uint64_t>::max());
  if (!number) return std::nullopt;
  const std::string_view unit = text.substr(pos);
  if (unit.empty()) return number;
  for (const auto& [name, factor] : kSizeUnits) {
    if (name != unit) continue;
    if (*number > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
    return *number * factor;
  }
  return std::nullopt;
}

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

// A libpq connection string is a URL or keyword=value pairs. Only the shape is checked; the
// value itself is never echoed because it may carry a password.
// libpq's own parser, so --config.check catches what every poll would fail on. Its error text
// may quote parts of the string, so only the verdict is used.
bool libpq_parses(const std::string& dsn) {
  char* error = nullptr;
  const libpq::ConninfoPtr options(PQconninfoParse(dsn.c_str(), &error));
  const libpq::MemPtr error_owner(error);
  return options != nullptr;
}

bool looks_like_dsn(std::string_view dsn) {
  if (dsn.starts_with("postgresql://") || dsn.starts_with("postgres://")) return true;
  return dsn.find("://") == std::string_view::npos && dsn.find('=') != std::string_view::npos;
}

// A user-supplied (non-secret) value for an error message: quoted, bounded, printable.
std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  std::string out = "\"";
  for (char c : text.substr(0, kMaxShown)) {
    out += (c >= 0x20 && c != 0x7f) ? c : '?';
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

using yaml_strict::index_key;
using yaml_strict::join_key;
using yaml_strict::line_of;
using yaml_strict::Value;

// "a, b, c": the names an error message offers as accepted values.
template <typename Items, typename NameOf>
std::string name_list(const Items& items, NameOf name_of) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += name_of(item);
  }
  return out;
}

std::string cert_type_list() {
  return name_list(all_cert_types(), [](CertType type) { return to_string(type); });
}

std::string check_list() {
  return name_list(rules::all_checks(), [](const rules::CheckInfo& check) { return check.name; });
}

std::string trim_trailing_whitespace(std::string text) {
  const auto end = text.find_last_not_of(" \t\r\n\f\v");
  text.erase(end == std::string::npos ? 0 : end + 1);
  return text;
}

// Sorted by key, so entries that share a line (a flow map) are visited, and reported, in key order.
using Fields = std::map<std::string, Value, std::less<>>;

std::string range_text(const DurationRange& range) {
  return "between " + format_duration(range.min) + " and " + format_duration(range.max);
}

// The largest unit that spells the size exactly (64MiB, 1KiB, 1500B).
std::string format_size(std::uint64_t bytes) {
  for (auto it = kSizeUnits.rbegin(); it != kSizeUnits.rend(); ++it) {
    if (bytes != 0 && bytes % it->second == 0)
      return std::to_string(bytes / it->second) + std::string(it->first);
  }
  return std::to_string(bytes) + "B";
}

std::string range_text(const SizeRange& range) {
  return "between " + format_size(range.min) + " and " + format_size(range.max);
}

// Walks the document once, filling a Config and collecting every error on the way.
class Parser {
 public:
  Parser(std::string file, std::filesystem::path directory)
      : reader_(std::move(file)), directory_(std::move(directory)) {}

  std::optional<YAML::Node> load(std::string_view yaml) { return reader_.load(yaml); }
  std::vector<ConfigError> take_errors() { return reader_.take_errors(); }

  void fail(int line, std::string key, std::string message) {
    reader_.fail(line, std::move(key), std::move(message));
  }
  void fail(const Value& value, std::string message) { reader_.fail(value, std::move(message)); }

  void parse_root(const YAML::Node& root, Config& config) {
    if (root.IsNull()) return;  // an empty file or only comments: all defaults
    const auto fields = map_of(Value{root, "", line_of(root)},
                               {"poll_interval", "deployment", "files", "rules", "cluster", "probe",
                                "alerting", "checks", "cmek", "automation", "rotation_journal"});
    if (!fields) return;
    if (const Value* v = find(*fields, "poll_interval")) {
      set_duration(*v, kPollIntervalRange, config.poll_interval);
    }
    if (const Value* v = find(*fields, "deployment")) parse_deployment(*v, config.deployment);
    if (const Value* v = find(*fields, "files")) parse_files(*v, config.files);
    if (const Value* v = find(*fields, "rules")) parse_rules(*v, config.rules);
    if (const Value* v = find(*fields, "cluster")) {
      config.cluster.emplace();
      parse_cluster(*v, *config.cluster);
    }
    if (const Value* v = find(*fields, "alerting")) parse_alerting(*v, config.alerting);
    if (const Value* v = find(*fields, "checks")) parse_checks(*v, config.checks);
    if (const Value* v = find(*fields, "probe")) {
      config.probe.emplace();
      parse_probe(*v, config, *config.probe);
    }
    if (const Value* v = find(*fields, "cmek")) {
      config.cmek.emplace();
      parse_cmek(*v, *config.cmek);
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
  static const Value* find(const Fields& fields, std::string_view key) {
    const auto it = fields.find(key);
    return it == fields.end() ? nullptr : &it->second;
  }

  // The checked entries of a mapping (see yaml_strict::Reader::map_of), by key.
  std::optional<Fields> map_of(const Value& value, std::initializer_list<std::string_view> known) {
    auto entries = reader_.map_of(value, known);
    if (!entries) return std::nullopt;
    Fields fields;
    for (auto& [name, entry] : *entries) fields.emplace(std::move(name), std::move(entry));
    return fields;
  }

  // Checks that `key` is present; reports it missing against the map's line otherwise.
  const Value* require(const Fields& fields, const Value& map, std::string_view key) {
    const Value* found = find(fields, key);
    if (found == nullptr) fail(map.line, join_key(map.key, key), "required key is missing");
    return found;
  }

  std::optional<std::vector<Value>> list_of(const Value& value) { return reader_.list_of(value); }
  std::optional<std::string> scalar_of(const Value& value, std::string_view what) {
    return reader_.scalar_of(value, what);
  }

  std::optional<std::string> non_empty_string(const Value& value) {
    auto text = scalar_of(value, "a string");
    if (text && text->empty()) {
      fail(value, "must not be empty");
      return std::nullopt;
    }
    return text;
  }

  // Every message names the range: a value too large to parse is out of range as much as one
  // that parses.
  bool set_duration(const Value& value, const DurationRange& range, seconds& out) {
    const auto text = scalar_of(value, "a duration such as 30s, 5m, 12h or 90d");
    if (!text) return false;
    const auto parsed = parse_duration(*text);
    if (!parsed) {
      fail(value, "invalid duration " + quote(*text) +
                      " (expected e.g. 30s, 5m, 12h, 90d, 1h30m, " + range_text(range) + ")");
      return false;
    }
    if (*parsed < range.min || *parsed > range.max) {
      fail(value, "must be " + range_text(range) + ", got " + quote(*text));
      return false;
    }
    out = *parsed;
    return true;
  }

  std::optional<std::string> absolute_path(const Value& value) {
    auto path = non_empty_string(value);
    if (!path) return std::nullopt;
    if (!std::filesystem::path(*path).is_absolute()) {
      fail(value, "must be an absolute path, got " + quote(*path));
      return std::nullopt;
    }
    if (!check_path_kind(value, *path)) return std::nullopt;
    return path;
  }

  // The kPathKeys entry of a key that gives a path (reported when it has none: every path a key
  // gives passes here, so the table stays complete).
  const PathKey* path_key(const Value& value) {
    std::string key;  // value.key with list indexes as "[]"
    for (std::size_t i = 0; i < value.key.size(); ++i) {
      key += value.key[i];
      if (value.key[i] == '[') {
        while (i + 1 < value.key.size() && value.key[i + 1] != ']') ++i;
      }
    }
    const auto entry = std::find_if(std::begin(kPathKeys), std::end(kPathKeys),
                                    [&](const PathKey& known) { return known.key == key; });
    if (entry != std::end(kPathKeys)) return entry;
    fail(value, "internal error: " + key + " is not in config::kPathKeys");
    return nullptr;
  }

  // A path that exists must be of its key's kind. stat(2) never blocks on a FIFO, so
  // --config.check, `check` and the daemon refuse it at once instead of a source hanging on it
  // later. A missing path, and the files a glob matches, are the source's to report when it
  // polls. (A file read at load, read_named_file, is refused by the bounded reader itself.)
  bool check_path_kind(const Value& value, const std::string& path) {
    const PathKey* entry = path_key(value);
    if (entry == nullptr) return false;
    const std::string_view name = std::string_view(path).substr(path.rfind('/') + 1);
    if (name.find_first_of("*?[") != std::string_view::npos) return true;
    struct stat state {};
    if (::stat(path.c_str(), &state) != 0) return true;
    const bool directory = entry->kind == PathKind::directory;
    if (directory ? S_ISDIR(state.st_mode) : S_ISREG(state.st_mode)) return true;
    fail(value,
         quote(path) + " is " + std::string(file_kind(state.st_mode)) + ", not " +
             (directory ? "a directory (not_a_directory)" : "a regular file (not_regular_file)"));
    return false;
  }

  // Reports a path given twice, which would export the same certificates twice.
  bool check_unique_path(const Value& value, const std::string& path,
                         std::map<std::string, std::string>& seen) {
    std::string normal = std::filesystem::path(path).lexically_normal().string();
    while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
    const auto [it, inserted] = seen.emplace(normal, value.key);
    if (!inserted) fail(value, "same path as " + it->second);
    return inserted;
  }

  void parse_files(const Value& value, FilesConfig& files) {
    const auto fields = map_of(value, {"certs_dirs", "extra", "tls_secrets", "max_file_bytes"});
    if (!fields) return;
    std::map<std::string, std::string> seen_dirs;  // certs_dirs and tls_secrets alike
    if (const Value* v = find(*fields, "certs_dirs")) {
      if (const auto items = list_of(*v)) {
        files.certs_dirs.clear();
        for (const Value& item : *items) {
          const auto path = absolute_path(item);
          if (path && check_unique_path(item, *path, seen_dirs)) files.certs_dirs.push_back(*path);
        }
      }
    } else {
      for (const std::string& dir : files.certs_dirs) {
        seen_dirs.emplace(dir, join_key(value.key, "certs_dirs") + " (default)");
      }
    }
    if (const Value* v = find(*fields, "tls_secrets")) {
      if (const auto items = list_of(*v)) {
        for (const Value& item : *items) parse_tls_secret(item, files.tls_secrets, seen_dirs);
      }
    }
    if (const Value* v = find(*fields, "extra")) {
      if (const auto items = list_of(*v)) {
        std::map<std::string, std::string> seen;
        for (const Value& item : *items) parse_extra_file(item, files.extra, seen);
      }
    }
    if (const Value* v = find(*fields, "max_file_bytes")) {
      if (const auto text = scalar_of(*v, "a size such as 1MiB")) {
        const auto size = parse_size(*text);
        if (!size) {
          fail(*v, "invalid size " + quote(*text) +
                       " (expected bytes or e.g. 64KiB, 512KiB, 1MiB, " +
                       range_text(kMaxFileBytesRange) + ")");
        } else if (*size < kMaxFileBytesRange.min || *size > kMaxFileBytesRange.max) {
          fail(*v, "must be " + range_text(kMaxFileBytesRange) + ", got " + quote(*text));
        } else {
          files.max_file_bytes = *size;
        }
      }
    }
  }

  void parse_extra_file(const Value& value, std::vector<ExtraFile>& out,
                        std::map<std::string, std::string>& seen) {
    if (!value.node.IsMap()) {
      fail(value, "must be a map with path and cert_type");
      return;
    }
    const auto fields = map_of(value, {"path", "cert_type"});
    if (!fields) return;
    ExtraFile extra;
    bool ok = true;
    if (const Value* v = require(*fields, value, "path")) {
      const auto path = absolute_path(*v);
      if (!path) {
        ok = false;
      } else if (const auto slash = path->rfind('/');
                 path->substr(0, slash).find_first_of("*?[") != std::string::npos) {
        fail(*v, "wildcards are allowed only in the last path component, got " + quote(*path));
        ok = false;
      } else if (slash == path->size() - 1) {
        fail(*v, "must name files, not a directory (use files.certs_dirs for directories)");
        ok = false;
      } else if (path->ends_with(".key")) {
        fail(*v, "names a .key file: private keys are never read");
        ok = false;
      } else {
        ok = check_unique_path(*v, *path, seen);
        extra.glob = *path;
      }
    } else {
      ok = false;
    }
    if (const Value* v = find(*fields, "cert_type")) {
      const auto type = cert_type_of(*v);
      ok = ok && type.has_value();
      if (type) extra.cert_type = *type;
    }
    if (ok) out.push_back(std::move(extra));
  }

  // files.tls_secrets[]: {path, cert_type: node|client|ui, user (client only)}.
  void parse_tls_secret(const Value& value, std::vector<TlsSecret>& out,
                        std::map<std::string, std::string>& seen) {
    if (!value.node.IsMap()) {
      fail(value, "must be a map with path, cert_type and (for a client) user");
      return;
    }
    const auto fields = map_of(value, {"path", "cert_type", "user"});
    if (!fields) return;
    TlsSecret secret;
    bool ok = true;
    if (const Value* v = require(*fields, value, "path")) {
      const auto path = absolute_path(*v);
      ok = path && check_unique_path(*v, *path, seen);
      if (path) secret.path = *path;
    } else {
      ok = false;
    }
    if (const Value* v = require(*fields, value, "cert_type")) {
      const auto type = cert_type_of(*v);
      if (type && *type != CertType::node && *type != CertType::client && *type != CertType::ui) {
        fail(*v,
             "a TLS Secret holds a node, client or ui certificate, not " + quote(to_string(*type)));
        ok = false;
      } else {
        ok = ok && type.has_value();
        if (type) secret.cert_type = *type;
      }
    } else {
      ok = false;
    }
    const Value* user = find(*fields, "user");
    if (ok && secret.cert_type == CertType::client && user == nullptr) {
      fail(value.line, join_key(value.key, "user"),
           "required for a client certificate (the SQL user its CN must name)");
      ok = false;
    } else if (user != nullptr && secret.cert_type != CertType::client) {
      fail(*user, "only a client certificate has a user");
      ok = false;
    } else if (user != nullptr) {
      const auto name = non_empty_string(*user);
      ok = ok && name.has_value();
      if (name) secret.user = *name;
    }
    if (ok) out.push_back(std::move(secret));
  }

  std::optional<CertType> cert_type_of(const Value& value) {
    const auto text = scalar_of(value, "a cert type");
    if (!text) return std::nullopt;
    const auto type = cert_type_from_string(*text);
    if (!type)
      fail(value,
           "unknown cert type " + quote(*text) + " (expected one of " + cert_type_list() + ")");
    return type;
  }

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

  void parse_cluster(const Value& value, ClusterConfig& cluster) {
    const auto fields = map_of(value, {"dsn", "dsn_file", "poll_interval", "connect_timeout",
                                       "statement_timeout", "local_node_id", "name"});
    if (!fields) return;
    const Value* dsn = find(*fields, "dsn");
    const Value* dsn_file = find(*fields, "dsn_file");
    if (dsn != nullptr && dsn_file != nullptr) {
      fail(*dsn_file, "cannot be combined with cluster.dsn (set only one)");
    } else if (dsn != nullptr) {
      // Never echo the value: it may hold a password.
      if (const auto text = non_empty_string(*dsn)) {
        if (!looks_like_dsn(*text)) {
          fail(*dsn, "must be a postgresql:// URL or a key=value connection string");
        } else if (!libpq_parses(*text)) {
          fail(*dsn,
               "libpq cannot parse this connection string (not shown: it may hold a "
               "password)");
        } else {
          cluster.dsn = *text;
        }
      }
    } else if (dsn_file != nullptr) {
      read_dsn_file(*dsn_file, cluster);
    } else {
      fail(value, "one of dsn or dsn_file is required");
    }
    if (const Value* v = find(*fields, "poll_interval")) {
      set_duration(*v, kPollIntervalRange, cluster.poll_interval);
    }
    if (const Value* v = find(*fields, "connect_timeout")) {
      set_duration(*v, kTimeoutRange, cluster.connect_timeout);
    }
    if (const Value* v = find(*fields, "statement_timeout")) {
      set_duration(*v, kTimeoutRange, cluster.statement_timeout);
    }
    if (const Value* v = find(*fields, "local_node_id")) {
      if (const auto text = scalar_of(*v, "a node id (string or integer)")) {
        if (text->empty()) {
          fail(*v, "must not be empty");
        } else {
          cluster.local_node_id = *text;
        }
      }
    }
    // A label value (crdb_cert_cluster_info's cluster_name): printable, short.
    if (const Value* v = find(*fields, "name")) {
      if (const auto text = non_empty_string(*v)) {
        const bool printable = std::none_of(text->begin(), text->end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        });
        if (text->size() > 128 || !printable) {
          fail(*v, "must be at most 128 bytes without control characters");
        } else {
          cluster.name = *text;
        }
      }
    }
  }

  // The probe source (issue 13): targets, from_cluster, timing, the CA and client files.
  void parse_probe(const Value& value, const Config& config, ProbeConfig& probe) {
    const auto fields = map_of(value, {"targets", "from_cluster", "poll_interval", "timeout",
                                       "concurrency", "ca_file", "client_cert", "client_key"});
    if (!fields) return;
    const auto protocol_of = [&](const Value& v) -> std::optional<ProbeProtocol> {
      const auto text = scalar_of(v, "postgres or tls");
      if (text == "postgres") return ProbeProtocol::postgres;
      if (text == "tls") return ProbeProtocol::tls;
      if (text) fail(v, "unknown protocol " + quote(*text) + " (expected postgres or tls)");
      return std::nullopt;
    };
    if (const Value* v = find(*fields, "targets"); v != nullptr) {
      std::map<std::string, std::string> seen;
      for (const Value& item : list_of(*v).value_or(std::vector<Value>{})) {
        const auto target = map_of(item, {"address", "protocol", "server_name", "node_id"});
        if (!target) continue;
        ProbeTarget t;
        if (const Value* a = require(*target, item, "address")) {
          const auto text = non_empty_string(*a);
          const auto split = text ? split_host_port(*text) : std::nullopt;
          if (text && !split) {
            fail(*a, "must be HOST:PORT ([IPv6]:PORT), port 1-65535, got " + quote(*text));
          } else if (split && !is_host_name_or_ip(split->host)) {
            // The host is the default server_name (SNI): the same rule as server_name's.
            fail(*a,
                 "host must be a DNS name (letters, digits, hyphens; labels of 1-63) or an IP "
                 "address, got " +
                     quote(split->host));
          } else if (split && !seen.emplace(*text, a->key).second) {
            fail(*a, "same target as " + seen[*text]);
          } else if (split) {
            t.address = *text;
            t.server_name = split->host;
          }
        }
        if (const Value* p = find(*target, "protocol"))
          t.protocol = protocol_of(*p).value_or(t.protocol);
        if (const Value* n = find(*target, "server_name")) {
          // Sent as SNI and matched against the served SANs: a NUL or a newline would cut or
          // forge the name, so only what a certificate could name passes.
          const auto text = non_empty_string(*n);
          if (text && !is_host_name_or_ip(*text)) {
            fail(*n,
                 "must be a DNS name (letters, digits, hyphens; labels of 1-63, 253 bytes in "
                 "all) or an IP address, got " +
                     quote(*text));
          } else if (text) {
            t.server_name = *text;
          }
        }
        if (const Value* n = find(*target, "node_id")) {
          if (const auto text = non_empty_string(*n)) t.node_id = *text;
        }
        if (!t.address.empty()) probe.targets.push_back(std::move(t));
      }
    }
    if (const Value* v = find(*fields, "from_cluster")) {
      if (const auto from = map_of(*v, {"enabled", "protocol", "http_port"})) {
        if (const Value* e = find(*from, "enabled")) set_bool(*e, probe.from_cluster);
        if (const Value* p = find(*from, "protocol")) {
          probe.from_cluster_protocol = protocol_of(*p).value_or(probe.from_cluster_protocol);
        }
        if (const Value* p = find(*from, "http_port")) {
          const auto text = scalar_of(*p, "a port number");
          const auto port = text ? split_host_port("x:" + *text) : std::nullopt;
          if (text && !port) fail(*p, "must be a port number 1-65535, got " + quote(*text));
          if (port) probe.from_cluster_http_port = port->port;
        }
        if (probe.from_cluster && !config.cluster) {
          fail(*v, "needs the cluster: section (the nodes come from kv_node_status)");
        }
      }
    }
    if (const Value* v = find(*fields, "poll_interval")) {
      set_duration(*v, kPollIntervalRange, probe.poll_interval);
    }
    if (const Value* v = find(*fields, "timeout")) set_duration(*v, kTimeoutRange, probe.timeout);
    if (const Value* v = find(*fields, "concurrency")) {
      // Each handshake in flight holds a socket and an SSL object; past 256 the probe competes
      // with the cluster it watches.
      const auto text = scalar_of(*v, "an integer 1-256");
      int n = 0;
      const bool ok = text && !text->empty() && text->size() <= 3 &&
                      std::all_of(text->begin(), text->end(), is_digit) &&
                      (n = std::stoi(*text)) >= 1 && n <= 256;
      if (text && !ok) fail(*v, "must be an integer 1-256, got " + quote(*text));
      if (ok) probe.concurrency = n;
    }
    if (const Value* v = find(*fields, "ca_file")) {
      if (const auto path = absolute_path(*v)) probe.ca_file = *path;
    } else if (!config.files.certs_dirs.empty()) {
      probe.ca_file = (std::filesystem::path(config.files.certs_dirs.front()) / "ca.crt").string();
    }
    const Value* cert = find(*fields, "client_cert");
    const Value* key = find(*fields, "client_key");
    if ((cert == nullptr) != (key == nullptr)) {
      fail(cert != nullptr ? *cert : *key, "client_cert and client_key go together");
    } else if (cert != nullptr) {
      if (const auto path = absolute_path(*cert)) probe.client_cert = *path;
      if (const auto path = absolute_path(*key)) probe.client_key = *path;
    }
    // Targets listed but all invalid were reported one by one: "nothing to probe" would be a
    // second error for the same mistake.
    const Value* listed = find(*fields, "targets");
    const bool targets_listed =
        listed != nullptr && listed->node.IsSequence() && listed->node.size() > 0;
    if (probe.targets.empty() && !probe.from_cluster && !targets_listed) {
      fail(value, "nothing to probe: list targets or enable from_cluster");
    }
  }

  // The file a key names (relative to the config file's directory), read at load, bounded; a
  // failure is reported against the key. Its content is never quoted: it may be a secret.
  struct FileRead {
    std::string path;
    BoundedRead read;
  };
  std::optional<FileRead> read_named_file(const Value& value, std::uint64_t limit) {
    const auto given = non_empty_string(value);
    if (!given) return std::nullopt;
    FileRead file{resolve(*given), {}};
    if (path_key(value) == nullptr) return std::nullopt;
    file.read = read_regular_file(file.path, limit);
    if (file.read.error) {
      fail(value, "cannot read " + quote(file.path) + ": " + describe(*file.read.error));
      return std::nullopt;
    }
    return file;
  }

  void read_dsn_file(const Value& value, ClusterConfig& cluster) {
    auto file = read_named_file(value, kMaxDsnFileBytes);
    if (!file) return;
    const std::string& resolved = file->path;
    std::string dsn = trim_trailing_whitespace(std::move(file->read.content));
    if (dsn.empty()) {
      fail(value, "file " + quote(resolved) + " is empty");
      return;
    }
    if (!looks_like_dsn(dsn)) {
      fail(value, "file " + quote(resolved) +
                      " must hold a postgresql:// URL or a key=value connection string");
      return;
    }
    if (!libpq_parses(dsn)) {
      fail(value, "file " + quote(resolved) +
                      ": libpq cannot parse the connection string (not shown: it may hold a "
                      "password)");
      return;
    }
    cluster.dsn = std::move(dsn);
    cluster.dsn_file = resolved;
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

  void set_bool(const Value& value, bool& out) {
    if (const auto parsed = reader_.bool_of(value)) out = *parsed;
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

  void warn(const Value& value, std::string message) {
    warnings_.push_back(ConfigWarning{reader_.file(), value.line, value.key, std::move(message)});
  }

  // What the tier (core/tier.hpp) rules out, and what it makes pointless. Errors: a `cmek:`
  // section where CMEK is not available. Warnings: a source the tier has no use for (a `cluster:`
  // section on Standard or Basic), and custom rules naming certificate types that Cockroach Labs
  // manages on the tier (node, UI, tenant: only client certificates, their CA and the cluster CA
  // clients verify with are yours). The default rules are never warned about.
  void check_tier(const Fields& fields, const Config& config) {
    const TierFacts& tier = tier_facts(config.deployment.tier);
    const std::string on_tier = " on " + std::string(tier.title);
    if (const Value* v = find(fields, "cmek"); v != nullptr && !tier.cmek_available) {
      fail(*v, config.deployment.tier == Tier::self_hosted
                   ? "CMEK state comes from the CockroachDB Cloud API: set deployment.tier to "
                     "advanced or byoc (CMEK needs CockroachDB Cloud Advanced)"
                   : "CMEK is not available" + on_tier +
                         ": it needs CockroachDB Cloud Advanced; move the cluster to Advanced "
                         "or remove the cmek section");
    }
    if (const Value* v = find(fields, "cluster");
        v != nullptr && !tier_uses_source(tier, "cluster")) {
      warn(*v, "the cluster source is pointless" + on_tier +
                   ": node certificates are managed by Cockroach Labs and only client "
                   "certificates are yours (watch them with files)");
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

  void parse_cmek(const Value& value, CmekConfig& cmek) {
    const auto fields = map_of(
        value, {"api_url", "cluster_id", "api_key_file", "poll_interval", "timeout", "ca_file"});
    if (!fields) return;
    if (const Value* v = find(*fields, "api_url")) {
      if (const auto text = non_empty_string(*v)) set_api_url(*v, *text, cmek);
    }
    if (const Value* v = require(*fields, value, "cluster_id")) {
      // The id becomes a path segment: anything beyond a UUID's alphabet could reshape the URL.
      const auto text = non_empty_string(*v);
      if (text && (text->size() > 128 || !std::all_of(text->begin(), text->end(), [](char c) {
                     return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
                   }))) {
        fail(*v, "must be the cluster's id (letters, digits, - and _), got " + quote(*text));
      } else if (text) {
        cmek.cluster_id = *text;
      }
    }
    if (const Value* v = require(*fields, value, "api_key_file")) read_api_key_file(*v, cmek);
    if (const Value* v = find(*fields, "poll_interval")) {
      set_duration(*v, kPollIntervalRange, cmek.poll_interval);
    }
    if (const Value* v = find(*fields, "timeout")) set_duration(*v, kTimeoutRange, cmek.timeout);
    if (const Value* v = find(*fields, "ca_file")) {
      const auto text = non_empty_string(*v);
      if (text && check_path_kind(*v, resolve(*text))) cmek.ca_file = resolve(*text);
    }
  }

  // https://host[:port][/prefix]: nothing else, so the key never travels in clear text and the
  // URL cannot smuggle credentials, a query or a fragment.
  void set_api_url(const Value& value, const std::string& url, CmekConfig& cmek) {
    constexpr std::string_view kScheme = "https://";
    const auto bad = [&](std::string_view why) {
      fail(value,
           "must be an https:// URL with a host (" + std::string(why) + "), got " + quote(url));
    };
    if (!url.starts_with(kScheme)) return bad("only https is accepted");
    std::string_view rest = std::string_view(url).substr(kScheme.size());
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    while (path.ends_with('/')) path.remove_suffix(1);
    if (authority.find_first_of("@?#") != std::string_view::npos ||
        path.find_first_of("?#") != std::string_view::npos) {
      return bad("no user, query or fragment");
    }
    // The path goes into the request line as it is: RFC 3986 path characters only (unreserved,
    // sub-delims, ':', '@', '/' and %XX escapes), so no space, control character or CR LF can
    // end the line and inject a header.
    for (std::size_t i = 0; i < path.size(); ++i) {
      const char c = path[i];
      if (c == '%') {
        if (i + 2 >= path.size() || !std::isxdigit(static_cast<unsigned char>(path[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(path[i + 2]))) {
          return bad("a % in the path must start a %XX escape");
        }
        i += 2;
      } else if (!is_alpha(c) && !is_digit(c) &&
                 std::string_view("-._~!$&'()*+,;=:@/").find(c) == std::string_view::npos) {
        return bad("the path may hold only letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes");
      }
    }
    std::string_view port = "443";
    if (authority.starts_with('[')) {  // [v6]:port
      const std::size_t close = authority.find(']');
      if (close == std::string_view::npos) return bad("unterminated [IPv6] address");
      if (close + 1 < authority.size()) {
        if (authority[close + 1] != ':') return bad("junk after the [IPv6] address");
        port = authority.substr(close + 2);
      }
      authority = authority.substr(1, close - 1);
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    std::size_t pos = 0;
    const auto port_number = parse_digits(port, pos, 65535);
    if (!port_number || pos != port.size() || *port_number == 0) return bad("invalid port");
    if (!is_host_name_or_ip(authority) ||
        (authority.find(':') != std::string_view::npos && !url.starts_with("https://["))) {
      return bad("invalid host: a DNS name, an IPv4 address or a [bracketed] IPv6 address");
    }
    cmek.api_url = url;
    cmek.host = std::string(authority);
    cmek.port = std::to_string(*port_number);
    cmek.base_path = std::string(path);
  }

  // The key is read once, here: a reload picks up a new one. Its file must be private (0600 or
  // stricter); messages never quote its content.
  void read_api_key_file(const Value& value, CmekConfig& cmek) {
    auto file = read_named_file(value, kMaxApiKeyFileBytes);
    if (!file) return;
    const std::string& path = file->path;
    BoundedRead& read = file->read;
    if ((read.state.st_mode & 077) != 0) {  // the mode of the file that was read
      std::array<char, 8> mode{};
      std::snprintf(mode.data(), mode.size(), "%04o",
                    static_cast<unsigned>(read.state.st_mode & 07777));
      fail(value, "file " + quote(path) + " has mode " + mode.data() +
                      ": an API key file must be readable by its owner only (chmod 600)");
      return;
    }
    std::string key = trim_trailing_whitespace(std::move(read.content));
    // It goes into an Authorization header: a line break or a control byte would split it.
    if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) {
          return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
        })) {
      fail(value, "file " + quote(path) +
                      " must hold one API key: a single line of printable characters without "
                      "spaces (not shown)");
      return;
    }
    cmek.api_key = std::move(key);
    cmek.api_key_file = path;
  }

  // A path from the config, relative ones against the config file's directory.
  std::string resolve(const std::string& given) const {
    std::filesystem::path path(given);
    if (path.is_relative()) path = directory_ / path;
    return path.lexically_normal().string();
  }

  yaml_strict::Reader reader_;
  std::filesystem::path directory_;  // of the config file, for relative dsn_file paths
  std::vector<ConfigWarning> warnings_;
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

LoadResult parse_config(std::string_view yaml, const std::string& file) {
  Parser parser(file, std::filesystem::path(file).parent_path());
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

LoadResult load_config_file(const std::string& path) {
  const BoundedRead read = read_regular_file(path, kMaxConfigBytes);
  if (read.error) {
    LoadResult result;
    result.errors.push_back(
        ConfigError{path, 0, "", "cannot read config file: " + describe(*read.error)});
    return result;
  }
  return parse_config(read.content, path);
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
