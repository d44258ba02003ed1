// Reading a Prometheus text exposition in tests: by line, and through promtool.
#pragma once

#include <string>
#include <vector>

#include "support/process.hpp"

namespace certwatch::testing {

std::vector<std::string> lines_of(const std::string& text);
bool has_line(const std::string& text, const std::string& line);
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix);

// `promtool check metrics` on an exposition (stderr merged into out): Prometheus' own parser and
// linter are the judge. Needs promtool on PATH (Debian's prometheus package).
CommandResult promtool_check_metrics(const std::string& exposition);

}  // namespace certwatch::testing
