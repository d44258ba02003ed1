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

PollResult FileSource::poll() {
  PollResult out;
  out.certificates.reserve(last_certificate_count_);
  out.keys.reserve(last_key_count_);
  std::map<std::string, CachedFile> next;
  std::map<std::string, KeyMatchMemo> next_matches;

  for (const std::string& dir : files_.certs_dirs) {
    std::optional<FileError> dir_error;
    for (const std::string& name : list_directory(dir, dir_error)) {
      if (auto name_class = classify_cert_file_name(name)) {
        const std::string path = join(dir, name);
        scan_file(path, *name_class, next, out);
        add_leaf_key(path, *name_class, next[path], next_matches, out);
      } else if (const auto ca_type = ca_key_type(name); ca_type && checks_.enabled) {
        struct stat state {};
        if (auto key = stat_key(join(dir, name), *ca_type, "", state); key && key->exists) {
          out.keys.push_back(std::move(*key));
        }
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
      const NameClass name_class{extra.cert_type, ""};
      scan_file(path, name_class, next, out);
      add_leaf_key(path, name_class, next[path], next_matches, out);
    }
    if (scanned == 0) {
      out.file_errors.push_back({extra.glob, FileErrorReason::not_found,
                                 "only .key files match, and those are never read"});
    }
  }
  // A TLS Secret's names are fixed: tls.crt is the configured leaf (its key tls.key, stat'ed
  // like any leaf key), ca.crt the CA the checks verify it against (found beside it by name).
  for (const config::TlsSecret& secret : files_.tls_secrets) {
    const NameClass leaf{secret.cert_type, secret.user};
    const std::string leaf_path = join(secret.path, "tls.crt");
    scan_file(leaf_path, leaf, next, out);
    add_leaf_key(leaf_path, leaf, next[leaf_path], next_matches, out);
    scan_file(join(secret.path, "ca.crt"), NameClass{CertType::ca, ""}, next, out);
  }
  cache_ = std::move(next);
  key_matches_ = std::move(next_matches);
  last_certificate_count_ = out.certificates.size();
  last_key_count_ = out.keys.size();
  read_denylist(out);
  return out;
}

std::optional<KeyFile> FileSource::stat_key(const std::string& path, CertType type,
                                            const std::string& user, struct stat& state) {
  KeyFile key;
  key.path = path;
  key.cert_type = type;
  key.user = user;
  if (::stat(path.c_str(), &state) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return key;
    return std::nullopt;
  }
  key.exists = true;
  key.mode = static_cast<std::uint32_t>(state.st_mode & 07777);
  key.uid = state.st_uid;
  key.gid = state.st_gid;
  key.owner = user_name(state.st_uid);
  return key;
}

void FileSource::add_leaf_key(const std::string& cert_path, const NameClass& name_class,
                              const CachedFile& entry,
                              std::map<std::string, KeyMatchMemo>& next_matches, PollResult& out) {
  // Only a file that held a certificate has a key worth checking; CA keys are found by name.
  // With the checks off nothing reads key facts: no stat either.
  if (!checks_.enabled || is_ca_type(name_class.type) || entry.certificates.empty()) return;
  const auto key_path = key_path_beside(cert_path);
  if (!key_path) return;
  // Stat'ed at every poll even when the certificate came from the cache: a chmod of the key
  // changes the key's ctime, not the certificate's.
  struct stat state {};
  auto key = stat_key(*key_path, name_class.type, name_class.user, state);
  if (!key) return;
  // A FIFO or a device is never opened, as for certificates: reading it could block or not end.
  if (checks_.key_match && key->exists && S_ISREG(state.st_mode)) {
    key->matches_certificate = match_key(*key_path, state, entry, next_matches);
  }
  out.keys.push_back(std::move(*key));
}

std::optional<bool> FileSource::match_key(const std::string& key_path, const struct stat& key_state,
                                          const CachedFile& entry,
                                          std::map<std::string, KeyMatchMemo>& next_matches) {
  const auto memo = key_matches_.find(key_path);
  if (memo != key_matches_.end() && memo->second.key == FileIdentity::of(key_state) &&
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
      x509::BundleResult parsed = x509::parse_pem_bundle(read.content);
      for (std::size_t i = 0; i < parsed.certificates.size(); ++i) {
        CertObservation cert;
        cert.id = {std::string(kSourceFile),          name_class.type, "", path,
                   std::to_string(parsed.indices[i]), name_class.user};
        cert.facts = std::make_shared<const CertificateFacts>(std::move(parsed.certificates[i]));
        cert.not_after = cert.facts->not_after;
        cert.not_before = cert.facts->not_before;
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
