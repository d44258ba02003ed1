// Issue 28, through the real binary: a slow or blocked source starves no other (each source polls
// on a thread of its own), stale sources are named by /-/healthy and the last-success metric, a
// reload of a big config never stops the endpoint answering, and running out of file descriptors
// backs the accept loop off instead of spinning a core.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/certgen.hpp"
#include "support/exposition.hpp"
#include "support/fake_cloud_api.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::testing::ChildOutput;
using certwatch::testing::ChildProcess;
using certwatch::testing::FakeCloudApi;
using certwatch::testing::LoopbackConnection;
using certwatch::testing::Reply;
using certwatch::testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kApiKey = "CCDB1_sekritTOKENvalue0123456789abcdef";
constexpr std::string_view kClusterId = "6a1b2c3d-0000-4e5f-8a9b-0123456789ab";

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Listening sockets on 127.0.0.1 that never accept: the kernel completes the TCP handshake and
// then nothing ever answers, as a hung node would.
class SilentListeners {
 public:
  explicit SilentListeners(int count) {
    for (int i = 0; i < count; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(fd >= 0);
      fds_.push_back(fd);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      REQUIRE(::listen(fd, 64) == 0);
      socklen_t length = sizeof addr;
      REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
      ports_.push_back(ntohs(addr.sin_port));
    }
  }
  ~SilentListeners() {
    for (const int fd : fds_) ::close(fd);
  }
  SilentListeners(const SilentListeners&) = delete;
  SilentListeners& operator=(const SilentListeners&) = delete;
  const std::vector<int>& ports() const { return ports_; }

 private:
  std::vector<int> fds_;
  std::vector<int> ports_;
};

// The daemon on 127.0.0.1, port 0; `shell_prefix` (e.g. "ulimit -n 64; ") runs before it, in
// the same process. Stopped when the object dies.
class Daemon {
 public:
  Daemon(const TempDir& dir, const fs::path& config, const std::string& shell_prefix = "")
      : log_file_(dir.path() / "daemon.log"),
        process_({"sh", "-c", shell_prefix + "exec \"$0\" \"$@\"", CERTWATCH_BINARY,
                  "--config.file=" + config.string(), "--web.listen-address=127.0.0.1:0",
                  "--log.level=info"},
                 ChildOutput{dir.path() / "daemon.out", log_file_}) {
    const std::regex listening{R"(\(port ([0-9]+)\))"};
    const auto deadline = Clock::now() + 15s;
    while (Clock::now() < deadline && port_ == 0) {
      std::smatch match;
      const std::string log = process_.log();
      if (std::regex_search(log, match, listening)) port_ = std::stoi(match[1]);
      if (!process_.running()) FAIL("the daemon exited:\n" << log);
      std::this_thread::sleep_for(10ms);
    }
    if (port_ == 0) FAIL("the daemon did not log its port:\n" << process_.log());
    started_ = Clock::now();
  }

  int port() const { return port_; }
  std::string log() const { return process_.log(); }
  pid_t pid() const { return process_.pid(); }
  Clock::time_point started() const { return started_; }
  void signal(int sig) const { REQUIRE(process_.signal(sig)); }

  std::string scrape() const {
    const auto res = certwatch::testing::http_get(port_, "/metrics", 5s);
    return res && res->status == 200 ? res->body : "";
  }
  // The first exposition for which `done` holds, or nullopt after `within`.
  template <typename Done>
  std::optional<std::string> scrape_until(Done done, std::chrono::milliseconds within) const {
    const auto deadline = Clock::now() + within;
    while (Clock::now() < deadline) {
      std::string text = scrape();
      if (done(text)) return text;
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }

 private:
  fs::path log_file_;
  ChildProcess process_;
  int port_ = 0;
  Clock::time_point started_;
};

// Whether some sample line of `text` has every one of `parts`.
bool has_sample(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& line : certwatch::testing::lines_of(text)) {
    if (std::all_of(parts.begin(), parts.end(),
                    [&](const std::string& p) { return line.find(p) != std::string::npos; })) {
      return true;
    }
  }
  return false;
}

// The value of the one sample `series` (name and labels as rendered), or nullopt.
std::optional<double> sample(const std::string& text, const std::string& series) {
  const auto lines = certwatch::testing::lines_starting(text, series + " ");
  if (lines.size() != 1) return std::nullopt;
  return std::stod(lines.front().substr(series.size() + 1));
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15).
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  REQUIRE(close != std::string::npos);
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

const std::vector<std::string> kExpiredNode{"crdb_cert_expiry_state{", "cert_type=\"node\"",
                                            "action=\"expired\"", "} 1"};

}  // namespace

TEST_CASE("silent probe targets and a stalled Cloud API starve no other source and are named",
          "[isolation][hostile]") {
  TempDir dir;
  dir.write("certs/node.crt", certwatch::testing::cert_pem_with_time_left("node", 200 * 86400));
  dir.write("certs/ca.crt",
            certwatch::testing::cert_pem_with_time_left("Cockroach CA", 900 * 86400, true));
  // 200 targets that never speak, two handshakes at a time, 5 s each: a probe poll takes
  // 500 s against an interval of 2 s.
  SilentListeners silent(200);
  FakeCloudApi api(dir);
  api.set({200, certwatch::testing::cmek_cluster_json("ENABLED"), {}, true});  // hangs
  const auto key_file = dir.write("api.key", std::string(kApiKey) + "\n", 0600);
  std::string yaml = "deployment:\n  tier: advanced\npoll_interval: 2s\nfiles:\n  certs_dirs: [" +
                     (dir.path() / "certs").string() +
                     "]\nprobe:\n  poll_interval: 2s\n  timeout: 5s\n  concurrency: 2\n"
                     "  targets:\n";
  for (const int port : silent.ports()) {
    yaml += "    - {address: '127.0.0.1:" + std::to_string(port) + "', protocol: tls}\n";
  }
  yaml += "cmek:\n  api_url: https://127.0.0.1:" + std::to_string(api.port()) +
          "\n  cluster_id: " + std::string(kClusterId) + "\n  api_key_file: " + key_file.string() +
          "\n  ca_file: " + api.ca_file() + "\n  poll_interval: 2s\n  timeout: 120s\n";
  const auto config = dir.write("config.yaml", yaml);
  Daemon daemon(dir, config);

  // The file source's certificates within about one file poll of the start (68 s before).
  const auto first = daemon.scrape_until(
      [](const std::string& text) {
        return has_sample(text, {"crdb_cert_not_after_timestamp_seconds{", "cert_type=\"node\""});
      },
      10s);
  INFO(daemon.log());
  REQUIRE(first);
  CHECK(Clock::now() - daemon.started() < 6s);
  CHECK(sample(*first, "crdb_cert_source_up{source=\"file\"}") == 1.0);

  // Past their interval both slow sources overran: counted, logged once a poll, and named stale
  // by /-/healthy, which stays 200; /-/ready names what it still waits for.
  const auto overran = daemon.scrape_until(
      [](const std::string& text) {
        return sample(text, "crdb_cert_source_overruns_total{source=\"probe\"}").value_or(0) >= 1 &&
               sample(text, "crdb_cert_source_overruns_total{source=\"cmek\"}").value_or(0) >= 1;
      },
      15s);
  REQUIRE(overran);
  CHECK(sample(*overran, "crdb_cert_source_overruns_total{source=\"file\"}") == 0.0);
  CHECK(daemon.log().find("poll of source probe still running after its interval of 2s") !=
        std::string::npos);
  CHECK(daemon.log().find("poll of source cmek still running after its interval of 2s") !=
        std::string::npos);
  const auto healthy = certwatch::testing::http_get(daemon.port(), "/-/healthy", 5s);
  REQUIRE(healthy);
  CHECK(healthy->status == 200);
  CHECK(healthy->body.starts_with("Healthy\n"));
  CHECK(healthy->body.find("stale: probe (a poll running for ") != std::string::npos);
  CHECK(healthy->body.find("stale: cmek (a poll running for ") != std::string::npos);
  CHECK(healthy->body.find("stale: file") == std::string::npos);
  const auto ready = certwatch::testing::http_get(daemon.port(), "/-/ready", 5s);
  REQUIRE(ready);
  CHECK(ready->status == 503);
  CHECK(ready->body.find("still polling: ") != std::string::npos);
  CHECK(ready->body.find("probe") != std::string::npos);
  CHECK(ready->body.find("cmek") != std::string::npos);
  CHECK(ready->body.find("file") == std::string::npos);

  // While both stay blocked, a node.crt that expires on disk shows within a file poll.
  dir.write("certs/node.crt", certwatch::testing::cert_pem_with_time_left("node", -3600));
  const auto replaced = Clock::now();
  const auto expired = daemon.scrape_until(
      [](const std::string& text) { return has_sample(text, kExpiredNode); }, 15s);
  REQUIRE(expired);
  CHECK(Clock::now() - replaced < 5s);

  // The API answers again: cmek succeeds once (its last success is fresh), then stalls again;
  // the last-success metric stops while the file source's keeps moving, and /-/healthy names
  // cmek once that is 2.5 intervals old.
  api.set({200, certwatch::testing::cmek_cluster_json("ENABLED"), {}, false});
  const auto answered = daemon.scrape_until(
      [](const std::string& text) {
        return sample(text, "crdb_cert_source_up{source=\"cmek\"}") == 1.0;
      },
      15s);
  REQUIRE(answered);
  api.set({200, certwatch::testing::cmek_cluster_json("ENABLED"), {}, true});
  std::this_thread::sleep_for(7s);  // more than 2.5 intervals (and one more poll) later
  const auto stale = certwatch::testing::http_get(daemon.port(), "/-/healthy", 5s);
  REQUIRE(stale);
  INFO(stale->body);
  CHECK(stale->status == 200);
  CHECK(stale->body.find("stale: cmek (") != std::string::npos);
  CHECK(stale->body.find("stale: file") == std::string::npos);
  const std::string later = daemon.scrape();
  const double now = unix_now();
  const auto cmek_success =
      sample(later, "crdb_cert_source_last_success_timestamp_seconds{source=\"cmek\"}");
  REQUIRE(cmek_success);
  CHECK(now - *cmek_success > 2.5 * 2.0);
  const auto file_success =
      sample(later, "crdb_cert_source_last_success_timestamp_seconds{source=\"file\"}");
  REQUIRE(file_success);
  CHECK(now - *file_success < 2.5 * 2.0);
  api.set({503, "{}", {}, false});  // lets the hung request go before the stand-in stops
}

TEST_CASE("a SIGHUP with a big config never stops the endpoint answering", "[isolation][reload]") {
  TempDir dir;
  dir.write("certs/node.crt", certwatch::testing::cert_pem_with_time_left("node", 200 * 86400));
  // A config near the 4 MiB limit: parsing it takes a while, and it used to on the io thread.
  std::string yaml = "poll_interval: 5s\nfiles:\n  certs_dirs: [" +
                     (dir.path() / "certs").string() + "]\nalerting:\n  extra_labels:\n";
  for (int i = 0; yaml.size() < 3'900'000; ++i) yaml += "    label_" + std::to_string(i) + ": v\n";
  const auto config = dir.write("config.yaml", yaml);
  Daemon daemon(dir, config);
  REQUIRE(daemon.scrape_until(
      [](const std::string& text) {
        return has_sample(text, {"crdb_cert_not_after_timestamp_seconds{", "cert_type=\"node\""});
      },
      30s));
  const auto reload_at = [](const std::string& text) {
    return sample(text, "crdb_cert_config_last_reload_success_timestamp_seconds").value_or(0);
  };
  const double loaded_at = reload_at(daemon.scrape());

  struct Answer {
    double sent;      // unix seconds
    double latency;   // seconds
    double reloaded;  // the reload timestamp it showed
  };
  std::vector<Answer> answers;
  const double hup_at = unix_now();
  daemon.signal(SIGHUP);
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    const double sent = unix_now();
    const auto res = certwatch::testing::http_get(daemon.port(), "/metrics", 30s);
    REQUIRE(res);
    REQUIRE(res->status == 200);
    answers.push_back({sent, unix_now() - sent, reload_at(res->body)});
    if (answers.back().reloaded > loaded_at) break;
    std::this_thread::sleep_for(20ms);
  }
  INFO(daemon.log());
  REQUIRE(!answers.empty());
  const double reloaded = answers.back().reloaded;
  REQUIRE(reloaded > loaded_at);
  const double reload_took = reloaded - hup_at;
  // The reload is slow enough to tell (else the test proves nothing) ...
  REQUIRE(reload_took > 0.3);
  // ... and scrapes kept being answered at once meanwhile.
  std::size_t during = 0;
  double worst = 0;
  for (const Answer& a : answers) {
    if (a.sent + a.latency < reloaded) {
      ++during;
      worst = std::max(worst, a.latency);
    }
  }
  INFO("reload took " << reload_took << " s; " << during << " scrapes answered meanwhile, worst "
                      << worst << " s");
  CHECK(during >= 3);
  CHECK(worst < std::max(0.25, reload_took / 3));
  CHECK(daemon.log().find("configuration reloaded") != std::string::npos);
}

TEST_CASE("out of file descriptors the accept loop backs off and says so once",
          "[isolation][hostile]") {
  TempDir dir;
  dir.write("certs/node.crt", certwatch::testing::cert_pem_with_time_left("node", 200 * 86400));
  const auto config = dir.write("config.yaml", "poll_interval: 60s\nfiles:\n  certs_dirs: [" +
                                                   (dir.path() / "certs").string() + "]\n");
  Daemon daemon(dir, config, "ulimit -n 40 && ");
  REQUIRE(daemon.scrape_until([](const std::string& text) { return !text.empty(); }, 10s));
  // More connections than descriptors are left: the rest wait in the backlog, and accept(2)
  // fails with EMFILE every time it is tried.
  std::vector<LoopbackConnection> held;
  for (int i = 0; i < 80; ++i) {
    held.emplace_back(daemon.port(), 2000ms);
    REQUIRE(held.back().connected());
  }
  std::this_thread::sleep_for(500ms);
  const double cpu_before = cpu_seconds(daemon.pid());
  const auto measured_from = Clock::now();
  std::this_thread::sleep_for(3s);
  const double cpu = cpu_seconds(daemon.pid()) - cpu_before;
  const double wall = std::chrono::duration<double>(Clock::now() - measured_from).count();
  INFO(daemon.log());
  // Spinning took 85% of a core; backing off to 1 s costs next to nothing.
  CHECK(cpu < 0.1 * wall);
  CHECK(count(daemon.log(), "accepting a connection failed: Too many open files") == 1);
  // Descriptors come back: it accepts again, and says so.
  held.clear();
  const auto res = certwatch::testing::http_get(daemon.port(), "/-/healthy", 10s);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(daemon.log().find("accepting connections again after") != std::string::npos);
}
