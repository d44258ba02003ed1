// The source registry (issue 26): every condition has exactly one row and one owner, the joined
// table is what check, the page and the rules read, and a source's own down condition replaces
// source_down.

#include "sources/registry.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "alerting/check_report.hpp"
#include "alerting/rule_file.hpp"
#include "core/clock.hpp"
#include "rules/conditions.hpp"
#include "state/collect.hpp"
#include "state/remedy.hpp"
#include "support/http_client.hpp"
#include "support/tempdir.hpp"

namespace {

using namespace certwatch;
using certwatch::testing::TempDir;

// Every condition the product names (core/report.hpp).
const Condition kNamed[] = {Condition::file_error,
                            Condition::source_down,
                            Condition::reload_pending,
                            Condition::config_reload_failed,
                            Condition::node_stale,
                            Condition::cluster_insecure,
                            Condition::probe_failed,
                            Condition::served_mismatch,
                            Condition::cmek_key_revoked,
                            Condition::cmek_failed,
                            Condition::cmek_transition_stuck,
                            Condition::cmek_api_unreachable,
                            Condition::client_child_metrics_off,
                            Condition::cloud_client_ca_not_set,
                            Condition::cloud_client_ca_failed,
                            Condition::cloud_client_ca_pending};

}  // namespace

TEST_CASE("every condition has exactly one row and one owner in the registry", "[registry]") {
  const sources::Registry& registry = sources::Registry::builtin();
  const auto joined = registry.conditions();
  for (const Condition condition : kNamed) {
    INFO(condition.name());
    CHECK(std::count(joined.begin(), joined.end(), condition) == 1);
  }
  CHECK(joined.size() == std::size(kNamed));
  std::set<std::string_view> names;
  std::set<std::string_view> alerts;
  for (const Condition condition : joined) {
    const ConditionRow& row = condition.row();
    INFO(row.name);
    CHECK(names.insert(row.name).second);
    CHECK(alerts.insert(row.alert).second);
    CHECK(row.severity != Severity::none);
    CHECK(!row.why.empty());
    CHECK(!row.fix.empty());
    CHECK(row.alert.starts_with("Crdb"));
  }
  // A down condition is its entry's own.
  for (const sources::SourceEntry& entry : registry.entries()) {
    if (!entry.down_condition) continue;
    INFO(entry.source);
    CHECK(std::count(entry.conditions.begin(), entry.conditions.end(), *entry.down_condition) == 1);
  }
}

TEST_CASE("check the page and the rules read one row per condition", "[registry]") {
  const Condition condition = Condition::cmek_transition_stuck;
  CHECK(alerting::to_string(condition) == "cmek_transition_stuck");
  CHECK(rules::severity_of(condition) == Severity::warning);
  CHECK(rules::alert_of(condition) == "CrdbCmekTransitionStuck");
  const state::Remedy remedy = state::condition_remedy(condition);
  CHECK(remedy.alert == "CrdbCmekTransitionStuck");
  CHECK(remedy.why == condition.row().why);
  const auto by_alert = state::remedy_for_alert("CrdbCmekTransitionStuck");
  REQUIRE(by_alert);
  CHECK(by_alert->fix == condition.row().fix);
  CHECK_FALSE(state::remedy_for_alert("CrdbNoSuchAlert"));
}

TEST_CASE("a CMEK source that cannot reach its API raises cmek_api_unreachable", "[registry]") {
  TempDir dir;
  config::Config config;
  config.files.certs_dirs = {dir.path().string()};
  config.deployment.tier = Tier::advanced;
  config::CmekConfig cmek;
  cmek.api_url = "https://127.0.0.1:" + std::to_string(testing::find_free_port());
  cmek.host = "127.0.0.1";
  cmek.port = cmek.api_url.substr(cmek.api_url.rfind(':') + 1);
  cmek.cluster_id = "c1";
  cmek.api_key = "key";
  cmek.timeout = std::chrono::seconds{2};
  config.cmek = cmek;
  const auto snapshot =
      state::poll_once(sources::make_sources(config), config.rules, config.checks, {"t", "t", "t"},
                       certwatch::unix_now, config.deployment.tier);
  const auto is = [](Condition c) { return [c](const Finding& f) { return f.condition == c; }; };
  REQUIRE(std::count_if(snapshot->findings.begin(), snapshot->findings.end(),
                        is(Condition::cmek_api_unreachable)) == 1);
  // The cmek source is not also source_down (the cloud source, which reads the same API with the
  // same settings, is down on its own account).
  CHECK(std::none_of(snapshot->findings.begin(), snapshot->findings.end(), [](const Finding& f) {
    return f.condition == Condition::source_down && f.subject == "cmek";
  }));
  const auto finding = std::find_if(snapshot->findings.begin(), snapshot->findings.end(),
                                    is(Condition::cmek_api_unreachable));
  CHECK(finding->subject == "cmek");
  CHECK(finding->message.starts_with("connect_failed: "));

  // check: UNKNOWN, the source in SOURCE and not twice as a finding; the problem has its fix.
  const alerting::CheckReport report = alerting::make_check_report(*snapshot);
  CHECK(report.status == alerting::CheckStatus::unknown);
  CHECK(report.findings.empty());
  const auto problem =
      std::find_if(report.problems.begin(), report.problems.end(),
                   [](const state::Problem& p) { return p.kind == "cmek_api_unreachable"; });
  REQUIRE(problem != report.problems.end());
  CHECK(problem->remedy.alert == "CrdbCmekApiUnreachable");
  CHECK(problem->remedy.fix.find("CLUSTER_ADMIN") != std::string::npos);

  // The rules page it once: CrdbCmekApiUnreachable, and CrdbCertSourceDown leaves cmek out.
  const std::string rules = alerting::generate_rule_file(config);
  CHECK(rules.find("alert: CrdbCmekApiUnreachable") != std::string::npos);
  CHECK(rules.find("crdb_cert_source_up{source!=\"cmek\"} == 0") != std::string::npos);
}
