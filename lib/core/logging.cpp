#include "core/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "core/text.hpp"

namespace certwatch {
namespace {

// Escapes the message for a quoted logfmt or JSON value. A message may quote a file name or a
// certificate subject, so any bytes: first made valid UTF-8 with control characters shown as
// `\xNN` (JSON needs the one, a terminal reading the journal the other), then quotes and
// backslashes escaped for the quoted value.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (const char c :
         escape_for_display(std::string_view(msg.payload.data(), msg.payload.size()))) {
      if (c == '"' || c == '\\') dest.push_back('\\');
      dest.push_back(c);
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }
};

struct LoggingState {
  std::mutex mutex;
  spdlog::level::level_enum level = spdlog::level::info;
  LogFormat format = LogFormat::logfmt;
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  bool formatted = false;
};

LoggingState& state() {
  static LoggingState s;
  return s;
}

std::unique_ptr<spdlog::formatter> make_formatter(LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<EscapedMessage>('*');
  if (format == LogFormat::json) {
    formatter->set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":"%*"})");
  } else {
    formatter->set_pattern(R"(ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l logger=%n msg="%*")");
  }
  return formatter;
}

}  // namespace

std::optional<std::string> setup_logging(const std::string& level, const std::string& format) {
  LoggingState& s = state();
  std::lock_guard lock(s.mutex);
  if (level == "debug") {
    s.level = spdlog::level::debug;
  } else if (level == "info") {
    s.level = spdlog::level::info;
  } else if (level == "warn") {
    s.level = spdlog::level::warn;
  } else if (level == "error") {
    s.level = spdlog::level::err;
  } else {
    return "unknown log level \"" + level + "\" (debug, info, warn, error)";
  }
  if (format == "logfmt") {
    s.format = LogFormat::logfmt;
  } else if (format == "json") {
    s.format = LogFormat::json;
  } else {
    return "unknown log format \"" + format + "\" (logfmt, json)";
  }
  s.sink->set_formatter(make_formatter(s.format));
  s.formatted = true;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(s.level); });
  return std::nullopt;
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  LoggingState& s = state();
  std::lock_guard lock(s.mutex);
  if (!s.formatted) {
    s.sink->set_formatter(make_formatter(s.format));
    s.formatted = true;
  }
  if (auto existing = spdlog::get(name)) return existing;
  auto created = std::make_shared<spdlog::logger>(name, s.sink);
  created->set_level(s.level);
  spdlog::register_logger(created);
  return created;
}

}  // namespace certwatch
