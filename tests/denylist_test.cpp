// The denylist (issue 28): entries judged by hash, each certificate looked up once per snapshot
// (a 2,000-CA bundle with a 16k-line list took 341 s), and issuer names accepted in every form
// `openssl x509 -issuer -noout` prints, with the real openssl CLI as the oracle.

#include "rules/denylist.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "rules/checks.hpp"
#include "support/certgen.hpp"
#include "support/facts.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"
#include "x509/dn_text.hpp"
#include "x509/parse.hpp"

namespace {

using namespace certwatch;
using certwatch::testing::TempDir;

// A certificate as the file source reports it, from PEM.
CertObservation observe_pem(const std::string& pem, CertType type, const std::string& path) {
  const auto bundle = x509::parse_pem_bundle(pem);
  REQUIRE(bundle.certificates.size() == 1);
  CertObservation out;
  out.id = {"file", type, "", path, "0", ""};
  out.facts = std::make_shared<const CertificateFacts>(bundle.certificates.front());
  out.not_after = out.facts->not_after;
  out.not_before = out.facts->not_before;
  return out;
}

// The `compromised` details of a run of every check over `certs` with `denylist`.
std::vector<std::string> compromised(const std::vector<CertObservation>& certs,
                                     const std::vector<std::string>& denylist) {
  std::vector<const CertObservation*> pointers;
  for (const auto& c : certs) pointers.push_back(&c);
  rules::CheckInputs in;
  in.certificates = pointers;
  in.denylist = denylist;
  in.now = testing::unix_now();
  rules::VerifyCache cache;
  rules::ChecksConfig config;
  std::vector<std::string> out;
  for (const auto& f : rules::run_checks(in, config, cache).failures) {
    if (f.check == rules::kCheckCompromised) out.push_back(f.id.path + ": " + f.detail);
  }
  return out;
}

std::string trim_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

TEST_CASE("denylist issuer names as the openssl CLI prints them match (oracle: openssl)",
          "[checks][denylist]") {
  if (!testing::require_tool("openssl", "apt-get install openssl")) return;
  TempDir dir;
  // A class of names, not one: commas, quotes and backslashes, a multi-valued RDN, UTF-8, a
  // leading '#' and a trailing space, a slash, an e-mail address, every DN separator.
  const std::vector<std::string> subjects{
      "/CN=Cockroach CA",
      "/C=US/O=Cockroach, Inc./OU=ops/CN=Old \"CA\" \\ x",
      "/O=Z\xC3\xBCrich AG/OU=x+CN=node/CN=#lead /DC=a\\/b",
      "/CN= lead space/O=a;b<c>d=e\\+f",
      "/emailAddress=ca@example.com/CN=Mail CA",
  };
  int n = 0;
  for (const std::string& subject : subjects) {
    ++n;
    const std::string key = (dir.path() / ("k" + std::to_string(n) + ".pem")).string();
    const std::string crt = (dir.path() / ("c" + std::to_string(n) + ".pem")).string();
    const auto made = testing::run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                            "ec_paramgen_curve:P-256", "-nodes", "-utf8", "-keyout",
                                            key, "-out", crt, "-days", "30", "-subj", subject});
    INFO(subject << "\n" << made.err);
    REQUIRE(made.exit_code == 0);
    const std::string pem = testing::read_file(crt);
    const CertObservation ca = observe_pem(pem, CertType::ca, crt);
    const std::string serial =
        trim_line(testing::run_command({"openssl", "x509", "-in", crt, "-serial", "-noout"}).out);
    REQUIRE(serial.starts_with("serial="));
    for (const std::vector<std::string>& nameopt : {std::vector<std::string>{},
                                                    {"-nameopt", "compat"},
                                                    {"-nameopt", "RFC2253"},
                                                    {"-nameopt", "oneline"}}) {
      std::vector<std::string> argv{"openssl", "x509", "-in", crt, "-issuer", "-noout"};
      argv.insert(argv.end(), nameopt.begin(), nameopt.end());
      const std::string printed = trim_line(testing::run_command(argv).out);
      REQUIRE(printed.starts_with("issuer="));
      const std::string issuer = printed.substr(7);
      INFO("printed: " << printed << "\nfacts: " << ca.facts->issuer_dn);
      CHECK(x509::canonical_dn(issuer) == ca.facts->issuer_dn);
      CHECK(x509::canonical_dn(printed) == ca.facts->issuer_dn);  // with `issuer=` pasted too
      const std::string entry = "serial:" + serial.substr(7) + " issuer:" + issuer;
      const auto parsed = rules::parse_deny_entry(entry);
      REQUIRE(parsed);
      CHECK(parsed->issuer_dn == ca.facts->issuer_dn);
      CHECK(compromised({ca}, {entry}).size() == 1);
      // Another serial with the same issuer is not denied.
      CHECK(compromised({ca}, {"serial:1 issuer:" + issuer}).empty());
    }
  }
}

TEST_CASE("a denylist issuer that is neither RFC 2253 nor a form openssl prints is refused",
          "[checks][denylist]") {
  for (const std::string issuer :
       {"C = \"unterminated", "CN = x, ", "/", "/=x", "CN = x,, O = y", "nope = x y"}) {
    INFO(issuer);
    CHECK_FALSE(rules::parse_deny_entry("serial:01 issuer:" + issuer));
  }
  // RFC 2253 as before, even where it cannot be rebuilt (a hex-dumped value).
  CHECK(rules::parse_deny_entry("serial:01 issuer:1.2.3.4=#0403414243,CN=x")->issuer_dn ==
        "1.2.3.4=#0403414243,CN=x");
  CHECK(rules::parse_deny_entry("serial:01 issuer:CN=Old CA,O=Cockroach")->issuer_dn ==
        "CN=Old CA,O=Cockroach");
}

TEST_CASE("the denylist costs one lookup per certificate: 2k CAs and 16k entries and 550 served",
          "[checks][denylist][budget]") {
  // Issue 28 item 5's sizes. The old engine compared every certificate with every CA with every
  // entry (2,550 x 2,000 x 16,000); the counters say each certificate is looked up once and only
  // a denylisted CA named as a certificate's issuer has its signature checked.
  constexpr int kCas = 2000;
  constexpr int kEntries = 16'000;
  constexpr int kServed = 550;
  const auto issuer = testing::generate_cert([] {
    testing::CertSpec spec;
    spec.common_name = "Denied CA";
    spec.is_ca = true;
    return spec;
  }());
  std::vector<CertObservation> certs;
  certs.reserve(kCas + kServed + 2);
  auto hand_made = [&](CertType type, std::string source, int i, bool is_ca) {
    CertObservation c;
    c.id = {source, type, "", "/bundle/ca.crt", std::to_string(i), ""};
    CertificateFacts facts;
    facts.subject_cn = (is_ca ? "CA " : "leaf ") + std::to_string(i);
    facts.issuer_cn = is_ca ? facts.subject_cn : "CA " + std::to_string(i % kCas);
    char fingerprint[65];
    std::snprintf(fingerprint, sizeof fingerprint, "%064x", i + (is_ca ? 0 : 1'000'000));
    facts.fingerprint_sha256 = fingerprint;
    facts.serial_hex = "1" + std::to_string(i);
    facts.issuer_dn = "CN=" + facts.issuer_cn;
    facts.is_ca = is_ca;
    c.facts = std::make_shared<const CertificateFacts>(std::move(facts));
    return c;
  };
  for (int i = 0; i < kCas; ++i) certs.push_back(hand_made(CertType::ca, "file", i, true));
  for (int i = 0; i < kServed; ++i) certs.push_back(hand_made(CertType::node, "probe", i, false));
  // A real denylisted CA and a leaf it signed: the one real signature that must be checked.
  certs.push_back(observe_pem(issuer.cert_pem, CertType::ca, "/denied/ca.crt"));
  testing::CertSpec leaf_spec;
  leaf_spec.common_name = "node";
  certs.push_back(observe_pem(testing::generate_cert(leaf_spec, &issuer).cert_pem, CertType::node,
                              "/denied/node.crt"));

  rules::Denylist denylist;
  int entries = 0;
  auto add = [&](const std::string& line) {
    denylist.add(line);
    ++entries;
  };
  add(testing::sha256_fingerprint(issuer));
  for (int i = 0; i < 5; ++i) add(certs[static_cast<std::size_t>(i)].facts->fingerprint_sha256);
  for (int i = 0; i < 4000; ++i) {
    add("serial:ff" + std::to_string(i) + " issuer:CN=Nobody " + std::to_string(i));
  }
  while (entries < kEntries) {
    char fingerprint[65];
    std::snprintf(fingerprint, sizeof fingerprint, "%064x", 0x7000000 + entries);
    add(fingerprint);
  }
  std::vector<const CertObservation*> pointers;
  for (const auto& c : certs) pointers.push_back(&c);
  rules::VerifyCache cache;
  const rules::DenyVerdicts verdicts = rules::judge_denylist(denylist, pointers, cache);

  CHECK(verdicts.lookups == certs.size());
  // Leaves 0-4 name a denylisted (hand-made) CA as issuer, and so does the real leaf; nothing
  // else is asked.
  CHECK(verdicts.issuer_checks == 6);
  std::vector<std::string> condemned;
  for (const auto& [cert, detail] : verdicts.detail)
    condemned.push_back(cert->id.path + " " + detail);
  std::sort(condemned.begin(), condemned.end());
  REQUIRE(condemned.size() == 7);
  CHECK(condemned.back() == "/denied/node.crt issued by denylisted CA Denied CA");
  CHECK(std::count_if(condemned.begin(), condemned.end(), [](const std::string& line) {
          return line.starts_with("/bundle/ca.crt fingerprint ");
        }) == 5);
}
