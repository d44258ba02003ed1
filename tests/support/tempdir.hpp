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

}  // namespace certwatch::testing
