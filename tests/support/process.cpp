#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/tempdir.hpp"

namespace certwatch::testing {
namespace {

using Clock = std::chrono::steady_clock;

// fork + exec with stdout and stderr redirected (and the environment replaced when given);
// everything allocated before fork().
pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& out,
            const std::filesystem::path& err,
            const std::optional<std::vector<std::string>>& environment = std::nullopt) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (environment) {
    for (const auto& entry : *environment) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
  }
  const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd =
      out == err ? out_fd : ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) throw std::runtime_error("cannot open outputs");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    if (environment) {
      ::execvpe(argv[0], argv.data(), envp.data());
    } else {
      ::execvp(argv[0], argv.data());
    }
    ::_exit(127);
  }
  ::close(out_fd);
  if (err_fd != out_fd) ::close(err_fd);
  ::close(null_fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// The wait status, or nullopt when still running after `timeout`.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
}

}  // namespace

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint64_t thread_bytes_read() {
  std::ifstream io("/proc/thread-self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  throw std::runtime_error("no rchar in /proc/thread-self/io");
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  TempDir dir;
  const auto out = dir.path() / "stdout";
  const auto err = dir.path() / "stderr";
  const pid_t pid = spawn(argv, out, err);
  CommandResult result;
  std::optional<int> status = wait_for_exit(pid, timeout);
  if (!status) {
    result.timed_out = true;
    ::kill(pid, SIGKILL);
    status = wait_for_exit(pid, std::chrono::seconds{5});
  } else if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  }
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

CommandResult run_shell(const std::string& command, std::chrono::seconds timeout) {
  return run_command({"/bin/sh", "-c", command + " 2>&1"}, timeout);
}

int exit_code_of(int wait_status) {
  if (wait_status < 0) return -1;
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, std::filesystem::path log_file)
    : ChildProcess(argv, ChildOutput{log_file, log_file}) {}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, ChildOutput output,
                           std::optional<std::vector<std::string>> environment)
    : output_(std::move(output)) {
  pid_ = spawn(argv, output_.out, output_.err, environment);
}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::running() {
  if (pid_ < 0) return false;
  if (wait_for_exit(pid_, std::chrono::milliseconds{0})) pid_ = -1;
  return pid_ >= 0;
}

std::string ChildProcess::log() const { return read_file(output_.err); }

bool ChildProcess::signal(int signal) const { return pid_ > 0 && ::kill(pid_, signal) == 0; }

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return std::nullopt;
  const auto status = wait_for_exit(pid_, timeout);
  if (status) pid_ = -1;
  return status;
}

void ChildProcess::stop() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGTERM);
  if (!wait_for_exit(pid_, std::chrono::seconds{5})) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, std::chrono::seconds{5});
  }
  pid_ = -1;
}

}  // namespace certwatch::testing
