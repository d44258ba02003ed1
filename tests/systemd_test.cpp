// The daemon as systemd runs it: the built binary with NOTIFY_SOCKET on a datagram socket this
// test owns (READY, WATCHDOG, RELOADING, STOPPING), the web config's start-up and SIGHUP rules,
// the unit's systemd-analyze exposure score, and the .deb that cpack builds.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/certgen.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using certwatch::testing::read_file;
using certwatch::testing::require_tool;
using certwatch::testing::TempDir;
namespace fs = std::filesystem;

// The systemd side of the notify protocol: a bound AF_UNIX datagram socket.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof address.sun_path);
    std::strcpy(address.sun_path, path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const fs::path& path() const { return path_; }

  // The next datagram within `timeout`; nullopt when none came.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }

  // Waits for a message containing `needle`, skipping WATCHDOG=1 keep-alives; other messages
  // met on the way are appended to `skipped`.
  std::optional<std::string> wait_for(const std::string& needle, std::chrono::milliseconds timeout,
                                      std::vector<std::string>* skipped = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto message = receive(std::max(left, 1ms));
      if (!message) return std::nullopt;
      if (message->find(needle) != std::string::npos) return message;
      if (skipped != nullptr && *message != "WATCHDOG=1") skipped->push_back(*message);
    }
    return std::nullopt;
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

// The built daemon as a child process with extra environment; stderr and stdout to a log file.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& args, const std::vector<std::string>& env,
         const fs::path& log)
      : process_(argv_with(args), certwatch::testing::ChildOutput{log, log},
                 environment_with(env)) {}

  void signal(int sig) const { REQUIRE(process_.signal(sig)); }
  // Exit code, or -1 when it did not exit within `timeout` (or died of a signal).
  int wait(std::chrono::milliseconds timeout) {
    const auto status = process_.wait_exit(timeout);
    return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  }

 private:
  static std::vector<std::string> argv_with(const std::vector<std::string>& args) {
    std::vector<std::string> argv{CERTWATCH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  // The test's own environment without systemd's variables (the test may itself run under
  // systemd), plus `env`.
  static std::vector<std::string> environment_with(const std::vector<std::string>& env) {
    std::vector<std::string> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (entry.starts_with("NOTIFY_SOCKET=") || entry.starts_with("WATCHDOG_")) continue;
      envp.push_back(entry);
    }
    envp.insert(envp.end(), env.begin(), env.end());
    return envp;
  }

  certwatch::testing::ChildProcess process_;
};

struct Run {
  int exit_code = -1;
  std::string output;
};

// A shell command line with stderr merged into stdout; cpack may take a few minutes.
Run run(const std::string& command) {
  auto result = certwatch::testing::run_shell(command, std::chrono::seconds{600});
  return {result.exit_code, std::move(result.out)};
}

// A certs directory with a CA and a node certificate, and a config that watches it.
struct Setup {
  TempDir dir;
  int port = certwatch::testing::find_free_port();
  fs::path config;
  Setup() {
    certwatch::testing::CertSpec ca_spec;
    ca_spec.common_name = "CA";
    ca_spec.is_ca = true;
    const auto ca = certwatch::testing::generate_cert(ca_spec);
    const auto node = certwatch::testing::generate_cert(certwatch::testing::CertSpec{}, &ca);
    dir.write("certs/ca.crt", ca.cert_pem);
    dir.write("certs/node.crt", node.cert_pem);
    dir.write("certs/node.key", node.key_pem, 0600);
    config = dir.write("config.yaml", "poll_interval: 1h\nfiles:\n  certs_dirs: [" +
                                          (dir.path() / "certs").string() + "]\n");
  }
  std::vector<std::string> args() const {
    return {"--config.file=" + config.string(),
            "--web.listen-address=127.0.0.1:" + std::to_string(port)};
  }
};

// The .deb that `cpack -G DEB` makes from the build tree, written into `out`.
fs::path build_deb(const TempDir& out) {
  const fs::path build_dir = fs::path(CERTWATCH_BINARY).parent_path().parent_path();
  const auto packed = run("cd " + build_dir.string() + " && cpack -G DEB -B " +
                          out.path().string() + " --config CPackConfig.cmake");
  INFO(packed.output);
  REQUIRE(packed.exit_code == 0);
  fs::path deb;
  for (const auto& entry : fs::directory_iterator(out.path())) {
    if (entry.path().extension() == ".deb") deb = entry.path();
  }
  REQUIRE(!deb.empty());
  return deb;
}

int status_of(int port, const std::string& authorization) {
  std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
  const auto res = certwatch::testing::http_exchange(port, request + "\r\n", 5s);
  return res ? res->status : 0;
}

}  // namespace

TEST_CASE("sd_notify: READY after listening and polling, WATCHDOG, RELOADING, STOPPING",
          "[systemd][notify]") {
  Setup setup;
  NotifySocket notify(setup.dir.path() / "notify.sock");
  Daemon daemon(setup.args(), {"NOTIFY_SOCKET=" + notify.path().string(), "WATCHDOG_USEC=200000"},
                setup.dir.path() / "daemon.log");
  const auto ready = notify.wait_for("READY=1", 15s);
  INFO(read_file(setup.dir.path() / "daemon.log"));
  REQUIRE(ready);
  // READY=1 means listening and the first poll published: /-/ready must already say so.
  const auto ready_page = certwatch::testing::http_get(setup.port, "/-/ready");
  REQUIRE(ready_page);
  CHECK(ready_page->status == 200);

  // WATCHDOG_USEC/2 = 100 ms: about ten keep-alives a second.
  int watchdogs = 0;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until) {
    if (auto message = notify.receive(200ms); message && *message == "WATCHDOG=1") ++watchdogs;
  }
  CHECK(watchdogs >= 5);
  CHECK(watchdogs <= 15);

  daemon.signal(SIGHUP);
  std::vector<std::string> before_reloading;
  const auto reloading = notify.wait_for("RELOADING=1", 5s, &before_reloading);
  REQUIRE(reloading);
  CHECK(before_reloading.empty());
  CHECK(std::regex_search(*reloading, std::regex("MONOTONIC_USEC=[0-9]+")));
  CHECK(notify.wait_for("READY=1", 5s));

  daemon.signal(SIGTERM);
  CHECK(notify.wait_for("STOPPING=1", 5s));
  CHECK(daemon.wait(5s) == 0);
}

TEST_CASE("sd_notify: WATCHDOG_PID of another process means no keep-alives", "[systemd][notify]") {
  Setup setup;
  NotifySocket notify(setup.dir.path() / "notify.sock");
  Daemon daemon(setup.args(),
                {"NOTIFY_SOCKET=" + notify.path().string(), "WATCHDOG_USEC=100000",
                 "WATCHDOG_PID=" + std::to_string(::getpid())},
                setup.dir.path() / "daemon.log");
  REQUIRE(notify.wait_for("READY=1", 15s));
  int watchdogs = 0;
  while (auto message = notify.receive(800ms)) watchdogs += *message == "WATCHDOG=1" ? 1 : 0;
  CHECK(watchdogs == 0);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(5s) == 0);
}

TEST_CASE("an invalid web config refuses to start, naming file, line and key", "[systemd][web]") {
  Setup setup;
  const auto web = setup.dir.write(
      "web.yml", "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n");
  auto args = setup.args();
  args.push_back("--web.config.file=" + web.string());
  const auto log = setup.dir.path() / "daemon.log";
  Daemon daemon(args, {}, log);
  CHECK(daemon.wait(10s) == 1);
  CHECK(read_file(log) == web.string() +
                              ":2: tls_server_config.cert_file: failed to read cert_file (" +
                              (setup.dir.path() / "nope.crt").string() +
                              "): open: No such file or directory (not_found)\n");
  // --config.check validates the web config too.
  const auto check =
      run(std::string(CERTWATCH_BINARY) + " --config.check --config.file=" + setup.config.string() +
          " --web.config.file=" + web.string());
  CHECK(check.exit_code == 1);
}

TEST_CASE("SIGHUP re-reads the web config and keeps the running one when invalid",
          "[systemd][web]") {
  Setup setup;
  // bcrypt of "pw" at cost 4, made with crypt_r; fixed so this test needs no libcrypt.
  const std::string users =
      "basic_auth_users:\n  alice: "
      "'$2b$04$H8aRbI52U5IPA8A63IDxe.tHtWM6M7CYvIWL/JiD4Fh.X7d1hW4Tm'\n";
  const auto web = setup.dir.write("web.yml", users);
  NotifySocket notify(setup.dir.path() / "notify.sock");
  auto args = setup.args();
  args.push_back("--web.config.file=" + web.string());
  const auto log = setup.dir.path() / "daemon.log";
  Daemon daemon(args, {"NOTIFY_SOCKET=" + notify.path().string()}, log);
  INFO(read_file(log));
  REQUIRE(notify.wait_for("READY=1", 15s));
  CHECK(status_of(setup.port, "") == 401);
  CHECK(status_of(setup.port, certwatch::testing::basic_authorization("alice", "pw")) == 200);

  setup.dir.write("web.yml", "basic_auth_users:\n  alice: plaintext\n");
  daemon.signal(SIGHUP);
  REQUIRE(notify.wait_for("READY=1", 5s));
  CHECK(status_of(setup.port, "") == 401);
  CHECK(status_of(setup.port, certwatch::testing::basic_authorization("alice", "pw")) == 200);
  CHECK(read_file(log).find("web config rejected, keeping the running one: " + web.string() +
                            ":2: basic_auth_users.alice: not a bcrypt hash") != std::string::npos);

  setup.dir.write("web.yml", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n");
  daemon.signal(SIGHUP);
  REQUIRE(notify.wait_for("READY=1", 5s));
  CHECK(status_of(setup.port, "") == 200);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(5s) == 0);
}

TEST_CASE("the unit's systemd-analyze exposure is 2.0 or less", "[systemd][unit]") {
  if (!require_tool("systemd-analyze", "scripts/deps.sh installs systemd")) return;
  const std::string unit = std::string(CERTWATCH_SOURCE_DIR) + "/systemd/crdb-certwatch.service";
  const auto result = run("systemd-analyze security --offline=true --no-pager " + unit);
  INFO(result.output);
  std::smatch match;
  REQUIRE(std::regex_search(result.output, match,
                            std::regex(R"(Overall exposure level for \S+: ([0-9]+\.[0-9]))")));
  const double exposure = std::stod(match[1].str());
  WARN("systemd-analyze exposure: " << exposure);
  CHECK(exposure <= 2.0);
  const std::string text = read_file(unit);
  for (const std::string line :
       {"Type=notify",
        "ExecStart=/usr/bin/crdb-certwatch --config.file=/etc/crdb-certwatch/config.yaml",
        "ExecReload=/bin/kill -HUP $MAINPID", "User=crdb-certwatch", "CapabilityBoundingSet=\n",
        "ProtectSystem=strict", "WatchdogSec="}) {
    CHECK(text.find(line) != std::string::npos);
  }
  // The user's groups from /etc/group, and no group systemd must find to start the unit: a
  // missing one fails it with 216/GROUP (a host without CockroachDB's `cockroach` group).
  CHECK(("\n" + text).find("\nGroup=") == std::string::npos);
  CHECK(("\n" + text).find("\nSupplementaryGroups=") == std::string::npos);
}

TEST_CASE("cpack builds a .deb with the binary, unit, conffile, docs and user creation",
          "[systemd][package]") {
  if (!require_tool("dpkg-deb", "scripts/deps.sh installs dpkg-dev")) return;
  if (!require_tool("dpkg-shlibdeps", "scripts/deps.sh installs dpkg-dev")) return;
  TempDir out;
  const fs::path deb = build_deb(out);
  const auto contents = run("dpkg-deb -c " + deb.string());
  INFO(contents.output);
  for (const std::string path :
       {"./usr/bin/crdb-certwatch", "./usr/lib/systemd/system/crdb-certwatch.service",
        "./etc/crdb-certwatch/config.yaml", "./usr/share/doc/crdb-certwatch/README.md",
        "./usr/share/doc/crdb-certwatch/config.example.yaml",
        "./usr/share/doc/crdb-certwatch/web-config.example.yml",
        "./usr/share/doc/crdb-certwatch/runbooks/CrdbCertExpired.md",
        // Issue 25: what Prometheus and Grafana load, and the copyright file Debian requires.
        "./usr/share/crdb-certwatch/prometheus/crdb-certwatch.rules.yml",
        "./usr/share/crdb-certwatch/grafana/crdb-certwatch.json",
        "./usr/share/doc/crdb-certwatch/copyright"}) {
    CHECK(contents.output.find(" " + path + "\n") != std::string::npos);
  }
  CHECK(run("dpkg-deb -I " + deb.string() + " conffiles").output ==
        "/etc/crdb-certwatch/config.yaml\n");
  const auto postinst = run("dpkg-deb -I " + deb.string() + " postinst").output;
  CHECK(postinst.find("adduser --system --group") != std::string::npos);
  CHECK(postinst.find("join_group cockroach") != std::string::npos);
  CHECK(postinst.find("stat -c %G") != std::string::npos);
  CHECK(run("dpkg-deb -I " + deb.string() + " prerm")
            .output.find("systemctl stop crdb-certwatch.service") != std::string::npos);
  const auto depends = run("dpkg-deb -f " + deb.string() + " Depends").output;
  CHECK(depends.find("adduser") != std::string::npos);
  CHECK(depends.find("libssl3") != std::string::npos);  // from dpkg-shlibdeps
  CHECK(depends.find("libcrypt1") != std::string::npos);
  // The packaged default config is one the binary accepts.
  const auto check =
      run(std::string(CERTWATCH_BINARY) + " --config.check --config.file=" + CERTWATCH_SOURCE_DIR +
          "/config/default.yaml");
  INFO(check.output);
  CHECK(check.exit_code == 0);
}

// Hidden ([.]) so that its own CTest entry, with a longer timeout and the label `slow`, is its
// only run (tests/CMakeLists.txt). A minute or two: a root extracted from a cached tarball, and
// the package's dependencies from Debian's archive.
TEST_CASE("the .deb installs in a clean Debian root without a cockroach group",
          "[.][systemd][package][deb-root]") {
  if (!require_tool("dpkg-deb", "scripts/deps.sh installs dpkg-dev")) return;
  if (!require_tool("dpkg-shlibdeps", "scripts/deps.sh installs dpkg-dev")) return;
  if (!require_tool("debootstrap", "scripts/deps.sh installs debootstrap")) return;
  if (!require_tool("chroot", "coreutils")) return;
  if (!certwatch::testing::require_root("chroot and mount need root")) return;
  TempDir out;
  const fs::path deb = build_deb(out);
  const auto installed = certwatch::testing::run_shell(
      std::string(CERTWATCH_SOURCE_DIR) + "/tests/support/clean_root_install.sh " + deb.string(),
      std::chrono::seconds{1200});
  INFO(installed.out);
  REQUIRE(installed.exit_code == 0);
  const auto fact = [&](const std::string& name) {
    std::smatch match;
    const bool found =
        std::regex_search(installed.out, match, std::regex("(^|\n)" + name + "=([^\n]*)"));
    return found ? match[2].str() : "<not reported>";
  };
  CHECK(fact("cockroach_group_before") == "absent");
  CHECK(fact("install_exit") == "0");
  CHECK(fact("user") == "crdb-certwatch");
  CHECK(fact("unit_group_settings") == "none");
  CHECK(fact("groups_after_install") == "crdb-certwatch");
  // A certs directory owned by a new group, named in the config: reconfiguring joins it; a
  // root-owned directory and a missing one add nothing.
  CHECK(fact("reconfigure_exit") == "0");
  CHECK(fact("groups_after_reconfigure") == "crdb-certwatch crdbcerts");
  // CockroachDB installed afterwards: its group is joined on the next configure.
  CHECK(fact("reconfigure_exit_with_cockroach") == "0");
  CHECK(fact("groups_with_cockroach") == "crdb-certwatch crdbcerts cockroach");
  // Installed where the docs say (issue 25).
  CHECK(fact("shipped") ==
        "/usr/share/crdb-certwatch/grafana/crdb-certwatch.json "
        "/usr/share/crdb-certwatch/prometheus/crdb-certwatch.rules.yml "
        "/usr/share/doc/crdb-certwatch/copyright");
}
