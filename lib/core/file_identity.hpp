// "Has this file changed?": the identity and state of a file as stat(2) sees it. A rewrite
// changes size or mtime, a chmod/chown the ctime, a rename or symlink swap (Kubernetes `..data`)
// the device/inode the path resolves to.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

namespace certwatch {

// A file timestamp in nanoseconds since the epoch.
std::int64_t nanoseconds(const timespec& t);

struct FileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;

  static FileIdentity of(const struct stat& st);
  // stat(2) of `path` (following symlinks); nullopt when it cannot be stat'ed.
  static std::optional<FileIdentity> of_path(const std::string& path);

  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

}  // namespace certwatch
