// The one way the daemon reads a file: the config, the web config, TLS PEM files, a DSN file and
// every certificate file. A wrong path must never hang or exhaust the daemon, so the read refuses
// anything but a regular file (a FIFO would block, /dev/zero never ends, a directory is no file)
// before reading a byte, never blocks on open, and stops at a size bound.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/file_identity.hpp"
#include "core/types.hpp"

namespace certwatch {

struct BoundedRead {
  std::string content;             // the whole file, on success
  std::optional<FileError> error;  // why not, with a reason
  struct stat state {};            // fstat of the file that was read, taken before reading
  bool stable = false;             // the file still had `state` after the read
};

// Opens `path` with O_NONBLOCK (a FIFO swapped in cannot block the open), fstats the descriptor
// (so the check and the read are of the same file), refuses non-regular files and files larger
// than `limit`, and reads at most limit+1 bytes (a file growing past the bound is noticed).
BoundedRead read_regular_file(const std::string& path, std::uint64_t limit);
// The same for `name` relative to the open directory `dir_fd` (AT_FDCWD: the working directory),
// a shorter path walk for a directory's many files; `path` names the file in errors, and
// `open_flags` are added to the open (O_NOFOLLOW: a symlink is refused with ELOOP).
BoundedRead read_regular_file_at(int dir_fd, const char* name, const std::string& path,
                                 std::uint64_t limit, int open_flags = 0);

// read_regular_file_at for a path that may be a symlink: resolves `name` first without opening it
// for reading (O_PATH: nothing read, never blocks), asks `vet` about the path it resolved to
// (an error refuses it unread), and then reads that very file, not whatever the name points to
// by then.
BoundedRead read_regular_file_vetted(
    int dir_fd, const char* name, const std::string& path, std::uint64_t limit,
    const std::function<std::optional<FileError>(const std::string& resolved)>& vet);

// A failed system call on `path` as a FileError: ENOENT and ENOTDIR are not_found, EACCES and
// EPERM permission_denied, anything else read_error. `what` names the call.
FileError errno_file_error(const std::string& path, int error, std::string_view what);

// Writes `content` to `path` so that a reader sees the old file or the whole new one, never a
// part: a temporary file beside it (same file system) with `mode`, synced, then renamed over
// `path`. On failure the temporary file is removed and the error says which step failed.
std::optional<FileError> write_file_atomically(const std::string& path, std::string_view content,
                                               mode_t mode);

// "a FIFO", "a directory", "a character device"...: what a mode says a file is, so "not a
// regular file" says which mistake was made.
std::string_view file_kind(mode_t mode);
// Writes all of `content` to the open descriptor, retrying short writes and EINTR: 0, or the
// errno of the write that failed.
int write_all(int fd, std::string_view content);

// Where a command writes a report an operator asked for (`audit --output`). Run as root,
// replacing whatever the path names would turn /dev/null or /dev/full into a regular file,
// follow a symlink planted in a shared directory, or take over another user's file. So a regular
// file is written only when it is new or the caller's own, devices and FIFOs are written through,
// and anything else is refused with a reason.
// Writes `content` to `path`:
//   "-"                        standard output;
//   no such file yet, or a regular file owned by this process's user
//                              write_file_atomically with `mode` (a reader sees the old file or
//                              the whole new one);
//   a character or block device, a FIFO
//                              written through, neither created, truncated nor replaced; a FIFO
//                              is opened non-blocking, so one that no process reads is an error,
//                              not a hang (nor a SIGPIPE when the reader goes away);
//   a symbolic link, another user's file, a directory, a socket
//                              refused: the error says why, and nothing is changed.
std::optional<FileError> write_output_file(const std::string& path, std::string_view content,
                                           mode_t mode);

// "open: No such file or directory (not_found)": the detail for a person, the reason as
// docs/metrics.md spells it.
std::string describe(const FileError& error);

}  // namespace certwatch
