// The evaluator: the only place thresholds live. Boundaries are checked at the exact second and
// one second either side, because "less than N days left" is where off-by-one bugs hide.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "rules/evaluate.hpp"
#include "rules/rule.hpp"

namespace {

using certwatch::CertIdentity;
using certwatch::CertObservation;
using certwatch::CertType;
using certwatch::Severity;
using certwatch::rules::CertState;
using certwatch::rules::default_rules;
using certwatch::rules::evaluate;
using certwatch::rules::ReloadPending;
using certwatch::rules::Rule;

constexpr std::int64_t kNow = 1'750'000'000;  // a fixed clock: the evaluator takes it as input
constexpr std::int64_t kDay = 86'400;

CertObservation cert_of(CertType type, std::int64_t not_after,
                        std::int64_t not_before = kNow - 30 * kDay) {
  CertObservation cert;
  cert.id.source = "file";
  cert.id.cert_type = type;
  cert.id.path = "/certs/x.crt";
  cert.id.index = "0";
  cert.not_after = not_after;
  cert.not_before = not_before;
  return cert;
}

CertState state_of(CertType type, std::int64_t not_after,
                   const std::vector<Rule>& rules = default_rules()) {
  return evaluate(cert_of(type, not_after), rules, kNow);
}

const CertState kOk{"ok", Severity::none};
const CertState kPlanRotation{"plan_rotation", Severity::info};
const CertState kScheduleRotation{"schedule_rotation", Severity::warning};
const CertState kRotateNow{"rotate_now", Severity::critical};
const CertState kExpired{"expired", Severity::critical};
const CertState kNotYetValid{"not_yet_valid", Severity::warning};
const CertState kLoadFailed{"load_failed", Severity::critical};

const std::vector<CertType> kLeafTypes{CertType::node, CertType::node_client, CertType::client,
                                       CertType::ui, CertType::tenant_client};
const std::vector<CertType> kCaTypes{CertType::ca, CertType::client_ca, CertType::ui_ca,
                                     CertType::tenant_ca};

}  // namespace

namespace certwatch::rules {
// Catch2 prints this when a comparison fails.
std::ostream& operator<<(std::ostream& os, const CertState& state) {
  return os << state.action << "/" << to_string(state.severity);
}
}  // namespace certwatch::rules

TEST_CASE("default rules are the docs/metrics.md table", "[rules]") {
  const std::vector<Rule> rules = default_rules();
  REQUIRE(rules.size() == 3);
  CHECK(rules[0] == Rule{kCaTypes, std::chrono::days{365}, "plan_rotation", Severity::info});
  CHECK(rules[1] ==
        Rule{kLeafTypes, std::chrono::days{90}, "schedule_rotation", Severity::warning});
  CHECK(rules[2] == Rule{kLeafTypes, std::chrono::days{30}, "rotate_now", Severity::critical});
}

TEST_CASE("leaf certificates: boundaries at 90 and 30 days", "[rules]") {
  for (const CertType type : kLeafTypes) {
    INFO("cert_type " << to_string(type));
    CHECK(state_of(type, kNow + 90 * kDay + 1) == kOk);
    CHECK(state_of(type, kNow + 90 * kDay) == kOk);  // exactly 90 days left is not "less than"
    CHECK(state_of(type, kNow + 90 * kDay - 1) == kScheduleRotation);
    CHECK(state_of(type, kNow + 30 * kDay + 1) == kScheduleRotation);
    CHECK(state_of(type, kNow + 30 * kDay) == kScheduleRotation);
    CHECK(state_of(type, kNow + 30 * kDay - 1) == kRotateNow);
    CHECK(state_of(type, kNow + 1) == kRotateNow);
  }
}

TEST_CASE("CA certificates: boundary at 365 days, no leaf rules", "[rules]") {
  for (const CertType type : kCaTypes) {
    INFO("cert_type " << to_string(type));
    CHECK(state_of(type, kNow + 365 * kDay + 1) == kOk);
    CHECK(state_of(type, kNow + 365 * kDay) == kOk);
    CHECK(state_of(type, kNow + 365 * kDay - 1) == kPlanRotation);
    // The leaf thresholds do not apply to CAs: a CA with a day left is still plan_rotation.
    CHECK(state_of(type, kNow + 90 * kDay - 1) == kPlanRotation);
    CHECK(state_of(type, kNow + kDay) == kPlanRotation);
  }
}

TEST_CASE("a rule does not apply to types it does not list", "[rules]") {
  // tenant_signing and other are in no default rule: only the built-ins reach them.
  for (const CertType type : {CertType::tenant_signing, CertType::other}) {
    INFO("cert_type " << to_string(type));
    CHECK(state_of(type, kNow + 1) == kOk);
    CHECK(state_of(type, kNow + 364 * kDay) == kOk);
    CHECK(state_of(type, kNow - 1) == kExpired);
  }
  const std::vector<Rule> only_ui{
      {{CertType::ui}, std::chrono::days{10}, "renew_ui", Severity::warning}};
  CHECK(state_of(CertType::ui, kNow + kDay, only_ui) == CertState{"renew_ui", Severity::warning});
  CHECK(state_of(CertType::node, kNow + kDay, only_ui) == kOk);
}

TEST_CASE("expired: one second past notAfter, not at notAfter itself", "[rules]") {
  // X.509 validity includes the notAfter second, so a certificate is expired only after it.
  CHECK(state_of(CertType::node, kNow - 1) == kExpired);
  CHECK(state_of(CertType::node, kNow) == kRotateNow);
  CHECK(state_of(CertType::ca, kNow - 1) == kExpired);
  CHECK(state_of(CertType::ca, kNow) == kPlanRotation);
  CHECK(state_of(CertType::node, kNow - 10 * 365 * kDay) == kExpired);
  // Built in: an empty rule table cannot switch it off.
  CHECK(state_of(CertType::node, kNow - 1, {}) == kExpired);
  CHECK(state_of(CertType::node, kNow, {}) == kOk);
}

TEST_CASE("not_yet_valid: notBefore one second in the future", "[rules]") {
  const auto with_not_before = [](CertType type, std::int64_t not_before, std::int64_t not_after) {
    return evaluate(cert_of(type, not_after, not_before), default_rules(), kNow);
  };
  CHECK(with_not_before(CertType::node, kNow + 1, kNow + 400 * kDay) == kNotYetValid);
  CHECK(with_not_before(CertType::node, kNow, kNow + 400 * kDay) == kOk);
  CHECK(with_not_before(CertType::node, kNow - 1, kNow + 400 * kDay) == kOk);
  // Equal severity (warning): the built-in counts as threshold 0, so it beats the 90d rule.
  CHECK(with_not_before(CertType::node, kNow + 1, kNow + 60 * kDay) == kNotYetValid);
  // A critical rule is more severe than not_yet_valid.
  CHECK(with_not_before(CertType::node, kNow + 1, kNow + 10 * kDay) == kRotateNow);
  // CA: warning beats plan_rotation (info).
  CHECK(with_not_before(CertType::ca, kNow + 1, kNow + 100 * kDay) == kNotYetValid);
  // A certificate without a notBefore (the cluster source) is never not_yet_valid.
  CertObservation cluster = cert_of(CertType::node, kNow + 400 * kDay);
  cluster.not_before.reset();
  CHECK(evaluate(cluster, default_rules(), kNow) == kOk);
}

TEST_CASE("load_failed: a node reports no loadable certificate", "[rules]") {
  CertObservation failed;
  failed.id.source = "cluster";
  failed.id.cert_type = CertType::node;
  failed.id.node_id = "3";
  failed.load_failed = true;
  CHECK(evaluate(failed, default_rules(), kNow) == kLoadFailed);
  CHECK(evaluate(failed, {}, kNow) == kLoadFailed);
  // Even with a (stale) notAfter far away, load_failed wins.
  failed.not_after = kNow + 1000 * kDay;
  CHECK(evaluate(failed, default_rules(), kNow) == kLoadFailed);
}

TEST_CASE("custom rules replace the defaults", "[rules]") {
  const std::vector<Rule> rules{
      {{CertType::other}, std::chrono::days{14}, "renew_soon", Severity::warning},
      {{CertType::other}, std::chrono::days{3}, "page_someone", Severity::critical},
      {{CertType::node}, std::chrono::hours{12}, "node_last_hours", Severity::critical},
  };
  CHECK(state_of(CertType::other, kNow + 14 * kDay) == kOk);
  CHECK(state_of(CertType::other, kNow + 14 * kDay, rules) == kOk);
  CHECK(state_of(CertType::other, kNow + 14 * kDay - 1, rules) ==
        CertState{"renew_soon", Severity::warning});
  CHECK(state_of(CertType::other, kNow + 3 * kDay, rules) ==
        CertState{"renew_soon", Severity::warning});
  CHECK(state_of(CertType::other, kNow + 3 * kDay - 1, rules) ==
        CertState{"page_someone", Severity::critical});
  // The default leaf rules are gone: a node with 20 days left is fine under this table.
  CHECK(state_of(CertType::node, kNow + 20 * kDay, rules) == kOk);
  CHECK(state_of(CertType::node, kNow + 12 * 3600 - 1, rules) ==
        CertState{"node_last_hours", Severity::critical});
  CHECK(state_of(CertType::node, kNow - 1, rules) == kExpired);
}

TEST_CASE("precedence: most severe wins, then the smaller threshold", "[rules]") {
  const Rule wide_critical{{CertType::node}, std::chrono::days{100}, "wide", Severity::critical};
  const Rule narrow_warning{{CertType::node}, std::chrono::days{10}, "narrow", Severity::warning};
  const Rule warning_60{{CertType::node}, std::chrono::days{60}, "w60", Severity::warning};
  const Rule warning_20{{CertType::node}, std::chrono::days{20}, "w20", Severity::warning};
  const Rule info_5{{CertType::node}, std::chrono::days{5}, "i5", Severity::info};

  SECTION("more severe beats a smaller threshold") {
    for (const auto& rules : {std::vector<Rule>{wide_critical, narrow_warning},
                              std::vector<Rule>{narrow_warning, wide_critical}}) {
      CHECK(state_of(CertType::node, kNow + 5 * kDay, rules) ==
            CertState{"wide", Severity::critical});
    }
  }
  SECTION("equal severity: the smaller threshold wins, whatever the order") {
    for (const auto& rules : {std::vector<Rule>{warning_60, warning_20, info_5},
                              std::vector<Rule>{info_5, warning_20, warning_60}}) {
      CHECK(state_of(CertType::node, kNow + 30 * kDay, rules) ==
            CertState{"w60", Severity::warning});
      CHECK(state_of(CertType::node, kNow + 4 * kDay, rules) ==
            CertState{"w20", Severity::warning});
    }
  }
  SECTION("built-ins count as threshold 0") {
    // expired (critical, 0) beats a critical rule that also matches.
    CHECK(state_of(CertType::node, kNow - 1, {wide_critical}) == kExpired);
    CHECK(state_of(CertType::node, kNow - 1, default_rules()) == kExpired);
    // A rule more severe than a built-in still wins: not_yet_valid (warning) loses to critical.
    CHECK(evaluate(cert_of(CertType::node, kNow + 50 * kDay, kNow + 1), {wide_critical}, kNow) ==
          CertState{"wide", Severity::critical});
  }
}

namespace {

CertObservation file_cert(CertType type, const std::string& path, const std::string& index,
                          std::int64_t not_after) {
  CertObservation cert;
  cert.id = CertIdentity{"file", type, "", path, index, ""};
  cert.not_after = not_after;
  cert.not_before = kNow - kDay;
  return cert;
}

CertObservation cluster_cert(CertType type, const std::string& node_id, std::int64_t not_after) {
  CertObservation cert;
  cert.id = CertIdentity{"cluster", type, node_id, "", "", ""};
  cert.not_after = not_after;
  return cert;
}

// The tests spell the files and the cluster's report as lists and name the local node; the
// cluster source marks that node's observations as local.
std::vector<certwatch::rules::ReloadPending> find_reload_pending(
    const std::vector<CertObservation>& file_certs, std::vector<CertObservation> cluster_certs,
    const std::string& local_node_id) {
  std::vector<const CertObservation*> all;
  for (const CertObservation& cert : file_certs) all.push_back(&cert);
  for (CertObservation& cert : cluster_certs) {
    cert.local_node = !local_node_id.empty() && cert.id.node_id == local_node_id;
    all.push_back(&cert);
  }
  return certwatch::rules::find_reload_pending(all);
}

}  // namespace

TEST_CASE("find_reload_pending compares the local node's files with what it loaded",
          "[rules][reload]") {
  const std::int64_t on_disk = kNow + 700 * kDay;
  const std::int64_t loaded = kNow + 20 * kDay;
  const std::vector<CertObservation> files{
      file_cert(CertType::node, "/certs/node.crt", "0", on_disk),
      file_cert(CertType::ca, "/certs/ca.crt", "0", kNow + 3000 * kDay),
  };
  const std::vector<CertObservation> cluster{
      cluster_cert(CertType::node, "1", loaded),
      cluster_cert(CertType::ca, "1", kNow + 3000 * kDay),  // same CA: not pending
      cluster_cert(CertType::node, "2", kNow + 5 * kDay),   // another node: not ours
  };

  SECTION("the local node's replaced node.crt is pending") {
    const auto pending = find_reload_pending(files, cluster, "1");
    REQUIRE(pending.size() == 1);
    CHECK(pending[0] == ReloadPending{"1", CertType::node, "/certs/node.crt", on_disk, loaded});
  }
  SECTION("another node id as the local node sees its own report") {
    const auto pending = find_reload_pending(files, cluster, "2");
    REQUIRE(pending.size() == 1);  // node differs; node 2 reports no CA to compare with
    CHECK(pending[0].node_id == "2");
    CHECK(pending[0].loaded_not_after == kNow + 5 * kDay);
  }
  SECTION("no local node id: nothing can be compared") {
    CHECK(find_reload_pending(files, cluster, "").empty());
  }
  SECTION("an unknown local node id: nothing reported, nothing pending") {
    CHECK(find_reload_pending(files, cluster, "9").empty());
  }
}

TEST_CASE("find_reload_pending: one second of difference is rounding, two are a change",
          "[rules][reload]") {
  const std::vector<CertObservation> cluster{cluster_cert(CertType::node, "1", kNow + 100)};
  for (const std::int64_t delta : {std::int64_t{-1}, std::int64_t{0}, std::int64_t{1}}) {
    INFO("delta " << delta);
    CHECK(find_reload_pending({file_cert(CertType::node, "/c/node.crt", "0", kNow + 100 + delta)},
                              cluster, "1")
              .empty());
  }
  for (const std::int64_t delta : {std::int64_t{-2}, std::int64_t{2}}) {
    INFO("delta " << delta);
    CHECK(find_reload_pending({file_cert(CertType::node, "/c/node.crt", "0", kNow + 100 + delta)},
                              cluster, "1")
              .size() == 1);
  }
}

TEST_CASE("find_reload_pending ignores what CockroachDB does not report", "[rules][reload]") {
  const std::vector<CertObservation> cluster{
      cluster_cert(CertType::ca, "1", kNow + 100 * kDay),
      cluster_cert(CertType::node, "1", kNow + 100 * kDay),
      cluster_cert(CertType::ui, "1", kNow + 100 * kDay),
  };
  // CockroachDB reports the first certificate of a bundle only: an old CA at index 1 is no
  // reload.
  CHECK(find_reload_pending({file_cert(CertType::ca, "/c/ca.crt", "0", kNow + 100 * kDay),
                             file_cert(CertType::ca, "/c/ca.crt", "1", kNow + 5 * kDay)},
                            cluster, "1")
            .empty());
  // A file CockroachDB never loads (an extra glob typed `node`, a non-canonical name) says
  // nothing about what the node has loaded.
  CHECK(find_reload_pending({file_cert(CertType::node, "/c/node-old.crt", "0", kNow + kDay),
                             file_cert(CertType::node, "/c/backup/node.pem", "0", kNow + kDay),
                             file_cert(CertType::ui, "/c/node.crt", "0", kNow + kDay)},
                            cluster, "1")
            .empty());
  // The canonical names are compared.
  const auto pending =
      find_reload_pending({file_cert(CertType::ui, "/other/dir/ui.crt", "0", kNow + kDay),
                           file_cert(CertType::ca, "/c/ca.crt", "0", kNow + 900 * kDay)},
                          cluster, "1");
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].cert_type == CertType::ui);
  CHECK(pending[0].path == "/other/dir/ui.crt");
  CHECK(pending[1].cert_type == CertType::ca);
}

TEST_CASE("find_reload_pending ignores a node that failed to load the certificate",
          "[rules][reload]") {
  // load_failed has its own series; comparing against a missing notAfter would be meaningless.
  CertObservation failed;
  failed.id = CertIdentity{"cluster", CertType::node, "1", "", "", ""};
  failed.load_failed = true;
  CHECK(find_reload_pending({file_cert(CertType::node, "/c/node.crt", "0", kNow + kDay)}, {failed},
                            "1")
            .empty());
}
