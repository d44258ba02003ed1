// End to end, issue 3: the real crdb-certwatch binary, started as a child process, reads real
// certificate files and a real PostgreSQL serving a CockroachDB-shaped
// crdb_internal.kv_node_status; the tests scrape it over HTTP on loopback and check the exact
// series docs/metrics.md promises, through outages, hangs, bad credentials and a pending reload.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/certgen.hpp"
#include "support/exposition.hpp"
#include "support/http_client.hpp"
#include "support/pg_harness.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::testing::FakeNode;
using certwatch::testing::GeneratedCert;
using certwatch::testing::http_get;
using certwatch::testing::HttpResponse;
using certwatch::testing::kDay;
using certwatch::testing::PgServer;
using certwatch::testing::single_quoted_yaml;
using certwatch::testing::TempDir;
using Clock = std::chrono::steady_clock;
using Labels = std::map<std::string, std::string>;

std::int64_t unix_now() { return certwatch::testing::unix_now(); }

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// The Prometheus text exposition, parsed into series.

struct Series {
  std::string name;
  Labels labels;
  double value = 0;
};
using Metrics = std::vector<Series>;

Metrics parse_exposition(const std::string& text) {
  Metrics out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() == '#') continue;
    Series series;
    std::size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos) throw std::runtime_error("bad exposition line: " + line);
    series.name = line.substr(0, pos);
    if (line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        const auto eq = line.find('=', pos);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          throw std::runtime_error("bad labels: " + line);
        }
        const std::string name = line.substr(pos, eq - pos);
        std::string value;
        std::size_t i = eq + 2;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
        }
        series.labels[name] = value;
        pos = i + 1;
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      ++pos;  // '}'
    }
    series.value = std::strtod(line.c_str() + pos, nullptr);
    out.push_back(std::move(series));
  }
  return out;
}

std::vector<Series> named(const Metrics& metrics, std::string_view name) {
  std::vector<Series> out;
  std::copy_if(metrics.begin(), metrics.end(), std::back_inserter(out),
               [&](const Series& s) { return s.name == name; });
  return out;
}

// The value of the series with exactly this label set.
std::optional<double> value_of(const Metrics& metrics, std::string_view name,
                               const Labels& labels = {}) {
  for (const Series& s : metrics) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

double counter_of(const Metrics& metrics, std::string_view name, const Labels& labels) {
  return value_of(metrics, name, labels).value_or(0);
}

Labels cluster_identity(const std::string& cert_type, const std::string& node_id) {
  return {{"source", "cluster"}, {"cert_type", cert_type},
          {"node_id", node_id},  {"path", ""},
          {"index", ""},         {"user", ""}};
}

Labels source_label(const std::string& source) { return {{"source", source}}; }
Labels errors_label(const std::string& reason) {
  return {{"source", "cluster"}, {"reason", reason}};
}

// The cluster-sourced series of a per-certificate metric, keyed "cert_type/node_id"; each must
// carry exactly the identity label set with empty path, index and user.
std::map<std::string, double> cluster_cert_values(const Metrics& metrics, std::string_view name) {
  std::map<std::string, double> out;
  for (const Series& s : named(metrics, name)) {
    if (s.labels.at("source") != "cluster") continue;
    const std::string key = s.labels.at("cert_type") + "/" + s.labels.at("node_id");
    Labels expected = cluster_identity(s.labels.at("cert_type"), s.labels.at("node_id"));
    if (name == "crdb_cert_expiry_state") {
      expected["action"] = s.labels.at("action");
      expected["severity"] = s.labels.at("severity");
    }
    INFO(name << " " << key);
    CHECK(s.labels == expected);
    CHECK_FALSE(out.count(key));  // one series per certificate
    out[key] = s.value;
  }
  return out;
}

// "cert_type/node_id" -> "action/severity" of every cluster certificate.
std::map<std::string, std::string> cluster_states(const Metrics& metrics) {
  std::map<std::string, std::string> out;
  for (const Series& s : named(metrics, "crdb_cert_expiry_state")) {
    if (s.labels.at("source") != "cluster") continue;
    CHECK(s.value == 1);
    out[s.labels.at("cert_type") + "/" + s.labels.at("node_id")] =
        s.labels.at("action") + "/" + s.labels.at("severity");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The daemon as a child process.

// The running daemon on 127.0.0.1 with a kernel-chosen port, read back from its log. Stopped
// (SIGTERM, then SIGKILL) when the object dies.
class Daemon {
 public:
  Daemon(const fs::path& config_file, const fs::path& work_dir)
      : process_({CERTWATCH_BINARY, "--config.file", config_file.string(), "--web.listen-address",
                  "127.0.0.1:0", "--log.level", "debug"},
                 next_log_path(work_dir)) {
    const std::regex listening{R"(\(port ([0-9]+)\))"};
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      std::smatch match;
      const std::string log = process_.log();
      if (std::regex_search(log, match, listening)) {
        port_ = std::stoi(match[1]);
        return;
      }
      if (auto status = process_.wait_exit(0ms)) {
        throw std::runtime_error("the daemon exited at start (status " + std::to_string(*status) +
                                 "):\n" + log);
      }
      std::this_thread::sleep_for(20ms);
    }
    const std::string said = log();
    stop();  // ~Daemon does not run for an object whose constructor throws
    throw std::runtime_error("the daemon did not say which port it listens on:\n" + said);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int port() const { return port_; }
  std::string log() const { return process_.log(); }

  std::optional<HttpResponse> get(const std::string& path) const { return http_get(port_, path); }

  Metrics scrape() const {
    const auto response = get("/metrics");
    if (!response || response->status != 200) {
      throw std::runtime_error("scrape failed:\n" + log());
    }
    return parse_exposition(response->body);
  }

  // Scrapes until `done` holds; fails the test (with the last exposition and the log) after
  // `timeout`.
  Metrics wait_for(const std::string& what, const std::function<bool(const Metrics&)>& done,
                   std::chrono::milliseconds timeout = 15000ms) const {
    const auto deadline = Clock::now() + timeout;
    std::string last;
    while (true) {
      const auto response = get("/metrics");
      if (response && response->status == 200) {
        last = response->body;
        Metrics metrics = parse_exposition(last);
        if (done(metrics)) return metrics;
      }
      if (Clock::now() >= deadline) {
        FAIL("timed out waiting for: " << what << "\n--- last /metrics:\n"
                                       << last << "\n--- daemon log:\n"
                                       << log());
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  // SIGTERM, then SIGKILL after 5 s.
  void stop() { process_.stop(); }

 private:
  static fs::path next_log_path(const fs::path& work_dir) {
    static std::atomic<int> started{0};
    return work_dir / ("daemon-" + std::to_string(++started) + ".log");
  }

  certwatch::testing::ChildProcess process_;
  int port_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The local node's certificates directory: a CA and a node certificate signed by it.

class LocalCerts {
 public:
  LocalCerts()
      : ca_not_after_(unix_now() + 5 * 365 * kDay), node_not_after_(unix_now() + 200 * kDay) {
    certs_dir_ = fs::canonical(dir_.path()) / "certs";
    fs::create_directories(certs_dir_);
    certwatch::testing::CertSpec ca_spec;
    ca_spec.common_name = "Cockroach CA";
    ca_spec.is_ca = true;
    ca_spec.not_after = ca_not_after_;
    const GeneratedCert ca = certwatch::testing::generate_cert(ca_spec);
    certwatch::testing::CertSpec node_spec;
    node_spec.common_name = "node";
    node_spec.not_after = node_not_after_;
    node_spec.dns_names = {"localhost"};
    node_spec.ip_addresses = {"127.0.0.1"};
    const GeneratedCert node = certwatch::testing::generate_cert(node_spec, &ca);
    dir_.write("certs/ca.crt", ca.cert_pem);
    dir_.write("certs/node.crt", node.cert_pem);
    dir_.write("certs/node.key", node.key_pem, 0600);
  }

  const fs::path& work_dir() const { return dir_.path(); }
  const fs::path& certs_dir() const { return certs_dir_; }
  fs::path ca_path() const { return certs_dir_ / "ca.crt"; }
  fs::path node_path() const { return certs_dir_ / "node.crt"; }
  std::int64_t ca_not_after() const { return ca_not_after_; }
  std::int64_t node_not_after() const { return node_not_after_; }

  // A config with these certs and a `cluster:` section holding `cluster_keys` (YAML lines,
  // indented by two), fast polls.
  fs::path write_config(const std::string& cluster_keys,
                        const std::string& name = "config.yaml") const {
    const std::string yaml =
        "poll_interval: 1s\nfiles:\n  certs_dirs: [" + single_quoted_yaml(certs_dir_.string()) +
        "]\ncluster:\n" + cluster_keys +
        "  poll_interval: 1s\n  connect_timeout: 1s\n  statement_timeout: 1s\n";
    return dir_.write(name, yaml, 0600);
  }
  fs::path write_config_with_dsn(const std::string& dsn,
                                 const std::string& local_node_id = "1") const {
    return write_config("  dsn: " + single_quoted_yaml(dsn) + "\n  local_node_id: '" +
                        local_node_id + "'\n");
  }

 private:
  TempDir dir_;
  fs::path certs_dir_;
  std::int64_t ca_not_after_;
  std::int64_t node_not_after_;
};

std::string monitor_dsn(const PgServer& server) {
  return server.tcp_dsn(certwatch::testing::kMonitorUser, certwatch::testing::kRolePassword);
}

// Parts of the role password distinctive enough that finding one anywhere means a leak.
const std::vector<std::string>& role_password_fragments() {
  static const std::vector<std::string> fragments{std::string(certwatch::testing::kRolePassword),
                                                  "Pa55 ", R"('w\rd)", R"(w\\rd)"};
  return fragments;
}

void check_no_fragment(const std::string& where, const std::string& text,
                       const std::vector<std::string>& fragments) {
  for (const auto& fragment : fragments) {
    INFO(where << " must not contain " << fragment);
    CHECK(text.find(fragment) == std::string::npos);
  }
}

bool cluster_up(const Metrics& m) {
  return value_of(m, "crdb_cert_source_up", source_label("cluster")) == 1.0;
}
bool has_file_certs(const Metrics& m) {
  return std::any_of(m.begin(), m.end(), [](const Series& s) {
    return s.name == "crdb_cert_not_after_timestamp_seconds" && s.labels.at("source") == "file";
  });
}

// Runs `promtool check metrics` on an exposition: the format and naming Prometheus accepts.
void check_with_promtool(const std::string& exposition) {
  if (!certwatch::testing::require_tool("promtool", "apt-get install prometheus")) return;
  const auto result = certwatch::testing::promtool_check_metrics(exposition);
  INFO("promtool check metrics:\n" << result.out);
  CHECK(result.exit_code == 0);
}

// Node rows for the normal cluster; `now` anchors every value so states are known exactly.
struct NormalCluster {
  std::int64_t now;
  std::int64_t node2_ca, node2_node, node2_ui_ca, node3_node, node3_ui, node1_node_client;
  std::int64_t updated1, updated2, updated3;
};

NormalCluster insert_normal_cluster(const PgServer& server, const LocalCerts& certs) {
  NormalCluster c{};
  c.now = unix_now();
  c.node1_node_client = c.now + 200 * kDay;  // leaf, > 90 days: ok
  c.node2_ca = c.now + 400 * kDay;           // CA, > 365 days: ok
  c.node2_node = c.now + 20 * kDay;          // leaf, < 30 days: rotate_now
  c.node2_ui_ca = c.now + 100 * kDay;        // CA, < 365 days: plan_rotation
  c.node3_node = c.now + 60 * kDay;          // leaf, < 90 days: schedule_rotation
  c.node3_ui = c.now - kDay;                 // in the past: expired
  c.updated1 = c.now - 2;
  c.updated2 = c.now - 3;
  c.updated3 = c.now - 7200;  // a stale node: its row is two hours old

  FakeNode n1;  // the local node: reports exactly what is on disk, so no reload is pending
  n1.node_id = 1;
  n1.address = "127.0.0.1:26257";
  n1.server_version = "v24.1.3";
  n1.updated_at = static_cast<double>(c.updated1);
  n1.cert_metrics = {{"ca", std::to_string(certs.ca_not_after())},
                     {"node", std::to_string(certs.node_not_after())},
                     {"node-client", std::to_string(c.node1_node_client)},
                     {"ui", "0"}};  // optional and absent: nothing; client-ca not even reported
  FakeNode n2;
  n2.node_id = 2;
  n2.address = "db-2.example:26257";
  n2.server_version = "v24.1.3";
  n2.updated_at = static_cast<double>(c.updated2);
  n2.cert_metrics = {{"ca", std::to_string(c.node2_ca)},
                     {"node", std::to_string(c.node2_node)},
                     {"ui-ca", std::to_string(c.node2_ui_ca)}};
  FakeNode n3;
  n3.node_id = 3;
  n3.address = "[2001:db8::3]:26257";
  n3.server_version = "v23.2.9";
  n3.updated_at = static_cast<double>(c.updated3);
  n3.cert_metrics = {{"ca", "0"},  // required and 0: the node runs without a loadable CA
                     {"node", std::to_string(c.node3_node)},
                     {"ui", std::to_string(c.node3_ui)},
                     {"client-ca", "0"}};
  for (const FakeNode& node : {n1, n2, n3}) insert_node(server, node);
  return c;
}

}  // namespace

TEST_CASE("cluster_integration: daemon exports every node's certificates from kv_node_status",
          "[cluster][daemon]") {
  PgServer& pg = certwatch::testing::shared_pg_server();
  LocalCerts certs;

  SECTION("a normal three-node cluster") {
    const NormalCluster c = insert_normal_cluster(pg, certs);
    Daemon daemon(certs.write_config_with_dsn(monitor_dsn(pg)), certs.work_dir());
    const Metrics m = daemon.wait_for(
        "cluster source up with file certs",
        [](const Metrics& scraped) { return cluster_up(scraped) && has_file_certs(scraped); });

    const std::map<std::string, double> expected_not_after{
        {"ca/1", static_cast<double>(certs.ca_not_after())},
        {"node/1", static_cast<double>(certs.node_not_after())},
        {"node_client/1", static_cast<double>(c.node1_node_client)},
        {"ca/2", static_cast<double>(c.node2_ca)},
        {"node/2", static_cast<double>(c.node2_node)},
        {"ui_ca/2", static_cast<double>(c.node2_ui_ca)},
        {"node/3", static_cast<double>(c.node3_node)},
        {"ui/3", static_cast<double>(c.node3_ui)},
    };
    CHECK(cluster_cert_values(m, "crdb_cert_not_after_timestamp_seconds") == expected_not_after);
    const std::map<std::string, std::string> expected_states{
        {"ca/1", "ok/none"},
        {"node/1", "ok/none"},
        {"node_client/1", "ok/none"},
        {"ca/2", "ok/none"},
        {"node/2", "rotate_now/critical"},
        {"ui_ca/2", "plan_rotation/info"},
        {"ca/3", "load_failed/critical"},
        {"node/3", "schedule_rotation/warning"},
        {"ui/3", "expired/critical"},
    };
    CHECK(cluster_states(m) == expected_states);
    cluster_cert_values(m, "crdb_cert_expiry_state");  // exact identity labels, one per cert
    // The cluster knows only notAfter: no notBefore or info series claim more.
    CHECK(cluster_cert_values(m, "crdb_cert_not_before_timestamp_seconds").empty());
    CHECK(cluster_cert_values(m, "crdb_cert_info").empty());

    for (const Series& s : named(m, "crdb_cert_not_after_timestamp_seconds")) {
      INFO("never 1970: " << s.labels.at("source") << " " << s.labels.at("cert_type"));
      CHECK(s.value > 1e9);
    }

    CHECK(named(m, "crdb_cert_cluster_node_info").size() == 3);
    CHECK(value_of(
              m, "crdb_cert_cluster_node_info",
              {{"node_id", "1"}, {"address", "127.0.0.1:26257"}, {"server_version", "v24.1.3"}}) ==
          1.0);
    CHECK(value_of(m, "crdb_cert_cluster_node_info",
                   {{"node_id", "2"},
                    {"address", "db-2.example:26257"},
                    {"server_version", "v24.1.3"}}) == 1.0);
    CHECK(value_of(m, "crdb_cert_cluster_node_info",
                   {{"node_id", "3"},
                    {"address", "[2001:db8::3]:26257"},
                    {"server_version", "v23.2.9"}}) == 1.0);
    CHECK(named(m, "crdb_cert_cluster_node_updated_timestamp_seconds").size() == 3);
    CHECK(value_of(m, "crdb_cert_cluster_node_updated_timestamp_seconds", {{"node_id", "1"}}) ==
          static_cast<double>(c.updated1));
    CHECK(value_of(m, "crdb_cert_cluster_node_updated_timestamp_seconds", {{"node_id", "2"}}) ==
          static_cast<double>(c.updated2));
    CHECK(value_of(m, "crdb_cert_cluster_node_updated_timestamp_seconds", {{"node_id", "3"}}) ==
          static_cast<double>(c.updated3));
    CHECK(value_of(m, "crdb_cert_cluster_secure") == 1.0);
    // Which cluster: the id crdb_internal.cluster_id() returns; no cluster.name configured.
    CHECK(value_of(m, "crdb_cert_cluster_info",
                   {{"cluster_id", std::string(certwatch::testing::kFakeClusterId)},
                    {"cluster_name", ""}}) == 1.0);
    CHECK(value_of(m, "crdb_cert_source_up", source_label("cluster")) == 1.0);
    CHECK(value_of(m, "crdb_cert_source_up", source_label("file")) == 1.0);
    const auto last_success =
        value_of(m, "crdb_cert_source_last_success_timestamp_seconds", source_label("cluster"));
    REQUIRE(last_success);
    CHECK(*last_success >= static_cast<double>(c.now - 1));
    CHECK(*last_success <= static_cast<double>(unix_now() + 1));
    CHECK(named(m, "crdb_cert_source_errors_total").empty());
    // Node 1 reports what its files hold: nothing is pending.
    CHECK(named(m, "crdb_cert_reload_pending").empty());

    // The files keep their own identity next to the cluster's view of the same certificates.
    CHECK(value_of(m, "crdb_cert_not_after_timestamp_seconds",
                   {{"source", "file"},
                    {"cert_type", "node"},
                    {"node_id", ""},
                    {"path", certs.node_path().string()},
                    {"index", "0"},
                    {"user", ""}}) == static_cast<double>(certs.node_not_after()));

    const auto ready = daemon.get("/-/ready");
    REQUIRE(ready);
    CHECK(ready->status == 200);
    const auto page = daemon.get("/");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->body.find("db-2.example:26257") != std::string::npos);
    check_no_fragment("the status page", page->body, role_password_fragments());
    check_no_fragment("the daemon log", daemon.log(), role_password_fragments());
    check_with_promtool(daemon.get("/metrics")->body);
  }

  SECTION("0 for ca or node is load_failed, 0 for optional types and absent keys give nothing") {
    const std::int64_t now = unix_now();
    FakeNode zeros;  // every type reported, all 0: a node whose certificates all failed to load
    zeros.node_id = 1;
    for (const char* type : {"ca", "client-ca", "ui-ca", "node", "node-client", "ui",
                             "ca-client-tenant", "client-tenant"}) {
      zeros.cert_metrics.emplace_back(type, "0");
    }
    FakeNode partial;  // only some keys, in CockroachDB's float spelling
    partial.node_id = 2;
    partial.address = "db-2.example:26257";
    partial.cert_metrics = {
        {"ca", std::to_string(now + 3000 * kDay) + ".0"}, {"node", "0"}, {"ui", "0"}};
    insert_node(pg, zeros);
    insert_node(pg, partial);
    Daemon daemon(certs.write_config_with_dsn(monitor_dsn(pg)), certs.work_dir());
    const Metrics m = daemon.wait_for("cluster source up", cluster_up);

    CHECK(cluster_cert_values(m, "crdb_cert_not_after_timestamp_seconds") ==
          std::map<std::string, double>{{"ca/2", static_cast<double>(now + 3000 * kDay)}});
    CHECK(cluster_states(m) == std::map<std::string, std::string>{
                                   {"ca/1", "load_failed/critical"},
                                   {"node/1", "load_failed/critical"},
                                   {"ca/2", "ok/none"},
                                   {"node/2", "load_failed/critical"},
                               });
    for (const Series& s : m) {
      if (s.name.ends_with("_timestamp_seconds") &&
          s.name != "crdb_cert_config_last_reload_success_timestamp_seconds") {
        INFO(s.name << " must never be near 1970");
        CHECK(s.value > 1e9);
      }
    }
    CHECK(value_of(m, "crdb_cert_cluster_secure") == 1.0);
  }

  SECTION("an insecure cluster reports no certificates and secure 0") {
    for (std::int64_t id = 1; id <= 3; ++id) {
      FakeNode node;
      node.node_id = id;
      node.address = "db-" + std::to_string(id) + ".example:26257";
      insert_node(pg, node);  // no security.certificate.* keys at all
    }
    Daemon daemon(certs.write_config_with_dsn(monitor_dsn(pg)), certs.work_dir());
    const Metrics m = daemon.wait_for(
        "cluster source up with file certs",
        [](const Metrics& scraped) { return cluster_up(scraped) && has_file_certs(scraped); });
    CHECK(value_of(m, "crdb_cert_cluster_secure") == 0.0);
    CHECK(named(m, "crdb_cert_cluster_node_info").size() == 3);
    CHECK(cluster_cert_values(m, "crdb_cert_not_after_timestamp_seconds").empty());
    CHECK(cluster_states(m).empty());
    CHECK(named(m, "crdb_cert_reload_pending").empty());
    // The local files are still reported.
    CHECK(has_file_certs(m));
  }

  SECTION("a node.crt replaced on disk but not reloaded is a pending reload until the node says") {
    const std::int64_t loaded_node = certs.node_not_after() - 100 * kDay;  // the old certificate
    FakeNode local;
    local.node_id = 1;
    local.cert_metrics = {{"ca", std::to_string(certs.ca_not_after())},
                          {"node", std::to_string(loaded_node)}};
    FakeNode other;
    other.node_id = 2;
    other.address = "db-2.example:26257";
    // Another node's different node cert must not count: only the local node is compared.
    other.cert_metrics = {{"ca", std::to_string(certs.ca_not_after() + 5)},
                          {"node", std::to_string(loaded_node - 7)}};
    insert_node(pg, local);
    insert_node(pg, other);
    Daemon daemon(certs.write_config_with_dsn(monitor_dsn(pg)), certs.work_dir());
    const Metrics m = daemon.wait_for("a pending reload", [](const Metrics& scraped) {
      return !named(scraped, "crdb_cert_reload_pending").empty();
    });
    const std::vector<Series> pending = named(m, "crdb_cert_reload_pending");
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].labels ==
          Labels{{"node_id", "1"}, {"cert_type", "node"}, {"path", certs.node_path().string()}});
    CHECK(pending[0].value == 1.0);
    const auto page = daemon.get("/");
    REQUIRE(page);
    CHECK(page->body.find("SIGHUP") != std::string::npos);
    CHECK(page->body.find(certs.node_path().string()) != std::string::npos);
    const std::string log = daemon.log();
    CHECK(log.find("SIGHUP") != std::string::npos);
    CHECK(log.find(certs.node_path().string()) != std::string::npos);

    // The node reloads (SIGHUP): it now reports the certificate that is on disk.
    pg.exec(
        "UPDATE crdb_internal.kv_node_status SET metrics = jsonb_set(metrics, "
        "'{security.certificate.expiration.node}', to_jsonb(" +
        std::to_string(certs.node_not_after()) + "::bigint)) WHERE node_id = 1");
    const Metrics after = daemon.wait_for(
        "the pending reload to clear",
        [](const Metrics& scraped) { return named(scraped, "crdb_cert_reload_pending").empty(); });
    CHECK(cluster_cert_values(after, "crdb_cert_not_after_timestamp_seconds").at("node/1") ==
          static_cast<double>(certs.node_not_after()));
    const auto page_after = daemon.get("/");
    REQUIRE(page_after);
    CHECK(page_after->body.find("Reload pending") == std::string::npos);
  }

  SECTION("node.crt must carry the host of the local node's advertise address (san_missing)") {
    FakeNode local;
    local.node_id = 1;
    local.address = "db-1.example:26257";  // what kv_node_status says the node is reached by
    local.cert_metrics = {{"ca", std::to_string(certs.ca_not_after())},
                          {"node", std::to_string(certs.node_not_after())}};
    insert_node(pg, local);
    Daemon daemon(certs.write_config_with_dsn(monitor_dsn(pg)), certs.work_dir());
    const Metrics m = daemon.wait_for("a missing SAN", [](const Metrics& scraped) {
      return !named(scraped, "crdb_cert_check_failed").empty();
    });
    const std::vector<Series> failed = named(m, "crdb_cert_check_failed");
    REQUIRE(failed.size() == 1);  // localhost and 127.0.0.1 are there; the key is 0600
    CHECK(failed[0].labels.at("check") == "san_missing");
    CHECK(failed[0].labels.at("detail") == "db-1.example");
    CHECK(failed[0].labels.at("path") == certs.node_path().string());
  }

  SECTION("a wrong password is auth_failed and is never shown") {
    const std::string wrong_password = "Wr0ng-S3cret-4711";
    insert_node(pg, FakeNode{});
    // Through dsn_file, the way the docs advise keeping passwords out of the main config.
    const fs::path dsn_file = certs.work_dir() / "dsn";
    {
      std::ofstream file(dsn_file);
      // A libpq URI this time (the other cases use keyword strings).
      file << "postgresql://" << certwatch::testing::kMonitorUser << ":" << wrong_password
           << "@127.0.0.1:" << pg.port() << "/postgres?application_name=certwatch-it\n";
    }
    fs::permissions(dsn_file, fs::perms::owner_read | fs::perms::owner_write);
    Daemon daemon(certs.write_config("  dsn_file: " + single_quoted_yaml(dsn_file.string()) +
                                     "\n  local_node_id: '1'\n"),
                  certs.work_dir());
    const Metrics m = daemon.wait_for("three auth_failed polls", [](const Metrics& scraped) {
      return counter_of(scraped, "crdb_cert_source_errors_total", errors_label("auth_failed")) >= 3;
    });
    // Polls the backoff skipped count under the reason of the last attempt: nothing else.
    CHECK(value_of(m, "crdb_cert_source_up", source_label("cluster")) == 0.0);
    CHECK(named(m, "crdb_cert_source_errors_total").size() == 1);  // no other reason
    CHECK(cluster_cert_values(m, "crdb_cert_not_after_timestamp_seconds").empty());
    const auto page = daemon.get("/");
    const auto metrics = daemon.get("/metrics");
    REQUIRE(page);
    REQUIRE(metrics);
    // The status page says why, without the secret.
    CHECK(page->body.find("password authentication failed") != std::string::npos);
    const std::vector<std::string> secret{wrong_password, "S3cret"};
    check_no_fragment("the status page", page->body, secret);
    check_no_fragment("/metrics", metrics->body, secret);
    daemon.stop();
    check_no_fragment("the daemon log", daemon.log(), secret);
  }

  SECTION("a role without SELECT is permission_denied") {
    insert_node(pg, FakeNode{});
    Daemon daemon(certs.write_config_with_dsn(pg.tcp_dsn(certwatch::testing::kNoSelectUser,
                                                         certwatch::testing::kRolePassword)),
                  certs.work_dir());
    const Metrics m = daemon.wait_for("permission_denied", [](const Metrics& scraped) {
      return has_file_certs(scraped) && counter_of(scraped, "crdb_cert_source_errors_total",
                                                   errors_label("permission_denied")) >= 1;
    });
    CHECK(value_of(m, "crdb_cert_source_up", source_label("cluster")) == 0.0);
    CHECK(named(m, "crdb_cert_source_errors_total").size() == 1);
    CHECK(named(m, "crdb_cert_cluster_node_info").empty());
    CHECK(has_file_certs(m));
    daemon.stop();
    check_no_fragment("the daemon log", daemon.log(), role_password_fragments());
  }
}

TEST_CASE("cluster_integration: daemon keeps the last good cluster data through outages and hangs",
          "[cluster][daemon][outage]") {
  PgServer& pg = certwatch::testing::shared_pg_server();
  LocalCerts certs;

  SECTION("database stopped under the daemon and started again") {
    insert_normal_cluster(pg, certs);
    Daemon daemon(certs.write_config_with_dsn(monitor_dsn(pg)), certs.work_dir());
    const Metrics before = daemon.wait_for("cluster source up", cluster_up);
    const auto good_not_after =
        cluster_cert_values(before, "crdb_cert_not_after_timestamp_seconds");
    const auto good_states = cluster_states(before);
    REQUIRE(good_not_after.size() == 8);

    pg.stop();
    const double stopped_at = static_cast<double>(unix_now()) + 1;  // unix_now() truncates
    const Metrics down =
        daemon.wait_for("cluster source down, connect_failed counted", [](const Metrics& m) {
          return value_of(m, "crdb_cert_source_up", source_label("cluster")) == 0.0 &&
                 counter_of(m, "crdb_cert_source_errors_total", errors_label("connect_failed")) >=
                     1;
        });
    const double failures =
        counter_of(down, "crdb_cert_source_errors_total", errors_label("connect_failed"));
    const Metrics later = daemon.wait_for("connect_failed to increment", [&](const Metrics& m) {
      return counter_of(m, "crdb_cert_source_errors_total", errors_label("connect_failed")) >
             failures;
    });
    // Alerts must not resolve because the database is unreachable: the last good data stays.
    for (const Metrics* m : {&down, &later}) {
      CHECK(cluster_cert_values(*m, "crdb_cert_not_after_timestamp_seconds") == good_not_after);
      CHECK(cluster_states(*m) == good_states);
      CHECK(named(*m, "crdb_cert_cluster_node_info").size() == 3);
      CHECK(value_of(*m, "crdb_cert_cluster_secure") == 1.0);
      // No poll can have succeeded once the server was down.
      const auto last_success =
          value_of(*m, "crdb_cert_source_last_success_timestamp_seconds", source_label("cluster"));
      REQUIRE(last_success);
      CHECK(*last_success <= stopped_at);
      CHECK(value_of(*m, "crdb_cert_source_up", source_label("file")) == 1.0);
    }

    CHECK(value_of(down, "crdb_cert_source_last_success_timestamp_seconds",
                   source_label("cluster")) ==
          value_of(later, "crdb_cert_source_last_success_timestamp_seconds",
                   source_label("cluster")));

    pg.start();
    const Metrics back = daemon.wait_for("cluster source up again", cluster_up);
    CHECK(cluster_cert_values(back, "crdb_cert_not_after_timestamp_seconds") == good_not_after);
    // Counters never reset.
    CHECK(counter_of(back, "crdb_cert_source_errors_total", errors_label("connect_failed")) >
          failures);
  }

  SECTION("a hung query is cut by statement_timeout while /metrics stays fast") {
    insert_normal_cluster(pg, certs);
    Daemon daemon(certs.write_config_with_dsn(monitor_dsn(pg)), certs.work_dir());
    const Metrics before = daemon.wait_for("cluster source up", cluster_up);
    const auto good_not_after =
        cluster_cert_values(before, "crdb_cert_not_after_timestamp_seconds");

    certwatch::testing::make_node_status_hang(pg, 60);
    const auto hang_started = Clock::now();
    double slowest = 0;
    int scrapes = 0;
    double timeouts = 0;
    Metrics last;
    // Scrape continuously through at least three cut statements.
    while (seconds_since(hang_started) < 20 && timeouts < 3) {
      const auto start = Clock::now();
      const auto response = daemon.get("/metrics");
      const double took = seconds_since(start);
      REQUIRE(response);
      REQUIRE(response->status == 200);
      slowest = std::max(slowest, took);
      ++scrapes;
      last = parse_exposition(response->body);
      timeouts = counter_of(last, "crdb_cert_source_errors_total", errors_label("timeout"));
      std::this_thread::sleep_for(50ms);
    }
    INFO(scrapes << " scrapes during the hang; slowest " << slowest << " s; log:\n"
                 << daemon.log());
    CHECK(timeouts >= 3);
    CHECK(slowest < 0.2);
    CHECK(value_of(last, "crdb_cert_source_up", source_label("cluster")) == 0.0);
    CHECK(cluster_cert_values(last, "crdb_cert_not_after_timestamp_seconds") == good_not_after);
    // Each cut statement took about statement_timeout, not the 60 s the view sleeps.
    const auto duration =
        value_of(last, "crdb_cert_source_duration_seconds", source_label("cluster"));
    REQUIRE(duration);
    CHECK(*duration < 3.0);

    certwatch::testing::restore_node_status(pg);
    daemon.wait_for("cluster source up after the hang", cluster_up);
  }

  SECTION("started while the database is down: file metrics at once, cluster when it comes up") {
    insert_normal_cluster(pg, certs);
    pg.stop();
    const auto started = Clock::now();
    Daemon daemon(certs.write_config_with_dsn(monitor_dsn(pg)), certs.work_dir());
    const Metrics first = daemon.wait_for("file certificates", has_file_certs, 3000ms);
    CHECK(seconds_since(started) < 3.0);
    CHECK(value_of(first, "crdb_cert_not_after_timestamp_seconds",
                   {{"source", "file"},
                    {"cert_type", "ca"},
                    {"node_id", ""},
                    {"path", certs.ca_path().string()},
                    {"index", "0"},
                    {"user", ""}}) == static_cast<double>(certs.ca_not_after()));

    // Ready once the first cluster poll has finished, even though it failed.
    const auto ready_deadline = Clock::now() + 10s;
    std::optional<HttpResponse> ready;
    while (Clock::now() < ready_deadline) {
      ready = daemon.get("/-/ready");
      if (ready && ready->status == 200) break;
      std::this_thread::sleep_for(50ms);
    }
    REQUIRE(ready);
    REQUIRE(ready->status == 200);
    const Metrics polled = daemon.scrape();
    CHECK(value_of(polled, "crdb_cert_source_up", source_label("cluster")) == 0.0);
    CHECK(counter_of(polled, "crdb_cert_source_errors_total", errors_label("connect_failed")) >= 1);
    CHECK_FALSE(value_of(polled, "crdb_cert_source_last_success_timestamp_seconds",
                         source_label("cluster")));
    CHECK(named(polled, "crdb_cert_cluster_node_info").empty());
    CHECK_FALSE(value_of(polled, "crdb_cert_cluster_secure"));
    CHECK(cluster_states(polled).empty());

    pg.start();
    const Metrics up = daemon.wait_for("cluster source up once the database is", cluster_up);
    CHECK(cluster_cert_values(up, "crdb_cert_not_after_timestamp_seconds").size() == 8);
    CHECK(value_of(up, "crdb_cert_cluster_secure") == 1.0);
  }
}

TEST_CASE("cluster_integration: the daemon reads the cluster over verify-full TLS",
          "[cluster][daemon][tls]") {
  PgServer& pg = certwatch::testing::shared_pg_server();
  const GeneratedCert ca = certwatch::testing::enable_tls_with_new_ca(pg, "PostgreSQL test CA");
  const std::int64_t node_not_after = unix_now() + 45 * kDay;
  FakeNode node;
  node.cert_metrics = {{"node", std::to_string(node_not_after)}};
  insert_node(pg, node);

  LocalCerts certs;
  // Outside the certs directory, so the file source does not report the database's CA.
  const fs::path root = certs.work_dir() / "pg-root.crt";
  std::ofstream(root) << ca.cert_pem;
  // kTlsUser is refused without TLS, so a successful poll went over verified TLS.
  Daemon daemon(certs.write_config_with_dsn(pg.tcp_dsn(
                    certwatch::testing::kTlsUser, certwatch::testing::kRolePassword,
                    "sslmode=verify-full sslrootcert='" + root.string() + "'", "localhost")),
                certs.work_dir());
  const Metrics m = daemon.wait_for("cluster source up over TLS", cluster_up);
  CHECK(cluster_cert_values(m, "crdb_cert_not_after_timestamp_seconds") ==
        std::map<std::string, double>{{"node/1", static_cast<double>(node_not_after)}});
  CHECK(cluster_states(m) ==
        std::map<std::string, std::string>{{"node/1", "schedule_rotation/warning"}});
  daemon.stop();
  check_no_fragment("the daemon log", daemon.log(), role_password_fragments());
}

TEST_CASE("cluster_integration: readiness waits for the first cluster poll but file metrics do not",
          "[cluster][daemon]") {
  // A server that accepts TCP but never speaks: the first poll lasts libpq's connect timeout.
  certwatch::testing::SilentListener silent;
  LocalCerts certs;
  const auto started = Clock::now();
  Daemon daemon(certs.write_config_with_dsn("host=127.0.0.1 port=" + std::to_string(silent.port()) +
                                            " dbname=postgres user=monitor password=Hush-0815"),
                certs.work_dir());
  const Metrics first = daemon.wait_for("file certificates", has_file_certs, 3000ms);
  const auto not_ready = daemon.get("/-/ready");
  REQUIRE(not_ready);
  INFO("after " << seconds_since(started) << " s");
  CHECK(not_ready->status == 503);
  CHECK(value_of(first, "crdb_cert_source_up", source_label("file")) == 1.0);
  CHECK(value_of(first, "crdb_cert_source_up", source_label("cluster")) == 0.0);
  CHECK_FALSE(value_of(first, "crdb_cert_source_duration_seconds", source_label("cluster")));

  const Metrics polled = daemon.wait_for("the first cluster poll to end", [](const Metrics& m) {
    return value_of(m, "crdb_cert_source_duration_seconds", source_label("cluster")).has_value();
  });
  CHECK(counter_of(polled, "crdb_cert_source_errors_total", errors_label("timeout")) == 1);
  const auto ready = daemon.get("/-/ready");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  daemon.stop();
  check_no_fragment("the daemon log", daemon.log(), {"Hush-0815"});
}

TEST_CASE("cluster_integration: a DSN libpq cannot parse stops the start without quoting it",
          "[cluster][daemon]") {
  LocalCerts certs;
  const std::string secret = "Bad-S3cret-77";
  // Shaped like a keyword string (it has a '='), but libpq rejects it: the config loader asks
  // libpq, so the daemon refuses to start rather than fail every poll.
  const fs::path config =
      certs.write_config_with_dsn("host=127.0.0.1 password=" + secret + " stray");
  for (const bool check_only : {false, true}) {
    std::vector<std::string> args{CERTWATCH_BINARY, "--config.file", config.string(),
                                  "--web.listen-address", "127.0.0.1:0"};
    if (check_only) args.push_back("--config.check");
    const auto result = certwatch::testing::run_command(args, 10s);
    REQUIRE_FALSE(result.timed_out);
    const std::string text = result.out + result.err;
    INFO("output:\n" << text);
    CHECK(result.exit_code == 1);
    CHECK(text.find("cluster.dsn: libpq cannot parse this connection string") != std::string::npos);
    check_no_fragment("the daemon's output", text, {secret, "S3cret", "stray"});
  }
}

TEST_CASE("cluster_integration: config.check never prints the DSN password",
          "[cluster][daemon][config]") {
  TempDir dir;
  const std::string secret = "Cfg-S3cret-9001";
  struct Case {
    std::string what;
    std::string yaml;
  };
  const std::vector<Case> cases{
      {"URL dsn beside a bad key",
       "cluster:\n  dsn: 'postgresql://monitor:" + secret +
           "@127.0.0.1:26257/defaultdb?sslmode=verify-full'\n  poll_interval: soon\n  bogus: 1\n"},
      {"keyword dsn beside a bad duration",
       "cluster:\n  dsn: \"host=db.example user=monitor password=" + secret +
           "\"\n  statement_timeout: -1s\n"},
      {"dsn that is no connection string",
       "cluster:\n  dsn: 'monitor:" + secret + "@db.example'\n"},
      {"dsn and dsn_file together",
       "cluster:\n  dsn: 'password=" + secret + " host=x'\n  dsn_file: /nonexistent\n"},
      {"dsn given as a list", "cluster:\n  dsn: ['password=" + secret + "']\n"},
      {"dsn_file with no connection string in it", "cluster:\n  dsn_file: secret.dsn\n"},
  };
  dir.write("secret.dsn", secret + "\n", 0600);
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.what) {
      const fs::path config = dir.write("config.yaml", c.yaml, 0600);
      const auto result = certwatch::testing::run_command(
          {CERTWATCH_BINARY, "--config.file", config.string(), "--config.check"}, 10s);
      REQUIRE_FALSE(result.timed_out);
      const std::string text = result.out + result.err;
      INFO("output:\n" << text);
      CHECK(result.exit_code == 1);                      // -1 when a signal ended it
      CHECK(text.find("cluster") != std::string::npos);  // it does say where the problem is
      check_no_fragment("--config.check output", text, {secret, "S3cret"});
    }
  }
}
