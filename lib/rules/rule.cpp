#include "rules/rule.hpp"

namespace certwatch::rules {

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
