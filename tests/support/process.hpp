// Test-only: real child processes (the built daemon, promtool, prometheus, shell commands), for
// tests that drive the product from the outside. The one place tests fork, exec, signal and wait;
// HTTP to those processes goes through support/http_client.hpp.
#pragma once

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

// Runs argv[0] (a path, or a name looked up in PATH) to completion, capturing stdout and stderr
// separately; killed after `timeout`.
CommandResult run_command(const std::vector<std::string>& argv,
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

// A background process. SIGTERM, then SIGKILL after 5 s, when the object dies.
class ChildProcess {
 public:
  // stdout and stderr both go to `log_file`.
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log_file);
  // `environment` (KEY=value entries) replaces the test's own when given.
  ChildProcess(const std::vector<std::string>& argv, ChildOutput output,
               std::optional<std::vector<std::string>> environment = std::nullopt);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running();
  // The process id (of what `argv` exec'ed into: a `sh -c 'ulimit ...; exec ...'` is the daemon).
  pid_t pid() const { return pid_; }
  // What the process wrote to stderr (to its log file when both go to one).
  std::string log() const;
  // Sends `signal`; false when the process is gone or the signal could not be sent.
  bool signal(int signal) const;
  // The wait status once the process exited within `timeout` (it is reaped then); nullopt while
  // it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  void stop();

 private:
  pid_t pid_ = -1;
  ChildOutput output_;
};

std::string read_file(const std::filesystem::path& path);

// Bytes the calling thread has read through read(2) and friends (not getdents or stat), from
// /proc/thread-self/io: shows whether code read file contents or answered from a cache. Reading
// the counter itself costs a few hundred bytes; measure that first when it matters.
std::uint64_t thread_bytes_read();

}  // namespace certwatch::testing
