#include "sources/file_source.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "core/read_file.hpp"
#include "x509/parse.hpp"

namespace certwatch::sources {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }
bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

// Private keys are never opened, whatever a glob matches: the daemon has no use for them, and
// the README promises operators that key material stays unread.
bool is_private_key_name(std::string_view path) { return ends_with(path, ".key"); }

// Kernel file timestamps come from a clock that ticks coarsely (a jiffy; 2 s on FAT): a file
// rewritten within one tick of our read, keeping its size, would keep its key. Files changed
// within this window before a read are not cached, as git treats "racily clean" index entries.
constexpr std::int64_t kRacyWindowNs = 1'000'000'000;

bool changed_recently(const struct stat& st) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const std::int64_t latest = std::max(nanoseconds(st.st_mtim), nanoseconds(st.st_ctim));
  // Both ways: a timestamp far in the future (a skewed copy, `touch -d`) was not set by a write
  // just now, and must not keep the file out of the cache for ever.
  const std::int64_t age = nanoseconds(now) - latest;
  return age > -kRacyWindowNs && age < kRacyWindowNs;
}

std::vector<std::string> list_directory(const std::string& dir, std::optional<FileError>& error) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), &::closedir);
  if (!handle) {
    error = errno_file_error(dir, errno, "opendir");
    return names;
  }
  errno = 0;
  while (const dirent* entry = ::readdir(handle.get())) {
    names.emplace_back(entry->d_name);
  }
  std::sort(names.begin(), names.end());
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

}  // namespace

std::optional<NameClass> classify_cert_file_name(const std::string& name) {
  // Hidden entries include Kubernetes' `..data` and `..2024_...` directories: the visible
  // symlinks point into them, so they would be counted twice.
  if (name.empty() || name.front() == '.' || !ends_with(name, ".crt")) return std::nullopt;
  const std::string stem = name.substr(0, name.size() - 4);
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
    return NameClass{CertType::client, stem.substr(7)};
  }
  return NameClass{CertType::other, ""};
}

FileSource::FileSource(config::FilesConfig files, std::chrono::seconds interval)
    : Source(std::string(kSourceFile)), files_(std::move(files)), interval_(interval) {}

void FileSource::from_config(const config::Config& config,
                             std::vector<std::shared_ptr<Source>>& out) {
  out.push_back(std::make_shared<FileSource>(config.files, config.poll_interval));
}

std::vector<std::string> FileSource::watched_directories() const {
  std::set<std::string> dirs(files_.certs_dirs.begin(), files_.certs_dirs.end());
  for (const config::ExtraFile& extra : files_.extra) {
    const std::string parent = std::filesystem::path(extra.glob).parent_path().string();
    if (parent.find_first_of("*?[") == std::string::npos) dirs.insert(parent);
  }
  return {dirs.begin(), dirs.end()};
}

bool FileSource::same_config(const Source& next) const {
  const auto* other = dynamic_cast<const FileSource*>(&next);
  return other != nullptr && other->files_ == files_ && other->interval_ == interval_;
}

PollResult FileSource::poll() {
  PollResult out;
  std::map<std::string, CachedFile> next;

  for (const std::string& dir : files_.certs_dirs) {
    std::optional<FileError> dir_error;
    for (const std::string& name : list_directory(dir, dir_error)) {
      if (auto name_class = classify_cert_file_name(name)) {
        scan_file(join(dir, name), *name_class, next, out);
      }
    }
    if (dir_error) out.file_errors.push_back(*dir_error);
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
      const std::string path = matches.gl_pathv[i];
      if (is_private_key_name(path)) continue;
      ++scanned;
      if (next.count(path) != 0) continue;  // also found in a certs directory
      scan_file(path, NameClass{extra.cert_type, ""}, next, out);
    }
    if (scanned == 0) {
      out.file_errors.push_back({extra.glob, FileErrorReason::not_found,
                                 "only .key files match, and those are never read"});
    }
  }
  cache_ = std::move(next);
  return out;
}

void FileSource::scan_file(const std::string& path, const NameClass& name_class,
                           std::map<std::string, CachedFile>& next, PollResult& out) {
  CachedFile entry;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    entry.error = errno_file_error(path, errno, "stat");
  } else if (!S_ISREG(st.st_mode)) {
    // Never open FIFOs, sockets, devices or directories: reading them could block or never end.
    entry.error = FileError{path, FileErrorReason::not_regular_file, "not a regular file"};
  } else {
    entry.key = FileIdentity::of(st);
    const auto cached = cache_.find(path);
    if (cached != cache_.end() && cached->second.key == entry.key && cached->second.was_read) {
      // The old cache is replaced when this poll ends, so its entry can move.
      entry = std::move(cached->second);
    } else if (BoundedRead read = read_regular_file(path, files_.max_file_bytes); read.error) {
      entry.error = std::move(read.error);
    } else {
      // The key is the state of the file that was read (the path may have been swapped since
      // the stat). A file that changed while being read, or so recently that a rewrite could
      // still share its timestamps, is read again at the next poll rather than trusted.
      entry.key = FileIdentity::of(read.state);
      entry.was_read = read.stable && !changed_recently(read.state);
      const x509::BundleResult parsed = x509::parse_pem_bundle(read.content);
      for (std::size_t i = 0; i < parsed.certificates.size(); ++i) {
        const CertificateFacts& facts = parsed.certificates[i];
        CertObservation cert;
        cert.id = {std::string(kSourceFile),          name_class.type, "", path,
                   std::to_string(parsed.indices[i]), name_class.user};
        cert.facts = facts;
        cert.not_after = facts.not_after;
        cert.not_before = facts.not_before;
        entry.certificates.push_back(std::move(cert));
      }
      if (parsed.error) {
        entry.error = FileError{path,
                                *parsed.error == x509::ParseError::no_certificate
                                    ? FileErrorReason::no_certificate
                                    : FileErrorReason::bad_pem,
                                parsed.detail};
      }
    }
  }
  out.certificates.insert(out.certificates.end(), entry.certificates.begin(),
                          entry.certificates.end());
  if (entry.error) out.file_errors.push_back(*entry.error);
  next[path] = std::move(entry);
}

}  // namespace certwatch::sources
