// The cluster source against a real PostgreSQL serving a CockroachDB-shaped
// crdb_internal.kv_node_status, plus its pure helpers.
#include "sources/cluster_source.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "support/certgen.hpp"
#include "support/http_client.hpp"
#include "support/pg_harness.hpp"

namespace certwatch {
// The tests compare reasons with their label.
bool operator==(ErrorReason reason, std::string_view label) { return to_string(reason) == label; }
}  // namespace certwatch

namespace {

using namespace certwatch;
using namespace certwatch::sources;
using certwatch::testing::FakeNode;
using certwatch::testing::PgServer;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kCa = 1893456000;      // 2030-01-01
constexpr std::int64_t kNode = 1767225600;    // 2026-01-01
constexpr std::int64_t kUi = 1735689600;      // 2025-01-01
constexpr std::int64_t kTenant = 1798761600;  // 2027-01-01

std::string password() { return std::string(certwatch::testing::kRolePassword); }

config::ClusterConfig cluster_config(const std::string& dsn) {
  config::ClusterConfig cfg;
  cfg.dsn = dsn;
  cfg.poll_interval = std::chrono::seconds{5};
  cfg.connect_timeout = std::chrono::seconds{2};
  cfg.statement_timeout = std::chrono::seconds{2};
  return cfg;
}

ClusterSourceOptions fast_options() {
  ClusterSourceOptions options;
  options.initial_backoff = std::chrono::milliseconds{100};
  options.host_identity = [] { return HostIdentity{{"db-host-2.example"}, {"10.0.0.2"}}; };
  return options;
}

config::ClusterConfig monitor_config(const PgServer& server) {
  return cluster_config(server.tcp_dsn(certwatch::testing::kMonitorUser, password()));
}

// Every certificate metric CockroachDB registers, with distinct values per node.
FakeNode full_node(std::int64_t id, const std::string& address) {
  FakeNode node;
  node.node_id = id;
  node.address = address;
  node.cert_metrics = {
      {"ca", std::to_string(kCa)},
      {"client-ca", std::to_string(kCa + 1)},
      {"ui-ca", std::to_string(kCa + 2)},
      {"node", std::to_string(kNode + id)},
      {"node-client", std::to_string(kNode + 100 + id)},
      {"ui", std::to_string(kUi + id)},
      {"ca-client-tenant", std::to_string(kTenant)},
      {"client-tenant", std::to_string(kTenant + id)},
  };
  return node;
}

const ClusterFacts* cluster_facts(const PollResult& result) {
  return facts_as<ClusterFacts>(result);
}

const CertObservation* find(const PollResult& result, const std::string& node_id, CertType type) {
  for (const auto& cert : result.certificates) {
    if (cert.id.node_id == node_id && cert.id.cert_type == type) return &cert;
  }
  return nullptr;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::int64_t unix_now() { return certwatch::testing::unix_now(); }

// Sessions of earlier test cases end asynchronously on the server side: wait for them to go.
std::string certwatch_sessions_eventually(const PgServer& server, const std::string& expected) {
  std::string count;
  for (int i = 0; i < 50; ++i) {
    count = server.query_value(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crdb-certwatch'");
    if (count == expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return count;
}

}  // namespace

TEST_CASE("a three-node cluster gives every node's certificates and node facts", "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  auto node1 = full_node(1, "db-host-1.example:26257");
  auto node2 = full_node(2, "10.0.0.2:26257");
  auto node3 = full_node(3, "[2001:db8::3]:26257");
  // CockroachDB writes floats: exponent notation must read back as the same second.
  node3.cert_metrics[0].second = "1.893456e9";
  node1.updated_at = 1700000000.5;
  node2.updated_at = 1700000010;
  node3.updated_at = 1700000020.25;
  node3.server_version = "v23.2.9";
  for (const auto& node : {node1, node2, node3}) certwatch::testing::insert_node(server, node);

  ClusterSource source(monitor_config(server), fast_options());
  CHECK(source.name() == "cluster");
  CHECK(source.interval() == std::chrono::seconds{5});
  const PollResult result = source.poll();
  INFO(result.error_message());
  REQUIRE(result.ok());
  CHECK(result.file_errors.empty());
  REQUIRE(result.certificates.size() == 3 * kClusterCertMetrics.size());

  for (const std::string id : {"1", "2", "3"}) {
    const std::int64_t n = std::stoll(id);
    const std::pair<CertType, std::int64_t> expected[] = {
        {CertType::ca, kCa},
        {CertType::client_ca, kCa + 1},
        {CertType::ui_ca, kCa + 2},
        {CertType::node, kNode + n},
        {CertType::node_client, kNode + 100 + n},
        {CertType::ui, kUi + n},
        {CertType::tenant_ca, kTenant},
        {CertType::tenant_client, kTenant + n},
    };
    for (const auto& [type, not_after] : expected) {
      INFO("node " << id << " " << to_string(type));
      const auto* cert = find(result, id, type);
      REQUIRE(cert != nullptr);
      CHECK(cert->id.source == "cluster");
      CHECK(cert->id.path.empty());
      CHECK(cert->id.index.empty());
      CHECK(cert->id.user.empty());
      CHECK(cert->not_after == not_after);
      CHECK_FALSE(cert->load_failed);
      CHECK(cert->facts == nullptr);
    }
  }

  REQUIRE(cluster_facts(result) != nullptr);
  const ClusterFacts& facts = *cluster_facts(result);
  CHECK(facts.secure);
  REQUIRE(facts.nodes.size() == 3);
  CHECK(facts.nodes[0].node_id == "1");
  CHECK(facts.nodes[0].address == "db-host-1.example:26257");
  CHECK(facts.nodes[0].server_version == "v24.1.3");
  CHECK(facts.nodes[0].updated_at == Approx(1700000000.5).margin(1e-6));
  CHECK(facts.nodes[1].updated_at == Approx(1700000010).margin(1e-6));
  CHECK(facts.nodes[2].address == "[2001:db8::3]:26257");
  CHECK(facts.nodes[2].server_version == "v23.2.9");
  CHECK(facts.nodes[2].updated_at == Approx(1700000020.25).margin(1e-6));
  // The injected host identity is 10.0.0.2: node 2.
  CHECK(facts.local_node_id == "2");
  CHECK(facts.local_node_note.empty());

  // The connection is kept between polls and names itself.
  REQUIRE(source.poll().ok());
  CHECK(certwatch_sessions_eventually(server, "1") == "1");
}

TEST_CASE("the cluster id and the configured name make crdb_cert_cluster_info", "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  certwatch::testing::insert_node(server, full_node(1, "a:26257"));
  auto cfg = monitor_config(server);
  cfg.name = "prod-eu";
  ClusterSource source(cfg, fast_options());
  const PollResult result = source.poll();
  INFO(result.error_message());
  REQUIRE(result.ok());
  CHECK(result.partial_errors.empty());
  REQUIRE(cluster_facts(result) != nullptr);
  CHECK(cluster_facts(result)->cluster_id == certwatch::testing::kFakeClusterId);
  CHECK(cluster_facts(result)->cluster_name == "prod-eu");
  const auto families = cluster_facts(result)->families();
  const auto info = std::find_if(families.begin(), families.end(), [](const auto& family) {
    return family.name == "crdb_cert_cluster_info";
  });
  REQUIRE(info != families.end());
  REQUIRE(info->series.size() == 1);
  const certwatch::LabelPairs expected{
      {"cluster_id", std::string(certwatch::testing::kFakeClusterId)}, {"cluster_name", "prod-eu"}};
  CHECK(info->series[0].labels == expected);
  CHECK(info->series[0].value == 1);

  // Read once per connection: a changed function is not asked again while connected.
  server.exec(
      "CREATE OR REPLACE FUNCTION crdb_internal.cluster_id() RETURNS uuid LANGUAGE sql "
      "AS $$ SELECT '00000000-0000-4000-8000-000000000001'::uuid $$");
  const PollResult again = source.poll();
  REQUIRE(again.ok());
  CHECK(cluster_facts(again)->cluster_id == certwatch::testing::kFakeClusterId);

  // A server without the function: the nodes still come, the id is empty, the poll says why.
  server.exec("DROP FUNCTION crdb_internal.cluster_id()");
  ClusterSource without(monitor_config(server), fast_options());
  const PollResult partial = without.poll();
  REQUIRE(partial.ok());
  CHECK(cluster_facts(partial)->cluster_id.empty());
  CHECK(cluster_facts(partial)->cluster_name.empty());
  REQUIRE(partial.partial_errors.size() == 1);
  CHECK(partial.partial_errors[0].reason == certwatch::ErrorReason::query_failed);
  CHECK_THAT(partial.partial_errors[0].message, Catch::Contains("cluster_id"));
}

TEST_CASE("0 for ca or node is a load failure, 0 for an optional type and absent keys are nothing",
          "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  FakeNode zeros;
  zeros.node_id = 1;
  zeros.cert_metrics = {{"ca", "0"},
                        {"client-ca", "0"},
                        {"ui-ca", "0"},
                        {"node", "0"},
                        {"node-client", "0"},
                        {"ui", "0"},
                        {"ca-client-tenant", "0"},
                        {"client-tenant", "0"}};
  FakeNode partial;  // a node with only the two required keys
  partial.node_id = 2;
  partial.cert_metrics = {{"ca", std::to_string(kCa)}, {"node", std::to_string(kNode)}};
  FakeNode none;  // an older node that registers no certificate metrics at all
  none.node_id = 3;
  for (const auto& node : {zeros, partial, none}) certwatch::testing::insert_node(server, node);

  ClusterSource source(monitor_config(server), fast_options());
  const PollResult result = source.poll();
  INFO(result.error_message());
  REQUIRE(result.ok());
  REQUIRE(result.certificates.size() == 4);

  for (const auto type : {CertType::ca, CertType::node}) {
    const auto* failed = find(result, "1", type);
    REQUIRE(failed != nullptr);
    CHECK(failed->load_failed);
    CHECK_FALSE(failed->not_after.has_value());  // never "expiring in 1970"
  }
  CHECK(find(result, "2", CertType::ca)->not_after == kCa);
  CHECK(find(result, "2", CertType::node)->not_after == kNode);
  CHECK(find(result, "3", CertType::ca) == nullptr);
  REQUIRE(cluster_facts(result) != nullptr);
  CHECK(cluster_facts(result)->secure);
  CHECK(cluster_facts(result)->nodes.size() == 3);
  // No address matches the injected host identity.
  CHECK(cluster_facts(result)->local_node_id.empty());
  CHECK_THAT(cluster_facts(result)->local_node_note, Catch::Contains("set cluster.local_node_id"));
}

TEST_CASE("an expiry that is no unix time is a load failure with a reason, never dropped",
          "[cluster][pg]") {
  // Issue 28 (low): such values for ca and node vanished without a trace. JSONB holds no NaN, so
  // a node could only send it as a string; ->> gives an object's or an array's JSON text.
  PgServer& server = certwatch::testing::shared_pg_server();
  const std::vector<std::string> hostile{"\"NaN\"",  "1e308", "{\"seconds\": 1}",
                                         "-5",       "1e16",  "[]",
                                         "\"soon\"", "true",  "\"\\u001b[31m\""};
  std::int64_t id = 1;
  for (const auto& value : hostile) {
    FakeNode node;
    node.node_id = id++;
    node.cert_metrics = {{"ca", value}, {"node", value}, {"ui", value}};
    certwatch::testing::insert_node(server, node);
  }
  ClusterSource source(monitor_config(server), fast_options());
  const PollResult result = source.poll();
  INFO(result.error_message());
  REQUIRE(result.ok());
  // ca and node of every node: a load failure, with no time.
  CHECK(result.certificates.size() == 2 * hostile.size());
  for (std::int64_t n = 1; n < id; ++n) {
    INFO("node " << n << ": " << hostile[static_cast<std::size_t>(n - 1)]);
    for (const auto type : {CertType::ca, CertType::node}) {
      const auto* failed = find(result, std::to_string(n), type);
      REQUIRE(failed != nullptr);
      CHECK(failed->load_failed);
      CHECK_FALSE(failed->not_after.has_value());
    }
    CHECK(find(result, std::to_string(n), CertType::ui) == nullptr);  // optional: reason only
  }
  // A reason for each value, naming the node and the metric; control bytes escaped.
  CHECK(result.partial_errors.size() == 3 * hostile.size());
  std::string all;
  for (const auto& error : result.partial_errors) {
    CHECK(error.reason == certwatch::ErrorReason::bad_response);
    all += error.message + "\n";
  }
  INFO(all);
  CHECK_THAT(all, Catch::Contains("node 1 reported expiration.ca = NaN, not a unix time"));
  // JSONB keeps 1e308 as a 309-digit numeric: cut at 64 bytes.
  CHECK_THAT(all, Catch::Contains("node 2 reported expiration.node = " + std::string(1, '1') +
                                  std::string(63, '0') + "..., not a unix time"));
  CHECK_THAT(all, Catch::Contains("expiration.ui = {\"seconds\": 1}"));
  CHECK(all.find('\x1b') == std::string::npos);
  // And one warning notice for the log, the page and `check`.
  REQUIRE(cluster_facts(result) != nullptr);
  const auto notices = cluster_facts(result)->notices();
  const auto bad = std::find_if(notices.begin(), notices.end(),
                                [](const auto& notice) { return notice.topic == "bad_expiry"; });
  REQUIRE(bad != notices.end());
  CHECK(bad->warning);
  CHECK_THAT(bad->text, Catch::StartsWith(std::to_string(3 * hostile.size()) +
                                          " certificate expiry values are no unix time"));
}

TEST_CASE("an insecure cluster reports no certificates and secure=false", "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  for (std::int64_t id = 1; id <= 3; ++id) {
    FakeNode node;
    node.node_id = id;
    node.address = "node" + std::to_string(id) + ":26257";
    certwatch::testing::insert_node(server, node);
  }
  auto cfg = monitor_config(server);
  cfg.local_node_id = "3";
  ClusterSource source(cfg, fast_options());
  const PollResult result = source.poll();
  INFO(result.error_message());
  REQUIRE(result.ok());
  CHECK(result.certificates.empty());
  REQUIRE(cluster_facts(result) != nullptr);
  CHECK_FALSE(cluster_facts(result)->secure);
  CHECK(cluster_facts(result)->nodes.size() == 3);
  CHECK(cluster_facts(result)->local_node_id == "3");  // configured wins over detection
  CHECK(cluster_facts(result)->local_node_note.empty());
}

TEST_CASE("a stale node is reported with its own updated_at and its last numbers",
          "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  const double stale = static_cast<double>(unix_now() - 3 * certwatch::testing::kDay);
  auto fresh_node = full_node(1, "a:26257");
  auto stale_node = full_node(2, "b:26257");
  stale_node.updated_at = stale;
  certwatch::testing::insert_node(server, fresh_node);
  certwatch::testing::insert_node(server, stale_node);

  ClusterSource source(monitor_config(server), fast_options());
  const PollResult result = source.poll();
  INFO(result.error_message());
  REQUIRE(result.ok());
  REQUIRE(cluster_facts(result) != nullptr);
  REQUIRE(cluster_facts(result)->nodes.size() == 2);
  CHECK(cluster_facts(result)->nodes[0].updated_at ==
        Approx(static_cast<double>(unix_now())).margin(60));
  CHECK(cluster_facts(result)->nodes[1].updated_at == Approx(stale).margin(1e-6));
  CHECK(find(result, "2", CertType::node)->not_after == kNode + 2);
}

TEST_CASE("the database down at start: connect_failed with backoff, then recovery",
          "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  certwatch::testing::insert_node(server, full_node(1, "a:26257"));
  server.stop();

  ClusterSource source(monitor_config(server), fast_options());
  const PollResult down = source.poll();
  CHECK_FALSE(down.ok());
  CHECK(down.error_reason() == "connect_failed");
  CHECK_THAT(down.error_message(), Catch::Contains("onnection refused"));
  CHECK_THAT(down.error_message(), !Catch::Contains(password()));
  CHECK_FALSE((cluster_facts(down) != nullptr));

  // Within the backoff a poll does not even try: it fails at once.
  const auto start = Clock::now();
  const PollResult backing_off = source.poll();
  CHECK(seconds_since(start) < 0.05);
  CHECK(backing_off.error_reason() == "connect_failed");
  CHECK_THAT(backing_off.error_message(), Catch::Contains("before reconnecting"));

  server.start();
  std::this_thread::sleep_for(std::chrono::milliseconds{250});
  const PollResult up = source.poll();
  INFO(up.error_message());
  REQUIRE(up.ok());
  CHECK(up.certificates.size() == kClusterCertMetrics.size());
}

TEST_CASE("reconnect attempts back off exponentially up to 90% of the poll interval", "[cluster]") {
  // Nothing listens on a port just released: every attempt is refused at once.
  const int port = certwatch::testing::find_free_port();

  Clock::time_point now{};
  auto options = fast_options();
  options.now = [&now] { return now; };
  auto cfg = cluster_config("host=127.0.0.1 port=" + std::to_string(port) +
                            " user=monitor sslmode=disable");
  cfg.poll_interval = std::chrono::seconds{1};
  ClusterSource source(cfg, options);

  using std::chrono::milliseconds;
  CHECK_THAT(source.poll().error_message(), Catch::Contains("connecting:"));
  for (const milliseconds backoff : {milliseconds{100}, milliseconds{200}, milliseconds{400},
                                     milliseconds{800}, milliseconds{900}, milliseconds{900}}) {
    INFO("backoff " << backoff.count() << " ms");
    now += backoff - milliseconds{1};
    const PollResult waiting = source.poll();
    CHECK(waiting.error_reason() == "connect_failed");
    CHECK_THAT(waiting.error_message(), Catch::Contains("waiting 1 ms before reconnecting"));
    CHECK_THAT(waiting.error_message(), Catch::Contains("Connection refused"));
    now += milliseconds{1};
    const PollResult attempt = source.poll();
    CHECK(attempt.error_reason() == "connect_failed");
    CHECK_THAT(attempt.error_message(), Catch::StartsWith("connecting:"));
  }
}

TEST_CASE("a server restart under the source costs at most one failed poll", "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  certwatch::testing::insert_node(server, full_node(1, "a:26257"));
  ClusterSource source(monitor_config(server), fast_options());
  REQUIRE(source.poll().ok());

  server.restart();
  int failures = 0;
  PollResult result = source.poll();
  if (!result.ok()) {
    ++failures;
    CHECK(result.error_reason() == "connect_failed");
    std::this_thread::sleep_for(std::chrono::milliseconds{250});
    result = source.poll();
  }
  INFO(result.error_message());
  // The dead connection is noticed on use and replaced within the same poll.
  CHECK(failures == 0);
  REQUIRE(result.ok());
  CHECK(result.certificates.size() == kClusterCertMetrics.size());
  // The replacement connection is the only one: the dead one is gone.
  CHECK(certwatch_sessions_eventually(server, "1") == "1");
}

TEST_CASE("a hung query is cut by statement_timeout", "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  certwatch::testing::insert_node(server, full_node(1, "a:26257"));
  auto cfg = monitor_config(server);
  cfg.statement_timeout = std::chrono::seconds{1};
  ClusterSource source(cfg, fast_options());
  REQUIRE(source.poll().ok());

  certwatch::testing::make_node_status_hang(server, 30);
  const auto start = Clock::now();
  const PollResult hung = source.poll();
  const double elapsed = seconds_since(start);
  CHECK_FALSE(hung.ok());
  CHECK(hung.error_reason() == "timeout");
  CHECK_THAT(hung.error_message(), Catch::Contains("statement timeout"));
  CHECK(elapsed >= 0.9);
  CHECK(elapsed < 2.0);

  // The session survives the cancelled statement.
  certwatch::testing::restore_node_status(server);
  const PollResult after = source.poll();
  INFO(after.error_message());
  CHECK(after.ok());
}

TEST_CASE("a connection that never answers is cut by connect_timeout", "[cluster]") {
  const certwatch::testing::SilentListener listener;
  auto cfg = cluster_config("host=127.0.0.1 port=" + std::to_string(listener.port()) +
                            " user=monitor password=secret-xyz sslmode=disable");
  cfg.connect_timeout = std::chrono::seconds{2};  // libpq's minimum
  ClusterSource source(cfg, fast_options());
  const auto start = Clock::now();
  const PollResult result = source.poll();
  const double elapsed = seconds_since(start);
  CHECK_FALSE(result.ok());
  CHECK(result.error_reason() == "timeout");
  CHECK_THAT(result.error_message(), !Catch::Contains("secret-xyz"));
  CHECK(elapsed < 3.5);
}

TEST_CASE("a wrong password is auth_failed and the message never holds the password",
          "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  SECTION("keyword DSN") {
    ClusterSource source(
        cluster_config(server.tcp_dsn(certwatch::testing::kMonitorUser, "Wrong 'secret' pw")),
        fast_options());
    const PollResult result = source.poll();
    CHECK_FALSE(result.ok());
    CHECK(result.error_reason() == "auth_failed");
    CHECK_THAT(result.error_message(), Catch::Contains("password authentication failed"));
    CHECK_THAT(result.error_message(), !Catch::Contains("secret"));
    CHECK_THAT(result.error_message(), !Catch::Contains(password()));
  }
  SECTION("URI DSN") {
    ClusterSource source(
        cluster_config("postgresql://monitor:wr0ng-secret@127.0.0.1:" +
                       std::to_string(server.port()) + "/postgres?sslmode=disable"),
        fast_options());
    const PollResult result = source.poll();
    CHECK_FALSE(result.ok());
    CHECK(result.error_reason() == "auth_failed");
    CHECK_THAT(result.error_message(), !Catch::Contains("wr0ng-secret"));
  }
}

TEST_CASE("a role without SELECT is permission_denied, a missing table is query_failed",
          "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  certwatch::testing::insert_node(server, full_node(1, "a:26257"));
  ClusterSource denied(
      cluster_config(server.tcp_dsn(certwatch::testing::kNoSelectUser, password())),
      fast_options());
  const PollResult result = denied.poll();
  CHECK_FALSE(result.ok());
  CHECK(result.error_reason() == "permission_denied");
  CHECK_THAT(result.error_message(), Catch::Contains("permission denied"));

  server.exec("DROP TABLE crdb_internal.kv_node_status");
  ClusterSource missing(monitor_config(server), fast_options());
  const PollResult undefined = missing.poll();
  CHECK_FALSE(undefined.ok());
  CHECK(undefined.error_reason() == "query_failed");
  CHECK_THAT(undefined.error_message(), Catch::Contains("kv_node_status"));
}

TEST_CASE("TLS with sslmode=verify-full to a server certificate the test made", "[cluster][pg]") {
  using certwatch::testing::CertSpec;
  using certwatch::testing::generate_cert;
  PgServer& server = certwatch::testing::shared_pg_server();
  certwatch::testing::insert_node(server, full_node(1, "a:26257"));
  const auto ca = certwatch::testing::enable_tls_with_new_ca(server, "Test CA");
  const auto root_cert = (server.dir() / "root.crt").string();
  {
    std::ofstream file(root_cert);
    file << ca.cert_pem;
  }
  const std::string verify_full = "sslmode=verify-full sslrootcert=" + root_cert;

  for (const std::string host : {"127.0.0.1", "localhost"}) {
    INFO(host);
    ClusterSource source(
        cluster_config(server.tcp_dsn(certwatch::testing::kTlsUser, password(), verify_full, host)),
        fast_options());
    const PollResult result = source.poll();
    INFO(result.error_message());
    REQUIRE(result.ok());  // kTlsUser is rejected without TLS, so this went over TLS
    CHECK(result.certificates.size() == kClusterCertMetrics.size());
  }

  // The same role without TLS: the server's rule refuses it.
  ClusterSource plain(
      cluster_config(server.tcp_dsn(certwatch::testing::kTlsUser, password(), "sslmode=disable")),
      fast_options());
  CHECK(plain.poll().error_reason() == "auth_failed");

  // A root certificate that did not sign the server's: verification fails.
  CertSpec other_spec;
  other_spec.common_name = "Other CA";
  other_spec.is_ca = true;
  const auto other_root = (server.dir() / "other.crt").string();
  {
    std::ofstream file(other_root);
    file << generate_cert(other_spec).cert_pem;
  }
  ClusterSource untrusted(
      cluster_config(server.tcp_dsn(certwatch::testing::kTlsUser, password(),
                                    "sslmode=verify-full sslrootcert=" + other_root)),
      fast_options());
  const PollResult rejected = untrusted.poll();
  CHECK_FALSE(rejected.ok());
  CHECK(rejected.error_reason() == "connect_failed");
  CHECK_THAT(rejected.error_message(), Catch::Contains("certificate verify failed"));
}

TEST_CASE("local node detection matches the address column against this host", "[cluster]") {
  const std::vector<NodeInfo> nodes{
      {"1", "db-1.example.com:26257", "v24.1.3", 0},
      {"2", "10.0.0.2:26257", "v24.1.3", 0},
      {"3", "[2001:db8::3]:26257", "v24.1.3", 0},
      {"4", "2001:db8::4", "v24.1.3", 0},
  };
  SECTION("by IPv4 address") {
    const auto found = detect_local_node(nodes, {{"other"}, {"127.0.0.1", "10.0.0.2"}});
    CHECK(found.node_id == "2");
    CHECK(found.note.empty());
  }
  SECTION("by name, case-insensitive, trailing dot ignored") {
    CHECK(detect_local_node(nodes, {{"DB-1.Example.COM."}, {}}).node_id == "1");
  }
  SECTION("by IPv6 in brackets and bare, in any spelling") {
    CHECK(detect_local_node(nodes, {{}, {"2001:0db8:0:0:0:0:0:3"}}).node_id == "3");
    CHECK(detect_local_node(nodes, {{}, {"2001:db8::4%eth0"}}).node_id == "4");
  }
  SECTION("an IPv4-mapped IPv6 address is the IPv4 address") {
    CHECK(detect_local_node(nodes, {{}, {"::ffff:10.0.0.2"}}).node_id == "2");
  }
  SECTION("a short name does not match a longer one") {
    const auto found = detect_local_node(nodes, {{"db-1"}, {"10.0.0.9"}});
    CHECK(found.node_id.empty());
    CHECK_THAT(found.note, Catch::Contains("no node's address matches"));
    CHECK_THAT(found.note, Catch::Contains("db-1"));
  }
  SECTION("several matches are ambiguous") {
    const auto found = detect_local_node(nodes, {{"db-1.example.com"}, {"10.0.0.2"}});
    CHECK(found.node_id.empty());
    CHECK_THAT(found.note, Catch::Contains("node ids 1, 2"));
  }
  SECTION("this machine's identity includes its hostname and loopback") {
    const HostIdentity self = current_host_identity();
    CHECK_FALSE(self.names.empty());
    CHECK(std::find(self.addresses.begin(), self.addresses.end(), "127.0.0.1") !=
          self.addresses.end());
    const std::vector<NodeInfo> local{{"7", "127.0.0.1:26257", "", 0},
                                      {"8", "10.255.0.1:1", "", 0}};
    CHECK(detect_local_node(local, self).node_id == "7");
  }
  CHECK(address_host("host:26257") == "host");
  CHECK(address_host("[::1]:26257") == "::1");
  CHECK(address_host("::1") == "::1");
  CHECK(address_host("host") == "host");
}

TEST_CASE("interpreting rows: values as CockroachDB may write them", "[cluster]") {
  CHECK(parse_unix_seconds("1700000000") == 1700000000);
  CHECK(parse_unix_seconds("1.7e9") == 1700000000);
  CHECK(parse_unix_seconds("1.7E+09") == 1700000000);
  CHECK(parse_unix_seconds("1700000000.6") == 1700000001);
  CHECK(parse_unix_seconds(" 1700000000 ") == 1700000000);
  CHECK(parse_unix_seconds("0") == 0);
  CHECK_FALSE(parse_unix_seconds("").has_value());
  CHECK_FALSE(parse_unix_seconds("abc").has_value());
  CHECK_FALSE(parse_unix_seconds("17e").has_value());
  CHECK_FALSE(parse_unix_seconds("1e400").has_value());
  CHECK_FALSE(parse_unix_seconds("nan").has_value());

  NodeStatusRow row;
  row.node_id = "5";
  row.address = "x:1";
  row.updated_at = "1700000000.000000";
  row.expirations[0] = "0";        // ca
  row.expirations[2] = "garbage";  // ui-ca: reported but unreadable: nothing, still secure
  row.expirations[5] = "1.7e9";    // ui
  bool consulted = false;
  const PollResult result = interpret_node_status({row}, std::nullopt, [&] {
    consulted = true;
    return HostIdentity{{"x"}, {}};
  });
  CHECK(consulted);
  REQUIRE(result.certificates.size() == 2);
  CHECK(result.certificates[0].id.cert_type == CertType::ca);
  CHECK(result.certificates[0].load_failed);
  CHECK(result.certificates[1].id.cert_type == CertType::ui);
  CHECK(result.certificates[1].not_after == 1700000000);
  REQUIRE(cluster_facts(result) != nullptr);
  CHECK(cluster_facts(result)->secure);
  CHECK(cluster_facts(result)->local_node_id == "5");
  CHECK(cluster_facts(result)->nodes[0].updated_at == 1700000000.0);

  const PollResult configured = interpret_node_status({row}, "9", nullptr);
  CHECK(cluster_facts(configured)->local_node_id == "9");
  CHECK_THAT(cluster_facts(configured)->local_node_note, Catch::Contains("not among the nodes"));
}

TEST_CASE("local_node_names: the host of the local node's address, nothing when unknown",
          "[cluster]") {
  ClusterFacts facts;
  facts.nodes = {{"1", "db-1.example:26257", "v24.1", 0},
                 {"2", "[fd00::2]:26257", "v24.1", 0},
                 {"3", "10.0.0.3:26257", "v24.1", 0}};
  const SourceFacts& as_source = facts;  // what the check engine calls
  CHECK(as_source.local_node_names().empty());
  facts.local_node_id = "1";
  CHECK(as_source.local_node_names() == std::vector<std::string>{"db-1.example"});
  facts.local_node_id = "2";
  CHECK(as_source.local_node_names() == std::vector<std::string>{"fd00::2"});
  facts.local_node_id = "3";
  CHECK(as_source.local_node_names() == std::vector<std::string>{"10.0.0.3"});
  facts.local_node_id = "9";  // configured, but not among the nodes
  CHECK(as_source.local_node_names().empty());

  // Through interpret_node_status: detected by address.
  NodeStatusRow row;
  row.node_id = "4";
  row.address = "db-host-2.example:26257";
  const PollResult result = interpret_node_status({row}, std::nullopt, [] {
    return HostIdentity{{"db-host-2.example"}, {}};
  });
  REQUIRE(result.facts != nullptr);
  CHECK(result.facts->local_node_names() == std::vector<std::string>{"db-host-2.example"});
}

TEST_CASE("the query selects only the needed keys and is portable SQL", "[cluster]") {
  const std::string& query = node_status_query();
  CHECK_THAT(query, Catch::Contains("FROM crdb_internal.kv_node_status"));
  CHECK_THAT(query, Catch::Contains("extract(epoch FROM updated_at)"));
  CHECK_THAT(query,
             Catch::Contains("metrics->>'security.certificate.expiration.ca-client-tenant'"));
  CHECK_THAT(query, !Catch::Contains("SELECT metrics"));
  CHECK_THAT(query, !Catch::Contains(", metrics,"));
  CHECK_THAT(query, !Catch::Contains("::"));  // no PostgreSQL-only casts
}

TEST_CASE("the connection string gets timeouts and an application name, secrets stay out",
          "[cluster]") {
  const auto keyword =
      build_conninfo(R"(host=db port=26257 user=monitor password='a b\'c' connect_timeout=30)",
                     std::chrono::seconds{5}, std::chrono::seconds{10});
  REQUIRE(keyword.conninfo.has_value());
  CHECK_THAT(*keyword.conninfo, Catch::Contains(R"(password='a b\'c')"));
  CHECK_THAT(*keyword.conninfo, Catch::Contains("connect_timeout='5'"));
  CHECK_THAT(*keyword.conninfo, !Catch::Contains("'30'"));
  CHECK_THAT(*keyword.conninfo, Catch::Contains("application_name='crdb-certwatch'"));
  CHECK_THAT(*keyword.conninfo, Catch::Contains("keepalives='1'"));

  const auto uri = build_conninfo(
      "postgresql://monitor:p%40ss@db1:26257,db2:26257/defaultdb?sslmode=verify-full&"
      "sslrootcert=/certs/ca.crt&application_name=mine",
      std::chrono::seconds{3}, std::chrono::seconds{10});
  REQUIRE(uri.conninfo.has_value());
  CHECK_THAT(*uri.conninfo, Catch::Contains("password='p@ss'"));
  CHECK_THAT(*uri.conninfo, Catch::Contains("host='db1,db2'"));
  CHECK_THAT(*uri.conninfo, Catch::Contains("sslmode='verify-full'"));
  CHECK_THAT(*uri.conninfo, Catch::Contains("application_name='mine'"));
  CHECK_THAT(*uri.conninfo, Catch::Contains("connect_timeout='3'"));

  const auto broken =
      build_conninfo("host=db password hunter2", std::chrono::seconds{5}, std::chrono::seconds{10});
  CHECK_FALSE(broken.conninfo.has_value());
  CHECK_THAT(broken.error, !Catch::Contains("hunter2"));
  const auto unknown =
      build_conninfo("host=db frobnicate=1", std::chrono::seconds{5}, std::chrono::seconds{10});
  CHECK_THAT(unknown.error, Catch::Contains("frobnicate"));

  CHECK(scrub_secrets("bad dsn password=hunter2 host=x") == "bad dsn password=<redacted> host=x");
  CHECK(scrub_secrets("password = 'a b\\'c' x") == "password = <redacted> x");
  CHECK(scrub_secrets("postgresql://u:hunter2@h/db") == "postgresql://u:<redacted>@h/db");
  CHECK(scrub_secrets("no secrets here") == "no secrets here");
}

TEST_CASE("errors are classified into the exporter's reasons", "[cluster]") {
  CHECK(classify_connect_error("connection to server at \"h\" failed: FATAL:  password "
                               "authentication failed for user \"m\"") == "auth_failed");
  CHECK(classify_connect_error("FATAL: certificate authentication failed for user \"m\"") ==
        "auth_failed");
  CHECK(classify_connect_error("FATAL:  pg_hba.conf rejects connection for host") == "auth_failed");
  CHECK(classify_connect_error("fe_sendauth: no password supplied") == "auth_failed");
  CHECK(classify_connect_error("timeout expired") == "timeout");
  CHECK(classify_connect_error("Connection refused") == "connect_failed");
  CHECK(classify_connect_error("FATAL:  permission denied for database \"x\"") ==
        "permission_denied");
  CHECK(classify_sql_error("57014", "canceling statement due to statement timeout") == "timeout");
  CHECK(classify_sql_error("42501", "permission denied for table kv_node_status") ==
        "permission_denied");
  CHECK(classify_sql_error("28P01", "") == "auth_failed");
  CHECK(classify_sql_error("42P01", "relation does not exist") == "query_failed");
  CHECK(classify_sql_error("57P01", "terminating connection") == "connect_failed");
  CHECK(classify_sql_error("", "query execution canceled due to statement timeout") == "timeout");
}

namespace {

struct TransferredBytes {
  double field_bytes = 0;  // sum of the text field lengths
  double wire_bytes = 0;   // DataRow messages: 7 bytes + 4 per field + the fields
};

TransferredBytes bytes_per_row(const PgServer& server, const std::string& query) {
  pqxx::connection conn{server.superuser_dsn()};
  pqxx::nontransaction tx{conn};
  const pqxx::result result = tx.exec(query);
  TransferredBytes total;
  for (const auto& row : result) {
    total.wire_bytes += 7;
    for (const auto& field : row) {
      total.wire_bytes += 4;
      if (!field.is_null()) {
        total.field_bytes += static_cast<double>(field.size());
        total.wire_bytes += static_cast<double>(field.size());
      }
    }
  }
  const auto rows = static_cast<double>(result.size());
  return {total.field_bytes / rows, total.wire_bytes / rows};
}

}  // namespace

TEST_CASE("our row is a tiny fraction of the whole metrics JSON", "[cluster][pg]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  auto node = full_node(1, "node1:26257");
  node.other_metric_keys = 3000;
  certwatch::testing::insert_node(server, node);
  const auto ours = bytes_per_row(server, node_status_query());
  const auto whole = bytes_per_row(server, "SELECT metrics FROM crdb_internal.kv_node_status");
  INFO("ours " << ours.wire_bytes << " bytes, whole metrics " << whole.wire_bytes << " bytes");
  CHECK(ours.wire_bytes < 300);
  CHECK(ours.wire_bytes * 100 < whole.wire_bytes);
}

// Run with: cluster_source_test "[.measure]" -s   (prints the figures quoted in the issue)
TEST_CASE("bytes per node row and poll time for 100 nodes", "[.measure]") {
  PgServer& server = certwatch::testing::shared_pg_server();
  const int nodes = 100;
  auto first = full_node(1, "node1:26257");
  first.other_metric_keys = 3000;
  certwatch::testing::insert_node(server, first);
  certwatch::testing::clone_node(server, 1, 2, nodes);
  server.exec("VACUUM ANALYZE crdb_internal.kv_node_status");
  const auto ours = bytes_per_row(server, node_status_query());
  const auto whole = bytes_per_row(server, "SELECT metrics FROM crdb_internal.kv_node_status");
  const std::string stored = server.query_value(
      "SELECT avg(octet_length(metrics::text))::int8 FROM crdb_internal.kv_node_status");
  const std::string keys = server.query_value(
      "SELECT avg((SELECT count(*) FROM jsonb_object_keys(metrics)))::int8 FROM "
      "crdb_internal.kv_node_status");

  ClusterSource source(monitor_config(server), fast_options());
  REQUIRE(source.poll().ok());  // connect outside the timing
  std::vector<double> times;
  for (int i = 0; i < 10; ++i) {
    const auto start = Clock::now();
    const PollResult result = source.poll();
    times.push_back(seconds_since(start));
    REQUIRE(result.ok());
    REQUIRE(cluster_facts(result)->nodes.size() == static_cast<std::size_t>(nodes));
    REQUIRE(result.certificates.size() == nodes * kClusterCertMetrics.size());
  }
  std::sort(times.begin(), times.end());
  const auto whole_start = Clock::now();
  bytes_per_row(server, "SELECT metrics FROM crdb_internal.kv_node_status");
  const double whole_time = seconds_since(whole_start);
  // PostgreSQL decompresses the TOASTed JSONB once per ->> expression: one key shows that cost.
  const auto one_key_start = Clock::now();
  bytes_per_row(server,
                "SELECT node_id, metrics->>'security.certificate.expiration.ca' FROM "
                "crdb_internal.kv_node_status");
  const double one_key_time = seconds_since(one_key_start);
  WARN("per node row, metrics JSON of "
       << keys << " keys, " << stored << " bytes as text:"
       << "\n  our query:       " << ours.field_bytes << " field bytes, " << ours.wire_bytes
       << " DataRow bytes"
       << "\n  SELECT metrics:  " << whole.field_bytes << " field bytes, " << whole.wire_bytes
       << " DataRow bytes"
       << "\n  ratio:           " << whole.wire_bytes / ours.wire_bytes << "x"
       << "\npoll of " << nodes << " nodes (10 polls, kept connection): min "
       << times.front() * 1000 << " ms, median " << times[times.size() / 2] * 1000 << " ms, max "
       << times.back() * 1000 << " ms"
       << "\n(for scale: fetching the whole metrics column of the same rows once took "
       << whole_time * 1000 << " ms; extracting one key instead of eight " << one_key_time * 1000
       << " ms)");
  CHECK(ours.wire_bytes * 100 < whole.wire_bytes);
}
