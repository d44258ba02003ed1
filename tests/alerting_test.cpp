// The alerting module from the outside: the generated rules judged by Prometheus's own tools, the
// checked-in deploy/ files, and `crdb-certwatch check` run as a process on real certificates.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "alerting/check_report.hpp"
#include "alerting/rule_file.hpp"
#include "config/config.hpp"
#include "core/text.hpp"
#include "state/snapshot.hpp"
#include "support/certgen.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using certwatch::testing::cert_pem_with_time_left;
using certwatch::testing::kDay;
using certwatch::testing::read_file;
using certwatch::testing::run_command;
using certwatch::testing::TempDir;

const fs::path kDeploy = fs::path(CERTWATCH_SOURCE_DIR) / "deploy";

certwatch::config::Config parse_or_fail(const std::string& yaml) {
  auto loaded = certwatch::config::parse_config(yaml, "test.yaml");
  for (const auto& error : loaded.errors) UNSCOPED_INFO(error.to_string());
  REQUIRE(loaded.config);
  return *loaded.config;
}

std::vector<std::string> alert_names(const std::string& rule_file) {
  std::vector<std::string> names;
  for (const auto& group : YAML::Load(rule_file)["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (rule["alert"]) names.push_back(rule["alert"].as<std::string>());
    }
  }
  return names;
}

// A certs directory and a config watching it (cluster source off unless `extra_yaml` adds it).
// Posture checks are off: these fixtures are self-signed certificates without keys, and the
// expiry verdicts are what is tested; `with_checks` turns them on.
struct CheckFixture {
  TempDir dir;
  fs::path config_file;

  explicit CheckFixture(const std::string& extra_yaml = {}, bool with_checks = false) {
    fs::create_directories(dir.path() / "certs");
    config_file = dir.write("config.yaml",
                            "files:\n  certs_dirs: [" + (dir.path() / "certs").string() + "]\n" +
                                extra_yaml + (with_checks ? "" : "checks:\n  enabled: false\n"));
  }
  void add(const std::string& name, const std::string& content) const {
    dir.write("certs/" + name, content);
  }
  certwatch::testing::CommandResult check(const std::string& output = "table") const {
    return run_command(
        {CERTWATCH_BINARY, "check", "--config.file=" + config_file.string(), "--output=" + output});
  }
};

}  // namespace

TEST_CASE("the rules generated from the default config pass promtool check rules", "[alerting]") {
  TempDir dir;
  const auto file = dir.write("rules.yml", certwatch::alerting::generate_rule_file({}));
  const auto result = run_command({"promtool", "check", "rules", file.string()});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("SUCCESS: 43 rules found") !=
        std::string::npos);  // 17 + 13 checks + 4 CMEK + 3 Cloud client CA + 6 fleet records
}

TEST_CASE("the alert family of the default config", "[alerting]") {
  const std::vector<std::string> expected{
      "CrdbCertRotateNow",         "CrdbCertScheduleRotation", "CrdbCertPlanRotation",
      "CrdbCertExpired",           "CrdbCertNotYetValid",      "CrdbCertLoadFailed",
      "CrdbCertRenewalOverdue",    "CrdbCertChainUntrusted",   "CrdbCertOutlivesCa",
      "CrdbCertSanMissing",        "CrdbCertCnMismatch",       "CrdbCertEkuMissing",
      "CrdbCertKeyPermissions",    "CrdbCertKeyOwner",         "CrdbCertKeyMissing",
      "CrdbCertCaKeyPresent",      "CrdbCertWeakKey",          "CrdbCertWeakSignature",
      "CrdbCertKeyMismatch",       "CrdbCertCompromised",      "CrdbCertFileUnreadable",
      "CrdbCertClusterNodeStale",  "CrdbCertReloadPending",    "CrdbCertServedMismatch",
      "CrdbCertProbeFailed",       "CrdbCertClusterInsecure",  "CrdbCertClientChildMetricsOff",
      "CrdbCmekKeyRevoked",        "CrdbCmekOperationFailed",  "CrdbCmekTransitionStuck",
      "CrdbCmekApiUnreachable",    "CrdbCloudClientCaFailed",  "CrdbCloudClientCaPending",
      "CrdbCloudClientCaNotSet",   "CrdbCertSourceDown",       "CrdbCertExporterDown",
      "CrdbCertConfigReloadFailed"};
  CHECK(alert_names(certwatch::alerting::generate_rule_file({})) == expected);
  // Every runbook_url points at the page the daemon that raised the alert serves
  // (deploy/runbooks/<Alert>.md), and every alert carries the fix the other outputs show. Alerts
  // aggregated without `instance` cannot name a daemon: no runbook_url rather than a broken one.
  const std::set<std::string> without_instance{
      "CrdbCertClusterNodeStale",      "CrdbCertServedMismatch",
      "CrdbCertClusterInsecure",       "CrdbCmekKeyRevoked",
      "CrdbCmekOperationFailed",       "CrdbCmekTransitionStuck",
      "CrdbCertClientChildMetricsOff", "CrdbCloudClientCaFailed",
      "CrdbCloudClientCaPending",      "CrdbCloudClientCaNotSet"};
  for (const auto& group : YAML::Load(certwatch::alerting::generate_rule_file({}))["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (!rule["alert"]) continue;  // the fleet group's recording rules
      const auto name = rule["alert"].as<std::string>();
      INFO(name);
      CHECK_FALSE(rule["annotations"]["fix"].as<std::string>().empty());
      if (without_instance.count(name) == 1) {
        CHECK_FALSE(rule["annotations"]["runbook_url"]);
        continue;
      }
      const auto url = rule["annotations"]["runbook_url"].as<std::string>();
      const std::string link = "http://{{ $labels.instance }}/runbooks/" + name;
      CHECK((url == link || url == "{{ if $labels.instance }}" + link + "{{ end }}"));
      CHECK(fs::is_regular_file(kDeploy / "runbooks" / (name + ".md")));
    }
  }
}

TEST_CASE("the generator is deterministic and the checked-in rule file equals its output",
          "[alerting]") {
  const std::string generated = certwatch::alerting::generate_rule_file({});
  CHECK(certwatch::alerting::generate_rule_file({}) == generated);
  const std::string checked_in = read_file(kDeploy / "prometheus" / "crdb-certwatch.rules.yml");
  INFO("run scripts/regen-deploy.sh and review the diff");
  CHECK(checked_in == generated);
  // The `rules` subcommand prints the same for a config file holding only defaults.
  TempDir dir;
  const auto config = dir.write("config.yaml", "{}\n");
  const auto result = run_command({CERTWATCH_BINARY, "rules", "--config.file", config.string()});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out == generated);
}

TEST_CASE("the PrometheusRule for Kubernetes holds the rule file's groups and is checked in",
          "[alerting][kubernetes]") {
  using certwatch::alerting::build_rule_groups;
  using certwatch::alerting::ObjectMeta;
  const auto groups = build_rule_groups({});
  const std::string generated = certwatch::alerting::render_prometheus_rule(groups, {});
  const YAML::Node object = YAML::Load(generated);
  CHECK(object["apiVersion"].as<std::string>() == "monitoring.coreos.com/v1");
  CHECK(object["kind"].as<std::string>() == "PrometheusRule");
  CHECK(object["metadata"]["name"].as<std::string>() == "crdb-certwatch");
  CHECK_FALSE(object["metadata"]["namespace"]);
  // The same groups, byte for byte once emitted, as the plain rule file.
  const YAML::Node plain = YAML::Load(certwatch::alerting::render_rule_file(groups));
  CHECK(YAML::Dump(object["spec"]["groups"]) == YAML::Dump(plain["groups"]));

  INFO("run scripts/regen-deploy.sh and review the diff");
  CHECK(read_file(kDeploy / "kubernetes" / "base" / "prometheusrule.yaml") == generated);

  TempDir dir;
  const auto config = dir.write("config.yaml", "{}\n");
  const auto named = run_command({CERTWATCH_BINARY, "rules", "--config.file", config.string(),
                                  "--format=prometheus-operator", "--name", "certs.db",
                                  "--namespace", "monitoring"});
  INFO(named.err);
  CHECK(named.exit_code == 0);
  const YAML::Node named_object = YAML::Load(named.out);
  CHECK(named_object["metadata"]["name"].as<std::string>() == "certs.db");
  CHECK(named_object["metadata"]["namespace"].as<std::string>() == "monitoring");
  CHECK(named.out ==
        certwatch::alerting::render_prometheus_rule(groups, ObjectMeta{"certs.db", "monitoring"}));

  // Names Kubernetes would refuse are refused here, before anything is printed.
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--name", "CrdbCertwatch"},
           {"--name", "-leading-dash"},
           {"--name", std::string(254, 'a')},
           {"--namespace", "two.labels"},
           {"--namespace", std::string(64, 'a')},
       }) {
    INFO(flag << " " << value);
    const auto refused = run_command({CERTWATCH_BINARY, "rules", "--config.file", config.string(),
                                      "--format=prometheus-operator", flag + "=" + value});
    CHECK(refused.exit_code == 2);
    CHECK(refused.out.empty());
    CHECK(refused.err.find(flag + ": ") != std::string::npos);
  }
  const auto unknown =
      run_command({CERTWATCH_BINARY, "rules", "--config.file", config.string(), "--format=thanos"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.out.empty());
}

TEST_CASE("promtool test rules passes on the checked-in unit tests", "[alerting]") {
  // Every deploy/prometheus/*.rules.test.yml: each topic keeps its alerts' tests in its own file.
  std::vector<std::string> argv{"promtool", "test", "rules"};
  for (const auto& entry : std::filesystem::directory_iterator(kDeploy / "prometheus")) {
    if (entry.path().filename().string().ends_with(".rules.test.yml")) {
      argv.push_back(entry.path().string());
    }
  }
  REQUIRE(argv.size() >= 5);  // crdb-certwatch's own and the topics' (probe, ...)
  // automation.rules.test.yml evaluates a certificate's 28-day life (about 10 s of CPU).
  const auto result = run_command(argv, std::chrono::seconds{240});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("SUCCESS") != std::string::npos);
  CHECK(result.out.find("FAILED") == std::string::npos);
}

TEST_CASE("amtool accepts the Alertmanager example", "[alerting]") {
  const auto result =
      run_command({"amtool", "check-config", (kDeploy / "alertmanager" / "alertmanager.yml")});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("3 receivers") != std::string::npos);
}

TEST_CASE("promtool accepts the scrape config example and its file_sd targets", "[alerting]") {
  const auto result =
      run_command({"promtool", "check", "config", (kDeploy / "prometheus" / "prometheus.yml")});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("SUCCESS: 43 rules found") !=
        std::string::npos);  // 17 + 13 checks + 4 CMEK + 3 Cloud client CA + 6 fleet records
  // The file_sd file parses as Prometheus expects: a list of target groups.
  const auto targets = nlohmann::json::parse(read_file(kDeploy / "prometheus" / "targets.json"));
  REQUIRE(targets.is_array());
  CHECK(targets.at(0).at("targets").size() == 2);
}

TEST_CASE("custom rules get their own alerts, and promtool sees them fire", "[alerting]") {
  const auto config = parse_or_fail(R"(
rules:
  - cert_types: [node, client]
    below: 14d
    action: renew_today
    severity: critical
  - cert_types: [ca]
    below: 730d
    action: file_unreadable
    severity: warning
alerting:
  expiry_for: 0s
)");
  const std::string rules = certwatch::alerting::generate_rule_file(config);
  const auto names = alert_names(rules);
  const std::set<std::string> name_set(names.begin(), names.end());
  CHECK(name_set.count("CrdbCertRenewToday") == 1);
  // An action that camel-cases to a fixed alert's name gets a longer name instead of a clash.
  CHECK(name_set.count("CrdbCertStateFileUnreadable") == 1);
  CHECK(name_set.size() == names.size());
  // The default actions are gone with the default rules; the built-ins stay.
  CHECK(name_set.count("CrdbCertRotateNow") == 0);
  CHECK(name_set.count("CrdbCertExpired") == 1);
  CHECK(rules.find("/runbooks/CrdbCertRotateNow{{") != std::string::npos);     // renew_today's
  CHECK(rules.find("/runbooks/CrdbCertPlanRotation{{") != std::string::npos);  // CA-only custom

  TempDir dir;
  dir.write("rules.yml", rules);
  const auto tests = dir.write("tests.yml", R"(rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'crdb_cert_expiry_state{job="crdb-certwatch", instance="h:9712", source="file", cert_type="node", path="/c/node.crt", index="0", action="renew_today", severity="critical"}'
        values: '1x5'
      - series: 'crdb_cert_not_after_timestamp_seconds{job="crdb-certwatch", instance="h:9712", source="file", cert_type="node", path="/c/node.crt", index="0"}'
        values: '86400x5'
    alert_rule_test:
      - eval_time: 0m
        alertname: CrdbCertRenewToday
        exp_alerts:
          - exp_labels: {job: crdb-certwatch, instance: "h:9712", source: file, cert_type: node, path: /c/node.crt, index: "0", action: renew_today, severity: critical}
            exp_annotations:
              summary: "CockroachDB node certificate is in state renew_today: /c/node.crt on h:9712"
              description: "The node certificate /c/node.crt on h:9712 expires in 1d 0h 0m 0s (action renew_today, severity critical). Follow the runbook for this action."
              fix: ")" + certwatch::state::action_remedy("rotate_now").fix +
                                                R"("
              runbook_url: "http://h:9712/runbooks/CrdbCertRotateNow"
      - {eval_time: 0m, alertname: CrdbCertStateFileUnreadable, exp_alerts: []}
)");
  const auto result = run_command({"promtool", "test", "rules", tests.string()});
  INFO(rules << result.out << result.err);
  CHECK(result.exit_code == 0);
}

TEST_CASE("alerting settings reach every alert: extra labels, for, job, runbook base",
          "[alerting]") {
  const auto config = parse_or_fail(R"(
alerting:
  job: certs
  runbook_base_url: https://wiki.example.com/runbooks/
  extra_labels: {team: database, env: prod}
  expiry_for: 1h
  file_error_for: 2m
  source_down_for: 3m
  node_stale_after: 20m
  reload_pending_for: 4m
  insecure_for: 0s
  exporter_down_for: 6m
)");
  const std::string text = certwatch::alerting::generate_rule_file(config);
  const YAML::Node file = YAML::Load(text);
  std::map<std::string, YAML::Node> by_name;
  for (const auto& group : file["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (!rule["alert"]) continue;  // the fleet group's recording rules
      const auto name = rule["alert"].as<std::string>();
      by_name[name] = YAML::Node(rule);
      INFO(name);
      CHECK(rule["labels"]["team"].as<std::string>() == "database");
      CHECK(rule["labels"]["env"].as<std::string>() == "prod");
      CHECK(rule["annotations"]["runbook_url"].as<std::string>() ==
            "https://wiki.example.com/runbooks/" + name + ".md");
      for (const char* annotation : {"summary", "description"}) {
        CHECK_FALSE(rule["annotations"][annotation].as<std::string>().empty());
      }
    }
  }
  CHECK(by_name.at("CrdbCertRotateNow")["for"].as<std::string>() == "1h");
  CHECK(by_name.at("CrdbCertFileUnreadable")["for"].as<std::string>() == "2m");
  CHECK(by_name.at("CrdbCertSourceDown")["for"].as<std::string>() == "3m");
  CHECK(by_name.at("CrdbCertReloadPending")["for"].as<std::string>() == "4m");
  CHECK_FALSE(by_name.at("CrdbCertClusterInsecure")["for"]);  // 0s: fires at once
  CHECK(by_name.at("CrdbCertExporterDown")["for"].as<std::string>() == "6m");
  CHECK(by_name.at("CrdbCertClusterNodeStale")["expr"].as<std::string>().find("> 1200") !=
        std::string::npos);
  CHECK(by_name.at("CrdbCertExporterDown")["expr"].as<std::string>() ==
        "up{job=\"certs\"} == 0\nor\nabsent(up{job=\"certs\"})\n");
  // The state alerts take severity from the series; the others set it.
  CHECK_FALSE(by_name.at("CrdbCertRotateNow")["labels"]["severity"]);
  CHECK(by_name.at("CrdbCertClusterInsecure")["labels"]["severity"].as<std::string>() ==
        "critical");

  TempDir dir;
  const auto file_path = dir.write("rules.yml", text);
  const auto result = run_command({"promtool", "check", "rules", file_path.string()});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
}

TEST_CASE("human_duration shows the two largest units", "[alerting]") {
  using certwatch::human_duration;
  CHECK(human_duration(0) == "0s");
  CHECK(human_duration(42) == "42s");
  CHECK(human_duration(3 * 3600 + 5) == "3h");
  CHECK(human_duration(29 * 86400 + 23 * 3600 + 59 * 60) == "29d 23h");
  CHECK(human_duration(-2.0 * 86400 - 3600) == "-2d 1h");
}

TEST_CASE("check exits 0 when every certificate is fine or only at info", "[alerting][check]") {
  CheckFixture fixture;
  fixture.add("node.crt", cert_pem_with_time_left("node", 400 * kDay));
  // Half an hour short of 200 days, so the time left reads "199d 23h" however fast this runs.
  fixture.add("ca.crt",
              cert_pem_with_time_left("Cockroach CA", 200 * kDay - 1800, true));  // plan_rotation
  const auto result = fixture.check();
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.rfind("OK: 2 certificates (0 critical, 0 warning, 1 info, 1 ok)", 0) == 0);
  CHECK(result.out.find("plan_rotation") != std::string::npos);
  CHECK(result.out.find("CERTIFICATE") != std::string::npos);
  CHECK(result.out.find((fixture.dir.path() / "certs" / "node.crt").string()) != std::string::npos);
  CHECK(result.out.find("199d 23h") != std::string::npos);
}

TEST_CASE("check exits 1 for a warning state and for an unusable file", "[alerting][check]") {
  SECTION("schedule_rotation") {
    CheckFixture fixture;
    fixture.add("node.crt", cert_pem_with_time_left("node", 60 * kDay));
    const auto result = fixture.check();
    INFO(result.out << result.err);
    CHECK(result.exit_code == 1);
    CHECK(result.out.rfind("WARNING:", 0) == 0);
    CHECK(result.out.find("schedule_rotation") != std::string::npos);
  }
  SECTION("a broken certificate file counts as a warning") {
    CheckFixture fixture;
    fixture.add("node.crt", cert_pem_with_time_left("node", 400 * kDay));
    fixture.add("client.root.crt",
                "-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
                "-----END CERTIFICATE-----\n");
    const auto result = fixture.check();
    INFO(result.out << result.err);
    CHECK(result.exit_code == 1);
    CHECK(result.out.find("FILE ERROR") != std::string::npos);
    CHECK(result.out.find("client.root.crt") != std::string::npos);
  }
}

TEST_CASE("check exits 2 when the worst is critical, with JSON of the same content",
          "[alerting][check]") {
  CheckFixture fixture;
  fixture.add("node.crt", cert_pem_with_time_left("node", 10 * kDay));
  fixture.add("client.old.crt", cert_pem_with_time_left("old", -2 * kDay));
  fixture.add("client.root.crt", cert_pem_with_time_left("root", 60 * kDay));
  const auto table = fixture.check();
  INFO(table.out << table.err);
  CHECK(table.exit_code == 2);
  CHECK(table.out.rfind("CRITICAL: 3 certificates (2 critical, 1 warning, 0 info, 0 ok)", 0) == 0);
  // Most severe first; among them the least time left first: the expired one heads the table.
  CHECK(table.out.find("expired") < table.out.find("rotate_now"));
  CHECK(table.out.find("rotate_now") < table.out.find("schedule_rotation"));
  CHECK(table.out.find("-2d") != std::string::npos);

  const auto json_result = fixture.check("json");
  INFO(json_result.out);
  CHECK(json_result.exit_code == 2);
  const auto json = nlohmann::json::parse(json_result.out);
  CHECK(json.at("status") == "CRITICAL");
  CHECK(json.at("exit_code") == 2);
  REQUIRE(json.at("certificates").size() == 3);
  const auto& first = json.at("certificates").at(0);
  CHECK(first.at("action") == "expired");
  CHECK(first.at("severity") == "critical");
  CHECK(first.at("user") == "old");
  CHECK(first.at("cert_type") == "client");
  CHECK(first.at("path") == (fixture.dir.path() / "certs" / "client.old.crt").string());
  CHECK(std::abs(first.at("seconds_left").get<double>() + 2.0 * kDay) < 120);
  const auto& node = json.at("certificates").at(1);
  CHECK(node.at("action") == "rotate_now");
  CHECK(std::abs(node.at("seconds_left").get<double>() - 10.0 * kDay) < 120);
  CHECK(json.at("sources").at(0).at("source") == "file");
  CHECK(json.at("sources").at(0).at("up") == true);
  CHECK(json.at("file_errors").empty());
}

TEST_CASE("check exits 3 when a source fails, even with a critical certificate",
          "[alerting][check]") {
  // A closed port on 127.0.0.1: the connection is refused at once.
  const int closed_port = certwatch::testing::find_free_port();
  CheckFixture fixture("cluster:\n  dsn: \"host=127.0.0.1 port=" + std::to_string(closed_port) +
                       " user=monitor dbname=defaultdb sslmode=disable\"\n"
                       "  connect_timeout: 1s\n");
  fixture.add("node.crt", cert_pem_with_time_left("node", 10 * kDay));
  const auto result = fixture.check();
  INFO(result.out << result.err);
  CHECK(result.exit_code == 3);
  CHECK(result.out.rfind("UNKNOWN:", 0) == 0);
  CHECK(result.out.find("cluster source FAILED") != std::string::npos);
  CHECK(result.out.find("rotate_now") != std::string::npos);  // what could be read is shown
  const auto json = nlohmann::json::parse(fixture.check("json").out);
  CHECK(json.at("exit_code") == 3);
  bool cluster_failed = false;
  for (const auto& source : json.at("sources")) {
    if (source.at("source") == "cluster") cluster_failed = source.at("up") == false;
  }
  CHECK(cluster_failed);
}

TEST_CASE("check names the reason of the last failure, not the largest count",
          "[alerting][check]") {
  using certwatch::ErrorReason;
  certwatch::state::SourceHealth cluster;
  cluster.source = "cluster";
  cluster.polled = true;
  cluster.up = false;
  cluster.errors_total = {{ErrorReason::auth_failed, 1}, {ErrorReason::connect_failed, 3}};
  cluster.last_error =
      certwatch::SourceError{ErrorReason::auth_failed, "password authentication failed"};
  certwatch::state::SnapshotInputs inputs;
  inputs.health = {cluster};
  const auto snapshot = certwatch::state::make_snapshot(inputs, 1.7e9);
  const auto report = certwatch::alerting::make_check_report(*snapshot);
  REQUIRE(report.sources.size() == 1);
  CHECK(report.sources[0].error_reason == "auth_failed");
  CHECK(report.sources[0].error_message == "password authentication failed");
}

TEST_CASE("check with a config that cannot be loaded exits 3", "[alerting][check]") {
  TempDir dir;
  const auto config = dir.write("config.yaml", "no_such_key: 1\n");
  const auto result = run_command({CERTWATCH_BINARY, "check", "--config.file", config.string()});
  CHECK(result.exit_code == 3);
  CHECK(result.err.find("no_such_key") != std::string::npos);
}

TEST_CASE("check lists failing posture checks and counts them in its exit code",
          "[alerting][check][checks]") {
  CheckFixture fixture({}, true);
  // A healthy expiry, but no node.key beside node.crt, no ca.crt to verify it with, and no SAN
  // for localhost or 127.0.0.1.
  fixture.add("node.crt", cert_pem_with_time_left("node", 400 * kDay));
  const auto table = fixture.check();
  CHECK(table.exit_code == 2);
  CHECK(table.out.rfind("CRITICAL: 1 certificates (0 critical, 0 warning, 0 info, 1 ok), 4 failing "
                        "checks",
                        0) == 0);
  CHECK(table.out.find("key_missing") != std::string::npos);
  const auto json = nlohmann::json::parse(fixture.check("json").out);
  std::vector<std::string> checks;
  for (const auto& failure : json.at("checks")) checks.push_back(failure.at("check"));
  std::sort(checks.begin(), checks.end());
  CHECK(checks ==
        std::vector<std::string>{"chain_untrusted", "key_missing", "san_missing", "san_missing"});
  CHECK(json.at("exit_code") == 2);
}

TEST_CASE("check gives a why and a fix for every non-ok certificate, check and finding",
          "[alerting][check][oncall]") {
  CheckFixture fixture({}, true);
  // Expired, rotate-now and fine node-type files; a client for user app; no keys, no CA: the
  // posture checks fail too; and a file that is not a certificate.
  fixture.add("node.crt", cert_pem_with_time_left("node", -kDay));
  fixture.add("client.app.crt", cert_pem_with_time_left("app", 10 * kDay));
  fixture.add("ui.crt", cert_pem_with_time_left("ui", 400 * kDay));
  fixture.add("client.broken.crt", "not a certificate\n");
  const auto result = fixture.check("json");
  INFO(result.out << result.err);
  const auto json = nlohmann::json::parse(result.out);
  std::size_t non_ok = 0;
  for (const auto& cert : json.at("certificates")) {
    INFO(cert.dump());
    if (cert.at("action") == "ok") {
      CHECK_FALSE(cert.contains("fix"));
      continue;
    }
    ++non_ok;
    CHECK_FALSE(cert.at("why").get<std::string>().empty());
    CHECK_FALSE(cert.at("fix").get<std::string>().empty());
    if (cert.at("user") == "app") {
      CHECK(cert.at("fix").get<std::string>().find("cockroach cert create-client --certs-dir=" +
                                                   (fixture.dir.path() / "certs").string() +
                                                   " --ca-key=/path/to/ca.key --overwrite app") !=
            std::string::npos);
    }
    if (cert.at("cert_type") == "node") {
      CHECK(cert.at("action") == "expired");
      CHECK(cert.at("fix").get<std::string>().find("cockroach cert create-node") !=
            std::string::npos);
      CHECK(cert.at("fix").get<std::string>().find("pkill -SIGHUP -x cockroach") !=
            std::string::npos);
      CHECK(cert.at("runbook") == "CrdbCertExpired");
    }
  }
  CHECK(non_ok == 2);
  REQUIRE_FALSE(json.at("checks").empty());
  for (const auto& failure : json.at("checks")) {
    INFO(failure.dump());
    CHECK_FALSE(failure.at("why").get<std::string>().empty());
    CHECK_FALSE(failure.at("fix").get<std::string>().empty());
  }
  for (const auto& finding : json.at("findings")) {
    INFO(finding.dump());
    CHECK_FALSE(finding.at("why").get<std::string>().empty());
    CHECK_FALSE(finding.at("fix").get<std::string>().empty());
  }
  REQUIRE(json.at("file_errors").size() == 1);
  CHECK_FALSE(json.at("file_errors")[0].at("fix").get<std::string>().empty());
  // The table says the same, most urgent first: the expired certificate leads "what to do".
  const auto table = fixture.check();
  const auto what = table.out.find("WHAT TO DO");
  REQUIRE(what != std::string::npos);
  CHECK(table.out.find("critical  expired  node ", what) == table.out.find('\n', what) + 1);
  CHECK(table.out.find("  fix: cockroach cert create-node", what) != std::string::npos);
}

TEST_CASE(
    "rules: runbook_base_url must be an absolute http(s) URL and without it unlinkable "
    "alerts are named on stderr",
    "[alerting][oncall]") {
  for (const char* bad : {"runbooks.example.com/x", "/usr/share/doc/runbooks",
                          "file:///usr/share/doc/crdb-certwatch/runbooks", "https://", "http:///x",
                          "https://exa mple.com"}) {
    INFO(bad);
    const auto loaded = certwatch::config::parse_config(
        std::string("alerting:\n  runbook_base_url: '") + bad + "'\n", "cfg.yaml");
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].line == 2);
    CHECK(loaded.errors[0].key == "alerting.runbook_base_url");
    CHECK(loaded.errors[0].message.find("absolute http:// or https:// URL") != std::string::npos);
  }
  CHECK(certwatch::config::parse_config("alerting:\n  runbook_base_url: https://wiki.example/rb\n",
                                        "cfg.yaml")
            .errors.empty());
  TempDir dir;
  const auto empty = dir.write("empty.yaml", "{}\n");
  const auto plain = run_command({CERTWATCH_BINARY, "rules", "--config.file=" + empty.string()});
  CHECK(plain.exit_code == 0);
  CHECK(plain.err.find("get no runbook_url") != std::string::npos);
  CHECK(plain.err.find("CrdbCertClusterNodeStale") != std::string::npos);
  CHECK(plain.out.find("http://{{ $labels.instance }}/runbooks/CrdbCertFileUnreadable") !=
        std::string::npos);
  const auto based =
      dir.write("based.yaml", "alerting:\n  runbook_base_url: https://wiki.example/rb\n");
  const auto linked = run_command({CERTWATCH_BINARY, "rules", "--config.file=" + based.string()});
  CHECK(linked.exit_code == 0);
  CHECK(linked.err.find("runbook_url") == std::string::npos);
  CHECK(linked.out.find("https://wiki.example/rb/CrdbCertClusterNodeStale.md") !=
        std::string::npos);
}
