#include "config/yaml_strict.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <unordered_map>
#include <vector>

namespace certwatch::config::yaml_strict {
namespace {

// Counts documents from parser events, and where the second one's content starts.
class DocumentProbe final : public YAML::EventHandler {
 public:
  int documents = 0;
  int second_document_line = 0;  // 1-based; 0 when unknown

  void OnDocumentStart(const YAML::Mark&) override { ++documents; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { content_at(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { content_at(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    content_at(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    content_at(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    content_at(mark);
  }
  void OnMapEnd() override {}

 private:
  void content_at(const YAML::Mark& mark) {
    if (documents == 2 && second_document_line == 0 && !mark.is_null()) {
      second_document_line = mark.line + 1;
    }
  }
};

}  // namespace

int line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string join_key(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index_key(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

const Value* find(const Fields& fields, std::string_view name) {
  const auto it = std::find_if(fields.begin(), fields.end(),
                               [&](const auto& field) { return field.first == name; });
  return it == fields.end() ? nullptr : &it->second;
}

namespace {

// Levenshtein distance, case-insensitive: `Certs_Dir` is as close to certs_dirs as certs_dir.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known key a typo most likely meant: within a third of its length (at least 1, at most 3)
// edits; nullopt when none is that close or two are equally close.
std::optional<std::string_view> closest_key(std::string_view name,
                                            std::span<const std::string_view> known) {
  if (name.size() > 64) return std::nullopt;  // a key that long is not a typo of ours
  const std::size_t limit = std::clamp<std::size_t>(name.size() / 3, 1, 3);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  bool tie = false;
  for (std::string_view candidate : known) {
    const std::size_t d = edit_distance(name, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
      tie = false;
    } else if (d == best_distance) {
      tie = true;
    }
  }
  return tie ? std::nullopt : best;
}

// The first line whose indentation holds a tab (YAML indents with spaces only); 0 when none.
// Tabs inside a value or a comment are fine.
int first_tab_indented_line(std::string_view yaml) {
  int line = 1;
  bool at_indent = true;
  bool tab = false;
  for (char c : yaml) {
    if (c == '\n') {
      ++line;
      at_indent = true;
      tab = false;
    } else if (!at_indent) {
      continue;
    } else if (c == '\t') {
      tab = true;
    } else if (c != ' ' && c != '\r') {
      if (tab && c != '#') return line;  // blank and comment lines may hold tabs
      at_indent = false;
    }
  }
  return 0;
}

// yaml-cpp's terse parser messages, said so that someone can fix the line.
std::string readable_yaml_error(const std::string& message) {
  if (message == "illegal map value") {
    return "invalid YAML: a value where none can start (a tab, a missing space after ':', or an "
           "unquoted ': ' inside a value; quote such values)";
  }
  if (message == "end of map not found" || message == "end of sequence not found") {
    return "invalid YAML: the indentation does not line up (every key of a map, and every '- ' "
           "of a list, must start in the same column)";
  }
  if (message.find("end of map flow not found") != std::string::npos ||
      message.find("end of sequence flow not found") != std::string::npos) {
    return "invalid YAML: a '{' or '[' is never closed";
  }
  if (message.find("unknown escape character") != std::string::npos) {
    return "invalid YAML: a backslash in a double-quoted value (use single quotes, or write each "
           "backslash twice)";
  }
  return "invalid YAML: " + message;
}

}  // namespace

void Reader::fail(int line, std::string key, std::string message) {
  errors_.push_back(ConfigError{file_, line, std::move(key), std::move(message)});
}

void Reader::fail(const Value& value, std::string message) {
  fail(value.line, value.key, std::move(message));
}

std::optional<Fields> Reader::map_of(const Value& value, std::span<const std::string_view> known) {
  if (value.node.IsNull()) return Fields{};
  if (!value.node.IsMap()) {
    fail(value, value.key.empty() ? "the top level must be a map of settings" : "must be a map");
    return std::nullopt;
  }
  Fields fields;
  // Each accepted key's line, so a duplicate is found in constant time (150k keys in one map
  // were 70 s of pairwise comparisons).
  std::unordered_map<std::string, int> lines;
  for (const auto& entry : value.node) {
    // Copies: yaml-cpp's iterator yields a temporary pair, and Node is a cheap handle.
    const YAML::Node key_node = entry.first;
    const YAML::Node value_node = entry.second;
    const int key_line = line_of(key_node);
    if (!key_node.IsScalar()) {
      fail(key_line, value.key, "keys must be strings");
      continue;
    }
    const std::string& name = key_node.Scalar();
    std::string key = join_key(value.key, name);
    if (const auto first = lines.find(name); first != lines.end()) {
      fail(key_line, key,
           "duplicate key (first set on line " + std::to_string(first->second) + ")");
      continue;
    }
    if (known.size() != 0 && std::find(known.begin(), known.end(), name) == known.end()) {
      const std::optional<std::string_view> hint = closest_key(name, known);
      fail(key_line, key,
           hint ? "unknown key (did you mean " + std::string(*hint) + "?)" : "unknown key");
      continue;
    }
    // Errors about a value point at its key's line: a block value starts on the next line, and
    // a null value carries the mark of whatever token follows it.
    lines.emplace(name, key_line);
    fields.emplace_back(name, Value{value_node, std::move(key), key_line});
  }
  return fields;
}

std::optional<YAML::Node> Reader::load(std::string_view yaml) {
  if (const int line = first_tab_indented_line(yaml); line != 0) {
    fail(line, "", "a tab in the indentation: YAML indents with spaces only");
    return std::nullopt;
  }
  try {
    // Two documents at most are looked at, then the first is loaded.
    std::istringstream stream{std::string(yaml)};
    YAML::Parser events(stream);
    DocumentProbe probe;
    for (int i = 0; i < 2 && events.HandleNextDocument(probe); ++i) {
    }
    if (probe.documents > 1) {
      fail(probe.second_document_line, "", "only one YAML document is allowed");
    }
    if (probe.documents == 0) return YAML::Node();
    return YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    fail(e.mark.is_null() ? 0 : e.mark.line + 1, "", readable_yaml_error(e.msg));
    return std::nullopt;
  }
}

std::vector<ConfigError> Reader::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
  return std::move(errors_);
}

std::optional<std::vector<Value>> Reader::list_of(const Value& value) {
  if (!value.node.IsSequence()) {
    fail(value, "must be a list");
    return std::nullopt;
  }
  std::vector<Value> items;
  std::size_t index = 0;
  for (const YAML::Node& item : value.node) {
    const int line = item.IsNull() ? value.line : line_of(item);
    items.push_back(Value{item, index_key(value.key, index), line});
    ++index;
  }
  return items;
}

std::optional<std::string> Reader::scalar_of(const Value& value, std::string_view what) {
  if (value.node.IsNull()) {
    fail(value, "missing value");
    return std::nullopt;
  }
  if (!value.node.IsScalar()) {
    fail(value, "must be " + std::string(what));
    return std::nullopt;
  }
  return value.node.Scalar();
}

std::optional<bool> Reader::bool_of(const Value& value) {
  if (value.node.IsScalar()) {
    const std::string& text = value.node.Scalar();
    if (text == "true") return true;
    if (text == "false") return false;
  }
  fail(value, "must be true or false");
  return std::nullopt;
}

}  // namespace certwatch::config::yaml_strict
