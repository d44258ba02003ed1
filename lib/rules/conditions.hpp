// The severity policy for everything that is not a certificate's expiry state: one table, read by
// `check` (its verdict), the status page and the generated Prometheus rules, so they agree.
#pragma once

#include <string_view>

#include "core/report.hpp"
#include "core/types.hpp"

namespace certwatch::rules {

struct ConditionPolicy {
  Condition condition;
  std::string_view alert;  // the alert of the generated rule file
  Severity severity;
};

const ConditionPolicy& policy(Condition condition);
inline Severity severity_of(Condition condition) { return policy(condition).severity; }
inline std::string_view alert_of(Condition condition) { return policy(condition).alert; }

}  // namespace certwatch::rules
