// spdlog set-up: one named logger per component, all to stderr (journald takes it from there).
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>

namespace certwatch {

enum class LogFormat { logfmt, json };

// Returns an error message for an unknown level or format.
std::optional<std::string> setup_logging(const std::string& level, const std::string& format);

// The named logger for a component ("main", "file", "cluster", "http", "scheduler"), created on
// first use with the configured level and format.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

}  // namespace certwatch
