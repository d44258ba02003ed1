// The cloud source (issue 27, part 2): the client CA uploaded to CockroachDB Cloud, read with the
// cmek: section's API settings from a local HTTPS stand-in of the Cloud API (TLS with a test-made
// CA on 127.0.0.1). An active CA, an expiring one, a pending and a failed upload, none uploaded
// (404: information, not an error), hostile JSON, and the real binary.

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "rules/conditions.hpp"
#include "sources/cloud_client_ca_source.hpp"
#include "sources/registry.hpp"
#include "state/collect.hpp"
#include "state/remedy.hpp"
#include "support/certgen.hpp"
#include "support/fake_cloud_api.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace {

using namespace std::chrono_literals;
using certwatch::CertType;
using certwatch::Condition;
using certwatch::ErrorReason;
using certwatch::sources::CloudClientCaFacts;
using certwatch::sources::CloudClientCaSource;
using certwatch::sources::CloudClientCaSourceOptions;
using certwatch::sources::facts_as;
using certwatch::sources::parse_client_ca_cert_info;
using certwatch::sources::PollResult;
using certwatch::testing::CertSpec;
using certwatch::testing::client_ca_json;
using certwatch::testing::FakeCloudApi;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::Reply;
using certwatch::testing::TempDir;

constexpr std::string_view kApiKey = "CCDB1_cloudTOKENvalue0123456789abcdef";
constexpr std::string_view kClusterId = "6a1b2c3d-0000-4e5f-8a9b-0123456789ab";
constexpr std::int64_t kDay = 86400;

certwatch::config::CmekConfig api_config(const FakeCloudApi& api) {
  certwatch::config::CmekConfig cfg;
  cfg.api_url = "https://127.0.0.1:" + std::to_string(api.port());
  cfg.host = "127.0.0.1";
  cfg.port = std::to_string(api.port());
  cfg.cluster_id = std::string(kClusterId);
  cfg.api_key = std::string(kApiKey);
  cfg.timeout = 2s;
  cfg.ca_file = api.ca_file();
  return cfg;
}

GeneratedCert client_ca(std::int64_t days_left, const std::string& cn = "Client CA") {
  CertSpec spec;
  spec.common_name = cn;
  spec.is_ca = true;
  spec.not_after = certwatch::testing::unix_now() + days_left * kDay;
  return generate_cert(spec);
}

const CloudClientCaFacts& facts_of(const PollResult& result) {
  const auto* facts = facts_as<CloudClientCaFacts>(result);
  REQUIRE(facts != nullptr);
  return *facts;
}

bool has_condition(const std::vector<certwatch::Finding>& findings, Condition condition) {
  for (const auto& finding : findings) {
    if (finding.condition == condition) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("client CA parsing keeps the documented shape and ignores unknown fields", "[cloud]") {
  const auto parsed = parse_client_ca_cert_info(client_ca_json("IS_SET", "-----BEGIN X"));
  REQUIRE(parsed.info);
  CHECK(parsed.info->status == "IS_SET");
  CHECK(parsed.info->x509_pem_cert == "-----BEGIN X");
  const auto unset = parse_client_ca_cert_info(R"({"status":"NOT_SET"})");
  REQUIRE(unset.info);
  CHECK(unset.info->x509_pem_cert.empty());
  const auto null_pem = parse_client_ca_cert_info(R"({"status":"NOT_SET","x509_pem_cert":null})");
  REQUIRE(null_pem.info);
  // A status the API may add later is data, not an error.
  const auto future = parse_client_ca_cert_info(R"({"status":"ROTATING_SOMEHOW"})");
  REQUIRE(future.info);
  CHECK(future.info->status == "ROTATING_SOMEHOW");
}

TEST_CASE("client CA parsing survives hostile JSON", "[cloud]") {
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not valid JSON"},
      {"<html>502</html>", "not valid JSON"},
      {"[1,2,3]", "not a JSON object"},
      {"\"IS_SET\"", "not a JSON object"},
      {"{}", "no client CA status"},
      {R"({"status":7})", "no client CA status"},
      {R"({"status":""})", "no client CA status"},
      {R"({"status":"IS_SET","x509_pem_cert":{"a":1}})", "not a string"},
      {R"({"status":"IS_SET","x509_pem_cert":["x"]})", "not a string"},
      {R"({"status":")" + std::string(100, 'A') + "\"}", "longer than any"},
      {R"({"status":"IS_SET","x509_pem_cert":"abc)", "not valid JSON"},
      {"{\"status\":\"\xff\xfe\"}", "not valid JSON"},
      {deep, "nests deeper"},
  };
  for (const auto& [body, why] : cases) {
    INFO(body.substr(0, 80));
    const auto parsed = parse_client_ca_cert_info(body);
    CHECK_FALSE(parsed.info);
    CHECK_THAT(parsed.error, Catch::Contains(why));
    const bool quoted =
        body.size() >= 3 && parsed.error.find(body.substr(0, 40)) != std::string::npos;
    CHECK_FALSE(quoted);
  }
}

TEST_CASE("an active client CA is a client_ca certificate with source cloud", "[cloud]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  const GeneratedCert next = client_ca(3650, "Client CA 2026");
  const GeneratedCert old = client_ca(400, "Client CA 2016");
  api.set({200, client_ca_json("IS_SET", next.cert_pem + old.cert_pem), {}, false});
  CloudClientCaSource source(api_config(api), 1h);
  CHECK(source.name() == "cloud");
  const PollResult result = source.poll();
  INFO(result.error_message());
  REQUIRE(result.ok());
  CHECK(api.last_target() == "/api/v1/clusters/" + std::string(kClusterId) + "/client-ca-cert");
  CHECK(api.last_authorization() == "Bearer " + std::string(kApiKey));
  REQUIRE(result.certificates.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& cert = result.certificates[i];
    CHECK(cert.id.source == "cloud");
    CHECK(cert.id.cert_type == CertType::client_ca);
    CHECK(cert.id.index == std::to_string(i));
    CHECK(cert.id.path == "https://127.0.0.1:" + std::to_string(api.port()) + "/api/v1/clusters/" +
                              std::string(kClusterId) + "/client-ca-cert");
    CHECK(cert.id.node_id.empty());
    REQUIRE(cert.facts != nullptr);
    CHECK(cert.facts->is_ca);
    CHECK(cert.not_before.has_value());
  }
  CHECK(result.certificates[0].facts->subject_cn == "Client CA 2026");
  CHECK(result.certificates[1].facts->subject_cn == "Client CA 2016");
  const CloudClientCaFacts& facts = facts_of(result);
  CHECK(facts.status == "IS_SET");
  CHECK(facts.certificates == 2);
  CHECK(facts.findings(1e9).empty());
  const auto families = facts.families();
  REQUIRE(families.size() == 1);
  CHECK(families[0].name == "crdb_cert_cloud_client_ca_status");
  const certwatch::LabelPairs labels{{"cluster_id", std::string(kClusterId)}, {"status", "IS_SET"}};
  CHECK(families[0].series.at(0).labels == labels);
  const auto tables = facts.tables();
  REQUIRE(tables.size() == 1);
  CHECK(tables[0].title == "Client CA (CockroachDB Cloud)");
  CHECK(tables[0].rows.at(0).at(1).text == "IS_SET");
  // The key never reaches what the facts show.
  for (const auto& notice : facts.notices()) CHECK(notice.text.find(kApiKey) == std::string::npos);
}

TEST_CASE("an expiring client CA falls under the CA expiry rules with a Cloud fix", "[cloud]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  api.set({200, client_ca_json("IS_SET", client_ca(100).cert_pem), {}, false});
  const auto key_file = dir.write("api.key", std::string(kApiKey) + "\n", 0600);
  certwatch::config::Config cfg;
  cfg.files.certs_dirs = {};
  cfg.deployment.tier = certwatch::Tier::advanced;
  cfg.cmek = api_config(api);
  const auto sources = certwatch::sources::make_sources(cfg);
  REQUIRE(sources.size() == 3);  // files, then cmek and cloud from one section
  CHECK(sources[1]->name() == "cmek");
  CHECK(sources[2]->name() == "cloud");
  const double now = static_cast<double>(certwatch::testing::unix_now());
  const auto snapshot = certwatch::state::poll_once(
      {sources[2]}, cfg.rules, cfg.checks, {"1", "r", "OpenSSL"}, [now] { return now; },
      certwatch::Tier::advanced);
  REQUIRE(snapshot->certificates.size() == 1);
  CHECK(snapshot->states[0].action == "plan_rotation");
  CHECK(snapshot->states[0].severity == certwatch::Severity::info);
  const auto remedy = certwatch::state::remedy_for(*snapshot->certificates[0], snapshot->states[0],
                                                   certwatch::Tier::advanced);
  REQUIRE(remedy);
  CHECK_THAT(remedy->fix, Catch::Contains("create-client-ca"));
  CHECK_THAT(remedy->fix, Catch::Contains("/client-ca-cert"));
  CHECK_THAT(remedy->fix, Catch::Contains("IS_SET"));

  // Past notAfter: expired, critical, like any CA.
  api.set({200, client_ca_json("IS_SET", client_ca(-1).cert_pem), {}, false});
  const auto expired = certwatch::state::poll_once(
      {sources[2]}, cfg.rules, cfg.checks, {"1", "r", "OpenSSL"}, [now] { return now; },
      certwatch::Tier::advanced);
  REQUIRE(expired->certificates.size() == 1);
  CHECK(expired->states[0].action == "expired");
  CHECK(expired->states[0].severity == certwatch::Severity::critical);
}

TEST_CASE("a pending upload becomes a finding only once it lasts and a failed one at once",
          "[cloud]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  api.set({200, client_ca_json("PENDING", client_ca(3650).cert_pem), {}, false});
  double wall = 1'800'000'000;
  CloudClientCaSourceOptions options;
  options.wall_clock = [&wall] { return wall; };
  CloudClientCaSource source(api_config(api), 1h, options);
  const PollResult first = source.poll();
  REQUIRE(first.ok());
  CHECK(facts_of(first).status == "PENDING");
  CHECK(first.certificates.size() == 1);  // the CA in force is still watched
  CHECK(facts_of(first).findings(wall).empty());
  wall += 3601;
  const PollResult later = source.poll();
  REQUIRE(later.ok());
  const auto findings = facts_of(later).findings(wall);
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].condition == Condition::cloud_client_ca_pending);
  CHECK(certwatch::rules::severity_of(findings[0].condition) == certwatch::Severity::warning);
  CHECK_THAT(findings[0].message, Catch::Contains("PENDING for longer than 1h"));
  // Settled, then pending again: the clock starts over.
  api.set({200, client_ca_json("IS_SET", client_ca(3650).cert_pem), {}, false});
  REQUIRE(source.poll().ok());
  api.set({200, client_ca_json("PENDING", client_ca(3650).cert_pem), {}, false});
  wall += 10;
  CHECK(facts_of(source.poll()).findings(wall).empty());

  api.set({200, client_ca_json("FAILED", client_ca(3650).cert_pem), {}, false});
  const PollResult failed = source.poll();
  REQUIRE(failed.ok());
  const auto failed_findings = facts_of(failed).findings(wall);
  REQUIRE(failed_findings.size() == 1);
  CHECK(failed_findings[0].condition == Condition::cloud_client_ca_failed);
  const auto remedy = certwatch::state::remedy_for(failed_findings[0]);
  CHECK_THAT(remedy.fix, Catch::Contains("PATCH"));
  CHECK(!remedy.why.empty());

  // IS_SET with a PEM that holds no certificate: its expiry cannot be watched, and it says so.
  api.set({200,
           client_ca_json("IS_SET",
                          "-----BEGIN CERTIFICATE-----\nnot base64!\n"
                          "-----END CERTIFICATE-----\n"),
           {},
           false});
  const PollResult broken = source.poll();
  REQUIRE(broken.ok());
  CHECK(broken.certificates.empty());
  CHECK_FALSE(facts_of(broken).pem_error.empty());
  CHECK(has_condition(facts_of(broken).findings(wall), Condition::cloud_client_ca_failed));
}

TEST_CASE("no client CA uploaded is information and not an error", "[cloud]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  CloudClientCaSource source(api_config(api), 1h);
  for (const Reply& reply : {Reply{404, R"({"code":5,"message":"not found"})", {}, false},
                             Reply{200, R"({"status":"NOT_SET"})", {}, false}}) {
    api.set(reply);
    const PollResult result = source.poll();
    INFO(reply.status);
    REQUIRE(result.ok());
    CHECK(result.certificates.empty());
    CHECK(result.partial_errors.empty());
    const CloudClientCaFacts& facts = facts_of(result);
    CHECK(facts.status == "NOT_SET");
    const bool was_404 = reply.status == 404;
    CHECK(facts.not_found == was_404);
    const auto findings = facts.findings(1e9);
    REQUIRE(findings.size() == 1);
    CHECK(findings[0].condition == Condition::cloud_client_ca_not_set);
    CHECK(certwatch::rules::severity_of(findings[0].condition) == certwatch::Severity::info);
  }
}

TEST_CASE("client CA API failures are reasons with what to do", "[cloud]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  CloudClientCaSource source(api_config(api), 1h);
  const std::vector<std::tuple<Reply, std::string, std::string>> cases = {
      {{401, "{}", {}, false}, "auth_failed", "CLUSTER_ADMIN"},
      {{403, "{}", {}, false}, "auth_failed", "api_key_file"},
      {{500, "{}", {}, false}, "server_error", "Cloud API failed"},
      {{418, "{}", {}, false}, "bad_response", "unexpected status"},
      {{200, "not json at all", {}, false}, "bad_response", "not valid JSON"},
      {{200, R"({"status":"IS_SET","x509_pem_cert":42})", {}, false},
       "bad_response",
       "not a string"},
  };
  for (const auto& [reply, reason, says] : cases) {
    api.set(reply);
    const PollResult result = source.poll();
    INFO(reply.status << " " << reply.body);
    CHECK_FALSE(result.ok());
    CHECK(result.error_reason() == reason);
    CHECK_THAT(result.error_message(), Catch::Contains(says));
    CHECK(result.error_message().find(kApiKey) == std::string::npos);
  }
  // Rate limited: no request until Retry-After has passed, and the poll says why.
  api.set({429, "{}", {{"Retry-After", "120"}}, false});
  CHECK(source.poll().error_reason() == "rate_limited");
  const int asked = api.requests();
  const PollResult waiting = source.poll();
  CHECK(waiting.error_reason() == "rate_limited");
  CHECK_THAT(waiting.error_message(), Catch::Contains("no request for another"));
  CHECK(api.requests() == asked);
}

TEST_CASE("client CA through the real binary: metrics page audit and no key anywhere", "[cloud]") {
  using certwatch::testing::run_command;
  const TempDir dir;
  FakeCloudApi api(dir);
  api.set_for("/client-ca-cert",
              {200, client_ca_json("IS_SET", client_ca(200).cert_pem), {}, false});
  const auto key_file = dir.write("api.key", std::string(kApiKey) + "\n", 0600);
  const std::string config_text =
      "deployment:\n  tier: advanced\n"
      "files:\n  certs_dirs: []\n"
      "cmek:\n  api_url: https://127.0.0.1:" +
      std::to_string(api.port()) + "\n  cluster_id: " + std::string(kClusterId) +
      "\n  api_key_file: " + key_file.string() + "\n  ca_file: " + api.ca_file() +
      "\n  poll_interval: 1s\n  timeout: 2s\n";
  const auto config = dir.write("config.yaml", config_text);

  const int port = certwatch::testing::find_free_port();
  certwatch::testing::ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file=" + config.string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=debug"},
      dir.path() / "daemon.log");
  const auto scrape_until = [port](std::string_view needle) {
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline && text.find(needle) == std::string::npos) {
      std::this_thread::sleep_for(100ms);
      const auto res = certwatch::testing::http_get(port, "/metrics", 2s);
      if (res && res->status == 200) text = res->body;
    }
    return text;
  };
  const std::string metrics = scrape_until("crdb_cert_cloud_client_ca_status{");
  INFO(daemon.log());
  CHECK(metrics.find("crdb_cert_cloud_client_ca_status{cluster_id=\"" + std::string(kClusterId) +
                     "\",status=\"IS_SET\"} 1") != std::string::npos);
  CHECK(metrics.find("crdb_cert_expiry_state{source=\"cloud\",cert_type=\"client_ca\"") !=
        std::string::npos);
  CHECK(metrics.find("action=\"plan_rotation\",severity=\"info\"} 1") != std::string::npos);
  CHECK(metrics.find("crdb_cert_not_after_timestamp_seconds{source=\"cloud\"") !=
        std::string::npos);
  CHECK(metrics.find("crdb_cert_source_up{source=\"cloud\"} 1") != std::string::npos);
  // The CMEK source polls the same stand-in on its own path, unchanged.
  CHECK(metrics.find("crdb_cert_source_up{source=\"cmek\"} 1") != std::string::npos);
  CHECK(metrics.find("crdb_cmek_cluster_status{") != std::string::npos);
  CHECK(api.requests_for("/client-ca-cert") >= 1);
  const auto page = certwatch::testing::http_get(port, "/", 5s);
  REQUIRE(page);
  CHECK(page->body.find("Client CA (CockroachDB Cloud)") != std::string::npos);

  const auto audit = run_command(
      {CERTWATCH_BINARY, "audit", "--format=json", "--config.file=" + config.string()}, 30s);
  INFO(audit.err);
  CHECK(audit.out.find("\"cloud_client_ca\"") != std::string::npos);
  CHECK(audit.out.find("\"status\": \"IS_SET\"") != std::string::npos);
  const auto audit_md = run_command(
      {CERTWATCH_BINARY, "audit", "--format=md", "--config.file=" + config.string()}, 30s);
  CHECK(audit_md.out.find("CockroachDB Cloud: client CA") != std::string::npos);

  // Nothing uploaded any more: the source stays up, the status says so, the CA series go.
  api.set_for("/client-ca-cert", {404, R"({"code":5,"message":"not found"})", {}, false});
  const std::string unset = scrape_until("status=\"NOT_SET\"");
  CHECK(unset.find("crdb_cert_cloud_client_ca_status{cluster_id=\"" + std::string(kClusterId) +
                   "\",status=\"NOT_SET\"} 1") != std::string::npos);
  CHECK(unset.find("crdb_cert_source_up{source=\"cloud\"} 1") != std::string::npos);
  CHECK(unset.find("source=\"cloud\",cert_type=\"client_ca\"") == std::string::npos);

  for (const std::string* text : {&metrics, &unset, &page->body, &audit.out, &audit_md.out}) {
    CHECK(text->find(kApiKey) == std::string::npos);
  }
  daemon.stop();
  CHECK(daemon.log().find(kApiKey) == std::string::npos);
}
