#include <openssl/err.h>
#include <openssl/pem.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/openssl_handles.hpp"
#include "support/certgen.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"
#include "x509/chain.hpp"
#include "x509/fast_parse.hpp"
#include "x509/parse.hpp"
#include "x509/verify.hpp"

namespace {

using certwatch::CertificateFacts;
using certwatch::testing::CertSpec;
using certwatch::testing::ExtendedKeyUsage;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::KeyAlgorithm;
using certwatch::testing::KeyPemFormat;
using certwatch::testing::pem_encode;
using certwatch::testing::read_file;
using certwatch::testing::sha256_fingerprint;
using certwatch::testing::TempDir;
using certwatch::testing::write_key_file;
using certwatch::x509::ChainCause;
using certwatch::x509::ChainOptions;
using certwatch::x509::issued_by;
using certwatch::x509::parse_der;
using certwatch::x509::parse_pem_bundle;
using certwatch::x509::ParseError;
using certwatch::x509::verify_chain_der;

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

CertificateFacts facts_of(const GeneratedCert& cert) {
  auto facts = parse_der(cert.der);
  REQUIRE(facts.has_value());
  return *facts;
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

using namespace std::string_view_literals;
struct Asn1TimeFree {
  void operator()(ASN1_TIME* time) const { ASN1_TIME_free(time); }
};
struct X509NameFree {
  void operator()(X509_NAME* name) const { X509_NAME_free(name); }
};
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Asn1TimeFree>;
using X509NamePtr = std::unique_ptr<X509_NAME, X509NameFree>;

// `cert` changed by `edit`, signed again by `signer` with `digest`: certificates certgen does not
// make (negative serials, chosen time encodings, odd names).
std::string resigned_der(const GeneratedCert& cert, const GeneratedCert& signer,
                         const std::function<void(X509*)>& edit,
                         const EVP_MD* digest = EVP_sha256()) {
  const certwatch::openssl::X509Ptr copy(X509_dup(static_cast<X509*>(cert.x509.get())));
  REQUIRE(copy != nullptr);
  edit(copy.get());
  REQUIRE(X509_sign(copy.get(), static_cast<EVP_PKEY*>(signer.key.get()), digest) > 0);
  std::string der(static_cast<std::size_t>(i2d_X509(copy.get(), nullptr)), '\0');
  auto* cursor = reinterpret_cast<unsigned char*>(der.data());
  REQUIRE(i2d_X509(copy.get(), &cursor) == static_cast<int>(der.size()));
  return der;
}

// The DER reader against the OpenSSL path on one input: when the reader accepts, OpenSSL accepts
// with every fact equal, and the parser as a whole answers as OpenSSL does. Returns whether the
// reader accepted.
bool paths_agree(std::string_view der) {
  std::string error;
  const auto oracle = certwatch::x509::read_der_openssl(der, error);
  const auto fast = certwatch::x509::read_der_fast(der);
  if (fast) {
    REQUIRE(oracle.has_value());
    REQUIRE(*fast == *oracle);
  }
  auto combined = parse_der(der);
  REQUIRE(combined.has_value() == oracle.has_value());
  if (combined) {
    CHECK(combined->der == der);
    combined->der.clear();
    REQUIRE(*combined == *oracle);
  }
  ERR_clear_error();
  return fast.has_value();
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

TEST_CASE("extended key usage facts follow the extension", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  struct Case {
    ExtendedKeyUsage usage;
    bool has_eku, server, client;
  };
  const Case c = GENERATE(Case{ExtendedKeyUsage::none, false, false, false},
                          Case{ExtendedKeyUsage::server_auth, true, true, false},
                          Case{ExtendedKeyUsage::client_auth, true, false, true},
                          Case{ExtendedKeyUsage::both, true, true, true},
                          Case{ExtendedKeyUsage::any, true, true, true});
  CertSpec spec;
  spec.extended_key_usage = c.usage;
  const CertificateFacts facts = facts_of(generate_cert(spec, &ca));
  CHECK(facts.has_eku == c.has_eku);
  CHECK(facts.eku_server_auth == c.server);
  CHECK(facts.eku_client_auth == c.client);
}

TEST_CASE("a default leaf has both TLS usages and a default CA has no EKU", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  const CertificateFacts leaf = facts_of(generate_cert(CertSpec{}, &ca));
  CHECK(leaf.has_eku);
  CHECK(leaf.eku_server_auth);
  CHECK(leaf.eku_client_auth);
  const CertificateFacts ca_facts = facts_of(ca);
  CHECK_FALSE(ca_facts.has_eku);
  CHECK_FALSE(ca_facts.eku_server_auth);
  CHECK_FALSE(ca_facts.eku_client_auth);
}

TEST_CASE("key type and size are reported for each key algorithm", "[x509]") {
  struct Case {
    KeyAlgorithm algorithm;
    int bits;
    std::string_view type;
    int reported_bits;
  };
  const Case c = GENERATE(
      Case{KeyAlgorithm::ec, 256, "ec", 256}, Case{KeyAlgorithm::ec, 384, "ec", 384},
      Case{KeyAlgorithm::rsa, 1024, "rsa", 1024}, Case{KeyAlgorithm::rsa, 2048, "rsa", 2048},
      Case{KeyAlgorithm::rsa, 4096, "rsa", 4096}, Case{KeyAlgorithm::dsa, 2048, "dsa", 2048},
      // OpenSSL 3.0 reports Ed25519 as 256 bits (the key's size).
      Case{KeyAlgorithm::ed25519, 0, "ed25519", 256});
  CertSpec spec;
  spec.key_algorithm = c.algorithm;
  spec.key_bits = c.bits;
  const CertificateFacts facts = facts_of(generate_cert(spec));
  CHECK(facts.key_type == c.type);
  CHECK(facts.key_bits == c.reported_bits);
}

TEST_CASE("the signature digest is named in lowercase", "[x509]") {
  CertSpec issuer_spec;
  issuer_spec.common_name = "RSA CA";
  issuer_spec.is_ca = true;
  issuer_spec.key_algorithm = KeyAlgorithm::rsa;
  issuer_spec.key_bits = 2048;
  const GeneratedCert rsa_ca = generate_cert(issuer_spec);
  CHECK(facts_of(rsa_ca).signature_hash == "sha256");

  const std::string digest = GENERATE(as<std::string>(), "sha256", "sha1", "sha384", "md5");
  CertSpec spec;
  spec.signature_digest = digest;
  CHECK(facts_of(generate_cert(spec, &rsa_ca)).signature_hash == digest);
}

TEST_CASE("an ECDSA signature names its digest and an Ed25519 one none", "[x509]") {
  CertSpec spec;
  spec.signature_digest = "sha1";
  CHECK(facts_of(generate_cert(spec)).signature_hash == "sha1");
  spec.key_algorithm = KeyAlgorithm::ed25519;
  CHECK(facts_of(generate_cert(spec)).signature_hash.empty());
}

TEST_CASE("a certificate with a malformed extension still names its digest", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  const GeneratedCert leaf = generate_cert(CertSpec{}, &ca);
  // A second basicConstraints makes OpenSSL mark the certificate invalid; re-signed with SHA-1.
  const std::string der = resigned_der(
      leaf, ca,
      [](X509* copy) {
        const int position = X509_get_ext_by_NID(copy, NID_basic_constraints, -1);
        REQUIRE(X509_add_ext(copy, X509_get_ext(copy, position), -1) == 1);
      },
      EVP_sha1());
  // The premise: decoded, OpenSSL marks it invalid (so a parser that trusted only valid
  // certificates' caches would lose the digest).
  const auto* input = reinterpret_cast<const unsigned char*>(der.data());
  const certwatch::openssl::X509Ptr decoded(
      d2i_X509(nullptr, &input, static_cast<long>(der.size())));
  REQUIRE(decoded != nullptr);
  REQUIRE((X509_get_extension_flags(decoded.get()) & EXFLAG_INVALID) != 0);
  ERR_clear_error();

  const auto facts = parse_der(der);
  REQUIRE(facts.has_value());
  CHECK(facts->signature_hash == "sha1");
}

TEST_CASE("self_signed needs matching names and a signature by its own key", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  CHECK(facts_of(ca).self_signed);
  CHECK_FALSE(facts_of(generate_cert(CertSpec{}, &ca)).self_signed);
  // Subject and issuer names match, but another key signed it: self-issued, not self-signed.
  CertSpec same_name;
  same_name.common_name = "Cockroach CA";
  same_name.is_ca = true;
  const CertificateFacts impostor = facts_of(generate_cert(same_name, &ca));
  CHECK(impostor.subject_cn == impostor.issuer_cn);
  CHECK_FALSE(impostor.self_signed);
  // A self-signed leaf counts too.
  CHECK(facts_of(generate_cert(CertSpec{})).self_signed);
}

TEST_CASE("issuer_dn is the RFC 2253 issuer name with UTF-8 kept", "[x509]") {
  const auto [cn, expected] = GENERATE(table<std::string, std::string>({
      {"Cockroach CA", "CN=Cockroach CA"},
      {"Caf\xc3\xa9 CA", "CN=Caf\xc3\xa9 CA"},
      {"a,b+c", "CN=a\\,b\\+c"},
  }));
  const GeneratedCert ca = make_ca(cn);
  CHECK(facts_of(ca).issuer_dn == expected);
  const CertificateFacts leaf = facts_of(generate_cert(CertSpec{}, &ca));
  CHECK(leaf.issuer_dn == expected);
}

TEST_CASE("the facts carry the certificate's DER from PEM and from DER", "[x509]") {
  const GeneratedCert first = make_ca("first CA");
  const GeneratedCert second = generate_cert(CertSpec{}, &first);
  const auto bundle = parse_pem_bundle(first.cert_pem + second.cert_pem);
  REQUIRE(bundle.certificates.size() == 2);
  CHECK(bundle.certificates[0].der == first.der);
  CHECK(bundle.certificates[1].der == second.der);
  CHECK(facts_of(second).der == second.der);
}

TEST_CASE("issued_by needs the right names and the issuer's signature", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  const GeneratedCert other_ca_same_name = make_ca("Cockroach CA");
  const GeneratedCert leaf = generate_cert(CertSpec{}, &ca);
  ERR_clear_error();
  CHECK(issued_by(leaf.der, ca.der));
  CHECK(issued_by(ca.der, ca.der));
  CHECK_FALSE(issued_by(leaf.der, other_ca_same_name.der));
  CHECK_FALSE(issued_by(ca.der, leaf.der));
  CHECK_FALSE(issued_by("garbage", ca.der));
  CHECK_FALSE(issued_by(leaf.der, "garbage"));
  CHECK_FALSE(issued_by("", ""));
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("issued_by rejects a subject whose signature was altered", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  const GeneratedCert leaf = generate_cert(CertSpec{}, &ca);
  // The signature ends the DER: changing its last byte keeps every name and key identifier, so
  // only the signature check can tell.
  std::string altered = leaf.der;
  altered.back() = static_cast<char>(altered.back() ^ 0x01);
  REQUIRE(parse_der(altered).has_value());
  CHECK(issued_by(leaf.der, ca.der));
  CHECK_FALSE(issued_by(altered, ca.der));
  const auto outcome = verify_chain_der(altered, {}, std::vector<std::string>{ca.der});
  CHECK(outcome.failure == ChainCause::bad_signature);
  CHECK(outcome.openssl_error == "certificate signature failure");
}

TEST_CASE("IssuerKey checks signatures without decoding the subject, as issued_by does", "[x509]") {
  using certwatch::testing::KeyAlgorithm;
  const GeneratedCert ca = make_ca("Cockroach CA");
  const GeneratedCert stranger = make_ca("Cockroach CA");
  CertSpec rsa_spec;
  rsa_spec.key_algorithm = KeyAlgorithm::rsa;
  rsa_spec.key_bits = 2048;
  rsa_spec.is_ca = true;
  rsa_spec.common_name = "RSA CA";
  const GeneratedCert rsa_ca = generate_cert(rsa_spec);
  CertSpec sha1_leaf;
  sha1_leaf.signature_digest = "sha1";
  const GeneratedCert leaf = generate_cert(CertSpec{}, &ca);
  const GeneratedCert by_rsa = generate_cert(sha1_leaf, &rsa_ca);
  std::string altered = leaf.der;
  altered.back() = static_cast<char>(altered.back() ^ 0x01);
  ERR_clear_error();
  const auto key = certwatch::x509::IssuerKey::from_der(ca.der);
  const auto rsa_key = certwatch::x509::IssuerKey::from_der(rsa_ca.der);
  REQUIRE(key);
  REQUIRE(rsa_key);
  CHECK(key->signed_certificate(leaf.der) == true);
  CHECK(key->signed_certificate(altered) == false);
  CHECK(certwatch::x509::IssuerKey::from_der(stranger.der)->signed_certificate(leaf.der) == false);
  CHECK(rsa_key->signed_certificate(by_rsa.der) == true);  // RSA, SHA-1
  CHECK(rsa_key->signed_certificate(leaf.der) != true);    // another key type: false or unknown
  CHECK(key->signed_certificate("garbage") == std::nullopt);
  CHECK(key->signed_certificate(leaf.der + "x") == std::nullopt);  // trailing bytes
  CHECK(certwatch::x509::IssuerKey::from_der("garbage") == nullptr);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("verify_chain accepts a good chain at any time and names what is wrong otherwise",
          "[x509]") {
  const std::int64_t now = certwatch::testing::unix_now();
  const GeneratedCert ca = make_ca("Cockroach CA");
  const GeneratedCert unrelated_ca = make_ca("Other CA");
  CertSpec spec;
  spec.not_before = now - 10 * kDay;
  spec.not_after = now - 5 * kDay;  // expired: time is the expiry states' business
  const GeneratedCert leaf = generate_cert(spec, &ca);
  const std::vector<std::string> anchors{ca.der};
  ERR_clear_error();

  for (const bool fast : {true, false}) {
    INFO("fast path " << fast);
    const ChainOptions options{fast};
    const auto good = verify_chain_der(leaf.der, {}, anchors, options);
    CHECK_FALSE(good.failure);
    CHECK(good.fast == fast);
    REQUIRE(good.links.size() == 1);
    CHECK(good.links[0].size() == 1);
    CHECK(verify_chain_der(leaf.der, {}, std::vector<std::string>{unrelated_ca.der}, options)
              .failure == ChainCause::unknown_issuer);
    CHECK(verify_chain_der(leaf.der, {}, {}, options).failure == ChainCause::unknown_issuer);
    // An unrelated CA in the bundle changes nothing, and a CA that does not decode is skipped.
    CHECK_FALSE(verify_chain_der(leaf.der, {},
                                 std::vector<std::string>{unrelated_ca.der, "junk", ca.der},
                                 options)
                    .failure);
    CHECK(verify_chain_der("junk", {}, anchors, options).failure == ChainCause::malformed);
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("verify_chain ignores extended key usage", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  CertSpec spec;
  spec.extended_key_usage = GENERATE(ExtendedKeyUsage::server_auth, ExtendedKeyUsage::client_auth);
  const GeneratedCert leaf = generate_cert(spec, &ca);
  CHECK_FALSE(verify_chain_der(leaf.der, {}, std::vector<std::string>{ca.der}).failure);
}

TEST_CASE("verify_chain finds the old CA of a rotated bundle", "[x509]") {
  // After `cockroach cert create-ca --overwrite` the bundle holds the new CA and the old one under
  // the same name; a node certificate not yet re-issued chains to the old one.
  const GeneratedCert old_ca = make_ca("Cockroach CA");
  const GeneratedCert new_ca = make_ca("Cockroach CA");
  const GeneratedCert old_leaf = generate_cert(CertSpec{}, &old_ca);
  const GeneratedCert new_leaf = generate_cert(CertSpec{}, &new_ca);
  const std::vector<std::string> bundle{new_ca.der, old_ca.der};
  CHECK_FALSE(verify_chain_der(old_leaf.der, {}, bundle).failure);
  CHECK_FALSE(verify_chain_der(new_leaf.der, {}, bundle).failure);
  // Same name, another key: the authority key id tells the CAs apart.
  CHECK(verify_chain_der(old_leaf.der, {}, std::vector<std::string>{new_ca.der}).failure ==
        ChainCause::key_id_mismatch);
}

TEST_CASE("verify_chain takes the intermediates that travel with the leaf", "[x509]") {
  const GeneratedCert root = make_ca("Root CA");
  CertSpec intermediate_spec;
  intermediate_spec.common_name = "Intermediate CA";
  intermediate_spec.is_ca = true;
  const GeneratedCert intermediate = generate_cert(intermediate_spec, &root);
  const GeneratedCert leaf = generate_cert(CertSpec{}, &intermediate);
  const std::vector<std::string> roots{root.der};
  const std::vector<std::string> intermediates{intermediate.der};
  // In the CA file (an anchor of its own), or after the leaf in its file: both verify.
  CHECK_FALSE(verify_chain_der(leaf.der, {}, intermediates).failure);
  CHECK_FALSE(
      verify_chain_der(leaf.der, {}, std::vector<std::string>{root.der, intermediate.der}).failure);
  const auto carried = verify_chain_der(leaf.der, intermediates, roots);
  CHECK_FALSE(carried.failure);
  CHECK_FALSE(carried.fast);
  CHECK(carried.links.size() == 2);
  CHECK(verify_chain_der(leaf.der, {}, roots).failure == ChainCause::unknown_issuer);
}

TEST_CASE("parsing leaves the OpenSSL error queue empty", "[x509]") {
  ERR_clear_error();
  const auto bundle = parse_pem_bundle(
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + make_ca("CA").cert_pem);
  CHECK(bundle.certificates.size() == 1);
  CHECK_FALSE(parse_der("not DER").has_value());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("write_key_file writes the certificate's key in either PEM form", "[x509]") {
  const auto [algorithm, bits, traditional_label] = GENERATE(table<KeyAlgorithm, int, std::string>({
      {KeyAlgorithm::ec, 256, "-----BEGIN EC PRIVATE KEY-----"},
      {KeyAlgorithm::rsa, 2048, "-----BEGIN RSA PRIVATE KEY-----"},
  }));
  const auto [format, label] = GENERATE_COPY(table<KeyPemFormat, std::string>({
      {KeyPemFormat::pkcs8, "-----BEGIN PRIVATE KEY-----"},
      {KeyPemFormat::traditional, traditional_label},
  }));
  CertSpec spec;
  spec.key_algorithm = algorithm;
  spec.key_bits = bits;
  const GeneratedCert cert = generate_cert(spec);
  const TempDir dir;
  const std::filesystem::path path = write_key_file(dir, "certs/node.key", cert, format);
  CHECK(path == dir.path() / "certs/node.key");
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));

  const std::string pem = read_file(path);
  CHECK(contains(pem, label));
  // The key read back is the private half of the certificate's public key.
  const certwatch::openssl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  const certwatch::openssl::PkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(key != nullptr);
  const auto* der = reinterpret_cast<const unsigned char*>(cert.der.data());
  const certwatch::openssl::X509Ptr x509(
      d2i_X509(nullptr, &der, static_cast<long>(cert.der.size())));
  REQUIRE(x509 != nullptr);
  CHECK(X509_check_private_key(x509.get(), key.get()) == 1);
}

TEST_CASE("the DER reader equals the OpenSSL path on every kind of certificate", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  struct Kind {
    const char* name;
    KeyAlgorithm algorithm;
    int bits;
    bool reader_reads_it;  // false: the reader leaves it to OpenSSL on purpose
  };
  const Kind kinds[] = {
      {"P-256", KeyAlgorithm::ec, 256, true},      {"P-384", KeyAlgorithm::ec, 384, true},
      {"RSA-2048", KeyAlgorithm::rsa, 2048, true}, {"RSA-4096", KeyAlgorithm::rsa, 4096, true},
      {"DSA", KeyAlgorithm::dsa, 2048, false},     {"Ed25519", KeyAlgorithm::ed25519, 0, false},
  };
  for (const Kind& kind : kinds) {
    CAPTURE(kind.name);
    CertSpec spec;
    spec.key_algorithm = kind.algorithm;
    spec.key_bits = kind.bits;
    spec.dns_names = {"node1.example.internal", "localhost"};
    spec.ip_addresses = {"127.0.0.1", "::1", "10.0.0.7"};
    const GeneratedCert leaf = generate_cert(spec, &ca);
    CHECK(paths_agree(leaf.der) == kind.reader_reads_it);
  }
  const ExtendedKeyUsage usages[] = {ExtendedKeyUsage::none,        ExtendedKeyUsage::server_auth,
                                     ExtendedKeyUsage::client_auth, ExtendedKeyUsage::both,
                                     ExtendedKeyUsage::any,         ExtendedKeyUsage::by_role};
  for (const ExtendedKeyUsage usage : usages) {
    CertSpec spec;
    spec.extended_key_usage = usage;
    CHECK(paths_agree(generate_cert(spec, &ca).der));
  }
  for (const char* digest : {"sha1", "sha384", "sha512"}) {
    CertSpec spec;
    spec.signature_digest = digest;
    CHECK(paths_agree(generate_cert(spec, &ca).der));
  }
  // Self-issued CAs go to OpenSSL, which checks their signature with their own key.
  CHECK_FALSE(paths_agree(ca.der));
  CertSpec intermediate;
  intermediate.common_name = "Intermediate CA";
  intermediate.is_ca = true;
  CHECK(paths_agree(generate_cert(intermediate, &ca).der));
  CertSpec no_cn;
  no_cn.common_name = "";
  CHECK(paths_agree(generate_cert(no_cn, &ca).der));
}

TEST_CASE("the DER reader equals the OpenSSL path on weird but valid certificates", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  const GeneratedCert leaf = generate_cert(CertSpec{}, &ca);
  const auto set_times = [](ASN1_TIME* not_before, ASN1_TIME* not_after) {
    return [not_before, not_after](X509* cert) {
      REQUIRE(X509_set1_notBefore(cert, not_before) == 1);
      REQUIRE(X509_set1_notAfter(cert, not_after) == 1);
    };
  };
  SECTION("negative serial") {
    const std::string der = resigned_der(leaf, ca, [](X509* cert) {
      REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert), -4242) == 1);
    });
    paths_agree(der);
    CHECK(parse_der(der)->serial_hex == "-1092");
  }
  SECTION("UTCTime until 2049 and GeneralizedTime from 2050") {
    // 2049-12-31T23:59:59Z and 2050-01-01T00:00:00Z: the last UTCTime second and the first
    // GeneralizedTime one.
    const Asn1TimePtr last_utc(ASN1_TIME_set(nullptr, 2524607999));
    const Asn1TimePtr first_generalized(ASN1_TIME_set(nullptr, 2524608000));
    const std::string der =
        resigned_der(leaf, ca, set_times(last_utc.get(), first_generalized.get()));
    REQUIRE(contains(der, der_time('\x17', "491231235959Z")));
    REQUIRE(contains(der, der_time('\x18', "20500101000000Z")));
    CHECK(paths_agree(der));
    CHECK(parse_der(der)->not_after == 2524608000);
  }
  SECTION("GeneralizedTime before 2050 (not DER, accepted by OpenSSL)") {
    const Asn1TimePtr early(ASN1_GENERALIZEDTIME_set(nullptr, 1700000000));
    const Asn1TimePtr late(ASN1_TIME_set(nullptr, 1800000000));
    const std::string der = resigned_der(leaf, ca, set_times(early.get(), late.get()));
    REQUIRE(contains(der, der_time('\x18', "20231114221320Z")));
    CHECK(paths_agree(der));
  }
  SECTION("empty subject") {
    const std::string der = resigned_der(leaf, ca, [](X509* cert) {
      const X509NamePtr empty(X509_NAME_new());
      REQUIRE(X509_set_subject_name(cert, empty.get()) == 1);
    });
    CHECK(paths_agree(der));
  }
  SECTION("IDN and UTF-8 names") {
    const std::string der = resigned_der(leaf, ca, [](X509* cert) {
      X509_NAME* subject = X509_get_subject_name(cert);
      REQUIRE(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>("b\xC3\xBC"
                                                                                "cher.example"),
                                         -1, -1, 0) == 1);
      REQUIRE(X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                                         reinterpret_cast<const unsigned char*>("xn--bcher-kva"),
                                         -1, -1, 0) == 1);
    });
    paths_agree(der);
    CHECK(parse_der(der)->subject_cn ==
          "b\xC3\xBC"
          "cher.example");
  }
  SECTION("names that RFC 2253 escapes, multi-valued RDNs and case-only differences") {
    const std::string der = resigned_der(leaf, ca, [](X509* cert) {
      const X509NamePtr issuer(X509_NAME_new());
      for (const char* value : {"Acme, Inc.", " padded ", "#hash"}) {
        REQUIRE(X509_NAME_add_entry_by_txt(issuer.get(), "O", MBSTRING_ASC,
                                           reinterpret_cast<const unsigned char*>(value), -1, -1,
                                           0) == 1);
      }
      REQUIRE(X509_NAME_add_entry_by_txt(issuer.get(), "OU", MBSTRING_ASC,
                                         reinterpret_cast<const unsigned char*>("same set"), -1, -1,
                                         1) == 1);
      REQUIRE(X509_set_issuer_name(cert, issuer.get()) == 1);
    });
    paths_agree(der);
    const std::string self_issued = resigned_der(leaf, leaf, [](X509* cert) {
      const X509NamePtr upper(X509_NAME_dup(X509_get_subject_name(cert)));
      X509_NAME_ENTRY* cn = X509_NAME_get_entry(upper.get(), 0);
      REQUIRE(X509_NAME_ENTRY_set_data(cn, MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>("  NODE "), -1) == 1);
      REQUIRE(X509_set_issuer_name(cert, upper.get()) == 1);
    });
    CHECK_FALSE(paths_agree(self_issued));
    CHECK(parse_der(self_issued)->self_signed);
  }
}

TEST_CASE("the DER reader rejects what OpenSSL rejects", "[x509]") {
  const GeneratedCert ca = make_ca("Cockroach CA");
  CertSpec spec;
  spec.key_algorithm = KeyAlgorithm::rsa;
  spec.key_bits = 2048;
  spec.dns_names = {"node1.example.internal"};
  spec.ip_addresses = {"127.0.0.1"};
  const std::string good = generate_cert(spec, &ca).der;
  REQUIRE(paths_agree(good));
  REQUIRE(static_cast<unsigned char>(good[1]) == 0x82);  // SEQUENCE, two length bytes

  SECTION("every truncation") {
    for (std::size_t length = 0; length < good.size(); ++length) {
      CAPTURE(length);
      paths_agree(good.substr(0, length));
      CHECK_FALSE(parse_der(good.substr(0, length)).has_value());
    }
  }
  SECTION("trailing garbage") {
    for (const std::string_view tail : {"\0"sv, "\x30\x00"sv, "garbage"sv}) {
      paths_agree(good + std::string(tail));
      CHECK_FALSE(parse_der(good + std::string(tail)).has_value());
    }
  }
  SECTION("wrong tags") {
    for (std::size_t at = 0; at < good.size(); ++at) {
      for (const char tag : {'\x31', '\x04', '\xA0', '\x1F'}) {
        std::string changed = good;
        changed[at] = tag;
        paths_agree(changed);
      }
    }
  }
  SECTION("overlong and indefinite lengths") {
    // The outer length in three bytes instead of two (BER allows it, DER does not).
    std::string overlong = good;
    overlong.replace(1, 1, "\x83\x00");
    paths_agree(overlong);
    // The outer SEQUENCE with an indefinite length and its end-of-contents octets.
    std::string indefinite = "\x30\x80" + good.substr(4) + std::string("\0\0", 2);
    paths_agree(indefinite);
    // The TBSCertificate's length in four bytes instead of two; the outer length grows by two.
    std::string inner = good;
    REQUIRE(static_cast<unsigned char>(inner[5]) == 0x82);
    inner.replace(5, 1, "\x84\x00\x00");
    const unsigned outer =
        (static_cast<unsigned char>(good[2]) << 8U) + static_cast<unsigned char>(good[3]) + 2;
    inner[2] = static_cast<char>(outer >> 8U);
    inner[3] = static_cast<char>(outer & 0xFFU);
    paths_agree(inner);
  }
  SECTION("every byte changed") {
    for (std::size_t at = 0; at < good.size(); ++at) {
      for (const unsigned delta : {0x01U, 0x80U}) {
        std::string changed = good;
        changed[at] = static_cast<char>(static_cast<unsigned char>(changed[at]) ^ delta);
        paths_agree(changed);
      }
    }
  }
}

TEST_CASE("PEM bodies decode as base64 with whitespace anywhere and padding only at the end",
          "[x509]") {
  using certwatch::x509::decode_pem_base64;
  std::string error;
  // RFC 4648's test vectors, then whitespace of every PEM kind inside and around them.
  const auto [body, bytes] = GENERATE(table<std::string, std::string>({
      {"Zg==", "f"},
      {"Zm8=", "fo"},
      {"Zm9v", "foo"},
      {"Zm9vYg==", "foob"},
      {"Zm9vYmE=", "fooba"},
      {"Zm9vYmFy", "foobar"},
      {" Zm\t9v\r\nYm\vFy\f\n", "foobar"},
      {"Zm9vYg=\n=\n", "foob"},
      {"+/+/", "\xFB\xFF\xBF"},
  }));
  const auto decoded = decode_pem_base64(body, error);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == bytes);
}

TEST_CASE("PEM bodies that are not base64 are refused with the first kind of damage", "[x509]") {
  using certwatch::x509::decode_pem_base64;
  const auto [body, reason] = GENERATE(table<std::string, std::string>({
      {"", "empty"},
      {" \r\n\t", "empty"},
      {"Zm9v*", "invalid base64 character"},
      {"Zm9v\x80", "invalid base64 character"},
      {std::string("Zm9v\0", 5), "invalid base64 character"},
      {"Zg=a*", "invalid base64 character"},  // bad bytes are named before bad padding
      {"Zm9vY", "multiple of 4"},
      {"Zg=", "multiple of 4"},
      {"YQ=a", "padding"},
      {"Y===", "padding"},
      {"====", "padding"},
      {"Zg==Zm9v", "padding"},
      {"Zg==Zg==", "padding"},
  }));
  std::string error;
  const auto decoded = decode_pem_base64(body, error);
  CHECK_FALSE(decoded.has_value());
  CHECK(contains(error, reason));
}

TEST_CASE("PEM bodies round-trip OpenSSL's encoder at every length", "[x509]") {
  using certwatch::x509::decode_pem_base64;
  std::string bytes;
  for (std::size_t length = 1; length <= 300; ++length) {
    bytes.push_back(static_cast<char>((length * 131 + 7) & 0xFF));
    const std::string encoded = pem_encode(bytes);  // 64 columns, as OpenSSL writes PEM
    const std::size_t begin = encoded.find('\n') + 1;
    const std::string body = encoded.substr(begin, encoded.find("-----END") - begin);
    std::string error;
    const auto decoded = decode_pem_base64(body, error);
    REQUIRE(decoded.has_value());
    REQUIRE(*decoded == bytes);
  }
}

TEST_CASE("the facts of declined certificates are remembered by their exact DER", "[x509]") {
  // Self-signed certificates always take the OpenSSL path, whose results are memoised in a
  // bounded table. Many distinct ones (past its bound) each parsed twice, interleaved, must each
  // give their own facts; one flipped signature byte must not be served the memoised facts.
  std::vector<GeneratedCert> cas;
  for (int i = 0; i < 80; ++i) cas.push_back(make_ca("memo CA " + std::to_string(i)));
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < cas.size(); ++i) {
      const GeneratedCert& ca = cas[i];
      const CertificateFacts facts = facts_of(ca);
      CHECK(facts.subject_cn == "memo CA " + std::to_string(i));
      CHECK(facts.self_signed);
      CHECK(facts.der == ca.der);
    }
  }
  std::string altered = cas.back().der;
  altered[altered.size() - 1] = static_cast<char>(altered.back() ^ 0x01);
  const auto facts = parse_der(altered);
  REQUIRE(facts.has_value());       // a bad signature is still a certificate...
  CHECK_FALSE(facts->self_signed);  // ...but not one signed by its own key
  CHECK(facts->der == altered);
}

TEST_CASE("an AnchorSet serves many verifications", "[x509]") {
  using certwatch::x509::AnchorSet;
  using certwatch::x509::TrustAnchor;
  const GeneratedCert ca = make_ca("Cockroach CA");
  const GeneratedCert leaf = generate_cert(CertSpec{}, &ca);
  CHECK(TrustAnchor::from_der("junk") == nullptr);
  // One anchor serves many verifications (and threads: it is never changed); null is skipped.
  const auto anchor = TrustAnchor::from_der(ca.der);
  const std::vector<std::shared_ptr<const TrustAnchor>> shared{anchor, nullptr, anchor};
  const auto set = AnchorSet::make(shared);
  REQUIRE(set != nullptr);
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(certwatch::x509::verify_chain(leaf.der, {}, *set).failure);
    CHECK_FALSE(certwatch::x509::verify_chain(leaf.der, {}, *set, {false}).failure);
  }
  CHECK(ERR_peek_error() == 0);
}
