// The file source: CockroachDB certs directories and extra globs on local disk.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "sources/source.hpp"

namespace certwatch::sources {

// CockroachDB's file naming (METRICS.md): "ca.crt" -> ca, "client.<user>.crt" -> client with
// the user, ... Returns nullopt for names that are not certificates (keys, hidden entries).
struct NameClass {
  CertType type = CertType::other;
  std::string user;
};
std::optional<NameClass> classify_cert_file_name(const std::string& name);

// Thread-safety: poll() from one thread at a time (it keeps a cache of unchanged files).
class FileSource final : public Source {
 public:
  FileSource(config::FilesConfig files, std::chrono::seconds interval);

  SourceKind kind() const override { return SourceKind::file; }
  std::chrono::seconds interval() const override { return interval_; }
  PollResult poll() override;

 private:
  // What identifies an unchanged file: re-read only when any of these differ. A symlink swap
  // (Kubernetes `..data`) changes the device/inode the path resolves to.
  struct FileKey {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    friend bool operator==(const FileKey&, const FileKey&) = default;
  };
  struct CachedFile {
    FileKey key;
    std::vector<CertObservation> certificates;
    std::optional<FileError> error;
    bool was_read = false;  // parsed from bytes: reusable while the key is unchanged
  };

  static FileKey key_of(const struct stat& st);
  void scan_file(const std::string& path, const NameClass& name_class,
                 std::map<std::string, CachedFile>& next, PollResult& out);

  config::FilesConfig files_;
  std::chrono::seconds interval_;
  std::map<std::string, CachedFile> cache_;
};

}  // namespace certwatch::sources
