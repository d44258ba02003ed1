// The file source: CockroachDB certs directories, mounted Kubernetes TLS Secrets and extra globs
// on local disk, the key file beside each leaf certificate (stat only, unless checks.key_match),
// and checks.denylist_file.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

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
  FileSource(config::FilesConfig files, std::chrono::seconds interval,
             rules::ChecksConfig checks = {});
  // The registry entry: one file source, always on (the top-level poll_interval).
  static void from_config(const config::Config& config, std::vector<std::shared_ptr<Source>>& out);

  std::chrono::seconds interval() const override { return interval_; }
  PollResult poll() override;
  // The certs directories, the TLS Secret directories, the directories of the extra globs (when
  // that part has no wildcard) and the denylist file's directory.
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

  // checks.key_match: a key is read again only when it or its certificate changed.
  struct KeyMatchMemo {
    FileIdentity key;
    FileIdentity certificate;
    std::optional<bool> matches;
  };
  // checks.denylist_file, read again only when it changed.
  struct CachedDenylist {
    FileIdentity key;
    std::vector<std::string> entries;
    std::optional<FileError> error;
    bool was_read = false;
  };

  void scan_file(const std::string& path, const NameClass& name_class,
                 std::map<std::string, CachedFile>& next, PollResult& out);
  // stat(2) of a key file (following symlinks, as CockroachDB does), never an open. nullopt when
  // the stat fails for another reason than absence (then nobody knows whether it is there).
  std::optional<KeyFile> stat_key(const std::string& path, CertType type, const std::string& user,
                                  struct stat& state);
  // The key beside a leaf certificate file, `entry` being what was read from it.
  void add_leaf_key(const std::string& cert_path, const NameClass& name_class,
                    const CachedFile& entry, std::map<std::string, KeyMatchMemo>& next_matches,
                    PollResult& out);
  std::optional<bool> match_key(const std::string& key_path, const struct stat& key_state,
                                const CachedFile& entry,
                                std::map<std::string, KeyMatchMemo>& next_matches);
  void read_denylist(PollResult& out);
  const std::string& user_name(uid_t uid);

  config::FilesConfig files_;
  std::chrono::seconds interval_;
  rules::ChecksConfig checks_;
  std::map<std::string, CachedFile> cache_;
  std::map<std::string, KeyMatchMemo> key_matches_;  // by key path
  std::optional<CachedDenylist> denylist_;
  // getpwuid_r may read /etc/passwd or ask a directory service: once per uid, not per poll.
  std::map<uid_t, std::string> user_names_;
  // The last poll's counts: the next poll reserves them, so its vectors are allocated once
  // instead of growing (and, past the allocator's mmap threshold, faulting in every page again)
  // step by step.
  std::size_t last_certificate_count_ = 0;
  std::size_t last_key_count_ = 0;
};

}  // namespace certwatch::sources
