// The file source: CockroachDB certs directories, mounted Kubernetes TLS Secrets and extra globs
// on local disk, the key file beside each leaf certificate (stat only, unless checks.key_match),
// and checks.denylist_file.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/file_identity.hpp"
#include "sources/source.hpp"

namespace certwatch::sources {

// CockroachDB's file naming (docs/metrics.md): "ca.crt" -> ca, "client.<user>.crt" -> client with
// the user, ... Returns nullopt for names that are not certificates (keys, hidden entries).
struct NameClass {
  CertType type = CertType::other;
  std::string user;
};
std::optional<NameClass> classify_cert_file_name(const std::string& name);

// Thread-safety: poll() from one thread at a time (it keeps a cache of unchanged files). A poll
// with many files shares their stat, read and parse among up to four threads of its own, and
// reports them as one thread would have, in the same order.
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

  // One certificate file a poll looks at (or a CA key file, stat'ed only), in the order its
  // results are reported. The scan fills in the second half, on any thread.
  struct Job {
    std::string path;
    // Where to open it: path + name_offset (its name) in the open directory dir_fd, or the whole
    // path (offset 0, AT_FDCWD).
    int dir_fd = -1;
    std::uint32_t name_offset = 0;
    bool listed_regular = false;     // the directory listing said a regular file (not a symlink)
    bool with_key = true;            // the key beside it belongs to it (not a Secret's ca.crt)
    bool key_stated = false;         // scan stat'ed its key: key_errno, key_identity, key_mode...
    std::optional<CertType> ca_key;  // a CA key found by name: only stat'ed
    NameClass name_class;

    CachedFile entry;
    const CachedFile* reused = nullptr;  // the cache entry still valid for it, instead of entry
    // The key's stat(2), following symlinks as CockroachDB does: 0 or its errno, and what
    // KeyFile and the key_match memo need of it.
    int key_errno = 0;
    std::uint32_t key_mode = 0;  // st_mode, type bits included
    std::uint32_t key_uid = 0;
    std::uint32_t key_gid = 0;
    FileIdentity key_identity;

    const char* name() const { return path.c_str() + name_offset; }
  };

  // What a poll must look at, in report order; each path once. `dirs` keeps the listed
  // directories open for the scan.
  std::vector<Job> plan(std::vector<std::unique_ptr<DIR, int (*)(DIR*)>>& dirs, PollResult& out);
  // What a scanned job found: its new entry, or the cache's.
  static const CachedFile& entry_of(const Job& job);
  // The last poll's entry for `path`, or null.
  const CachedFile* cached(const std::string& path) const;
  // Stat, read and parse one job's file and stat its key: reads the cache, changes nothing
  // shared, so jobs run on several threads at once.
  void scan(Job& job) const;
  // A key file's facts from its stat; nullopt when the stat failed for another reason than
  // absence (then nobody knows whether it is there).
  std::optional<KeyFile> key_file(const Job& job, const std::string& path, CertType type,
                                  const std::string& user);
  // The key beside a leaf certificate file, `entry` being what was read from it.
  void add_leaf_key(const Job& job, const CachedFile& entry,
                    std::map<std::string, KeyMatchMemo>& next_matches, PollResult& out);
  std::optional<bool> match_key(const std::string& key_path, const FileIdentity& key_identity,
                                const CachedFile& entry,
                                std::map<std::string, KeyMatchMemo>& next_matches);
  void read_denylist(PollResult& out);
  const std::string& user_name(uid_t uid);

  config::FilesConfig files_;
  std::chrono::seconds interval_;
  rules::ChecksConfig checks_;
  // The files of the last poll, sorted by path (a vector: one allocation, not one a file).
  using Cache = std::vector<std::pair<std::string, CachedFile>>;
  Cache cache_;
  std::map<std::string, KeyMatchMemo> key_matches_;  // by key path
  std::optional<CachedDenylist> denylist_;
  // getpwuid_r may read /etc/passwd or ask a directory service: once per uid, not per poll.
  std::map<uid_t, std::string> user_names_;
  // The last poll's number of jobs: the next poll's plan reserves it.
  std::size_t last_job_count_ = 0;
};

}  // namespace certwatch::sources
