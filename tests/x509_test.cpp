#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "support/certgen.hpp"
#include "x509/parse.hpp"

namespace {

using certwatch::CertificateFacts;
using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::pem_encode;
using certwatch::testing::sha256_fingerprint;
using certwatch::x509::parse_der;
using certwatch::x509::parse_pem_bundle;
using certwatch::x509::ParseError;

// 2060-01-01T03:25:45Z: past 2049, so RFC 5280 requires GeneralizedTime.
constexpr std::int64_t kYear2060 = 2840140800 + 3 * 3600 + 25 * 60 + 45;
// 1969-01-01T00:00:05Z: before the epoch but still UTCTime.
constexpr std::int64_t kYear1969 = -365 * kDay + 5;
// 1949-12-31T23:59:59Z: before 1950, so GeneralizedTime.
constexpr std::int64_t kYear1949 = -631152001;

GeneratedCert make_ca(const std::string& cn) {
  CertSpec spec;
  spec.common_name = cn;
  spec.is_ca = true;
  return generate_cert(spec);
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The DER encoding of a time field: tag, length, then the ASCII digits.
std::string der_time(char tag, std::string_view digits) {
  std::string encoded{tag, static_cast<char>(digits.size())};
  encoded += digits;
  return encoded;
}

}  // namespace

TEST_CASE("a leaf certificate yields every fact", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  CertSpec spec;
  spec.common_name = "node";
  spec.serial = 0x0123456789abcdefULL;
  spec.not_before = 1700000000;
  spec.not_after = 1700000000 + 365 * kDay + 7;
  spec.dns_names = {"localhost", "node1.example.com"};
  spec.ip_addresses = {"127.0.0.1", "2001:db8::1"};
  const GeneratedCert leaf = generate_cert(spec, &ca);

  const auto bundle = parse_pem_bundle(leaf.cert_pem);
  CHECK_FALSE(bundle.error.has_value());
  CHECK(bundle.detail.empty());
  REQUIRE(bundle.certificates.size() == 1);
  CHECK(bundle.indices == std::vector<int>{0});
  const CertificateFacts& facts = bundle.certificates[0];
  CHECK(facts.subject_cn == "node");
  CHECK(facts.issuer_cn == "Cockroach CA");
  CHECK(facts.serial_hex == "123456789abcdef");  // the leading zero nibble is dropped
  CHECK(facts.fingerprint_sha256.size() == 64);
  CHECK(facts.fingerprint_sha256 == sha256_fingerprint(leaf));
  CHECK(facts.not_before == 1700000000);
  CHECK(facts.not_after == 1700000000 + 365 * kDay + 7);
  CHECK_FALSE(facts.is_ca);
  CHECK(facts.dns_names == std::vector<std::string>{"localhost", "node1.example.com"});
  CHECK(facts.ip_addresses == std::vector<std::string>{"127.0.0.1", "2001:db8::1"});
}

TEST_CASE("a CA certificate is reported as a CA with no SANs", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  const auto bundle = parse_pem_bundle(ca.cert_pem);
  REQUIRE(bundle.certificates.size() == 1);
  const CertificateFacts& facts = bundle.certificates[0];
  CHECK(facts.is_ca);
  CHECK(facts.subject_cn == "Cockroach CA");
  CHECK(facts.issuer_cn == "Cockroach CA");
  CHECK(facts.dns_names.empty());
  CHECK(facts.ip_addresses.empty());
  CHECK(facts.fingerprint_sha256 == sha256_fingerprint(ca));
}

TEST_CASE("serials are lowercase hex without leading zeros", "[x509]") {
  CertSpec spec;
  spec.serial = 0x0a;
  CHECK(parse_pem_bundle(generate_cert(spec).cert_pem).certificates.at(0).serial_hex == "a");
  // The DER of this serial carries a leading 0x00 byte to stay positive.
  spec.serial = 0x8000000000000001ULL;
  CHECK(parse_pem_bundle(generate_cert(spec).cert_pem).certificates.at(0).serial_hex ==
        "8000000000000001");
}

TEST_CASE("names without a CN give empty subject and issuer CNs", "[x509]") {
  CertSpec spec;
  spec.common_name = "";
  const auto facts = parse_der(generate_cert(spec).der);
  REQUIRE(facts.has_value());
  CHECK(facts->subject_cn.empty());
  CHECK(facts->issuer_cn.empty());
}

TEST_CASE("a bundle keeps file order and indices", "[x509]") {
  const GeneratedCert first = make_ca("first CA");
  const GeneratedCert second = make_ca("second CA");
  const auto bundle = parse_pem_bundle(first.cert_pem + second.cert_pem);
  CHECK_FALSE(bundle.error.has_value());
  REQUIRE(bundle.certificates.size() == 2);
  CHECK(bundle.indices == std::vector<int>{0, 1});
  CHECK(bundle.certificates[0].subject_cn == "first CA");
  CHECK(bundle.certificates[1].subject_cn == "second CA");
  CHECK(bundle.certificates[0].fingerprint_sha256 == sha256_fingerprint(first));
  CHECK(bundle.certificates[1].fingerprint_sha256 == sha256_fingerprint(second));
}

TEST_CASE("CRLF line endings are accepted", "[x509]") {
  const GeneratedCert first = make_ca("first CA");
  const GeneratedCert second = make_ca("second CA");
  const std::string crlf = replace_all(first.cert_pem + second.cert_pem, "\n", "\r\n");
  REQUIRE(contains(crlf, "\r\n"));
  const auto bundle = parse_pem_bundle(crlf);
  CHECK_FALSE(bundle.error.has_value());
  REQUIRE(bundle.certificates.size() == 2);
  CHECK(bundle.certificates[0].subject_cn == "first CA");
  CHECK(bundle.certificates[1].subject_cn == "second CA");
}

TEST_CASE("text before, between and after blocks is ignored", "[x509]") {
  const GeneratedCert first = make_ca("first CA");
  const GeneratedCert second = make_ca("second CA");
  const std::string text = "subject=CN = first CA\nissuer=CN = first CA\n" + first.cert_pem +
                           "\n# a comment, with ----- dashes\n" + second.cert_pem +
                           "trailing words without a newline";
  const auto bundle = parse_pem_bundle(text);
  CHECK_FALSE(bundle.error.has_value());
  REQUIRE(bundle.certificates.size() == 2);
  CHECK(bundle.indices == std::vector<int>{0, 1});
  CHECK(bundle.certificates[1].subject_cn == "second CA");
}

TEST_CASE("other block types are skipped and not counted", "[x509]") {
  const GeneratedCert cert = generate_cert(CertSpec{});
  REQUIRE(contains(cert.key_pem, "-----BEGIN PRIVATE KEY-----"));
  const std::string garbage_key =
      "-----BEGIN EC PRIVATE KEY-----\nnot base64 at all!\n-----END EC PRIVATE KEY-----\n";
  const auto bundle = parse_pem_bundle(cert.key_pem + garbage_key + cert.cert_pem);
  CHECK_FALSE(bundle.error.has_value());
  REQUIRE(bundle.certificates.size() == 1);
  CHECK(bundle.indices == std::vector<int>{0});
  CHECK(bundle.certificates[0].subject_cn == "node");
}

TEST_CASE("notAfter past 2049 is read from GeneralizedTime", "[x509]") {
  CertSpec spec;
  spec.not_after = kYear2060;
  const GeneratedCert cert = generate_cert(spec);
  // Guard the premise: the generator really wrote a GeneralizedTime (tag 0x18).
  REQUIRE(contains(cert.der, der_time('\x18', "20600101032545Z")));
  const auto bundle = parse_pem_bundle(cert.cert_pem);
  REQUIRE(bundle.certificates.size() == 1);
  CHECK(bundle.certificates[0].not_after == kYear2060);
}

TEST_CASE("notBefore before 1970 comes out negative", "[x509]") {
  SECTION("UTCTime in 1969") {
    CertSpec spec;
    spec.not_before = kYear1969;
    const GeneratedCert cert = generate_cert(spec);
    REQUIRE(contains(cert.der, der_time('\x17', "690101000005Z")));
    const auto facts = parse_der(cert.der);
    REQUIRE(facts.has_value());
    CHECK(facts->not_before == kYear1969);
  }
  SECTION("GeneralizedTime in 1949") {
    CertSpec spec;
    spec.not_before = kYear1949;
    const GeneratedCert cert = generate_cert(spec);
    REQUIRE(contains(cert.der, der_time('\x18', "19491231235959Z")));
    const auto facts = parse_der(cert.der);
    REQUIRE(facts.has_value());
    CHECK(facts->not_before == kYear1949);
  }
}

TEST_CASE("input without a CERTIFICATE block is no_certificate", "[x509]") {
  const GeneratedCert cert = generate_cert(CertSpec{});
  const std::string input = GENERATE_COPY(
      std::string(), std::string("hello, this is not a certificate\n"),
      std::string("\x00\xff\x30\x82", 4), cert.key_pem, std::string("-----END CERTIFICATE-----\n"),
      std::string(
          "-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n"));
  const auto bundle = parse_pem_bundle(input);
  CHECK(bundle.error == ParseError::no_certificate);
  CHECK(bundle.certificates.empty());
  CHECK(bundle.indices.empty());
  CHECK_FALSE(bundle.detail.empty());
}

TEST_CASE("truncated blocks are bad_pem", "[x509]") {
  const GeneratedCert first = make_ca("first CA");
  const GeneratedCert second = make_ca("second CA");
  const std::string& pem = second.cert_pem;
  const std::string half = pem.substr(0, pem.size() / 2);
  REQUIRE(contains(half, "-----BEGIN CERTIFICATE-----"));
  REQUIRE_FALSE(contains(half, "-----END"));

  SECTION("BEGIN with nothing after it") {
    const auto bundle = parse_pem_bundle("-----BEGIN CERTIFICATE-----\n");
    CHECK(bundle.error == ParseError::bad_pem);
    CHECK(bundle.certificates.empty());
    CHECK(contains(bundle.detail, "block 0"));
  }
  SECTION("a file cut in the middle of the base64, after a good block") {
    const auto bundle = parse_pem_bundle(first.cert_pem + half);
    CHECK(bundle.error == ParseError::bad_pem);
    REQUIRE(bundle.certificates.size() == 1);
    CHECK(bundle.indices == std::vector<int>{0});
    CHECK(bundle.certificates[0].subject_cn == "first CA");
    CHECK(contains(bundle.detail, "block 1"));
    CHECK(contains(bundle.detail, "END"));
  }
  SECTION("a block cut mid-base64 that still has its END line") {
    const auto bundle = parse_pem_bundle(half + "\n-----END CERTIFICATE-----\n" + first.cert_pem);
    CHECK(bundle.error == ParseError::bad_pem);
    REQUIRE(bundle.certificates.size() == 1);
    CHECK(bundle.indices == std::vector<int>{1});
    CHECK(bundle.certificates[0].subject_cn == "first CA");
  }
  SECTION("a block cut short by the next BEGIN keeps the next block") {
    const auto bundle = parse_pem_bundle(half + first.cert_pem);
    CHECK(bundle.error == ParseError::bad_pem);
    REQUIRE(bundle.certificates.size() == 1);
    CHECK(bundle.indices == std::vector<int>{1});
    CHECK(bundle.certificates[0].subject_cn == "first CA");
    CHECK(contains(bundle.detail, "block 0"));
  }
}

TEST_CASE("a bad block between two good ones keeps the good ones and their indices", "[x509]") {
  const GeneratedCert first = make_ca("first CA");
  const GeneratedCert third = make_ca("third CA");
  // Each broken block and the reason the detail must give for it.
  const auto [bad_block, reason] = GENERATE(table<std::string, std::string>({
      {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "does not decode"},
      {"-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n", "invalid base64"},
      {"-----BEGIN CERTIFICATE-----\nYQ=a\n-----END CERTIFICATE-----\n", "padding"},
      {"-----BEGIN CERTIFICATE-----\nYWJjZA\n-----END CERTIFICATE-----\n", "multiple of 4"},
      {"-----BEGIN CERTIFICATE-----\n\r\n-----END CERTIFICATE-----\n", "empty"},
      {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n", "no END CERTIFICATE"},
  }));
  const auto bundle = parse_pem_bundle(first.cert_pem + bad_block + third.cert_pem);
  CHECK(bundle.error == ParseError::bad_pem);
  REQUIRE(bundle.certificates.size() == 2);
  CHECK(bundle.indices == std::vector<int>{0, 2});
  CHECK(bundle.certificates[0].subject_cn == "first CA");
  CHECK(bundle.certificates[1].subject_cn == "third CA");
  CHECK(contains(bundle.detail, "block 1"));
  CHECK(contains(bundle.detail, reason));
}

TEST_CASE("trailing bytes after the DER make the block bad", "[x509]") {
  const GeneratedCert cert = generate_cert(CertSpec{});
  const std::string padded = cert.der + std::string("\x00\x01", 2);
  // Guard the premise: without the extra bytes the same encoding path parses.
  REQUIRE(parse_pem_bundle(pem_encode(cert.der)).certificates.size() == 1);

  const auto bundle = parse_pem_bundle(pem_encode(padded));
  CHECK(bundle.error == ParseError::bad_pem);
  CHECK(bundle.certificates.empty());
  CHECK(contains(bundle.detail, "trailing"));
  CHECK_FALSE(parse_der(padded).has_value());
}

TEST_CASE("parse_der reads one DER certificate", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  CertSpec spec;
  spec.common_name = "root";
  spec.serial = 42;
  spec.not_before = 1600000000;
  spec.not_after = 1900000000;
  spec.ip_addresses = {"10.1.2.3", "::1"};
  const GeneratedCert client = generate_cert(spec, &ca);

  const auto facts = parse_der(client.der);
  REQUIRE(facts.has_value());
  CHECK(facts->subject_cn == "root");
  CHECK(facts->issuer_cn == "Cockroach CA");
  CHECK(facts->serial_hex == "2a");
  CHECK(facts->fingerprint_sha256 == sha256_fingerprint(client));
  CHECK(facts->not_before == 1600000000);
  CHECK(facts->not_after == 1900000000);
  CHECK(facts->ip_addresses == std::vector<std::string>{"10.1.2.3", "::1"});
  CHECK(facts->dns_names.empty());

  CHECK_FALSE(parse_der("").has_value());
  CHECK_FALSE(parse_der("not DER").has_value());
  CHECK_FALSE(parse_der(std::string_view(client.der).substr(0, client.der.size() - 1)).has_value());
}

TEST_CASE("many bad blocks give a bounded detail", "[x509]") {
  std::string input;
  for (int i = 0; i < 50; ++i)
    input += "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
  const auto bundle = parse_pem_bundle(input);
  CHECK(bundle.error == ParseError::bad_pem);
  CHECK(bundle.certificates.empty());
  CHECK(contains(bundle.detail, "47 more"));
  CHECK(bundle.detail.size() < 500);
}

TEST_CASE("many unterminated BEGIN markers are handled in linear time", "[x509]") {
  // A quadratic scan would take minutes here; the CTest timeout turns that into a failure.
  std::string input;
  for (int i = 0; i < 200000; ++i) input += "-----BEGIN CERTIFICATE-----\n";
  const auto bundle = parse_pem_bundle(input);
  CHECK(bundle.error == ParseError::bad_pem);
  CHECK(bundle.certificates.empty());
}
