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
    const auto threshold = rule_threshold(rule, cert);
    if (threshold && left < *threshold) consider({rule.action, rule.severity, *threshold});
  }
  return {std::string(best.action), best.severity};
}

CertState evaluate(const CertObservation& cert, const std::vector<Rule>& rules,
                   const std::vector<Automation>& automation, std::int64_t now) {
  const auto renewal = renewal_of(automation, cert);
  if (!renewal) return evaluate(cert, rules, now);
  CertState state = evaluate(cert, {}, now);  // the built-in states alone
  if (state.severity == Severity::none && now > renewal->overdue_at) {
    state = {std::string(kActionRenewalOverdue), Severity::critical};
  }
  state.managed_by = renewal->managed_by;
  state.renewal_expected = renewal->expected;
  return state;
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

std::vector<ServedMismatch> find_served_mismatch(
    std::span<const CertObservation* const> certificates) {
  std::vector<const CertObservation*> node_files;
  std::vector<const CertObservation*> reported;  // cluster node certificates
  for (const CertObservation* cert : certificates) {
    if (cert->id.cert_type != CertType::node || !cert->not_after) continue;
    // Any node certificate on disk: node.crt in a certs dir, or tls.crt of a Kubernetes TLS Secret
    // mounted as files.tls_secrets with cert_type node.
    if (cert->id.source == kSourceFile && cert->id.index == "0" && cert->facts) {
      node_files.push_back(cert);
    } else if (cert->id.source == kSourceCluster && !cert->load_failed) {
      reported.push_back(cert);
    }
  }
  std::vector<ServedMismatch> out;
  for (const CertObservation* served : certificates) {
    if (served->id.source != kSourceProbe || served->id.index != "0" || !served->facts ||
        served->id.cert_type != CertType::node) {
      continue;
    }
    const std::int64_t not_after = served->facts->not_after;
    const bool local = served->local_node ||
                       std::any_of(reported.begin(), reported.end(), [&](const CertObservation* r) {
                         return r->local_node && !served->id.node_id.empty() &&
                                r->id.node_id == served->id.node_id;
                       });
    if (local && !node_files.empty()) {
      const bool on_disk =
          std::any_of(node_files.begin(), node_files.end(), [&](const CertObservation* file) {
            return file->facts->fingerprint_sha256 == served->facts->fingerprint_sha256;
          });
      if (!on_disk) {
        out.push_back({served->id.node_id, served->id.path, "disk", not_after,
                       *node_files.front()->not_after});
      }
    }
    for (const CertObservation* r : reported) {
      if (served->id.node_id.empty() || r->id.node_id != served->id.node_id) continue;
      if (std::llabs(*r->not_after - not_after) > 1) {
        out.push_back({served->id.node_id, served->id.path, "cluster", not_after, *r->not_after});
      }
    }
  }
  return out;
}

bool wire_confirms(const ReloadPending& pending, std::span<const ServedMismatch> mismatches) {
  return pending.cert_type == CertType::node &&
         std::any_of(mismatches.begin(), mismatches.end(), [&](const ServedMismatch& m) {
           return m.against == "disk" && m.node_id == pending.node_id;
         });
}

}  // namespace certwatch::rules
