#include "rules/evaluate.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace certwatch::rules {
namespace {

struct Candidate {
  std::string_view action;
  Severity severity;
  std::int64_t threshold;
};

bool better(const Candidate& a, const Candidate& b) {
  if (a.severity != b.severity) return a.severity > b.severity;
  return a.threshold < b.threshold;
}

bool applies_to(const Rule& rule, CertType type) {
  return std::find(rule.cert_types.begin(), rule.cert_types.end(), type) != rule.cert_types.end();
}

// Only the files whose name CockroachDB itself loads can be compared with what a node reports.
bool is_reloadable_file(const CertObservation& cert) {
  static constexpr std::pair<CertType, std::string_view> kFiles[] = {
      {CertType::node, "node.crt"},   {CertType::ca, "ca.crt"},
      {CertType::ui, "ui.crt"},       {CertType::client_ca, "ca-client.crt"},
      {CertType::ui_ca, "ca-ui.crt"}, {CertType::node_client, "client.node.crt"},
  };
  const std::string name = std::filesystem::path(cert.id.path).filename().string();
  return std::any_of(std::begin(kFiles), std::end(kFiles), [&](const auto& file) {
    return file.first == cert.id.cert_type && file.second == name;
  });
}

}  // namespace

CertState evaluate(const CertObservation& cert, const std::vector<Rule>& rules, std::int64_t now) {
  if (cert.load_failed || !cert.not_after) {
    return {std::string(kActionLoadFailed), Severity::critical};
  }
  Candidate best{kActionOk, Severity::none, 0};
  const auto consider = [&best](Candidate candidate) {
    if (better(candidate, best)) best = candidate;
  };
  const std::int64_t left = *cert.not_after - now;
  if (left < 0) consider({kActionExpired, Severity::critical, 0});
  if (cert.not_before && *cert.not_before > now) {
    consider({kActionNotYetValid, Severity::warning, 0});
  }
  for (const Rule& rule : rules) {
    if (applies_to(rule, cert.id.cert_type) && left < rule.below.count()) {
      consider({rule.action, rule.severity, rule.below.count()});
    }
  }
  return {std::string(best.action), best.severity};
}

std::vector<ReloadPending> find_reload_pending(
    std::span<const CertObservation* const> certificates) {
  std::vector<ReloadPending> pending;
  for (const CertObservation* file : certificates) {
    if (file->id.source != kSourceFile || file->id.index != "0" || !file->not_after ||
        !is_reloadable_file(*file)) {
      continue;
    }
    for (const CertObservation* loaded : certificates) {
      if (!loaded->local_node || loaded->id.source != kSourceCluster ||
          loaded->id.cert_type != file->id.cert_type || !loaded->not_after) {
        continue;
      }
      if (std::llabs(*loaded->not_after - *file->not_after) > 1) {
        pending.push_back({loaded->id.node_id, file->id.cert_type, file->id.path, *file->not_after,
                           *loaded->not_after});
      }
    }
  }
  return pending;
}

}  // namespace certwatch::rules
