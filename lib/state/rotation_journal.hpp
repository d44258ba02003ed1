// The rotation journal: one JSON line per rotation event (state/rotation.hpp), appended by the
// daemon only, kept across restarts. Bounded: past kJournalCompactBytes the lines older than
// kJournalKeep are dropped (at least 13 months are always kept). A corrupt or truncated line is
// counted and skipped, never fatal. The file is opened without following a symlink and must be a
// regular file of this user with one link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"
#include "state/rotation.hpp"

namespace certwatch::state {

inline constexpr std::uint64_t kJournalCompactBytes = 10 * 1024 * 1024;
inline constexpr std::uint64_t kJournalMaxReadBytes = 64 * 1024 * 1024;
inline constexpr std::int64_t kJournalKeepSeconds = 396 * 24 * 3600;  // 13 months
inline constexpr std::string_view kJournalFileName = "rotations.jsonl";
// Where the Debian package's unit (StateDirectory=crdb-certwatch) keeps it.
inline constexpr std::string_view kPackagedJournalPath = "/var/lib/crdb-certwatch/rotations.jsonl";

struct JournalRead {
  std::vector<RotationEvent> events;  // in file order
  std::size_t bad_lines = 0;          // lines that are not a journal entry (corrupt, truncated)
  std::size_t first_bad_line = 0;     // 1-based; 0 when none
  std::optional<FileError> error;     // the file could not be read at all
};

// One event as its journal line (JSON and a newline).
std::string journal_line(const RotationEvent& event);
// The entries of a journal's text.
JournalRead parse_journal(std::string_view text);
// Reads the journal at `path` (bounded, no symlink followed).
JournalRead read_journal(const std::string& path);

// Appends the events; when the file has grown past kJournalCompactBytes, rewrites it without the
// entries older than kJournalKeepSeconds before `now` (atomically). nullopt on success.
std::optional<FileError> append_journal(const std::string& path,
                                        const std::vector<RotationEvent>& events, double now);

// The daemon's journal path: `configured` when set, else $STATE_DIRECTORY/rotations.jsonl (the
// first directory when systemd lists several), else empty (no journal). `state_directory` is the
// environment variable's value, or null.
std::string journal_path(const std::string& configured, const char* state_directory);

}  // namespace certwatch::state
