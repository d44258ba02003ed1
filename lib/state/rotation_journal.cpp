#include "state/rotation_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/read_file.hpp"
#include "core/text.hpp"

namespace certwatch::state {
namespace {

using nlohmann::json;

json optional_number(const std::optional<std::int64_t>& value) {
  return value ? json(*value) : json(nullptr);
}

json optional_text(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

std::optional<std::int64_t> number_of(const json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;
}

std::string text_of(const json& line, const char* key) {
  const auto it = line.find(key);
  return it != line.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<RotationEvent> event_of(std::string_view text) {
  const json line = json::parse(text, nullptr, false);
  if (!line.is_object()) return std::nullopt;
  RotationEvent event;
  const auto kind = rotation_kind_from_string(text_of(line, "event"));
  const auto time = line.find("time");
  const auto type = cert_type_from_string(text_of(line, "cert_type"));
  if (!kind || time == line.end() || !time->is_number() || !type) return std::nullopt;
  event.kind = *kind;
  event.time = time->get<double>();
  if (!std::isfinite(event.time)) return std::nullopt;
  event.id.source = text_of(line, "source");
  if (event.id.source.empty()) return std::nullopt;
  event.id.cert_type = *type;
  event.id.node_id = text_of(line, "node_id");
  event.id.path = text_of(line, "path");
  event.id.index = text_of(line, "index");
  event.id.user = text_of(line, "user");
  event.old_fingerprint = text_of(line, "old_fingerprint");
  event.new_fingerprint = text_of(line, "new_fingerprint");
  if (const auto it = line.find("old_not_after"); it != line.end()) {
    event.old_not_after = number_of(*it);
  }
  if (const auto it = line.find("not_after"); it != line.end()) event.not_after = number_of(*it);
  event.subject_cn = text_of(line, "subject_cn");
  return event;
}

// Closes on scope exit.
struct OwnedFd {
  int fd = -1;
  explicit OwnedFd(int value) : fd(value) {}
  ~OwnedFd() {
    if (fd >= 0) ::close(fd);
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
};

std::optional<FileError> write_all(int fd, std::string_view text, const std::string& path) {
  for (std::size_t written = 0; written < text.size();) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_file_error(path, errno, "write");
    written += static_cast<std::size_t>(n);
  }
  return std::nullopt;
}

// Drops the entries older than the keep period (and lines that are no entry) when the file is
// past the bound.
std::optional<FileError> compact(const std::string& path, double now) {
  JournalRead read = read_journal(path);
  if (read.error) return read.error;
  std::string kept;
  for (const RotationEvent& event : read.events) {
    if (event.time >= now - static_cast<double>(kJournalKeepSeconds)) kept += journal_line(event);
  }
  return write_file_atomically(path, kept, 0640);
}

// The entry's fields (file names and subjects already valid UTF-8).
json journal_json(const RotationEvent& event) {
  return json{
      {"time", event.time},
      {"at", utc_time(static_cast<std::int64_t>(std::floor(event.time)), "%Y-%m-%dT%H:%M:%SZ")},
      {"event", to_string(event.kind)},
      {"source", event.id.source},
      {"cert_type", to_string(event.id.cert_type)},
      {"node_id", event.id.node_id},
      {"path", event.id.path},
      {"index", event.id.index},
      {"user", event.id.user},
      {"subject_cn", event.subject_cn},
      {"old_fingerprint", optional_text(event.old_fingerprint)},
      {"new_fingerprint", optional_text(event.new_fingerprint)},
      {"old_not_after", optional_number(event.old_not_after)},
      {"not_after", optional_number(event.not_after)},
  };
}

}  // namespace

std::string journal_line(const RotationEvent& event) {
  RotationEvent valid = event;
  for (std::string* text :
       {&valid.id.source, &valid.id.node_id, &valid.id.path, &valid.id.index, &valid.id.user,
        &valid.subject_cn, &valid.old_fingerprint, &valid.new_fingerprint}) {
    escape_invalid_utf8_in_place(*text);  // a file name is any bytes; JSON text is UTF-8
  }
  return journal_json(valid).dump() + "\n";
}

JournalRead parse_journal(std::string_view text) {
  JournalRead out;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t end = text.find('\n');
    const bool complete = end != std::string_view::npos;
    const std::string_view line = text.substr(0, end);
    text = complete ? text.substr(end + 1) : std::string_view();
    if (line.empty()) continue;
    auto event = complete ? event_of(line) : std::nullopt;  // a last line cut short is truncated
    if (event) {
      out.events.push_back(std::move(*event));
    } else {
      if (out.bad_lines++ == 0) out.first_bad_line = number;
    }
  }
  return out;
}

JournalRead read_journal(const std::string& path) {
  BoundedRead read =
      read_regular_file_at(AT_FDCWD, path.c_str(), path, kJournalMaxReadBytes, O_NOFOLLOW);
  if (read.error) {
    JournalRead out;
    out.error = std::move(read.error);
    return out;
  }
  return parse_journal(read.content);
}

std::optional<FileError> append_journal(const std::string& path,
                                        const std::vector<RotationEvent>& events, double now) {
  if (events.empty()) return std::nullopt;
  const OwnedFd file(::open(
      path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0640));
  if (file.fd < 0) return errno_file_error(path, errno, "open");
  struct stat state {};
  if (::fstat(file.fd, &state) != 0) return errno_file_error(path, errno, "fstat");
  if (!S_ISREG(state.st_mode)) {
    return FileError{path, FileErrorReason::not_regular_file, "the journal must be a regular file"};
  }
  if (state.st_nlink != 1 || state.st_uid != ::geteuid()) {
    return FileError{path, FileErrorReason::permission_denied,
                     "the journal must be this user's file with a single link"};
  }
  std::string text;
  if (state.st_size > 0) {
    // A line cut short (a crash mid-write, a full disk) must not swallow the next entry.
    char last = '\n';
    if (::pread(file.fd, &last, 1, state.st_size - 1) == 1 && last != '\n') text += '\n';
  }
  for (const RotationEvent& event : events) text += journal_line(event);
  if (auto error = write_all(file.fd, text, path)) return error;
  if (static_cast<std::uint64_t>(state.st_size) + text.size() > kJournalCompactBytes) {
    return compact(path, now);
  }
  return std::nullopt;
}

std::string journal_path(const std::string& configured, const char* state_directory) {
  if (!configured.empty()) return configured;
  if (state_directory == nullptr || *state_directory == '\0') return {};
  std::string_view first(state_directory);
  first = first.substr(0, first.find(':'));
  if (first.empty() || first.front() != '/') return {};
  std::string path(first);
  if (path.back() != '/') path += '/';
  return path + std::string(kJournalFileName);
}

}  // namespace certwatch::state
