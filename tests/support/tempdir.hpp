// Test-only: a temporary directory removed with everything in it when the object dies.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

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

// One file of a Kubernetes Secret volume: its name, content and mode.
struct SecretFile {
  std::string name;
  std::string content;
  unsigned mode = 0644;
};

// Publishes `files` as version `version` (e.g. "..2026_01") of the Secret volume at
// tmp.path()/dir, as the kubelet lays it out: the files in the version's directory, `..data` a
// symlink to it, each visible name a symlink through `..data`. A later version swaps `..data` by
// renaming a new link over it (the atomic update) and removes the old version. Returns the volume
// directory.
std::filesystem::path publish_secret_volume(const TempDir& tmp, std::string_view dir,
                                            std::string_view version,
                                            const std::vector<SecretFile>& files);

}  // namespace certwatch::testing
