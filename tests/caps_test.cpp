// The output caps (issue 28 item 4): one set of caps for every source, applied where a poll's
// result enters the daemon, counted in crdb_cert_source_items_cut and logged once per poll. The
// pure parts on synthetic results; the amplification the issue measured (1 MB of JSON with
// 41,500 keys and a 2 KiB region name gave an 89 MB /metrics) through the real binary against
// the Cloud API stand-in.

#include "core/caps.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/metric_names.hpp"
#include "sources/source.hpp"
#include "state/caps.hpp"
#include "state/collect.hpp"
#include "state/snapshot.hpp"
#include "support/exposition.hpp"
#include "support/fake_cloud_api.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

using namespace std::chrono_literals;
namespace caps = certwatch::caps;
using certwatch::CertObservation;
using certwatch::Family;
using certwatch::sources::PollResult;
using certwatch::testing::FakeCloudApi;
using certwatch::testing::TempDir;

// Facts that make as much as they are told to: `series` series with a label of `label_bytes`,
// `rows` table rows, `findings` findings and `notices` notices.
class Flood final : public certwatch::sources::SourceFacts {
 public:
  Flood(std::size_t series, std::size_t label_bytes, std::size_t rows, std::size_t findings,
        std::size_t notices)
      : series_(series),
        label_bytes_(label_bytes),
        rows_(rows),
        findings_(findings),
        notices_(notices) {}
  std::vector<Family> families() const override {
    Family family{"test_flood", "test", Family::Type::gauge, true, {}};
    for (std::size_t i = 0; i < series_; ++i) {
      family.series.push_back(
          {{{"key", std::to_string(i)}, {"region", std::string(label_bytes_, 'r')}}, 1});
    }
    return {family};
  }
  std::vector<certwatch::Table> tables() const override {
    certwatch::Table table{"Flood", {"A", "B"}, {}};
    for (std::size_t i = 0; i < rows_; ++i) {
      table.rows.push_back({{std::string(label_bytes_, 'x')}, {std::to_string(i)}});
    }
    return {table};
  }
  std::vector<certwatch::Finding> findings(double) const override {
    return std::vector<certwatch::Finding>(
        findings_, {certwatch::Condition::cmek_failed, "k", std::string(label_bytes_ * 5, 'm')});
  }
  std::vector<certwatch::sources::Notice> notices() const override {
    std::vector<certwatch::sources::Notice> out;
    for (std::size_t i = 0; i < notices_; ++i) out.push_back({std::to_string(i), true, "n"});
    return out;
  }
  std::size_t series_, label_bytes_, rows_, findings_, notices_;
};

CertObservation probe_cert(const std::string& target, std::size_t index) {
  CertObservation cert;
  cert.id.source = "probe";
  cert.id.path = target;
  cert.id.index = std::to_string(index);
  cert.not_after = 2'000'000'000;
  return cert;
}

}  // namespace

TEST_CASE("a label value past its cap keeps a readable prefix and stays unique") {
  std::string short_value(caps::kMaxLabelValueBytes, 'a');
  CHECK_FALSE(caps::bound_label_value(short_value));
  CHECK(short_value == std::string(caps::kMaxLabelValueBytes, 'a'));

  const std::string prefix(caps::kMaxLabelValueBytes, 'p');
  std::string one = prefix + "one";
  std::string two = prefix + "two";
  std::string again = prefix + "one";
  CHECK(caps::bound_label_value(one));
  caps::bound_label_value(two);
  caps::bound_label_value(again);
  CHECK(one.size() == caps::kMaxLabelValueBytes);
  CHECK(one != two);    // two long values stay two series
  CHECK(one == again);  // and the same value is the same series, poll after poll
  CHECK(one.starts_with("pppp"));
  CHECK(one.find("...#") == caps::kMaxLabelValueBytes - 20);

  // Never cut inside a UTF-8 sequence: 3-byte characters on either side of the cut.
  for (std::size_t shift = 0; shift < 3; ++shift) {
    std::string text = std::string(shift, 'a');
    while (text.size() < 1000) text += "\xE2\x82\xAC";  // U+20AC
    caps::bound_label_value(text);
    const std::string kept = text.substr(0, text.find("...#"));
    CHECK((kept.size() - shift) % 3 == 0);
  }
  std::string text(2000, 'x');
  CHECK(caps::bound_text(text));
  CHECK(text.size() == caps::kMaxTextBytes);
  CHECK(text.ends_with("..."));
}

TEST_CASE("caps cut a flooding source's series, rows, findings and notices and count them") {
  PollResult result;
  result.source = "cmek";
  const std::size_t series = 41'500;
  result.facts = std::make_shared<Flood>(series, 2048, 5'000, 3'000, 700);
  certwatch::state::apply_caps(result, 0);

  // facts_as finds the source's own type through the bounded view.
  CHECK(certwatch::sources::facts_as<Flood>(result) != nullptr);
  const auto families = result.facts->families();
  REQUIRE(families.size() == 1);
  const auto& kept = families[0].series;
  CHECK(kept.size() <= caps::kMaxSeriesPerSource);
  std::size_t bytes = 0;
  for (const auto& s : kept) {
    for (const auto& [name, value] : s.labels) {
      CHECK(value.size() <= caps::kMaxLabelValueBytes);
      bytes += name.size() + value.size();
    }
  }
  CHECK(bytes <= caps::kMaxSeriesBytesPerSource);
  CHECK(result.cut.at("series") == series - kept.size());
  CHECK(result.cut.at("label_values") == series);

  const auto tables = result.facts->tables();
  REQUIRE(tables.size() == 1);
  CHECK(tables[0].rows.size() == caps::kMaxTableRowsPerSource + 1);  // + the "N more" row
  CHECK(tables[0].rows.back()[0].text.starts_with("4000 more rows not shown"));
  CHECK(tables[0].rows[0][0].text.size() <= caps::kMaxTextBytes);
  CHECK(result.cut.at("table_rows") == 4'000);

  const auto findings = result.facts->findings(0);
  CHECK(findings.size() == caps::kMaxFindingsPerSource);
  CHECK(findings[0].message.size() <= caps::kMaxTextBytes);
  CHECK(result.cut.at("findings") == 2'000);
  CHECK(result.facts->notices().size() == caps::kMaxNoticesPerSource);
  CHECK(result.cut.at("notices") == 600);
  CHECK(certwatch::state::describe_cut(result.cut).find("series=") != std::string::npos);

  // Each poll a cap cut counts once per kind in crdb_cert_source_truncated_total{source, limit}.
  certwatch::state::SourceHealth health;
  certwatch::state::SharedPollResult last_good;
  for (int poll = 0; poll < 2; ++poll) {
    certwatch::state::record_poll(PollResult(result), 0, 1, health, last_good);
  }
  CHECK(health.truncated_total.at("table_rows") == 2);
  CHECK(health.truncated_total.at("series") == 2);
  CHECK(health.truncated_total.count("certificates") == 0);

  // The snapshot says so in crdb_cert_source_items_cut{source, kind}.
  certwatch::state::SnapshotInputs inputs;
  inputs.results.push_back(std::make_shared<const PollResult>(std::move(result)));
  const auto snapshot = certwatch::state::make_snapshot(inputs, 0);
  const auto cut =
      std::find_if(snapshot->families.begin(), snapshot->families.end(),
                   [](const Family& f) { return f.name == "crdb_cert_source_items_cut"; });
  REQUIRE(cut != snapshot->families.end());
  const certwatch::LabelPairs labels{{"source", "cmek"}, {"kind", "table_rows"}};
  CHECK(std::any_of(cut->series.begin(), cut->series.end(),
                    [&](const auto& s) { return s.labels == labels && s.value == 4'000; }));
}

TEST_CASE("a source within its caps is left as it is") {
  PollResult result;
  result.source = "probe";
  result.facts = std::make_shared<Flood>(100, 64, 10, 3, 2);
  for (std::size_t i = 0; i < 4; ++i) result.certificates.push_back(probe_cert("a:1", i));
  const auto families = result.facts->families();
  certwatch::state::apply_caps(result, 0);
  CHECK(result.cut.empty());
  CHECK(result.facts->families() == families);
  CHECK(result.certificates.size() == 4);
}

TEST_CASE("a probe target contributes at most its cap of certificates") {
  PollResult result;
  result.source = "probe";
  for (std::size_t i = 0; i < 550; ++i) result.certificates.push_back(probe_cert("big:443", i));
  for (std::size_t i = 0; i < 3; ++i) result.certificates.push_back(probe_cert("small:443", i));
  // Files are bundles (a CA bundle may hold hundreds): the per-target cap is the probe's.
  for (std::size_t i = 0; i < 100; ++i) {
    CertObservation cert = probe_cert("/etc/ca.crt", i);
    cert.id.source = "file";
    result.certificates.push_back(cert);
  }
  certwatch::state::apply_caps(result, 0);
  const auto count = [&](const std::string& path) {
    return std::count_if(result.certificates.begin(), result.certificates.end(),
                         [&](const CertObservation& c) { return c.id.path == path; });
  };
  CHECK(count("big:443") == static_cast<long>(caps::kMaxCertificatesPerTarget));
  CHECK(count("small:443") == 3);
  CHECK(count("/etc/ca.crt") == 100);
  CHECK(result.cut.at("certificates_per_target") == 550 - caps::kMaxCertificatesPerTarget);
  // The leaf (index 0) is among those kept.
  CHECK(result.certificates.front().id.index == "0");
}

// The issue's measurement: 1 MB of JSON, 41,500 keys, a 2 KiB region name.
TEST_CASE("a CMEK response of 41500 keys and a 2 KiB region stays small through the daemon") {
  const TempDir dir;
  FakeCloudApi api(dir);
  std::string body = R"({"status":"ENABLED","region_infos":[{"region":")" + std::string(2048, 'R') +
                     R"(","status":"ENABLED","key_infos":[)";
  for (int i = 0; i < 41'500; ++i) {
    if (i > 0) body += ',';
    body += R"({"spec":{"uri":")" + std::to_string(i) + R"("}})";
  }
  body += "]}]}";
  REQUIRE(body.size() < 1024 * 1024);  // under the response limit: the caps must hold it
  api.set({200, body, {}, false});
  const auto key_file = dir.write("api.key", "CCDB1_key\n", 0600);
  const auto config = dir.write(
      "config.yaml", "deployment: {tier: advanced}\nfiles:\n  certs_dirs: [" + dir.path().string() +
                         "]\ncmek:\n  api_url: https://127.0.0.1:" + std::to_string(api.port()) +
                         "\n  cluster_id: c1\n  api_key_file: " + key_file.string() +
                         "\n  ca_file: " + api.ca_file() + "\n  poll_interval: 1s\n");
  const int port = certwatch::testing::find_free_port();
  certwatch::testing::ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file=" + config.string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir.path() / "daemon.log");
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         metrics.find("crdb_cert_source_items_cut{") == std::string::npos) {
    std::this_thread::sleep_for(200ms);
    const auto res = certwatch::testing::http_get(port, "/metrics", 10s);
    if (res && res->status == 200) metrics = res->body;
  }
  INFO(daemon.log());
  CHECK(metrics.find("crdb_cmek_key_info{") != std::string::npos);
  CHECK(metrics.size() < 2 * 1024 * 1024);  // was 89 MB
  CHECK(metrics.find(std::string(caps::kMaxLabelValueBytes + 1, 'R')) == std::string::npos);
  CHECK(certwatch::testing::has_line(
      metrics, "crdb_cert_source_items_cut{source=\"cmek\",kind=\"notices\"} 41401"));
  CHECK(metrics.find("crdb_cert_source_items_cut{source=\"cmek\",kind=\"series\"} ") !=
        std::string::npos);
  CHECK(metrics.find("crdb_cert_source_items_cut{source=\"cmek\",kind=\"label_values\"} ") !=
        std::string::npos);
  if (certwatch::testing::require_tool("promtool", "apt-get install prometheus")) {
    const auto lint = certwatch::testing::promtool_check_metrics(metrics);
    INFO(lint.out << lint.err);
    CHECK(lint.exit_code == 0);
  }
  const auto page = certwatch::testing::http_get(port, "/", 10s);
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.size() < 2 * 1024 * 1024);  // was 90 MB
  CHECK(page->body.find("more rows not shown") != std::string::npos);
  std::this_thread::sleep_for(1500ms);  // another poll or two
  daemon.stop();
  // One line per poll says what was cut; the 41,500 keys' notices are not logged one by one.
  const std::string log = daemon.log();
  const auto lines = certwatch::testing::lines_of(log);
  const auto cut_lines = std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("output cut to its caps") != std::string::npos;
  });
  CHECK(cut_lines >= 1);
  CHECK(lines.size() < 500);
  CHECK(log.size() < 512 * 1024);  // was 89 MB
}
