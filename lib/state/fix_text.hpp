// How a command an operator should run is printed: one function for every command line of the
// remedies (page, `check`, alerts, audit), so how arguments are shown is decided in one place.
#pragma once

#include <string>
#include <vector>

namespace certwatch::state {

// The argument vector as one shell line.
std::string command_line(const std::vector<std::string>& args);

}  // namespace certwatch::state
