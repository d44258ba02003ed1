// Issue 23: certificates a machine renews. Real certificates (generated here, with the notBefore
// and notAfter of each case) in real files, read by the file source, evaluated at an injected
// clock; the rotation tracker and journal; and the real binary for rotation evidence.
#include "rules/automation.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "sources/registry.hpp"
#include "state/collect.hpp"
#include "state/rotation.hpp"
#include "state/rotation_journal.hpp"
#include "support/certgen.hpp"
#include "support/exposition.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::CertObservation;
using certwatch::Severity;
using certwatch::rules::CertState;
using certwatch::state::RotationEvent;
using certwatch::state::RotationKind;
using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::has_line;
using certwatch::testing::kDay;
using certwatch::testing::TempDir;
using certwatch::testing::unix_now;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kHour = 3600;
// A fixed issue time: every case is evaluated at a clock relative to it.
constexpr std::int64_t kIssued = 1'780'000'000;

GeneratedCert cert_valid(const std::string& cn, std::int64_t not_before, std::int64_t not_after,
                         bool is_ca = false) {
  CertSpec spec;
  spec.common_name = cn;
  spec.is_ca = is_ca;
  spec.not_before = not_before;
  spec.not_after = not_after;
  return generate_cert(spec);
}

// Certificate files in directories, polled by the real file source under a config.
struct Files {
  TempDir dir;

  fs::path add(const std::string& relative, const GeneratedCert& cert) const {
    return dir.write(relative, cert.cert_pem);
  }

  certwatch::config::Config config(const std::string& yaml) const {
    const auto loaded =
        certwatch::config::parse_config(yaml, (dir.path() / "config.yaml").string());
    INFO(yaml);
    for (const auto& e : loaded.errors) UNSCOPED_INFO(e.to_string());
    REQUIRE(loaded.config);
    return *loaded.config;
  }

  // `yaml` after a files section listing `dirs` (relative to the temp dir), at `now`.
  std::shared_ptr<const certwatch::state::Snapshot> poll(const std::vector<std::string>& dirs,
                                                         const std::string& yaml,
                                                         std::int64_t now) const {
    std::string text = "checks: {enabled: false}\nfiles:\n  certs_dirs:\n";
    for (const std::string& d : dirs) text += "    - " + (dir.path() / d).string() + "\n";
    const auto cfg = config(text + yaml);
    const auto clock = static_cast<double>(now);
    return certwatch::state::poll_once(
        certwatch::sources::make_sources(cfg), cfg.rules, cfg.checks, {}, [clock] { return clock; },
        cfg.deployment.tier, cfg.automation);
  }
};

CertState state_at(const certwatch::state::Snapshot& snapshot, const fs::path& path) {
  for (std::size_t i = 0; i < snapshot.certificates.size(); ++i) {
    if (snapshot.certificates[i]->id.path == path.string() &&
        snapshot.certificates[i]->id.index == "0") {
      return snapshot.states[i];
    }
  }
  FAIL("no certificate at " << path);
  return {};
}

std::string describe(const CertState& s) {
  return s.action + "/" + std::string(certwatch::to_string(s.severity)) +
         " managed_by=" + s.managed_by;
}

constexpr std::string_view kHelm =
    "automation:\n  - name: helm-self-signer\n    preset: cockroachdb_helm\n";
constexpr std::string_view kCertManager =
    "automation:\n  - name: cert-manager\n    preset: cert_manager\n";

}  // namespace

TEST_CASE("Helm self-signer client certificate: 28 days, renewed 48h before notAfter",
          "[automation]") {
  Files f;
  const std::int64_t not_after = kIssued + 672 * kHour;
  const auto client = f.add("certs/client.root.crt", cert_valid("root", kIssued, not_after));
  const auto state = [&](std::int64_t now, std::string_view yaml = kHelm) {
    const auto snapshot = f.poll({"certs"}, std::string(yaml), now);
    const CertState s = state_at(*snapshot, client);
    INFO("at issued+" << (now - kIssued) << "s: " << describe(s));
    return s;
  };
  // The default rules put a fresh 28-day certificate at rotate_now from its first second.
  CHECK(state(kIssued + 60, "").action == "rotate_now");
  // Managed: ok through the expected renewal and the grace, with when it should renew.
  const CertState fresh = state(kIssued + 60);
  CHECK(fresh.action == "ok");
  CHECK(fresh.severity == Severity::none);
  CHECK(fresh.managed_by == "helm-self-signer");
  CHECK(fresh.renewal_expected == not_after - 48 * kHour);
  CHECK(state(kIssued + 26 * kDay).action == "ok");  // renewal time
  const std::int64_t overdue_at = not_after - 48 * kHour + 24 * kHour;
  CHECK(state(overdue_at).action == "ok");  // the grace's last second
  const CertState late = state(overdue_at + 1);
  CHECK(late.action == "renewal_overdue");
  CHECK(late.severity == Severity::critical);
  CHECK(late.managed_by == "helm-self-signer");
  // notAfter is valid through its second; after it, expired wins.
  CHECK(state(not_after).action == "renewal_overdue");
  CHECK(state(not_after + 1).action == "expired");
  // A grace of its own moves the overdue point.
  CHECK(state(overdue_at + 1, std::string(kHelm) + "    grace: 36h\n").action == "ok");
}

TEST_CASE("Helm self-signer node and CA certificates: 168h and 648h windows", "[automation]") {
  Files f;
  const std::int64_t node_after = kIssued + 8760 * kHour;
  const std::int64_t ca_after = kIssued + 43800 * kHour;
  const auto node = f.add("certs/node.crt", cert_valid("node", kIssued, node_after));
  const auto ca = f.add("certs/ca.crt", cert_valid("CA", kIssued, ca_after, true));
  // 23 days before notAfter the default rules say rotate_now; the chart renews at 7 days.
  const auto node_now = node_after - 23 * kDay;
  CHECK(state_at(*f.poll({"certs"}, "", node_now), node).action == "rotate_now");
  const CertState node_ok = state_at(*f.poll({"certs"}, std::string(kHelm), node_now), node);
  CHECK(node_ok.action == "ok");
  CHECK(node_ok.renewal_expected == node_after - 168 * kHour);
  const std::int64_t node_overdue = node_after - 168 * kHour + 24 * kHour;
  CHECK(state_at(*f.poll({"certs"}, std::string(kHelm), node_overdue), node).action == "ok");
  CHECK(state_at(*f.poll({"certs"}, std::string(kHelm), node_overdue + 1), node).action ==
        "renewal_overdue");
  // The CA: plan_rotation by the default rules a year ahead; the chart renews 27 days before.
  const auto ca_now = ca_after - 100 * kDay;
  CHECK(state_at(*f.poll({"certs"}, "", ca_now), ca).action == "plan_rotation");
  const CertState ca_ok = state_at(*f.poll({"certs"}, std::string(kHelm), ca_now), ca);
  CHECK(ca_ok.action == "ok");
  CHECK(ca_ok.renewal_expected == ca_after - 648 * kHour);
  CHECK(
      state_at(*f.poll({"certs"}, std::string(kHelm), ca_after - 648 * kHour + 24 * kHour + 1), ca)
          .action == "renewal_overdue");
}

TEST_CASE("cert-manager 90-day certificate at 60, 35 and 20 days left", "[automation]") {
  Files f;
  const std::int64_t not_after = kIssued + 90 * kDay;
  const auto node = f.add("certs/node.crt", cert_valid("node", kIssued, not_after));
  // Without automation it sits at schedule_rotation its whole life.
  for (const std::int64_t left : {89 * kDay, 60 * kDay, 35 * kDay}) {
    CHECK(state_at(*f.poll({"certs"}, "", not_after - left), node).action == "schedule_rotation");
  }
  // 33% of 90 days: renewal expected with 29.7 days left, overdue a day later.
  const std::int64_t expected = not_after - (90 * kDay) * 33 / 100;
  const auto at = [&](std::int64_t left) {
    const CertState s =
        state_at(*f.poll({"certs"}, std::string(kCertManager), not_after - left), node);
    INFO(left / kDay << " days left: " << describe(s));
    CHECK(s.managed_by == "cert-manager");
    CHECK(s.renewal_expected == expected);
    return s;
  };
  CHECK(at(60 * kDay).action == "ok");
  CHECK(at(35 * kDay).action == "ok");
  const CertState late = at(20 * kDay);
  CHECK(late.action == "renewal_overdue");
  CHECK(late.severity == Severity::critical);
}

TEST_CASE("a hand-rotated 5-year node certificate beside managed ones keeps the rules",
          "[automation]") {
  Files f;
  const std::int64_t now = kIssued + 5 * 365 * kDay - 60 * kDay;
  const auto hand = f.add("certs/node.crt", cert_valid("node", kIssued, kIssued + 5 * 365 * kDay));
  const auto managed =
      f.add("secret/node.crt", cert_valid("node", now - 10 * kDay, now + 80 * kDay));
  const std::string yaml = std::string(kCertManager) + "    match: {paths: [\"" +
                           (f.dir.path() / "secret").string() + "/*\"]}\n";
  const auto snapshot = f.poll({"certs", "secret"}, yaml, now);
  const CertState by_hand = state_at(*snapshot, hand);
  CHECK(by_hand.action == "schedule_rotation");
  CHECK(by_hand.severity == Severity::warning);
  CHECK(by_hand.managed_by.empty());
  CHECK_FALSE(by_hand.renewal_expected);
  const CertState by_machine = state_at(*snapshot, managed);
  CHECK(by_machine.action == "ok");
  CHECK(by_machine.managed_by == "cert-manager");
}

TEST_CASE("a below: 20% rule measures the certificate's own lifetime", "[automation][rules]") {
  Files f;
  const std::int64_t not_after = kIssued + 100 * kDay;
  const auto app = f.add("certs/client.app.crt", cert_valid("app", kIssued, not_after));
  const auto batch = f.add("certs/client.batch.crt", cert_valid("batch", kIssued, not_after));
  const std::string rules =
      "rules:\n  - {cert_types: [client], below: 20%, action: renew_soon, severity: warning}\n";
  const auto action = [&](std::int64_t left, const fs::path& path, const std::string& yaml) {
    return state_at(*f.poll({"certs"}, yaml, not_after - left), path).action;
  };
  CHECK(action(21 * kDay, app, rules) == "ok");
  CHECK(action(20 * kDay, app, rules) == "ok");  // exactly 20% left is not "less than"
  CHECK(action(20 * kDay - 1, app, rules) == "renew_soon");
  // Selected by user: the rule applies to app's certificate only.
  const std::string by_user =
      "rules:\n  - {cert_types: [client], below: 20%, action: renew_soon, severity: warning, "
      "users: [app]}\n";
  CHECK(action(10 * kDay, app, by_user) == "renew_soon");
  CHECK(action(10 * kDay, batch, by_user) == "ok");
  // Selected by path: a glob over the path label.
  const std::string by_path =
      "rules:\n  - {cert_types: [client], below: 20%, action: renew_soon, severity: warning, "
      "paths: [\"" +
      (f.dir.path() / "certs").string() + "/client.b*.crt\"]}\n";
  CHECK(action(10 * kDay, app, by_path) == "ok");
  CHECK(action(10 * kDay, batch, by_path) == "renew_soon");
}

TEST_CASE("automation selectors: by path and by user, the first matching entry applies",
          "[automation]") {
  Files f;
  const std::int64_t not_after = kIssued + 672 * kHour;
  const auto app = f.add("certs/client.app.crt", cert_valid("app", kIssued, not_after));
  const auto batch = f.add("certs/client.batch.crt", cert_valid("batch", kIssued, not_after));
  const auto node = f.add("certs/node.crt", cert_valid("node", kIssued, kIssued + 365 * kDay));
  const std::string yaml =
      "automation:\n"
      "  - name: app-renewer\n    match: {users: [app]}\n    renew_before: 2d\n    grace: 1h\n"
      "  - name: other\n    match: {cert_types: [client], paths: [\"" +
      (f.dir.path() / "certs").string() + "/client.*.crt\"]}\n    renew_before: 25%\n";
  const auto snapshot = f.poll({"certs"}, yaml, kIssued + kDay);
  CHECK(state_at(*snapshot, app).managed_by == "app-renewer");
  CHECK(state_at(*snapshot, app).renewal_expected == not_after - 2 * kDay);
  CHECK(state_at(*snapshot, batch).managed_by == "other");
  CHECK(state_at(*snapshot, batch).renewal_expected == not_after - 672 * kHour / 4);
  // The node certificate matches no entry: the default rules (365 days: ok).
  CHECK(state_at(*snapshot, node).managed_by.empty());
  CHECK(state_at(*snapshot, node).action == "ok");
}

TEST_CASE("a share of the lifetime needs notBefore: not for cluster certificates", "[automation]") {
  CertObservation cluster;
  cluster.id.source = "cluster";
  cluster.id.cert_type = certwatch::CertType::node;
  cluster.id.node_id = "1";
  cluster.not_after = kIssued + 90 * kDay;
  certwatch::rules::Automation share{"cm", "cert_manager", {}, {}, std::nullopt, 24h};
  certwatch::rules::Automation helm{"helm", "cockroachdb_helm", {}, {}, std::nullopt, 24h};
  CHECK_FALSE(certwatch::rules::renewal_of({share}, cluster));
  // The next entry, in durations, applies.
  const auto renewal = certwatch::rules::renewal_of({share, helm}, cluster);
  REQUIRE(renewal);
  CHECK(renewal->managed_by == "helm");
  CHECK(renewal->expected == kIssued + 90 * kDay - 168 * kHour);
  // Per-user client certificates from node vars are never managed.
  cluster.id.cert_type = certwatch::CertType::client;
  cluster.id.user = "app";
  CHECK_FALSE(certwatch::rules::renewal_of({helm}, cluster));
}

TEST_CASE("automation config: strict keys, presets, shares and their errors",
          "[automation][config]") {
  using certwatch::config::parse_config;
  const auto errors_of = [](const std::string& yaml) {
    std::string out;
    for (const auto& e : parse_config(yaml, "c.yaml").errors) out += e.to_string() + "\n";
    return out;
  };
  const auto good = parse_config(
      "automation:\n"
      "  - name: helm\n    preset: cockroachdb_helm\n"
      "  - name: cm\n    preset: cert_manager\n    match: {cert_types: [node], sources: [file]}\n"
      "    renew_before: 40%\n    grace: 2d\n"
      "rotation_journal: /var/lib/x/rotations.jsonl\n",
      "c.yaml");
  REQUIRE(good.config);
  REQUIRE(good.config->automation.size() == 2);
  CHECK(good.config->automation[0].preset == "cockroachdb_helm");
  CHECK(good.config->automation[0].grace == 24h);
  CHECK(good.config->automation[1].renew_before->percent == 40);
  CHECK(good.config->automation[1].grace == 48h);
  CHECK(good.config->automation[1].match.sources == std::vector<std::string>{"file"});
  CHECK(good.config->rotation_journal == "/var/lib/x/rotations.jsonl");

  // Each line of the class: the file, the line and the key are named.
  CHECK(errors_of("automation:\n  - name: a\n")
            .find("c.yaml:2: automation[0].renew_before: required without a preset") !=
        std::string::npos);
  CHECK(errors_of("automation:\n  - name: a\n    preset: helm\n")
            .find("c.yaml:3: automation[0].preset: unknown preset \"helm\"") != std::string::npos);
  CHECK(errors_of("automation:\n  - name: a\n    preset: cert_manager\n    renewbefore: 1d\n")
            .find("c.yaml:4: automation[0].renewbefore: unknown key") != std::string::npos);
  CHECK(errors_of("automation:\n  - {name: a, preset: cert_manager}\n  - {name: a, preset: "
                  "cert_manager}\n")
            .find("c.yaml:3: automation[1].name: same name as automation[0].name") !=
        std::string::npos);
  CHECK(errors_of("automation:\n  - {name: \"a b\", preset: cert_manager}\n")
            .find("automation[0].name: invalid name") != std::string::npos);
  CHECK(errors_of("automation:\n  - {name: a, preset: cert_manager, grace: 91d}\n")
            .find("automation[0].grace: must be between 0s and 90d") != std::string::npos);
  CHECK(errors_of("automation:\n  - {name: a, preset: cert_manager, match: {users: []}}\n")
            .find("automation[0].match.users: must not be empty") != std::string::npos);
  CHECK(errors_of("automation:\n  - {name: a, preset: cert_manager, match: {sources: [Cluster]}}\n")
            .find("automation[0].match.sources[0]: invalid sources entry") != std::string::npos);
  CHECK(errors_of("rotation_journal: relative/path\n")
            .find("rotation_journal: must be an absolute path") != std::string::npos);
  // Shares: whole percentages from 1% to 100%; anything else names the range.
  for (const std::string bad :
       {"0%", "101%", "33.3%", "-5%", "%", "33 %", "1e2%", "99999999999%"}) {
    INFO(bad);
    const std::string yaml =
        "rules:\n  - {cert_types: [node], below: \"" + bad + "\", action: a, severity: info}\n";
    const std::string errors = errors_of(yaml);
    CHECK(errors.find("c.yaml:2: rules[0].below:") != std::string::npos);
  }
  for (const std::string ok : {"1%", "33%", "100%"}) {
    INFO(ok);
    CHECK(errors_of("rules:\n  - {cert_types: [node], below: " + ok +
                    ", action: a, severity: info}\n")
              .empty());
  }
  // renewal_overdue is a built-in state: no rule may name it.
  CHECK(errors_of("rules:\n  - {cert_types: [node], below: 1d, action: renewal_overdue, "
                  "severity: info}\n")
            .find("built-in state") != std::string::npos);
}

TEST_CASE("config.check warns when a share of the lifetime selects the cluster source",
          "[automation][config]") {
  const auto loaded = certwatch::config::parse_config(
      "automation:\n  - {name: cm, preset: cert_manager, match: {sources: [cluster]}}\n"
      "  - {name: helm, preset: cockroachdb_helm, match: {sources: [cluster]}}\n"
      "rules:\n  - {cert_types: [node], below: 20%, action: a, severity: info, sources: "
      "[cluster, file]}\n",
      "c.yaml");
  REQUIRE(loaded.config);
  REQUIRE(loaded.warnings.size() == 2);
  CHECK(loaded.warnings[0].to_string().find("c.yaml:5: rules[0]: a share of the lifetime needs "
                                            "notBefore") != std::string::npos);
  CHECK(loaded.warnings[1].to_string().find("c.yaml:2: automation[0]:") != std::string::npos);
}

TEST_CASE("rotations: a new leaf at its identity, CAs added to or removed from a bundle",
          "[automation][rotation]") {
  Files f;
  const GeneratedCert node1 = cert_valid("node", kIssued, kIssued + 30 * kDay);
  const GeneratedCert node2 = cert_valid("node", kIssued + kDay, kIssued + 31 * kDay);
  const GeneratedCert ca_old = cert_valid("old CA", kIssued, kIssued + 300 * kDay, true);
  const GeneratedCert ca_new = cert_valid("new CA", kIssued, kIssued + 900 * kDay, true);
  const auto node = f.add("certs/node.crt", node1);
  const auto ca = f.dir.write("certs/ca.crt", ca_old.cert_pem);
  certwatch::state::RotationTracker tracker;
  const auto poll = [&](std::int64_t now) {
    const auto snapshot = f.poll({"certs"}, "", now);
    std::vector<CertObservation> certs;
    for (const CertObservation* c : snapshot->certificates) certs.push_back(*c);
    return tracker.observe(certs, static_cast<double>(now));
  };
  CHECK(poll(kIssued + 10).empty());  // first sight: nothing to compare with
  CHECK(poll(kIssued + 20).empty());  // unchanged
  CHECK(tracker.record()->series.empty());

  f.add("certs/node.crt", node2);
  f.dir.write("certs/ca.crt", ca_new.cert_pem + ca_old.cert_pem);  // CA rotation, step 1
  auto events = poll(kIssued + 30);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == RotationKind::rotation);
  CHECK(events[0].id.path == node.string());
  CHECK(events[0].id.index == "0");
  CHECK(events[0].old_fingerprint == certwatch::testing::sha256_fingerprint(node1));
  CHECK(events[0].new_fingerprint == certwatch::testing::sha256_fingerprint(node2));
  CHECK(events[0].not_after == kIssued + 31 * kDay);
  CHECK(events[1].kind == RotationKind::ca_added);  // not a rotation of ca.crt
  CHECK(events[1].id.path == ca.string());
  CHECK(events[1].new_fingerprint == certwatch::testing::sha256_fingerprint(ca_new));
  REQUIRE(tracker.record()->series.size() == 1);
  CHECK(tracker.record()->series[0].rotations == 1);
  CHECK(tracker.record()->series[0].last_rotation == kIssued + 30);

  f.dir.write("certs/ca.crt", ca_new.cert_pem);  // step 5: the old CA leaves
  events = poll(kIssued + 40);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == RotationKind::ca_removed);
  CHECK(events[0].old_fingerprint == certwatch::testing::sha256_fingerprint(ca_old));
  CHECK(tracker.record()->series.size() == 1);

  // A file gone for a poll and back unchanged is no rotation.
  fs::remove(node);
  CHECK(poll(kIssued + 50).empty());
  f.add("certs/node.crt", node2);
  CHECK(poll(kIssued + 60).empty());

  // A tracker seeded from the journal sees a rotation that happened while it was stopped.
  certwatch::state::RotationTracker restarted;
  std::vector<RotationEvent> history(1);
  history[0].time = kIssued + 30.0;
  const auto snapshot = f.poll({"certs"}, "", kIssued + 70);
  history[0].id = snapshot->certificates[1]->id.path == node.string()
                      ? snapshot->certificates[1]->id
                      : snapshot->certificates[0]->id;
  history[0].new_fingerprint = certwatch::testing::sha256_fingerprint(node1);  // before node2
  restarted.seed(history);
  REQUIRE(restarted.record()->series.size() == 1);
  CHECK(restarted.record()->series[0].rotations == 0);  // a counter of this process
  std::vector<CertObservation> certs;
  for (const CertObservation* c : snapshot->certificates) certs.push_back(*c);
  const auto seen = restarted.observe(certs, kIssued + 70.0);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].new_fingerprint == certwatch::testing::sha256_fingerprint(node2));
}

TEST_CASE("the rotation journal: lines round-trip, corrupt and truncated lines are counted",
          "[automation][journal]") {
  RotationEvent event;
  event.time = 1'780'000'123.5;
  event.id.path = "/certs/node\xff.crt";  // not UTF-8: escaped, never a broken JSON line
  event.id.cert_type = certwatch::CertType::node;
  event.id.index = "0";
  event.old_fingerprint = std::string(64, 'a');
  event.new_fingerprint = std::string(64, 'b');
  event.old_not_after = 1'790'000'000;
  event.not_after = 1'800'000'000;
  event.subject_cn = "node";
  const std::string line = certwatch::state::journal_line(event);
  CHECK(line.back() == '\n');
  CHECK(nlohmann::json::parse(line)["path"] == "/certs/node\\xff.crt");
  const auto parsed = certwatch::state::parse_journal(line + line);
  REQUIRE(parsed.events.size() == 2);
  CHECK(parsed.events[0].new_fingerprint == event.new_fingerprint);
  CHECK(parsed.events[0].not_after == event.not_after);
  CHECK(parsed.events[0].time == event.time);
  CHECK(parsed.bad_lines == 0);

  // Garbage, a valid JSON value of the wrong shape, an unknown event, and a last line cut short.
  const std::string text = "not json\n" + line + "[1,2]\n" +
                           R"({"event":"exploded","time":1,"source":"file","cert_type":"node"})" +
                           "\n" + line + line.substr(0, line.size() / 2);
  const auto mixed = certwatch::state::parse_journal(text);
  CHECK(mixed.events.size() == 2);
  CHECK(mixed.bad_lines == 4);
  CHECK(mixed.first_bad_line == 1);
}

TEST_CASE("the rotation journal file: appended, bounded, opened safely", "[automation][journal]") {
  TempDir dir;
  const std::string path = (dir.path() / "rotations.jsonl").string();
  RotationEvent event;
  event.id.path = "/certs/node.crt";
  event.id.index = "0";
  event.id.cert_type = certwatch::CertType::node;
  event.new_fingerprint = std::string(64, 'c');
  const double now = 1'780'000'000;
  event.time = now;
  REQUIRE_FALSE(certwatch::state::append_journal(path, {event}, now));
  REQUIRE_FALSE(certwatch::state::append_journal(path, {event, event}, now));
  CHECK(certwatch::state::read_journal(path).events.size() == 3);
  // A truncated last line does not swallow the next entry.
  {
    const std::string content = certwatch::testing::read_file(path);
    dir.write("rotations.jsonl", content + "{\"event\":\"rot");
  }
  REQUIRE_FALSE(certwatch::state::append_journal(path, {event}, now));
  const auto after = certwatch::state::read_journal(path);
  CHECK(after.events.size() == 4);
  CHECK(after.bad_lines == 1);

  // A symlink at the path is refused (never followed), and so is a directory.
  const fs::path target = dir.write("elsewhere", "");
  const fs::path link = dir.path() / "link.jsonl";
  fs::create_symlink(target, link);
  CHECK(certwatch::state::append_journal(link.string(), {event}, now));
  CHECK(certwatch::state::read_journal(link.string()).error);
  CHECK(fs::file_size(target) == 0);
  fs::create_directory(dir.path() / "dir.jsonl");
  CHECK(certwatch::state::append_journal((dir.path() / "dir.jsonl").string(), {event}, now));
  // A hard link to another file is refused too.
  const fs::path hard = dir.path() / "hard.jsonl";
  fs::create_hard_link(target, hard);
  CHECK(certwatch::state::append_journal(hard.string(), {event}, now));
  CHECK(fs::file_size(target) == 0);

  // Past 10 MiB, entries older than 13 months are dropped; at least 13 months stay.
  const std::string big = (dir.path() / "big.jsonl").string();
  RotationEvent old_event = event;
  old_event.time = now - 400 * kDay;
  RotationEvent recent = event;
  recent.time = now - 390 * kDay;
  const std::string old_line = certwatch::state::journal_line(old_event);
  std::string filler;
  while (filler.size() < certwatch::state::kJournalCompactBytes) filler += old_line;
  dir.write("big.jsonl", filler + certwatch::state::journal_line(recent), 0600);
  REQUIRE_FALSE(certwatch::state::append_journal(big, {event}, now));
  const auto compacted = certwatch::state::read_journal(big);
  REQUIRE(compacted.events.size() == 2);
  CHECK(compacted.events[0].time == recent.time);
  CHECK(compacted.events[1].time == now);
  CHECK(fs::file_size(big) < 4096);

  // The default path: $STATE_DIRECTORY/rotations.jsonl (the first of several), else none.
  using certwatch::state::journal_path;
  CHECK(journal_path("/etc/x.jsonl", "/var/lib/a") == "/etc/x.jsonl");
  CHECK(journal_path("", "/var/lib/a") == "/var/lib/a/rotations.jsonl");
  CHECK(journal_path("", "/var/lib/a:/var/lib/b") == "/var/lib/a/rotations.jsonl");
  CHECK(journal_path("", nullptr).empty());
  CHECK(journal_path("", "").empty());
  CHECK(journal_path("", "relative").empty());
}

// ---- Through the real binary ----

namespace {

// The daemon as a child process with a given environment.
class Daemon {
 public:
  Daemon(const fs::path& config, const fs::path& log_dir, std::vector<std::string> environment = {})
      : port_(certwatch::testing::find_free_port()),
        process_({CERTWATCH_BINARY, "--config.file=" + config.string(),
                  "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=debug"},
                 certwatch::testing::ChildOutput{log_dir / "daemon.out", log_dir / "daemon.log"},
                 std::move(environment)) {}

  std::string log() const { return process_.log(); }
  void stop() { process_.stop(); }

  std::string scrape() const {
    const auto res = certwatch::testing::http_get(port_, "/metrics");
    INFO(log());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return res->body;
  }
  std::string get(const std::string& path) const {
    const auto res = certwatch::testing::http_get(port_, path);
    REQUIRE(res);
    return std::to_string(res->status) + "\n" + res->body;
  }

  template <typename Condition>
  std::string scrape_until(Condition condition, std::chrono::milliseconds timeout = 8s) {
    const auto deadline = Clock::now() + timeout;
    std::string text;
    while (Clock::now() < deadline) {
      const auto res = certwatch::testing::http_get(port_, "/metrics", 1s);
      if (res && res->status == 200) {
        text = res->body;
        if (condition(text)) return text;
      }
      if (process_.wait_exit(0ms)) FAIL("crdb-certwatch exited early; log:\n" << log());
      std::this_thread::sleep_for(100ms);
    }
    INFO("last exposition:\n" << text << "\nlog:\n" << log());
    FAIL("the expected change did not show within " << timeout.count() << " ms");
    return text;
  }

 private:
  int port_;
  certwatch::testing::ChildProcess process_;
};

std::string id_labels(const fs::path& path) {
  return "source=\"file\",cert_type=\"node\",node_id=\"\",path=\"" + path.string() +
         "\",index=\"0\",user=\"\"";
}

struct RotationSetup {
  TempDir tmp;
  fs::path certs = tmp.path() / "certs";
  fs::path node = certs / "node.crt";
  std::int64_t now = unix_now();

  explicit RotationSetup(const std::string& extra = "") {
    tmp.write("certs/node.crt", cert_valid("node", now - 3600, now + 20 * kDay).cert_pem);
    tmp.write("config.yaml",
              "poll_interval: 1s\nchecks: {enabled: false}\nfiles:\n  certs_dirs: [" +
                  certs.string() + "]\n" + extra);
  }
  fs::path config() const { return tmp.path() / "config.yaml"; }
  GeneratedCert rotate(std::int64_t days) const {
    GeneratedCert next = cert_valid("node", unix_now() - 60, unix_now() + days * kDay);
    const fs::path staged = tmp.write("certs/node.crt.new", next.cert_pem);
    fs::rename(staged, node);
    return next;
  }
};

}  // namespace

TEST_CASE("binary: a rotation shows in the metrics and the journal, and a restart keeps it",
          "[automation][integration]") {
  RotationSetup s;
  const fs::path journal = s.tmp.path() / "state" / "rotations.jsonl";
  fs::create_directories(journal.parent_path());
  const std::string id = id_labels(s.node);
  double first_rotation = 0;
  {
    // The default journal: $STATE_DIRECTORY/rotations.jsonl, as systemd's StateDirectory= sets.
    Daemon daemon(s.config(), s.tmp.path(), {"STATE_DIRECTORY=" + journal.parent_path().string()});
    daemon.scrape_until([&](const std::string& t) {
      return t.find("crdb_cert_not_after_timestamp_seconds{" + id) != std::string::npos;
    });
    CHECK(daemon.scrape().find("crdb_cert_rotations_total{") == std::string::npos);
    const GeneratedCert next = s.rotate(40);
    const std::string text = daemon.scrape_until([&](const std::string& t) {
      return has_line(t, "crdb_cert_rotations_total{" + id + "} 1");
    });
    const auto last = certwatch::testing::lines_starting(
        text, "crdb_cert_last_rotation_timestamp_seconds{" + id + "} ");
    REQUIRE(last.size() == 1);
    first_rotation = std::stod(last[0].substr(last[0].rfind(' ') + 1));
    CHECK(std::abs(first_rotation - static_cast<double>(unix_now())) < 30);
    // The journal line is written off the io thread: wait for it.
    const auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline &&
           certwatch::state::read_journal(journal.string()).events.empty()) {
      std::this_thread::sleep_for(50ms);
    }
    const auto read = certwatch::state::read_journal(journal.string());
    INFO(daemon.log());
    REQUIRE(read.events.size() == 1);
    CHECK(read.events[0].kind == RotationKind::rotation);
    CHECK(read.events[0].id.path == s.node.string());
    CHECK(read.events[0].new_fingerprint == certwatch::testing::sha256_fingerprint(next));
    CHECK(read.events[0].old_fingerprint.size() == 64);
    struct stat st {};
    REQUIRE(::stat(journal.c_str(), &st) == 0);
    CHECK(((st.st_mode & 077) == 0 || (st.st_mode & 07777) == 0640));
    daemon.stop();
  }
  {
    // After a restart: the last rotation is back from the journal, the counter starts at 0.
    Daemon daemon(s.config(), s.tmp.path(), {"STATE_DIRECTORY=" + journal.parent_path().string()});
    const std::string text = daemon.scrape_until([&](const std::string& t) {
      return has_line(t, "crdb_cert_rotations_total{" + id + "} 0");
    });
    const auto last = certwatch::testing::lines_starting(
        text, "crdb_cert_last_rotation_timestamp_seconds{" + id + "} ");
    REQUIRE(last.size() == 1);
    CHECK(std::stod(last[0].substr(last[0].rfind(' ') + 1)) == Approx(first_rotation));
    CHECK(certwatch::testing::promtool_check_metrics(text).exit_code == 0);
    s.rotate(50);
    daemon.scrape_until([&](const std::string& t) {
      return has_line(t, "crdb_cert_rotations_total{" + id + "} 1");
    });
    const auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline &&
           certwatch::state::read_journal(journal.string()).events.size() < 2) {
      std::this_thread::sleep_for(50ms);
    }
    CHECK(certwatch::state::read_journal(journal.string()).events.size() == 2);
  }
}

TEST_CASE("binary: a journal the daemon cannot write, and a corrupt one, never stop it",
          "[automation][integration]") {
  SECTION("a symlink at the journal path is refused, the rotation still counts") {
    TempDir other;
    const fs::path target = other.write("victim", "precious\n");
    RotationSetup s;
    const std::string config_journal = (s.tmp.path() / "rotations.jsonl").string();
    fs::create_symlink(target, config_journal);
    s.tmp.write("config.yaml",
                "poll_interval: 1s\nchecks: {enabled: false}\nfiles:\n  certs_dirs: [" +
                    s.certs.string() + "]\nrotation_journal: " + config_journal + "\n");
    Daemon daemon(s.config(), s.tmp.path());
    const std::string id = id_labels(s.node);
    daemon.scrape_until([&](const std::string& t) {
      return t.find("crdb_cert_not_after_timestamp_seconds{" + id) != std::string::npos;
    });
    s.rotate(40);
    daemon.scrape_until([&](const std::string& t) {
      return has_line(t, "crdb_cert_rotations_total{" + id + "} 1");
    });
    const auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline && daemon.log().find("cannot be written") == std::string::npos) {
      std::this_thread::sleep_for(50ms);
    }
    CHECK(daemon.log().find("rotation journal " + config_journal + " cannot be written") !=
          std::string::npos);
    CHECK(certwatch::testing::read_file(target) == "precious\n");
    CHECK(daemon.get("/-/healthy").starts_with("200"));
    // Still serving, and a second rotation still counts.
    s.rotate(41);
    daemon.scrape_until([&](const std::string& t) {
      return has_line(t, "crdb_cert_rotations_total{" + id + "} 2");
    });
  }
  SECTION("a corrupt and truncated journal is reported; its good lines are used") {
    RotationSetup s;
    const fs::path journal = s.tmp.path() / "rotations.jsonl";
    RotationEvent event;
    event.time = static_cast<double>(unix_now() - 10 * kDay);
    event.id.path = s.node.string();
    event.id.index = "0";
    event.id.cert_type = certwatch::CertType::node;
    event.new_fingerprint = std::string(64, 'd');
    const std::string good = certwatch::state::journal_line(event);
    s.tmp.write("rotations.jsonl", "\x01\x02garbage\n" + good + good.substr(0, 30), 0600);
    s.tmp.write("config.yaml",
                "poll_interval: 1s\nchecks: {enabled: false}\nfiles:\n  certs_dirs: [" +
                    s.certs.string() + "]\nrotation_journal: " + journal.string() + "\n");
    Daemon daemon(s.config(), s.tmp.path());
    const std::string id = id_labels(s.node);
    // The good line's rotation is the last one; the fingerprint differs from the file's, so the
    // first poll counts a rotation that happened while the daemon was stopped.
    const std::string text = daemon.scrape_until([&](const std::string& t) {
      return has_line(t, "crdb_cert_rotations_total{" + id + "} 1");
    });
    CHECK(daemon.log().find("2 line(s) are not journal entries") != std::string::npos);
    CHECK(daemon.log().find("first at line 1") != std::string::npos);
    const auto read = certwatch::state::read_journal(journal.string());
    CHECK(read.events.size() >= 1);
  }
}

TEST_CASE("binary: check and audit show managed certificates and the rotation history",
          "[automation][integration]") {
  TempDir tmp;
  const std::int64_t now = unix_now();
  // A Helm client certificate two days past its expected renewal and the grace: overdue.
  tmp.write("certs/client.root.crt",
            cert_valid("root", now - 27 * kDay, now + kDay - 3600).cert_pem);
  tmp.write("certs/node.crt", cert_valid("node", now - 10 * kDay, now + 355 * kDay).cert_pem);
  const fs::path journal = tmp.path() / "rotations.jsonl";
  RotationEvent recent;
  recent.time = static_cast<double>(now - 30 * kDay);
  recent.id.path = (tmp.path() / "certs/node.crt").string();
  recent.id.index = "0";
  recent.id.cert_type = certwatch::CertType::node;
  recent.subject_cn = "node";
  recent.old_fingerprint = std::string(64, 'e');
  recent.new_fingerprint = std::string(64, 'f');
  RotationEvent old_one = recent;
  old_one.time = static_cast<double>(now - 400 * kDay);
  tmp.write("rotations.jsonl",
            certwatch::state::journal_line(old_one) + certwatch::state::journal_line(recent), 0600);
  const fs::path config =
      tmp.write("config.yaml", "checks: {enabled: false}\nfiles:\n  certs_dirs: [" +
                                   (tmp.path() / "certs").string() + "]\n" + std::string(kHelm) +
                                   "rotation_journal: " + journal.string() + "\n");
  const auto check = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "check", "--config.file=" + config.string(), "--output=json"});
  INFO(check.err);
  CHECK(check.exit_code == 2);
  const auto json = nlohmann::json::parse(check.out);
  bool seen_overdue = false;
  for (const auto& cert : json["certificates"]) {
    CHECK(cert["managed_by"] == "helm-self-signer");
    if (cert["cert_type"] == "client") {
      seen_overdue = true;
      CHECK(cert["action"] == "renewal_overdue");
      CHECK(cert["severity"] == "critical");
      CHECK(cert["renewal_expected"] == now + kDay - 3600 - 48 * kHour);
    }
  }
  CHECK(seen_overdue);
  const auto table = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "check", "--config.file=" + config.string()});
  CHECK(table.out.find("MANAGED CERTIFICATE") != std::string::npos);
  CHECK(table.out.find("helm-self-signer") != std::string::npos);

  const auto audit = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "audit", "--config.file=" + config.string(), "--format=json"});
  INFO(audit.err);
  const auto report = nlohmann::json::parse(audit.out);
  const auto& history = report["rotation_history"];
  CHECK(history["journal"] == journal.string());
  REQUIRE(history["events"].size() == 1);  // the 400-day-old entry is outside the 12 months
  CHECK(history["events"][0]["new_fingerprint"] == std::string(64, 'f'));
  CHECK(history["events"][0]["event"] == "rotation");
  const auto html = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "audit", "--config.file=" + config.string(), "--format=html"});
  CHECK(html.out.find("Rotation history") != std::string::npos);
  CHECK(html.out.find(std::string(16, 'f')) != std::string::npos);

  // Without a journal the audit says so (no STATE_DIRECTORY in a test's environment).
  const fs::path bare = tmp.write("bare.yaml", "checks: {enabled: false}\nfiles:\n  certs_dirs: [" +
                                                   (tmp.path() / "certs").string() + "]\n");
  const auto without = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "audit", "--config.file=" + bare.string(), "--format=json"});
  const auto bare_report = nlohmann::json::parse(without.out);
  if (!fs::exists(std::string(certwatch::state::kPackagedJournalPath))) {
    CHECK(bare_report["rotation_history"]["journal"].is_null());
    CHECK(bare_report["rotation_history"]["note"].get<std::string>().find("no rotation journal") !=
          std::string::npos);
  }
}
