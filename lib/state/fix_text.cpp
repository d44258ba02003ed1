#include "state/fix_text.hpp"

namespace certwatch::state {

std::string command_line(const std::vector<std::string>& args) {
  std::string line;
  for (const std::string& arg : args) {
    if (!line.empty()) line += ' ';
    line += arg;
  }
  return line;
}

}  // namespace certwatch::state
