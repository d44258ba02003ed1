// Test-only: real child processes (the built daemon, promtool, prometheus) and a minimal HTTP/1.0
// GET over 127.0.0.1, for tests that drive the product from the outside.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace certwatch::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] (a path, or a name looked up in PATH) to completion, capturing stdout and stderr
// separately; killed after `timeout`.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::seconds timeout = std::chrono::seconds{60});

// A background process whose stdout and stderr go to `log_file`. SIGTERM, then SIGKILL after 5 s,
// when the object dies.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running();
  std::string log() const;
  void stop();

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_file_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (for programs that cannot report the port
// they bound, like prometheus).
int free_local_port();

struct HttpResponse {
  int status = 0;
  std::string body;
};
// GET http://127.0.0.1:port/path; nullopt when the connection fails.
std::optional<HttpResponse> http_get(int port, const std::string& path);

std::string read_file(const std::filesystem::path& path);

}  // namespace certwatch::testing
