// End to end for the file source: the built crdb-certwatch binary runs as a child process on a
// temporary certs directory and is scraped over real loopback HTTP.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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
using certwatch::testing::http_exchange;
using certwatch::testing::http_get;
using certwatch::testing::http_request;
using certwatch::testing::HttpResponse;
using certwatch::testing::kDay;
using certwatch::testing::lines_of;
using certwatch::testing::promtool_check_metrics;
using certwatch::testing::read_file;
using certwatch::testing::run_command;
using certwatch::testing::TempDir;
using certwatch::testing::unix_now;
using Clock = std::chrono::steady_clock;

std::size_t count_prefix(const std::string& text, const std::string& prefix) {
  return certwatch::testing::lines_starting(text, prefix).size();
}

std::string identity(const std::string& type, const fs::path& path, const std::string& index,
                     const std::string& user = "") {
  return "source=\"file\",cert_type=\"" + type + "\",node_id=\"\",path=\"" + path.string() +
         "\",index=\"" + index + "\",user=\"" + user + "\"";
}

// Runs the binary to completion (one-shot flags), at most 10 s.
CommandResult run_binary(const std::vector<std::string>& args) {
  std::vector<std::string> argv{CERTWATCH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = run_command(argv, 10s);
  if (result.timed_out) FAIL("crdb-certwatch did not exit within 10 s");
  return result;
}

// The daemon as a child process (stderr is its log); stopped in the destructor if a test left it
// running.
class Daemon {
 public:
  Daemon(const fs::path& config, const fs::path& log_dir)
      : port_(find_free_port()),
        process_({CERTWATCH_BINARY, "--config.file=" + config.string(),
                  "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=debug"},
                 ChildOutput{log_dir / "daemon.out", log_dir / "daemon.log"}) {}
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int port() const { return port_; }
  std::string log() const { return process_.log(); }
  void signal(int sig) const { REQUIRE(process_.signal(sig)); }

  // Exit code once it stopped within `timeout`; nullopt if still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto status = process_.wait_exit(timeout);
    if (!status) return std::nullopt;
    return certwatch::testing::exit_code_of(*status);
  }

  // Waits for /-/ready (the first poll of every source has finished).
  void wait_ready() {
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      const auto res = http_get(port_, "/-/ready", 1s);
      if (res && res->status == 200) return;
      if (process_.wait_exit(0ms)) {
        FAIL("crdb-certwatch exited early; log:\n" << log());
      }
      std::this_thread::sleep_for(50ms);
    }
    FAIL("crdb-certwatch not ready within 10 s; log:\n" << log());
  }

  std::string scrape() const {
    const auto res = http_get(port_, "/metrics");
    INFO(log());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return res->body;
  }

  // Scrapes until `condition` holds on the exposition (a poll every second), at most `timeout`.
  template <typename Condition>
  std::string scrape_until(Condition condition, std::chrono::milliseconds timeout = 6s) const {
    const auto deadline = Clock::now() + timeout;
    std::string text;
    while (Clock::now() < deadline) {
      text = scrape();
      if (condition(text)) return text;
      std::this_thread::sleep_for(100ms);
    }
    INFO("last exposition:\n" << text << "\nlog:\n" << log());
    FAIL("the expected change did not show within " << timeout.count() << " ms");
    return text;
  }

 private:
  int port_;
  ChildProcess process_;
};

// notBefore is an hour before notAfter's reference `now`, set here rather than left to certgen's
// own clock, which may read a second later than the test's.
GeneratedCert make_cert(const std::string& cn, std::int64_t not_after, std::int64_t now,
                        bool is_ca = false) {
  CertSpec spec;
  spec.common_name = cn;
  spec.is_ca = is_ca;
  spec.not_before = now - 3600;
  spec.not_after = not_after;
  return generate_cert(spec);
}

// A certs directory and a config polling it every second.
struct Setup {
  TempDir tmp;
  fs::path certs = tmp.path() / "certs";
  fs::path config = tmp.path() / "config.yaml";
  std::int64_t now = unix_now();
  GeneratedCert new_ca = make_cert("new CA", now + 3000 * kDay, now, true);
  GeneratedCert old_ca = make_cert("old CA", now + 200 * kDay, now, true);
  GeneratedCert node = make_cert("node", now + 20 * kDay, now);
  GeneratedCert root = make_cert("root", now + 400 * kDay, now);

  Setup() {
    tmp.write("certs/ca.crt", new_ca.cert_pem + old_ca.cert_pem);
    tmp.write("certs/node.crt", node.cert_pem);
    tmp.write("certs/node.key", node.key_pem, 0600);
    tmp.write("certs/client.root.crt", root.cert_pem);
    tmp.write("certs/broken.crt",
              "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
              "-----END CERTIFICATE-----\n");
    write_config(good_config());
  }

  std::string good_config() const {
    return "poll_interval: 1s\nfiles:\n  certs_dirs:\n    - " + certs.string() + "\n";
  }
  void write_config(const std::string& text) const { tmp.write("config.yaml", text); }
};

}  // namespace

TEST_CASE("the daemon serves a certs directory as docs/metrics.md says", "[integration]") {
  Setup s;
  Daemon daemon(s.config, s.tmp.path());
  daemon.wait_ready();
  const auto res = http_get(daemon.port(), "/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = res->body;
  INFO(text);

  const fs::path ca = s.certs / "ca.crt";
  const fs::path node = s.certs / "node.crt";
  const fs::path root = s.certs / "client.root.crt";
  CHECK(has_line(text, "crdb_cert_not_after_timestamp_seconds{" + identity("ca", ca, "0") + "} " +
                           std::to_string(s.now + 3000 * kDay)));
  CHECK(has_line(text, "crdb_cert_not_after_timestamp_seconds{" + identity("ca", ca, "1") + "} " +
                           std::to_string(s.now + 200 * kDay)));
  CHECK(has_line(text, "crdb_cert_not_after_timestamp_seconds{" + identity("node", node, "0") +
                           "} " + std::to_string(s.now + 20 * kDay)));
  CHECK(has_line(text, "crdb_cert_not_after_timestamp_seconds{" +
                           identity("client", root, "0", "root") + "} " +
                           std::to_string(s.now + 400 * kDay)));
  CHECK(count_prefix(text, "crdb_cert_not_after_timestamp_seconds{") == 4);
  // make_cert puts notBefore an hour before the setup's `now`.
  CHECK(has_line(text, "crdb_cert_not_before_timestamp_seconds{" + identity("node", node, "0") +
                           "} " + std::to_string(s.now - 3600)));

  const std::string fingerprint = certwatch::testing::sha256_fingerprint(s.old_ca);
  bool found_old_ca_info = false;
  for (const std::string& line : lines_of(text)) {
    if (line.rfind("crdb_cert_info{" + identity("ca", ca, "1") + ",", 0) != 0) continue;
    found_old_ca_info = true;
    CHECK(line.find(",subject_cn=\"old CA\",issuer_cn=\"old CA\",serial=\"") != std::string::npos);
    CHECK(line.find(",fingerprint_sha256=\"" + fingerprint + "\",is_ca=\"true\"} 1") !=
          std::string::npos);
  }
  CHECK(found_old_ca_info);

  CHECK(has_line(text, "crdb_cert_expiry_state{" + identity("ca", ca, "0") +
                           ",action=\"ok\",severity=\"none\"} 1"));
  CHECK(has_line(text, "crdb_cert_expiry_state{" + identity("ca", ca, "1") +
                           ",action=\"plan_rotation\",severity=\"info\"} 1"));
  CHECK(has_line(text, "crdb_cert_expiry_state{" + identity("node", node, "0") +
                           ",action=\"rotate_now\",severity=\"critical\"} 1"));
  CHECK(has_line(text, "crdb_cert_expiry_state{" + identity("client", root, "0", "root") +
                           ",action=\"ok\",severity=\"none\"} 1"));
  CHECK(count_prefix(text, "crdb_cert_expiry_state{") == 4);

  CHECK(has_line(text, "crdb_cert_file_error{path=\"" + (s.certs / "broken.crt").string() +
                           "\",reason=\"bad_pem\"} 1"));
  CHECK(count_prefix(text, "crdb_cert_file_error{") == 1);  // node.key is never parsed
  CHECK(has_line(text, "crdb_cert_source_up{source=\"file\"} 1"));
  CHECK(count_prefix(text, "crdb_cert_source_last_success_timestamp_seconds{source=\"file\"} ") ==
        1);
  CHECK(count_prefix(text, "crdb_cert_source_duration_seconds{source=\"file\"} ") == 1);
  CHECK(has_line(text, "crdb_cert_config_last_reload_successful 1"));
  CHECK(count_prefix(text, "crdb_cert_config_last_reload_success_timestamp_seconds ") == 1);
  CHECK(count_prefix(text, "crdb_cert_exporter_build_info{version=\"") == 1);
  // No cluster source configured: no cluster families at all.
  CHECK(text.find("crdb_cert_cluster_") == std::string::npos);
  CHECK(text.find("source=\"cluster\"") == std::string::npos);

  const CommandResult check = promtool_check_metrics(text);
  INFO(check.out);
  CHECK(check.exit_code == 0);
  CHECK(check.out.empty());

  SECTION("/ shows the certificates, /-/healthy is 200, unknown paths 404") {
    const auto page = http_get(daemon.port(), "/");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->body.find(node.string()) != std::string::npos);
    CHECK(page->body.find("rotate_now") != std::string::npos);
    CHECK(http_get(daemon.port(), "/-/healthy")->status == 200);
    CHECK(http_get(daemon.port(), "/nope")->status == 404);
  }
}

TEST_CASE("a certificate replaced on disk shows after the next poll", "[integration]") {
  Setup s;
  Daemon daemon(s.config, s.tmp.path());
  daemon.wait_ready();
  const fs::path node = s.certs / "node.crt";
  const std::string id = identity("node", node, "0");
  CHECK(has_line(daemon.scrape(), "crdb_cert_expiry_state{" + id +
                                      ",action=\"rotate_now\",severity=\"critical\"} 1"));

  const std::int64_t renewed_not_after = unix_now() + 700 * kDay;
  const GeneratedCert renewed = make_cert("node", renewed_not_after, unix_now());
  const fs::path staged = s.tmp.write("certs/node.crt.new", renewed.cert_pem);
  fs::rename(staged, node);

  const auto start = Clock::now();
  const std::string text = daemon.scrape_until([&](const std::string& t) {
    return has_line(t, "crdb_cert_not_after_timestamp_seconds{" + id + "} " +
                           std::to_string(renewed_not_after));
  });
  // Poll interval 1 s with at most 5 % jitter: the change is visible within ~2 s.
  CHECK(std::chrono::duration<double>(Clock::now() - start).count() < 3.0);
  CHECK(has_line(text, "crdb_cert_expiry_state{" + id + ",action=\"ok\",severity=\"none\"} 1"));
  // The old state's series is gone in the same scrape.
  CHECK(count_prefix(text, "crdb_cert_expiry_state{" + id) == 1);
  CHECK(count_prefix(text, "crdb_cert_not_after_timestamp_seconds{" + id) == 1);
}

TEST_CASE("with an hour-long poll interval, inotify shows every kind of change within 2 s",
          "[integration][inotify]") {
  Setup s;
  // A Kubernetes-style secret volume beside the certs directory: visible names are symlinks
  // into `..data`, itself a symlink to a timestamped directory that is swapped atomically.
  const fs::path k8s = s.tmp.path() / "k8s";
  const std::int64_t now = unix_now();
  const GeneratedCert k8s_old = make_cert("k8s CA", now + 100 * kDay, now, true);
  const GeneratedCert k8s_new = make_cert("k8s CA", now + 900 * kDay, now, true);
  s.tmp.write("k8s/..2026_11_01/ca.crt", k8s_old.cert_pem);
  s.tmp.write("k8s/..2026_11_28/ca.crt", k8s_new.cert_pem);
  fs::create_directory_symlink("..2026_11_01", k8s / "..data");
  fs::create_symlink("..data/ca.crt", k8s / "ca.crt");
  s.write_config("poll_interval: 1h\nfiles:\n  certs_dirs:\n    - " + s.certs.string() +
                 "\n    - " + k8s.string() + "\n");
  Daemon daemon(s.config, s.tmp.path());
  daemon.wait_ready();
  // Lets the first poll's own inotify echo (none expected, but cheap to rule out) settle.
  std::this_thread::sleep_for(1500ms);

  const auto within_2s = [&daemon](const std::string& what, auto condition) {
    INFO(what);
    const auto start = Clock::now();
    daemon.scrape_until(condition, 5s);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    CHECK(seconds < 2.0);
  };
  const auto last_success = [](const std::string& text) {
    for (const std::string& line : lines_of(text)) {
      const std::string prefix =
          "crdb_cert_source_last_success_timestamp_seconds{source=\"file\"} ";
      if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
    return std::string();
  };

  const fs::path app = s.certs / "client.app.crt";
  const std::string app_id = identity("client", app, "0", "app");
  const std::int64_t app_not_after = now + 50 * kDay;
  s.tmp.write("certs/client.app.crt", make_cert("app", app_not_after, now).cert_pem);
  within_2s("a new file written in place", [&](const std::string& t) {
    return has_line(t, "crdb_cert_not_after_timestamp_seconds{" + app_id + "} " +
                           std::to_string(app_not_after));
  });

  const fs::path node = s.certs / "node.crt";
  const std::int64_t renewed = now + 700 * kDay;
  fs::rename(s.tmp.write("certs/node.crt.tmp", make_cert("node", renewed, now).cert_pem), node);
  within_2s("a renewed file renamed into place", [&](const std::string& t) {
    return has_line(t, "crdb_cert_not_after_timestamp_seconds{" + identity("node", node, "0") +
                           "} " + std::to_string(renewed));
  });

  fs::create_directory_symlink("..2026_11_28", k8s / "..data_tmp");
  fs::rename(k8s / "..data_tmp", k8s / "..data");
  within_2s("a Kubernetes ..data symlink swap", [&](const std::string& t) {
    return has_line(t, "crdb_cert_not_after_timestamp_seconds{" +
                           identity("ca", k8s / "ca.crt", "0") + "} " +
                           std::to_string(now + 900 * kDay));
  });

  // chmod alone changes no certificate (and root reads a mode-000 file anyway): what must show
  // is that it caused a poll, with the hour-long interval far away.
  const std::string before_chmod = last_success(daemon.scrape());
  REQUIRE_FALSE(before_chmod.empty());
  std::this_thread::sleep_for(50ms);  // the timestamp has millisecond resolution at least
  fs::permissions(app, fs::perms::owner_read);
  within_2s("a chmod", [&](const std::string& t) { return last_success(t) != before_chmod; });

  fs::remove(app);
  within_2s("a deleted file", [&](const std::string& t) {
    return t.find("path=\"" + app.string() + "\"") == std::string::npos;
  });
}

TEST_CASE("a TLS Secret's ..data swap shows the new tls.crt without waiting for the poll",
          "[integration][tls_secret]") {
  TempDir tmp;
  const std::int64_t now = unix_now();
  const GeneratedCert ca = make_cert("cluster CA", now + 3000 * kDay, now, true);
  const GeneratedCert first = make_cert("node", now + 20 * kDay, now);
  const GeneratedCert renewed = make_cert("node", now + 400 * kDay, now);
  using certwatch::testing::publish_secret_volume;
  const fs::path secret = publish_secret_volume(
      tmp, "node-secret", "..2026_11_01",
      {{"tls.crt", first.cert_pem}, {"tls.key", first.key_pem, 0644}, {"ca.crt", ca.cert_pem}});
  // An hour between polls: only the watch on the Secret's directory can show the swap in time.
  tmp.write("config.yaml",
            "poll_interval: 1h\nfiles:\n  certs_dirs: []\n  tls_secrets:\n"
            "    - {path: " +
                secret.string() + ", cert_type: node}\n");
  Daemon daemon(tmp.path() / "config.yaml", tmp.path());
  daemon.wait_ready();
  const std::string leaf = identity("node", secret / "tls.crt", "0");
  const std::string before = daemon.scrape();
  CHECK(has_line(before, "crdb_cert_not_after_timestamp_seconds{" + leaf + "} " +
                             std::to_string(now + 20 * kDay)));
  CHECK(has_line(before, "crdb_cert_not_after_timestamp_seconds{" +
                             identity("ca", secret / "ca.crt", "0") + "} " +
                             std::to_string(now + 3000 * kDay)));
  CHECK(count_prefix(before, "crdb_cert_check_failed{" + leaf + ",check=\"key_permissions\"") == 1);

  publish_secret_volume(
      tmp, "node-secret", "..2026_11_28",
      {{"tls.crt", renewed.cert_pem}, {"tls.key", renewed.key_pem, 0400}, {"ca.crt", ca.cert_pem}});
  const std::string after = daemon.scrape_until([&](const std::string& t) {
    return has_line(t, "crdb_cert_not_after_timestamp_seconds{" + leaf + "} " +
                           std::to_string(now + 400 * kDay));
  });
  CHECK(count_prefix(after, "crdb_cert_not_after_timestamp_seconds{" + leaf) == 1);
  CHECK(count_prefix(after, "crdb_cert_check_failed{" + leaf + ",check=\"key_permissions\"") == 0);
  CHECK(count_prefix(after, "crdb_cert_file_error{") == 0);
}

TEST_CASE("SIGHUP with a broken config keeps the running one", "[integration]") {
  Setup s;
  Daemon daemon(s.config, s.tmp.path());
  daemon.wait_ready();
  const std::string node_line = "crdb_cert_not_after_timestamp_seconds{" +
                                identity("node", s.certs / "node.crt", "0") + "} " +
                                std::to_string(s.now + 20 * kDay);
  CHECK(has_line(daemon.scrape(), "crdb_cert_config_last_reload_successful 1"));

  s.write_config(s.good_config() + "  bogus_key: 1\n");
  daemon.signal(SIGHUP);
  std::string text = daemon.scrape_until([](const std::string& t) {
    return has_line(t, "crdb_cert_config_last_reload_successful 0");
  });
  // The old config and its data stay in force, and polls go on.
  CHECK(has_line(text, node_line));
  CHECK(has_line(text, "crdb_cert_source_up{source=\"file\"} 1"));
  const std::string log = daemon.log();
  INFO(log);
  CHECK(log.find("bogus_key") != std::string::npos);  // the log says why

  // Fixed, and now also watching an extra file: the new config is in force after SIGHUP.
  const GeneratedCert extra = make_cert("haproxy", unix_now() + 50 * kDay, unix_now());
  const fs::path extra_path = s.tmp.write("extra/lb.pem", extra.cert_pem);
  s.write_config(s.good_config() + "  extra:\n    - path: " + extra_path.string() +
                 "\n      cert_type: ui\n");
  daemon.signal(SIGHUP);
  text = daemon.scrape_until([](const std::string& t) {
    return has_line(t, "crdb_cert_config_last_reload_successful 1");
  });
  text = daemon.scrape_until([&](const std::string& t) {
    return count_prefix(t, "crdb_cert_expiry_state{" + identity("ui", extra_path, "0") +
                               ",action=\"schedule_rotation\",severity=\"warning\"} 1") == 1;
  });
  CHECK(has_line(text, node_line));

  // The daemon is still alive and answering after both reloads.
  CHECK_FALSE(daemon.wait_exit(0ms));
}

TEST_CASE("config.check flag: exit codes and file:line:key messages", "[integration]") {
  Setup s;
  const CommandResult valid = run_binary({"--config.file=" + s.config.string(), "--config.check"});
  INFO(valid.out << valid.err);
  CHECK(valid.exit_code == 0);

  // Line 5 holds the unknown key.
  s.write_config(s.good_config() + "  bogus_key: 1\n");
  const CommandResult invalid =
      run_binary({"--config.file=" + s.config.string(), "--config.check"});
  INFO(invalid.out << invalid.err);
  CHECK(invalid.exit_code == 1);
  CHECK(invalid.err.find(s.config.string() + ":5: files.bogus_key") != std::string::npos);

  s.write_config("poll_interval: 5 minutes\n");
  const CommandResult bad_duration =
      run_binary({"--config.file=" + s.config.string(), "--config.check"});
  INFO(bad_duration.err);
  CHECK(bad_duration.exit_code == 1);
  CHECK(bad_duration.err.find(s.config.string() + ":1: poll_interval") != std::string::npos);

  const CommandResult missing =
      run_binary({"--config.file=" + (s.tmp.path() / "nope.yaml").string(), "--config.check"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("nope.yaml") != std::string::npos);
}

TEST_CASE("version flag prints the version and exits 0", "[integration]") {
  const CommandResult version = run_binary({"--version"});
  INFO(version.out << version.err);
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("crdb-certwatch version ", 0) == 0);
  CHECK(version.out.find("OpenSSL") != std::string::npos);
}

TEST_CASE("SIGTERM and SIGINT stop the daemon within 2 s with exit code 0", "[integration]") {
  for (const int sig : {SIGTERM, SIGINT}) {
    INFO("signal " << sig);
    Setup s;
    Daemon daemon(s.config, s.tmp.path());
    daemon.wait_ready();
    const auto start = Clock::now();
    daemon.signal(sig);
    const auto code = daemon.wait_exit(2s);
    INFO(daemon.log());
    REQUIRE(code);
    CHECK(*code == 0);
    CHECK(std::chrono::duration<double>(Clock::now() - start).count() < 2.0);
  }
}

TEST_CASE("the HTTP endpoint bounds what a client can do", "[integration][http]") {
  Setup s;
  Daemon daemon(s.config, s.tmp.path());
  daemon.wait_ready();

  SECTION("HEAD /metrics has headers and no body") {
    const auto head = http_request(daemon.port(), "HEAD", "/metrics", 5s);
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->body.empty());
    CHECK(std::stoul(head->header("content-length")) > 1000);
  }
  SECTION("POST is 405 with Allow") {
    const auto post = http_exchange(daemon.port(),
                                    "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                                    "close\r\nContent-Length: 5\r\n\r\nhello",
                                    5s);
    REQUIRE(post);
    CHECK(post->status == 405);
    CHECK(post->header("allow").find("GET") != std::string::npos);
  }
  SECTION("a 20 KiB header is 431, and the daemon keeps serving") {
    const std::string request =
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + std::string(20 * 1024, 'a') +
        "\r\nConnection: close\r\n\r\n";
    const auto big = http_exchange(daemon.port(), request, 5s);
    REQUIRE(big);
    CHECK(big->status == 431);
    CHECK(daemon.scrape().find("crdb_cert_source_up{source=\"file\"} 1") != std::string::npos);
  }
  SECTION("200 idle connections do not stop a scrape") {
    std::vector<certwatch::testing::LoopbackConnection> idle;
    idle.reserve(200);
    for (int i = 0; i < 200; ++i) {
      idle.emplace_back(daemon.port(), 5s);
      REQUIRE(idle.back().connected());
    }
    // A half-sent request on one of them, too: it must not hold the loop either.
    REQUIRE(idle.front().send_all("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    const auto start = Clock::now();
    const auto res = http_get(daemon.port(), "/metrics", 5s);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find("crdb_cert_not_after_timestamp_seconds{") != std::string::npos);
    CHECK(seconds < 1.0);
    // And the daemon is still healthy afterwards.
    CHECK(http_get(daemon.port(), "/-/healthy")->status == 200);
  }
}
