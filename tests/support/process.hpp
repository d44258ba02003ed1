// Test-only: real child processes (the built daemon, promtool, prometheus, PostgreSQL, shell
// commands), for tests that drive the product from the outside. The one place tests fork, exec,
// signal and wait; HTTP to those processes goes through support/http_client.hpp.
//
// A test owns the whole process tree it starts, on every path out of the test (issue 29):
//  - each child leads its own process group, and is stopped as a group (a wrapper such as
//    `strace -f` or `sh -c` and everything it started), then waited for until the group is empty;
//  - each child gets PR_SET_PDEATHSIG(SIGKILL): it dies with the thread that started it (spawn
//    from a thread that outlives the child; Catch2 runs tests on the main thread);
//  - a guardian process, detached from the test (so that ctest's kill of the test's process tree
//    spares it), is told of every live group and kills them all when the test process ends by
//    any means: a failed REQUIRE, SIGTERM from ctest, SIGKILL, a crash;
//  - each child's environment carries CERTWATCH_TEST_OWNER (the test binary) and
//    CERTWATCH_TEST_CASE (its arguments), which its descendants inherit: the suite's last entry
//    (tests/process_guard.sh) names any process of the run still alive.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace certwatch::testing {

struct CommandResult {
  int exit_code = -1;      // -1: killed by a signal or timed out
  bool timed_out = false;  // killed because it ran past the timeout
  std::string out;         // stdout
  std::string err;         // stderr
};

// How a child runs, beyond its arguments.
struct ProcessOptions {
  // KEY=value entries that replace the test's own environment (the CERTWATCH_TEST_* markers are
  // added unless given).
  std::optional<std::vector<std::string>> environment;
  // Run as this uid/gid with no supplementary groups (the test runs as root).
  std::optional<std::pair<uid_t, gid_t>> user;
  std::filesystem::path working_directory;  // empty: the test's
  int stop_signal = SIGTERM;                // what stopping sends the group before SIGKILL
};

// Runs argv[0] (a path, or a name looked up in PATH) to completion, capturing stdout and stderr
// separately; killed after `timeout`. Whatever it leaves running in its process group when it
// exits is stopped too.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::seconds timeout = std::chrono::seconds{60});
CommandResult run_command(const std::vector<std::string>& argv, const ProcessOptions& options,
                          std::chrono::seconds timeout = std::chrono::seconds{60});

// A shell command line (`sh -c`) with stderr merged into stdout, as a terminal would show it.
CommandResult run_shell(const std::string& command,
                        std::chrono::seconds timeout = std::chrono::seconds{60});

// The exit code for a wait status, shell style: 128 + the signal for a process killed by one.
int exit_code_of(int wait_status);

struct ChildOutput {
  std::filesystem::path out;  // stdout
  std::filesystem::path err;  // stderr; the same path as `out` puts both in one file
};

// A background process and its process group. When the object dies (stop()): the group gets
// the stop signal (SIGTERM), then SIGKILL after 5 s, and is waited for until empty.
class ChildProcess {
 public:
  // stdout and stderr both go to `log_file`.
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log_file);
  // `environment` (KEY=value entries) replaces the test's own when given.
  ChildProcess(const std::vector<std::string>& argv, ChildOutput output,
               std::optional<std::vector<std::string>> environment = std::nullopt);
  ChildProcess(const std::vector<std::string>& argv, ChildOutput output,
               const ProcessOptions& options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running();
  // The process id (of what `argv` exec'ed into: a `sh -c 'ulimit ...; exec ...'` is the daemon).
  pid_t pid() const { return pid_; }
  // What the process wrote to stderr (to its log file when both go to one).
  std::string log() const;
  // Sends `signal` to the process itself (not its group: a wrapper such as strace treats SIGHUP
  // as a reason to quit); false when the process is gone or the signal could not be sent.
  bool signal(int signal) const;
  // The wait status once the process exited within `timeout` (it is reaped then); nullopt while
  // it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // Stops the group (see above) and waits until it is empty; the wait status of the process,
  // or nullopt when it had already been reaped.
  std::optional<int> stop();

 private:
  void reaped();
  pid_t pid_ = -1;   // the process, until reaped
  pid_t pgid_ = -1;  // its group, until empty
  int stop_signal_ = SIGTERM;
  ChildOutput output_;
};

std::string read_file(const std::filesystem::path& path);

// Bytes the calling thread has read through read(2) and friends (not getdents or stat), from
// /proc/thread-self/io: shows whether code read file contents or answered from a cache. Reading
// the counter itself costs a few hundred bytes; measure that first when it matters.
std::uint64_t thread_bytes_read();

}  // namespace certwatch::testing
