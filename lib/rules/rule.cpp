#include "rules/rule.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace certwatch::rules {

bool Selector::matches(const CertIdentity& id) const {
  const auto any_equal = [](const std::vector<std::string>& values, const std::string& value) {
    return values.empty() || std::find(values.begin(), values.end(), value) != values.end();
  };
  const bool path_ok =
      paths.empty() || std::any_of(paths.begin(), paths.end(), [&](const std::string& glob) {
        return ::fnmatch(glob.c_str(), id.path.c_str(), FNM_PATHNAME) == 0;
      });
  return path_ok && any_equal(sources, id.source) && any_equal(users, id.user);
}

std::optional<std::int64_t> share_of_lifetime(const CertObservation& cert, int percent) {
  if (!cert.not_before || !cert.not_after || *cert.not_after < *cert.not_before) {
    return std::nullopt;
  }
  // Lifetimes are below 2^40 s and percent at most 100: no overflow.
  return (*cert.not_after - *cert.not_before) * percent / 100;
}

std::optional<std::int64_t> rule_threshold(const Rule& rule, const CertObservation& cert) {
  if (std::find(rule.cert_types.begin(), rule.cert_types.end(), cert.id.cert_type) ==
          rule.cert_types.end() ||
      !rule.select.matches(cert.id)) {
    return std::nullopt;
  }
  if (rule.below_percent > 0) return share_of_lifetime(cert, rule.below_percent);
  return rule.below.count();
}

std::vector<Rule> default_rules() {
  using std::chrono::days;
  const std::vector<CertType> ca_types{CertType::ca, CertType::client_ca, CertType::ui_ca,
                                       CertType::tenant_ca};
  const std::vector<CertType> leaf_types{CertType::node, CertType::node_client, CertType::client,
                                         CertType::ui, CertType::tenant_client};
  return {
      Rule{ca_types, days{365}, std::string(kActionPlanRotation), Severity::info},
      Rule{leaf_types, days{90}, std::string(kActionScheduleRotation), Severity::warning},
      Rule{leaf_types, days{30}, std::string(kActionRotateNow), Severity::critical},
  };
}

}  // namespace certwatch::rules
