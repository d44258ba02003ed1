// The probe source (issue 13) against real peers: PostgreSQL with ssl on and off, an Asio TLS
// server serving chosen chains, a silent port, a refused port, an unresolvable name, a peer that
// floods bytes; the served chains through the rules and checks; the real binary's /metrics.

// Before Boost: Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
// clang-format off
#include <utility>
// clang-format on

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <regex>
#include <thread>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "rules/rule.hpp"
#include "sources/probe_source.hpp"
#include "state/collect.hpp"
#include "state/snapshot.hpp"
#include "support/certgen.hpp"
#include "support/exposition.hpp"
#include "support/http_client.hpp"
#include "support/pg_harness.hpp"
#include "support/process.hpp"
#include "support/prometheus.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using certwatch::CertType;
using certwatch::ErrorReason;
using certwatch::config::ProbeProtocol;
using certwatch::config::ProbeTarget;
using certwatch::sources::probe_targets;
using certwatch::sources::ProbeOptions;
using certwatch::sources::ProbeOutcome;
using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::TempDir;

// A TLS server on 127.0.0.1 in a thread of its own: it serves `chain_pem` (leaf first) with
// `key_pem` and holds each connection until the client closes. With `flood`, it speaks no TLS
// and writes bytes without end instead.
class TlsServer {
 public:
  TlsServer(const std::string& chain_pem, const std::string& key_pem, bool flood = false)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), flood_(flood) {
    contexts_.push_back(make_context(chain_pem, key_pem));
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsServer() {
    io_.stop();
    thread_.join();
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  // From the next connection on, serves this chain instead (a node restarted on new files).
  // Connections already open keep the old one.
  void serve_instead(const std::string& chain_pem, const std::string& key_pem) {
    std::promise<void> done;
    asio::post(io_, [&] {
      contexts_.push_back(make_context(chain_pem, key_pem));
      done.set_value();
    });
    done.get_future().wait();
  }

  int port() const { return acceptor_.local_endpoint().port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  std::size_t flooded_bytes() const { return flooded_; }

 private:
  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      auto stream =
          std::make_shared<ssl::stream<tcp::socket>>(std::move(socket), *contexts_.back());
      if (flood_) {
        flood(stream);
      } else {
        stream->async_handshake(ssl::stream_base::server,
                                [this, stream](const boost::system::error_code&) { hold(stream); });
      }
      accept();
    });
  }
  void hold(std::shared_ptr<ssl::stream<tcp::socket>> stream) {
    auto buffer = std::make_shared<std::array<char, 512>>();
    stream->next_layer().async_read_some(
        asio::buffer(*buffer),
        [this, stream, buffer](const boost::system::error_code& ec, std::size_t) {
          if (!ec) hold(stream);
        });
  }
  void flood(std::shared_ptr<ssl::stream<tcp::socket>> stream) {
    static const std::string kJunk(64 * 1024, 'x');
    asio::async_write(stream->next_layer(), asio::buffer(kJunk),
                      [this, stream](const boost::system::error_code& ec, std::size_t n) {
                        flooded_ += n;
                        if (!ec) flood(stream);
                      });
  }

  asio::io_context io_;
  static std::unique_ptr<ssl::context> make_context(const std::string& chain_pem,
                                                    const std::string& key_pem) {
    auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
    if (!chain_pem.empty()) {
      context->use_certificate_chain(asio::buffer(chain_pem));
      context->use_private_key(asio::buffer(key_pem), ssl::context::pem);
    }
    return context;
  }

  // Every context served so far: open streams hold the one they started with.
  std::vector<std::unique_ptr<ssl::context>> contexts_;
  tcp::acceptor acceptor_;
  bool flood_;
  std::atomic<std::size_t> flooded_{0};
  std::thread thread_;
};

struct Pki {
  GeneratedCert ca;
  GeneratedCert leaf;
};

// A CA and a node leaf it signs, valid for localhost and 127.0.0.1 unless `spec` says otherwise.
Pki make_pki(CertSpec leaf_spec = {}) {
  CertSpec ca_spec;
  ca_spec.common_name = "Cockroach CA";
  ca_spec.is_ca = true;
  Pki pki{generate_cert(ca_spec), {}};
  if (leaf_spec.dns_names.empty() && leaf_spec.ip_addresses.empty()) {
    leaf_spec.dns_names = {"localhost"};
    leaf_spec.ip_addresses = {"127.0.0.1"};
  }
  pki.leaf = generate_cert(leaf_spec, &pki.ca);
  return pki;
}

ProbeTarget target(const std::string& address, ProbeProtocol protocol = ProbeProtocol::tls) {
  ProbeTarget t;
  t.address = address;
  t.protocol = protocol;
  t.server_name = address.substr(0, address.rfind(':'));
  return t;
}

ProbeOutcome probe_one(const ProbeTarget& t, std::chrono::milliseconds timeout = 3000ms) {
  ProbeOptions options;
  options.timeout = timeout;
  auto outcomes = probe_targets({t}, options);
  REQUIRE(outcomes.size() == 1);
  return outcomes.front();
}

std::optional<ErrorReason> reason_of(const ProbeOutcome& outcome) {
  if (!outcome.error) return std::nullopt;
  return outcome.error->reason;
}

// The probe source's config for `targets` and `ca_file`, and the snapshot of one poll of it
// (plus a file source when `certs_dir` is given).
std::shared_ptr<const certwatch::state::Snapshot> poll_snapshot(
    const std::vector<ProbeTarget>& targets, const std::string& ca_file,
    const std::string& certs_dir = {}) {
  certwatch::config::Config config;
  config.probe.emplace();
  config.probe->targets = targets;
  config.probe->ca_file = ca_file;
  config.probe->timeout = std::chrono::seconds{3};
  config.files.certs_dirs.clear();
  if (!certs_dir.empty()) config.files.certs_dirs = {certs_dir};
  return certwatch::state::poll_once(certwatch::sources::make_sources(config), config.rules,
                                     config.checks, {}, certwatch::unix_now);
}

bool has_check(const certwatch::state::Snapshot& s, std::string_view check,
               std::string_view detail = {}) {
  return std::any_of(s.check_failures.begin(), s.check_failures.end(), [&](const auto& f) {
    return f.id.source == "probe" && f.check == check &&
           (detail.empty() || f.detail.find(detail) != std::string::npos);
  });
}

}  // namespace

TEST_CASE("probe config reads targets and defaults") {
  const auto loaded = certwatch::config::parse_config(R"(
files:
  certs_dirs: [/certs]
cluster:
  dsn: postgresql://monitor@db:26257/defaultdb
probe:
  targets:
    - address: db1.example:26257
      node_id: 3
    - address: "[::1]:8080"
      protocol: tls
      server_name: ui.example
  from_cluster: {enabled: true, http_port: 8080}
  timeout: 2s
  concurrency: 4
)",
                                                      "probe.yml");
  REQUIRE(loaded.errors.empty());
  const auto& probe = *loaded.config->probe;
  REQUIRE(probe.targets.size() == 2);
  CHECK(probe.targets[0].server_name == "db1.example");
  CHECK(probe.targets[0].node_id == "3");
  CHECK(probe.targets[0].protocol == ProbeProtocol::postgres);
  CHECK(probe.targets[1].server_name == "ui.example");
  CHECK(probe.targets[1].protocol == ProbeProtocol::tls);
  CHECK(probe.from_cluster);
  CHECK(probe.from_cluster_http_port == 8080);
  CHECK(probe.timeout == std::chrono::seconds{2});
  CHECK(probe.concurrency == 4);
  CHECK(probe.poll_interval == std::chrono::seconds{300});
  CHECK(probe.ca_file == "/certs/ca.crt");
}

TEST_CASE("probe config errors name the file line and key") {
  const auto loaded = certwatch::config::parse_config(R"(probe:
  targets:
    - address: no-port
    - address: h:1
      protocol: http
    - address: h:1
  from_cluster: {enabled: true}
  concurrency: 100000
  client_cert: /c.pem
  bogus: 1
)",
                                                      "probe.yml");
  std::vector<std::string> errors;
  for (const auto& e : loaded.errors) errors.push_back(e.to_string());
  const auto said = [&](const std::string& text) {
    return std::any_of(errors.begin(), errors.end(),
                       [&](const std::string& e) { return e.find(text) != std::string::npos; });
  };
  INFO(Catch::Detail::stringify(errors));
  CHECK(said("probe.yml:3: probe.targets[0].address: must be HOST:PORT"));
  CHECK(said("probe.yml:5: probe.targets[1].protocol: unknown protocol"));
  CHECK(said("probe.yml:6: probe.targets[2].address: same target as probe.targets[1].address"));
  CHECK(said("probe.from_cluster: needs the cluster: section"));
  CHECK(said("probe.concurrency: must be an integer 1-256"));
  CHECK(said("probe.client_cert: client_cert and client_key go together"));
  CHECK(said("probe.bogus"));
}

TEST_CASE("probe reads the chain PostgreSQL serves after the SSLRequest") {
  certwatch::testing::PgServer server;
  const GeneratedCert ca = certwatch::testing::enable_tls_with_new_ca(server, "PG CA");
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  const ProbeOutcome outcome = probe_one(target(address, ProbeProtocol::postgres));
  INFO((outcome.error ? outcome.error->message : "ok"));
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.tls_version.starts_with("TLSv1."));
  CHECK_FALSE(outcome.cipher.empty());
  REQUIRE(outcome.chain_der.size() >= 1);

  // Through the source and the checks: trusted against its own CA, untrusted against another.
  TempDir dir;
  const auto good_ca = dir.write("ca.crt", ca.cert_pem);
  auto snapshot = poll_snapshot({target(address, ProbeProtocol::postgres)}, good_ca.string());
  REQUIRE(snapshot->health.front().up);
  REQUIRE_FALSE(snapshot->certificates.empty());
  const auto* leaf = snapshot->certificates.front();
  CHECK(leaf->id.source == "probe");
  CHECK(leaf->id.path == address);
  CHECK(leaf->id.index == "0");
  CHECK(leaf->facts->subject_cn == "localhost");
  CHECK_FALSE(has_check(*snapshot, "chain_untrusted"));
  CHECK_FALSE(has_check(*snapshot, "san_missing"));

  const auto other_ca = dir.write("other-ca.crt", make_pki().ca.cert_pem);
  snapshot = poll_snapshot({target(address, ProbeProtocol::postgres)}, other_ca.string());
  CHECK(has_check(*snapshot, "chain_untrusted"));
}

TEST_CASE("probe reports ssl_refused for PostgreSQL with ssl off") {
  // The shared server runs without TLS: it answers N to the SSLRequest.
  const auto& server = certwatch::testing::shared_pg_server();
  const auto outcome =
      probe_one(target("127.0.0.1:" + std::to_string(server.port()), ProbeProtocol::postgres));
  CHECK(reason_of(outcome) == ErrorReason::ssl_refused);
}

TEST_CASE("probe gives up on a silent port at its timeout") {
  certwatch::testing::SilentListener silent;
  const std::string address = "127.0.0.1:" + std::to_string(silent.port());
  for (const auto protocol : {ProbeProtocol::postgres, ProbeProtocol::tls}) {
    const auto started = std::chrono::steady_clock::now();
    const auto outcome = probe_one(target(address, protocol), 1000ms);
    CHECK(reason_of(outcome) == ErrorReason::timeout);
    CHECK(std::chrono::steady_clock::now() - started < 10s);  // does not hang
  }
}

TEST_CASE("a poll of silent targets stops starting probes at its budget") {
  // Issue 28, item 6: 1,000 silent from_cluster nodes made one poll run 315 s against a 30 s
  // interval. With a budget (the probe's interval), targets not started by then are failed as
  // not probed, and the poll ends once the probes in flight time out.
  certwatch::testing::SilentListener silent;
  const std::string address = "127.0.0.1:" + std::to_string(silent.port());
  std::vector<ProbeTarget> targets(6, target(address, ProbeProtocol::tls));
  ProbeOptions options;
  options.timeout = 1000ms;
  options.concurrency = 1;
  options.budget = 1500ms;
  const auto started = std::chrono::steady_clock::now();
  const auto outcomes = probe_targets(targets, options);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(outcomes.size() == targets.size());
  std::size_t not_probed = 0;
  for (const ProbeOutcome& outcome : outcomes) {
    CHECK(reason_of(outcome) == ErrorReason::timeout);
    if (outcome.error && outcome.error->message.starts_with("not probed")) ++not_probed;
  }
  // Two probes start (at 0 s and at 1 s, both inside the 1.5 s budget), four never do: without
  // the budget the poll would take six timeouts.
  CHECK(not_probed == 4);
  CHECK(took < 4s);
  CHECK(outcomes.back().error->message.find("raise probe.concurrency") != std::string::npos);

  options.budget = 0ms;  // no budget: every target is probed
  targets.resize(2);
  for (const ProbeOutcome& outcome : probe_targets(targets, options)) {
    REQUIRE(outcome.error);
    CHECK_FALSE(outcome.error->message.starts_with("not probed"));
  }
}

TEST_CASE("a fleet poll of 1000 targets with 10 percent hanging ends within its bound") {
  // Issue 27: a 1,000-node cluster with every tenth node hanging until the timeout. Targets run
  // `concurrency` at a time, so the hung ones cost ceil(100 / 16) x timeout = 7 s here whatever
  // else happens; the rest (refused at once here; a few ms of handshake in bench/fleet.sh) add
  // little. The poll must end within that bound, well inside its budget (the interval), with
  // every target accounted for and none left unprobed.
  std::vector<std::unique_ptr<certwatch::testing::SilentListener>> hanging;
  std::vector<ProbeTarget> targets;
  for (int i = 0; i < 1000; ++i) {
    if (i % 10 == 0) {
      hanging.push_back(std::make_unique<certwatch::testing::SilentListener>());
      targets.push_back(target("127.0.0.1:" + std::to_string(hanging.back()->port())));
    } else {
      targets.push_back(target("127.0.0.1:1"));  // nothing listens there: refused at once
    }
  }
  ProbeOptions options;
  options.timeout = 1000ms;
  options.concurrency = 16;
  options.budget = 10000ms;
  const auto started = std::chrono::steady_clock::now();
  const auto outcomes = probe_targets(targets, options);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(outcomes.size() == 1000);
  std::size_t timeouts = 0;
  std::size_t refused = 0;
  for (const ProbeOutcome& outcome : outcomes) {
    REQUIRE(outcome.error);
    CHECK_FALSE(outcome.error->message.starts_with("not probed"));
    if (reason_of(outcome) == ErrorReason::timeout) ++timeouts;
    if (reason_of(outcome) == ErrorReason::connect_failed) ++refused;
  }
  CHECK(timeouts == 100);
  CHECK(refused == 900);
  const auto bound = std::chrono::seconds{(100 + 15) / 16};  // x the 1 s timeout
  INFO("took " << std::chrono::duration<double>(took).count() << " s");
  CHECK(took >= bound - 500ms);  // the hung targets did hold their slots
  CHECK(took < bound + 2s);
}

TEST_CASE("probe reports connect_failed on a refused port") {
  const int port = certwatch::testing::find_free_port();
  const auto outcome = probe_one(target("127.0.0.1:" + std::to_string(port)));
  CHECK(reason_of(outcome) == ErrorReason::connect_failed);
}

TEST_CASE("probe reports dns_failed for an unresolvable name") {
  const auto outcome = probe_one(target("no-such-node.invalid:26257"), 10000ms);
  CHECK(reason_of(outcome) == ErrorReason::dns_failed);
}

TEST_CASE("probe reads one byte from a peer that floods") {
  TlsServer flood("", "", true);
  for (const auto protocol : {ProbeProtocol::postgres, ProbeProtocol::tls}) {
    const auto started = std::chrono::steady_clock::now();
    const auto outcome = probe_one(target(flood.address(), protocol), 2000ms);
    CHECK(reason_of(outcome) == ErrorReason::handshake_failed);
    CHECK(outcome.chain_der.empty());
    CHECK(std::chrono::steady_clock::now() - started < 10s);  // does not hang
  }
}

TEST_CASE("served chains get the expiry rules and checks") {
  TempDir dir;
  CertSpec expired;
  expired.not_before = certwatch::testing::unix_now() - 10 * certwatch::testing::kDay;
  expired.not_after = certwatch::testing::unix_now() - certwatch::testing::kDay;
  const Pki old = make_pki(expired);
  CertSpec wrong_name;
  wrong_name.dns_names = {"elsewhere.example"};
  const Pki unnamed = make_pki(wrong_name);
  const Pki good = make_pki();
  TlsServer expired_server(old.leaf.cert_pem + old.ca.cert_pem, old.leaf.key_pem);
  TlsServer unnamed_server(unnamed.leaf.cert_pem, unnamed.leaf.key_pem);
  TlsServer good_server(good.leaf.cert_pem, good.leaf.key_pem);
  const auto ca_file = dir.write("ca.crt", old.ca.cert_pem + unnamed.ca.cert_pem);

  const auto snapshot =
      poll_snapshot({target(expired_server.address()), target(unnamed_server.address()),
                     target(good_server.address())},
                    ca_file.string());
  std::map<std::string, std::string> leaf_action;  // target -> expiry action
  std::size_t chain_cas = 0;
  for (std::size_t i = 0; i < snapshot->certificates.size(); ++i) {
    const auto& id = snapshot->certificates[i]->id;
    if (id.index == "0") leaf_action[id.path] = snapshot->states[i].action;
    if (id.index == "1" && id.cert_type == CertType::ca) ++chain_cas;
  }
  CHECK(leaf_action[expired_server.address()] == "expired");
  CHECK(leaf_action[good_server.address()] == "ok");
  CHECK(chain_cas == 1);
  CHECK(has_check(*snapshot, "san_missing", "127.0.0.1"));
  // The good server's CA is not in ca_file: its served chain is untrusted.
  CHECK(std::any_of(snapshot->check_failures.begin(), snapshot->check_failures.end(),
                    [&](const auto& f) {
                      return f.check == "chain_untrusted" && f.id.path == good_server.address();
                    }));
}

TEST_CASE("a served leaf that differs from node.crt on disk is a mismatch") {
  TempDir certs;
  const Pki served = make_pki();
  const Pki renewed = make_pki();
  certs.write("ca.crt", served.ca.cert_pem);
  certs.write("node.crt", renewed.leaf.cert_pem);  // on disk: not what the node serves
  certwatch::testing::write_key_file(certs, "node.key", renewed.leaf);
  TlsServer server(served.leaf.cert_pem, served.leaf.key_pem);

  const auto snapshot = poll_snapshot({target(server.address())},
                                      (certs.path() / "ca.crt").string(), certs.path().string());
  REQUIRE(snapshot->served_mismatch.size() == 1);
  CHECK(snapshot->served_mismatch.front().against == "disk");
  CHECK(snapshot->served_mismatch.front().target == server.address());

  certs.write("node.crt", served.leaf.cert_pem);  // reloaded: the wire agrees with the disk
  CHECK(poll_snapshot({target(server.address())}, (certs.path() / "ca.crt").string(),
                      certs.path().string())
            ->served_mismatch.empty());
}

TEST_CASE("failing targets are counted while the source stays up") {
  const Pki good = make_pki();
  TlsServer server(good.leaf.cert_pem, good.leaf.key_pem);
  const int refused = certwatch::testing::find_free_port();
  certwatch::config::ProbeConfig cfg;
  cfg.targets = {target(server.address()), target("127.0.0.1:" + std::to_string(refused))};
  cfg.timeout = std::chrono::seconds{3};
  certwatch::sources::ProbeSource source(cfg);
  certwatch::state::SourceHealth health;
  certwatch::state::SharedPollResult last_good;
  for (int poll = 0; poll < 2; ++poll) {
    certwatch::state::record_poll(source.poll(), 0, 1, health, last_good);
  }
  CHECK(health.up);
  CHECK(health.errors_total[ErrorReason::connect_failed] == 2);
  REQUIRE(last_good);
  CHECK(last_good->certificates.size() == 1);
}

TEST_CASE("the daemon exports probe results on metrics") {
  TempDir dir;
  const Pki pki = make_pki();
  TlsServer server(pki.leaf.cert_pem, pki.leaf.key_pem);
  const int refused = certwatch::testing::find_free_port();
  const auto ca_file = dir.write("ca.crt", pki.ca.cert_pem);
  const auto config = dir.write(
      "config.yml",
      "files:\n  certs_dirs: [" + dir.path().string() +
          "]\nprobe:\n  poll_interval: 1s\n  timeout: 2s\n  ca_file: " + ca_file.string() +
          "\n  targets:\n    - {address: \"" + server.address() +
          "\", protocol: tls}\n    - {address: \"127.0.0.1:" + std::to_string(refused) +
          "\", protocol: tls}\n");
  certwatch::testing::ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file", config.string(), "--web.listen-address", "127.0.0.1:0"},
      dir.path() / "daemon.log");
  const std::regex listening{R"(\(port ([0-9]+)\))"};
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string body;
  const std::string success = "crdb_cert_probe_success{target=\"" + server.address() + "\"} 1";
  const std::string refused_line =
      "crdb_cert_source_errors_total{source=\"probe\",reason=\"connect_failed\"}";
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    const std::string log = daemon.log();
    if (std::regex_search(log, match, listening)) {
      if (const auto response = certwatch::testing::http_get(std::stoi(match[1]), "/metrics")) {
        body = response->body;
        if (body.find(success) != std::string::npos &&
            body.find(refused_line) != std::string::npos) {
          break;
        }
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  INFO(body << "\n--- log:\n" << daemon.log());
  CHECK(body.find(success) != std::string::npos);
  CHECK(body.find(refused_line) != std::string::npos);
  CHECK(body.find("crdb_cert_probe_tls_info{target=\"" + server.address()) != std::string::npos);
  const auto served =
      certwatch::testing::lines_starting(body, "crdb_cert_not_after_timestamp_seconds{");
  CHECK(std::any_of(served.begin(), served.end(), [&](const std::string& line) {
    return line.find("source=\"probe\"") != std::string::npos &&
           line.find("path=\"" + server.address() + "\"") != std::string::npos &&
           line.find("index=\"0\"") != std::string::npos;
  }));
  CHECK(body.find("crdb_cert_source_up{source=\"probe\"} 1") != std::string::npos);
  // The status page shows a row per target.
  std::smatch match;
  const std::string log = daemon.log();
  REQUIRE(std::regex_search(log, match, listening));
  const auto page = certwatch::testing::http_get(std::stoi(match[1]), "/");
  REQUIRE(page);
  CHECK(page->body.find("Probe targets") != std::string::npos);
  CHECK(page->body.find(server.address()) != std::string::npos);
  CHECK(page->body.find("connect_failed") != std::string::npos);
}

TEST_CASE("from_cluster probes the listed nodes and compares with their reported expiry") {
  auto& pg = certwatch::testing::shared_pg_server();
  certwatch::testing::delete_all_nodes(pg);
  const Pki pki = make_pki();
  TlsServer server(pki.leaf.cert_pem, pki.leaf.key_pem);
  certwatch::testing::FakeNode node;
  node.node_id = 7;
  node.address = server.address();
  // The node reports a node certificate other than the one it serves (a year from now).
  const auto reported = certwatch::testing::unix_now() + 1000 * certwatch::testing::kDay;
  node.cert_metrics = {{"ca", std::to_string(reported)}, {"node", std::to_string(reported)}};
  certwatch::testing::insert_node(pg, node);

  certwatch::config::Config config;
  config.files.certs_dirs.clear();
  config.cluster.emplace();
  config.cluster->dsn =
      pg.tcp_dsn(certwatch::testing::kMonitorUser, certwatch::testing::kRolePassword);
  config.probe.emplace();
  config.probe->from_cluster = true;
  config.probe->from_cluster_protocol = ProbeProtocol::tls;
  config.probe->timeout = std::chrono::seconds{3};
  // poll_once polls the cluster before the probe, which declares it reads the cluster's view.
  const auto snapshot =
      certwatch::state::poll_once(certwatch::sources::make_sources(config), config.rules,
                                  config.checks, {}, certwatch::unix_now);
  certwatch::testing::delete_all_nodes(pg);
  const bool probed = std::any_of(
      snapshot->certificates.begin(), snapshot->certificates.end(), [&](const auto* cert) {
        return cert->id.source == "probe" && cert->id.path == server.address() &&
               cert->id.node_id == "7";
      });
  CHECK(probed);
  const auto& mismatches = snapshot->served_mismatch;
  CHECK(std::any_of(mismatches.begin(), mismatches.end(), [&](const auto& m) {
    return m.against == "cluster" && m.node_id == "7" && m.target == server.address() &&
           m.expected_not_after == reported;
  }));
}

// Issue 26: the probe learnt the cluster's nodes through a process-wide variable, and the two
// sources polled in no order: its first poll could find no node and then wait its whole interval
// (5 minutes by default). It now declares that it reads the cluster's view, and first polls after
// the cluster's first poll. The probe interval here is an hour: any probe result within the 20 s
// the test waits comes from a poll at start that already had the nodes.
TEST_CASE("the daemon's first probe results with from_cluster come within one cluster poll") {
  auto& pg = certwatch::testing::shared_pg_server();
  certwatch::testing::delete_all_nodes(pg);
  TempDir dir;
  const Pki pki = make_pki();
  TlsServer server(pki.leaf.cert_pem, pki.leaf.key_pem);
  certwatch::testing::FakeNode node;
  node.node_id = 4;
  node.address = server.address();
  const auto reported = certwatch::testing::unix_now() + 1000 * certwatch::testing::kDay;
  node.cert_metrics = {{"ca", std::to_string(reported)}, {"node", std::to_string(reported)}};
  certwatch::testing::insert_node(pg, node);
  const auto ca_file = dir.write("ca.crt", pki.ca.cert_pem);
  const auto config = dir.write(
      "config.yml", "files:\n  certs_dirs: []\ncluster:\n  poll_interval: 2s\n  dsn: " +
                        certwatch::testing::single_quoted_yaml(pg.tcp_dsn(
                            certwatch::testing::kMonitorUser, certwatch::testing::kRolePassword)) +
                        "\nprobe:\n  poll_interval: 1h\n  timeout: 3s\n  ca_file: " +
                        certwatch::testing::single_quoted_yaml(ca_file.string()) +
                        "\n  from_cluster: {enabled: true, protocol: tls}\n");
  certwatch::testing::ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file", config.string(), "--web.listen-address", "127.0.0.1:0"},
      dir.path() / "daemon.log");
  const auto port = certwatch::testing::wait_for_listening_port(daemon);
  REQUIRE(port);
  const std::string success = "crdb_cert_probe_success{target=\"" + server.address() + "\"} 1";
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto response = certwatch::testing::http_get(*port, "/metrics")) {
      body = response->body;
      if (body.find(success) != std::string::npos) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  certwatch::testing::delete_all_nodes(pg);
  INFO(body << "\n--- log:\n" << daemon.log());
  CHECK(body.find(success) != std::string::npos);
  CHECK(body.find("crdb_cert_source_up{source=\"cluster\"} 1") != std::string::npos);
}

// Kubernetes (issue 16): cert-manager renews the Secret, the kubelet swaps the volume's `..data`
// link, and the pod keeps serving the old leaf until it is restarted. The sidecar sees the new
// tls.crt at once and the probe shows the wire still has the old one.
TEST_CASE("a renewed TLS Secret shows a served mismatch until the server serves it") {
  TempDir dir;
  CertSpec ca_spec;
  ca_spec.common_name = "Cockroach CA";
  ca_spec.is_ca = true;
  const GeneratedCert ca = generate_cert(ca_spec);
  CertSpec leaf_spec;
  leaf_spec.common_name = "node";
  leaf_spec.dns_names = {"localhost"};
  leaf_spec.ip_addresses = {"127.0.0.1"};
  const std::int64_t now = std::time(nullptr);
  leaf_spec.not_after = now + 20 * 86400;
  const GeneratedCert v1 = generate_cert(leaf_spec, &ca);
  leaf_spec.not_after = now + 400 * 86400;
  const GeneratedCert v2 = generate_cert(leaf_spec, &ca);
  using certwatch::testing::publish_secret_volume;
  const auto secret = publish_secret_volume(
      dir, "node-secret", "..2026_11_01",
      {{"tls.crt", v1.cert_pem}, {"tls.key", v1.key_pem, 0600}, {"ca.crt", ca.cert_pem}});
  TlsServer server(v1.cert_pem, v1.key_pem);
  const std::string address = server.address();
  const auto config =
      dir.write("config.yml",
                "files:\n  certs_dirs: []\n  tls_secrets:\n    - {path: " +
                    certwatch::testing::single_quoted_yaml(secret.string()) +
                    ", cert_type: node}\nprobe:\n  poll_interval: 1s\n  timeout: 2s\n  ca_file: " +
                    certwatch::testing::single_quoted_yaml((secret / "ca.crt").string()) +
                    "\n  targets:\n    - {address: \"" + address +
                    "\", protocol: tls, server_name: localhost}\n");
  certwatch::testing::ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file", config.string(), "--web.listen-address", "127.0.0.1:0"},
      dir.path() / "daemon.log");
  const auto port_of_daemon = certwatch::testing::wait_for_listening_port(daemon);
  INFO(daemon.log());
  REQUIRE(port_of_daemon);
  const std::string mismatch =
      "crdb_cert_served_mismatch{node_id=\"\",target=\"" + address + "\",against=\"disk\"} 1";
  const std::string probed = "crdb_cert_probe_success{target=\"" + address + "\"} 1";
  // Scrapes until `done` holds for the body (or 20 s pass) and returns the last body.
  const auto scrape_until = [&](auto done) {
    std::string body;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (const auto response = certwatch::testing::http_get(*port_of_daemon, "/metrics")) {
        body = response->body;
        if (done(body)) break;
      }
      std::this_thread::sleep_for(200ms);
    }
    return body;
  };
  const auto has = [](const std::string& body, const std::string& line) {
    return body.find(line) != std::string::npos;
  };
  const std::string v2_expiry = std::to_string(now + 400 * 86400);
  const std::string mounted =
      "crdb_cert_not_after_timestamp_seconds{source=\"file\",cert_type=\"node\"";

  // Served and mounted agree: no mismatch.
  std::string body = scrape_until([&](const std::string& b) { return has(b, probed); });
  CHECK(has(body, probed));
  CHECK_FALSE(has(body, "crdb_cert_served_mismatch{"));

  // The Secret is renewed; the server (the pod) still serves v1.
  publish_secret_volume(
      dir, "node-secret", "..2026_11_28",
      {{"tls.crt", v2.cert_pem}, {"tls.key", v2.key_pem, 0600}, {"ca.crt", ca.cert_pem}});
  body = scrape_until([&](const std::string& b) { return has(b, mismatch); });
  CHECK(has(body, mismatch));
  const auto files = certwatch::testing::lines_starting(body, mounted);
  REQUIRE(files.size() == 1);
  CHECK(files.front().ends_with(" " + v2_expiry));

  // The pod restarts and serves the mounted leaf: the mismatch goes away.
  server.serve_instead(v2.cert_pem, v2.key_pem);
  body = scrape_until([&](const std::string& b) {
    return !has(b, "crdb_cert_served_mismatch{") && has(b, probed);
  });
  CHECK_FALSE(has(body, "crdb_cert_served_mismatch{"));
  CHECK(has(body, probed));
}

namespace {

// Brings the loopback interface of this (new) network namespace up.
bool loopback_up() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
  ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  ::close(fd);
  return ok;
}

bool write_proc(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

// This process in new user, network and mount namespaces (root inside, nothing outside), with
// `hosts` and `resolv_conf` bound over /etc/hosts and /etc/resolv.conf; an error text when the
// kernel or the sandbox refuses.
std::string enter_dns_sandbox(const std::filesystem::path& hosts,
                              const std::filesystem::path& resolv_conf) {
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  // Root needs no user namespace (and a chrooted process, as in the clean-root CI check, may not
  // make one): network and mount namespaces are enough.
  const bool root = ::geteuid() == 0;
  if (::unshare((root ? 0 : CLONE_NEWUSER) | CLONE_NEWNET | CLONE_NEWNS) != 0) {
    return std::string("unshare: ") + std::strerror(errno);
  }
  if (!root && (!write_proc("/proc/self/setgroups", "deny") ||
                !write_proc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
                !write_proc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))) {
    return "cannot write the namespace's id maps";
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 && errno == EINVAL) {
    return "chroot: / is no mount point";  // a chroot: its mounts cannot be made private
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount(hosts.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr) != 0 ||
      ::mount(resolv_conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
    return std::string("bind mount: ") + std::strerror(errno);
  }
  if (!loopback_up()) return "cannot bring lo up";
  return {};
}

constexpr const char* kInDnsSandbox = "CERTWATCH_TEST_IN_DNS_SANDBOX";

}  // namespace

// Issue 28 item 7: Asio's resolver ran one lookup at a time, so two names whose DNS never answers
// made all twelve targets time out. The test re-runs itself in its own user, network and mount
// namespaces (no internet needed): /etc/hosts names ten targets, /etc/resolv.conf points at a UDP
// socket on 127.0.0.1:53 that reads nothing and answers nothing (timeout 30 s), and the two
// unlisted names go to it. Listed first, they must not hold the ten: those complete their
// handshakes, the two fail as dns_failed at their own timeout, the poll takes about one timeout,
// and crdb_cert_probe_errors_total counts dns_failed per target, poll after poll (the second poll
// joins the lookups still hanging rather than starting more).
TEST_CASE("a name whose DNS never answers fails only its own probe target") {
  struct stat root {};
  struct stat init_root {};
  if (::stat("/", &root) == 0 && ::stat("/proc/1/root", &init_root) == 0 &&
      (root.st_dev != init_root.st_dev || root.st_ino != init_root.st_ino)) {
    // In a chroot (the clean-root check), / is no mount point: the test cannot make the mounts of
    // its own namespace private, and a bind over /etc/resolv.conf could reach the host's. CI runs
    // the suite outside a chroot, where this test runs in full.
    WARN("in a chroot: the DNS sandbox needs / to be a mount point; not run here");
    return;
  }
  if (std::getenv(kInDnsSandbox) == nullptr) {
    const TempDir dir;
    const auto self = std::filesystem::read_symlink("/proc/self/exe").string();
    ::setenv(kInDnsSandbox, dir.path().c_str(), 1);
    const auto run = certwatch::testing::run_command(
        {self, "a name whose DNS never answers fails only its own probe target"}, 120s);
    ::unsetenv(kInDnsSandbox);
    INFO(run.out << run.err);
    if (run.err.find("no sandbox: chroot:") != std::string::npos) {
      // The clean-root check runs the suite in a chroot; CI runs it outside, where this runs.
      WARN("in a chroot: the DNS sandbox needs / to be a mount point; not run here");
      return;
    }
    if (run.exit_code == certwatch::testing::kSkippedExitCode) {
      certwatch::testing::require(false, "user and network namespaces",
                                  "unprivileged user namespaces must be allowed: " + run.err);
      return;
    }
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("All tests passed") != std::string::npos);
    return;
  }
  // In the sandbox (a fresh process, one thread, as unshare(CLONE_NEWUSER) requires).
  const std::filesystem::path dir = std::getenv(kInDnsSandbox);
  std::string hosts = "127.0.0.1 localhost\n";
  for (int i = 0; i < 10; ++i) hosts += "127.0.0.1 node" + std::to_string(i) + ".test\n";
  const auto hosts_file = dir / "hosts";
  const auto resolv_file = dir / "resolv.conf";
  std::ofstream(hosts_file) << hosts;
  std::ofstream(resolv_file) << "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n";
  if (const std::string error = enter_dns_sandbox(hosts_file, resolv_file); !error.empty()) {
    std::cerr << "no sandbox: " << error << "\n";
    std::exit(certwatch::testing::kSkippedExitCode);
  }
  // The name server that never answers: bound, so no ICMP refusal either.
  asio::io_context sink_io;
  asio::ip::udp::socket sink(sink_io, {asio::ip::make_address("127.0.0.1"), 53});
  const Pki pki = make_pki();
  TlsServer server(pki.leaf.cert_pem, pki.leaf.key_pem);
  certwatch::config::ProbeConfig cfg;
  cfg.timeout = std::chrono::seconds{2};
  cfg.concurrency = 16;
  const std::string port = ":" + std::to_string(server.port());
  cfg.targets = {target("silent-a.test" + port), target("silent-b.test" + port)};
  for (int i = 0; i < 10; ++i)
    cfg.targets.push_back(target("node" + std::to_string(i) + ".test" + port));
  certwatch::sources::ProbeSource source(cfg);
  for (int poll = 1; poll <= 2; ++poll) {
    INFO("poll " << poll);
    const auto started = std::chrono::steady_clock::now();
    const auto result = source.poll();
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took < 3500ms);  // one timeout (2 s), not one per hanging name nor the DNS timeout
    const auto* facts = certwatch::sources::facts_as<certwatch::sources::ProbeFacts>(result);
    REQUIRE(facts != nullptr);
    REQUIRE(facts->outcomes.size() == 12);
    for (const ProbeOutcome& outcome : facts->outcomes) {
      INFO(outcome.target.address << ": " << (outcome.error ? outcome.error->message : "ok"));
      if (outcome.target.address.starts_with("silent-")) {
        CHECK(reason_of(outcome) == ErrorReason::dns_failed);
        CHECK(outcome.duration < 2.5);
      } else {
        CHECK_FALSE(outcome.error);
        CHECK(outcome.duration < 1.0);
      }
    }
    CHECK(result.certificates.size() == 10);
    for (const char* name : {"silent-a.test", "silent-b.test"}) {
      CHECK(facts->errors_total.at({name + port, ErrorReason::dns_failed}) ==
            static_cast<std::uint64_t>(poll));
    }
    CHECK(facts->errors_total.size() == 2);  // the ten good targets have no errors
    const auto families = facts->families();
    const auto errors = std::find_if(families.begin(), families.end(), [](const auto& f) {
      return f.name == "crdb_cert_probe_errors_total";
    });
    REQUIRE(errors != families.end());
    CHECK(errors->type == certwatch::Family::Type::counter);
    const certwatch::LabelPairs labels{{"target", "silent-a.test" + port},
                                       {"reason", "dns_failed"}};
    CHECK(std::any_of(errors->series.begin(), errors->series.end(),
                      [&](const auto& s) { return s.labels == labels && s.value == poll; }));
  }
}
