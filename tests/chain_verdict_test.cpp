// The trust verdict (issue 22) against its oracle: a corpus of chains generated here, one per
// class of x509-limbo's path-validation cases that matter to a CockroachDB deployment, judged by
// the daemon's checks and by `openssl verify` with the flags the daemon uses, in both file
// layouts (intermediates after the leaf in node.crt, or in ca.crt). Then the same through the
// real binary: one root cause, with its own fix, per problem.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "rules/chain_causes.hpp"
#include "rules/checks.hpp"
#include "support/certgen.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"
#include "x509/chain.hpp"
#include "x509/parse.hpp"

namespace {

namespace fs = std::filesystem;
using namespace certwatch;
using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::KeyAlgorithm;
using certwatch::testing::pem_encode;
using certwatch::testing::run_command;
using certwatch::testing::TempDir;
using certwatch::testing::unix_now;

const std::int64_t kNow = unix_now();

CertSpec ca_spec(const std::string& cn, KeyAlgorithm algorithm = KeyAlgorithm::ec) {
  CertSpec spec;
  spec.common_name = cn;
  spec.organization = "Cockroach";
  spec.is_ca = true;
  spec.key_algorithm = algorithm;
  spec.key_bits = algorithm == KeyAlgorithm::rsa ? 2048 : 256;
  spec.not_after = kNow + 3650 * kDay;
  return spec;
}

CertSpec leaf_spec(KeyAlgorithm algorithm = KeyAlgorithm::ec) {
  CertSpec spec;
  spec.common_name = "node";
  spec.dns_names = {"localhost", "node1.example.com"};
  spec.ip_addresses = {"127.0.0.1"};
  spec.key_algorithm = algorithm;
  spec.key_bits = algorithm == KeyAlgorithm::rsa ? 2048 : 256;
  return spec;
}

// One chain: the leaf, the intermediates that travel with it, the anchors of the CA file, and the
// cause the daemon must name (nullopt: trusted).
struct Case {
  std::string name;
  std::string leaf;                        // DER
  std::vector<std::string> intermediates;  // DER, leaf's issuer first
  std::vector<std::string> anchors;        // DER
  std::optional<std::string> cause;
};

// The corpus: every class of the issue, good chains with one and two intermediates, ECDSA and
// RSA. Built once per process (RSA keys are slow).
const std::vector<Case>& corpus() {
  static const std::vector<Case> cases = [] {
    std::vector<Case> out;
    const GeneratedCert root = generate_cert(ca_spec("Root CA"));
    const GeneratedCert rsa_root = generate_cert(ca_spec("RSA Root CA", KeyAlgorithm::rsa));
    const auto intermediate_of = [](const GeneratedCert& issuer, const std::string& cn,
                                    const std::function<void(CertSpec&)>& change = {}) {
      CertSpec spec = ca_spec(cn);
      spec.not_after = kNow + 1000 * kDay;
      if (change) change(spec);
      return generate_cert(spec, &issuer);
    };
    const auto leaf_of = [](const GeneratedCert& issuer,
                            const std::function<void(CertSpec&)>& change = {}) {
      CertSpec spec = leaf_spec();
      if (change) change(spec);
      return generate_cert(spec, &issuer).der;
    };

    // Good chains.
    out.push_back({"good, EC leaf under the root", leaf_of(root), {}, {root.der}, std::nullopt});
    out.push_back({"good, RSA leaf under an RSA root",
                   generate_cert(leaf_spec(KeyAlgorithm::rsa), &rsa_root).der,
                   {},
                   {rsa_root.der},
                   std::nullopt});
    const GeneratedCert inter = intermediate_of(root, "Intermediate CA");
    out.push_back(
        {"good, one intermediate", leaf_of(inter), {inter.der}, {root.der}, std::nullopt});
    CertSpec rsa_inter_spec = ca_spec("RSA Intermediate 1", KeyAlgorithm::rsa);
    const GeneratedCert rsa_inter1 = generate_cert(rsa_inter_spec, &rsa_root);
    rsa_inter_spec.common_name = "RSA Intermediate 2";
    const GeneratedCert rsa_inter2 = generate_cert(rsa_inter_spec, &rsa_inter1);
    out.push_back({"good, two intermediates, RSA",
                   generate_cert(leaf_spec(KeyAlgorithm::rsa), &rsa_inter2).der,
                   {rsa_inter2.der, rsa_inter1.der},
                   {rsa_root.der},
                   std::nullopt});
    const GeneratedCert ec_under_rsa = intermediate_of(rsa_root, "EC Intermediate");
    out.push_back({"good, EC intermediate under an RSA root",
                   leaf_of(ec_under_rsa),
                   {ec_under_rsa.der},
                   {rsa_root.der},
                   std::nullopt});
    out.push_back({"good, SHA-1 signature (weak_signature's, not the chain's)",
                   leaf_of(root, [](CertSpec& s) { s.signature_digest = "sha1"; }),
                   {},
                   {root.der},
                   std::nullopt});
    // A rotated CA that kept its key (`create-ca --overwrite` with the old key): both anchors fit.
    CertSpec renewed = ca_spec("Root CA");
    renewed.reuse_key_of = &root;
    renewed.not_after = kNow + 5000 * kDay;
    const GeneratedCert renewed_root = generate_cert(renewed);
    out.push_back({"good, two anchors with one name and one key",
                   leaf_of(root),
                   {},
                   {renewed_root.der, root.der},
                   std::nullopt});
    const GeneratedCert other_root = generate_cert(ca_spec("Root CA"));
    out.push_back({"good, two anchors with one name and two keys",
                   leaf_of(root),
                   {},
                   {other_root.der, root.der},
                   std::nullopt});

    // Time: the leaf's is the expiry states'; a CA of the chain past notAfter is the chain's.
    out.push_back({"expired leaf",
                   leaf_of(root,
                           [](CertSpec& s) {
                             s.not_before = kNow - 100 * kDay;
                             s.not_after = kNow - kDay;
                           }),
                   {},
                   {root.der},
                   std::nullopt});
    out.push_back({"leaf at its notAfter second",
                   leaf_of(root, [](CertSpec& s) { s.not_after = kNow; }),
                   {},
                   {root.der},
                   std::nullopt});
    const GeneratedCert expired_inter =
        intermediate_of(root, "Expired Intermediate", [](CertSpec& s) {
          s.not_before = kNow - 400 * kDay;
          s.not_after = kNow - 2 * kDay;
        });
    out.push_back({"expired intermediate",
                   leaf_of(expired_inter),
                   {expired_inter.der},
                   {root.der},
                   "intermediate_expired"});

    // Issuers.
    const GeneratedCert stranger = generate_cert(ca_spec("Stranger CA"));
    out.push_back({"unknown issuer", leaf_of(stranger), {}, {root.der}, "unknown_issuer"});
    out.push_back({"intermediate missing", leaf_of(inter), {}, {root.der}, "unknown_issuer"});
    CertSpec other_org = ca_spec("Root CA");
    other_org.organization = "Other";
    other_org.reuse_key_of = &root;
    const GeneratedCert same_cn_other_dn = generate_cert(other_org);
    out.push_back({"issuer DN differs beyond the CN",
                   leaf_of(same_cn_other_dn),
                   {},
                   {root.der},
                   "issuer_name_mismatch"});
    out.push_back({"authority key id is not the CA's subject key id",
                   leaf_of(root, [](CertSpec& s) { s.wrong_authority_key_id = true; }),
                   {},
                   {root.der},
                   "key_id_mismatch"});
    CertSpec not_ca = leaf_spec();
    not_ca.common_name = "Not A CA";
    not_ca.key_usage = "none";
    const GeneratedCert not_ca_issuer = generate_cert(not_ca, &root);
    out.push_back({"issuer is not a CA",
                   leaf_of(not_ca_issuer),
                   {not_ca_issuer.der},
                   {root.der},
                   "issuer_not_ca"});
    const GeneratedCert no_cert_sign = intermediate_of(root, "No CertSign CA", [](CertSpec& s) {
      s.key_usage = "critical,digitalSignature,cRLSign";
    });
    out.push_back({"CA keyUsage without keyCertSign",
                   leaf_of(no_cert_sign),
                   {no_cert_sign.der},
                   {root.der},
                   "invalid_ca"});
    CertSpec root_no_cert_sign = ca_spec("Root Without CertSign");
    root_no_cert_sign.key_usage = "critical,digitalSignature";
    const GeneratedCert anchor_no_cert_sign = generate_cert(root_no_cert_sign);
    out.push_back({"anchor keyUsage without keyCertSign",
                   leaf_of(anchor_no_cert_sign),
                   {},
                   {anchor_no_cert_sign.der},
                   "invalid_ca"});
    const GeneratedCert pathlen0 =
        intermediate_of(root, "Pathlen 0 CA", [](CertSpec& s) { s.path_length = 0; });
    const GeneratedCert below_pathlen0 = intermediate_of(pathlen0, "Below Pathlen CA");
    out.push_back({"pathlen exceeded",
                   leaf_of(below_pathlen0),
                   {below_pathlen0.der, pathlen0.der},
                   {root.der},
                   "path_length"});

    // Name constraints.
    const auto constrained = [&](const std::string& name, const std::string& constraint) {
      return intermediate_of(root, name, [&](CertSpec& s) {
        s.extra_extensions = {{"nameConstraints", constraint}};
      });
    };
    const GeneratedCert permitted_dns =
        constrained("Permitted DNS CA", "critical,permitted;DNS:example.com");
    out.push_back({"name constraints: DNS outside the permitted subtree",
                   leaf_of(permitted_dns),
                   {permitted_dns.der},
                   {root.der},
                   "name_constraints"});
    out.push_back({"name constraints: DNS inside the permitted subtree",
                   leaf_of(permitted_dns,
                           [](CertSpec& s) {
                             s.dns_names = {"node1.example.com"};
                             s.ip_addresses = {};
                           }),
                   {permitted_dns.der},
                   {root.der},
                   std::nullopt});
    const GeneratedCert excluded_ip =
        constrained("Excluded IP CA", "critical,excluded;IP:127.0.0.0/255.0.0.0");
    out.push_back({"name constraints: excluded IP",
                   leaf_of(excluded_ip),
                   {excluded_ip.der},
                   {root.der},
                   "name_constraints"});
    // permitted;dirName:O=Cockroach, as DER (the config syntax needs a section for a dirName).
    const GeneratedCert permitted_dn = constrained(
        "Permitted DN CA",
        "critical,DER:30:1C:A0:1A:30:18:A4:16:30:14:31:12:30:10:06:03:55:04:0A:0C:09:43:6F:63:6B:"
        "72:6F:61:63:68");
    out.push_back({"name constraints: subject DN outside the permitted subtree",
                   leaf_of(permitted_dn, [](CertSpec& s) { s.organization = "Other"; }),
                   {permitted_dn.der},
                   {root.der},
                   "name_constraints"});
    out.push_back({"name constraints: subject DN inside the permitted subtree",
                   leaf_of(permitted_dn, [](CertSpec& s) { s.organization = "Cockroach"; }),
                   {permitted_dn.der},
                   {root.der},
                   std::nullopt});

    // Extensions.
    out.push_back({"unknown critical extension on the leaf",
                   leaf_of(root,
                           [](CertSpec& s) {
                             s.extra_extensions = {{"1.3.6.1.4.1.99999.1", "critical,ASN1:NULL"}};
                           }),
                   {},
                   {root.der},
                   "critical_extension"});
    out.push_back({"unknown non-critical extension on the leaf",
                   leaf_of(root,
                           [](CertSpec& s) {
                             s.extra_extensions = {{"1.3.6.1.4.1.99999.1", "ASN1:NULL"}};
                           }),
                   {},
                   {root.der},
                   std::nullopt});
    const GeneratedCert critical_ca =
        intermediate_of(root, "Critical Extension CA", [](CertSpec& s) {
          s.extra_extensions = {{"1.3.6.1.4.1.99999.1", "critical,ASN1:NULL"}};
        });
    out.push_back({"unknown critical extension on the CA",
                   leaf_of(critical_ca),
                   {critical_ca.der},
                   {root.der},
                   "critical_extension"});
    out.push_back({"critical key identifiers on the leaf",
                   leaf_of(root, [](CertSpec& s) { s.critical_key_identifiers = true; }),
                   {},
                   {root.der},
                   "critical_extension"});
    out.push_back({"duplicate extension on the leaf",
                   leaf_of(root,
                           [](CertSpec& s) {
                             s.extra_extensions = {{"subjectAltName", "DNS:localhost"}};
                           }),
                   {},
                   {root.der},
                   "malformed"});
    const GeneratedCert duplicate_ca =
        intermediate_of(root, "Duplicate Extension CA", [](CertSpec& s) {
          s.extra_extensions = {{"basicConstraints", "critical,CA:TRUE"}};
        });
    out.push_back({"duplicate extension on the CA",
                   leaf_of(duplicate_ca),
                   {duplicate_ca.der},
                   {root.der},
                   "malformed"});
    const GeneratedCert policy_ca = intermediate_of(root, "Policy CA", [](CertSpec& s) {
      s.extra_extensions = {{"policyConstraints", "critical,requireExplicitPolicy:0"}};
    });
    out.push_back({"policy constraints (not checked by these flags)",
                   leaf_of(policy_ca),
                   {policy_ca.der},
                   {root.der},
                   std::nullopt});

    // Signatures and keys.
    std::string altered = leaf_of(root);
    altered.back() = static_cast<char>(altered.back() ^ 0x01);
    out.push_back({"bad signature", altered, {}, {root.der}, "bad_signature"});
    out.push_back(
        {"inner and outer signature algorithms differ",
         leaf_of(root, [](CertSpec& s) { s.inner_signature_algorithm = "ecdsa-with-SHA384"; }),
         {},
         {root.der},
         "algorithm_mismatch"});
    out.push_back({"signature algorithm does not fit the CA's key",
                   generate_cert(
                       [] {
                         CertSpec s = leaf_spec();
                         s.inner_signature_algorithm = "ecdsa-with-SHA256";
                         s.outer_signature_algorithm = "ecdsa-with-SHA256";
                         return s;
                       }(),
                       &rsa_root)
                       .der,
                   {},
                   {rsa_root.der},
                   "algorithm_mismatch"});
    out.push_back({"explicit-curve EC key on the leaf",
                   leaf_of(root, [](CertSpec& s) { s.explicit_curve = true; }),
                   {},
                   {root.der},
                   "explicit_curve"});
    const GeneratedCert explicit_ca =
        intermediate_of(root, "Explicit Curve CA", [](CertSpec& s) { s.explicit_curve = true; });
    out.push_back({"explicit-curve EC key on the CA",
                   leaf_of(explicit_ca),
                   {explicit_ca.der},
                   {root.der},
                   "explicit_curve"});
    return out;
  }();
  return cases;
}

std::string pem_of(const std::vector<std::string>& ders) {
  std::string out;
  for (const std::string& der : ders) out += pem_encode(der);
  return out;
}

// A certs directory in one of the two layouts.
struct Layout {
  std::string name;
  bool intermediates_in_node_crt = true;
};

struct Written {
  fs::path node_crt;
  fs::path ca_crt;
  fs::path rest;  // the intermediates alone, for `openssl verify -untrusted`
};

Written write_case(const TempDir& dir, const Case& c, const Layout& layout) {
  Written out;
  std::vector<std::string> node{c.leaf};
  std::vector<std::string> ca = c.anchors;
  if (layout.intermediates_in_node_crt) {
    node.insert(node.end(), c.intermediates.begin(), c.intermediates.end());
  } else {
    ca.insert(ca.end(), c.intermediates.begin(), c.intermediates.end());
  }
  out.node_crt = dir.write("certs/node.crt", pem_of(node));
  out.ca_crt = dir.write("certs/ca.crt", pem_of(ca));
  if (layout.intermediates_in_node_crt && !c.intermediates.empty()) {
    out.rest = dir.write("rest.pem", pem_of(c.intermediates));
  }
  return out;
}

// `openssl verify` with the flags the daemon gives X509_verify_cert. nullopt: OK; else its output.
std::optional<std::string> openssl_verify(const Written& files, bool check_time) {
  std::vector<std::string> argv{"openssl", "verify", "-partial_chain", "-purpose", "any"};
  if (check_time) {
    argv.insert(argv.end(), {"-attime", std::to_string(kNow)});
  } else {
    argv.emplace_back("-no_check_time");
  }
  argv.insert(argv.end(), {"-CAfile", files.ca_crt.string()});
  if (!files.rest.empty()) argv.insert(argv.end(), {"-untrusted", files.rest.string()});
  argv.push_back(files.node_crt.string());
  const auto result = run_command(argv);
  if (result.exit_code == 0) return std::nullopt;
  return result.out + result.err;
}

// The daemon's verdict: its checks over the files as the file source reads them.
std::vector<rules::CheckFailure> daemon_checks(const Written& files) {
  std::vector<CertObservation> certs;
  const auto observe = [&](const fs::path& path, CertType type) {
    const std::string pem = [&] {
      std::ifstream in(path);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    const auto bundle = x509::parse_pem_bundle(pem);
    for (std::size_t i = 0; i < bundle.certificates.size(); ++i) {
      CertObservation cert;
      cert.id = {"file",        i == 0 ? type : CertType::ca,      "",
                 path.string(), std::to_string(bundle.indices[i]), ""};
      cert.facts = std::make_shared<const CertificateFacts>(bundle.certificates[i]);
      cert.not_after = cert.facts->not_after;
      cert.not_before = cert.facts->not_before;
      certs.push_back(std::move(cert));
    }
  };
  observe(files.node_crt, CertType::node);
  observe(files.ca_crt, CertType::ca);
  std::vector<const CertObservation*> pointers;
  for (const CertObservation& cert : certs) pointers.push_back(&cert);
  rules::CheckInputs in;
  in.certificates = pointers;
  in.now = kNow;
  rules::VerifyCache cache;
  return rules::run_checks(in, rules::ChecksConfig{}, cache).failures;
}

std::optional<std::string> detail_of(const std::vector<rules::CheckFailure>& failures,
                                     std::string_view check, const fs::path& path) {
  for (const rules::CheckFailure& f : failures) {
    if (f.check == check && f.id.path == path.string() && f.id.index == "0") return f.detail;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("the chain verdict equals openssl verify for every class of the corpus, in both layouts",
          "[chain][differential]") {
  if (!certwatch::testing::require_tool("openssl", "apt-get install openssl")) return;
  const Layout layout =
      GENERATE(Layout{"intermediates in node.crt", true}, Layout{"intermediates in ca.crt", false});
  for (const Case& c : corpus()) {
    INFO(c.name << " (" << layout.name << ")");
    TempDir dir;
    const Written files = write_case(dir, c, layout);
    const auto oracle = openssl_verify(files, false);
    const auto failures = daemon_checks(files);
    const auto untrusted = detail_of(failures, rules::kCheckChainUntrusted, files.node_crt);
    INFO("openssl: " << oracle.value_or("OK") << "daemon: " << untrusted.value_or("trusted"));
    // The verdict: OpenSSL's. Time apart: a CA of the chain out of its validity is the daemon's
    // own rule, held to `openssl verify` at the poll's time below.
    const bool time_cause =
        untrusted == "intermediate_expired" || untrusted == "intermediate_not_yet_valid";
    CHECK(oracle.has_value() == (untrusted.has_value() && !time_cause));
    if (time_cause) {
      const auto timed = openssl_verify(files, true);
      REQUIRE(timed.has_value());
      CHECK(timed->find("certificate has expired") != std::string::npos);
      CHECK(timed->find(" at 0 depth") == std::string::npos);  // not the leaf's own time
    }
    // One root cause, named.
    // In the CA-file layout an intermediate is an anchor of its own (partial chains), so what lies
    // above it (a pathlen) is never reached: there the cause stands only where OpenSSL fails.
    if (layout.intermediates_in_node_crt || oracle.has_value()) CHECK(untrusted == c.cause);
    CHECK(rules::find_chain_cause(untrusted.value_or("unknown_issuer")) != nullptr);
    // A malformed certificate's names cannot be read: it is never also a missing SAN.
    if (c.cause == "malformed") {
      CHECK_FALSE(detail_of(failures, rules::kCheckSanMissing, files.node_crt).has_value());
    }
    // The fast path says what OpenSSL says wherever it answers.
    const std::vector<std::string> rest(
        layout.intermediates_in_node_crt ? c.intermediates : std::vector<std::string>{});
    std::vector<std::string> anchors = c.anchors;
    if (!layout.intermediates_in_node_crt) {
      anchors.insert(anchors.end(), c.intermediates.begin(), c.intermediates.end());
    }
    const auto full = x509::verify_chain_der(c.leaf, rest, anchors, {false});
    const auto fast = x509::verify_chain_der(c.leaf, rest, anchors, {true});
    CHECK_FALSE(full.fast);
    CHECK(full.failure.has_value() == oracle.has_value());
    CHECK(fast.failure == full.failure);
    CHECK(chain_verifies_until(fast) == chain_verifies_until(full));
    if (fast.fast) CHECK_FALSE(fast.failure);
  }
}

TEST_CASE("the fast path answers the plain chains it is for", "[chain][differential]") {
  // Without this the differential test above would pass with a fast path that never answers.
  std::size_t answered = 0;
  for (const Case& c : corpus()) {
    if (x509::verify_chain_der(c.leaf, {}, c.anchors).fast) ++answered;
  }
  CHECK(answered >= 6);
}

// --- Through the real binary ----------------------------------------------------------------

namespace {

struct BinaryFixture {
  TempDir dir;
  fs::path config;
  BinaryFixture() {
    fs::create_directories(dir.path() / "certs");
    config = dir.write("config.yaml",
                       "files:\n  certs_dirs: [" + (dir.path() / "certs").string() + "]\n");
  }
  void add(const std::string& name, const std::string& content) const {
    dir.write("certs/" + name, content);
  }
  nlohmann::json check_json() const {
    const auto result = run_command(
        {CERTWATCH_BINARY, "check", "--config.file=" + config.string(), "--output=json"});
    return nlohmann::json::parse(result.out);
  }
  std::string check_table() const {
    return run_command({CERTWATCH_BINARY, "check", "--config.file=" + config.string()}).out;
  }
};

std::vector<nlohmann::json> chain_failures(const nlohmann::json& report) {
  std::vector<nlohmann::json> out;
  for (const auto& f : report.at("checks")) {
    if (f.at("check") == "chain_untrusted") out.push_back(f);
  }
  return out;
}

}  // namespace

TEST_CASE("check: node.crt with leaf and intermediate against a root-only ca.crt is trusted",
          "[chain][binary]") {
  BinaryFixture fixture;
  const GeneratedCert root = generate_cert(ca_spec("Root CA"));
  CertSpec inter_spec = ca_spec("Intermediate CA");
  const GeneratedCert inter = generate_cert(inter_spec, &root);
  const GeneratedCert leaf = generate_cert(leaf_spec(), &inter);
  fixture.add("ca.crt", root.cert_pem);
  fixture.add("node.crt", leaf.cert_pem + inter.cert_pem);
  const auto report = fixture.check_json();
  CHECK(chain_failures(report).empty());
  // Without the intermediate it does not verify, and the cause says the issuer is missing.
  fixture.add("node.crt", leaf.cert_pem);
  const auto alone = chain_failures(fixture.check_json());
  REQUIRE(alone.size() == 1);
  CHECK(alone[0].at("detail") == "unknown_issuer");
}

TEST_CASE("check: an expired leaf is expired, and nothing else is said of its chain",
          "[chain][binary]") {
  BinaryFixture fixture;
  const GeneratedCert root = generate_cert(ca_spec("Root CA"));
  CertSpec spec = leaf_spec();
  spec.not_before = kNow - 100 * kDay;
  spec.not_after = kNow - kDay;
  fixture.add("ca.crt", root.cert_pem);
  fixture.add("node.crt", generate_cert(spec, &root).cert_pem);
  const auto report = fixture.check_json();
  CHECK(chain_failures(report).empty());
  bool expired = false;
  for (const auto& cert : report.at("certificates")) {
    if (cert.at("path").get<std::string>().ends_with("node.crt")) {
      expired = cert.at("action") == "expired";
    }
  }
  CHECK(expired);
}

TEST_CASE("check: each chain cause shows its own why and fix", "[chain][binary]") {
  const GeneratedCert root = generate_cert(ca_spec("Root CA"));
  const GeneratedCert stranger = generate_cert(ca_spec("Stranger CA"));
  CertSpec expired_spec = ca_spec("Expired Intermediate");
  expired_spec.not_before = kNow - 400 * kDay;
  expired_spec.not_after = kNow - kDay;
  const GeneratedCert expired_inter = generate_cert(expired_spec, &root);
  CertSpec duplicate = leaf_spec();
  duplicate.extra_extensions = {{"subjectAltName", "DNS:localhost"}};
  CertSpec constrained_spec = ca_spec("Constrained CA");
  constrained_spec.extra_extensions = {{"nameConstraints", "critical,permitted;DNS:example.org"}};
  const GeneratedCert constrained = generate_cert(constrained_spec, &root);

  struct Cause {
    std::string detail;
    std::string node_crt;
  };
  const std::vector<Cause> causes{
      {"unknown_issuer", generate_cert(leaf_spec(), &stranger).cert_pem},
      {"intermediate_expired",
       generate_cert(leaf_spec(), &expired_inter).cert_pem + expired_inter.cert_pem},
      {"malformed", generate_cert(duplicate, &root).cert_pem},
      {"name_constraints",
       generate_cert(leaf_spec(), &constrained).cert_pem + constrained.cert_pem},
  };
  std::map<std::string, std::string> fixes;
  for (const Cause& cause : causes) {
    INFO(cause.detail);
    BinaryFixture fixture;
    fixture.add("ca.crt", root.cert_pem);
    fixture.add("node.crt", cause.node_crt);
    const auto report = fixture.check_json();
    const auto failures = chain_failures(report);
    REQUIRE(failures.size() == 1);
    CHECK(failures[0].at("detail") == cause.detail);
    const rules::ChainCauseInfo* info = rules::find_chain_cause(cause.detail);
    REQUIRE(info != nullptr);
    CHECK(failures[0].at("why") == std::string(info->why));
    CHECK(failures[0].at("fix") == std::string(info->fix));
    fixes[cause.detail] = failures[0].at("fix");
    // The table says the same, under the failing checks.
    const std::string table = fixture.check_table();
    CHECK(table.find("CHAIN CAUSE " + cause.detail) != std::string::npos);
    CHECK(table.find(std::string(info->fix)) != std::string::npos);
    if (cause.detail == "malformed") {
      for (const auto& f : report.at("checks")) CHECK(f.at("check") != "san_missing");
    }
  }
  // An expired intermediate is not a missing CA: every cause has a fix of its own.
  std::vector<std::string> distinct;
  for (const auto& [detail, fix] : fixes) distinct.push_back(fix);
  std::sort(distinct.begin(), distinct.end());
  CHECK(std::unique(distinct.begin(), distinct.end()) == distinct.end());
}

TEST_CASE("every chain cause has a why and a fix, and a line in the runbook", "[chain]") {
  std::ifstream in(fs::path(CERTWATCH_SOURCE_DIR) / "deploy/runbooks/CrdbCertChainUntrusted.md");
  const std::string runbook(std::istreambuf_iterator<char>(in), {});
  REQUIRE_FALSE(runbook.empty());
  for (const x509::ChainCause cause : x509::all_chain_causes()) {
    const rules::ChainCauseInfo* info = rules::find_chain_cause(x509::to_string(cause));
    REQUIRE(info != nullptr);
    CHECK_FALSE(info->why.empty());
    CHECK_FALSE(info->fix.empty());
    CHECK(runbook.find("`" + std::string(info->detail) + "`") != std::string::npos);
  }
  CHECK(runbook.find("`" + std::string(rules::kChainNoCaFile) + "`") != std::string::npos);
}

TEST_CASE("a served chain is verified with the intermediates served after the leaf",
          "[chain][probe]") {
  const GeneratedCert root = generate_cert(ca_spec("Root CA"));
  const GeneratedCert inter = generate_cert(ca_spec("Intermediate CA"), &root);
  const GeneratedCert leaf = generate_cert(leaf_spec(), &inter);
  auto anchors = std::make_shared<std::vector<CertificateFacts>>();
  anchors->push_back(*x509::parse_der(root.der));
  const auto served = [&](const std::vector<const GeneratedCert*>& chain) {
    std::vector<CertObservation> out;
    for (std::size_t i = 0; i < chain.size(); ++i) {
      CertObservation cert;
      cert.id = {
          "probe", i == 0 ? CertType::node : CertType::ca, "1", "db1:26257", std::to_string(i), ""};
      cert.facts = std::make_shared<const CertificateFacts>(*x509::parse_der(chain[i]->der));
      cert.not_after = cert.facts->not_after;
      if (i == 0) {
        cert.dialed_name = "localhost";
        cert.trust_anchors = anchors;
      }
      out.push_back(std::move(cert));
    }
    return out;
  };
  const auto chain_detail = [](const std::vector<CertObservation>& certs) {
    std::vector<const CertObservation*> pointers;
    for (const CertObservation& cert : certs) pointers.push_back(&cert);
    rules::CheckInputs in;
    in.certificates = pointers;
    in.now = kNow;
    rules::VerifyCache cache;
    return detail_of(rules::run_checks(in, rules::ChecksConfig{}, cache).failures,
                     rules::kCheckChainUntrusted, "db1:26257");
  };
  CHECK_FALSE(chain_detail(served({&leaf, &inter})).has_value());
  CHECK(chain_detail(served({&leaf})) == "unknown_issuer");
}
