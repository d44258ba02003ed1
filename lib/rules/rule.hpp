// A threshold rule: the one table the evaluator and the generated Prometheus rules share.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace certwatch::rules {

// The actions of the default rule table (the product's rotation rules); config may name others.
inline constexpr std::string_view kActionPlanRotation = "plan_rotation";
inline constexpr std::string_view kActionScheduleRotation = "schedule_rotation";
inline constexpr std::string_view kActionRotateNow = "rotate_now";

struct Rule {
  std::vector<CertType> cert_types;
  std::chrono::seconds below{0};  // matches when less than this is left before notAfter
  std::string action;
  Severity severity = Severity::info;

  friend bool operator==(const Rule&, const Rule&) = default;
};

// METRICS.md defaults: CA types < 365d plan_rotation/info; leaf types < 90d
// schedule_rotation/warning; < 30d rotate_now/critical.
std::vector<Rule> default_rules();

}  // namespace certwatch::rules
