#pragma once

// Strict reading of a YAML document, shared by the daemon config and the web config: every error
// is collected (not just the first) with file, line and dotted key, and maps are checked for
// non-string, duplicate and unknown keys. yaml-cpp alone accepts duplicate keys silently and has
// no notion of "unknown", so both readers need exactly this, and must word it the same way.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace certwatch::config::yaml_strict {

// A node together with where it sits: its dotted key and the line errors about it point at.
struct Value {
  YAML::Node node;
  std::string key;
  int line = 0;
};

// The entries of a map in document order, each key once.
using Fields = std::vector<std::pair<std::string, Value>>;

// 1-based line of a node, 0 when yaml-cpp has no position for it.
int line_of(const YAML::Node& node);

// "parent.key", or "key" at the top level.
std::string join_key(const std::string& parent, std::string_view key);

// "parent[index]".
std::string index_key(const std::string& parent, std::size_t index);

const Value* find(const Fields& fields, std::string_view name);

// Collects errors for one file while a document is walked.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void fail(int line, std::string key, std::string message);
  void fail(const Value& value, std::string message);

  // The entries of a mapping, after reporting non-string, duplicate and unknown keys (an empty
  // `known` admits any key). A null value (`files:` with nothing under it) counts as an empty
  // map. nullopt, reported, when the value is not a map.
  std::optional<Fields> map_of(const Value& value, std::span<const std::string_view> known);
  std::optional<Fields> map_of(const Value& value, std::initializer_list<std::string_view> known) {
    return map_of(value, std::span<const std::string_view>(known.begin(), known.size()));
  }
  // The items of a sequence, each with its key ("parent[i]") and line. nullopt, reported
  // ("must be a list"), for anything else.
  std::optional<std::vector<Value>> list_of(const Value& value);
  // Any scalar as text; `what` names the expected kind ("a string", "a duration ..."). A null is
  // reported as a missing value. Messages never include the value.
  std::optional<std::string> scalar_of(const Value& value, std::string_view what);
  // `true` or `false`, nothing else.
  std::optional<bool> bool_of(const Value& value);

  // Parses `yaml` as exactly one document, without yaml-cpp's LoadAll (on some malformed input,
  // "--- \n,...\n!" found by fuzz/config_fuzz, yaml-cpp 0.7 yields empty documents without end
  // and LoadAll never returns). A second document or invalid YAML is reported; an empty text is
  // a null node. nullopt when there is nothing to walk.
  std::optional<YAML::Node> load(std::string_view yaml);

  std::vector<ConfigError>& errors() { return errors_; }
  // The errors, by line (entries sharing a line keep the order they were found in).
  std::vector<ConfigError> take_errors();
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

}  // namespace certwatch::config::yaml_strict
