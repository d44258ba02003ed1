// Certificates a machine renews (the CockroachDB Helm chart's self-signer, cert-manager): the
// `automation:` entries of the config and what they mean for one certificate. Pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"
#include "rules/rule.hpp"

namespace certwatch::rules {

// The action of a managed certificate the automation did not renew in time (built in).
inline constexpr std::string_view kActionRenewalOverdue = "renewal_overdue";

// Presets: the published defaults of a rotation tool (docs/automation.md gives the sources).
inline constexpr std::string_view kPresetCockroachdbHelm = "cockroachdb_helm";
inline constexpr std::string_view kPresetCertManager = "cert_manager";
const std::vector<std::string_view>& automation_presets();

// When the automation renews: a duration before notAfter, or a share (1..100) of the lifetime.
struct RenewBefore {
  std::chrono::seconds duration{0};
  int percent = 0;  // set instead of duration for `33%`

  friend bool operator==(const RenewBefore&, const RenewBefore&) = default;
};

struct Automation {
  std::string name;                  // the managed_by label value
  std::string preset;                // empty, or one of automation_presets()
  std::vector<CertType> cert_types;  // empty: every type
  Selector match;
  std::optional<RenewBefore> renew_before;  // overrides the preset; required without one
  std::chrono::seconds grace{24 * 3600};    // how late the renewal may be

  friend bool operator==(const Automation&, const Automation&) = default;
};

// The renew_before of `entry` for a certificate type: its own, else its preset's; nullopt when
// neither gives one (the Helm preset says nothing about tenant certificates).
std::optional<RenewBefore> renew_before_for(const Automation& entry, CertType type);

// What the managing entry says about one certificate.
struct Renewal {
  std::string managed_by;
  std::int64_t expected = 0;    // notAfter - renew_before: when the automation should renew it
  std::int64_t overdue_at = 0;  // expected + grace: renewal_overdue once now is past it
};

// The first entry that matches `cert` and can say when it renews (a share of the lifetime needs
// notBefore, which only file and probe certificates have), and when that is; nullopt when the
// certificate is not managed. Per-user client certificates from the cluster (node vars) are
// never managed (their expiry is a minimum over a day, so a renewal shows late).
std::optional<Renewal> renewal_of(const std::vector<Automation>& automation,
                                  const CertObservation& cert);

}  // namespace certwatch::rules
