#include "sources/pg_session.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <utility>
#include <vector>

#include "core/libpq_handles.hpp"

namespace certwatch::sources {
namespace {

constexpr std::string_view kApplicationName = "crdb-certwatch";

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string quote_conninfo_value(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

// PQconninfoParse's messages may quote a piece of the DSN (`missing "=" after "..."`), which could
// be a password; only the name of an unknown option is safe to repeat.
std::string describe_conninfo_error(const char* error) {
  const std::string_view text = error == nullptr ? std::string_view{} : std::string_view{error};
  constexpr std::string_view kUnknownOption = "invalid connection option";
  std::string out = "the DSN is not a valid libpq connection string";
  if (text.starts_with(kUnknownOption)) out += ": " + one_line(text);
  return out;
}

}  // namespace

std::string format_seconds(std::chrono::seconds value) {
  return std::to_string(std::max<std::chrono::seconds::rep>(value.count(), 1));
}

// libpq messages span lines ("...failed: Connection refused\n\tIs the server running..."): one
// line reads better in logs and on the status page.
std::string one_line(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string clean_message(std::string_view text) { return scrub_secrets(one_line(text)); }

ConninfoResult build_conninfo(const std::string& dsn, std::chrono::seconds connect_timeout,
                              std::chrono::seconds statement_timeout) {
  char* raw_error = nullptr;
  const libpq::ConninfoPtr parsed{PQconninfoParse(dsn.c_str(), &raw_error)};
  const libpq::MemPtr error{raw_error};
  if (!parsed) return {std::nullopt, describe_conninfo_error(error.get())};

  std::vector<std::pair<std::string, std::string>> options;
  for (const PQconninfoOption* option = parsed.get(); option->keyword != nullptr; ++option) {
    if (option->val != nullptr) options.emplace_back(option->keyword, option->val);
  }
  const auto set = [&](std::string_view key, std::string value, bool override_dsn) {
    const auto found = std::find_if(options.begin(), options.end(),
                                    [&](const auto& option) { return option.first == key; });
    if (found == options.end()) {
      options.emplace_back(std::string(key), std::move(value));
    } else if (override_dsn) {
      found->second = std::move(value);
    }
  };
  // The configured timeout is the one that bounds a poll, so it wins over the DSN's.
  set("connect_timeout", format_seconds(connect_timeout), true);
  set("application_name", std::string(kApplicationName), false);
  // A peer that vanishes mid-query (partition, power loss) never answers: keepalives turn that into
  // an error within about statement_timeout + 3 * connect_timeout instead of a hung poll.
  set("keepalives", "1", false);
  set("keepalives_idle", format_seconds(statement_timeout), false);
  set("keepalives_interval", format_seconds(connect_timeout), false);
  set("keepalives_count", "3", false);

  std::string conninfo;
  for (const auto& [key, value] : options) {
    if (!conninfo.empty()) conninfo += ' ';
    conninfo += key + '=' + quote_conninfo_value(value);
  }
  return {std::move(conninfo), {}};
}

ErrorReason classify_connect_error(std::string_view message) {
  const std::string text = lowercase(message);
  if (contains(text, "timeout expired") || contains(text, "timed out")) return ErrorReason::timeout;
  if (contains(text, "authentication failed") || contains(text, "no password supplied") ||
      contains(text, "pg_hba.conf") || contains(text, "rejected by configuration") ||
      contains(text, "authentication rejected")) {
    return ErrorReason::auth_failed;
  }
  if (contains(text, "permission denied")) return ErrorReason::permission_denied;
  return ErrorReason::connect_failed;
}

ErrorReason classify_sql_error(std::string_view sqlstate, std::string_view message) {
  if (sqlstate == "57014") return ErrorReason::timeout;
  if (sqlstate == "42501") return ErrorReason::permission_denied;
  if (sqlstate.starts_with("28")) return ErrorReason::auth_failed;
  // Connection exceptions and the server shutting down or starting up.
  if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03") {
    return ErrorReason::connect_failed;
  }
  if (sqlstate.empty()) {
    const std::string text = lowercase(message);
    if (contains(text, "statement timeout")) return ErrorReason::timeout;
    if (contains(text, "permission denied") || contains(text, "privilege")) {
      return ErrorReason::permission_denied;
    }
  }
  return ErrorReason::query_failed;
}

std::string scrub_secrets(std::string message) {
  static const std::regex keyword_password{R"((password\s*=\s*)('(\\.|[^'\\])*'|[^\s]+))",
                                           std::regex::icase};
  static const std::regex uri_password{R"((://[^\s/:@]*:)[^\s/@]*@)"};
  message = std::regex_replace(message, keyword_password, "$1<redacted>");
  return std::regex_replace(message, uri_password, "$1<redacted>@");
}

}  // namespace certwatch::sources
