#include "core/read_file.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace certwatch {
namespace {

FileErrorReason reason_for_errno(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return FileErrorReason::not_found;
    case EACCES:
    case EPERM:
      return FileErrorReason::permission_denied;
    default:
      return FileErrorReason::read_error;
  }
}

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string_view file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

BoundedRead read_regular_file_vetted(
    int dir_fd, const char* name, const std::string& path, std::uint64_t limit,
    const std::function<std::optional<FileError>(const std::string& resolved)>& vet) {
  const Descriptor where(::openat(dir_fd, name, O_PATH | O_CLOEXEC));
  if (where.get() < 0) {
    BoundedRead result;
    result.error = errno_file_error(path, errno, "open");
    return result;
  }
  const std::string self = "/proc/self/fd/" + std::to_string(where.get());
  std::string resolved(4096, '\0');
  const ssize_t length = ::readlink(self.c_str(), resolved.data(), resolved.size());
  if (length < 0 || static_cast<std::size_t>(length) >= resolved.size()) {
    BoundedRead result;
    result.error = errno_file_error(path, length < 0 ? errno : ENAMETOOLONG, "readlink");
    return result;
  }
  resolved.resize(static_cast<std::size_t>(length));
  if (auto refused = vet(resolved)) {
    BoundedRead result;
    result.error = std::move(refused);
    return result;
  }
  return read_regular_file_at(AT_FDCWD, self.c_str(), path, limit);
}

FileError errno_file_error(const std::string& path, int error, std::string_view what) {
  return {path, reason_for_errno(error), std::string(what) + ": " + std::strerror(error)};
}

BoundedRead read_regular_file(const std::string& path, std::uint64_t limit) {
  return read_regular_file_at(AT_FDCWD, path.c_str(), path, limit);
}

BoundedRead read_regular_file_at(int dir_fd, const char* name, const std::string& path,
                                 std::uint64_t limit, int open_flags) {
  BoundedRead result;
  // O_NOCTTY: a terminal device never becomes our controlling terminal by being opened.
  const Descriptor fd(
      ::openat(dir_fd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | open_flags));
  if (fd.get() < 0) {
    result.error = errno_file_error(path, errno, "open");
    return result;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    result.error = errno_file_error(path, errno, "fstat");
    return result;
  }
  if (!S_ISREG(st.st_mode)) {
    result.error = FileError{path, FileErrorReason::not_regular_file,
                             "is " + std::string(file_kind(st.st_mode)) + ", not a regular file"};
    return result;
  }
  if (static_cast<std::uint64_t>(st.st_size) > limit) {
    result.error =
        FileError{path, FileErrorReason::too_large,
                  "size " + std::to_string(st.st_size) + " exceeds " + std::to_string(limit)};
    return result;
  }
  // Sized from fstat (one byte more, to see growth); grown only if the file grew meanwhile, up
  // to limit+1. Sizing every read at the limit would cost a zeroed buffer per file.
  std::string& out = result.content;
  const std::uint64_t cap = limit + 1;
  out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(st.st_size, limit) + 1));
  std::size_t total = 0;
  for (;;) {
    if (total == out.size()) {
      if (out.size() >= cap) break;
      out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(out.size() * 2, cap)));
    }
    const ssize_t n = ::read(fd.get(), out.data() + total, out.size() - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      result.error = errno_file_error(path, errno, "read");
      out.clear();
      return result;
    }
    if (n == 0) break;
    const bool short_read = static_cast<std::size_t>(n) < out.size() - total;
    total += static_cast<std::size_t>(n);
    // A short read of a regular file that reached the size fstat gave is its end: the read that
    // would return 0 is saved. Had the file grown meanwhile, its size changed, and the fstat
    // below marks the read unstable.
    if (short_read && total == static_cast<std::uint64_t>(st.st_size)) break;
  }
  if (total > limit) {
    result.error =
        FileError{path, FileErrorReason::too_large, "grew past " + std::to_string(limit)};
    out.clear();
    return result;
  }
  out.resize(total);
  struct stat after {};
  result.stable = ::fstat(fd.get(), &after) == 0 && FileIdentity::of(st) == FileIdentity::of(after);
  result.state = st;
  return result;
}

std::string describe(const FileError& error) {
  return error.detail + " (" + std::string(to_string(error.reason)) + ")";
}

std::optional<FileError> write_file_atomically(const std::string& path, std::string_view content,
                                               mode_t mode) {
  std::string temporary = path + ".tmp.XXXXXX";
  const Descriptor fd(::mkostemp(temporary.data(), O_CLOEXEC));
  if (fd.get() < 0) return errno_file_error(path, errno, "create temporary file");
  auto fail = [&](std::string_view what) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return errno_file_error(path, error, what);
  };
  // mkostemp creates 0600 whatever the umask; the mode is set explicitly, not left to the umask.
  if (::fchmod(fd.get(), mode) != 0) return fail("fchmod");
  if (const int error = write_all(fd.get(), content)) {
    errno = error;
    return fail("write");
  }
  if (::fsync(fd.get()) != 0) return fail("fsync");
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail("rename");
  return std::nullopt;
}

namespace {

// SIGPIPE blocked on this thread while it lives: a reader that leaves makes write() fail with
// EPIPE instead of killing the process. A SIGPIPE the writes raised is taken off before the mask
// is restored, so it is not delivered afterwards.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec now{};
      sigtimedwait(&pipe_, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

FileError refused(const std::string& path, FileErrorReason reason, std::string detail) {
  return FileError{path, reason, std::move(detail)};
}

std::string user_name(uid_t uid) {
  const passwd* entry = ::getpwuid(uid);
  const std::string id = "uid " + std::to_string(uid);
  return entry != nullptr ? std::string(entry->pw_name) + " (" + id + ")" : id;
}

// A device or FIFO `path` that lstat found as `seen`: opened without creating or truncating,
// checked to be that same file, written.
std::optional<FileError> write_through(const std::string& path, std::string_view content,
                                       const struct stat& seen) {
  const bool fifo = S_ISFIFO(seen.st_mode);
  const Descriptor fd(
      ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (fifo && errno == ENXIO) {
      return refused(path, FileErrorReason::read_error,
                     "a FIFO that no process is reading: start the reader first");
    }
    return errno_file_error(path, errno, "open");
  }
  struct stat opened {};
  if (::fstat(fd.get(), &opened) != 0) return errno_file_error(path, errno, "fstat");
  if (opened.st_dev != seen.st_dev || opened.st_ino != seen.st_ino ||
      (opened.st_mode & S_IFMT) != (seen.st_mode & S_IFMT)) {
    return refused(path, FileErrorReason::read_error, "replaced by another file while opening it");
  }
  // Blocking from here on: a reader that is slower than the writer is waited for.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return errno_file_error(path, errno, "fcntl");
  }
  const SigpipeBlocked blocked;
  if (const int error = write_all(fd.get(), content)) return errno_file_error(path, error, "write");
  return std::nullopt;
}

}  // namespace

int write_all(int fd, std::string_view content) {
  for (std::size_t written = 0; written < content.size();) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    written += static_cast<std::size_t>(n);
  }
  return 0;
}

std::optional<FileError> write_output_file(const std::string& path, std::string_view content,
                                           mode_t mode) {
  if (path == "-") {
    const SigpipeBlocked blocked;
    if (const int error = write_all(STDOUT_FILENO, content)) {
      return errno_file_error("standard output", error, "write");
    }
    return std::nullopt;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return write_file_atomically(path, content, mode);
    return errno_file_error(path, errno, "lstat");
  }
  if (S_ISLNK(st.st_mode)) {
    return refused(path, FileErrorReason::not_regular_file,
                   "a symbolic link: give the path it points to, if that is meant");
  }
  if (S_ISREG(st.st_mode)) {
    if (st.st_uid != ::geteuid()) {
      return refused(path, FileErrorReason::permission_denied,
                     "owned by " + user_name(st.st_uid) +
                         ", not by the user running this command: remove it first or choose "
                         "another path");
    }
    return write_file_atomically(path, content, mode);
  }
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
    return write_through(path, content, st);
  }
  return refused(path, FileErrorReason::not_regular_file,
                 std::string(file_kind(st.st_mode)) + ", not a file a report can be written to");
}

}  // namespace certwatch
