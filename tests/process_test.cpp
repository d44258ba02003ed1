// Issue 29: the test support owns the whole process tree it starts. The tree is the one that
// leaked: a wrapper (`strace -f`, which detaches and lets its tracee run on when it is signalled
// alone) around a shell that started a background process. Each way out of a test is tried on it:
// the object's destructor, a command that returns with something left in its group, a failed
// REQUIRE, SIGTERM (what a user or a runner sends) and SIGKILL (what ctest's timeout sends) to a
// test binary; and the suite's guard (process_guard.sh) names what is left.
#include "support/process.hpp"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::testing::ChildOutput;
using certwatch::testing::ChildProcess;
using certwatch::testing::CommandResult;
using certwatch::testing::ProcessOptions;
using certwatch::testing::read_file;
using certwatch::testing::run_command;
using certwatch::testing::run_shell;
using certwatch::testing::TempDir;
using Clock = std::chrono::steady_clock;

// Alive and not a zombie waiting for its parent.
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::vector<pid_t> pids_in(const fs::path& file) {
  std::istringstream in(read_file(file));
  std::vector<pid_t> out;
  for (pid_t pid = 0; in >> pid;) out.push_back(pid);
  return out;
}

// The pids in `file` once it holds `count` of them (within 10 s).
std::vector<pid_t> wait_for_pids(const fs::path& file, std::size_t count) {
  const auto deadline = Clock::now() + 10s;
  while (pids_in(file).size() < count && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  return pids_in(file);
}

// Whether every pid is gone within `timeout`.
bool all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    bool any = false;
    for (const pid_t pid : pids) any = any || alive(pid);
    if (!any) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// strace -f around a shell that writes its pid and its background sleep's pid to `pid_file`.
std::vector<std::string> wrapped_tree(const fs::path& pid_file) {
  return {"strace",         "-f", "-qq", "-o",
          "/dev/null",      "sh", "-c",  R"(echo $$ >> "$0"; sleep 300 & echo $! >> "$0"; wait)",
          pid_file.string()};
}

bool have_strace() { return certwatch::testing::require_tool("strace", "apt-get install strace"); }

}  // namespace

TEST_CASE(
    "stopping a child stops the wrapper's whole tree which killing the wrapper alone does not",
    "[process]") {
  if (!have_strace()) return;
  TempDir dir;
  const fs::path pid_file = dir.path() / "pids";
  {
    ChildProcess tree(wrapped_tree(pid_file), dir.path() / "log");
    const auto pids = wait_for_pids(pid_file, 2);
    REQUIRE(pids.size() == 2);
    // The defect of the issue: strace -o FILE blocks SIGTERM, so stopping it alone ended in a
    // SIGKILL, on which its tracees run on.
    REQUIRE(tree.signal(SIGKILL));
    REQUIRE(tree.wait_exit(5s));
    CHECK(!all_gone(pids, 500ms));
    // The group is still the object's: stop() ends it.
    tree.stop();
    CHECK(all_gone(pids, 0ms));
  }
  fs::remove(pid_file);
  std::vector<pid_t> pids;
  {
    ChildProcess tree(wrapped_tree(pid_file), dir.path() / "log");
    pids = wait_for_pids(pid_file, 2);
    REQUIRE(pids.size() == 2);
  }  // the destructor, as on a failed REQUIRE
  CHECK(all_gone(pids, 0ms));
}

TEST_CASE("a command's leftovers in its process group go with it", "[process]") {
  const CommandResult result = run_shell("sleep 300 & echo $!");
  REQUIRE(result.exit_code == 0);
  const pid_t left = std::stoi(result.out);
  CHECK(!alive(left));
  // And a command that runs past its timeout, with its children.
  TempDir dir;
  const fs::path pid_file = dir.path() / "pids";
  const CommandResult slow = run_command(
      {"sh", "-c", R"(sleep 300 & echo $! >> "$0"; echo $$ >> "$0"; wait)", pid_file.string()}, 1s);
  CHECK(slow.timed_out);
  const auto pids = pids_in(pid_file);
  REQUIRE(pids.size() == 2);
  CHECK(all_gone(pids, 0ms));
}

// Run by the test below as its own child: starts the tree, says so, then ends as asked.
TEST_CASE("process helper: a wrapped tree then the end the caller asks for", "[.process_helper]") {
  const char* pid_file = std::getenv("CERTWATCH_PROCESS_TEST_PIDS");
  const char* end = std::getenv("CERTWATCH_PROCESS_TEST_END");
  REQUIRE(pid_file != nullptr);
  REQUIRE(end != nullptr);
  TempDir dir;
  ChildProcess tree(wrapped_tree(pid_file), dir.path() / "log");
  REQUIRE(wait_for_pids(pid_file, 2).size() == 2);
  std::ofstream(std::string(pid_file) + ".ready") << "ready\n";
  REQUIRE(std::string(end) != "require");  // fails for "require"
  std::this_thread::sleep_for(120s);       // until the caller's signal
}

TEST_CASE("a test binary that fails a REQUIRE or is killed leaves no process behind", "[process]") {
  if (!have_strace()) return;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  REQUIRE(!ec);
  for (const std::string end : {"require", "sigterm", "sigkill"}) {
    INFO(end);
    TempDir dir;
    const fs::path pid_file = dir.path() / "pids";
    std::vector<std::string> environment;
    for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
    environment.push_back("CERTWATCH_PROCESS_TEST_PIDS=" + pid_file.string());
    environment.push_back("CERTWATCH_PROCESS_TEST_END=" + end);
    ChildProcess test_binary(
        {self.string(), "process helper: a wrapped tree then the end the caller asks for"},
        ChildOutput{dir.path() / "out", dir.path() / "out"}, environment);
    const auto deadline = Clock::now() + 20s;
    while (!fs::exists(pid_file.string() + ".ready") && test_binary.running() &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    INFO(test_binary.log());
    const auto pids = pids_in(pid_file);
    REQUIRE(pids.size() == 2);
    if (end == "sigterm") REQUIRE(test_binary.signal(SIGTERM));
    if (end == "sigkill") REQUIRE(test_binary.signal(SIGKILL));
    const auto status = test_binary.wait_exit(20s);
    REQUIRE(status);
    CHECK(certwatch::testing::exit_code_of(*status) ==
          (end == "require" ? 1 : 128 + (end == "sigterm" ? SIGTERM : SIGKILL)));
    // Only the test binary was signalled; its tree is gone because it owned it.
    CHECK(all_gone(pids, 10s));
  }
}

TEST_CASE("the suite's guard names a process the run left alive", "[process]") {
  TempDir build;  // stands for the build tree
  std::vector<std::string> environment{
      "PATH=/usr/bin:/bin", "CERTWATCH_TEST_OWNER=" + (build.path() / "tests/x").string(),
      "CERTWATCH_TEST_CASE=a leaky test"};
  const std::vector<std::string> guard{
      "bash", std::string(CERTWATCH_SOURCE_DIR) + "/tests/process_guard.sh", build.path().string(),
      "1"};
  {
    ChildProcess left({"sleep", "300"}, ChildOutput{build.path() / "log", build.path() / "log"},
                      environment);
    const CommandResult found = run_command(guard, 30s);
    INFO(found.out << found.err);
    CHECK(found.exit_code == 1);
    CHECK(found.out.find("pid " + std::to_string(left.pid()) + " ") != std::string::npos);
    CHECK(found.out.find("sleep 300") != std::string::npos);
    CHECK(found.out.find("a leaky test") != std::string::npos);
  }
  const CommandResult clean = run_command(guard, 30s);
  INFO(clean.out << clean.err);
  CHECK(clean.exit_code == 0);
}
