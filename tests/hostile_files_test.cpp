// Issue 11: every file the daemon reads, given as something that is not a regular file (a FIFO
// that would block, /dev/zero that never ends, a directory), and durations past their range. The
// built binary runs as a child process: it must fail fast at start, keep serving on SIGHUP and on
// new TLS handshakes, and never open a .key file a glob matches.
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "exporter/metrics.hpp"
#include "support/certgen.hpp"
#include "support/exposition.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::testing::CertSpec;
using certwatch::testing::ChildOutput;
using certwatch::testing::ChildProcess;
using certwatch::testing::CommandResult;
using certwatch::testing::find_free_port;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::has_line;
using certwatch::testing::http_get;
using certwatch::testing::lines_starting;
using certwatch::testing::run_command;
using certwatch::testing::TempDir;
using Clock = std::chrono::steady_clock;

// What a path can wrongly be. Each refuses differently if read naively: open(2) of a FIFO
// blocks until a writer comes, /dev/zero reads for ever, a directory fails only at read.
enum class Special { fifo, char_device, directory };
constexpr Special kSpecials[] = {Special::fifo, Special::char_device, Special::directory};

const char* name_of(Special kind) {
  switch (kind) {
    case Special::fifo:
      return "FIFO";
    case Special::char_device:
      return "/dev/zero";
    case Special::directory:
      return "directory";
  }
  return "?";
}

// Replaces whatever is at `path` with the special file.
void make_special(const fs::path& path, Special kind) {
  fs::remove_all(path);
  switch (kind) {
    case Special::fifo:
      REQUIRE(::mkfifo(path.c_str(), 0644) == 0);
      break;
    case Special::char_device:
      fs::create_symlink("/dev/zero", path);  // open(2) follows it to the device
      break;
    case Special::directory:
      fs::create_directory(path);
      break;
  }
}

CertSpec spec(const std::string& common_name, bool is_ca = false) {
  CertSpec out;
  out.common_name = common_name;
  out.is_ca = is_ca;
  out.dns_names = {"localhost"};
  out.ip_addresses = {"127.0.0.1"};
  return out;
}

bool tool_present(const std::string& tool) {
  return run_command({"sh", "-c", "command -v " + tool}, 10s).exit_code == 0;
}

// A tool the test needs: missing under CI is a failure, elsewhere a warning and a skip.
bool need_tool(const std::string& tool) {
  if (tool_present(tool)) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") FAIL(tool << " is required (scripts/deps.sh)");
  WARN(tool << " not installed: part of this test did not run");
  return false;
}

// One-shot run of the binary; a run that does not end within 10 s is a hang, and fails.
CommandResult run_binary(const std::vector<std::string>& args) {
  std::vector<std::string> argv{CERTWATCH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = run_command(argv, 10s);
  if (result.timed_out) FAIL("crdb-certwatch did not exit within 10 s: it hangs");
  return result;
}

// The run failed, and said which file and why.
void check_refused(const CommandResult& result, const fs::path& path) {
  const std::string said = result.out + result.err;
  INFO(said);
  CHECK(result.exit_code != 0);
  CHECK(said.find(path.string()) != std::string::npos);
  CHECK(said.find("not_regular_file") != std::string::npos);
}

// Certificates for the daemon's own HTTPS endpoint, and a config that polls an empty dir.
struct Setup {
  TempDir tmp;
  fs::path config = tmp.path() / "config.yaml";
  fs::path web_config = tmp.path() / "web.yml";
  GeneratedCert ca = generate_cert(spec("test CA", true));
  GeneratedCert server = generate_cert(spec("localhost"), &ca);
  fs::path cert_file = tmp.write("tls/server.crt", server.cert_pem);
  fs::path key_file = tmp.write("tls/server.key", server.key_pem, 0600);
  fs::path client_ca_file = tmp.write("tls/ca.crt", ca.cert_pem);

  Setup() {
    tmp.write("certs/.keep", "");
    write_good_config();
    write_web_config(true);
  }
  void write_good_config() const {
    fs::remove_all(config);
    tmp.write("config.yaml", "poll_interval: 1s\nfiles:\n  certs_dirs: [" +
                                 (tmp.path() / "certs").string() + "]\n");
  }
  // HTTPS with every TLS file, or (tls false) an empty web config: plain HTTP.
  void write_web_config(bool tls) const {
    fs::remove_all(web_config);
    tmp.write("web.yml", !tls ? ""
                              : "tls_server_config:\n  cert_file: " + cert_file.string() +
                                    "\n  key_file: " + key_file.string() +
                                    "\n  client_ca_file: " + client_ca_file.string() +
                                    "\n  client_auth_type: VerifyClientCertIfGiven\n");
  }
  // Each TLS file, and each TLS file back to its content.
  void write_good_tls() const {
    for (const auto& [path, content] :
         {std::pair{cert_file, server.cert_pem}, std::pair{key_file, server.key_pem},
          std::pair{client_ca_file, ca.cert_pem}}) {
      fs::remove_all(path);
      tmp.write(fs::relative(path, tmp.path()).string(), content, 0600);
    }
  }
};

// The daemon in the background, on a free loopback port.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& prefix, const std::vector<std::string>& flags,
         const fs::path& log_dir)
      : port_(find_free_port()),
        process_(argv(prefix, flags, port_), ChildOutput{log_dir / "out", log_dir / "log"}) {}

  int port() const { return port_; }
  std::string log() const { return process_.log(); }
  void signal(int sig) const { REQUIRE(process_.signal(sig)); }

  // Polls `fetch` until `condition` holds on what it returns, at most `timeout`.
  template <typename Fetch, typename Condition>
  std::string wait_for(Fetch fetch, Condition condition, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    std::string last;
    while (Clock::now() < deadline) {
      last = fetch();
      if (condition(last)) return last;
      if (process_.wait_exit(0ms)) FAIL("crdb-certwatch exited; log:\n" << log());
      std::this_thread::sleep_for(100ms);
    }
    FAIL("not within " << timeout.count() << " ms; last:\n" << last << "\nlog:\n" << log());
    return last;
  }
  std::string metrics() const {
    const auto res = http_get(port_, "/metrics", 5s);
    return res && res->status == 200 ? res->body : "";
  }
  // The body of /-/healthy over plain HTTP, or "" when it did not answer within 5 s.
  std::string healthy() const {
    const auto res = http_get(port_, "/-/healthy", 5s);
    return res && res->status == 200 ? "200" : "";
  }

 private:
  static std::vector<std::string> argv(const std::vector<std::string>& prefix,
                                       const std::vector<std::string>& flags, int port) {
    std::vector<std::string> out = prefix;
    out.push_back(CERTWATCH_BINARY);
    out.insert(out.end(), flags.begin(), flags.end());
    out.push_back("--web.listen-address=127.0.0.1:" + std::to_string(port));
    return out;
  }
  int port_;
  ChildProcess process_;
};

// An HTTPS GET of /-/healthy with curl: the status code, or "" when the handshake or the
// request did not finish within 5 s.
std::string https_healthy(int port) {
  const CommandResult res =
      run_command({"curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                   "https://127.0.0.1:" + std::to_string(port) + "/-/healthy"},
                  10s);
  return res.exit_code == 0 ? res.out : "";
}

bool reload_failed(const std::string& text) {
  return has_line(text, "crdb_cert_config_last_reload_successful 0");
}
bool reload_succeeded(const std::string& text) {
  return has_line(text, "crdb_cert_config_last_reload_successful 1");
}

}  // namespace

TEST_CASE("a config file that is not a regular file fails start and config.check fast",
          "[hostile_files]") {
  for (const Special kind : kSpecials) {
    INFO(name_of(kind));
    Setup s;
    make_special(s.config, kind);
    check_refused(run_binary({"--config.file=" + s.config.string(), "--config.check"}), s.config);
    check_refused(
        run_binary({"--config.file=" + s.config.string(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(find_free_port())}),
        s.config);
  }
}

TEST_CASE("a dsn_file that is not a regular file fails config.check fast", "[hostile_files]") {
  for (const Special kind : kSpecials) {
    INFO(name_of(kind));
    Setup s;
    const fs::path dsn = s.tmp.path() / "dsn";
    make_special(dsn, kind);
    s.tmp.write("config.yaml", "cluster:\n  dsn_file: " + dsn.string() + "\n");
    const CommandResult result =
        run_binary({"--config.file=" + s.config.string(), "--config.check"});
    check_refused(result, dsn);
    CHECK((result.out + result.err).find(":2: cluster.dsn_file: ") != std::string::npos);
  }
}

TEST_CASE("a web config or TLS file that is not a regular file fails start fast",
          "[hostile_files]") {
  for (const Special kind : kSpecials) {
    INFO(name_of(kind));
    Setup s;
    for (const fs::path* path : {&s.web_config, &s.cert_file, &s.key_file, &s.client_ca_file}) {
      INFO(path->string());
      make_special(*path, kind);
      const std::vector<std::string> flags{"--config.file=" + s.config.string(),
                                           "--web.config.file=" + s.web_config.string()};
      std::vector<std::string> check = flags;
      check.push_back("--config.check");
      check_refused(run_binary(check), *path);
      std::vector<std::string> start = flags;
      start.push_back("--web.listen-address=127.0.0.1:" + std::to_string(find_free_port()));
      check_refused(run_binary(start), *path);
      s.write_web_config(true);
      s.write_good_tls();
    }
  }
}

TEST_CASE("SIGHUP with the config or web config swapped for a special file keeps serving",
          "[hostile_files]") {
  Setup s;
  s.write_web_config(false);  // plain HTTP; the web config is still re-read on SIGHUP
  Daemon daemon(
      {}, {"--config.file=" + s.config.string(), "--web.config.file=" + s.web_config.string()},
      s.tmp.path());
  const auto metrics = [&] { return daemon.metrics(); };
  daemon.wait_for(metrics, reload_succeeded);
  for (const fs::path* path : {&s.config, &s.web_config}) {
    for (const Special kind : kSpecials) {
      INFO(path->string() << " as " << name_of(kind));
      make_special(*path, kind);
      daemon.signal(SIGHUP);
      daemon.wait_for(metrics, reload_failed);
      const auto started = Clock::now();
      CHECK(daemon.healthy() == "200");
      CHECK(Clock::now() - started < 5s);
      CHECK(daemon.log().find("not_regular_file") != std::string::npos);
      // Back to a good file, so the next kind's failure is its own.
      if (path == &s.config) {
        s.write_good_config();
      } else {
        s.write_web_config(false);
      }
      daemon.signal(SIGHUP);
      daemon.wait_for(metrics, reload_succeeded);
    }
  }
}

TEST_CASE("a TLS file swapped for a special file does not hang new handshakes", "[hostile_files]") {
  if (!need_tool("curl")) return;
  Setup s;
  Daemon daemon(
      {}, {"--config.file=" + s.config.string(), "--web.config.file=" + s.web_config.string()},
      s.tmp.path());
  const auto healthy = [&] { return https_healthy(daemon.port()); };
  daemon.wait_for(healthy, [](const std::string& code) { return code == "200"; });
  for (const fs::path* path : {&s.cert_file, &s.key_file, &s.client_ca_file}) {
    for (const Special kind : kSpecials) {
      INFO(path->string() << " as " << name_of(kind));
      make_special(*path, kind);
      // The previous context keeps serving; a hang would show as no answer within 5 s.
      CHECK(https_healthy(daemon.port()) == "200");
      CHECK(https_healthy(daemon.port()) == "200");
      s.write_good_tls();
    }
  }
  CHECK(daemon.log().find("not_regular_file") != std::string::npos);
}

TEST_CASE("config.check refuses a duration past its range", "[hostile_files]") {
  Setup s;
  for (const std::string value : {"200000w", "99999999999999999999s", "0s"}) {
    INFO(value);
    s.tmp.write("config.yaml", "poll_interval: " + value + "\n");
    const CommandResult result =
        run_binary({"--config.file=" + s.config.string(), "--config.check"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 1);
    CHECK(result.err.find(s.config.string() + ":1: poll_interval: ") != std::string::npos);
    CHECK(result.err.find("between 1s and 7d") != std::string::npos);
  }
}

TEST_CASE("a files.extra glob never opens a .key file it matches", "[hostile_files]") {
  Setup s;
  const GeneratedCert node = generate_cert(spec("node"));
  const fs::path node_crt = s.tmp.write("dir/node.crt", node.cert_pem);
  s.tmp.write("dir/x.key", node.cert_pem, 0600);  // would be exported if it were read
  REQUIRE(::mkfifo((s.tmp.path() / "dir/y.key").c_str(), 0600) == 0);
  s.tmp.write("config.yaml", "poll_interval: 1s\nfiles:\n  certs_dirs: []\n  extra:\n    - path: " +
                                 (s.tmp.path() / "dir" / "*").string() + "\n");
  // strace records every open of the daemon and its threads.
  const bool traced = need_tool("strace");
  const fs::path trace = s.tmp.path() / "opens.trace";
  std::vector<std::string> prefix;
  if (traced) {
    prefix = {"strace", "-f", "-qq", "-e", "trace=open,openat,openat2,creat", "-o", trace.string()};
  }
  Daemon daemon(prefix, {"--config.file=" + s.config.string()}, s.tmp.path());
  const std::string text =
      daemon.wait_for([&] { return daemon.metrics(); },
                      [](const std::string& t) {
                        return !lines_starting(t, "crdb_cert_not_after_timestamp_seconds{").empty();
                      },
                      20s);
  INFO(text);
  const auto series = lines_starting(text, "crdb_cert_not_after_timestamp_seconds{");
  REQUIRE(series.size() == 1);
  CHECK(series[0].find("path=\"" + node_crt.string() + "\"") != std::string::npos);
  CHECK(text.find(".key") == std::string::npos);  // neither a series nor a crdb_cert_file_error
  if (traced) {
    const std::string opens = certwatch::testing::read_file(trace);
    INFO(opens);
    CHECK(opens.find("node.crt\"") != std::string::npos);  // the trace does see the reads
    CHECK(opens.find(".key\"") == std::string::npos);
  }
}

// Issue 28 item 8: every configuration key that names a path, each pointed at a FIFO, /dev/zero
// and (for a file) a directory. `--config.check`, `check` and the daemon must each refuse it
// within 10 s, naming the file, line, key and path. The table below must cover
// certwatch::config::kPathKeys, the parser's own list of its path keys: a path key added there
// without a case here fails this test.
TEST_CASE("every path key pointed at a FIFO, a device or a directory is refused fast",
          "[hostile_files]") {
  using certwatch::config::PathKind;
  Setup s;
  const fs::path good_pem = s.cert_file;
  const fs::path api_key = s.tmp.write("api.key", "CCDB1_key0123456789", 0600);
  const std::string cmek =
      "deployment:\n  tier: advanced\ncmek:\n  cluster_id: "
      "6a1b2c3d-0000-4e5f-8a9b-0123456789ab\n  api_key_file: ";
  const std::string probe = "probe:\n  targets:\n    - {address: \"127.0.0.1:1\"}\n";
  const std::string node_vars =
      "cluster:\n  dsn: 'postgresql://monitor@127.0.0.1:1/defaultdb'\n  node_vars:\n"
      "    enabled: true\n";
  // The key as the error names it, and a config giving it `path` (a good file elsewhere).
  struct Case {
    std::string_view key;
    std::string error_key;
    std::function<std::string(const std::string&)> config;
  };
  const std::vector<Case> cases{
      {"files.certs_dirs[]", "files.certs_dirs[0]",
       [](const std::string& p) { return "files:\n  certs_dirs: [" + p + "]\n"; }},
      {"files.extra[].path", "files.extra[0].path",
       [](const std::string& p) {
         return "files:\n  certs_dirs: []\n  extra:\n    - path: " + p + "\n";
       }},
      {"files.tls_secrets[].path", "files.tls_secrets[0].path",
       [](const std::string& p) {
         return "files:\n  certs_dirs: []\n  tls_secrets:\n    - {path: " + p +
                ", cert_type: node}\n";
       }},
      {"cluster.dsn_file", "cluster.dsn_file",
       [](const std::string& p) { return "cluster:\n  dsn_file: " + p + "\n"; }},
      {"cluster.node_vars.ca_file", "cluster.node_vars.ca_file",
       [&](const std::string& p) { return node_vars + "    ca_file: " + p + "\n"; }},
      {"cluster.node_vars.client_cert", "cluster.node_vars.client_cert",
       [&](const std::string& p) {
         return node_vars + "    client_cert: " + p + "\n    client_key: " + s.key_file.string() +
                "\n";
       }},
      {"cluster.node_vars.client_key", "cluster.node_vars.client_key",
       [&](const std::string& p) {
         return node_vars + "    client_cert: " + good_pem.string() + "\n    client_key: " + p +
                "\n";
       }},
      {"probe.ca_file", "probe.ca_file",
       [&](const std::string& p) { return probe + "  ca_file: " + p + "\n"; }},
      {"probe.client_cert", "probe.client_cert",
       [&](const std::string& p) {
         return probe + "  client_cert: " + p + "\n  client_key: " + s.key_file.string() + "\n";
       }},
      {"probe.client_key", "probe.client_key",
       [&](const std::string& p) {
         return probe + "  client_cert: " + good_pem.string() + "\n  client_key: " + p + "\n";
       }},
      {"checks.denylist_file", "checks.denylist_file",
       [](const std::string& p) { return "checks:\n  denylist_file: " + p + "\n"; }},
      {"cmek.api_key_file", "cmek.api_key_file",
       [&](const std::string& p) { return cmek + p + "\n"; }},
      {"cmek.ca_file", "cmek.ca_file",
       [&](const std::string& p) { return cmek + api_key.string() + "\n  ca_file: " + p + "\n"; }},
      {"rotation_journal", "rotation_journal",
       [](const std::string& p) {
         return "files:\n  certs_dirs: []\nrotation_journal: " + p + "\n";
       }},
  };
  std::set<std::string_view> covered;
  for (const Case& c : cases) covered.insert(c.key);
  for (const auto& known : certwatch::config::kPathKeys) {
    INFO("config::kPathKeys has " << known.key << ": add its case to this test");
    CHECK(covered.count(known.key) == 1);
  }
  CHECK(covered.size() == std::size(certwatch::config::kPathKeys));

  const fs::path target = s.tmp.path() / "target";
  for (const Case& c : cases) {
    const auto known = std::find_if(std::begin(certwatch::config::kPathKeys),
                                    std::end(certwatch::config::kPathKeys),
                                    [&](const auto& k) { return k.key == c.key; });
    REQUIRE(known != std::end(certwatch::config::kPathKeys));
    for (const Special kind : kSpecials) {
      if (kind == Special::directory && known->kind == PathKind::directory) continue;
      INFO(c.key << " as " << name_of(kind));
      make_special(target, kind);
      s.tmp.write("config.yaml", c.config(target.string()));
      const std::string config = "--config.file=" + s.config.string();
      const auto refused = [&](const CommandResult& result) {
        const std::string said = result.out + result.err;
        INFO(said);
        CHECK(result.exit_code != 0);
        CHECK(said.find(s.config.string() + ":") != std::string::npos);
        CHECK(said.find(": " + c.error_key + ": ") != std::string::npos);
        CHECK(said.find(target.string()) != std::string::npos);
        CHECK((said.find("not_regular_file") != std::string::npos ||
               said.find("not_a_directory") != std::string::npos));
      };
      refused(run_binary({config, "--config.check"}));
      refused(run_binary({"check", config}));
      refused(run_binary(
          {config, "--web.listen-address=127.0.0.1:" + std::to_string(find_free_port())}));
    }
  }
}

// Issue 28 (low): "keys are never opened" held for a name ending in .key, but a certificate name
// that is a symlink to a key was opened. Every way a certificate name is followed: a TLS Secret's
// tls.crt, a certs directory's node.crt, a files.extra glob's match. Each link's key holds a
// certificate, so reading it would export a series.
TEST_CASE("a certificate name that links to a .key file is never opened", "[hostile_files]") {
  Setup s;
  const GeneratedCert node = generate_cert(spec("node"));
  const GeneratedCert decoy = generate_cert(spec("read from a key"));
  const fs::path keys = s.tmp.path() / "keys";
  s.tmp.write("keys/secret.key", decoy.cert_pem, 0600);
  s.tmp.write("keys/certs.key", decoy.cert_pem, 0600);
  s.tmp.write("keys/extra.key", decoy.cert_pem, 0600);
  s.tmp.write("secret/ca.crt", s.ca.cert_pem);
  s.tmp.write("secret/tls.key", decoy.cert_pem, 0600);
  fs::create_symlink(keys / "secret.key", s.tmp.path() / "secret/tls.crt");
  s.tmp.write("certs/ca.crt", s.ca.cert_pem);
  fs::create_symlink(keys / "certs.key", s.tmp.path() / "certs/node.crt");
  const fs::path good = s.tmp.write("extra/good.crt", node.cert_pem);
  fs::create_symlink(keys / "extra.key", s.tmp.path() / "extra/linked.crt");
  s.tmp.write("config.yaml",
              "poll_interval: 1s\nfiles:\n  certs_dirs: [" + (s.tmp.path() / "certs").string() +
                  "]\n  tls_secrets:\n    - {path: " + (s.tmp.path() / "secret").string() +
                  ", cert_type: node}\n  extra:\n    - path: " +
                  (s.tmp.path() / "extra" / "*.crt").string() + "\n");
  const bool traced = need_tool("strace");
  const fs::path trace = s.tmp.path() / "opens.trace";
  std::vector<std::string> prefix;
  if (traced) {
    // -y: each descriptor with the file it is, so a reopen through /proc/self/fd shows its file.
    prefix = {"strace", "-f",          "-qq", "-y", "-e", "trace=open,openat,openat2,creat",
              "-o",     trace.string()};
  }
  Daemon daemon(prefix, {"--config.file=" + s.config.string()}, s.tmp.path());
  const std::string links[] = {(s.tmp.path() / "secret/tls.crt").string(),
                               (s.tmp.path() / "certs/node.crt").string(),
                               (s.tmp.path() / "extra/linked.crt").string()};
  const std::string text = daemon.wait_for(
      [&] { return daemon.metrics(); },
      [&](const std::string& t) {
        for (const auto& link : links) {
          if (t.find("crdb_cert_file_error{path=\"" + link + "\"") == std::string::npos) {
            return false;
          }
        }
        return t.find("path=\"" + good.string() + "\"") != std::string::npos;
      },
      20s);
  INFO(text);
  CHECK(text.find("read from a key") == std::string::npos);
  for (const auto& line : lines_starting(text, "crdb_cert_not_after_timestamp_seconds{")) {
    for (const auto& link : links) CHECK(line.find(link) == std::string::npos);
  }
  if (traced) {
    const std::string opens = certwatch::testing::read_file(trace);
    INFO(opens);
    CHECK(opens.find("good.crt") != std::string::npos);  // the trace does see the reads
    // A key may be named (O_PATH resolves a link without reading), never opened to read.
    std::istringstream lines(opens);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(".key") != std::string::npos) CHECK(line.find("O_PATH") != std::string::npos);
    }
  }
}

// Issue 28 (low): 200,000 empty .crt files gave 200,000 crdb_cert_file_error series. One series
// per file up to the cap, the rest counted by reason, through the real binary.
TEST_CASE("file error series stop at the cap and the rest are counted by reason",
          "[hostile_files]") {
  Setup s;
  constexpr int kFiles = 5000;
  for (int i = 0; i < kFiles; ++i) {
    s.tmp.write("certs/empty" + std::to_string(i) + ".crt", "");
  }
  Daemon daemon({}, {"--config.file=" + s.config.string()}, s.tmp.path());
  const std::string text =
      daemon.wait_for([&] { return daemon.metrics(); },
                      [](const std::string& t) {
                        return !lines_starting(t, "crdb_cert_file_errors_dropped{").empty();
                      },
                      30s);
  const auto series = lines_starting(text, "crdb_cert_file_error{");
  CHECK(series.size() == certwatch::exporter::kMaxFileErrorSeries);
  const auto dropped = lines_starting(text, "crdb_cert_file_errors_dropped{");
  INFO(text.substr(text.find("crdb_cert_file_errors_dropped")));
  double total = 0;
  for (const auto& line : dropped) total += std::stod(line.substr(line.rfind(' ') + 1));
  CHECK(total == kFiles - static_cast<double>(certwatch::exporter::kMaxFileErrorSeries));
  CHECK(has_line(text, "crdb_cert_file_errors_dropped{reason=\"no_certificate\"} " +
                           std::to_string(kFiles - certwatch::exporter::kMaxFileErrorSeries)));
  // The shown ones are the first by path, the same from poll to poll.
  CHECK(text.find("path=\"" + (s.tmp.path() / "certs/empty0.crt").string() + "\"") !=
        std::string::npos);
}
