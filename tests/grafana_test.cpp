// The Grafana dashboard (issue 17), proven rather than guessed: every query it holds runs through
// a real Prometheus scraping two real daemons (the file source on a certs directory with every
// expiry state and failing checks, the cluster source against the PostgreSQL harness), template
// variables substituted as Grafana does with "All" selected; its severity counts agree with the
// alerts Prometheus evaluates from the generated rules; and the JSON type-checks against
// Grafana's published schema types (@grafana/schema, tests/grafana-schema/).
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/certgen.hpp"
#include "support/fake_cloud_api.hpp"
#include "support/pg_harness.hpp"
#include "support/process.hpp"
#include "support/prometheus.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::testing::CertSpec;
using certwatch::testing::ChildProcess;
using certwatch::testing::FakeNode;
using certwatch::testing::generate_cert;
using certwatch::testing::kDay;
using certwatch::testing::PrometheusServer;
using certwatch::testing::single_quoted_yaml;
using certwatch::testing::TempDir;
using certwatch::testing::unix_now;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const fs::path kSourceDir = CERTWATCH_SOURCE_DIR;
const fs::path kDashboardPath = kSourceDir / "deploy/grafana/crdb-certwatch.json";
const fs::path kSchemaCheckDir = kSourceDir / "tests/grafana-schema";

// The panels the fixture below fills, and the targets (refIds) of each that must return data.
// A source that lands adds its panels here, one line each.
struct MustHaveData {
  std::string panel;
  std::string ref_ids;
};
const std::vector<MustHaveData> kMustHaveData = {
    {"Certificates by time left", "ABCD"},
    {"Failing checks", "A"},
    {"Certificates per CA", "ABC"},
    {"Cluster nodes", "ABCDE"},
    {"Cluster security", "A"},
    {"Pending reloads", "A"},
    {"Exporters", "ABCD"},
    {"Source up", "A"},
    {"Time since last successful poll", "A"},
    {"Poll duration", "A"},
    {"Unreadable certificate files", "A"},
    {"Expiries per week, next 12 months", "A"},
    {"Probe results", "ABC"},
    {"Handshake time", "A"},
    {"Served certificate mismatches", "A"},
    {"CMEK status", "A"},
    {"CMEK regions", "A"},
    {"CMEK keys", "AB"},
    {"Clusters by worst state", "ABCDE"},
};
// Variables whose values the fixture provides (every query variable of the dashboard).
const std::set<std::string> kVariablesWithValues = {"job", "cluster", "instance", "cert_type",
                                                    "node_id"};

json load_dashboard() {
  const auto dashboard = json::parse(certwatch::testing::read_file(kDashboardPath), nullptr, false);
  REQUIRE_FALSE(dashboard.is_discarded());
  return dashboard;
}

// Every panel, those inside rows included.
std::vector<json> all_panels(const json& dashboard) {
  std::vector<json> out;
  for (const auto& panel : dashboard.value("panels", json::array())) {
    out.push_back(panel);
    for (const auto& inner : panel.value("panels", json::array())) out.push_back(inner);
  }
  return out;
}

struct Query {
  std::string panel;
  std::string ref_id;
  std::string expr;
};

std::vector<Query> panel_queries(const json& dashboard) {
  std::vector<Query> out;
  for (const auto& panel : all_panels(dashboard)) {
    for (const auto& target : panel.value("targets", json::array())) {
      out.push_back(
          {panel.value("title", ""), target.value("refId", ""), target.value("expr", "")});
    }
  }
  return out;
}

// What Grafana puts in place of each variable with "All" selected (a query variable's allValue;
// a constant's value), and its built-ins for the dashboard's time range.
std::map<std::string, std::string> grafana_values(const json& dashboard) {
  std::map<std::string, std::string> values;
  for (const auto& variable : dashboard["templating"]["list"]) {
    const std::string type = variable.value("type", "");
    const std::string name = variable.value("name", "");
    if (type == "query") {
      INFO("variable " << name << ": without allValue Grafana lists every value it found");
      REQUIRE(variable.value("includeAll", false));
      REQUIRE_FALSE(variable.value("allValue", "").empty());
      values[name] = variable.value("allValue", "");
    } else if (type == "constant" || type == "textbox") {
      values[name] = variable.value("query", "");
    }
  }
  // "now-24h": what Grafana derives from the default time range (about 1000 points, and the
  // rate interval never under four scrape intervals).
  const std::string from = dashboard["time"].value("from", "");
  std::smatch match;
  const std::regex relative{R"(now-([0-9]+)([smhd]))"};
  REQUIRE(std::regex_match(from, match, relative));
  const std::map<std::string, long> unit{{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  const long range = std::stol(match[1]) * unit.at(match[2]);
  values["__range"] = std::to_string(range) + "s";
  values["__range_s"] = std::to_string(range);
  values["__range_ms"] = std::to_string(range * 1000);
  values["__interval"] = std::to_string(std::max(range / 1000, 1L)) + "s";
  values["__interval_ms"] = std::to_string(std::max(range / 1000, 1L) * 1000);
  values["__rate_interval"] = "60s";
  return values;
}

// Substitutes $var, ${var}, ${var:format} and [[var]] as Grafana does with "All" selected: a
// custom all value goes in unformatted (except the `text` format, which shows "All").
std::string substitute(const std::string& expr, const std::map<std::string, std::string>& values) {
  static const std::regex reference{R"(\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+))"};
  std::string out;
  auto cursor = expr.cbegin();
  for (std::sregex_iterator it(expr.begin(), expr.end(), reference), end; it != end; ++it) {
    const std::smatch& m = *it;
    const std::string name = m[1].matched ? m[1] : m[3].matched ? m[3] : m[5];
    const std::string format = m[2].matched ? m[2] : m[4];
    out.append(cursor, m[0].first);
    const auto value = values.find(name);
    if (value == values.end()) {
      out += m.str();  // left as is: the caller fails on a `$` that remains
    } else {
      out += format == "text" ? "All" : value->second;
    }
    cursor = m[0].second;
  }
  out.append(cursor, expr.cend());
  return out;
}

// The body of a Prometheus API answer; nullopt, with a failed CHECK showing Prometheus' error
// (a query that does not parse), when it did not succeed.
std::optional<json> checked_api_data(
    const PrometheusServer& prometheus, std::string_view path,
    const std::vector<std::pair<std::string, std::string>>& params) {
  const auto response = prometheus.api_get(path, params);
  CHECK(response.has_value());
  if (!response) return std::nullopt;
  const auto body = json::parse(response->body, nullptr, false);
  INFO("HTTP " << response->status << ": " << response->body);
  const bool success = !body.is_discarded() && body.value("status", "") == "success";
  CHECK(success);
  if (!success) return std::nullopt;
  return body["data"];
}

json api_data(const PrometheusServer& prometheus, std::string_view path,
              const std::vector<std::pair<std::string, std::string>>& params) {
  auto data = checked_api_data(prometheus, path, params);
  REQUIRE(data.has_value());
  return *data;
}

json instant_query(const PrometheusServer& prometheus, const std::string& promql) {
  return api_data(prometheus, "/api/v1/query", {{"query", promql}});
}

double single_value(const json& data) {
  REQUIRE(data["result"].size() == 1);
  return std::stod(data["result"][0]["value"][1].get<std::string>());
}

// Certificates with every expiry state and failing checks: a CA with 200 days left
// (plan_rotation), a node certificate with 10 (rotate_now) whose key is 0644 (key_permissions)
// and lacks the required SAN, clients at 60 days (schedule_rotation), expired, not yet valid, and
// signed by a stranger CA (chain_untrusted), and a file that is not PEM. Returns the node
// certificate's notAfter.
std::int64_t write_certs(const TempDir& dir) {
  const std::int64_t now = unix_now();
  CertSpec ca_spec;
  ca_spec.common_name = "Cockroach CA";
  ca_spec.is_ca = true;
  ca_spec.not_after = now + 200 * kDay;
  const auto ca = generate_cert(ca_spec);
  const auto stranger = generate_cert(ca_spec);
  auto leaf = [&](const std::string& name, std::int64_t not_before, std::int64_t not_after) {
    CertSpec spec;
    spec.common_name = name;
    spec.not_before = not_before;
    spec.not_after = not_after;
    if (name == "node") {
      spec.dns_names = {"localhost"};
      spec.ip_addresses = {"127.0.0.1"};
    }
    return spec;
  };
  const auto node = generate_cert(leaf("node", 0, now + 10 * kDay), &ca);
  dir.write("certs/ca.crt", ca.cert_pem);
  dir.write("certs/node.crt", node.cert_pem);
  dir.write("certs/node.key", node.key_pem, 0644);
  dir.write("certs/client.root.crt", generate_cert(leaf("root", 0, now + 60 * kDay), &ca).cert_pem);
  dir.write("certs/client.old.crt",
            generate_cert(leaf("old", now - 400 * kDay, now - 2 * kDay), &ca).cert_pem);
  dir.write("certs/client.future.crt",
            generate_cert(leaf("future", now + kDay, now + 100 * kDay), &ca).cert_pem);
  dir.write("certs/client.app.crt",
            generate_cert(leaf("app", 0, now + 150 * kDay), &stranger).cert_pem);
  dir.write("certs/client.broken.crt",
            "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n");
  return now + 10 * kDay;
}

// Three nodes in kv_node_status: node 1 (this host) reports another node certificate than the
// one on disk (reload pending), node 2 one that must be rotated now, node 3 no CA (load_failed)
// and a status row two hours old.
void insert_cluster(const certwatch::testing::PgServer& pg, std::int64_t disk_node_not_after) {
  const std::int64_t now = unix_now();
  FakeNode n1;
  n1.node_id = 1;
  n1.updated_at = static_cast<double>(now - 2);
  n1.cert_metrics = {{"ca", std::to_string(now + 200 * kDay)},
                     {"node", std::to_string(disk_node_not_after - 5 * kDay)}};
  FakeNode n2;
  n2.node_id = 2;
  n2.address = "db-2.example:26257";
  n2.updated_at = static_cast<double>(now - 3);
  n2.cert_metrics = {{"ca", std::to_string(now + 400 * kDay)},
                     {"node", std::to_string(now + 20 * kDay)}};
  FakeNode n3;
  n3.node_id = 3;
  n3.address = "db-3.example:26257";
  n3.updated_at = static_cast<double>(now - 7200);
  n3.cert_metrics = {{"ca", "0"}, {"node", std::to_string(now + 60 * kDay)}};
  for (const FakeNode& node : {n1, n2, n3}) certwatch::testing::insert_node(pg, node);
}

// Two daemons on the same certificates and the same cluster (two hosts of one cluster, both
// running the cluster source), scraped by one Prometheus evaluating the generated rules.
// Node 1 serves its node.crt on a TLS port (openssl s_server), which both daemons probe: the
// served leaf is the one on disk, and differs from what node 1 reports (a served mismatch against
// the cluster).
// The cluster is a CockroachDB Cloud Advanced one here too, with CMEK read from a local stand-in
// for the Cloud API.
struct Fixture {
  TempDir dir;
  std::vector<std::unique_ptr<ChildProcess>> daemons;
  std::unique_ptr<ChildProcess> node_tls;
  certwatch::testing::FakeCloudApi cloud_api{dir};
  std::unique_ptr<PrometheusServer> prometheus;

  Fixture() {
    auto& pg = certwatch::testing::shared_pg_server();
    insert_cluster(pg, write_certs(dir));
    const std::string served = "127.0.0.1:" + std::to_string(certwatch::testing::find_free_port());
    node_tls = std::make_unique<ChildProcess>(
        std::vector<std::string>{"openssl", "s_server", "-quiet", "-www", "-accept", served,
                                 "-cert", (dir.path() / "certs/node.crt").string(), "-key",
                                 (dir.path() / "certs/node.key").string()},
        dir.path() / "s_server.log");
    const std::string dsn =
        pg.tcp_dsn(certwatch::testing::kMonitorUser, certwatch::testing::kRolePassword);
    const auto config = dir.write(
        "config.yaml",
        "poll_interval: 1s\nfiles:\n  certs_dirs: [" +
            single_quoted_yaml((dir.path() / "certs").string()) +
            "]\ncluster:\n  dsn: " + single_quoted_yaml(dsn) +
            "\n  local_node_id: '1'\n  poll_interval: 1s\n  connect_timeout: 1s\n"
            "  statement_timeout: 1s\nprobe:\n  poll_interval: 1s\n  timeout: 2s\n"
            "  targets:\n    - {address: '" +
            served +
            "', protocol: tls, server_name: localhost, "
            "node_id: 1}\ndeployment:\n  tier: advanced\ncmek:\n  api_url: https://127.0.0.1:" +
            std::to_string(cloud_api.port()) +
            "\n  cluster_id: 6a1b2c3d-0000-4e5f-8a9b-0123456789ab\n  api_key_file: " +
            single_quoted_yaml(dir.write("api.key", "CCDB1_grafanaTestKey0123\n", 0600).string()) +
            "\n  ca_file: " + single_quoted_yaml(cloud_api.ca_file()) +
            "\n  poll_interval: 1s\n  timeout: 2s\nalerting:\n  expiry_for: 0s\n  "
            "exporter_down_for: 10m\n"
            "checks:\n  san:\n    required: [lb.example]\n",
        0600);
    const auto rules = certwatch::testing::run_command(
        {CERTWATCH_BINARY, "rules", "--config.file=" + config.string()});
    REQUIRE(rules.exit_code == 0);
    dir.write("rules.yml", rules.out);
    std::vector<int> ports;
    for (int i = 0; i < 2; ++i) {
      daemons.push_back(std::make_unique<ChildProcess>(
          std::vector<std::string>{CERTWATCH_BINARY, "--config.file=" + config.string(),
                                   "--web.listen-address=127.0.0.1:0"},
          dir.path() / ("daemon" + std::to_string(i) + ".log")));
      const auto port = certwatch::testing::wait_for_listening_port(*daemons.back());
      if (!port) FAIL("daemon " << i << " did not log its port:\n" << daemons.back()->log());
      ports.push_back(*port);
    }
    prometheus = std::make_unique<PrometheusServer>(
        dir, ports, std::vector<std::string>{"rules.yml"}, "prod-eu");
    wait_for_data();
  }

  // Until Prometheus holds what every must-have panel reads from both daemons, and has
  // evaluated the rules on it; 90 s at most after Prometheus is ready.
  void wait_for_data() {
    const std::vector<std::string> ready = {
        "count(count by (instance) (crdb_cert_cluster_node_info)) == 2",
        "count(count by (instance) (crdb_cert_check_failed)) == 2",
        "count(count by (instance) (crdb_cert_reload_pending)) == 2",
        "count(count by (instance) (crdb_cert_file_error)) == 2",
        "count(count by (instance) (crdb_cert_served_mismatch)) == 2",
        "count(count by (instance) (crdb_cmek_key_info)) == 2",
        "count(count_over_time(crdb_cert_source_up[1m]) >= 2) == 10",  // 2 daemons x 5 sources
                                                                       // (cloud: the client CA)
        "count(ALERTS{alertname=\"CrdbCertLoadFailed\", alertstate=\"firing\"}) == 1",
    };
    const auto started = Clock::now();
    if (!prometheus->wait_until_ready(60s)) FAIL("prometheus not ready:\n" << prometheus->log());
    for (const auto& condition : ready) {
      while (instant_query(*prometheus, condition)["result"].empty()) {
        if (Clock::now() - started > 90s) {
          FAIL("not ready after 90 s: " << condition << "\nprometheus log:\n"
                                        << prometheus->log() << "\ndaemon log:\n"
                                        << daemons[0]->log());
        }
        if (!prometheus->running()) FAIL("prometheus exited:\n" << prometheus->log());
        std::this_thread::sleep_for(500ms);
      }
    }
    std::cout
        << "fixture ready in "
        << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
        << " ms\n";
  }
};

}  // namespace

TEST_CASE("grafana: every dashboard query parses in Prometheus and the fixture's panels have data",
          "[grafana][e2e]") {
  if (!certwatch::testing::require_tool("prometheus", "apt-get install prometheus")) return;
  if (!certwatch::testing::require_tool("openssl", "apt-get install openssl")) return;
  const json dashboard = load_dashboard();
  const auto values = grafana_values(dashboard);
  Fixture fixture;

  // Variable queries, as Grafana's Prometheus data source runs label_values(selector, label).
  const std::regex label_values{R"(^\s*label_values\((.+),\s*(\w+)\s*\)\s*$)"};
  std::set<std::string> variables_seen;
  for (const auto& variable : dashboard["templating"]["list"]) {
    if (variable.value("type", "") != "query") continue;
    const std::string name = variable["name"];
    const json& query = variable["query"];
    const std::string text =
        query.is_string() ? query.get<std::string>() : query.value("query", "");
    const std::string substituted = substitute(text, values);
    INFO("variable " << name << ": " << substituted);
    CHECK(substituted.find('$') == std::string::npos);
    std::smatch match;
    REQUIRE(std::regex_match(substituted, match, label_values));
    const json data = api_data(*fixture.prometheus, "/api/v1/label/" + match[2].str() + "/values",
                               {{"match[]", match[1].str()}});
    std::cout << "variable " << name << ": " << data.dump() << "\n";
    if (kVariablesWithValues.count(name) == 1) CHECK_FALSE(data.empty());
    variables_seen.insert(name);
  }
  CHECK(variables_seen == kVariablesWithValues);

  // Panel queries: each parses and evaluates; those of the must-have panels return data.
  std::map<std::string, std::map<std::string, std::size_t>> results;  // panel -> refId -> series
  const auto queries = panel_queries(dashboard);
  for (const auto& q : queries) {
    const std::string promql = substitute(q.expr, values);
    INFO("panel \"" << q.panel << "\" target " << q.ref_id << ":\n" << promql);
    REQUIRE_FALSE(q.expr.empty());
    CHECK(promql.find('$') == std::string::npos);
    const auto data = checked_api_data(*fixture.prometheus, "/api/v1/query", {{"query", promql}});
    results[q.panel][q.ref_id] = data ? (*data)["result"].size() : 0;
  }
  std::cout << queries.size() << " panel queries ran\n";
  for (const auto& must : kMustHaveData) {
    INFO("panel \"" << must.panel << "\"");
    REQUIRE(results.count(must.panel) == 1);
    for (const char ref : must.ref_ids) {
      INFO("target " << ref);
      REQUIRE(results[must.panel].count(std::string(1, ref)) == 1);
      CHECK(results[must.panel][std::string(1, ref)] > 0);
    }
  }

  // The top row counts like the alerts: file certificates per host, cluster ones once however
  // many daemons report them. Both daemons read the same files, so every file state counts
  // twice and every cluster state once, in the stat panel and in ALERTS alike.
  std::map<std::string, std::string> stat_exprs;
  for (const auto& q : queries) stat_exprs[q.panel] = q.expr;
  for (const std::string severity : {"critical", "warning", "info"}) {
    INFO("severity " << severity);
    const double certificates = single_value(instant_query(
        *fixture.prometheus, substitute(stat_exprs.at("Certificates: " + severity), values)));
    const double alerts = single_value(instant_query(
        *fixture.prometheus, "count(ALERTS{alertstate=\"firing\", action!=\"\", severity=\"" +
                                 severity + "\"}) or vector(0)"));
    std::cout << severity << ": " << certificates << " certificates, " << alerts << " alerts\n";
    CHECK(certificates > 0);
    CHECK(certificates == alerts);
    const double checks = single_value(instant_query(
        *fixture.prometheus, substitute(stat_exprs.at("Failing checks: " + severity), values)));
    const double check_alerts = single_value(instant_query(
        *fixture.prometheus, "count(ALERTS{alertstate=\"firing\", check!=\"\", severity=\"" +
                                 severity + "\"}) or vector(0)"));
    std::cout << severity << ": " << checks << " failing checks, " << check_alerts << " alerts\n";
    CHECK(checks == check_alerts);
    if (severity != "info") CHECK(checks > 0);  // no default check is of severity info
  }
  // Each daemon reports the three critical cluster certificates (node 1's node certificate at 5
  // days, node 2's at 20, node 3's missing CA): six series, three certificates.
  const auto count_of = [&](const std::string& promql) {
    return single_value(instant_query(*fixture.prometheus, promql));
  };
  const std::string cluster_critical =
      "crdb_cert_expiry_state{source=\"cluster\", severity=\"critical\"}";
  CHECK(count_of("count(" + cluster_critical + ")") == 6);
  CHECK(count_of("count(max without (instance) (" + cluster_critical + "))") == 3);
}

TEST_CASE("grafana: panels describe themselves and link existing runbooks and panels",
          "[grafana]") {
  const json dashboard = load_dashboard();
  std::set<int> ids;
  std::set<std::string> titles;
  const std::regex runbook_link{R"(\(\$runbook_base/(\w+)\.md\))"};
  const std::regex panel_link{R"(viewPanel=panel-([0-9]+))"};
  std::vector<int> linked_ids;
  std::size_t runbook_links = 0;
  int first_row_y = 1000;
  for (const auto& panel : all_panels(dashboard)) {
    if (panel["type"] == "row")
      first_row_y = std::min(first_row_y, panel["gridPos"]["y"].get<int>());
  }
  for (const auto& panel : all_panels(dashboard)) {
    const std::string title = panel.value("title", "");
    INFO("panel " << title);
    CHECK(ids.insert(panel.value("id", -1)).second);
    CHECK(titles.insert(title).second);  // the must-have list names panels by title
    if (panel["type"] == "row") continue;
    const std::string description = panel.value("description", "");
    CHECK(description.size() > 40);
    for (std::sregex_iterator it(description.begin(), description.end(), runbook_link), end;
         it != end; ++it) {
      INFO("runbook " << (*it)[1]);
      CHECK(fs::is_regular_file(kSourceDir / "deploy/runbooks" / ((*it)[1].str() + ".md")));
      ++runbook_links;
    }
    // Every query goes to the data source the variable selects.
    CHECK(panel["datasource"]["uid"] == "${datasource}");
    for (const auto& target : panel.value("targets", json::array())) {
      CHECK(target["datasource"]["uid"] == "${datasource}");
    }
    const std::string links = panel["fieldConfig"]["defaults"].value("links", json::array()).dump();
    for (std::sregex_iterator it(links.begin(), links.end(), panel_link), end; it != end; ++it) {
      linked_ids.push_back(std::stoi((*it)[1]));
    }
    // The top row, above the first row header, links each count to its detail.
    if (panel["type"] == "stat" && panel["gridPos"]["y"] < first_row_y) {
      CHECK(links.find("viewPanel=") != std::string::npos);
    }
  }
  CHECK(runbook_links >= 20);
  for (const int id : linked_ids) {
    INFO("link to panel " << id);
    CHECK(ids.count(id) == 1);
  }
  // The variables the issue asks for, `instance` multi-valued with All.
  std::map<std::string, json> variables;
  for (const auto& variable : dashboard["templating"]["list"])
    variables[variable["name"]] = variable;
  for (const std::string name :
       {"datasource", "job", "cluster", "instance", "cert_type", "node_id"}) {
    INFO("variable " << name);
    CHECK(variables.count(name) == 1);
  }
  CHECK(variables["datasource"]["type"] == "datasource");
  CHECK(variables["instance"]["multi"] == true);
  CHECK(variables["instance"]["includeAll"] == true);
  // The kustomize tree ships this very file.
  const std::string kustomization =
      certwatch::testing::read_file(kSourceDir / "deploy/grafana/kustomization.yaml");
  CHECK(kustomization.find("crdb-certwatch.json") != std::string::npos);
  CHECK(kustomization.find("grafana_dashboard: \"1\"") != std::string::npos);
}

TEST_CASE("grafana: the dashboard type-checks against Grafana's schema and a broken copy fails",
          "[grafana][schema]") {
  if (!certwatch::testing::require_tool("node", "apt-get install nodejs npm")) return;
  if (!certwatch::testing::require(
          fs::exists(kSchemaCheckDir / "node_modules/@grafana/schema/package.json"),
          "tests/grafana-schema/node_modules is missing",
          "scripts/deps.sh runs npm ci in tests/grafana-schema")) {
    return;
  }
  const std::string check = (kSchemaCheckDir / "check-dashboard.mjs").string();
  const auto good = certwatch::testing::run_command({"node", check, kDashboardPath.string()});
  INFO(good.out << good.err);
  CHECK(good.exit_code == 0);

  // A current Grafana rejects these: the cursor sync mode is a number, a height too.
  json broken = load_dashboard();
  broken["graphTooltip"] = "shared";
  TempDir dir;
  const auto broken_path = dir.write("broken.json", broken.dump(2));
  const auto bad = certwatch::testing::run_command({"node", check, broken_path.string()});
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("\"graphTooltip\": \"shared\"") != std::string::npos);

  json wrong_height = load_dashboard();
  wrong_height["panels"][0]["gridPos"]["h"] = "4";
  const auto height_path = dir.write("height.json", wrong_height.dump(2));
  const auto height = certwatch::testing::run_command({"node", check, height_path.string()});
  INFO(height.out << height.err);
  CHECK(height.exit_code == 1);
  CHECK(height.err.find("\"h\": \"4\"") != std::string::npos);
}
