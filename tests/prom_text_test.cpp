// The strict Prometheus text reader (issue 27): what /_status/vars bodies look like, and every way
// a hostile or broken body is refused with the line named, never a crash.
#include "sources/prom_text.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace {

using certwatch::sources::parse_prom_text;
using certwatch::sources::PromLimits;

const std::vector<std::string_view> kKeep{"security_certificate_expiration_client",
                                          "security_certificate_ttl_client"};

// The shape CockroachDB serves (HELP, TYPE, a parent and sql_user children, other families,
// histograms with le labels).
const std::string kRecorded =
    "# HELP sql_conns Number of open SQL connections\n"
    "# TYPE sql_conns gauge\n"
    "sql_conns{node_id=\"1\"} 3\n"
    "# HELP security_certificate_expiration_client Minimum expiration for client certificates, "
    "labeled by SQL user. 0 means no certificate or error.\n"
    "# TYPE security_certificate_expiration_client gauge\n"
    "security_certificate_expiration_client{node_id=\"1\"} 0\n"
    "security_certificate_expiration_client{node_id=\"1\",sql_user=\"app\"} 1.8e+09\n"
    "security_certificate_expiration_client{node_id=\"1\",sql_user=\"root\"} 1798761600\n"
    "# HELP security_certificate_ttl_client Seconds till expiration for client certificates\n"
    "# TYPE security_certificate_ttl_client gauge\n"
    "security_certificate_ttl_client{node_id=\"1\",sql_user=\"root\"} 359984\n"
    "# TYPE sql_service_latency histogram\n"
    "sql_service_latency_bucket{node_id=\"1\",le=\"+Inf\"} 12\n"
    "sql_service_latency_sum{node_id=\"1\"} NaN\n"
    "sql_service_latency_count{node_id=\"1\"} 12 1700000000000\n";

}  // namespace

TEST_CASE("a recorded-shape body keeps only the certificate families", "[prom_text]") {
  const auto parsed = parse_prom_text(kRecorded, kKeep);
  REQUIRE_FALSE(parsed.error);
  CHECK(parsed.lines == 15);
  REQUIRE(parsed.samples.size() == 4);
  CHECK(parsed.samples[0].name == "security_certificate_expiration_client");
  CHECK(parsed.samples[0].labels == certwatch::LabelPairs{{"node_id", "1"}});
  CHECK(parsed.samples[1].labels == certwatch::LabelPairs{{"node_id", "1"}, {"sql_user", "app"}});
  CHECK(parsed.samples[1].value == 1.8e9);
  CHECK(parsed.samples[2].value == 1798761600);
  CHECK(parsed.samples[3].name == "security_certificate_ttl_client");
  CHECK(parsed.samples[3].value == 359984);
  CHECK(parsed.families_seen == std::vector<std::string>{"security_certificate_expiration_client",
                                                         "security_certificate_ttl_client"});
}

TEST_CASE("label escapes and the optional parts of a sample line are read", "[prom_text]") {
  const std::string body =
      "security_certificate_expiration_client{sql_user=\"a\\\"b\\\\c\\nd\",} +1.5e9 -12\n"
      "security_certificate_ttl_client { sql_user = \"x\" } +Inf\n"
      "security_certificate_ttl_client{sql_user=\"y\"}\t-Inf\t\n"
      "\n"
      "# a plain comment\n"
      "security_certificate_ttl_client 7\r\n";
  const auto parsed = parse_prom_text(body, kKeep);
  REQUIRE_FALSE(parsed.error);
  REQUIRE(parsed.samples.size() == 4);
  CHECK(parsed.samples[0].labels[0].second == "a\"b\\c\nd");
  CHECK(parsed.samples[0].value == 1.5e9);
  CHECK(std::isinf(parsed.samples[1].value));
  CHECK(parsed.samples[2].value < 0);
  CHECK(parsed.samples[3].labels.empty());
  CHECK(parse_prom_text("", kKeep).samples.empty());
  CHECK_FALSE(parse_prom_text("", kKeep).error);
}

TEST_CASE("a body that is not Prometheus text is refused with its line", "[prom_text]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"<html><body>Login</body></html>\n", "line 1: expected a metric name"},
      {"{\"error\": \"not found\"}\n", "line 1: expected a metric name"},
      {"up 1\nsecurity_certificate_ttl_client{sql_user=\"a\"} 1", "line 2: truncated"},
      {"up 1\nup{a=\"b\\x\"} 1\n", "line 2: unknown escape"},
      {"up{a=\"b} 1\n", "line 1: a label value is not closed"},
      {"up{a=\"1\",a=\"2\"} 1\n", "line 1: label a given twice"},
      {"up{a=\"1\" b=\"2\"} 1\n", "line 1: expected , or }"},
      {"up{1a=\"1\"} 1\n", "line 1: expected a label name"},
      {"up\n", "line 1: expected a blank before the value"},
      {"up one\n", "line 1: the value \"one\" is no number"},
      {"up 0x10\n", "line 1: the value \"0x10\" is no number"},
      {"up infinity\n", "line 1: the value \"infinity\" is no number"},
      {"up 1 2 3\n", "line 1: unexpected text after the timestamp"},
      {"up 1 1.5\n", "line 1: the timestamp \"1.5\" is no integer"},
      {"# TYPE up gaug\n", "line 1: unknown metric type"},
      {"# HELP\n", "line 1: HELP without a metric name"},
      {"# TYPE up{x} gauge\n", "line 1: a bad metric name in TYPE"},
      {std::string("up{a=\"\xff\"} 1\n"), "line 1: a label value is not valid UTF-8"},
      {std::string("up 1\0\n", 6), "line 1: a NUL or CR byte"},
      {"security_certificate_ttl_client{sql_user=\"a\"} 1\n"
       "security_certificate_ttl_client{sql_user=\"a\"} 2\n",
       "line 2: the same series twice"},
  };
  for (const auto& [body, expected] : cases) {
    INFO(body);
    const auto parsed = parse_prom_text(body, kKeep);
    REQUIRE(parsed.error);
    CHECK(parsed.error->rfind(expected, 0) == 0);
    CHECK(parsed.samples.empty());
  }
}

TEST_CASE("the limits refuse a flood instead of holding it", "[prom_text]") {
  PromLimits limits;
  limits.max_kept_samples = 100;
  limits.max_line_bytes = 4096;
  limits.max_label_value_bytes = 64;
  std::string many;
  for (int i = 0; i < 101; ++i) {
    many += "security_certificate_ttl_client{sql_user=\"u" + std::to_string(i) + "\"} 1\n";
  }
  auto parsed = parse_prom_text(many, kKeep, limits);
  REQUIRE(parsed.error);
  CHECK(parsed.error->find("line 101: more than 100 samples") == 0);
  // The same flood of a family not kept costs nothing and is no error.
  std::string other = many;
  for (std::size_t at; (at = other.find("security_")) != std::string::npos;) {
    other.replace(at, 9, "other_");
  }
  CHECK_FALSE(parse_prom_text(other, kKeep, limits).error);
  parsed = parse_prom_text("up{a=\"" + std::string(5000, 'x') + "\"} 1\n", kKeep, limits);
  REQUIRE(parsed.error);
  CHECK(parsed.error->find("line 1: longer than 4096 bytes") == 0);
  parsed = parse_prom_text(
      "security_certificate_ttl_client{sql_user=\"" + std::string(65, 'x') + "\"} 1\n", kKeep,
      limits);
  REQUIRE(parsed.error);
  CHECK(parsed.error->find("longer than 64 bytes") != std::string::npos);
  std::string labels = "up{";
  for (int i = 0; i < 40; ++i) labels += "l" + std::to_string(i) + "=\"v\",";
  parsed = parse_prom_text(labels + "} 1\n", kKeep);
  REQUIRE(parsed.error);
  CHECK(parsed.error->find("more than 32 labels") != std::string::npos);
}

TEST_CASE("random and mutated bodies never crash the reader", "[prom_text]") {
  std::mt19937 random(27);
  const std::string alphabet = "ab_:{}=\",\\ \t\n#0123456789.eE+-NaInf\x01\xff";
  int refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string body = kRecorded;
    if (round % 2 == 0) {
      // Mutate the recorded body at a few places.
      for (int m = 0; m < 3; ++m) {
        body[random() % body.size()] = alphabet[random() % alphabet.size()];
      }
    } else {
      body.resize(random() % 200);
      for (char& c : body) c = alphabet[random() % alphabet.size()];
    }
    const auto parsed = parse_prom_text(body, kKeep);
    if (parsed.error) {
      ++refused;
      CHECK(parsed.samples.empty());
    }
  }
  CHECK(refused > 1000);  // the refusals are real, not an accident of the alphabet
}
