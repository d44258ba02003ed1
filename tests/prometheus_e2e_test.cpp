// End to end: the built daemon watches a certs directory, a real Prometheus (Debian's package)
// scrapes it every second and evaluates the rules `crdb-certwatch rules` generates, and the
// alerts are read back from Prometheus's HTTP API.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "support/certgen.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/prometheus.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::testing::cert_pem_with_time_left;
using certwatch::testing::ChildProcess;
using certwatch::testing::kDay;
using Clock = std::chrono::steady_clock;

// The firing alerts by (alertname, path), from /api/v1/alerts.
std::map<std::pair<std::string, std::string>, nlohmann::json> firing_alerts(
    const certwatch::testing::PrometheusServer& prometheus) {
  std::map<std::pair<std::string, std::string>, nlohmann::json> out;
  const auto response = prometheus.api_get("/api/v1/alerts", {});
  if (!response || response->status != 200) return out;
  const auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (body.is_discarded()) return out;
  for (const auto& alert : body["data"]["alerts"]) {
    if (alert["state"] != "firing") continue;
    const auto& labels = alert["labels"];
    out[{labels["alertname"].get<std::string>(), labels.value("path", std::string())}] = alert;
  }
  return out;
}

using Alerts = std::map<std::pair<std::string, std::string>, nlohmann::json>;

// The daemon on `config`, the rules `crdb-certwatch rules` generates for it in a real Prometheus
// that scrapes it every second: the firing alerts once every expected (alertname, path) fires, or
// after 60 s.
Alerts run_until_firing(const certwatch::testing::TempDir& dir, const fs::path& config,
                        const std::vector<std::pair<std::string, std::string>>& expected) {
  const auto rules = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "rules", "--config.file=" + config.string()});
  REQUIRE(rules.exit_code == 0);
  dir.write("rules.yml", rules.out);

  ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file=" + config.string(), "--web.listen-address=127.0.0.1:0"},
      dir.path() / "daemon.log");
  const auto exporter_port = certwatch::testing::wait_for_listening_port(daemon);
  if (!exporter_port) FAIL("the daemon did not log its port:\n" << daemon.log());
  certwatch::testing::PrometheusServer prometheus(dir, {*exporter_port}, {"rules.yml"});

  const auto started = Clock::now();
  Alerts alerts;
  while (Clock::now() - started < 60s) {
    alerts = firing_alerts(prometheus);
    bool all = true;
    for (const auto& key : expected) all = all && alerts.count(key) == 1;
    if (all) break;
    if (!prometheus.running()) FAIL("prometheus exited:\n" << prometheus.log());
    std::this_thread::sleep_for(500ms);
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  std::cout << "alerts firing after " << took << " ms\n";
  INFO("prometheus log:\n" << prometheus.log() << "\ndaemon log:\n" << daemon.log());
  for (const auto& key : expected) {
    INFO(key.first << " " << key.second);
    CHECK(alerts.count(key) == 1);
  }
  return alerts;
}

}  // namespace

TEST_CASE("Prometheus fires the generated alerts for the daemon's certificates", "[e2e]") {
  certwatch::testing::TempDir dir;
  const fs::path certs = dir.path() / "certs";
  fs::create_directories(certs);
  dir.write("certs/node.crt", cert_pem_with_time_left("node", 10 * kDay));  // rotate_now
  dir.write("certs/client.root.crt",
            cert_pem_with_time_left("root", 60 * kDay));  // schedule_rotation
  dir.write("certs/ca.crt",
            cert_pem_with_time_left("Cockroach CA", 200 * kDay, true));          // plan_rotation
  dir.write("certs/client.old.crt", cert_pem_with_time_left("old", -2 * kDay));  // expired
  dir.write("certs/client.broken.crt",
            "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n");
  // for: 0s everywhere, so alerts fire on the first evaluation that sees the series; except the
  // exporter-down alert, whose absent(up) is true until Prometheus's first scrape (a race on a
  // busy machine). Its firing is shown by the promtool unit tests instead.
  const auto config =
      dir.write("config.yaml", "poll_interval: 1s\nfiles:\n  certs_dirs: [" + certs.string() +
                                   "]\nalerting:\n"
                                   "  expiry_for: 0s\n  file_error_for: 0s\n"
                                   "  source_down_for: 0s\n"
                                   "  exporter_down_for: 10m\n"
                                   // Self-signed fixtures: the posture test below covers checks.
                                   "checks:\n  enabled: false\n");

  const std::string node = (certs / "node.crt").string();
  const std::string root = (certs / "client.root.crt").string();
  const std::string ca = (certs / "ca.crt").string();
  const std::string old = (certs / "client.old.crt").string();
  const std::string broken = (certs / "client.broken.crt").string();
  const Alerts alerts = run_until_firing(dir, config,
                                         {{"CrdbCertRotateNow", node},
                                          {"CrdbCertScheduleRotation", root},
                                          {"CrdbCertPlanRotation", ca},
                                          {"CrdbCertExpired", old},
                                          {"CrdbCertFileUnreadable", broken}});
  REQUIRE(alerts.count({"CrdbCertRotateNow", node}) == 1);
  std::cout << "CrdbCertRotateNow as Prometheus shows it:\n"
            << alerts.at({"CrdbCertRotateNow", node}).dump(2) << "\n";

  const auto& rotate = alerts.at({"CrdbCertRotateNow", node});
  CHECK(rotate["labels"]["severity"] == "critical");
  CHECK(rotate["labels"]["action"] == "rotate_now");
  CHECK(rotate["labels"]["cert_type"] == "node");
  CHECK(rotate["labels"]["source"] == "file");
  CHECK(rotate["labels"]["job"] == "crdb-certwatch");
  // The value is the seconds left: 10 days less the seconds since the certificate was made.
  const double left = std::stod(rotate["value"].get<std::string>());
  CHECK(left < 10.0 * kDay);
  CHECK(left > 10.0 * kDay - 300);
  CHECK(rotate["annotations"]["description"].get<std::string>().find("expires in 9d 23h") !=
        std::string::npos);
  // The daemon that raised it serves the runbook (issue 25): http://<its
  // instance>/runbooks/<Alert>.
  const std::string runbook = rotate["annotations"]["runbook_url"].get<std::string>();
  INFO(runbook);
  CHECK(runbook.starts_with("http://"));
  CHECK(runbook.ends_with("/runbooks/CrdbCertRotateNow"));
  CHECK(runbook.find(rotate["labels"]["instance"].get<std::string>()) != std::string::npos);

  const auto& schedule = alerts.at({"CrdbCertScheduleRotation", root});
  CHECK(schedule["labels"]["severity"] == "warning");
  CHECK(schedule["labels"]["cert_type"] == "client");
  CHECK(schedule["labels"]["user"] == "root");
  CHECK(schedule["annotations"]["description"].get<std::string>().find("expires in 59d 23h") !=
        std::string::npos);

  const auto& plan = alerts.at({"CrdbCertPlanRotation", ca});
  CHECK(plan["labels"]["severity"] == "info");
  CHECK(plan["labels"]["cert_type"] == "ca");

  const auto& expired = alerts.at({"CrdbCertExpired", old});
  CHECK(expired["labels"]["severity"] == "critical");
  CHECK(expired["annotations"]["description"].get<std::string>().find("expired 2d 0h") !=
        std::string::npos);

  const auto& unreadable = alerts.at({"CrdbCertFileUnreadable", broken});
  CHECK(unreadable["labels"]["severity"] == "warning");
  CHECK(unreadable["labels"]["reason"] == "bad_pem");

  // Nothing else fires: the exporter is up, its source is up, no certificate is not yet valid.
  for (const auto& [key, alert] : alerts) {
    const auto& name = key.first;
    INFO(alert.dump());
    CHECK((name == "CrdbCertRotateNow" || name == "CrdbCertScheduleRotation" ||
           name == "CrdbCertPlanRotation" || name == "CrdbCertExpired" ||
           name == "CrdbCertFileUnreadable"));
  }
}

TEST_CASE("Prometheus fires the posture check alerts: untrusted chain, missing SAN, key mode",
          "[e2e][checks]") {
  using certwatch::testing::CertSpec;
  using certwatch::testing::generate_cert;
  certwatch::testing::TempDir dir;
  const fs::path certs = dir.path() / "certs";
  CertSpec ca_spec;
  ca_spec.common_name = "Cockroach CA";
  ca_spec.is_ca = true;
  const auto ca = generate_cert(ca_spec);
  const auto stranger = generate_cert(ca_spec);  // same name, another key
  CertSpec node_spec;
  node_spec.common_name = "node";
  node_spec.dns_names = {"localhost"};
  node_spec.ip_addresses = {"127.0.0.1"};
  const auto node = generate_cert(node_spec, &ca);
  CertSpec client_spec;
  client_spec.common_name = "app";
  const auto foreign_client = generate_cert(client_spec, &stranger);
  dir.write("certs/ca.crt", ca.cert_pem);
  dir.write("certs/node.crt", node.cert_pem);
  dir.write("certs/node.key", node.key_pem, 0644);  // CockroachDB refuses it
  dir.write("certs/client.app.crt", foreign_client.cert_pem);
  dir.write("certs/client.app.key", foreign_client.key_pem, 0600);
  const auto config =
      dir.write("config.yaml", "poll_interval: 1s\nfiles:\n  certs_dirs: [" + certs.string() +
                                   "]\nalerting:\n  expiry_for: 0s\n  exporter_down_for: 10m\n"
                                   "checks:\n  san:\n    required: [lb.example]\n");
  const std::string node_path = (certs / "node.crt").string();
  const std::string client_path = (certs / "client.app.crt").string();
  const Alerts alerts = run_until_firing(dir, config,
                                         {{"CrdbCertChainUntrusted", client_path},
                                          {"CrdbCertSanMissing", node_path},
                                          {"CrdbCertKeyPermissions", node_path}});
  REQUIRE(alerts.count({"CrdbCertSanMissing", node_path}) == 1);
  const auto& san = alerts.at({"CrdbCertSanMissing", node_path});
  CHECK(san["labels"]["detail"] == "lb.example");
  CHECK(san["labels"]["severity"] == "warning");
  CHECK(san["annotations"]["runbook_url"].get<std::string>().ends_with(
      "/runbooks/CrdbCertSanMissing"));
  REQUIRE(alerts.count({"CrdbCertKeyPermissions", node_path}) == 1);
  CHECK(alerts.at({"CrdbCertKeyPermissions", node_path})["labels"]["detail"] ==
        node_path.substr(0, node_path.size() - 4) + ".key mode 0644");
  REQUIRE(alerts.count({"CrdbCertChainUntrusted", client_path}) == 1);
  CHECK(alerts.at({"CrdbCertChainUntrusted", client_path})["labels"]["severity"] == "critical");
  // The node certificate chains to ca.crt: no chain alert for it.
  CHECK(alerts.count({"CrdbCertChainUntrusted", node_path}) == 0);
}
