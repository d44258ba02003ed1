#include "support/exposition.hpp"

#include <algorithm>
#include <sstream>

#include "support/tempdir.hpp"

namespace certwatch::testing {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  const auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& line : lines_of(text)) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

CommandResult promtool_check_metrics(const std::string& exposition) {
  TempDir dir;
  const auto file = dir.write("metrics.txt", exposition);
  return run_shell("promtool check metrics < '" + file.string() + "'");
}

}  // namespace certwatch::testing
