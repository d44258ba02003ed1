// How the cluster source talks to CockroachDB over libpq, apart from the query itself: the
// connection string it completes, how it classifies failures into reasons, and how it keeps
// passwords out of every message it repeats. Pure functions, tested without a server.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace certwatch::sources {

// The DSN (libpq URI or keyword string) as a keyword string with connect_timeout set (the config
// value wins), application_name=crdb-certwatch unless the DSN names one, and TCP keepalives so a
// silent peer cannot block a poll forever. On a malformed DSN: nullopt and a message that quotes
// no part of the DSN.
struct ConninfoResult {
  std::optional<std::string> conninfo;
  std::string error;
};
ConninfoResult build_conninfo(const std::string& dsn, std::chrono::seconds connect_timeout,
                              std::chrono::seconds statement_timeout);

// A failed connection attempt (libpq gives only a message, no SQLSTATE) -> reason.
ErrorReason classify_connect_error(std::string_view message);
// A failed statement -> reason, by SQLSTATE first and the message second.
ErrorReason classify_sql_error(std::string_view sqlstate, std::string_view message);
// Replaces anything that looks like a password (`password=...`, `user:secret@`) with "<redacted>".
std::string scrub_secrets(std::string message);

// Whole seconds, at least 1: how libpq and SET statement_timeout take a duration.
std::string format_seconds(std::chrono::seconds value);
// A libpq message on one line (they span lines), with passwords scrubbed: for logs and pages.
std::string one_line(std::string_view text);
std::string clean_message(std::string_view text);

}  // namespace certwatch::sources
