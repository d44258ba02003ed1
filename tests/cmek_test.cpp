// The CMEK source (issue 14): the response parser on hostile shapes, the facts' metrics and
// findings, the HTTPS client against a local Cloud API stand-in (TLS with a test-made CA on
// 127.0.0.1, switchable between the documented states and every failure), and the real binary,
// whose log, metrics, page and --config.check output must never hold the API key.

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/metric_names.hpp"
#include "sources/cmek_source.hpp"
#include "support/certgen.hpp"
#include "support/fake_cloud_api.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using namespace std::chrono_literals;
using certwatch::ErrorReason;
using certwatch::sources::CmekFacts;
using certwatch::sources::CmekSource;
using certwatch::sources::CmekSourceOptions;
using certwatch::sources::parse_cmek_cluster_info;
using certwatch::sources::parse_rfc3339;
using certwatch::testing::CertSpec;
using certwatch::testing::cmek_cluster_json;
using certwatch::testing::cmek_key_json;
using certwatch::testing::FakeCloudApi;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::Reply;
using certwatch::testing::TempDir;

constexpr std::string_view kApiKey = "CCDB1_sekritTOKENvalue0123456789abcdef";
constexpr std::string_view kClusterId = "6a1b2c3d-0000-4e5f-8a9b-0123456789ab";

certwatch::config::CmekConfig cmek_config(const FakeCloudApi& api) {
  certwatch::config::CmekConfig cfg;
  cfg.api_url = "https://127.0.0.1:" + std::to_string(api.port());
  cfg.host = "127.0.0.1";
  cfg.port = std::to_string(api.port());
  cfg.cluster_id = std::string(kClusterId);
  cfg.api_key = std::string(kApiKey);
  cfg.timeout = 1s;
  cfg.ca_file = api.ca_file();
  return cfg;
}

const certwatch::Family* family_named(const std::vector<certwatch::Family>& families,
                                      std::string_view name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("CMEK parsing keeps the documented shape and ignores unknown fields", "[cmek]") {
  const auto parsed = parse_cmek_cluster_info(cmek_cluster_json("ROTATING", "rotating now"));
  REQUIRE(parsed.info);
  CHECK(parsed.info->status == "ENABLED");
  REQUIRE(parsed.info->regions.size() == 1);
  const auto& region = parsed.info->regions[0];
  CHECK(region.region == "us-east-1");
  REQUIRE(region.keys.size() == 1);
  const auto& key = region.keys[0];
  CHECK(key.status == "ROTATING");
  CHECK(key.user_message == "rotating now");
  CHECK(key.type == "AWS_KMS");
  CHECK(key.uri == "arn:aws:kms:us-east-1:1:key/k1");
  CHECK(key.auth_principal == "arn:aws:iam::1:role/crl");
  CHECK(key.created_at == 1704067200.0);
  CHECK(key.updated_at == 1714564800.5);
  // Unknown status values are kept, not errors.
  const auto unknown = parse_cmek_cluster_info(R"({"status":"SOMETHING_NEW"})");
  REQUIRE(unknown.info);
  CHECK(unknown.info->status == "SOMETHING_NEW");
  CHECK(unknown.info->regions.empty());
}

TEST_CASE("CMEK parsing survives hostile shapes", "[cmek]") {
  for (const std::string body : {"", "not json", "[]", "42", "\"ENABLED\"", "{}", R"({"status":5})",
                                 R"({"status":null})", "{\"status\":\"ENA"}) {
    INFO(body);
    const auto parsed = parse_cmek_cluster_info(body);
    CHECK_FALSE(parsed.info);
    CHECK_FALSE(parsed.error.empty());
  }
  // Deep nesting is refused before it is parsed.
  const std::string deep =
      R"({"status":"ENABLED","x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  const auto nested = parse_cmek_cluster_info(deep);
  CHECK_FALSE(nested.info);
  CHECK(nested.error.find("nests deeper") != std::string::npos);
  // Brackets inside strings are not nesting.
  CHECK(
      parse_cmek_cluster_info(R"({"status":"ENABLED","m":")" + std::string(100, '[') + "\"}").info);
  // Wrong types inside: fields are empty, the rest is kept.
  const auto wrong = parse_cmek_cluster_info(
      R"({"status":"ENABLED","region_infos":[7,{"region":1,"status":"ENABLED","key_infos":{"a":1}},)"
      R"({"region":"eu","key_infos":[null,{"status":["x"],"spec":"s","created_at":1700000000,)"
      R"("updated_at":"9999999-01-01T00:00:00Z"}]}]})");
  REQUIRE(wrong.info);
  REQUIRE(wrong.info->regions.size() == 3);
  CHECK(wrong.info->regions[0].region.empty());
  CHECK(wrong.info->regions[1].keys.empty());
  REQUIRE(wrong.info->regions[2].keys.size() == 2);
  const auto& key = wrong.info->regions[2].keys[1];
  CHECK(key.status.empty());
  CHECK(key.uri.empty());
  CHECK_FALSE(key.created_at);
  CHECK_FALSE(key.updated_at);
  // Invalid UTF-8 is not JSON; an enormous string is cut.
  CHECK_FALSE(parse_cmek_cluster_info("{\"status\":\"\xff\"}").info);
  const auto long_status =
      parse_cmek_cluster_info(R"({"status":")" + std::string(100000, 'A') + "\"}");
  REQUIRE(long_status.info);
  CHECK(long_status.info->status.size() <= 2048);
}

TEST_CASE("RFC 3339 timestamps are read within sane bounds", "[cmek]") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0.0);
  CHECK(parse_rfc3339("2024-05-01T14:00:00+02:00") == 1714564800.0);
  CHECK(parse_rfc3339("2024-05-01T12:00:00.250Z") == 1714564800.25);
  CHECK(parse_rfc3339("9999-12-31T23:59:59Z").has_value());
  for (std::string_view bad :
       {"", "2024-05-01", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "1969-12-31T23:59:59Z",
        "2024-05-01T25:00:00Z", "2024-05-01T12:00:00", "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00+99:00", "99999-05-01T12:00:00Z", "2024-05-01T12:00:00Zjunk",
        "-024-05-01T12:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad));
  }
}

TEST_CASE("CMEK facts export the four families and find revoked failed and stuck keys", "[cmek]") {
  CmekFacts facts;
  facts.cluster_id = std::string(kClusterId);
  facts.info = *parse_cmek_cluster_info(
                    R"({"status":"ENABLED","region_infos":[{"region":"r1","status":"ENABLED",)"
                    R"("key_infos":[)" +
                    cmek_key_json("REVOKED", "k-revoked") + "," +
                    cmek_key_json("ROTATE_FAILED", "k-failed", "key policy denies") + "," +
                    cmek_key_json("ROTATING", "k-rotating") + "," +
                    cmek_key_json("ROTATING", "k-rotating") + "]}]}")
                    .info;
  facts.transition_for = 3600s;
  facts.transitional_since["key k-rotating in r1"] = 1000;
  const auto families = facts.families();
  for (std::string_view name :
       {certwatch::metric::kCmekClusterStatus, certwatch::metric::kCmekRegionStatus,
        certwatch::metric::kCmekKeyInfo, certwatch::metric::kCmekKeyUpdated}) {
    INFO(name);
    CHECK(family_named(families, name) != nullptr);
  }
  // The repeated key is one series, not a duplicate the scrape would reject.
  CHECK(family_named(families, certwatch::metric::kCmekKeyInfo)->series.size() == 3);
  CHECK(family_named(families, certwatch::metric::kCmekKeyUpdated)->series.size() == 3);
  const auto& key_series = family_named(families, certwatch::metric::kCmekKeyInfo)->series[0];
  CHECK(key_series.labels == certwatch::LabelPairs{{"cluster_id", std::string(kClusterId)},
                                                   {"region", "r1"},
                                                   {"type", "AWS_KMS"},
                                                   {"uri", "k-revoked"},
                                                   {"auth_principal", "arn:aws:iam::1:role/crl"},
                                                   {"status", "REVOKED"}});
  const auto conditions_at = [&](double now) {
    std::vector<certwatch::Condition> out;
    for (const auto& finding : facts.findings(now)) out.push_back(finding.condition);
    return out;
  };
  // Not yet stuck at 1000 + 3600, stuck just after.
  CHECK(conditions_at(4600).size() == 2);
  const auto later = facts.findings(4601);
  REQUIRE(later.size() == 4);  // revoked, failed, the rotating key twice (as listed)
  CHECK(later[0].condition == certwatch::Condition::cmek_key_revoked);
  CHECK(later[1].condition == certwatch::Condition::cmek_failed);
  CHECK(later[1].message.find("key policy denies") != std::string::npos);
  CHECK(later[2].condition == certwatch::Condition::cmek_transition_stuck);
  const auto tables = facts.tables();
  REQUIRE(tables.size() == 1);
  CHECK(tables[0].title == certwatch::sources::kCmekTableTitle);
  CHECK(tables[0].rows.size() == 5);  // the cluster and four keys
}

TEST_CASE("CMEK source reads the API over verified TLS with the bearer key", "[cmek]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  api.set({200, cmek_cluster_json("ENABLED"), {}, false});
  CmekSource source(cmek_config(api), 3600s);
  const auto result = source.poll();
  INFO(result.error_message());
  REQUIRE(result.ok());
  const auto* facts = certwatch::sources::facts_as<CmekFacts>(result);
  REQUIRE(facts != nullptr);
  CHECK(facts->cluster_id == kClusterId);
  CHECK(facts->info.regions.at(0).keys.at(0).status == "ENABLED");
  CHECK(api.last_authorization() == "Bearer " + std::string(kApiKey));
  CHECK(api.last_target() == "/api/v1/clusters/" + std::string(kClusterId) + "/cmek");
}

TEST_CASE("CMEK source turns every API failure into its reason", "[cmek]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  struct Case {
    Reply reply;
    ErrorReason reason;
    std::string_view in_message;
  };
  const std::vector<Case> cases{
      {{401, "{}", {}, false}, ErrorReason::auth_failed, "CLUSTER_OPERATOR_WRITER"},
      {{403, "{}", {}, false}, ErrorReason::auth_failed, "CLUSTER_ADMIN"},
      {{404, "{}", {}, false}, ErrorReason::not_found, "only be enabled when the cluster"},
      {{429, "{}", {{"Retry-After", "30"}}, false}, ErrorReason::rate_limited, "Retry-After 30s"},
      {{500, "oops", {}, false}, ErrorReason::server_error, "HTTP 500"},
      {{302, "", {{"Location", "https://elsewhere/"}}, false}, ErrorReason::bad_response, "302"},
      {{200, "{\"status\": ", {}, false}, ErrorReason::bad_response, "not valid JSON"},
      {{200, "[\"ENABLED\"]", {}, false}, ErrorReason::bad_response, "not a JSON object"},
      {{200, std::string(3 * 1024 * 1024, ' '), {}, false}, ErrorReason::bad_response, "limit"},
      {{200, cmek_cluster_json("ENABLED"), {}, true}, ErrorReason::timeout, "within 1s"},
  };
  for (const Case& c : cases) {
    INFO("HTTP " << c.reply.status << (c.reply.hang ? " hang" : ""));
    api.set(c.reply);
    CmekSource source(cmek_config(api), 3600s);
    const auto started = std::chrono::steady_clock::now();
    const auto result = source.poll();
    CHECK(std::chrono::steady_clock::now() - started < 10s);  // the deadline holds
    REQUIRE_FALSE(result.ok());
    CHECK(result.error->reason == c.reason);
    CHECK(result.error_message().find(c.in_message) != std::string::npos);
    CHECK(result.error_message().find(kApiKey) == std::string::npos);
    api.set({200, cmek_cluster_json("ENABLED"), {}, false});  // releases a hanging connection
  }
  SECTION("a server certificate from another CA is handshake_failed") {
    const TempDir other;
    FakeCloudApi stranger(other);
    auto cfg = cmek_config(api);
    cfg.ca_file = stranger.ca_file();
    CmekSource source(cfg, 3600s);
    const auto result = source.poll();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error->reason == ErrorReason::handshake_failed);
    CHECK(result.error_message().find("certificate verify failed") != std::string::npos);
  }
  SECTION("a host name the certificate does not carry is handshake_failed") {
    auto cfg = cmek_config(api);
    cfg.host = "localhost";  // reaches the stand-in, but is not among the certificate's SANs
    CmekSource source(cfg, 3600s);
    const auto result = source.poll();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error->reason == ErrorReason::handshake_failed);
  }
}

TEST_CASE("a CMEK ca_file swapped for a FIFO, a device or a directory fails the poll at once",
          "[cmek]") {
  // Issue 28 item 8: OpenSSL's own open of a FIFO blocked the source's thread for good. The
  // config refuses such a ca_file when it loads; this is one swapped in after that.
  const TempDir dir;
  FakeCloudApi api(dir);
  const std::filesystem::path ca = dir.path() / "swapped-ca.crt";
  for (const std::string kind : {"FIFO", "/dev/zero", "directory"}) {
    INFO(kind);
    std::filesystem::remove_all(ca);
    if (kind == "FIFO") REQUIRE(::mkfifo(ca.c_str(), 0644) == 0);
    if (kind == "/dev/zero") std::filesystem::create_symlink("/dev/zero", ca);
    if (kind == "directory") std::filesystem::create_directory(ca);
    auto cfg = cmek_config(api);
    cfg.ca_file = ca.string();
    CmekSource source(cfg, 3600s);
    const auto started = std::chrono::steady_clock::now();
    const auto result = source.poll();
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error->reason == ErrorReason::bad_config);
    CHECK(result.error_message().find(ca.string()) != std::string::npos);
    CHECK(result.error_message().find("not_regular_file") != std::string::npos);
  }
}

TEST_CASE("CMEK source honours Retry-After and backs off after server errors", "[cmek]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  auto now = std::chrono::steady_clock::now();
  CmekSourceOptions options;
  options.now = [&now] { return now; };
  CmekSource source(cmek_config(api), 3600s, options);

  api.set({429, "{}", {{"Retry-After", "120"}}, false});
  CHECK(source.poll().error->reason == ErrorReason::rate_limited);
  const int after_429 = api.requests();
  api.set({200, cmek_cluster_json("ENABLED"), {}, false});
  now += 119s;
  const auto waiting = source.poll();  // inside Retry-After: no request at all
  REQUIRE_FALSE(waiting.ok());
  CHECK(waiting.error->reason == ErrorReason::rate_limited);
  CHECK(api.requests() == after_429);
  now += 2s;
  CHECK(source.poll().ok());
  CHECK(api.requests() == after_429 + 1);

  // Server errors: 30s, then 60s, ... between requests.
  api.set({503, "", {}, false});
  CHECK(source.poll().error->reason == ErrorReason::server_error);
  now += 29s;
  CHECK(source.poll().error->reason == ErrorReason::server_error);
  CHECK(api.requests() == after_429 + 2);
  now += 2s;
  CHECK(source.poll().error->reason == ErrorReason::server_error);
  CHECK(api.requests() == after_429 + 3);
  now += 31s;  // the second wait is 60s
  source.poll();
  CHECK(api.requests() == after_429 + 3);
  now += 30s;
  api.set({200, cmek_cluster_json("ENABLED"), {}, false});
  CHECK(source.poll().ok());
}

TEST_CASE("CMEK through the real binary: metrics and page and no key anywhere", "[cmek]") {
  using certwatch::testing::run_command;
  const TempDir dir;
  FakeCloudApi api(dir);
  api.set({200, cmek_cluster_json("ROTATE_FAILED", "the role cannot use the key"), {}, false});
  const auto key_file = dir.write("api.key", std::string(kApiKey) + "\n", 0600);
  // The node rule is pointless on Advanced: a warning, printed and logged, never fatal.
  const std::string config_text =
      "deployment:\n  tier: advanced\n"
      "rules:\n  - {cert_types: [node, client], below: 30d, action: rotate_now, severity: "
      "critical}\n"
      "files:\n  certs_dirs: [" +
      dir.path().string() +
      "]\n"
      "cmek:\n  api_url: https://127.0.0.1:" +
      std::to_string(api.port()) + "\n  cluster_id: " + std::string(kClusterId) +
      "\n  api_key_file: " + key_file.string() + "\n  ca_file: " + api.ca_file() +
      "\n  poll_interval: 1s\n  timeout: 2s\n";
  const auto config = dir.write("config.yaml", config_text);

  const auto checked =
      run_command({CERTWATCH_BINARY, "--config.check", "--config.file=" + config.string()}, 10s);
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
  CHECK(checked.err.find("warning: " + config.string() +
                         ":4: rules[0].cert_types: cert type node "
                         "is managed by Cockroach Labs") != std::string::npos);
  CHECK((checked.out + checked.err).find(kApiKey) == std::string::npos);
  // A key file others can read is refused, without quoting the key.
  const auto open_key = dir.write("open.key", std::string(kApiKey) + "\n", 0644);
  std::string open_text = config_text;
  open_text.replace(open_text.find(key_file.string()), key_file.string().size(), open_key.string());
  const auto open_config = dir.write("open.yaml", open_text);
  const auto refused = run_command(
      {CERTWATCH_BINARY, "--config.check", "--config.file=" + open_config.string()}, 10s);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("chmod 600") != std::string::npos);
  CHECK((refused.out + refused.err).find(kApiKey) == std::string::npos);

  const int port = certwatch::testing::find_free_port();
  certwatch::testing::ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file=" + config.string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=debug"},
      dir.path() / "daemon.log");
  // The exposition once it holds `needle`, or the last one scraped within a generous bound.
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
  const std::string metrics = scrape_until("crdb_cmek_key_info{");
  INFO(daemon.log());
  CHECK(metrics.find("crdb_cmek_cluster_status{cluster_id=\"" + std::string(kClusterId) +
                     "\",status=\"ENABLED\"} 1") != std::string::npos);
  CHECK(metrics.find("status=\"ROTATE_FAILED\"} 1") != std::string::npos);
  CHECK(metrics.find("crdb_cmek_key_updated_timestamp_seconds{") != std::string::npos);
  CHECK(metrics.find("crdb_cert_source_up{source=\"cmek\"} 1") != std::string::npos);
  if (certwatch::testing::require_tool("promtool", "apt-get install prometheus")) {
    const auto exposition = dir.write("metrics.txt", metrics);
    const auto lint =
        certwatch::testing::run_shell("promtool check metrics < " + exposition.string(), 30s);
    INFO(lint.out);
    CHECK(lint.exit_code == 0);
  }
  const auto page = certwatch::testing::http_get(port, "/", 5s);
  REQUIRE(page);
  CHECK(page->body.find("Data-at-rest key (CMEK)") != std::string::npos);
  CHECK(page->body.find("CockroachDB Cloud Advanced") != std::string::npos);
  CHECK(page->body.find("the role cannot use the key") != std::string::npos);

  // The API turns the key down: the source goes down with the reason, the last good data stays.
  api.set({401, "{}", {}, false});
  // The cmek source's own count: the cloud source reads the same API and fails alike, maybe first.
  const std::string cmek_auth_failed =
      "crdb_cert_source_errors_total{source=\"cmek\",reason=\"auth_failed\"}";
  const std::string failing = scrape_until(cmek_auth_failed);
  CHECK(failing.find(cmek_auth_failed) != std::string::npos);
  CHECK(failing.find("crdb_cert_source_up{source=\"cmek\"} 0") != std::string::npos);
  CHECK(failing.find("crdb_cmek_key_info{") != std::string::npos);
  const auto failing_page = certwatch::testing::http_get(port, "/", 5s);
  REQUIRE(failing_page);

  CHECK(api.last_authorization() == "Bearer " + std::string(kApiKey));
  for (const std::string* text : std::initializer_list<const std::string*>{
           &metrics, &failing, &page->body, &failing_page->body}) {
    CHECK(text->find(kApiKey) == std::string::npos);
  }
  daemon.stop();
  const std::string log = daemon.log();
  CHECK(log.find("auth_failed") != std::string::npos);
  CHECK(log.find("configuration: " + config.string() + ":4: rules[0].cert_types") !=
        std::string::npos);
  CHECK(log.find(kApiKey) == std::string::npos);
}

namespace {

// A line of /proc/self/status ("VmHWM:   1234 kB") in bytes; 0 when absent.
std::uint64_t status_bytes(std::string_view field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(std::string(field) + ":")) {
      return std::stoull(line.substr(field.size() + 1)) * 1024;
    }
  }
  return 0;
}

}  // namespace

// Issue 28 item 3: Beast 1.74 drops its body_limit error when eager parsing goes on in the same
// buffer, so a 100 MB body sent with the header was read whole. Every framing of a body far past
// the limit: the poll fails as too large (or, for a Content-Length that lies low, reads only what
// it declares), promptly, and the process's peak RSS (reset through /proc/self/clear_refs before
// each poll) grows by far less than the body.
TEST_CASE("CMEK source stops at the body limit however a huge response is framed", "[cmek]") {
  const TempDir dir;
  FakeCloudApi api(dir);
  constexpr std::uint64_t kHuge = 100ULL * 1024 * 1024;
  constexpr std::uint64_t kLimit = 1024 * 1024;
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
  const std::string past_limit(kLimit + 1, ' ');
  const std::string json = cmek_cluster_json("ENABLED");
  struct Case {
    std::string name;
    Reply reply;
    std::optional<ErrorReason> reason;  // nullopt: the poll succeeds
    std::string_view in_message;
  };
  const auto raw = [](std::vector<std::string> segments, std::uint64_t more, bool chunked = false) {
    Reply reply;
    reply.raw = std::move(segments);
    reply.stream_bytes = more;
    reply.stream_chunked = chunked;
    return reply;
  };
  const std::vector<Case> cases{
      {"Content-Length past the limit, header and body in one write",
       raw({head + "Content-Length: " + std::to_string(kHuge) + "\r\n\r\n" + past_limit},
           kHuge - past_limit.size()),
       ErrorReason::bad_response, "larger than the limit"},
      {"no length (body to EOF), header and body in one write",
       raw({head + "Connection: close\r\n\r\n" + past_limit}, kHuge - past_limit.size()),
       ErrorReason::bad_response, "larger than the limit"},
      {"no length, header and body in separate writes",
       raw({head + "Connection: close\r\n\r\n", "{"}, kHuge), ErrorReason::bad_response,
       "larger than the limit"},
      {"chunked", raw({head + "Transfer-Encoding: chunked\r\n\r\n"}, kHuge, true),
       ErrorReason::bad_response, "larger than the limit"},
      {"chunked, first chunk in the header's write",
       raw({head + "Transfer-Encoding: chunked\r\n\r\nf\r\n{\"status\":\"ENAB\r\n"}, kHuge, true),
       ErrorReason::bad_response, "larger than the limit"},
      {"a Content-Length that lies low: only what it declares is read",
       raw({head + "Content-Length: " + std::to_string(json.size()) + "\r\n\r\n" + json}, kHuge),
       std::nullopt, ""},
      {"a Content-Length that lies high, within the limit: the peer closes early",
       raw({head + "Content-Length: 1000\r\n\r\n" + json}, 0), ErrorReason::bad_response,
       "closed mid-response"},
      {"a Content-Length that lies high, past the limit: refused at the header",
       raw({head + "Content-Length: " + std::to_string(kHuge) + "\r\n\r\n" + json}, 0),
       ErrorReason::bad_response, "larger than the limit"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    api.set(c.reply);
    CmekSourceOptions options;
    options.body_limit = kLimit;
    auto cfg = cmek_config(api);
    cfg.timeout = 20s;
    CmekSource source(cfg, 3600s, options);
    std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM := VmRSS
    const std::uint64_t before = status_bytes("VmRSS");
    const auto started = std::chrono::steady_clock::now();
    const auto result = source.poll();
    const auto took = std::chrono::steady_clock::now() - started;
    const std::uint64_t peak = status_bytes("VmHWM");
    INFO(result.error_message());
    INFO("peak RSS grew by " << (peak - before) / 1024 << " KiB");
    CHECK(took < 10s);
    REQUIRE(before > 0);
    CHECK(peak - before < 24 * 1024 * 1024);  // the 100 MB body would be 100-200 MB
    if (c.reason) {
      REQUIRE_FALSE(result.ok());
      CHECK(result.error->reason == *c.reason);
      CHECK(result.error_message().find(c.in_message) != std::string::npos);
    } else {
      CHECK(result.ok());
    }
  }
  api.set({200, cmek_cluster_json("ENABLED"), {}, false});
}
