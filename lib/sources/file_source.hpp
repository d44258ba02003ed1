// The file source: CockroachDB certs directories and extra globs on local disk.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/file_identity.hpp"
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
  // The registry entry: one file source, always on (the top-level poll_interval).
  static void from_config(const config::Config& config, std::vector<std::shared_ptr<Source>>& out);

  std::chrono::seconds interval() const override { return interval_; }
  PollResult poll() override;
  // The certs directories and the directories of the extra globs (when that part has no
  // wildcard).
  std::vector<std::string> watched_directories() const override;
  bool same_config(const Source& next) const override;

 private:
  // A file is re-read only when its identity changed.
  struct CachedFile {
    FileIdentity key;
    std::vector<CertObservation> certificates;
    std::optional<FileError> error;
    bool was_read = false;  // parsed from bytes: reusable while the key is unchanged
  };

  void scan_file(const std::string& path, const NameClass& name_class,
                 std::map<std::string, CachedFile>& next, PollResult& out);

  config::FilesConfig files_;
  std::chrono::seconds interval_;
  std::map<std::string, CachedFile> cache_;
};

}  // namespace certwatch::sources
