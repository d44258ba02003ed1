// The node vars part of the cluster source (issue 27): the client certificates CockroachDB saw per
// SQL user, read from each node's /_status/vars. The pure parts on strings; the scrape against
// TLS stand-ins on 127.0.0.1 (certificates made here) serving recorded-shape bodies, a hanging
// node, a 50 MB body and a body that is not Prometheus text; and the real daemon with the
// PostgreSQL kv_node_status harness, showing the client certificates on /metrics.
#include "sources/node_vars.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "rules/conditions.hpp"
#include "sources/cluster_source.hpp"
#include "state/remedy.hpp"
#include "support/certgen.hpp"
#include "support/exposition.hpp"
#include "support/fake_cloud_api.hpp"
#include "support/http_client.hpp"
#include "support/pg_harness.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::CertObservation;
using certwatch::CertType;
using certwatch::Condition;
using certwatch::ErrorReason;
using certwatch::sources::ClientCertificate;
using certwatch::sources::ClientCertSeen;
using certwatch::sources::NodeInfo;
using certwatch::sources::NodeScrape;
using certwatch::sources::NodeVarsErrorCounts;
using certwatch::testing::FakeCloudApi;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::Reply;
using certwatch::testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kNow = 1'750'000'000;

// A body shaped like a CockroachDB node's /_status/vars: other families around the two client
// certificate families, a parent sample without sql_user, then one child per user.
std::string vars_body(const std::string& node_id,
                      const std::vector<std::pair<std::string, std::int64_t>>& users) {
  std::string body =
      "# HELP sql_conns Number of open SQL connections\n# TYPE sql_conns gauge\n"
      "sql_conns{node_id=\"" +
      node_id +
      "\"} 4\n"
      "# HELP security_certificate_expiration_client Minimum expiration for client "
      "certificates, labeled by SQL user. 0 means no certificate or error.\n"
      "# TYPE security_certificate_expiration_client gauge\n"
      "security_certificate_expiration_client{node_id=\"" +
      node_id + "\"} 0\n";
  for (const auto& [user, not_after] : users) {
    body += "security_certificate_expiration_client{node_id=\"" + node_id + "\",sql_user=\"" +
            user + "\"} " + std::to_string(not_after) + "\n";
  }
  body +=
      "# HELP security_certificate_ttl_client Seconds till expiration for client certificates\n"
      "# TYPE security_certificate_ttl_client gauge\n";
  for (const auto& [user, not_after] : users) {
    body += "security_certificate_ttl_client{node_id=\"" + node_id + "\",sql_user=\"" + user +
            "\"} " + std::to_string(std::max<std::int64_t>(0, not_after - kNow)) + "\n";
  }
  body +=
      "# TYPE sql_service_latency histogram\n"
      "sql_service_latency_bucket{node_id=\"" +
      node_id +
      "\",le=\"+Inf\"} 12\n"
      "sql_service_latency_sum{node_id=\"" +
      node_id +
      "\"} 0.5\n"
      "sql_service_latency_count{node_id=\"" +
      node_id + "\"} 12\n";
  return body;
}

NodeScrape scrape_of(std::string node_id, std::vector<ClientCertSeen> certs) {
  NodeScrape scrape;
  scrape.node_id = std::move(node_id);
  scrape.target = "n" + scrape.node_id + ":8080";
  scrape.reading.families_present = true;
  scrape.reading.per_user = !certs.empty();
  scrape.reading.certs = std::move(certs);
  return scrape;
}

}  // namespace

TEST_CASE("a node's body gives one expiry per SQL user", "[node_vars]") {
  const auto read = certwatch::sources::read_node_vars(
      vars_body("1", {{"app", kNow + 10 * kDay}, {"root", kNow + 400 * kDay}}), kNow);
  REQUIRE_FALSE(read.error);
  CHECK(read.reading.families_present);
  CHECK(read.reading.per_user);
  CHECK(read.reading.certs ==
        std::vector<ClientCertSeen>{{"app", kNow + 10 * kDay}, {"root", kNow + 400 * kDay}});

  SECTION("a user with a TTL only, a 0, and a user given twice") {
    const std::string body =
        "security_certificate_ttl_client{node_id=\"1\",sql_user=\"ttl_only\"} 3600\n"
        "security_certificate_expiration_client{node_id=\"1\",sql_user=\"none\"} 0\n"
        "security_certificate_expiration_client{node_id=\"1\",sql_user=\"twice\"} 2000000000\n"
        "security_certificate_expiration_client{node_id=\"9\",sql_user=\"twice\"} 1900000000\n";
    const auto r = certwatch::sources::read_node_vars(body, kNow);
    REQUIRE_FALSE(r.error);
    CHECK(r.reading.certs ==
          std::vector<ClientCertSeen>{{"ttl_only", kNow + 3600}, {"twice", 1900000000}});
  }
  SECTION("the families without children: child metrics off") {
    const auto r = certwatch::sources::read_node_vars(vars_body("1", {}), kNow);
    REQUIRE_FALSE(r.error);
    CHECK(r.reading.families_present);
    CHECK_FALSE(r.reading.per_user);
    CHECK(r.reading.certs.empty());
  }
  SECTION("no client families at all (an older version)") {
    const auto r = certwatch::sources::read_node_vars("# TYPE up gauge\nup 1\n", kNow);
    REQUIRE_FALSE(r.error);
    CHECK_FALSE(r.reading.families_present);
  }
  SECTION("a login page instead of the metrics") {
    const auto r = certwatch::sources::read_node_vars("<!DOCTYPE html>\n<html></html>\n", kNow);
    REQUIRE(r.error);
    CHECK(r.error->reason == ErrorReason::bad_response);
    CHECK(r.error->message.find("not Prometheus text: line 1") == 0);
  }
}

TEST_CASE("each user and distinct expiry is one certificate at the lowest node that saw it",
          "[node_vars]") {
  const std::int64_t a = kNow + 20 * kDay;
  const std::int64_t b = kNow + 200 * kDay;
  const std::int64_t c = kNow + 5 * kDay;
  NodeScrape failed;
  failed.node_id = "4";
  failed.target = "n4:8080";
  failed.error = certwatch::SourceError{ErrorReason::timeout, "no complete response within 2s"};
  const std::vector<NodeScrape> scrapes{scrape_of("10", {{"alice", a}}),
                                        scrape_of("2", {{"alice", a}, {"bob", b}}),
                                        scrape_of("3", {{"alice", c}}), failed};
  NodeVarsErrorCounts errors;
  const auto outcome = certwatch::sources::interpret_node_vars(scrapes, errors);
  REQUIRE(outcome.certificates.size() == 3);
  std::vector<std::string> got;
  for (const CertObservation& cert : outcome.certificates) {
    CHECK(cert.id.source == "cluster");
    CHECK(cert.id.cert_type == CertType::client);
    CHECK(cert.id.path.empty());
    CHECK(cert.id.index.empty());
    CHECK(cert.facts == nullptr);
    got.push_back(cert.id.user + "@" + cert.id.node_id + "=" + std::to_string(*cert.not_after));
  }
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"alice@2=" + std::to_string(a),
                                        "alice@3=" + std::to_string(c),
                                        "bob@2=" + std::to_string(b)});
  const auto& facts = *outcome.facts;
  CHECK(facts.seen_by_user == std::map<std::string, std::size_t>{{"alice", 3}, {"bob", 1}});
  // By user, then expiry: alice in 5 days (node 3), alice in 20 days (nodes 2 and 10), bob.
  REQUIRE(facts.clients.size() == 3);
  CHECK(facts.clients[0].node_ids == std::vector<std::string>{"3"});
  CHECK(facts.clients[1].node_ids == std::vector<std::string>{"2", "10"});
  REQUIRE(outcome.partial_errors.size() == 1);
  CHECK(outcome.partial_errors[0].reason == ErrorReason::timeout);
  CHECK(errors == NodeVarsErrorCounts{{{"4", ErrorReason::timeout}, 1}});
  CHECK_FALSE(facts.child_metrics_off());
  CHECK(facts.findings().empty());

  const auto families = facts.families();
  const auto family = [&](std::string_view name) {
    return *std::find_if(families.begin(), families.end(),
                         [&](const certwatch::Family& f) { return f.name == name; });
  };
  CHECK(family("crdb_cert_client_seen").series ==
        std::vector<certwatch::Series>{{{{"user", "alice"}}, 3}, {{{"user", "bob"}}, 1}});
  CHECK(family("crdb_cert_node_vars_errors_total").series ==
        std::vector<certwatch::Series>{{{{"node_id", "4"}, {"reason", "timeout"}}, 1}});
  CHECK(family("crdb_cert_node_vars_success").series.size() == 4);
  CHECK(family("crdb_cert_cluster_client_child_metrics").series ==
        std::vector<certwatch::Series>{{{}, 1}});

  // A second failure counts on; a node no longer listed leaves the counter.
  certwatch::sources::interpret_node_vars(scrapes, errors);
  CHECK(errors.at({"4", ErrorReason::timeout}) == 2);
  certwatch::sources::interpret_node_vars({scrapes[0]}, errors);
  CHECK(errors.empty());
}

TEST_CASE("child metrics off is one info finding with the statement that turns them on",
          "[node_vars]") {
  NodeVarsErrorCounts errors;
  const auto outcome =
      certwatch::sources::interpret_node_vars({scrape_of("1", {}), scrape_of("2", {})}, errors);
  CHECK(outcome.certificates.empty());
  const auto findings = outcome.facts->findings();
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].condition == Condition::client_child_metrics_off);
  CHECK(findings[0].message.find("SET CLUSTER SETTING server.child_metrics.enabled = true;") !=
        std::string::npos);
  CHECK(certwatch::rules::severity_of(Condition::client_child_metrics_off) ==
        certwatch::Severity::info);
  const auto remedy = certwatch::state::remedy_for(findings[0]);
  CHECK_FALSE(remedy.why.empty());
  CHECK(remedy.fix.find("SET CLUSTER SETTING server.child_metrics.enabled = true;") !=
        std::string::npos);
  CHECK(remedy.alert == "CrdbCertClientChildMetricsOff");

  // No body read at all (every node failed): nothing is known, nothing is said.
  NodeScrape down;
  down.node_id = "1";
  down.error = certwatch::SourceError{ErrorReason::connect_failed, "refused"};
  const auto none = certwatch::sources::interpret_node_vars({down}, errors);
  CHECK(none.facts->findings().empty());
  const auto families = none.facts->families();
  CHECK(families.back().series.empty());  // the child-metrics gauge is absent
}

TEST_CASE("the inventory says per user whether a file on this host matches", "[node_vars]") {
  const std::vector<ClientCertificate> clients{{"alice", kNow + 20 * kDay, {"1", "2"}},
                                               {"alice", kNow + 5 * kDay, {"3"}},
                                               {"bob", kNow + 60 * kDay, {"2"}},
                                               {"carol", kNow + 90 * kDay, {"1"}}};
  CertObservation alice_file;
  alice_file.id.cert_type = CertType::client;
  alice_file.id.user = "alice";
  alice_file.id.path = "/certs/client.alice.crt";
  alice_file.not_after = kNow + 20 * kDay;
  CertObservation bob_file = alice_file;
  bob_file.id.user = "bob";
  bob_file.id.path = "/certs/client.bob.crt";
  bob_file.not_after = kNow + 61 * kDay;
  const auto table = certwatch::sources::client_inventory(clients, {&alice_file, &bob_file});
  REQUIRE(table);
  CHECK(table->title == "Client certificates in use");
  REQUIRE(table->rows.size() == 3);
  // Soonest first: alice (5 days, on nodes 1, 2, 3), bob, carol.
  CHECK(table->rows[0][0].text == "alice");
  CHECK(table->rows[0][1].time == static_cast<double>(kNow + 5 * kDay));
  CHECK(table->rows[0][2].text == "2");
  CHECK(table->rows[0][3].text == "1, 2, 3");
  CHECK(table->rows[0][4].text == "yes");
  CHECK(table->rows[0][4].note == "/certs/client.alice.crt");
  CHECK(table->rows[1][4].text == "another expiry");
  CHECK(table->rows[2][4].text == "no");
  CHECK_FALSE(certwatch::sources::client_inventory({}, {}));
}

TEST_CASE(
    "node vars against TLS stand-ins: many users and two expiries and a hang and 50 MB and HTML",
    "[node_vars][tls]") {
  TempDir dir;
  certwatch::testing::CertSpec ca_spec;
  ca_spec.common_name = "Test Cockroach UI CA";
  ca_spec.is_ca = true;
  const GeneratedCert ca = certwatch::testing::generate_cert(ca_spec);
  std::vector<std::unique_ptr<FakeCloudApi>> nodes;
  for (int i = 0; i < 5; ++i) nodes.push_back(std::make_unique<FakeCloudApi>(dir, &ca));

  std::vector<std::pair<std::string, std::int64_t>> many;
  for (int i = 0; i < 300; ++i)
    many.emplace_back("app_" + std::to_string(i), kNow + (i + 1) * kDay);
  many.emplace_back("shared", kNow + 30 * kDay);
  Reply text;
  text.headers = {{"Content-Type", "text/plain; version=0.0.4"}};
  text.body = vars_body("1", many);
  nodes[0]->set(text);
  text.body = vars_body("2", {{"shared", kNow + 400 * kDay}});  // renewed, seen by node 2 only
  nodes[1]->set(text);
  Reply hang;
  hang.hang = true;
  nodes[2]->set(hang);
  Reply huge;  // 50 MB of body, announced as such
  huge.raw = {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 52428800\r\n\r\n"};
  huge.stream_bytes = 50ULL * 1024 * 1024;
  nodes[3]->set(huge);
  Reply html;
  html.body = "<!DOCTYPE html>\n<html><body>DB Console</body></html>\n";
  nodes[4]->set(html);

  std::vector<NodeInfo> infos;
  certwatch::sources::NodeVarsOptions options;
  options.ca_file = nodes[0]->ca_file();
  options.timeout = 2000ms;
  for (int i = 0; i < 5; ++i) {
    const std::string id = std::to_string(i + 1);
    infos.push_back({id, "127.0.0.1:26257", "v24.3.9", 0});
    options.port_by_node[id] = nodes[static_cast<std::size_t>(i)]->port();
  }
  const auto started = Clock::now();
  const auto scrapes = certwatch::sources::scrape_node_vars(infos, options, kNow);
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  // Bounded by one timeout: the nodes are read at once, the hanging one costs its own 2 s.
  CHECK(elapsed < 4.0);
  REQUIRE(scrapes.size() == 5);
  INFO((scrapes[0].error ? scrapes[0].error->message : "node 1 read"));
  CHECK_FALSE(scrapes[0].error);
  CHECK(scrapes[0].reading.certs.size() == 301);
  CHECK_FALSE(scrapes[1].error);
  REQUIRE(scrapes[2].error);
  CHECK(scrapes[2].error->reason == ErrorReason::timeout);
  REQUIRE(scrapes[3].error);
  CHECK(scrapes[3].error->reason == ErrorReason::bad_response);
  CHECK(scrapes[3].error->message.find("larger than the limit") != std::string::npos);
  REQUIRE(scrapes[4].error);
  CHECK(scrapes[4].error->reason == ErrorReason::bad_response);
  CHECK(scrapes[4].error->message.find("not Prometheus text") != std::string::npos);
  // The 50 MB were not read: the client stopped at its limit (16 MiB and the framing allowance).
  CHECK(nodes[3]->raw_bytes_sent() < 20ULL * 1024 * 1024);

  NodeVarsErrorCounts errors;
  const auto outcome = certwatch::sources::interpret_node_vars(scrapes, errors);
  CHECK(outcome.certificates.size() == 302);  // 300 + shared twice
  std::vector<std::string> shared;
  for (const CertObservation& cert : outcome.certificates) {
    if (cert.id.user == "shared") shared.push_back(cert.id.node_id);
  }
  std::sort(shared.begin(), shared.end());
  CHECK(shared == std::vector<std::string>{"1", "2"});
  CHECK(outcome.facts->seen_by_user.at("shared") == 2);
  CHECK(outcome.partial_errors.size() == 3);

  SECTION("a CA that did not sign the DB Console's certificate fails the TLS handshake") {
    options.ca_file =
        dir.write("other-ca.crt", certwatch::testing::generate_cert(ca_spec).cert_pem).string();
    const auto refused = certwatch::sources::scrape_node_vars({infos[0]}, options, kNow);
    REQUIRE(refused[0].error);
    CHECK(refused[0].error->reason == ErrorReason::handshake_failed);
  }
}

TEST_CASE("node vars through the real daemon: client certificates on /metrics and the page",
          "[node_vars][daemon]") {
  using certwatch::testing::FakeNode;
  auto& pg = certwatch::testing::shared_pg_server();
  TempDir dir;
  const fs::path root = fs::canonical(dir.path());
  certwatch::testing::CertSpec ca_spec;
  ca_spec.common_name = "Test Cockroach CA";
  ca_spec.is_ca = true;
  const GeneratedCert ca = certwatch::testing::generate_cert(ca_spec);
  FakeCloudApi vars(dir, &ca);
  const std::int64_t now = certwatch::testing::unix_now();
  const std::int64_t app_not_after = now + 10 * kDay;
  const std::int64_t report_not_after = now + 300 * kDay;
  Reply text;
  text.body = vars_body("1", {{"app", app_not_after}, {"report", report_not_after}});
  vars.set(text);

  // This host holds client.app.crt with the same expiry: the inventory says the file matches.
  certwatch::testing::CertSpec app_spec;
  app_spec.common_name = "app";
  app_spec.not_after = app_not_after;
  // The DB Console serves a certificate of its own CA (ca-ui.crt); ca.crt is another CA. With no
  // ca_file configured the node vars trust ca-ui.crt: trusting ca.crt would fail every handshake.
  certwatch::testing::CertSpec sql_ca_spec = ca_spec;
  sql_ca_spec.common_name = "Test Cockroach SQL CA";
  const GeneratedCert sql_ca = certwatch::testing::generate_cert(sql_ca_spec);
  dir.write("certs/ca.crt", sql_ca.cert_pem);
  dir.write("certs/ca-ui.crt", ca.cert_pem);
  dir.write("certs/client.app.crt", certwatch::testing::generate_cert(app_spec, &sql_ca).cert_pem);
  dir.write("certs/client.app.key", "", 0600);

  pg.reset_node_status();
  for (std::int64_t id : {1, 2}) {
    FakeNode node;
    node.node_id = id;
    node.address = "127.0.0.1:26257";
    node.cert_metrics = {{"ca", std::to_string(now + 3000 * kDay)},
                         {"node", std::to_string(now + 200 * kDay)}};
    certwatch::testing::insert_node(pg, node);
  }
  const std::string yaml =
      "poll_interval: 1s\nfiles:\n  certs_dirs: [" +
      certwatch::testing::single_quoted_yaml((root / "certs").string()) + "]\ncluster:\n  dsn: " +
      certwatch::testing::single_quoted_yaml(
          pg.tcp_dsn(certwatch::testing::kMonitorUser, certwatch::testing::kRolePassword)) +
      "\n  local_node_id: '1'\n  poll_interval: 1s\n  connect_timeout: 1s\n"
      "  statement_timeout: 1s\n  node_vars:\n    enabled: true\n    http_port: " +
      std::to_string(vars.port()) + "\n    timeout: 2s\n";
  const fs::path config = dir.write("config.yaml", yaml, 0600);

  certwatch::testing::ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file", config.string(), "--web.listen-address", "127.0.0.1:0",
       "--log.level", "debug"},
      root / "daemon.log");
  int port = 0;
  const std::regex listening{R"(\(port ([0-9]+)\))"};
  for (const auto deadline = Clock::now() + 10s; port == 0 && Clock::now() < deadline;) {
    std::smatch match;
    const std::string log = daemon.log();
    if (std::regex_search(log, match, listening)) port = std::stoi(match[1]);
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(port != 0);

  const std::string app_series =
      "crdb_cert_not_after_timestamp_seconds{source=\"cluster\",cert_type=\"client\",node_id="
      "\"1\",path=\"\",index=\"\",user=\"app\"} " +
      std::to_string(app_not_after);
  std::string metrics;
  for (const auto deadline = Clock::now() + 20s; Clock::now() < deadline;) {
    const auto response = certwatch::testing::http_get(port, "/metrics");
    if (response && response->status == 200) metrics = response->body;
    if (certwatch::testing::has_line(metrics, app_series) &&
        certwatch::testing::has_line(metrics, "crdb_cert_client_seen{user=\"app\"} 2")) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  INFO(metrics << "\n--- log:\n" << daemon.log());
  CHECK(certwatch::testing::has_line(metrics, app_series));
  CHECK(certwatch::testing::has_line(metrics, "crdb_cert_client_seen{user=\"app\"} 2"));
  CHECK(certwatch::testing::has_line(metrics, "crdb_cert_client_seen{user=\"report\"} 2"));
  CHECK(certwatch::testing::has_line(metrics, "crdb_cert_node_vars_success{node_id=\"2\"} 1"));
  CHECK(certwatch::testing::has_line(metrics, "crdb_cert_cluster_client_child_metrics 1"));
  // Ten days left: the client certificate is under the default rules like any other.
  CHECK(certwatch::testing::has_line(
      metrics,
      "crdb_cert_expiry_state{source=\"cluster\",cert_type=\"client\",node_id=\"1\",path=\"\","
      "index=\"\",user=\"app\",action=\"rotate_now\",severity=\"critical\"} 1"));
  const auto page = certwatch::testing::http_get(port, "/");
  REQUIRE(page);
  CHECK(page->body.find("Client certificates in use") != std::string::npos);
  CHECK(page->body.find("client.app.crt") != std::string::npos);
  // `check` and the audit poll once and show the same inventory (the audit with the cluster).
  const auto check = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "check", "--config.file", config.string()});
  INFO(check.out << check.err);
  CHECK(check.out.find("CLIENT CERTIFICATES IN USE") != std::string::npos);  // titles in capitals
  CHECK(check.out.find("yes " + (root / "certs" / "client.app.crt").string()) != std::string::npos);
  const auto audit =
      certwatch::testing::run_command({CERTWATCH_BINARY, "audit", "--config.file", config.string(),
                                       "--format", "md", "--output", "-"});
  INFO(audit.out << audit.err);
  CHECK(audit.out.find("Client certificates in use") != std::string::npos);
  CHECK(audit.out.find("client.app.crt") != std::string::npos);
  daemon.stop();
  pg.reset_node_status();
}

TEST_CASE("cluster.node_vars is parsed strictly with its defaults", "[node_vars][config]") {
  using certwatch::config::parse_config;
  const std::string head = "cluster:\n  dsn: 'postgresql://monitor@127.0.0.1:26257/defaultdb'\n";
  auto loaded = parse_config(head, "cfg.yaml");
  REQUIRE(loaded.config);
  const auto defaults = loaded.config->cluster->node_vars;
  CHECK_FALSE(defaults.enabled);
  CHECK(defaults.http_port == 8080);
  CHECK(defaults.ca_file.empty());  // ca-ui.crt or ca.crt of the first certs dir, at each poll
  CHECK(defaults.timeout == std::chrono::seconds{10});
  CHECK(defaults.concurrency == 8);
  CHECK(defaults.max_bytes == 16u * 1024 * 1024);

  loaded = parse_config(head +
                            "  node_vars:\n    enabled: true\n    http_port: 8443\n"
                            "    ca_file: /nonexistent/ca-ui.crt\n    timeout: 3s\n"
                            "    concurrency: 32\n    max_bytes: 4MiB\n",
                        "cfg.yaml");
  REQUIRE(loaded.config);
  const auto set = loaded.config->cluster->node_vars;
  CHECK(set.enabled);
  CHECK(set.http_port == 8443);
  CHECK(set.ca_file == "/nonexistent/ca-ui.crt");
  CHECK(set.timeout == std::chrono::seconds{3});
  CHECK(set.concurrency == 32);
  CHECK(set.max_bytes == 4u * 1024 * 1024);

  const std::vector<std::pair<std::string, std::string>> bad{
      {"    enable: true\n", "cfg.yaml:4: cluster.node_vars.enable: unknown key"},
      {"    http_port: 0\n",
       "cfg.yaml:4: cluster.node_vars.http_port: must be a port number 1-65535, got \"0\""},
      {"    concurrency: 65\n",
       "cfg.yaml:4: cluster.node_vars.concurrency: must be an integer 1-64, got \"65\""},
      // The extremes of the number classes: zero, a sign, past every integer type, past a port.
      {"    concurrency: 0\n",
       "cfg.yaml:4: cluster.node_vars.concurrency: must be an integer 1-64, got \"0\""},
      {"    concurrency: -1\n",
       "cfg.yaml:4: cluster.node_vars.concurrency: must be an integer 1-64, got \"-1\""},
      {"    concurrency: 99999999999999999999999\n",
       "cfg.yaml:4: cluster.node_vars.concurrency: must be an integer 1-64, got "
       "\"99999999999999999999999\""},
      {"    http_port: 65536\n",
       "cfg.yaml:4: cluster.node_vars.http_port: must be a port number 1-65535, got \"65536\""},
      {"    max_bytes: 18446744073709551616\n",
       "cfg.yaml:4: cluster.node_vars.max_bytes: must be a size between 64KiB and 256MiB, got "
       "\"18446744073709551616\""},
      {"    max_bytes: 1GiB\n",
       "cfg.yaml:4: cluster.node_vars.max_bytes: must be a size between 64KiB and 256MiB, got "
       "\"1GiB\""},
      {"    timeout: 0s\n", "cfg.yaml:4: cluster.node_vars.timeout: must be between 1s and 10m"},
      {"    ca_file: ca.crt\n",
       "cfg.yaml:4: cluster.node_vars.ca_file: must be an absolute path, got \"ca.crt\""},
      {"    client_cert: /a.crt\n",
       "cfg.yaml:4: cluster.node_vars.client_cert: client_cert and client_key go together"},
  };
  for (const auto& [line, expected] : bad) {
    INFO(line);
    loaded = parse_config(head + "  node_vars:\n" + line, "cfg.yaml");
    CHECK_FALSE(loaded.config);
    REQUIRE_FALSE(loaded.errors.empty());
    CHECK(loaded.errors.front().to_string().rfind(expected, 0) == 0);
  }
}
