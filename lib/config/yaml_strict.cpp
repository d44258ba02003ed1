#include "config/yaml_strict.hpp"

#include <algorithm>

namespace certwatch::config::yaml_strict {

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

void Reader::fail(int line, std::string key, std::string message) {
  errors_.push_back(ConfigError{file_, line, std::move(key), std::move(message)});
}

void Reader::fail(const Value& value, std::string message) {
  fail(value.line, value.key, std::move(message));
}

std::optional<Fields> Reader::map_of(const Value& value,
                                     std::initializer_list<std::string_view> known) {
  if (value.node.IsNull()) return Fields{};
  if (!value.node.IsMap()) {
    fail(value, value.key.empty() ? "the top level must be a map of settings" : "must be a map");
    return std::nullopt;
  }
  Fields fields;
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
    if (const Value* first = find(fields, name)) {
      fail(key_line, key, "duplicate key (first set on line " + std::to_string(first->line) + ")");
      continue;
    }
    if (known.size() != 0 && std::find(known.begin(), known.end(), name) == known.end()) {
      fail(key_line, key, "unknown key");
      continue;
    }
    // Errors about a value point at its key's line: a block value starts on the next line, and
    // a null value carries the mark of whatever token follows it.
    fields.emplace_back(name, Value{value_node, std::move(key), key_line});
  }
  return fields;
}

}  // namespace certwatch::config::yaml_strict
