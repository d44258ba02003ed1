// The posture checks (rules/checks): one failing and one passing case per check, on real
// certificates made with OpenSSL where verification is involved and on hand-set facts where the
// check reads a single fact.

#include "rules/checks.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/certgen.hpp"
#include "support/facts.hpp"
#include "x509/parse.hpp"

namespace {

using namespace certwatch;
using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using rules::CheckFailure;

const std::int64_t kNow = testing::unix_now();

// A certificate as the file source reports it.
CertObservation observe(const GeneratedCert& cert, CertType type, const std::string& path,
                        const std::string& index = "0", const std::string& user = "") {
  CertObservation out;
  out.id = {"file", type, "", path, index, user};
  auto facts = x509::parse_der(cert.der);
  REQUIRE(facts);
  out.facts = std::make_shared<const CertificateFacts>(std::move(*facts));
  out.not_after = out.facts->not_after;
  out.not_before = out.facts->not_before;
  return out;
}

// Hand-set facts for checks that read one fact.
CertObservation plain(CertType type, const std::string& path, const std::string& cn,
                      const std::string& user = "") {
  CertObservation out;
  out.id = {"file", type, "", path, "0", user};
  CertificateFacts facts;
  facts.subject_cn = cn;
  facts.issuer_cn = "Some CA";
  facts.fingerprint_sha256 = std::string(64, 'a');
  facts.serial_hex = "1f";
  facts.not_before = kNow - kDay;
  facts.not_after = kNow + 300 * kDay;
  facts.key_type = "ec";
  facts.key_bits = 256;
  facts.signature_hash = "sha256";
  facts.dns_names = {"localhost"};
  facts.ip_addresses = {"127.0.0.1"};
  out.not_after = facts.not_after;
  out.facts = std::make_shared<const CertificateFacts>(std::move(facts));
  return out;
}

KeyFile key(const std::string& path, std::uint32_t mode, std::uint32_t uid = 1000,
            CertType type = CertType::node) {
  KeyFile out;
  out.path = path;
  out.cert_type = type;
  out.exists = true;
  out.mode = mode;
  out.uid = uid;
  out.owner = uid == 0 ? "root" : "cockroach";
  return out;
}

struct Run {
  std::vector<CertObservation> certs;
  std::vector<KeyFile> keys;
  std::vector<std::string> denylist;
  std::vector<std::string> local_names;
  rules::ChecksConfig config;
  std::int64_t now = kNow;

  rules::CheckResults operator()() {
    std::vector<const CertObservation*> cert_ptrs;
    for (const auto& c : certs) cert_ptrs.push_back(&c);
    std::vector<const KeyFile*> key_ptrs;
    for (const auto& k : keys) key_ptrs.push_back(&k);
    rules::CheckInputs in;
    in.certificates = cert_ptrs;
    in.keys = key_ptrs;
    in.denylist = denylist;
    in.local_node_names = local_names;
    in.now = now;
    rules::VerifyCache cache;
    auto results = rules::run_checks(in, config, cache);
    // CaUsage points into `certs`, which outlives the caller's use of it.
    return results;
  }
};

const CheckFailure& first_failure(const rules::CheckResults& results, std::string_view check) {
  const auto it = std::find_if(results.failures.begin(), results.failures.end(),
                               [&](const CheckFailure& f) { return f.check == check; });
  REQUIRE(it != results.failures.end());
  return *it;
}

std::vector<std::string> failed(const rules::CheckResults& results, std::string_view check) {
  std::vector<std::string> details;
  for (const CheckFailure& f : results.failures) {
    if (f.check == check) details.push_back(f.detail);
  }
  return details;
}

CertSpec spec(const std::string& cn, bool is_ca, std::int64_t not_after = 0) {
  CertSpec out;
  out.common_name = cn;
  out.is_ca = is_ca;
  out.not_after = not_after;
  out.dns_names = is_ca ? std::vector<std::string>{} : std::vector<std::string>{"localhost"};
  out.ip_addresses = is_ca ? std::vector<std::string>{} : std::vector<std::string>{"127.0.0.1"};
  return out;
}

}  // namespace

TEST_CASE("cn_mismatch: a client certificate names its user, a node certificate says node",
          "[checks]") {
  Run run;
  run.certs = {plain(CertType::client, "/c/client.alice.crt", "bob", "alice"),
               plain(CertType::client, "/c/client.carol.crt", "carol", "carol"),
               plain(CertType::node, "/c/node.crt", "node"),
               plain(CertType::node_client, "/c/client.node.crt", "root")};
  const auto results = run();
  const auto details = failed(results, rules::kCheckCnMismatch);
  REQUIRE(details.size() == 2);
  CHECK(details[0] == "CN bob authenticates as that user, not alice");
  CHECK(details[1] == "CN root, expected node");
  CHECK(first_failure(results, rules::kCheckCnMismatch).severity == Severity::critical);
}

TEST_CASE("eku_missing: node needs serverAuth and clientAuth unless client.node.crt exists",
          "[checks]") {
  Run run;
  CertObservation node = plain(CertType::node, "/c/node.crt", "node");
  CertificateFacts& node_facts = certwatch::testing::edit_facts(node);
  node_facts.has_eku = true;
  node_facts.eku_server_auth = true;
  CertObservation client = plain(CertType::client, "/c/client.app.crt", "app", "app");
  CertificateFacts& client_facts = certwatch::testing::edit_facts(client);
  client_facts.has_eku = true;
  client_facts.eku_server_auth = true;
  CertObservation no_extension = plain(CertType::client, "/c/client.any.crt", "any", "any");
  run.certs = {node, client, no_extension};
  auto details = failed(run(), rules::kCheckEkuMissing);
  REQUIRE(details.size() == 2);
  CHECK(details[0].starts_with("clientAuth (no client.node.crt"));
  CHECK(details[1] == "clientAuth");

  SECTION("a separate client.node.crt is enough for node.crt") {
    CertObservation node_client = plain(CertType::node_client, "/c/client.node.crt", "node");
    run.certs = {node, node_client};
    CHECK(failed(run(), rules::kCheckEkuMissing).empty());
  }
}

TEST_CASE("key checks: permissions, owner, missing key, mismatch, CA keys on the host",
          "[checks]") {
  Run run;
  run.certs = {plain(CertType::node, "/c/node.crt", "node")};
  SECTION("0600 and 0700 pass, 0740 passes only when root owns it") {
    for (const std::uint32_t mode : {0600u, 0700u, 0400u}) {
      run.keys = {key("/c/node.key", mode)};
      CHECK(failed(run(), rules::kCheckKeyPermissions).empty());
    }
    run.keys = {key("/c/node.key", 0740, 0)};
    CHECK(failed(run(), rules::kCheckKeyPermissions).empty());
    run.keys = {key("/c/node.key", 0740, 1000)};
    CHECK(failed(run(), rules::kCheckKeyPermissions) ==
          std::vector<std::string>{"/c/node.key mode 0740"});
    run.keys = {key("/c/node.key", 0644, 0)};
    CHECK(failed(run(), rules::kCheckKeyPermissions) ==
          std::vector<std::string>{"/c/node.key mode 0644"});
  }
  SECTION("key_owner is checked only when configured") {
    run.keys = {key("/c/node.key", 0600, 1000)};
    CHECK(failed(run(), rules::kCheckKeyOwner).empty());
    run.config.key_owner = "crdb";
    CHECK(failed(run(), rules::kCheckKeyOwner) ==
          std::vector<std::string>{"/c/node.key owned by cockroach"});
  }
  SECTION("a missing key and a key that is not the certificate's") {
    KeyFile absent = key("/c/node.key", 0);
    absent.exists = false;
    run.keys = {absent};
    CHECK(failed(run(), rules::kCheckKeyMissing) == std::vector<std::string>{"/c/node.key"});
    KeyFile other = key("/c/node.key", 0600);
    other.matches_certificate = false;
    run.keys = {other};
    CHECK(failed(run(), rules::kCheckKeyMismatch).size() == 1);
    other.matches_certificate = true;
    run.keys = {other};
    CHECK(failed(run(), rules::kCheckKeyMismatch).empty());
  }
  SECTION("a CA key in the certs directory, with the key's path and the CA type") {
    run.keys = {key("/c/ca.key", 0600, 1000, CertType::ca)};
    const auto results = run();
    REQUIRE(failed(results, rules::kCheckCaKeyPresent).size() == 1);
    const CheckFailure& ca_key = first_failure(results, rules::kCheckCaKeyPresent);
    CHECK(ca_key.id.path == "/c/ca.key");
    CHECK(ca_key.id.cert_type == CertType::ca);
  }
}

TEST_CASE("weak_key and weak_signature", "[checks]") {
  Run run;
  CertObservation rsa1024 = plain(CertType::client, "/c/client.a.crt", "a", "a");
  CertificateFacts& rsa1024_facts = certwatch::testing::edit_facts(rsa1024);
  rsa1024_facts.key_type = "rsa";
  rsa1024_facts.key_bits = 1024;
  CertObservation rsa2048 = plain(CertType::client, "/c/client.b.crt", "b", "b");
  CertificateFacts& rsa2048_facts = certwatch::testing::edit_facts(rsa2048);
  rsa2048_facts.key_type = "rsa";
  rsa2048_facts.key_bits = 2048;
  CertObservation sha1 = plain(CertType::client, "/c/client.c.crt", "c", "c");
  certwatch::testing::edit_facts(sha1).signature_hash = "sha1";
  CertObservation sha1_root = plain(CertType::ca, "/c/ca.crt", "Root");
  CertificateFacts& sha1_root_facts = certwatch::testing::edit_facts(sha1_root);
  sha1_root_facts.signature_hash = "sha1";
  sha1_root_facts.self_signed = true;
  run.certs = {rsa1024, rsa2048, sha1, sha1_root};
  const auto results = run();
  CHECK(failed(results, rules::kCheckWeakKey) == std::vector<std::string>{"rsa 1024"});
  CHECK(failed(results, rules::kCheckWeakSignature) == std::vector<std::string>{"sha1"});
}

TEST_CASE("san_missing: configured names, local names, the advertise host, as TLS compares",
          "[checks]") {
  Run run;
  CertObservation node = plain(CertType::node, "/c/node.crt", "node");
  CertificateFacts& node_facts = certwatch::testing::edit_facts(node);
  node_facts.dns_names = {"localhost", "*.db.example", "Node1.Example."};
  node_facts.ip_addresses = {"127.0.0.1", "10.0.0.1"};
  run.certs = {node};
  run.config.san_required = {"n2.db.example", "node1.example", "::ffff:10.0.0.1", "lb.example",
                             "a.b.db.example"};
  run.local_names = {"10.0.0.9"};
  CHECK(failed(run(), rules::kCheckSanMissing) ==
        std::vector<std::string>{"lb.example", "a.b.db.example", "10.0.0.9"});
  SECTION("without the local names") {
    CertificateFacts& edited = certwatch::testing::edit_facts(node);
    edited.dns_names = {"node1.example"};
    edited.ip_addresses = {};
    run.certs = {node};
    run.config.san_required = {};
    run.local_names = {};
    CHECK(failed(run(), rules::kCheckSanMissing) ==
          std::vector<std::string>{"localhost", "127.0.0.1"});
    run.config.san_include_local = false;
    CHECK(failed(run(), rules::kCheckSanMissing).empty());
  }
}

TEST_CASE("config: enabled, disable and severity", "[checks]") {
  Run run;
  run.certs = {plain(CertType::client, "/c/client.alice.crt", "bob", "alice")};
  run.config.severity["cn_mismatch"] = Severity::info;
  auto results = run();
  CHECK(first_failure(results, rules::kCheckCnMismatch).severity == Severity::info);
  CHECK(first_failure(results, rules::kCheckChainUntrusted).severity == Severity::critical);
  run.config.disable = {"cn_mismatch", "chain_untrusted"};
  CHECK(run().failures.empty());
  run.config.disable = {};
  run.config.enabled = false;
  CHECK(run().failures.empty());
}

TEST_CASE("denylist entries: fingerprint and issuer with serial", "[checks]") {
  CHECK(rules::parse_deny_entry(std::string(32, 'A') + ":" + std::string(32, 'b')) ==
        rules::DenyEntry{std::string(32, 'a') + std::string(32, 'b'), "", ""});
  CHECK(rules::parse_deny_entry("serial:00:1F issuer:CN=Old CA,O=Cockroach") ==
        rules::DenyEntry{"", "1f", "CN=Old CA,O=Cockroach"});
  CHECK_FALSE(rules::parse_deny_entry("not an entry"));
  CHECK_FALSE(rules::parse_deny_entry(std::string(63, 'a')));

  Run run;
  CertObservation cert = plain(CertType::client, "/c/client.a.crt", "a", "a");
  certwatch::testing::edit_facts(cert).issuer_dn = "CN=Old CA";
  run.certs = {cert};
  CHECK(failed(run(), rules::kCheckCompromised).empty());
  run.denylist = {std::string(64, 'a')};
  CHECK(failed(run(), rules::kCheckCompromised).size() == 1);
  run.denylist = {};
  run.config.denylist = {"serial:1f issuer:CN=Old CA"};
  CHECK(failed(run(), rules::kCheckCompromised).size() == 1);
}

TEST_CASE("chain and CA rotation on real certificates", "[checks][chain]") {
  const GeneratedCert old_ca = generate_cert(spec("Cockroach CA", true, kNow + 400 * kDay));
  const GeneratedCert new_ca = generate_cert(spec("Cockroach CA", true, kNow + 3000 * kDay));
  const GeneratedCert stranger = generate_cert(spec("Cockroach CA", true));
  const GeneratedCert node_old = generate_cert(spec("node", false, kNow + 300 * kDay), &old_ca);
  const GeneratedCert node_new = generate_cert(spec("node", false, kNow + 300 * kDay), &new_ca);

  Run run;
  const auto bundle = [&](const GeneratedCert& node) {
    return std::vector<CertObservation>{observe(new_ca, CertType::ca, "/c/ca.crt", "0"),
                                        observe(old_ca, CertType::ca, "/c/ca.crt", "1"),
                                        observe(node, CertType::node, "/c/node.crt")};
  };

  SECTION("node still signed by the old CA of a combined ca.crt: old CA in use") {
    run.certs = bundle(node_old);
    const auto results = run();
    CHECK(failed(results, rules::kCheckChainUntrusted).empty());
    REQUIRE(results.ca_usage.size() == 2);
    CHECK(results.ca_usage[0].ca->id.index == "0");
    CHECK(results.ca_usage[0].issued == 0);
    CHECK(results.ca_usage[1].issued == 1);
    CHECK_FALSE(results.ca_usage[1].removable);
  }
  SECTION("after re-issue from the new CA: the old CA can leave the bundle") {
    run.certs = bundle(node_new);
    const auto results = run();
    REQUIRE(results.ca_usage.size() == 2);
    CHECK(results.ca_usage[0].issued == 1);
    CHECK(results.ca_usage[1].issued == 0);
    CHECK(results.ca_usage[1].removable);
  }
  SECTION("a leaf from an unrelated CA with the same name does not verify") {
    const GeneratedCert foreign = generate_cert(spec("node", false), &stranger);
    run.certs = {observe(new_ca, CertType::ca, "/c/ca.crt"),
                 observe(foreign, CertType::node, "/c/node.crt")};
    const auto details = failed(run(), rules::kCheckChainUntrusted);
    REQUIRE(details.size() == 1);
    // Same name, another key: the authority key id says which CA it really was.
    CHECK(details[0] == "key_id_mismatch");
  }
  SECTION("no CA file beside the leaf") {
    run.certs = {observe(node_new, CertType::node, "/c/node.crt")};
    CHECK(failed(run(), rules::kCheckChainUntrusted) == std::vector<std::string>{"no_ca_file"});
  }
  SECTION("a client certificate verifies against ca-client.crt when it exists") {
    const GeneratedCert alice = generate_cert(spec("alice", false), &old_ca);
    run.certs = {observe(new_ca, CertType::client_ca, "/c/ca-client.crt"),
                 observe(old_ca, CertType::ca, "/c/ca.crt"),
                 observe(alice, CertType::client, "/c/client.alice.crt", "0", "alice")};
    CHECK(failed(run(), rules::kCheckChainUntrusted).size() == 1);
  }
  SECTION("outlives_ca: the only verifying CA expires first") {
    const GeneratedCert short_ca = generate_cert(spec("Short CA", true, kNow + 50 * kDay));
    const GeneratedCert leaf = generate_cert(spec("node", false, kNow + 300 * kDay), &short_ca);
    run.certs = {observe(short_ca, CertType::ca, "/c/ca.crt"),
                 observe(leaf, CertType::node, "/c/node.crt")};
    const auto details = failed(run(), rules::kCheckOutlivesCa);
    REQUIRE(details.size() == 1);
    CHECK(details[0].starts_with("CA expires "));
    run.certs = bundle(node_new);
    CHECK(failed(run(), rules::kCheckOutlivesCa).empty());
  }
  SECTION("a denylisted CA taints what it issued") {
    run.certs = bundle(node_old);
    run.denylist = {testing::sha256_fingerprint(old_ca)};
    const auto details = failed(run(), rules::kCheckCompromised);
    CHECK(std::count(details.begin(), details.end(), "issued by denylisted CA Cockroach CA") == 1);
  }
  SECTION("the verification cache answers the second time without verifying again") {
    run.certs = bundle(node_old);
    rules::VerifyCache cache;
    const auto first = cache.issued_by(*run.certs[2].facts, *run.certs[1].facts);
    const auto again = cache.issued_by(*run.certs[2].facts, *run.certs[1].facts);
    CHECK(first);
    CHECK(again);
  }
}

TEST_CASE("weak key, SHA-1 and missing EKU on real certificates", "[checks][chain]") {
  const GeneratedCert ca = generate_cert(spec("Cockroach CA", true));
  CertSpec rsa1024 = spec("legacy", false);
  rsa1024.key_algorithm = testing::KeyAlgorithm::rsa;
  rsa1024.key_bits = 1024;
  CertSpec rsa2048 = rsa1024;
  rsa2048.common_name = "modern";
  rsa2048.key_bits = 2048;
  CertSpec sha1 = spec("old", false);
  sha1.signature_digest = "sha1";
  CertSpec server_only = spec("node", false);
  server_only.extended_key_usage = testing::ExtendedKeyUsage::server_auth;
  Run run;
  run.certs = {
      observe(ca, CertType::ca, "/c/ca.crt"),
      observe(generate_cert(rsa1024, &ca), CertType::client, "/c/client.legacy.crt", "0", "legacy"),
      observe(generate_cert(rsa2048, &ca), CertType::client, "/c/client.modern.crt", "0", "modern"),
      observe(generate_cert(sha1, &ca), CertType::client, "/c/client.old.crt", "0", "old"),
      observe(generate_cert(server_only, &ca), CertType::node, "/c/node.crt")};
  const auto results = run();
  CHECK(failed(results, rules::kCheckWeakKey) == std::vector<std::string>{"rsa 1024"});
  CHECK(failed(results, rules::kCheckWeakSignature) == std::vector<std::string>{"sha1"});
  CHECK(failed(results, rules::kCheckEkuMissing) ==
        std::vector<std::string>{"clientAuth (no client.node.crt beside it)"});
  CHECK(failed(results, rules::kCheckChainUntrusted).empty());
  CHECK(failed(results, rules::kCheckCnMismatch).empty());
  // Every leaf verifies through the one CA: its usage counts them all.
  REQUIRE(results.ca_usage.size() == 1);
  CHECK(results.ca_usage[0].issued == 4);
}

TEST_CASE("hundreds of chains through one verify cache give each leaf its own verdict",
          "[checks][chain]") {
  // 300 client certificates in one directory, in turn signed by the bundle's CA, by a stranger
  // of the same name, and by the CA but outliving it: one cache of signatures, anchors and
  // verifications serves them all, and each must get exactly its own failures.
  const GeneratedCert ca = generate_cert(spec("Cockroach CA", true, kNow + 1000 * kDay));
  const GeneratedCert stranger = generate_cert(spec("Cockroach CA", true, kNow + 1000 * kDay));
  std::vector<GeneratedCert> leaves;
  Run run;
  run.certs.push_back(observe(ca, CertType::ca, "/c/ca.crt"));
  std::map<std::string, std::vector<std::string>> expected;  // path -> failed chain checks
  for (int i = 0; i < 300; ++i) {
    const std::string user = "user" + std::to_string(i);
    const std::string path = "/c/client." + user + ".crt";
    CertSpec leaf = spec(user, false, kNow + (i % 3 == 2 ? 2000 : 300) * kDay);
    leaves.push_back(generate_cert(leaf, i % 3 == 1 ? &stranger : &ca));
    run.certs.push_back(observe(leaves.back(), CertType::client, path, "0", user));
    if (i % 3 == 1) expected[path] = {std::string(rules::kCheckChainUntrusted)};
    if (i % 3 == 2) expected[path] = {std::string(rules::kCheckOutlivesCa)};
  }
  const auto results = run();
  std::map<std::string, std::vector<std::string>> actual;
  for (const CheckFailure& f : results.failures) {
    if (f.check == rules::kCheckChainUntrusted || f.check == rules::kCheckOutlivesCa) {
      actual[f.id.path].push_back(f.check);
    }
  }
  CHECK(actual == expected);
  REQUIRE(results.ca_usage.size() == 1);
  CHECK(results.ca_usage[0].issued == 200);
}
