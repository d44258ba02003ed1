// The source seam, tried as a new engineer would: a source written in this file alone
// (BeaconSource, a few dozen lines) and plugged in by one registration line shows up in /metrics,
// the status page and `check`, with no edit to the scheduler, the snapshot or the renderers.

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "alerting/check_report.hpp"
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

// ---- the whole new source: its facts, how they show, and the poll ----
class BeaconFacts final : public sources::SourceFacts {
 public:
  std::vector<Family> families() const override {
    return {Family{"crdb_cert_beacon_signal",
                   "1 per tower the beacon heard.",
                   Family::Type::gauge,
                   true,
                   {Series{{{"tower", "north"}}, 1}}}};
  }
  std::vector<Table> tables() const override {
    return {Table{"Beacons",
                  {"Tower", "Heard"},
                  {{Cell{"north", {}, false, ""}, Cell{"", 1.7e9, false, ""}}}}};
  }
  std::vector<Finding> findings(double) const override {
    return {Finding{Condition::node_stale, "7", "Tower 7 went quiet."}};
  }
};

class BeaconSource final : public sources::Source {
 public:
  BeaconSource() : Source("beacon") {}
  std::chrono::seconds interval() const override { return std::chrono::hours{1}; }
  bool same_config(const Source& next) const override {
    return dynamic_cast<const BeaconSource*>(&next) != nullptr;
  }
  sources::PollResult poll() override {
    sources::PollResult result;
    CertObservation cert;
    cert.id.source = "beacon";
    cert.id.cert_type = CertType::node;
    cert.id.node_id = "7";
    cert.not_after = testing::unix_now() + 10 * kDay;
    result.certificates.push_back(cert);
    result.facts = std::make_shared<BeaconFacts>();
    return result;
  }
};

// ---- the registration line ----
sources::SourceList with_beacon(const config::Config& config) {
  sources::SourceList list = sources::make_sources(config);
  list.push_back(std::make_shared<BeaconSource>());
  return list;
}

config::Config empty_certs_config(const TempDir& dir) {
  config::Config config;
  config.files.certs_dirs = {dir.path().string()};
  return config;
}

}  // namespace

TEST_CASE("a source plugged in through the seam alone shows up in check", "[seam]") {
  TempDir dir;
  const config::Config config = empty_certs_config(dir);
  const auto snapshot = state::poll_once(with_beacon(config), config.rules, config.checks,
                                         {"t", "t", "t"}, certwatch::unix_now);
  const alerting::CheckReport report = alerting::make_check_report(*snapshot);
  CHECK(report.status == alerting::CheckStatus::critical);  // 10 days left on a node: rotate_now
  REQUIRE(report.certificates.size() == 1);
  CHECK(report.certificates[0].id.source == "beacon");
  CHECK(report.certificates[0].action == "rotate_now");
  REQUIRE(report.findings.size() == 1);
  CHECK(report.findings[0].message == "Tower 7 went quiet.");
  REQUIRE(report.sources.size() == 2);
  CHECK(report.sources[1].source == "beacon");
  CHECK(report.sources[1].up);
  const std::string table = alerting::render_check_table(report);
  CHECK(table.find("beacon source up") != std::string::npos);
  CHECK(table.find("BEACONS") != std::string::npos);
  CHECK(table.find("2023-11-14T22:13:20Z") != std::string::npos);  // the time cell, as a date
  CHECK(alerting::render_check_json(report).find("Tower 7 went quiet.") != std::string::npos);
}

TEST_CASE("a source plugged in through the seam alone shows up in /metrics and the page",
          "[seam]") {
  TempDir dir;
  runtime::DaemonOptions options;
  const int port = testing::find_free_port();
  options.http.listen_address = "127.0.0.1:" + std::to_string(port);
  options.build = {"t", "t", "t"};
  options.make_sources = with_beacon;
  runtime::Daemon daemon(std::move(options), empty_certs_config(dir));
  std::thread running([&daemon] { daemon.run(); });

  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         metrics.find("crdb_cert_beacon_signal") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (const auto res = testing::http_get(port, "/metrics")) metrics = res->body;
  }
  const auto page = testing::http_get(port, "/");
  daemon.request_stop();
  running.join();

  CHECK(has_line(metrics, R"(crdb_cert_beacon_signal{tower="north"} 1)"));
  CHECK(has_line(metrics, R"(crdb_cert_source_up{source="beacon"} 1)"));
  CHECK(has_line(metrics,
                 R"(crdb_cert_expiry_state{source="beacon",cert_type="node",node_id="7",path="",)"
                 R"(index="",user="",action="rotate_now",severity="critical"} 1)"));
  REQUIRE(page);
  CHECK(page->body.find("<h2>Beacons</h2>") != std::string::npos);
  CHECK(page->body.find("Tower 7 went quiet.") != std::string::npos);
  CHECK(page->body.find("<td data-label=\"Source\">beacon</td>") != std::string::npos);
}
