// Test-only: a temporary directory removed with everything in it when the object dies.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace certwatch::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/relative (creating parent dirs) with the given mode; returns the
  // absolute path.
  std::filesystem::path write(std::string_view relative, std::string_view content,
                              unsigned mode = 0644) const;

 private:
  std::filesystem::path path_;
};

// `text` as a single-quoted YAML scalar (quotes doubled), for paths and DSNs in the config files
// tests write.
inline std::string single_quoted_yaml(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace certwatch::testing
