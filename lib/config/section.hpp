// What every section of the daemon config is parsed with: the shared parser (errors and warnings
// with file, line and key, over yaml_strict's reader) and the value helpers (durations, paths,
// files read at load), so the top level (config.cpp) and each source's own section
// (sources/*_config.cpp) word their errors alike. A source's section is a SourceSection, carried by
// its registry entry (sources/registry.hpp).
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/yaml_strict.hpp"
#include "core/names.hpp"
#include "core/read_file.hpp"
#include "core/tier.hpp"

namespace certwatch::config {

// The closed range a configured duration must fall in. Every bound keeps the value far from what
// a timer's nanosecond count (int64: 292 years) or `now + below` can hold, so no later conversion
// can overflow; config/config.example.yaml and the README say why each range is what it is.
struct DurationRange {
  seconds min;
  seconds max;
};
inline constexpr seconds kDay{24 * 3600};
// Under a second is a busy loop on the disk or the database; a week is slower than any rotation
// schedule needs.
inline constexpr DurationRange kPollIntervalRange{seconds{1}, 7 * kDay};
// Under a second fails on any real network; past ten minutes a hung cluster silences the source
// for longer than its alert waits.
inline constexpr DurationRange kTimeoutRange{seconds{1}, seconds{600}};

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_alpha(char c) { return is_lower(c) || (c >= 'A' && c <= 'Z'); }

// Accumulates decimal digits from text[pos]; nullopt on overflow or when there are none.
std::optional<std::uint64_t> parse_digits(std::string_view text, std::size_t& pos,
                                          std::uint64_t max);

// A user-supplied (non-secret) value for an error message: quoted, bounded, printable.
std::string quote(std::string_view text);

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

std::string cert_type_list();
std::string trim_trailing_whitespace(std::string text);
std::string range_text(const DurationRange& range);

// Sizes in bytes: "1500", "1500B", "64KiB", "16MiB", "1GiB".
struct SizeRange {
  std::uint64_t min;
  std::uint64_t max;
};
std::optional<std::uint64_t> parse_size(std::string_view text);
// The largest unit that spells the size exactly (64MiB, 1KiB, 1500B).
std::string format_size(std::uint64_t bytes);
std::string range_text(const SizeRange& range);

using yaml_strict::index_key;
using yaml_strict::join_key;
using yaml_strict::line_of;
using yaml_strict::Value;

// Sorted by key, so entries that share a line (a flow map) are visited, and reported, in key order.
using Fields = std::map<std::string, Value, std::less<>>;

// What a walk over one config file collects: its errors (in the reader), its warnings, and the
// directory relative paths are resolved against.
struct ParseState {
  yaml_strict::Reader reader;
  std::filesystem::path directory;  // of the config file, for relative dsn_file paths
  std::vector<ConfigWarning> warnings;
};

// The helpers every section's parser uses, over one ParseState: a source's parser derives from
// it (constructed from the SectionParser it is handed) and so reports into the same file's lists.
class SectionParser {
 public:
  explicit SectionParser(ParseState& state)
      : state_(state),
        reader_(state.reader),
        directory_(state.directory),
        warnings_(state.warnings) {}
  ParseState& state() const { return state_; }

  void fail(int line, std::string key, std::string message) {
    reader_.fail(line, std::move(key), std::move(message));
  }
  void fail(const Value& value, std::string message) { reader_.fail(value, std::move(message)); }

  static const Value* find(const Fields& fields, std::string_view key) {
    const auto it = fields.find(key);
    return it == fields.end() ? nullptr : &it->second;
  }

  // The checked entries of a mapping (see yaml_strict::Reader::map_of), by key.
  std::optional<Fields> map_of(const Value& value, std::span<const std::string_view> known) {
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
  std::optional<Fields> map_of(const Value& value, std::initializer_list<std::string_view> known) {
    return map_of(value, std::span<const std::string_view>(known.begin(), known.size()));
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

  void set_bool(const Value& value, bool& out) {
    if (const auto parsed = reader_.bool_of(value)) out = *parsed;
  }

  // A TCP port, 1-65535 ("must be a port number 1-65535, got ..."); nullopt after an error.
  std::optional<int> port_of(const Value& value) {
    const auto text = scalar_of(value, "a port number");
    const auto port = text ? split_host_port("x:" + *text) : std::nullopt;
    if (text && !port) fail(value, "must be a port number 1-65535, got " + quote(*text));
    if (!port) return std::nullopt;
    return port->port;
  }

  // A decimal integer in [min, max], digits only, no sign, no leading spaces; an absurd length is
  // refused before it is converted ("must be an integer 1-64, got ...").
  void set_int(const Value& value, int min, int max, int& out) {
    const std::string range = std::to_string(min) + "-" + std::to_string(max);
    const auto text = scalar_of(value, "an integer " + range);
    int n = 0;
    const bool ok = text && !text->empty() && text->size() <= std::to_string(max).size() &&
                    std::all_of(text->begin(), text->end(), is_digit) &&
                    (n = std::stoi(*text)) >= min && n <= max;
    if (text && !ok) fail(value, "must be an integer " + range + ", got " + quote(*text));
    if (ok) out = n;
  }

  void warn(const Value& value, std::string message) {
    warnings_.push_back(ConfigWarning{reader_.file(), value.line, value.key, std::move(message)});
  }

  // A path from the config, relative ones against the config file's directory.
  std::string resolve(const std::string& given) const {
    std::filesystem::path path(given);
    if (path.is_relative()) path = directory_ / path;
    return path.lexically_normal().string();
  }

 protected:
  ParseState& state_;
  yaml_strict::Reader& reader_;
  const std::filesystem::path& directory_;
  std::vector<ConfigWarning>& warnings_;
};

// A source's config section: its name, its parser (which stores what it parsed in the Config),
// and the tiers it fits.
struct SourceSection {
  std::string_view name;  // the top-level key: "probe"
  void (*parse)(const SectionParser& parser, const Value& value, Config& config) = nullptr;
  // The deployment tiers the source makes sense on (core/tier.hpp).
  std::vector<Tier> tiers;
  // On another tier: what to say, and whether it is an error (the source cannot work there) or a
  // warning (it works but is pointless).
  std::string (*misfit)(const TierFacts& tier) = nullptr;
  bool misfit_is_error = false;
};

// parse_config over the given sources' sections (config.hpp's parse_config takes the built-in
// sources', sources::Registry::builtin()).
LoadResult parse_config(std::string_view yaml, const std::string& file,
                        std::span<const SourceSection> sections);
LoadResult load_config_file(const std::string& path, std::span<const SourceSection> sections);

}  // namespace certwatch::config
