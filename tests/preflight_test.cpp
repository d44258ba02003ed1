// `crdb-certwatch preflight` (issue 24) through the real binary, on real certificates made here:
// a staged set judged against the live one before the swap. Trust verdicts are checked against
// `openssl verify`, key matches against `openssl pkey`/`openssl x509`, the JSON by parsing it.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/certgen.hpp"
#include "support/pg_harness.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::testing::CertSpec;
using certwatch::testing::CommandResult;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::KeyAlgorithm;
using certwatch::testing::run_command;
using certwatch::testing::single_quoted_yaml;
using certwatch::testing::TempDir;
using certwatch::testing::unix_now;
using certwatch::testing::write_key_file;
using nlohmann::json;

CommandResult run_binary(const std::vector<std::string>& args) {
  std::vector<std::string> argv{CERTWATCH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = run_command(argv, 20s);
  if (result.timed_out) FAIL("crdb-certwatch did not exit within 20 s");
  return result;
}

GeneratedCert make_ca(const std::string& cn) {
  CertSpec spec;
  spec.common_name = cn;
  spec.is_ca = true;
  spec.not_after = unix_now() + 3650 * kDay;
  return generate_cert(spec);
}

CertSpec node_spec(std::int64_t days = 365) {
  CertSpec spec;
  spec.common_name = "node";
  spec.dns_names = {"localhost", "n1.db.example"};
  spec.ip_addresses = {"127.0.0.1", "10.0.0.1"};
  spec.not_after = unix_now() + days * kDay;
  return spec;
}

// A certs directory: ca.crt (the CAs in order), node.crt and node.key.
fs::path write_set(const TempDir& tmp, const std::string& dir,
                   const std::vector<const GeneratedCert*>& cas, const GeneratedCert& node,
                   const GeneratedCert* key_of = nullptr, unsigned key_mode = 0600) {
  std::string bundle;
  for (const GeneratedCert* ca : cas) bundle += ca->cert_pem;
  tmp.write(dir + "/ca.crt", bundle);
  tmp.write(dir + "/node.crt", node.cert_pem);
  write_key_file(tmp, dir + "/node.key", key_of != nullptr ? *key_of : node);
  const fs::path key = tmp.path() / dir / "node.key";
  REQUIRE(::chmod(key.c_str(), key_mode) == 0);
  return tmp.path() / dir;
}

// A config with no cluster, whose certs dir is `live`, so tests never depend on the host's
// /etc/crdb-certwatch.
fs::path write_config(const TempDir& tmp, const fs::path& live, const std::string& extra = "") {
  return tmp.write("config.yaml",
                   "files:\n  certs_dirs: [" + single_quoted_yaml(live.string()) + "]\n" + extra);
}

CommandResult preflight(const TempDir& tmp, const fs::path& staged, const fs::path& live,
                        std::vector<std::string> more = {}) {
  std::vector<std::string> args{"preflight",
                                "--staged",
                                staged.string(),
                                "--live",
                                live.string(),
                                "--config.file",
                                write_config(tmp, live).string()};
  args.insert(args.end(), more.begin(), more.end());
  return run_binary(args);
}

json preflight_json(const TempDir& tmp, const fs::path& staged, const fs::path& live,
                    int& exit_code) {
  const CommandResult result = preflight(tmp, staged, live, {"--output=json"});
  exit_code = result.exit_code;
  INFO(result.out << result.err);
  return json::parse(result.out);
}

std::vector<json> findings_of(const json& report, const std::string& check) {
  std::vector<json> out;
  for (const json& finding : report.at("findings")) {
    if (finding.at("check") == check) out.push_back(finding);
  }
  return out;
}

// `openssl verify -CAfile ca leaf`: the independent trust oracle.
bool openssl_verifies(const fs::path& ca_file, const fs::path& leaf) {
  const CommandResult r =
      run_command({"openssl", "verify", "-CAfile", ca_file.string(), leaf.string()}, 20s);
  return r.exit_code == 0;
}

bool have_openssl() {
  return certwatch::testing::require_tool("openssl", "apt-get install openssl");
}

}  // namespace

TEST_CASE("preflight: a safe node rotation exits 0, the live set taken from the config",
          "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  CertSpec renewed = node_spec(400);
  renewed.dns_names.push_back("n1-lb.db.example");
  const GeneratedCert new_node = generate_cert(renewed, &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node);

  const CommandResult r = run_binary({"preflight", "--staged", staged.string(), "--config.file",
                                      write_config(tmp, live).string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("OK: safe to swap", 0) == 0);
  CHECK(r.out.find("-> live " + live.string()) != std::string::npos);
  CHECK(r.out.find("renewed") != std::string::npos);
  CHECK(r.out.find("+n1-lb.db.example") != std::string::npos);
  // Without a cluster, the cluster part of ca_dropped says it was skipped, and why.
  CHECK(r.out.find("SKIPPED") != std::string::npos);
  CHECK(r.out.find("the configuration has no cluster section") != std::string::npos);
}

TEST_CASE("preflight: a staged node certificate missing a SAN the live one had is unsafe",
          "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  CertSpec narrower = node_spec(400);
  narrower.dns_names = {"localhost"};  // n1.db.example dropped
  narrower.ip_addresses = {"127.0.0.1", "10.0.0.1"};
  const GeneratedCert new_node = generate_cert(narrower, &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node);

  const CommandResult r = preflight(tmp, staged, live);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.rfind("CRITICAL: UNSAFE", 0) == 0);
  CHECK(r.out.find("sans_dropped  node.crt: n1.db.example") != std::string::npos);
  CHECK(r.out.find("-n1.db.example") != std::string::npos);  // the table's SANs removed
  CHECK(r.out.find("fix: re-issue it with every SAN of the live certificate: add n1.db.example") !=
        std::string::npos);

  SECTION("a wildcard that covers the dropped name keeps it") {
    CertSpec wildcard = narrower;
    wildcard.dns_names = {"localhost", "*.db.example"};
    const GeneratedCert covered = generate_cert(wildcard, &ca);
    const fs::path staged2 = write_set(tmp, "staged2", {&ca}, covered);
    const CommandResult ok = preflight(tmp, staged2, live);
    INFO(ok.out);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.find("sans_dropped") == std::string::npos);
  }
  SECTION("a required SAN of the config (checks.san.required) counts as dropped too") {
    const GeneratedCert same = generate_cert(node_spec(400), &ca);
    const fs::path staged3 = write_set(tmp, "staged3", {&ca}, same);
    const fs::path config = tmp.write(
        "config-required.yaml", "files:\n  certs_dirs: [" + single_quoted_yaml(live.string()) +
                                    "]\nchecks:\n  san:\n    required: [crdb.lb.example]\n");
    const CommandResult req =
        run_binary({"preflight", "--staged", staged3.string(), "--config.file", config.string()});
    INFO(req.out << req.err);
    CHECK(req.exit_code == 2);
    CHECK(req.out.find("sans_dropped  node.crt: crdb.lb.example missing (required: "
                       "checks.san.required)") != std::string::npos);
  }
}

TEST_CASE(
    "preflight: a CA rotation in the wrong order (new CA only, leaves on the old) is "
    "ca_dropped",
    "[preflight]") {
  if (!have_openssl()) return;
  TempDir tmp;
  const GeneratedCert old_ca = make_ca("Old CA");
  const GeneratedCert new_ca = make_ca("New CA");
  const GeneratedCert node = generate_cert(node_spec(), &old_ca);
  const fs::path live = write_set(tmp, "live", {&old_ca}, node);
  const fs::path staged = write_set(tmp, "staged", {&new_ca}, node);
  // The oracle: after the swap the node's own (old) certificate no longer verifies.
  REQUIRE_FALSE(openssl_verifies(staged / "ca.crt", live / "node.crt"));

  int code = -1;
  const json report = preflight_json(tmp, staged, live, code);
  CHECK(code == 2);
  const auto dropped = findings_of(report, "ca_dropped");
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0].at("subject") == "ca.crt");
  const std::string detail = dropped[0].at("detail");
  CHECK(detail.find("CA Old CA") != std::string::npos);
  // The staged node.crt (the same certificate as the live one) still chains to the old CA.
  CHECK(detail.find("staged node.crt") != std::string::npos);
  CHECK(std::string(dropped[0].at("fix")).find("new CA first, old second") != std::string::npos);
  // One root cause: the live leaf's break is ca_dropped's, not also a trust_break.
  CHECK(findings_of(report, "trust_break").empty());

  SECTION("the right order (new CA first, old second) is safe, and openssl agrees") {
    const fs::path combined = write_set(tmp, "combined", {&new_ca, &old_ca}, node);
    REQUIRE(openssl_verifies(combined / "ca.crt", live / "node.crt"));
    int ok_code = -1;
    const json ok = preflight_json(tmp, combined, live, ok_code);
    CHECK(ok_code == 0);
    CHECK(findings_of(ok, "ca_dropped").empty());
    bool added = false;
    for (const json& c : ok.at("certificates")) {
      added = added || (c.at("change") == "added" && c.at("staged").at("subject_cn") == "New CA");
    }
    CHECK(added);
  }
  SECTION("a CA nothing chains to any more may leave the bundle") {
    const GeneratedCert new_node = generate_cert(node_spec(), &new_ca);
    const fs::path live2 = write_set(tmp, "live2", {&new_ca, &old_ca}, new_node);
    const fs::path staged2 = write_set(tmp, "staged2", {&new_ca}, new_node);
    int ok_code = -1;
    const json ok = preflight_json(tmp, staged2, live2, ok_code);
    CHECK(ok_code == 0);
    CHECK(findings_of(ok, "ca_dropped").empty());
  }
}

TEST_CASE("preflight: a staged leaf from a CA the live bundle lacks is a trust_break",
          "[preflight]") {
  if (!have_openssl()) return;
  TempDir tmp;
  const GeneratedCert old_ca = make_ca("Old CA");
  const GeneratedCert new_ca = make_ca("New CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &old_ca);
  const GeneratedCert new_node = generate_cert(node_spec(400), &new_ca);
  const fs::path live = write_set(tmp, "live", {&old_ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&new_ca, &old_ca}, new_node);
  // The oracle: peers still on the live CA file refuse the staged leaf; the staged set itself is
  // consistent.
  REQUIRE_FALSE(openssl_verifies(live / "ca.crt", staged / "node.crt"));
  REQUIRE(openssl_verifies(staged / "ca.crt", staged / "node.crt"));

  int code = -1;
  const json report = preflight_json(tmp, staged, live, code);
  CHECK(code == 2);
  const auto broken = findings_of(report, "trust_break");
  REQUIRE(broken.size() == 1);
  CHECK(broken[0].at("subject") == "node.crt");
  CHECK(std::string(broken[0].at("detail")).find("the live ca.crt") != std::string::npos);
  CHECK(findings_of(report, "chain_untrusted").empty());

  SECTION("once the combined CA file is live, the same staged leaf is safe") {
    const fs::path live2 = write_set(tmp, "live2", {&new_ca, &old_ca}, old_node);
    REQUIRE(openssl_verifies(live2 / "ca.crt", staged / "node.crt"));
    int ok_code = -1;
    const json ok = preflight_json(tmp, staged, live2, ok_code);
    CHECK(ok_code == 0);
    CHECK(findings_of(ok, "trust_break").empty());
  }
  SECTION("the other direction: a staged CA file that refuses what peers still present") {
    // A client CA file introduced with only a new CA: the live client certificate (from the old
    // CA, verified by ca.crt until now) is refused after the swap.
    const fs::path live3 = write_set(tmp, "live3", {&old_ca}, old_node);
    const fs::path staged3 = write_set(tmp, "staged3", {&old_ca}, old_node);
    CertSpec client;
    client.common_name = "root";
    const GeneratedCert old_client = generate_cert(client, &old_ca);
    const GeneratedCert new_client = generate_cert(client, &new_ca);
    tmp.write("live3/client.root.crt", old_client.cert_pem);
    write_key_file(tmp, "live3/client.root.key", old_client);
    tmp.write("staged3/client.root.crt", new_client.cert_pem);
    write_key_file(tmp, "staged3/client.root.key", new_client);
    tmp.write("staged3/ca-client.crt", new_ca.cert_pem);
    REQUIRE_FALSE(openssl_verifies(staged3 / "ca-client.crt", live3 / "client.root.crt"));
    int c = -1;
    const json r = preflight_json(tmp, staged3, live3, c);
    CHECK(c == 2);
    bool refused_live = false;
    for (const json& f : findings_of(r, "trust_break")) {
      refused_live = refused_live || f.at("subject") == "live client.root.crt";
    }
    CHECK(refused_live);
  }
}

TEST_CASE("preflight: a staged key that does not match its certificate is unsafe", "[preflight]") {
  if (!have_openssl()) return;
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  const GeneratedCert new_node = generate_cert(node_spec(400), &ca);
  const GeneratedCert stranger = generate_cert(node_spec(400), &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node, &stranger);
  // The oracle: the public keys of the key file and the certificate differ.
  const CommandResult key_pub =
      run_command({"openssl", "pkey", "-pubout", "-in", (staged / "node.key").string()}, 20s);
  const CommandResult cert_pub = run_command(
      {"openssl", "x509", "-noout", "-pubkey", "-in", (staged / "node.crt").string()}, 20s);
  REQUIRE(key_pub.exit_code == 0);
  REQUIRE(cert_pub.exit_code == 0);
  REQUIRE(key_pub.out != cert_pub.out);

  const CommandResult r = preflight(tmp, staged, live);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("critical  key_mismatch  node.crt") != std::string::npos);
  // key_match is on by default in preflight, though the config leaves it off.
}

TEST_CASE("preflight: a staged key at 0644 is unsafe", "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  const GeneratedCert new_node = generate_cert(node_spec(400), &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node, nullptr, 0644);
  const CommandResult r = preflight(tmp, staged, live);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("critical  key_permissions  node.crt: " + (staged / "node.key").string() +
                   " mode 0644") != std::string::npos);
  CHECK(r.out.find("fix: chmod 0600") != std::string::npos);
  SECTION("a missing staged key is unsafe as well") {
    fs::remove(staged / "node.key");
    const CommandResult missing = preflight(tmp, staged, live);
    CHECK(missing.exit_code == 2);
    CHECK(missing.out.find("critical  key_missing  node.crt") != std::string::npos);
  }
}

TEST_CASE("preflight: a notBefore one hour ahead is not_yet_valid_soon, a warning", "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  CertSpec ahead = node_spec(400);
  ahead.not_before = unix_now() + 3600;
  const GeneratedCert new_node = generate_cert(ahead, &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node);
  int code = -1;
  const json report = preflight_json(tmp, staged, live, code);
  CHECK(code == 1);
  CHECK(report.at("status") == "WARNING");
  const auto soon = findings_of(report, "not_yet_valid_soon");
  REQUIRE(soon.size() == 1);
  const std::string detail = soon[0].at("detail");
  // "in 59m 59s" or "in 1h": an hour ahead, give or take the seconds the test took.
  CHECK((detail.find("in 1h") != std::string::npos || detail.find("in 59m") != std::string::npos));
  CHECK(findings_of(report, "chain_untrusted").empty());
}

TEST_CASE("preflight: a downgrade from RSA-4096 to RSA-2048 and SHA-256 to SHA-1 is a warning",
          "[preflight]") {
  TempDir tmp;
  CertSpec ca_spec;
  ca_spec.common_name = "RSA CA";
  ca_spec.is_ca = true;
  ca_spec.key_algorithm = KeyAlgorithm::rsa;
  ca_spec.key_bits = 2048;
  ca_spec.not_after = unix_now() + 3650 * kDay;
  const GeneratedCert ca = generate_cert(ca_spec);
  CertSpec strong = node_spec(200);
  strong.key_algorithm = KeyAlgorithm::rsa;
  strong.key_bits = 4096;
  const GeneratedCert old_node = generate_cert(strong, &ca);
  CertSpec weaker = node_spec(400);
  weaker.key_algorithm = KeyAlgorithm::rsa;
  weaker.key_bits = 2048;
  weaker.signature_digest = "sha1";
  const GeneratedCert new_node = generate_cert(weaker, &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node);
  int code = -1;
  const json report = preflight_json(tmp, staged, live, code);
  CHECK(code == 1);
  std::vector<std::string> details;
  for (const json& f : findings_of(report, "downgrade")) details.push_back(f.at("detail"));
  CHECK(std::find(details.begin(), details.end(), "weaker key: rsa 4096 -> rsa 2048") !=
        details.end());
  CHECK(std::find(details.begin(), details.end(), "weaker signature: sha256 -> sha1") !=
        details.end());
  for (const json& f : report.at("findings")) CHECK(f.at("severity") != "critical");

  SECTION("a staged leaf expiring before the live one is a downgrade too") {
    const GeneratedCert shorter = generate_cert(node_spec(100), &ca);
    const fs::path staged2 = write_set(tmp, "staged2", {&ca}, shorter);
    int c = -1;
    const json r = preflight_json(tmp, staged2, live, c);
    CHECK(c == 1);
    bool earlier = false;
    for (const json& f : findings_of(r, "downgrade")) {
      earlier =
          earlier || std::string(f.at("detail")).find("before the live one") != std::string::npos;
    }
    CHECK(earlier);
  }
}

TEST_CASE("preflight: identity_changed for a node CN and a client CN that no longer names its user",
          "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  CertSpec renamed = node_spec(400);
  renamed.common_name = "n1";
  const GeneratedCert new_node = generate_cert(renamed, &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node);
  CertSpec client;
  client.common_name = "alice";
  const GeneratedCert old_client = generate_cert(client, &ca);
  client.common_name = "bob";
  const GeneratedCert new_client = generate_cert(client, &ca);
  tmp.write("live/client.alice.crt", old_client.cert_pem);
  write_key_file(tmp, "live/client.alice.key", old_client);
  tmp.write("staged/client.alice.crt", new_client.cert_pem);
  write_key_file(tmp, "staged/client.alice.key", new_client);
  int code = -1;
  const json report = preflight_json(tmp, staged, live, code);
  CHECK(code == 2);
  std::vector<std::string> subjects;
  for (const json& f : findings_of(report, "identity_changed")) subjects.push_back(f.at("subject"));
  CHECK(subjects == std::vector<std::string>{"node.crt", "client.alice.crt"});
  // The posture check that says the same gives way: one root cause per certificate.
  CHECK(findings_of(report, "cn_mismatch").empty());
}

TEST_CASE("preflight: the JSON shape", "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  CertSpec narrower = node_spec(400);
  narrower.dns_names = {"localhost", "n2.db.example"};
  const GeneratedCert new_node = generate_cert(narrower, &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node);
  int code = -1;
  const json r = preflight_json(tmp, staged, live, code);
  CHECK(r.at("status") == "CRITICAL");
  CHECK(r.at("exit_code") == code);
  CHECK(code == 2);
  CHECK(r.at("generated_at").is_number_integer());
  CHECK(r.at("staged") == staged.string());
  CHECK(r.at("live") == live.string());
  CHECK(r.at("layout") == json{{"kind", "certs_dir"}, {"cert_type", nullptr}, {"user", ""}});
  CHECK(r.at("error") == "");
  const json* node = nullptr;
  for (const json& c : r.at("certificates")) {
    REQUIRE(c.is_object());
    for (const char* key :
         {"name", "cert_type", "change", "live", "staged", "sans_added", "sans_removed"}) {
      CHECK(c.contains(key));
    }
    if (c.at("name") == "node.crt") node = &c;
  }
  REQUIRE(node != nullptr);
  CHECK(node->at("cert_type") == "node");
  CHECK(node->at("change") == "renewed");
  CHECK(node->at("sans_added") == json{"n2.db.example"});
  CHECK(node->at("sans_removed") == json{"n1.db.example"});
  for (const char* side : {"live", "staged"}) {
    const json& s = node->at(side);
    CHECK(s.at("subject_cn") == "node");
    CHECK(s.at("issuer_cn") == "Cluster CA");
    CHECK(s.at("not_before").is_number_integer());
    CHECK(s.at("not_after").is_number_integer());
    CHECK(s.at("expires").is_string());
    CHECK(s.at("key") == "ec 256");
    CHECK(s.at("signature") == "sha256");
    CHECK(std::string(s.at("fingerprint_sha256")).size() == 64);
  }
  CHECK(node->at("staged").at("not_after") > node->at("live").at("not_after"));
  REQUIRE(r.at("findings").is_array());
  REQUIRE_FALSE(r.at("findings").empty());
  for (const json& f : r.at("findings")) {
    CHECK(f.size() == 5);
    for (const char* key : {"check", "severity", "subject", "detail", "fix"}) {
      CHECK(f.at(key).is_string());
    }
  }
  CHECK(r.at("findings")[0].at("check") == "sans_dropped");
  CHECK(r.at("findings")[0].at("severity") == "critical");
  REQUIRE(r.at("skipped").is_array());
  for (const json& s : r.at("skipped")) {
    CHECK(s.at("check").is_string());
    CHECK(s.at("reason").is_string());
  }
}

TEST_CASE("preflight: a staged set that cannot be read exits 3, never hangs", "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert node = generate_cert(node_spec(), &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, node);
  const fs::path config = write_config(tmp, live);
  const auto run = [&](const fs::path& staged) {
    return run_binary({"preflight", "--staged", staged.string(), "--config.file", config.string()});
  };
  SECTION("missing") {
    const CommandResult r = run(tmp.path() / "nope");
    CHECK(r.exit_code == 3);
    CHECK(r.out.find("UNKNOWN: the staged set cannot be read") != std::string::npos);
  }
  SECTION("a regular file") {
    const CommandResult r = run(tmp.write("file", "x"));
    CHECK(r.exit_code == 3);
  }
  SECTION("a FIFO") {
    const fs::path fifo = tmp.path() / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const CommandResult r = run(fifo);
    CHECK(r.exit_code == 3);
  }
  SECTION("empty") {
    fs::create_directory(tmp.path() / "empty");
    const CommandResult r = run(tmp.path() / "empty");
    CHECK(r.exit_code == 3);
    CHECK(r.out.find("no certificate in the staged set") != std::string::npos);
  }
  SECTION("a bad command line") {
    const CommandResult r = run_binary({"preflight", "--output=xml", "--staged", "x"});
    CHECK(r.exit_code == 3);
    const CommandResult no_staged = run_binary({"preflight"});
    CHECK(no_staged.exit_code == 3);
  }
  SECTION("a named config that does not load") {
    const fs::path bad = tmp.write("bad.yaml", "nonsense_key: 1\n");
    const CommandResult r =
        run_binary({"preflight", "--staged", live.string(), "--config.file", bad.string()});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("nonsense_key") != std::string::npos);
  }
}

TEST_CASE("preflight: hostile staged files are findings, never hangs or whole reads",
          "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  const GeneratedCert new_node = generate_cert(node_spec(400), &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node);
  // A FIFO named like a certificate (opening it for reading would block for ever), a file past
  // the size bound, and a symlink to a certificate elsewhere (followed, as CockroachDB does).
  REQUIRE(::mkfifo((staged / "client.fifo.crt").c_str(), 0600) == 0);
  tmp.write("staged/ca-ui.crt", std::string(2 * 1024 * 1024, 'A'));
  CertSpec client;
  client.common_name = "carol";
  const GeneratedCert carol = generate_cert(client, &ca);
  tmp.write("elsewhere/client.carol.crt", carol.cert_pem);
  write_key_file(tmp, "staged/client.carol.key", carol);
  fs::create_symlink(tmp.path() / "elsewhere/client.carol.crt", staged / "client.carol.crt");

  int code = -1;
  const json r = preflight_json(tmp, staged, live, code);
  CHECK(code == 2);
  std::map<std::string, std::string> errors;
  for (const json& f : findings_of(r, "file_error")) errors[f.at("subject")] = f.at("detail");
  CHECK(errors["client.fifo.crt"].find("not_regular_file") != std::string::npos);
  CHECK(errors["ca-ui.crt"].find("too_large") != std::string::npos);
  bool carol_read = false;
  for (const json& c : r.at("certificates")) {
    carol_read = carol_read || (c.at("name") == "client.carol.crt" && c.at("change") == "added");
  }
  CHECK(carol_read);
}

TEST_CASE("preflight: a TLS Secret layout takes --cert-type", "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  CertSpec narrower = node_spec(400);
  narrower.dns_names = {"localhost"};
  const GeneratedCert new_node = generate_cert(narrower, &ca);
  const GeneratedCert good_node = generate_cert(node_spec(400), &ca);
  using certwatch::testing::publish_secret_volume;
  using certwatch::testing::SecretFile;
  const auto secret = [&](const std::string& dir, const GeneratedCert& leaf) {
    return publish_secret_volume(
        tmp, dir, "..2026_01",
        {{"tls.crt", leaf.cert_pem, 0644},
         {"tls.key",
          certwatch::testing::private_key_pem(leaf, certwatch::testing::KeyPemFormat::pkcs8), 0600},
         {"ca.crt", ca.cert_pem, 0644}});
  };
  const fs::path live = secret("live", old_node);
  const fs::path staged = secret("staged", new_node);
  const fs::path good = secret("good", good_node);
  const fs::path config = write_config(tmp, tmp.path() / "unused");

  const CommandResult untyped = run_binary({"preflight", "--staged", staged.string(), "--live",
                                            live.string(), "--config.file", config.string()});
  CHECK(untyped.exit_code == 3);
  CHECK(untyped.err.find("--cert-type") != std::string::npos);

  const CommandResult typed =
      run_binary({"preflight", "--staged", staged.string(), "--live", live.string(),
                  "--config.file", config.string(), "--cert-type", "node", "--output=json"});
  INFO(typed.out << typed.err);
  CHECK(typed.exit_code == 2);
  const json r = json::parse(typed.out);
  CHECK(r.at("layout") == json{{"kind", "tls_secret"}, {"cert_type", "node"}, {"user", ""}});
  const auto dropped = findings_of(r, "sans_dropped");
  REQUIRE_FALSE(dropped.empty());
  CHECK(dropped[0].at("subject") == "tls.crt");

  const CommandResult ok =
      run_binary({"preflight", "--staged", good.string(), "--live", live.string(), "--config.file",
                  config.string(), "--cert-type", "node"});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);

  SECTION("the live Secret from the config's files.tls_secrets") {
    const fs::path secret_config = tmp.write(
        "secret.yaml", "files:\n  certs_dirs: []\n  tls_secrets:\n    - path: " +
                           single_quoted_yaml(live.string()) + "\n      cert_type: node\n");
    const CommandResult from_config =
        run_binary({"preflight", "--staged", staged.string(), "--config.file",
                    secret_config.string(), "--cert-type", "node"});
    CHECK(from_config.exit_code == 2);
    CHECK(from_config.out.find("-> live " + live.string()) != std::string::npos);
  }
  SECTION("--cert-type on a certs directory is refused") {
    const fs::path dir = write_set(tmp, "plain", {&ca}, good_node);
    const CommandResult refused =
        run_binary({"preflight", "--staged", dir.string(), "--live", dir.string(), "--config.file",
                    config.string(), "--cert-type", "node"});
    CHECK(refused.exit_code == 3);
  }
}

TEST_CASE("preflight: an unreachable cluster is a skipped check, said, not an error",
          "[preflight]") {
  TempDir tmp;
  const GeneratedCert ca = make_ca("Cluster CA");
  const GeneratedCert old_node = generate_cert(node_spec(200), &ca);
  const GeneratedCert new_node = generate_cert(node_spec(400), &ca);
  const fs::path live = write_set(tmp, "live", {&ca}, old_node);
  const fs::path staged = write_set(tmp, "staged", {&ca}, new_node);
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  const fs::path config =
      write_config(tmp, live,
                   "cluster:\n  dsn: 'postgresql://certwatch@127.0.0.1:1/defaultdb?sslmode=disable'"
                   "\n  connect_timeout: 2s\n");
  const CommandResult r =
      run_binary({"preflight", "--staged", staged.string(), "--config.file", config.string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ca_dropped (the cluster's report): the cluster could not be read "
                   "(connect_failed") != std::string::npos);
}

TEST_CASE("preflight: ca_dropped asks the cluster which nodes still load the old CA",
          "[preflight][cluster]") {
  using certwatch::testing::FakeNode;
  using certwatch::testing::insert_node;
  certwatch::testing::PgServer& pg = certwatch::testing::shared_pg_server();
  pg.reset_node_status();
  TempDir tmp;
  CertSpec old_spec;
  old_spec.common_name = "Old CA";
  old_spec.is_ca = true;
  old_spec.not_after = unix_now() + 1000 * kDay;
  const GeneratedCert old_ca = generate_cert(old_spec);
  CertSpec new_spec = old_spec;
  new_spec.common_name = "New CA";
  new_spec.not_after = unix_now() + 3650 * kDay;
  const GeneratedCert new_ca = generate_cert(new_spec);
  // This host has rotated: combined CA file, its node certificate from the new CA. The staged
  // set drops the old CA, which nothing on this host chains to any more.
  const GeneratedCert node = generate_cert(node_spec(), &new_ca);
  const fs::path live = write_set(tmp, "live", {&new_ca, &old_ca}, node);
  const fs::path staged = write_set(tmp, "staged", {&new_ca}, node);
  // Node 2 still loads the old CA first: it has not taken the combined file.
  FakeNode n2;
  n2.node_id = 2;
  n2.address = "node2:26257";
  n2.cert_metrics = {{"ca", std::to_string(old_spec.not_after)}};
  insert_node(pg, n2);
  const auto run = [&] {
    const fs::path config =
        write_config(tmp, live,
                     "cluster:\n  dsn: " +
                         single_quoted_yaml(pg.tcp_dsn(certwatch::testing::kMonitorUser,
                                                       certwatch::testing::kRolePassword)) +
                         "\n  local_node_id: '1'\n");
    int code = -1;
    const CommandResult r = run_binary({"preflight", "--staged", staged.string(), "--config.file",
                                        config.string(), "--output=json"});
    INFO(r.out << r.err);
    code = r.exit_code;
    return std::make_pair(code, json::parse(r.out));
  };
  const auto [code, report] = run();
  CHECK(code == 2);
  const auto dropped = findings_of(report, "ca_dropped");
  REQUIRE(dropped.size() == 1);
  const std::string detail = dropped[0].at("detail");
  CHECK(detail.find("CA Old CA") != std::string::npos);
  CHECK(detail.find("node 2 (cluster") != std::string::npos);
  for (const json& s : report.at("skipped"))
    CHECK(s.at("check") != "ca_dropped (the cluster's report)");

  SECTION("once every node loads the new CA first, dropping the old one is safe") {
    certwatch::testing::delete_all_nodes(pg);
    n2.cert_metrics = {{"ca", std::to_string(new_spec.not_after)}};
    insert_node(pg, n2);
    const auto [ok_code, ok] = run();
    CHECK(ok_code == 0);
    CHECK(findings_of(ok, "ca_dropped").empty());
  }
}
