// Snapshot -> exposition, checked line for line against docs/metrics.md, and the web routes.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "exporter/metrics.hpp"
#include "http/routes.hpp"
#include "rules/rule.hpp"
#include "sources/cluster_source.hpp"
#include "state/snapshot.hpp"
#include "support/exposition.hpp"
#include "support/facts.hpp"

namespace {

using certwatch::CertIdentity;
using certwatch::CertificateFacts;
using certwatch::CertObservation;
using certwatch::CertType;
using certwatch::ErrorReason;
using certwatch::FileError;
using certwatch::FileErrorReason;
using certwatch::exporter::Exposition;
using certwatch::state::SnapshotInputs;
using certwatch::state::SourceHealth;
using certwatch::testing::has_line;
using certwatch::testing::lines_of;
using certwatch::testing::lines_starting;
using certwatch::testing::promtool_check_metrics;
using certwatch::web::Request;
namespace http = certwatch::web::http;

constexpr std::int64_t kNow = 1'750'000'000;
constexpr std::int64_t kDay = 86'400;

// The snapshot and its exposition, as the daemon's publisher makes them.
std::shared_ptr<const Exposition> exposition_of(const SnapshotInputs& in, double now,
                                                const Exposition* previous = nullptr) {
  return certwatch::exporter::make_exposition(certwatch::state::make_snapshot(in, now), previous);
}

CertObservation file_cert(CertType type, const std::string& path, const std::string& index,
                          const std::string& user, std::int64_t not_after, const std::string& cn,
                          bool is_ca) {
  CertObservation cert;
  cert.id = CertIdentity{"file", type, "", path, index, user};
  CertificateFacts facts;
  facts.subject_cn = cn;
  facts.issuer_cn = "Cockroach CA";
  facts.serial_hex = "1f" + index;
  facts.fingerprint_sha256 = std::string(62, 'a') + "0" + index;
  facts.not_before = kNow - 100 * kDay;
  facts.not_after = not_after;
  facts.is_ca = is_ca;
  cert.not_after = facts.not_after;
  cert.not_before = facts.not_before;
  cert.facts = std::make_shared<const CertificateFacts>(std::move(facts));
  return cert;
}

CertObservation cluster_cert(CertType type, const std::string& node_id,
                             std::optional<std::int64_t> not_after) {
  CertObservation cert;
  cert.id = CertIdentity{"cluster", type, node_id, "", "", ""};
  cert.not_after = not_after;
  cert.load_failed = !not_after;
  cert.local_node = node_id == "1";  // the sample's local node
  return cert;
}

const std::int64_t kCaNotAfter = kNow + 3000 * kDay;
const std::int64_t kOldCaNotAfter = kNow + 100 * kDay;
const std::int64_t kRootNotAfter = kNow + 10 * kDay;
const std::int64_t kNodeOnDisk = kNow + 300 * kDay;
const std::int64_t kNodeLoaded = kNow + 200 * kDay;

certwatch::state::SharedPollResult share(certwatch::sources::PollResult result) {
  return std::make_shared<const certwatch::sources::PollResult>(std::move(result));
}

// One of each kind of series: file certificates (a bundle, a client, a node replaced on disk),
// cluster certificates (one loaded, one that failed to load), file errors, two sources' health.
SnapshotInputs sample_inputs() {
  SnapshotInputs in;
  certwatch::sources::PollResult files;
  files.certificates = {
      file_cert(CertType::ca, "/certs/ca.crt", "0", "", kCaNotAfter, "Cockroach CA", true),
      file_cert(CertType::ca, "/certs/ca.crt", "1", "", kOldCaNotAfter, "Old CA", true),
      file_cert(CertType::client, "/certs/client.root.crt", "0", "root", kRootNotAfter, "root",
                false),
      file_cert(CertType::node, "/certs/node.crt", "0", "", kNodeOnDisk, "node", false),
  };
  files.file_errors = {
      {"/certs/x.crt", FileErrorReason::not_regular_file, "a FIFO"},
      {R"(/certs/we"ird\name.crt)", FileErrorReason::bad_pem, "block 1 is not DER"},
  };
  certwatch::sources::PollResult cluster;
  cluster.certificates = {
      cluster_cert(CertType::node, "1", kNodeLoaded),
      cluster_cert(CertType::ca, "2", std::nullopt),
  };
  auto facts = std::make_shared<certwatch::sources::ClusterFacts>();
  facts->nodes = {{"1", "db1:26257", "v24.1.3", 1749999990.5},
                  {"2", "db2:26257", "v24.1.3", 1.7e9}};
  facts->secure = true;
  facts->local_node_id = "1";
  cluster.facts = facts;
  in.results = {share(std::move(files)), share(std::move(cluster))};

  SourceHealth file_health;
  file_health.source = "file";
  file_health.polled = true;
  file_health.up = true;
  file_health.last_success = 1749999999.25;
  file_health.last_poll = 1749999999.25;
  file_health.last_duration = 0.125;
  SourceHealth cluster_health;
  cluster_health.source = "cluster";
  cluster_health.polled = true;
  cluster_health.up = false;
  cluster_health.last_success = 1749999000;
  cluster_health.last_duration = 5.5;
  cluster_health.errors_total = {{ErrorReason::connect_failed, 3}, {ErrorReason::timeout, 1}};
  cluster_health.last_error =
      certwatch::SourceError{ErrorReason::connect_failed, "connection refused"};
  in.health = {file_health, cluster_health};
  in.config_reload_ok = false;
  in.config_reload_success_at = 1749990000;
  in.rules = certwatch::rules::default_rules();
  in.build = {"1.2.3", "abc123def456", "OpenSSL 3.0.15 3 Sep 2024"};
  return in;
}

std::string identity(const std::string& source, const std::string& type, const std::string& node,
                     const std::string& path, const std::string& index, const std::string& user) {
  return "source=\"" + source + "\",cert_type=\"" + type + "\",node_id=\"" + node + "\",path=\"" +
         path + "\",index=\"" + index + "\",user=\"" + user + "\"";
}

}  // namespace

TEST_CASE("per-certificate series carry the identity labels in docs/metrics.md order",
          "[exporter]") {
  const auto snapshot = exposition_of(sample_inputs(), static_cast<double>(kNow));
  const std::string& text = snapshot->text;
  INFO(text);
  const std::string ca0 = identity("file", "ca", "", "/certs/ca.crt", "0", "");
  const std::string ca1 = identity("file", "ca", "", "/certs/ca.crt", "1", "");
  const std::string root = identity("file", "client", "", "/certs/client.root.crt", "0", "root");
  const std::string node = identity("file", "node", "", "/certs/node.crt", "0", "");
  const std::string node1 = identity("cluster", "node", "1", "", "", "");
  const std::string ca2 = identity("cluster", "ca", "2", "", "", "");

  SECTION("not_after and not_before") {
    CHECK(has_line(text, "# TYPE crdb_cert_not_after_timestamp_seconds gauge"));
    CHECK(has_line(
        text, "crdb_cert_not_after_timestamp_seconds{" + ca0 + "} " + std::to_string(kCaNotAfter)));
    CHECK(has_line(text, "crdb_cert_not_after_timestamp_seconds{" + ca1 + "} " +
                             std::to_string(kOldCaNotAfter)));
    CHECK(has_line(text, "crdb_cert_not_after_timestamp_seconds{" + root + "} " +
                             std::to_string(kRootNotAfter)));
    CHECK(has_line(text, "crdb_cert_not_after_timestamp_seconds{" + node1 + "} " +
                             std::to_string(kNodeLoaded)));
    // Four file certificates and one loaded cluster certificate; the failed one has none.
    CHECK(lines_starting(text, "crdb_cert_not_after_timestamp_seconds{").size() == 5);
    CHECK(has_line(text, "# TYPE crdb_cert_not_before_timestamp_seconds gauge"));
    CHECK(has_line(text, "crdb_cert_not_before_timestamp_seconds{" + ca0 + "} " +
                             std::to_string(kNow - 100 * kDay)));
    // notBefore is a file and probe fact: the cluster source does not know it.
    CHECK(lines_starting(text, "crdb_cert_not_before_timestamp_seconds{").size() == 4);
  }

  SECTION("info: identity, then subject, issuer, serial, fingerprint, CA flag") {
    CHECK(has_line(text, "# TYPE crdb_cert_info gauge"));
    CHECK(has_line(text, "crdb_cert_info{" + ca0 +
                             ",subject_cn=\"Cockroach CA\",issuer_cn=\"Cockroach CA\","
                             "serial=\"1f0\",fingerprint_sha256=\"" +
                             std::string(62, 'a') + "00\",is_ca=\"true\"} 1"));
    CHECK(has_line(text, "crdb_cert_info{" + root +
                             ",subject_cn=\"root\",issuer_cn=\"Cockroach CA\",serial=\"1f0\","
                             "fingerprint_sha256=\"" +
                             std::string(62, 'a') + "00\",is_ca=\"false\"} 1"));
    CHECK(lines_starting(text, "crdb_cert_info{").size() == 4);  // file certificates only
  }

  SECTION("expiry_state: exactly one series per certificate") {
    const auto state_line = [](const std::string& id, const std::string& action,
                               const std::string& severity) {
      return "crdb_cert_expiry_state{" + id + ",action=\"" + action + "\",severity=\"" + severity +
             "\"} 1";
    };
    CHECK(has_line(text, "# TYPE crdb_cert_expiry_state gauge"));
    CHECK(has_line(text, state_line(ca0, "ok", "none")));
    CHECK(has_line(text, state_line(ca1, "plan_rotation", "info")));
    CHECK(has_line(text, state_line(root, "rotate_now", "critical")));
    CHECK(has_line(text, state_line(node, "ok", "none")));
    CHECK(has_line(text, state_line(node1, "ok", "none")));
    CHECK(has_line(text, state_line(ca2, "load_failed", "critical")));
    const auto states = lines_starting(text, "crdb_cert_expiry_state{");
    CHECK(states.size() == snapshot->snapshot->certificates.size());
    for (const std::string& id : {ca0, ca1, root, node, node1, ca2}) {
      INFO(id);
      CHECK(std::count_if(states.begin(), states.end(), [&](const std::string& line) {
              return line.find("{" + id + ",action=") != std::string::npos;
            }) == 1);
    }
  }

  SECTION("load_failed has no not_after, and nothing expires in 1970") {
    for (const std::string& line : lines_of(text)) {
      if (line.rfind("crdb_cert_not_after_timestamp_seconds{", 0) != 0) continue;
      INFO(line);
      CHECK(line.find("node_id=\"2\"") == std::string::npos);
      CHECK(line.substr(line.rfind(' ') + 1) != "0");
    }
  }
}

TEST_CASE("a state change replaces the series in the same scrape", "[exporter]") {
  const auto later = exposition_of(sample_inputs(), static_cast<double>(kRootNotAfter + 1));
  const auto states = lines_starting(later->text, "crdb_cert_expiry_state{");
  const std::string root = identity("file", "client", "", "/certs/client.root.crt", "0", "root");
  std::vector<std::string> root_states;
  std::copy_if(states.begin(), states.end(), std::back_inserter(root_states),
               [&](const std::string& line) { return line.find(root) != std::string::npos; });
  CHECK(root_states == std::vector<std::string>{"crdb_cert_expiry_state{" + root +
                                                ",action=\"expired\",severity=\"critical\"} 1"});
}

TEST_CASE("file errors, source health, config reload and build info", "[exporter]") {
  const auto snapshot = exposition_of(sample_inputs(), static_cast<double>(kNow));
  const std::string& text = snapshot->text;
  INFO(text);
  CHECK(has_line(text, "# TYPE crdb_cert_file_error gauge"));
  CHECK(has_line(text, R"(crdb_cert_file_error{path="/certs/x.crt",reason="not_regular_file"} 1)"));
  // Label values are escaped as the exposition format says: \" and \\.
  CHECK(has_line(text,
                 R"(crdb_cert_file_error{path="/certs/we\"ird\\name.crt",reason="bad_pem"} 1)"));
  CHECK(lines_starting(text, "crdb_cert_file_error{").size() == 2);

  CHECK(has_line(text, "# TYPE crdb_cert_source_up gauge"));
  CHECK(has_line(text, R"(crdb_cert_source_up{source="file"} 1)"));
  CHECK(has_line(text, R"(crdb_cert_source_up{source="cluster"} 0)"));
  CHECK(has_line(
      text, R"(crdb_cert_source_last_success_timestamp_seconds{source="file"} 1749999999.25)"));
  CHECK(has_line(
      text, R"(crdb_cert_source_last_success_timestamp_seconds{source="cluster"} 1749999000)"));
  CHECK(has_line(text, R"(crdb_cert_source_duration_seconds{source="file"} 0.125)"));
  CHECK(has_line(text, R"(crdb_cert_source_duration_seconds{source="cluster"} 5.5)"));
  CHECK(has_line(text, "# TYPE crdb_cert_source_errors_total counter"));
  CHECK(has_line(text,
                 R"(crdb_cert_source_errors_total{source="cluster",reason="connect_failed"} 3)"));
  CHECK(has_line(text, R"(crdb_cert_source_errors_total{source="cluster",reason="timeout"} 1)"));
  CHECK(lines_starting(text, "crdb_cert_source_errors_total{").size() == 2);

  CHECK(has_line(text, "# TYPE crdb_cert_config_last_reload_successful gauge"));
  CHECK(has_line(text, "crdb_cert_config_last_reload_successful 0"));
  CHECK(has_line(text, "crdb_cert_config_last_reload_success_timestamp_seconds 1749990000"));
  CHECK(has_line(text, "# TYPE crdb_cert_exporter_build_info gauge"));
  CHECK(has_line(
      text,
      R"(crdb_cert_exporter_build_info{version="1.2.3",revision="abc123def456",openssl_version="OpenSSL 3.0.15 3 Sep 2024"} 1)"));

  // No sample carries its own timestamp: every sample line is "name{labels} value".
  for (const std::string& line : lines_of(text)) {
    if (line.empty() || line[0] == '#') continue;
    INFO(line);
    const auto close = line.rfind('}');
    const std::string rest = line.substr(close == std::string::npos ? line.find(' ') : close + 1);
    CHECK(std::count(rest.begin(), rest.end(), ' ') == 1);
  }
}

TEST_CASE("every label value is valid UTF-8 whatever bytes the snapshot holds", "[exporter]") {
  // A file name, a certificate subject, a database row, a source name: any bytes, here a stray
  // byte and an overlong '/'. Prometheus drops a whole scrape over one such label value.
  const std::string bad = "\xff\xc0\xaf";
  SnapshotInputs in;
  certwatch::sources::PollResult files;
  files.certificates = {file_cert(CertType::client, "/certs/client." + bad + ".crt", "0", bad,
                                  kRootNotAfter, bad, false)};
  CertificateFacts& edited = certwatch::testing::edit_facts(files.certificates[0]);
  edited.issuer_cn = bad;
  edited.serial_hex = bad;
  files.file_errors = {{"/certs/" + bad, FileErrorReason::bad_pem, bad}};
  certwatch::sources::PollResult cluster;
  cluster.certificates = {cluster_cert(CertType::node, bad, kNodeLoaded)};
  auto facts = std::make_shared<certwatch::sources::ClusterFacts>();
  facts->nodes = {{bad, bad, bad, 1.7e9}};
  facts->secure = true;
  cluster.facts = facts;
  in.results = {share(std::move(files)), share(std::move(cluster))};
  SourceHealth health;
  health.source = bad;
  health.polled = true;
  health.errors_total = {{ErrorReason::timeout, 1}};
  in.health = {health};
  in.rules = certwatch::rules::default_rules();
  in.build = {bad, bad, bad};
  const std::string text = exposition_of(in, static_cast<double>(kNow))->text;
  INFO(certwatch::escape_for_display(text));
  CHECK(certwatch::is_valid_utf8(text));
  // \xff\xc0\xaf, its backslashes doubled again by the exposition format.
  const std::string shown = R"(\\xff\\xc0\\xaf)";
  const std::string client = "/certs/client." + shown + ".crt";
  CHECK(has_line(text, "crdb_cert_info{" + identity("file", "client", "", client, "0", shown) +
                           ",subject_cn=\"" + shown + "\",issuer_cn=\"" + shown + "\",serial=\"" +
                           shown + "\",fingerprint_sha256=\"" + std::string(62, 'a') +
                           "00\",is_ca=\"false\"} 1"));
  CHECK(has_line(text, "crdb_cert_not_after_timestamp_seconds{" +
                           identity("cluster", "node", shown, "", "", "") + "} " +
                           std::to_string(kNodeLoaded)));
  CHECK(has_line(text, "crdb_cert_file_error{path=\"/certs/" + shown + "\",reason=\"bad_pem\"} 1"));
  CHECK(has_line(text, "crdb_cert_cluster_node_info{node_id=\"" + shown + "\",address=\"" + shown +
                           "\",server_version=\"" + shown + "\"} 1"));
  CHECK(has_line(text,
                 "crdb_cert_source_errors_total{source=\"" + shown + "\",reason=\"timeout\"} 1"));
  CHECK(has_line(text, "crdb_cert_exporter_build_info{version=\"" + shown + "\",revision=\"" +
                           shown + "\",openssl_version=\"" + shown + "\"} 1"));
}

TEST_CASE("cluster families and the reload-pending cross-check", "[exporter]") {
  const auto snapshot = exposition_of(sample_inputs(), static_cast<double>(kNow));
  const std::string& text = snapshot->text;
  INFO(text);
  CHECK(has_line(
      text,
      R"(crdb_cert_cluster_node_info{node_id="1",address="db1:26257",server_version="v24.1.3"} 1)"));
  CHECK(has_line(
      text,
      R"(crdb_cert_cluster_node_info{node_id="2",address="db2:26257",server_version="v24.1.3"} 1)"));
  CHECK(has_line(text,
                 R"(crdb_cert_cluster_node_updated_timestamp_seconds{node_id="1"} 1749999990.5)"));
  CHECK(has_line(text,
                 R"(crdb_cert_cluster_node_updated_timestamp_seconds{node_id="2"} 1700000000)"));
  CHECK(has_line(text, "crdb_cert_cluster_secure 1"));
  // node.crt on disk (300 days) differs from what local node 1 reports loaded (200 days).
  CHECK(lines_starting(text, "crdb_cert_reload_pending") ==
        std::vector<std::string>{
            R"(crdb_cert_reload_pending{node_id="1",cert_type="node",path="/certs/node.crt"} 1)"});

  SECTION("without the cluster source there are no cluster families") {
    SnapshotInputs in = sample_inputs();
    in.results.pop_back();
    in.health.pop_back();
    const auto files_only = exposition_of(in, static_cast<double>(kNow));
    CHECK(files_only->text.find("crdb_cert_cluster_") == std::string::npos);
    CHECK(files_only->text.find("crdb_cert_reload_pending") == std::string::npos);
    CHECK(lines_starting(files_only->text, "crdb_cert_source_up{").size() == 1);
  }
  SECTION("an insecure cluster says so") {
    SnapshotInputs in = sample_inputs();
    certwatch::sources::PollResult cluster = *in.results[1];
    cluster.certificates.clear();
    auto facts = std::make_shared<certwatch::sources::ClusterFacts>(
        *certwatch::sources::facts_as<certwatch::sources::ClusterFacts>(cluster));
    facts->secure = false;
    cluster.facts = facts;
    in.results[1] = share(std::move(cluster));
    const auto insecure = exposition_of(in, static_cast<double>(kNow));
    CHECK(has_line(insecure->text, "crdb_cert_cluster_secure 0"));
    CHECK(insecure->text.find("crdb_cert_reload_pending") == std::string::npos);
  }
}

TEST_CASE("a snapshot reuses the previous certificate text only when nothing in it changed",
          "[exporter]") {
  const SnapshotInputs in = sample_inputs();
  const auto first = exposition_of(in, static_cast<double>(kNow));
  REQUIRE(first->certificate_text_size > 0);
  CHECK(first->text.substr(0, first->certificate_text_size).find("# TYPE crdb_cert_source_up") ==
        std::string::npos);

  SECTION("same certificates, same states: the same text") {
    const auto next = exposition_of(in, static_cast<double>(kNow + 60), first.get());
    CHECK(next->text == exposition_of(in, static_cast<double>(kNow + 60))->text);
    CHECK(next->certificate_text_size == first->certificate_text_size);
  }
  SECTION("a state changed with time: rendered again") {
    const auto later = static_cast<double>(kRootNotAfter + 1);  // client.root has expired
    const auto next = exposition_of(in, later, first.get());
    CHECK(next->text == exposition_of(in, later)->text);
    CHECK(next->text.find(R"(action="expired")") != std::string::npos);
    CHECK(first->text.find(R"(action="expired")") == std::string::npos);
  }
  SECTION("a certificate changed: rendered again") {
    SnapshotInputs changed = in;
    certwatch::sources::PollResult files = *changed.results[0];
    certwatch::testing::edit_facts(files.certificates[0]).serial_hex = "beef";
    changed.results[0] = share(std::move(files));
    const auto next = exposition_of(changed, static_cast<double>(kNow), first.get());
    CHECK(next->text == exposition_of(changed, static_cast<double>(kNow))->text);
    CHECK(next->text.find(R"(serial="beef")") != std::string::npos);
  }
}

TEST_CASE("promtool check metrics accepts the exposition", "[exporter][promtool]") {
  SECTION("full sample") {
    const auto snapshot = exposition_of(sample_inputs(), static_cast<double>(kNow));
    const auto check = promtool_check_metrics(snapshot->text);
    INFO(check.out);
    CHECK(check.exit_code == 0);
    CHECK(check.out.empty());
  }
  SECTION("before any poll") {
    SnapshotInputs in;
    SourceHealth pending;
    pending.source = "file";
    in.health = {pending};
    in.build = {"1.2.3", "abc", "OpenSSL 3"};
    const auto snapshot = exposition_of(in, static_cast<double>(kNow));
    const auto check = promtool_check_metrics(snapshot->text);
    INFO(check.out);
    CHECK(check.exit_code == 0);
    CHECK(check.out.empty());
    CHECK(has_line(snapshot->text, R"(crdb_cert_source_up{source="file"} 0)"));
  }
  SECTION("promtool itself rejects a broken exposition (the check can fail)") {
    const auto check = promtool_check_metrics("crdb_cert_x{a=\"b\" 1\n");
    CHECK(check.exit_code != 0);
  }
}

namespace {

Request get(const std::string& target, http::verb verb = http::verb::get) {
  Request req{verb, target, 11};
  req.set(http::field::host, "localhost");
  return req;
}

std::string content_type(const certwatch::web::Response& res) {
  const auto it = res.find(http::field::content_type);
  return it == res.end() ? "" : std::string(it->value());
}

}  // namespace

TEST_CASE("web handler routes", "[exporter][web]") {
  SnapshotInputs in = sample_inputs();
  certwatch::sources::PollResult files = *in.results[0];
  files.certificates.push_back(file_cert(CertType::other, "/certs/<script>alert(1)</script>.crt",
                                         "0", "", kNow + 50 * kDay, "x", false));
  in.results[0] = share(std::move(files));
  SourceHealth not_polled;
  not_polled.source = "file";
  SnapshotInputs before_poll;
  before_poll.health = {not_polled};
  std::shared_ptr<const Exposition> current = exposition_of(before_poll, static_cast<double>(kNow));
  const auto handler = certwatch::web::make_web_handler(certwatch::web::WebOptions{},
                                                        [&current] { return current; });

  SECTION("/-/ready is 503 before the first poll and 200 after") {
    CHECK(handler(get("/-/ready")).result() == http::status::service_unavailable);
    current = exposition_of(in, static_cast<double>(kNow));
    CHECK(handler(get("/-/ready")).result() == http::status::ok);
  }

  current = exposition_of(in, static_cast<double>(kNow));

  SECTION("/metrics serves the snapshot's exposition") {
    const auto res = handler(get("/metrics"));
    CHECK(res.result() == http::status::ok);
    CHECK(content_type(res) == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(res.body() == current->text);
    // Served from the snapshot's own bytes, not a copy per scrape.
    CHECK(res.body().view().data() == current->text.data());
    CHECK(handler(get("/metrics?name[]=x")).body() == current->text);
  }
  SECTION("a response keeps its snapshot alive after a newer one replaces it") {
    auto res = handler(get("/metrics"));
    const std::string expected = current->text;
    current = exposition_of(SnapshotInputs{}, static_cast<double>(kNow));
    CHECK(res.body() == expected);
  }
  SECTION("/ lists every certificate with its state, HTML-escaped") {
    const auto res = handler(get("/"));
    CHECK(res.result() == http::status::ok);
    CHECK(content_type(res) == "text/html; charset=utf-8");
    const std::string body(res.body().view());
    for (const std::string path :
         {"/certs/ca.crt", "/certs/client.root.crt", "/certs/node.crt", "/certs/x.crt"}) {
      INFO(path);
      CHECK(body.find(path) != std::string::npos);
    }
    CHECK(body.find("rotate_now") != std::string::npos);
    CHECK(body.find("plan_rotation") != std::string::npos);
    CHECK(body.find("load_failed") != std::string::npos);
    CHECK(body.find("not_regular_file") != std::string::npos);
    CHECK(body.find("<script>") == std::string::npos);
    CHECK(body.find("/certs/&lt;script&gt;alert(1)&lt;/script&gt;.crt") != std::string::npos);
    CHECK(body.find("href=\"/metrics\"") != std::string::npos);
  }
  SECTION("/-/healthy is 200") {
    const auto res = handler(get("/-/healthy"));
    CHECK(res.result() == http::status::ok);
    CHECK_FALSE(res.body().empty());
  }
  SECTION("unknown paths are 404") {
    for (const std::string target : {"/nope", "/metricsx", "/-/", "/-/healthyx", "/index.html"}) {
      INFO(target);
      CHECK(handler(get(target)).result() == http::status::not_found);
    }
  }
  SECTION("a custom telemetry path moves the metrics") {
    const auto custom = certwatch::web::make_web_handler(
        certwatch::web::WebOptions{"/custom/metrics"}, [&current] { return current; });
    CHECK(custom(get("/custom/metrics")).body() == current->text);
    CHECK(custom(get("/metrics")).result() == http::status::not_found);
    CHECK(custom(get("/")).body().view().find("href=\"/custom/metrics\"") != std::string::npos);
  }
}
