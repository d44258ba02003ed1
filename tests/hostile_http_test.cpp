// Hostile clients against the built binary (issue 11): floods of wrong passwords, absurd bcrypt
// costs, TLS handshake floods, every spelling of "no gzip", and how TLS connections end. The
// daemon runs as a child process with a web config; clients are raw sockets and OpenSSL itself,
// so the test sees exactly what a scraper or an attacker sees.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
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
using certwatch::testing::basic_authorization;
using certwatch::testing::ChildOutput;
using certwatch::testing::ChildProcess;
using certwatch::testing::HttpResponse;
using certwatch::testing::LoopbackConnection;
using certwatch::testing::TempDir;
using Clock = std::chrono::steady_clock;

// Made once with `htpasswd -nbBC 10 "" s3cret` and `... l4te`: real cost-10 hashes, so every
// check the daemon runs costs what it costs in production.
constexpr const char* kS3cretHash = "$2b$10$d39OVUsu/mXEWrx//CUnPuQDi19lTf7hCjRXdCbPxwqLhCJHhlSPS";
constexpr const char* kL4teHash = "$2b$10$P76bPlxC3MiTVUSVTI7QZuat9mnLFKcRsDsnUxSBc4QFVRw35pOmC";

// A well-formed hash of the given cost that no password matches; the config accepts it as is.
std::string unmatchable_hash(int cost) {
  return "$2b$" + std::to_string(cost) + "$" + std::string(53, 'A');
}

// A certs directory with one certificate, a config polling it, and a TLS pair for the endpoint.
struct Setup {
  TempDir dir;
  fs::path config;
  Setup() {
    dir.write("certs/node.crt", certwatch::testing::cert_pem_with_time_left("node", 100 * 86400));
    config = dir.write("config.yaml", "poll_interval: 1s\nfiles:\n  certs_dirs: [" +
                                          (dir.path() / "certs").string() + "]\n");
    certwatch::testing::CertSpec spec;
    spec.common_name = "localhost";
    spec.ip_addresses = {"127.0.0.1"};
    const auto server = certwatch::testing::generate_cert(spec);
    dir.write("tls/server.crt", server.cert_pem);
    dir.write("tls/server.key", server.key_pem, 0600);
  }
  fs::path web_config(const std::string& yaml) const { return dir.write("web.yml", yaml); }
};

constexpr const char* kTls =
    "tls_server_config:\n  cert_file: tls/server.crt\n"
    "  key_file: tls/server.key\n";

// `--config.check` with a web config: exit code and everything it printed.
certwatch::testing::CommandResult config_check(const Setup& setup, const std::string& web_yaml) {
  return certwatch::testing::run_command(
      {CERTWATCH_BINARY, "--config.check", "--config.file=" + setup.config.string(),
       "--web.config.file=" + setup.web_config(web_yaml).string()},
      10s);
}

// The daemon on 127.0.0.1, port 0, with a web config; stopped when the object dies.
class Daemon {
 public:
  Daemon(const Setup& setup, const std::string& web_yaml)
      : process_({CERTWATCH_BINARY, "--config.file=" + setup.config.string(),
                  "--web.config.file=" + setup.web_config(web_yaml).string(),
                  "--web.listen-address=127.0.0.1:0", "--log.level=debug"},
                 ChildOutput{setup.dir.path() / "daemon.out", setup.dir.path() / "daemon.log"}) {
    // It logs the port it bound; bcrypt or TLS set-up must not hold that up for long.
    const std::regex listening{R"(\(port ([0-9]+)\))"};
    const auto deadline = Clock::now() + 15s;
    while (Clock::now() < deadline && port_ == 0) {
      std::smatch match;
      const std::string log = process_.log();
      if (std::regex_search(log, match, listening)) port_ = std::stoi(match[1]);
      if (!process_.running()) FAIL("the daemon exited:\n" << log);
      std::this_thread::sleep_for(20ms);
    }
    if (port_ == 0) FAIL("the daemon did not log its port:\n" << process_.log());
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int port() const { return port_; }
  std::string log() const { return process_.log(); }
  void signal(int sig) const { REQUIRE(process_.signal(sig)); }

 private:
  ChildProcess process_;
  int port_ = 0;
};

// A plain HTTP GET with extra header lines ("Name: value\r\n" each).
std::optional<HttpResponse> get(int port, const std::string& target, const std::string& headers,
                                std::chrono::milliseconds timeout = 5s) {
  return certwatch::testing::http_exchange(
      port,
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "Connection: close\r\n\r\n",
      timeout);
}

// The value of the one sample line starting with `series ` (NaN when absent).
double sample(const std::string& exposition, const std::string& series) {
  const auto lines = certwatch::testing::lines_starting(exposition, series + " ");
  return lines.size() == 1 ? std::stod(lines.front().substr(series.size() + 1)) : std::nan("");
}

// Each member of a gzip stream decoded in turn, as Prometheus' Go reader does; nullopt when a
// member is broken or cut short.
std::optional<std::vector<std::string>> gunzip_members(const std::string& data) {
  std::vector<std::string> members;
  std::size_t offset = 0;
  while (offset < data.size()) {
    z_stream stream{};
    if (inflateInit2(&stream, 15 + 16) != Z_OK) return std::nullopt;
    const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, &inflateEnd);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
    stream.avail_in = static_cast<uInt>(data.size() - offset);
    std::string member;
    int status = Z_OK;
    while (status != Z_STREAM_END) {
      char buffer[16384];
      stream.next_out = reinterpret_cast<Bytef*>(buffer);
      stream.avail_out = sizeof buffer;
      status = inflate(&stream, Z_NO_FLUSH);
      if (status != Z_OK && status != Z_STREAM_END) return std::nullopt;
      member.append(buffer, sizeof buffer - stream.avail_out);
    }
    offset += stream.total_in;
    members.push_back(std::move(member));
  }
  return members;
}

struct TlsReply {
  std::optional<HttpResponse> response;
  // The server ended the stream with close_notify: SSL_read returned 0 with SSL_ERROR_ZERO_RETURN
  // (a bare TCP close shows as SSL_ERROR_SSL, "unexpected eof").
  bool close_notify = false;
  std::string error;
};

std::string openssl_error() {
  char text[256] = "no OpenSSL error queued";
  if (const unsigned long code = ERR_get_error()) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

// Info callback: holds the client's Finished back by the SSL's app data (a milliseconds), as a
// scraper a long round trip away would be that late.
void delay_finished(const SSL* ssl, int where, int /*ret*/) {
  if ((where & SSL_CB_CONNECT_LOOP) != 0 && SSL_get_state(ssl) == TLS_ST_CW_FINISHED) {
    std::this_thread::sleep_for(
        *static_cast<const std::chrono::milliseconds*>(SSL_get_ex_data(ssl, 0)));
  }
}

// One GET over TLS with OpenSSL's own API on a fresh connection, read until the server ends it;
// `round_trip` late with the end of its handshake.
TlsReply tls_get(int port, const std::string& target, std::chrono::milliseconds round_trip = 0ms) {
  // OpenSSL writes with send(2): a connection the daemon dropped must fail the write, not
  // kill the test with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  TlsReply reply;
  LoopbackConnection connection(port, 5000ms);
  if (!connection.connected()) {
    reply.error = "connect failed";
    return reply;
  }
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                                  &SSL_CTX_free);
  const std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), &SSL_free);
  SSL_set_fd(ssl.get(), connection.native_handle());
  SSL_set_ex_data(ssl.get(), 0, &round_trip);
  SSL_set_info_callback(ssl.get(), delay_finished);
  if (SSL_connect(ssl.get()) != 1) {
    reply.error = "handshake failed: " + openssl_error();
    return reply;
  }
  const std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) <= 0) {
    reply.error = "write failed: " + openssl_error();
    return reply;
  }
  std::string raw;
  char buffer[16384];
  int n = 0;
  while ((n = SSL_read(ssl.get(), buffer, sizeof buffer)) > 0) {
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  const int error = SSL_get_error(ssl.get(), n);
  reply.close_notify = n == 0 && error == SSL_ERROR_ZERO_RETURN;
  if (!reply.close_notify) {
    reply.error = "ended with SSL error " + std::to_string(error) + ": " + openssl_error();
  }
  reply.response = certwatch::testing::parse_http_response(raw);
  return reply;
}

// Runs `body` on a thread until the object dies.
class Background {
 public:
  template <typename Body>
  explicit Background(Body body)
      : thread_([this, body]() mutable {
          while (!stop_) body();
        }) {}
  ~Background() {
    stop_ = true;
    thread_.join();
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a flood of wrong passwords neither delays a cached login nor queues without bound",
          "[hostile][auth]") {
  Setup setup;
  Daemon daemon(setup, std::string("basic_auth_users:\n  prometheus: '") + kS3cretHash +
                           "'\n  late: '" + kL4teHash + "'\n");
  const std::string valid =
      "Authorization: " + basic_authorization("prometheus", "s3cret") + "\r\n";
  // The first login pays bcrypt once; the daemon caches it.
  const auto first = get(daemon.port(), "/metrics", valid, 15s);
  REQUIRE(first);
  REQUIRE(first->status == 200);

  std::atomic<int> flood_requests{0};
  {
    // Wrong passwords on fresh connections: some hang up right after the request, some wait
    // for the answer in batches of 20 (for a second at most), so checks pile up.
    const std::string wrong = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " +
                              basic_authorization("prometheus", "guess") + "\r\n\r\n";
    Background hang_ups([&] {
      LoopbackConnection attacker(daemon.port(), 1000ms);
      if (attacker.send_all(wrong)) ++flood_requests;
    });
    Background waiters([&] {
      std::vector<std::optional<LoopbackConnection>> batch(20);
      for (auto& attacker : batch) {
        attacker.emplace(daemon.port(), 1000ms);
        if (attacker->send_all(wrong)) ++flood_requests;
      }
      for (auto& attacker : batch) attacker->read_until_close();
    });
    while (flood_requests < 50) std::this_thread::sleep_for(10ms);
    for (int i = 0; i < 10; ++i) {
      const auto started = Clock::now();
      const auto res = get(daemon.port(), "/metrics", valid, 5s);
      const auto took = Clock::now() - started;
      REQUIRE(res);
      CHECK(res->status == 200);
      CHECK(took < 2s);
    }
    while (flood_requests < 150) std::this_thread::sleep_for(10ms);
  }
  const auto after = get(daemon.port(), "/metrics", valid);
  REQUIRE(after);
  REQUIRE(after->status == 200);
  INFO(after->body);
  CHECK(sample(after->body, R"(crdb_cert_http_requests_refused_total{reason="auth_queue_full"})") >
        0);
  // Checks of clients that left were dropped, and the queue was bounded: a login nobody made
  // before (so bcrypt runs) gets through soon, honouring Retry-After while the last few checks
  // drain, not after the flood's 150 or more checks of 0.1-0.4 s each.
  const auto deadline = Clock::now() + 15s;
  std::optional<HttpResponse> late;
  do {
    late = get(daemon.port(), "/-/healthy",
               "Authorization: " + basic_authorization("late", "l4te") + "\r\n", 15s);
    REQUIRE(late);
    if (late->status != 503) break;
    CHECK(late->header("retry-after") == "1");
    std::this_thread::sleep_for(1s);
  } while (Clock::now() < deadline);
  CHECK(late->status == 200);
}

TEST_CASE("the server's own metrics follow the exposition, plain and as a second gzip member",
          "[hostile][gzip]") {
  Setup setup;
  Daemon daemon(setup, "");
  const std::string family = R"(crdb_cert_http_requests_refused_total{reason="auth_queue_full"})";

  const auto plain = get(daemon.port(), "/metrics", "");
  REQUIRE(plain);
  CHECK(plain->header("content-encoding").empty());
  CHECK(certwatch::testing::has_line(plain->body, family + " 0"));
  CHECK(plain->body.find("crdb_cert_not_after_timestamp_seconds{") != std::string::npos);
  const auto plain_check = certwatch::testing::promtool_check_metrics(plain->body);
  INFO(plain_check.out);
  CHECK(plain_check.exit_code == 0);

  const auto gzipped = get(daemon.port(), "/metrics", "Accept-Encoding: gzip\r\n");
  REQUIRE(gzipped);
  CHECK(gzipped->header("content-encoding") == "gzip");
  const auto members = gunzip_members(gzipped->body);
  REQUIRE(members);
  CHECK(members->size() == 2);  // the snapshot's precomputed member, then the server's
  std::string decoded;
  for (const auto& member : *members) decoded += member;
  CHECK(certwatch::testing::has_line(decoded, family + " 0"));
  CHECK(decoded.find("crdb_cert_not_after_timestamp_seconds{") != std::string::npos);
  const auto gzip_check = certwatch::testing::promtool_check_metrics(decoded);
  INFO(gzip_check.out);
  CHECK(gzip_check.exit_code == 0);

  SECTION("every spelling of q=0 refuses gzip, as RFC 9110 says") {
    for (const std::string refusal : {"gzip;q=0", "GZIP ; Q = 0.000", "gzip;q=0.0, identity",
                                      "*;q=0", "gzip;q=0, *", "identity", "br"}) {
      INFO(refusal);
      const auto res = get(daemon.port(), "/metrics", "Accept-Encoding: " + refusal + "\r\n");
      REQUIRE(res);
      CHECK(res->header("content-encoding").empty());
      CHECK(certwatch::testing::has_line(res->body, family + " 0"));
    }
    for (const std::string acceptance : {"gzip;q=0.5", "*", "br;q=1, GZip ;q=1.0", "x-gzip"}) {
      INFO(acceptance);
      const auto res = get(daemon.port(), "/metrics", "Accept-Encoding: " + acceptance + "\r\n");
      REQUIRE(res);
      CHECK(res->header("content-encoding") == "gzip");
    }
  }
}

TEST_CASE("an absurd bcrypt cost is refused and the maximum cost never stalls the endpoint",
          "[hostile][auth]") {
  Setup setup;
  const auto refused =
      config_check(setup, "basic_auth_users:\n  alice: '" + unmatchable_hash(31) + "'\n");
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find((setup.dir.path() / "web.yml").string() +
                         ":2: basic_auth_users.alice: bcrypt cost 31 is above the maximum 14") !=
        std::string::npos);

  // Cost 14: a decoy hash made at load would pin the event loop for a second or more per reload.
  Daemon daemon(setup, "basic_auth_users:\n  alice: '" + unmatchable_hash(14) + "'\n");
  for (int i = 0; i < 3; ++i) daemon.signal(SIGHUP);
  const auto until = Clock::now() + 3s;
  while (Clock::now() < until) {
    const auto started = Clock::now();
    const auto res = certwatch::testing::http_get(daemon.port(), "/-/healthy", 2s);
    INFO(daemon.log());
    REQUIRE(res);
    CHECK(res->status == 401);  // answered at once: no credentials, no bcrypt
    CHECK(Clock::now() - started < 2s);
    std::this_thread::sleep_for(100ms);
  }
  CHECK(daemon.log().find("web config reloaded") != std::string::npos);
}

TEST_CASE("a flood of slow TLS ClientHellos never costs a real scrape", "[hostile][tls]") {
  Setup setup;
  Daemon daemon(setup, kTls);
  const auto ready = tls_get(daemon.port(), "/-/healthy");
  INFO(ready.error);
  REQUIRE(ready.response);

  // 200 connections that start a ClientHello (a 512-byte record) and send one more byte of it
  // every 100 ms; one the daemon drops is replaced at once, as an attacker would.
  const std::string hello_start("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  std::vector<std::optional<LoopbackConnection>> drippers(200);
  for (auto& dripper : drippers) {
    dripper.emplace(daemon.port(), 1000ms);
    dripper->send_all(hello_start);
  }
  std::atomic<int> replaced{0};
  std::vector<TlsReply> replies;
  {
    Background drip([&] {
      for (auto& dripper : drippers) {
        if (!dripper->send_all(std::string(1, 'r'))) {
          dripper.emplace(daemon.port(), 1000ms);
          dripper->send_all(hello_start);
          ++replaced;
        }
      }
      std::this_thread::sleep_for(100ms);
    });
    // Scrapers 200 ms away, for longer than the handshake deadline, so that many drippers are
    // dropped and replaced while each real handshake is still under way.
    for (int i = 0; i < 30; ++i) replies.push_back(tls_get(daemon.port(), "/metrics", 200ms));
  }
  int failed = 0;
  for (const auto& reply : replies) {
    if (reply.response && reply.response->status == 200) continue;
    ++failed;
    UNSCOPED_INFO("a scrape failed: " << reply.error);
  }
  CHECK(failed == 0);
  WARN(replaced << " flood connections were dropped by the daemon and replaced");
}

TEST_CASE("TLS connections end with close_notify, and TLS 1.0 and 1.1 are refused at load",
          "[hostile][tls]") {
  Setup setup;
  {
    Daemon daemon(setup, kTls);
    const auto reply = tls_get(daemon.port(), "/-/healthy");
    INFO(reply.error);
    REQUIRE(reply.response);
    CHECK(reply.response->status == 200);
    CHECK(reply.close_notify);
  }
  for (const std::string version : {"TLS10", "TLS11"}) {
    const auto refused =
        config_check(setup, std::string(kTls) + "  min_version: " + version + "\n");
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find((setup.dir.path() / "web.yml").string() +
                           ":4: tls_server_config.min_version: " + version + " cannot be served") !=
          std::string::npos);
  }
}
