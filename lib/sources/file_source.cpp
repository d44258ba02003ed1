#include "sources/file_source.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "core/parallel.hpp"
#include "core/read_file.hpp"
#include "core/text.hpp"
#include "x509/key_match.hpp"
#include "x509/parse.hpp"

namespace certwatch::sources {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }
bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

// Private keys are never read as certificates, whatever a glob matches: the README promises
// operators that key material stays unread (only the opt-in checks.key_match reads a key, the one
// beside a leaf certificate).
bool is_private_key_name(std::string_view path) { return ends_with(path, ".key"); }

// Kernel file timestamps come from a clock that ticks coarsely (a jiffy; 2 s on FAT): a file
// rewritten within one tick of our read, keeping its size, would keep its key. Files changed
// within this window before a read are not cached, as git treats "racily clean" index entries.
constexpr std::int64_t kRacyWindowNs = 1'000'000'000;

// A poll's files are scanned on up to this many threads, each with this many files at least.
constexpr std::size_t kScanThreads = 4;
constexpr std::size_t kFilesPerScanThread = 128;

bool changed_recently(const struct stat& st) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const std::int64_t latest = std::max(nanoseconds(st.st_mtim), nanoseconds(st.st_ctim));
  // Both ways: a timestamp far in the future (a skewed copy, `touch -d`) was not set by a write
  // just now, and must not keep the file out of the cache for ever.
  const std::int64_t age = nanoseconds(now) - latest;
  return age > -kRacyWindowNs && age < kRacyWindowNs;
}

// CA keys by file name. CockroachDB never loads them; a node host should not hold them at all.
std::optional<CertType> ca_key_type(std::string_view name) {
  static constexpr std::pair<std::string_view, CertType> kCaKeys[] = {
      {"ca.key", CertType::ca},
      {"ca-client.key", CertType::client_ca},
      {"ca-ui.key", CertType::ui_ca},
      {"ca-client-tenant.key", CertType::tenant_ca},
  };
  for (const auto& [key_name, type] : kCaKeys) {
    if (name == key_name) return type;
  }
  return std::nullopt;
}

struct Listed {
  std::string name;
  bool regular = false;  // d_type said a regular file; DT_UNKNOWN and symlinks say nothing
};

using DirHandle = std::unique_ptr<DIR, int (*)(DIR*)>;

// The directory's entries, sorted by name; `handle` stays open so its files can be opened
// relative to it (a one-component path walk each).
std::vector<Listed> list_directory(const std::string& dir, DirHandle& handle,
                                   std::optional<FileError>& error) {
  std::vector<Listed> names;
  handle.reset(::opendir(dir.c_str()));
  if (!handle) {
    error = errno_file_error(dir, errno, "opendir");
    return names;
  }
  errno = 0;
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string_view name = entry->d_name;
    // Only what a poll looks at is kept: certificate names and CA key names (the keys beside
    // leaves are found from their certificates).
    if (!name.ends_with(".crt") && !ca_key_type(name)) continue;
    names.push_back({std::string(name), entry->d_type == DT_REG});
  }
  std::sort(names.begin(), names.end(),
            [](const Listed& a, const Listed& b) { return a.name < b.name; });
  return names;
}

// glob() reports why it could not read a directory only through this callback, which takes no
// user data: the thread-local carries the errno back to the caller.
thread_local int glob_failure_errno = 0;

int on_glob_error(const char* /*path*/, int error) {
  // A missing directory on the way means nothing matches (not_found), not a failed read.
  if (error == ENOENT || error == ENOTDIR) return 0;
  glob_failure_errno = error;
  return 1;  // abort: an unreadable directory could hide matches
}

std::string join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// The key CockroachDB loads with a certificate: node.crt -> node.key, client.alice.crt ->
// client.alice.key. nullopt for a file not named *.crt, which has no key by name.
std::optional<std::string> key_path_beside(const std::string& cert_path) {
  if (!ends_with(cert_path, ".crt")) return std::nullopt;
  return cert_path.substr(0, cert_path.size() - 4) + ".key";
}

// The denylist file's entries, one a line; blank lines and `#` comments are skipped. The first
// invalid line makes the file's error, but every valid entry is kept: one typo must not stop the
// other compromised certificates from being reported.
void parse_denylist(const std::string& path, std::string_view text, std::vector<std::string>& out,
                    std::optional<FileError>& error) {
  std::size_t line_number = 0;
  std::size_t first_invalid = 0;
  std::size_t invalid = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = trim_whitespace(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    if (rules::parse_deny_entry(line)) {
      out.emplace_back(line);
    } else if (invalid++ == 0) {
      first_invalid = line_number;
    }
  }
  if (invalid == 0) return;
  std::string detail = "line " + std::to_string(first_invalid) +
                       ": not a denylist entry (a SHA-256 fingerprint, or serial:<hex> "
                       "issuer:<DN>)";
  if (invalid > 1) detail += "; " + std::to_string(invalid) + " invalid lines in all";
  error = FileError{path, FileErrorReason::read_error, std::move(detail)};
}

}  // namespace

std::optional<NameClass> classify_cert_file_name(const std::string& name) {
  // Hidden entries include Kubernetes' `..data` and `..2024_...` directories: the visible
  // symlinks point into them, so they would be counted twice.
  if (name.empty() || name.front() == '.' || !ends_with(name, ".crt")) return std::nullopt;
  const std::string_view stem = std::string_view(name).substr(0, name.size() - 4);
  static constexpr std::pair<std::string_view, CertType> kExact[] = {
      {"ca", CertType::ca},       {"ca-client", CertType::client_ca},
      {"ca-ui", CertType::ui_ca}, {"ca-client-tenant", CertType::tenant_ca},
      {"node", CertType::node},   {"client.node", CertType::node_client},
      {"ui", CertType::ui},
  };
  for (const auto& [exact, type] : kExact) {
    if (stem == exact) return NameClass{type, ""};
  }
  if (starts_with(stem, "client-tenant.") && stem.size() > 14) {
    return NameClass{CertType::tenant_client, ""};
  }
  if (starts_with(stem, "tenant-signing.") && stem.size() > 15) {
    return NameClass{CertType::tenant_signing, ""};
  }
  if (starts_with(stem, "client.") && stem.size() > 7) {
    return NameClass{CertType::client, std::string(stem.substr(7))};
  }
  return NameClass{CertType::other, ""};
}

FileSource::FileSource(config::FilesConfig files, std::chrono::seconds interval,
                       rules::ChecksConfig checks)
    : Source(std::string(kSourceFile)),
      files_(std::move(files)),
      interval_(interval),
      checks_(std::move(checks)) {}

void FileSource::from_config(const config::Config& config,
                             std::vector<std::shared_ptr<Source>>& out) {
  out.push_back(std::make_shared<FileSource>(config.files, config.poll_interval, config.checks));
}

std::vector<std::string> FileSource::watched_directories() const {
  std::set<std::string> dirs(files_.certs_dirs.begin(), files_.certs_dirs.end());
  // The kubelet swaps a Secret volume by renaming `..data` inside this directory.
  for (const config::TlsSecret& secret : files_.tls_secrets) dirs.insert(secret.path);
  for (const config::ExtraFile& extra : files_.extra) {
    const std::string parent = std::filesystem::path(extra.glob).parent_path().string();
    if (parent.find_first_of("*?[") == std::string::npos) dirs.insert(parent);
  }
  if (!checks_.denylist_file.empty()) {
    dirs.insert(std::filesystem::path(checks_.denylist_file).parent_path().string());
  }
  return {dirs.begin(), dirs.end()};
}

bool FileSource::same_config(const Source& next) const {
  const auto* other = dynamic_cast<const FileSource*>(&next);
  // Of the checks, only these change what a poll reads; a new severity keeps the cache.
  return other != nullptr && other->files_ == files_ && other->interval_ == interval_ &&
         other->checks_.enabled == checks_.enabled &&
         other->checks_.key_match == checks_.key_match &&
         other->checks_.denylist_file == checks_.denylist_file;
}

std::vector<FileSource::Job> FileSource::plan(std::vector<DirHandle>& dirs, PollResult& out) {
  std::vector<Job> jobs;
  jobs.reserve(last_job_count_);

  for (const std::string& dir : files_.certs_dirs) {
    std::optional<FileError> dir_error;
    DirHandle handle(nullptr, &::closedir);
    const std::vector<Listed> listed = list_directory(dir, handle, dir_error);
    const int dir_fd = handle ? ::dirfd(handle.get()) : AT_FDCWD;
    jobs.reserve(jobs.size() + listed.size());
    for (const Listed& entry : listed) {
      Job job;
      if (auto name_class = classify_cert_file_name(entry.name)) {
        job.name_class = std::move(*name_class);
      } else if (const auto ca_type = ca_key_type(entry.name); ca_type && checks_.enabled) {
        job.ca_key = ca_type;
      } else {
        continue;
      }
      job.path = join(dir, entry.name);
      job.dir_fd = dir_fd;
      job.name_offset = static_cast<std::uint32_t>(job.path.size() - entry.name.size());
      job.listed_regular = entry.regular;
      jobs.push_back(std::move(job));
    }
    if (dir_error) out.file_errors.push_back(*dir_error);
    if (handle) dirs.push_back(std::move(handle));
  }

  for (const config::ExtraFile& extra : files_.extra) {
    glob_t matches{};
    glob_failure_errno = 0;
    const int rc = ::glob(extra.glob.c_str(), 0, &on_glob_error, &matches);
    std::unique_ptr<glob_t, void (*)(glob_t*)> guard(&matches, &::globfree);
    if (rc == GLOB_NOMATCH) {
      out.file_errors.push_back({extra.glob, FileErrorReason::not_found, "no file matches"});
      continue;
    }
    if (rc == GLOB_ABORTED && glob_failure_errno != 0) {
      out.file_errors.push_back(errno_file_error(extra.glob, glob_failure_errno, "glob"));
      continue;
    }
    if (rc != 0) {
      out.file_errors.push_back({extra.glob, FileErrorReason::read_error, "glob failed"});
      continue;
    }
    std::size_t scanned = 0;
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) {
      std::string path = matches.gl_pathv[i];
      if (is_private_key_name(path)) continue;
      ++scanned;
      Job job;
      job.name_class = NameClass{extra.cert_type, ""};
      job.dir_fd = AT_FDCWD;
      job.path = std::move(path);
      jobs.push_back(std::move(job));
    }
    if (scanned == 0) {
      out.file_errors.push_back({extra.glob, FileErrorReason::not_found,
                                 "only .key files match, and those are never read"});
    }
  }
  // A TLS Secret's names are fixed: tls.crt is the configured leaf (its key tls.key, stat'ed
  // like any leaf key), ca.crt the CA the checks verify it against (found beside it by name).
  for (const config::TlsSecret& secret : files_.tls_secrets) {
    Job leaf;
    leaf.name_class = NameClass{secret.cert_type, secret.user};
    leaf.path = join(secret.path, "tls.crt");
    leaf.dir_fd = AT_FDCWD;
    jobs.push_back(std::move(leaf));
    Job ca;
    ca.name_class = NameClass{CertType::ca, ""};
    ca.path = join(secret.path, "ca.crt");
    ca.dir_fd = AT_FDCWD;
    ca.with_key = false;
    jobs.push_back(std::move(ca));
  }

  // Each path (a certificate, a CA key) is looked at once, by the first part of the config that
  // names it (a directory listed twice, a glob matching a certs directory's file).
  std::vector<std::size_t> order(jobs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return jobs[a].path < jobs[b].path; });
  std::vector<bool> duplicate(jobs.size(), false);
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (jobs[order[i]].path == jobs[order[i - 1]].path) duplicate[order[i]] = true;
  }
  if (std::find(duplicate.begin(), duplicate.end(), true) != duplicate.end()) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (duplicate[i]) continue;
      if (kept != i) jobs[kept] = std::move(jobs[i]);
      ++kept;
    }
    jobs.resize(kept);
  }
  return jobs;
}

PollResult FileSource::poll() {
  PollResult out;
  std::vector<DirHandle> dirs;
  std::vector<Job> jobs = plan(dirs, out);
  // A cold poll of thousands of files is system calls and parsing that spread over the cores, and
  // its wall time is how long the daemon starts without data.
  parallel_for(jobs.size(), kFilesPerScanThread, kScanThreads,
               [&](std::size_t i) { scan(jobs[i]); });

  // Sized once, exactly: grown step by step, a vector of thousands of observations would be
  // copied and (past the allocator's mmap threshold) faulted in again at every step.
  std::size_t certificates = 0;
  std::size_t keys = 0;
  for (const Job& job : jobs) {
    certificates += entry_of(job).certificates.size();
    keys += job.key_stated ? 1 : 0;
  }
  out.certificates.reserve(certificates);
  out.keys.reserve(keys);
  Cache next;
  next.reserve(jobs.size());
  std::map<std::string, KeyMatchMemo> next_matches;
  for (Job& job : jobs) {
    if (job.ca_key) {
      if (auto key = key_file(job, job.path, *job.ca_key, ""); key && key->exists) {
        out.keys.push_back(std::move(*key));
      }
      continue;
    }
    // The old cache is replaced when this poll ends, and each path has one job: its entry can
    // move (scan, being const, only pointed at it).
    CachedFile& entry = job.reused != nullptr ? const_cast<CachedFile&>(*job.reused) : job.entry;
    out.certificates.insert(out.certificates.end(), entry.certificates.begin(),
                            entry.certificates.end());
    if (entry.error) out.file_errors.push_back(*entry.error);
    add_leaf_key(job, entry, next_matches, out);
    next.emplace_back(std::move(job.path), std::move(entry));
  }
  // Jobs come in path order within each directory; several directories, globs or Secrets may
  // interleave.
  const auto by_path = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!std::is_sorted(next.begin(), next.end(), by_path)) {
    std::sort(next.begin(), next.end(), by_path);
  }
  cache_ = std::move(next);
  key_matches_ = std::move(next_matches);
  last_job_count_ = jobs.size();
  read_denylist(out);
  return out;
}

const FileSource::CachedFile& FileSource::entry_of(const Job& job) {
  return job.reused != nullptr ? *job.reused : job.entry;
}

const FileSource::CachedFile* FileSource::cached(const std::string& path) const {
  const auto found =
      std::lower_bound(cache_.begin(), cache_.end(), path,
                       [](const auto& entry, const std::string& key) { return entry.first < key; });
  if (found == cache_.end() || found->first != path) return nullptr;
  return &found->second;
}

void FileSource::scan(Job& job) const {
  if (!job.ca_key) {
    CachedFile& entry = job.entry;
    const CachedFile* const previous = cached(job.path);
    const bool known = previous != nullptr && previous->was_read;
    std::optional<BoundedRead> read;
    if (!known && job.listed_regular) {
      // A regular file as listed and not in the cache: opened at once, never following a
      // symlink, so nothing but a file of this directory is opened; the fstat before the first
      // read still refuses anything that took its place since the listing. A symlink swapped
      // in (ELOOP) is looked at as any other path below.
      read =
          read_regular_file_at(job.dir_fd, job.name(), job.path, files_.max_file_bytes, O_NOFOLLOW);
      if (read->error && read->error->reason == FileErrorReason::read_error) read.reset();
    }
    if (!read) {
      // Everything else is stat'ed first, and opened only when it is a regular file: a FIFO,
      // a socket, a device or a directory is never opened (reading could block or never end).
      struct stat st {};
      if (::fstatat(job.dir_fd, job.name(), &st, 0) != 0) {
        entry.error = errno_file_error(job.path, errno, "stat");
      } else if (!S_ISREG(st.st_mode)) {
        entry.error = FileError{job.path, FileErrorReason::not_regular_file, "not a regular file"};
      } else if (known && previous->key == FileIdentity::of(st)) {
        job.reused = previous;
      } else {
        // A certificate name may link to anything, a private key too (tls.crt -> tls.key):
        // the file it resolves to is named before it is opened, and a key is never opened.
        read =
            read_regular_file_vetted(job.dir_fd, job.name(), job.path, files_.max_file_bytes,
                                     [&](const std::string& resolved) -> std::optional<FileError> {
                                       if (!is_private_key_name(resolved)) return std::nullopt;
                                       return FileError{job.path, FileErrorReason::not_regular_file,
                                                        "links to the private key " + resolved +
                                                            ", and keys are never opened"};
                                     });
      }
    }
    if (read && read->error) {
      entry.error = std::move(read->error);
    } else if (read) {
      // The key is the state of the file that was read (the path may have been swapped since
      // the stat). A file that changed while being read, or so recently that a rewrite could
      // still share its timestamps, is read again at the next poll rather than trusted.
      entry.key = FileIdentity::of(read->state);
      entry.was_read = read->stable && !changed_recently(read->state);
      x509::BundleResult parsed =
          x509::parse_pem_bundle(read->content, {.keep_der = checks_.enabled});
      entry.certificates.reserve(parsed.certificates.size());
      for (std::size_t i = 0; i < parsed.certificates.size(); ++i) {
        CertObservation cert;
        cert.id = {std::string(kSourceFile),          job.name_class.type, "", job.path,
                   std::to_string(parsed.indices[i]), job.name_class.user};
        cert.facts = std::make_shared<const CertificateFacts>(std::move(parsed.certificates[i]));
        cert.not_after = cert.facts->not_after;
        cert.not_before = cert.facts->not_before;
        entry.certificates.push_back(std::move(cert));
      }
      if (parsed.error) {
        entry.error = FileError{job.path,
                                *parsed.error == x509::ParseError::no_certificate
                                    ? FileErrorReason::no_certificate
                                    : FileErrorReason::bad_pem,
                                parsed.detail};
      }
    }
  }
  // The key: a CA key found by name, or the one beside a leaf that held a certificate. With the
  // checks off nothing reads key facts: no stat either. Stat'ed at every poll even when the
  // certificate came from the cache: a chmod of the key changes the key's ctime, not the
  // certificate's.
  const CachedFile& entry = entry_of(job);
  if (!checks_.enabled) return;
  std::string key_name;
  if (job.ca_key) {
    key_name = job.name();
  } else if (job.with_key && !is_ca_type(job.name_class.type) && !entry.certificates.empty()) {
    const auto beside = key_path_beside(job.name());
    if (!beside) return;
    key_name = *beside;
  } else {
    return;
  }
  job.key_stated = true;
  struct stat state {};
  if (::fstatat(job.dir_fd, key_name.c_str(), &state, 0) != 0) {
    job.key_errno = errno;
    return;
  }
  job.key_mode = state.st_mode;
  job.key_uid = state.st_uid;
  job.key_gid = state.st_gid;
  job.key_identity = FileIdentity::of(state);
}

std::optional<KeyFile> FileSource::key_file(const Job& job, const std::string& path, CertType type,
                                            const std::string& user) {
  KeyFile key;
  key.path = path;
  key.cert_type = type;
  key.user = user;
  if (job.key_errno != 0) {
    if (job.key_errno == ENOENT || job.key_errno == ENOTDIR) return key;
    return std::nullopt;
  }
  key.exists = true;
  key.mode = job.key_mode & 07777;
  key.uid = job.key_uid;
  key.gid = job.key_gid;
  key.owner = user_name(job.key_uid);
  return key;
}

void FileSource::add_leaf_key(const Job& job, const CachedFile& entry,
                              std::map<std::string, KeyMatchMemo>& next_matches, PollResult& out) {
  // Only a file that held a certificate has a key worth checking (scan stat'ed it then); CA keys
  // are found by name.
  if (!job.key_stated) return;
  const std::string key_path = *key_path_beside(job.path);
  auto key = key_file(job, key_path, job.name_class.type, job.name_class.user);
  if (!key) return;
  // A FIFO or a device is never opened, as for certificates: reading it could block or not end.
  if (checks_.key_match && key->exists && S_ISREG(job.key_mode)) {
    key->matches_certificate = match_key(key_path, job.key_identity, entry, next_matches);
  }
  out.keys.push_back(std::move(*key));
}

std::optional<bool> FileSource::match_key(const std::string& key_path,
                                          const FileIdentity& key_identity, const CachedFile& entry,
                                          std::map<std::string, KeyMatchMemo>& next_matches) {
  const auto memo = key_matches_.find(key_path);
  if (memo != key_matches_.end() && memo->second.key == key_identity &&
      memo->second.certificate == entry.key) {
    next_matches[key_path] = memo->second;
    return memo->second.matches;
  }
  const auto& facts = entry.certificates.front().facts;
  if (!facts) return std::nullopt;
  BoundedRead read = read_regular_file(key_path, files_.max_file_bytes);
  if (read.error) return std::nullopt;
  const std::optional<bool> matches = x509::key_matches(facts->der, read.content);
  // The key's bytes are not needed any more: wipe them before the buffer goes back to the heap.
  ::explicit_bzero(read.content.data(), read.content.size());
  // As for certificates: a pair changed while or just before it was read is read again.
  if (read.stable && !changed_recently(read.state) && entry.was_read) {
    next_matches[key_path] = KeyMatchMemo{FileIdentity::of(read.state), entry.key, matches};
  }
  return matches;
}

void FileSource::read_denylist(PollResult& out) {
  const std::string& path = checks_.denylist_file;
  if (path.empty()) return;
  const auto identity = FileIdentity::of_path(path);
  if (!denylist_ || !denylist_->was_read || !identity || denylist_->key != *identity) {
    CachedDenylist next;
    if (BoundedRead read = read_regular_file(path, files_.max_file_bytes); read.error) {
      next.error = std::move(read.error);
    } else {
      next.key = FileIdentity::of(read.state);
      next.was_read = read.stable && !changed_recently(read.state);
      parse_denylist(path, read.content, next.entries, next.error);
    }
    denylist_ = std::move(next);
  }
  out.denylist = denylist_->entries;
  if (denylist_->error) out.file_errors.push_back(*denylist_->error);
}

const std::string& FileSource::user_name(uid_t uid) {
  const auto known = user_names_.find(uid);
  if (known != user_names_.end()) return known->second;
  std::string name;
  std::vector<char> buffer(4096);
  passwd entry{};
  passwd* found = nullptr;
  int rc = 0;
  // ERANGE: the entry does not fit; a bigger buffer, up to a bound a real entry never needs.
  while ((rc = ::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found)) == ERANGE &&
         buffer.size() < 1024 * 1024) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc == 0 && found != nullptr) name = found->pw_name;
  return user_names_.emplace(uid, std::move(name)).first->second;
}

}  // namespace certwatch::sources
