// Test-only: what a test needs from the machine (a tool, root). One rule for every test: under
// CI (CI=true in the environment) a missing need FAILS the test, because CI must run everything;
// elsewhere the test is skipped, loudly: a warning in its output, a line on stderr, and the test
// binary exits with kSkippedExitCode, which CTest reports as "Skipped" (SKIP_RETURN_CODE).
// Header-only so that catch_main.cpp, which turns a skip into that exit code, needs no library.
//
//   if (!certwatch::testing::require_tool("promtool", "apt-get install prometheus")) return;
#pragma once

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

namespace certwatch::testing {

// The exit code of a test binary whose tests passed but some were skipped (automake's 77).
inline constexpr int kSkippedExitCode = 77;

// Whether some test of this process was skipped for a missing need.
inline std::atomic<bool>& some_test_skipped() {
  static std::atomic<bool> skipped{false};
  return skipped;
}

inline bool running_under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

// True when `available`; otherwise fails the test under CI, or records a loud skip and returns
// false (the caller returns: Catch2 v2 has no SKIP).
inline bool require(bool available, std::string_view missing, std::string_view remedy) {
  if (available) return true;
  std::ostringstream reason;
  reason << missing << " (" << remedy << ")";
  if (running_under_ci()) FAIL("CI=true and " << reason.str() << ": CI must run this test");
  some_test_skipped() = true;
  std::cerr << "SKIPPED: " << reason.str() << "\n";
  WARN("SKIPPED: " << reason.str());
  return false;
}

// An executable `tool` on PATH or in the sbin directories (a non-root PATH often lacks them).
inline bool tool_installed(std::string_view tool) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(std::string(path != nullptr ? path : "") +
                          ":/usr/local/sbin:/usr/sbin:/sbin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((dir + "/" + std::string(tool)).c_str(), X_OK) == 0) return true;
  }
  return false;
}

inline bool require_tool(std::string_view tool, std::string_view install_hint) {
  return require(tool_installed(tool), std::string(tool) + " is not installed", install_hint);
}

inline bool require_root(std::string_view why) {
  return require(::geteuid() == 0, "not running as root", why);
}

}  // namespace certwatch::testing
