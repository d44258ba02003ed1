#include "support/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/tempdir.hpp"

extern char** environ;

namespace certwatch::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// --- The guardian ------------------------------------------------------------------------------
// A process that outlives the test by at most a moment: it reads (pgid, signal) records from a
// pipe only the test holds (signal 0 removes the group), and when the pipe ends (the test exited,
// however) it sends each remaining group its stop signal, waits up to 5 s, and SIGKILLs what is
// left. Forked twice, so that it is no child of the test: ctest kills a timed-out test's whole
// tree of children, and would kill the guardian before it could act. Between fork and _exit it
// makes only async-signal-safe calls and uses no heap.

struct GuardRecord {
  std::int32_t pgid;
  std::int32_t signal;  // 0: the group is gone
};

bool group_alive(pid_t pgid) { return ::kill(-pgid, 0) == 0 || errno == EPERM; }

[[noreturn]] void guardian_main(int read_fd) {
  ::setsid();  // no terminal's Ctrl-C or hangup reaches it
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE})
    ::sigaction(sig, &ignore, nullptr);
  // Hold nothing of the test's: not its stdout (ctest reads it until EOF), not its sockets.
  if ((read_fd > 0 &&
       ::syscall(SYS_close_range, 0U, static_cast<unsigned>(read_fd - 1), 0U) != 0) ||
      ::syscall(SYS_close_range, static_cast<unsigned>(read_fd + 1), ~0U, 0U) != 0) {
    for (int fd = 0; fd < 65536; ++fd) {
      if (fd != read_fd) ::close(fd);  // a kernel before 5.9
    }
  }
  ::prctl(PR_SET_NAME, "test-guardian", 0, 0, 0);

  constexpr std::size_t kMaxGroups = 4096;
  static GuardRecord groups[kMaxGroups];
  std::size_t count = 0;
  while (true) {
    GuardRecord record{};
    const ssize_t n = ::read(read_fd, &record, sizeof record);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof record)) break;  // EOF: the test is gone
    if (record.signal != 0) {
      if (count < kMaxGroups) groups[count++] = record;
      continue;
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (groups[i].pgid == record.pgid) {
        groups[i] = groups[--count];
        break;
      }
    }
  }
  for (std::size_t i = 0; i < count; ++i) ::kill(-groups[i].pgid, groups[i].signal);
  for (int tick = 0; tick < 100; ++tick) {
    bool any = false;
    for (std::size_t i = 0; i < count; ++i) any = any || group_alive(groups[i].pgid);
    if (!any) ::_exit(0);
    const timespec pause{0, 50'000'000};
    ::nanosleep(&pause, nullptr);
  }
  for (std::size_t i = 0; i < count; ++i) ::kill(-groups[i].pgid, SIGKILL);
  ::_exit(0);
}

// The write end of the guardian's pipe (close-on-exec, so children do not hold it open).
int guardian_fd() {
  static const int fd = [] {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 for the guardian failed");
    const pid_t middle = ::fork();
    if (middle < 0) throw std::runtime_error("fork for the guardian failed");
    if (middle == 0) {
      if (::fork() == 0) guardian_main(fds[0]);
      ::_exit(0);
    }
    int status = 0;
    while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(fds[0]);
    return fds[1];
  }();
  return fd;
}

void tell_guardian(pid_t pgid, int signal) {
  const GuardRecord record{static_cast<std::int32_t>(pgid), signal};
  // One write of fewer than PIPE_BUF bytes is atomic; the guardian keeps the pipe drained.
  while (::write(guardian_fd(), &record, sizeof record) < 0 && errno == EINTR) {
  }
}

// --- Markers -----------------------------------------------------------------------------------

std::string self_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out;
  std::size_t start = all.find('\0');  // skip argv[0]
  while (start != std::string::npos && start + 1 < all.size()) {
    const std::size_t end = all.find('\0', start + 1);
    if (!out.empty()) out += ' ';
    out += all.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
    start = end;
  }
  return out;
}

// CERTWATCH_TEST_OWNER=<this test binary>, CERTWATCH_TEST_CASE=<its arguments>.
const std::vector<std::string>& markers() {
  static const std::vector<std::string> entries = [] {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return std::vector<std::string>{"CERTWATCH_TEST_OWNER=" + exe.string(),
                                    "CERTWATCH_TEST_CASE=" + self_arguments()};
  }();
  return entries;
}

std::vector<std::string> environment_for(const ProcessOptions& options) {
  std::vector<std::string> out;
  if (options.environment) {
    out = *options.environment;
  } else {
    for (char** entry = environ; *entry != nullptr; ++entry) out.emplace_back(*entry);
  }
  for (const auto& marker : markers()) {
    const std::string key = marker.substr(0, marker.find('=') + 1);
    bool present = false;
    for (const auto& entry : out) present = present || entry.starts_with(key);
    if (!present) out.push_back(marker);
  }
  return out;
}

// --- Spawning and stopping ---------------------------------------------------------------------

// fork + exec in a new process group with stdout and stderr redirected, registered with the
// guardian; everything allocated before fork().
pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& out,
            const std::filesystem::path& err, const ProcessOptions& options) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const std::vector<std::string> environment = environment_for(options);
  std::vector<char*> envp;
  for (const auto& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  const std::string workdir = options.working_directory.string();
  guardian_fd();  // started before the first child, never from a forked child
  const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd =
      out == err ? out_fd : ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) throw std::runtime_error("cannot open outputs");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    if (options.user && (::setgroups(0, nullptr) != 0 || ::setgid(options.user->second) != 0 ||
                         ::setuid(options.user->first) != 0)) {
      ::_exit(126);
    }
    // After the user change, which clears it; a parent that died before it is seen here.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != parent) ::_exit(125);
    if (!workdir.empty() && ::chdir(workdir.c_str()) != 0) ::_exit(125);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvpe(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_fd);
  if (err_fd != out_fd) ::close(err_fd);
  ::close(null_fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  ::setpgid(pid, pid);  // also here, so no signal to the group can come before the child's own
  tell_guardian(pid, options.stop_signal);
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

// Whether the group emptied within `timeout` (its members are not our children: init or a
// wrapper reaps them).
bool wait_group_empty(pid_t pgid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (group_alive(pgid)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return true;
}

// Stops the group led by `pid` (`pid` reaped already when `leader` is false): `signal`, then
// SIGKILL after 5 s; returns the leader's wait status when it reaped it. Tells the guardian.
std::optional<int> stop_group(pid_t pgid, bool leader, int signal) {
  std::optional<int> status;
  ::kill(-pgid, signal);
  const auto deadline = Clock::now() + 5s;
  const auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  };
  if (leader) status = wait_for_exit(pgid, left());
  const bool polite = (!leader || status) && wait_group_empty(pgid, std::max(left(), 0ms));
  if (!polite) {
    ::kill(-pgid, SIGKILL);
    if (leader && !status) status = wait_for_exit(pgid, 5s);
    wait_group_empty(pgid, 5s);
  }
  tell_guardian(pgid, 0);
  return status;
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
  return run_command(argv, ProcessOptions{}, timeout);
}

CommandResult run_command(const std::vector<std::string>& argv, const ProcessOptions& options,
                          std::chrono::seconds timeout) {
  TempDir dir;
  const auto out = dir.path() / "stdout";
  const auto err = dir.path() / "stderr";
  const pid_t pid = spawn(argv, out, err, options);
  CommandResult result;
  std::optional<int> status = wait_for_exit(pid, timeout);
  if (!status) {
    result.timed_out = true;
    stop_group(pid, true, SIGKILL);
  } else {
    // What the command left behind in its group goes with it.
    if (group_alive(pid))
      stop_group(pid, false, options.stop_signal);
    else
      tell_guardian(pid, 0);
    if (WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
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
    : ChildProcess(argv, std::move(output), ProcessOptions{.environment = std::move(environment)}) {
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, ChildOutput output,
                           const ProcessOptions& options)
    : stop_signal_(options.stop_signal), output_(std::move(output)) {
  pid_ = spawn(argv, output_.out, output_.err, options);
  pgid_ = pid_;
}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::running() {
  if (pid_ < 0) return false;
  if (wait_for_exit(pid_, std::chrono::milliseconds{0})) reaped();
  return pid_ >= 0;
}

void ChildProcess::reaped() {
  pid_ = -1;
  // An empty group is done with: its number may be reused, and must not be signalled later.
  if (!group_alive(pgid_)) {
    tell_guardian(pgid_, 0);
    pgid_ = -1;
  }
}

std::string ChildProcess::log() const { return read_file(output_.err); }

bool ChildProcess::signal(int signal) const { return pid_ > 0 && ::kill(pid_, signal) == 0; }

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return std::nullopt;
  const auto status = wait_for_exit(pid_, timeout);
  if (status) reaped();
  return status;
}

std::optional<int> ChildProcess::stop() {
  if (pgid_ < 0) return std::nullopt;
  const auto status = stop_group(pgid_, pid_ >= 0, stop_signal_);
  pid_ = -1;
  pgid_ = -1;
  return status;
}

}  // namespace certwatch::testing
