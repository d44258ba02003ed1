#include "rules/automation.hpp"

#include <algorithm>

namespace certwatch::rules {

const std::vector<std::string_view>& automation_presets() {
  static const std::vector<std::string_view> presets{kPresetCockroachdbHelm, kPresetCertManager};
  return presets;
}

std::optional<RenewBefore> renew_before_for(const Automation& entry, CertType type) {
  if (entry.renew_before) return entry.renew_before;
  using std::chrono::hours;
  if (entry.preset == kPresetCertManager) {
    // cert-manager: renewBefore unset renews when a third of the duration is left.
    return RenewBefore{{}, 33};
  }
  if (entry.preset == kPresetCockroachdbHelm) {
    // The chart's selfSigner *ExpiryWindow defaults.
    switch (type) {
      case CertType::client:
        return RenewBefore{hours{48}, 0};
      case CertType::node:
      case CertType::node_client:
      case CertType::ui:
        return RenewBefore{hours{168}, 0};
      case CertType::ca:
      case CertType::client_ca:
      case CertType::ui_ca:
      case CertType::tenant_ca:
        return RenewBefore{hours{648}, 0};
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<Renewal> renewal_of(const std::vector<Automation>& automation,
                                  const CertObservation& cert) {
  if (cert.load_failed || !cert.not_after) return std::nullopt;
  if (cert.id.source == kSourceCluster && !cert.id.user.empty()) return std::nullopt;
  for (const Automation& entry : automation) {
    if (!entry.cert_types.empty() && std::find(entry.cert_types.begin(), entry.cert_types.end(),
                                               cert.id.cert_type) == entry.cert_types.end()) {
      continue;
    }
    if (!entry.match.matches(cert.id)) continue;
    const auto renew = renew_before_for(entry, cert.id.cert_type);
    if (!renew) continue;
    std::optional<std::int64_t> before;
    if (renew->percent > 0) {
      before = share_of_lifetime(cert, renew->percent);
    } else {
      before = renew->duration.count();
    }
    if (!before) continue;  // a share of a lifetime without notBefore: does not apply
    const std::int64_t expected = *cert.not_after - *before;
    return Renewal{entry.name, expected, expected + entry.grace.count()};
  }
  return std::nullopt;
}

}  // namespace certwatch::rules
