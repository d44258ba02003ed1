// The source seam, tried as a new engineer would: a source written in this file alone
// (BeaconSource: its config section, its facts, its own condition and alert) and plugged in by one
// registry line shows up through the real config loader, `check`, the status page, the rules
// generator and /metrics, with no edit to the config parser, the scheduler, the snapshot or the
// renderers.

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "alerting/check_report.hpp"
#include "alerting/rule_file.hpp"
#include "config/section.hpp"
#include "core/clock.hpp"
#include "runtime/daemon.hpp"
#include "sources/registry.hpp"
#include "state/collect.hpp"
#include "support/certgen.hpp"
#include "support/exposition.hpp"
#include "support/http_client.hpp"
#include "support/tempdir.hpp"

namespace {

using namespace certwatch;
using certwatch::testing::has_line;
using certwatch::testing::kDay;
using certwatch::testing::TempDir;

// ---- the whole new source: its settings, its condition, its facts, the poll ----
struct BeaconConfig {
  std::vector<std::string> towers;  // the towers it listens to
  std::vector<std::string> quiet;   // those that went quiet (a real source would observe this)
  friend bool operator==(const BeaconConfig&, const BeaconConfig&) = default;
};

// beacon: {towers: [...], quiet: [...]}, parsed with the shared helpers like any built-in section.
class BeaconSectionParser : public config::SectionParser {
 public:
  explicit BeaconSectionParser(const SectionParser& parser) : SectionParser(parser.state()) {}
  void parse(const config::Value& value, config::Config& config) {
    const auto fields = map_of(value, {"towers", "quiet"});
    if (!fields) return;
    BeaconConfig beacon;
    const auto names = [&](std::string_view key, std::vector<std::string>& out) {
      if (const config::Value* v = find(*fields, key)) {
        for (const config::Value& item : list_of(*v).value_or(std::vector<config::Value>{})) {
          if (const auto name = non_empty_string(item)) out.push_back(*name);
        }
      }
    };
    if (require(*fields, value, "towers") == nullptr) return;
    names("towers", beacon.towers);
    names("quiet", beacon.quiet);
    config.other_sections["beacon"] = config::OtherSection::of(std::move(beacon));
  }
};
void parse_beacon(const config::SectionParser& parser, const config::Value& value,
                  config::Config& config) {
  BeaconSectionParser(parser).parse(value, config);
}

constexpr ConditionRow kTowerQuietRow{"beacon_tower_quiet", Severity::warning,
                                      "CrdbBeaconTowerQuiet",
                                      "A quiet tower sends no signal: what it relays is not heard.",
                                      "Climb the tower and reset its transmitter."};
const Condition kTowerQuiet{kTowerQuietRow};

class BeaconFacts final : public sources::SourceFacts {
 public:
  explicit BeaconFacts(BeaconConfig config) : config_(std::move(config)) {}
  bool quiet(const std::string& tower) const {
    return std::find(config_.quiet.begin(), config_.quiet.end(), tower) != config_.quiet.end();
  }
  std::vector<Family> families() const override {
    Family family{
        "crdb_cert_beacon_quiet", "1 per tower that went quiet.", Family::Type::gauge, true, {}};
    for (const std::string& tower : config_.towers) {
      family.series.push_back(Series{{{"tower", tower}}, quiet(tower) ? 1.0 : 0.0});
    }
    return {family};
  }
  std::vector<Table> tables() const override {
    return {Table{"Beacons",
                  {"Tower", "Heard"},
                  {{Cell{"north", {}, false, ""}, Cell{"", 1.7e9, false, ""}}}}};
  }
  std::vector<Finding> findings(double) const override {
    std::vector<Finding> out;
    for (const std::string& tower : config_.towers) {
      if (quiet(tower)) out.push_back({kTowerQuiet, tower, "Tower " + tower + " went quiet."});
    }
    return out;
  }

 private:
  BeaconConfig config_;
};

class BeaconSource final : public sources::Source {
 public:
  explicit BeaconSource(BeaconConfig config) : Source("beacon"), config_(std::move(config)) {}
  std::chrono::seconds interval() const override { return std::chrono::hours{1}; }
  bool same_config(const Source& next) const override {
    const auto* other = dynamic_cast<const BeaconSource*>(&next);
    return other != nullptr && other->config_ == config_;
  }
  sources::PollResult poll() override {
    sources::PollResult result;
    CertObservation cert;
    cert.id.source = "beacon";
    cert.id.cert_type = CertType::node;
    cert.id.node_id = "7";
    cert.not_after = testing::unix_now() + 10 * kDay;
    result.certificates.push_back(cert);
    result.facts = std::make_shared<BeaconFacts>(config_);
    return result;
  }

 private:
  BeaconConfig config_;
};

void add_beacon(const config::Config& config, sources::SourceList& out) {
  const auto section = config.other_sections.find("beacon");
  if (section == config.other_sections.end()) return;
  if (const auto* beacon = section->second.as<BeaconConfig>()) {
    out.push_back(std::make_shared<BeaconSource>(*beacon));
  }
}

std::vector<sources::SourceAlert> beacon_alerts(const config::Config&) {
  return {{kTowerQuiet, "max without (instance) (crdb_cert_beacon_quiet) == 1\n",
           std::chrono::minutes{5}, "Beacon tower {{ $labels.tower }} went quiet",
           "Tower {{ $labels.tower }} sends no signal."}};
}

// ---- the registry line ----
const sources::Registry& registry() {
  static const sources::Registry with_beacon =
      sources::Registry::builtin().with({"beacon",
                                         {"beacon", &parse_beacon, {Tier::self_hosted}},
                                         &add_beacon,
                                         {kTowerQuiet},
                                         std::nullopt,
                                         "the beacons were not heard (no beacon: section)",
                                         &beacon_alerts});
  return with_beacon;
}

std::string beacon_yaml(const TempDir& dir) {
  return "files:\n  certs_dirs: [" + dir.path().string() +
         "]\nbeacon:\n  towers: [north, south]\n  quiet: [south]\n";
}

config::Config load(const TempDir& dir) {
  const config::LoadResult loaded =
      config::parse_config(beacon_yaml(dir), "cfg.yaml", registry().sections());
  for (const auto& error : loaded.errors) INFO(error.to_string());
  REQUIRE(loaded.errors.empty());
  REQUIRE(loaded.config);
  return *loaded.config;
}

}  // namespace

TEST_CASE("a source's config section is parsed by its own parser through the real loader",
          "[seam]") {
  TempDir dir;
  const config::Config config = load(dir);
  const auto* beacon = config.other_sections.at("beacon").as<BeaconConfig>();
  REQUIRE(beacon != nullptr);
  CHECK(beacon->towers == std::vector<std::string>{"north", "south"});
  CHECK(beacon->quiet == std::vector<std::string>{"south"});
  CHECK(config.files.certs_dirs == std::vector<std::string>{dir.path().string()});

  // Its errors are worded by the shared helpers, with file, line and key.
  const auto bad =
      config::parse_config("beacon:\n  towrs: [north]\n", "cfg.yaml", registry().sections());
  REQUIRE(bad.errors.size() == 2);
  CHECK(bad.errors[0].to_string() == "cfg.yaml:1: beacon.towers: required key is missing");
  CHECK(bad.errors[1].to_string() ==
        "cfg.yaml:2: beacon.towrs: unknown key (did you mean towers?)");
  // Without the registry line, the section is unknown.
  const auto builtin = config::parse_config(beacon_yaml(dir), "cfg.yaml");
  REQUIRE(builtin.errors.size() == 1);
  CHECK(builtin.errors[0].to_string() == "cfg.yaml:3: beacon: unknown key");
  // Its tiers come from its entry: on another tier the section is a misfit only if it says so.
  CHECK(registry().useful_sections(Tier::self_hosted).back() == "beacon");
  CHECK(registry().useful_sections(Tier::basic).back() == "probe");
}

TEST_CASE("a source plugged in through the seam alone shows up in check", "[seam]") {
  TempDir dir;
  const config::Config config = load(dir);
  const auto snapshot = state::poll_once(registry().make_sources(config), config.rules,
                                         config.checks, {"t", "t", "t"}, certwatch::unix_now);
  const alerting::CheckReport report = alerting::make_check_report(*snapshot);
  CHECK(report.status == alerting::CheckStatus::critical);  // 10 days left on a node: rotate_now
  REQUIRE(report.certificates.size() == 1);
  CHECK(report.certificates[0].id.source == "beacon");
  CHECK(report.certificates[0].action == "rotate_now");
  REQUIRE(report.findings.size() == 1);
  CHECK(report.findings[0].condition == kTowerQuiet);
  CHECK(report.findings[0].severity == Severity::warning);
  CHECK(report.findings[0].message == "Tower south went quiet.");
  CHECK(report.findings[0].remedy.alert == "CrdbBeaconTowerQuiet");
  CHECK(report.findings[0].remedy.fix == "Climb the tower and reset its transmitter.");
  REQUIRE(report.sources.size() == 2);
  CHECK(report.sources[1].source == "beacon");
  CHECK(report.sources[1].up);
  const std::string table = alerting::render_check_table(report);
  CHECK(table.find("beacon source up") != std::string::npos);
  CHECK(table.find("BEACONS") != std::string::npos);
  CHECK(table.find("2023-11-14T22:13:20Z") != std::string::npos);  // the time cell, as a date
  CHECK(table.find("beacon_tower_quiet") != std::string::npos);
  CHECK(table.find("runbook: CrdbBeaconTowerQuiet") != std::string::npos);
  const std::string json = alerting::render_check_json(report);
  CHECK(json.find("\"condition\": \"beacon_tower_quiet\"") != std::string::npos);
  CHECK(json.find("Tower south went quiet.") != std::string::npos);
}

TEST_CASE("a source's own alert is in the generated rules", "[seam]") {
  TempDir dir;
  const config::Config config = load(dir);
  const auto groups = alerting::build_rule_groups(config, "http", registry());
  const auto group = std::find_if(groups.begin(), groups.end(), [](const alerting::RuleGroup& g) {
    return g.name == "crdb-certwatch.beacon";
  });
  REQUIRE(group != groups.end());
  REQUIRE(group->rules.size() == 1);
  const alerting::AlertRule& rule = group->rules[0];
  CHECK(rule.name == "CrdbBeaconTowerQuiet");
  CHECK(rule.expr == "max without (instance) (crdb_cert_beacon_quiet) == 1\n");
  CHECK(rule.for_duration == std::chrono::minutes{5});
  CHECK(rule.labels == std::vector<std::pair<std::string, std::string>>{{"severity", "warning"}});
  const std::string file = alerting::render_rule_file(groups);
  CHECK(file.find("alert: CrdbBeaconTowerQuiet") != std::string::npos);
  CHECK(file.find("fix: \"Climb the tower and reset its transmitter.\"") != std::string::npos);
  // The built-in rules do not change: the group is the registry line's.
  CHECK(alerting::generate_rule_file(config).find("Beacon") == std::string::npos);
}

TEST_CASE("a source plugged in through the seam alone shows up in /metrics and the page",
          "[seam]") {
  TempDir dir;
  runtime::DaemonOptions options;
  const int port = testing::find_free_port();
  options.http.listen_address = "127.0.0.1:" + std::to_string(port);
  options.build = {"t", "t", "t"};
  options.make_sources = [](const config::Config& config) {
    return registry().make_sources(config);
  };
  runtime::Daemon daemon(std::move(options), load(dir));
  std::thread running([&daemon] { daemon.run(); });

  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         metrics.find("crdb_cert_beacon_quiet") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (const auto res = testing::http_get(port, "/metrics")) metrics = res->body;
  }
  const auto page = testing::http_get(port, "/");
  daemon.request_stop();
  running.join();

  CHECK(has_line(metrics, R"(crdb_cert_beacon_quiet{tower="south"} 1)"));
  CHECK(has_line(metrics, R"(crdb_cert_beacon_quiet{tower="north"} 0)"));
  CHECK(has_line(metrics, R"(crdb_cert_source_up{source="beacon"} 1)"));
  CHECK(has_line(metrics,
                 R"(crdb_cert_expiry_state{source="beacon",cert_type="node",node_id="7",path="",)"
                 R"(index="",user="",action="rotate_now",severity="critical"} 1)"));
  REQUIRE(page);
  CHECK(page->body.find("<h2>Beacons</h2>") != std::string::npos);
  CHECK(page->body.find("beacon_tower_quiet") != std::string::npos);
  CHECK(page->body.find("Tower south went quiet.") != std::string::npos);
  CHECK(page->body.find("Climb the tower and reset its transmitter.") != std::string::npos);
  CHECK(page->body.find("/runbooks/CrdbBeaconTowerQuiet") != std::string::npos);
  CHECK(page->body.find("<td data-label=\"Source\">beacon</td>") != std::string::npos);
}
