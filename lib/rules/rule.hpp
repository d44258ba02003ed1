// A threshold rule: the one table the evaluator and the generated Prometheus rules share.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace certwatch::rules {

// The actions of the default rule table (the product's rotation rules); config may name others.
inline constexpr std::string_view kActionPlanRotation = "plan_rotation";
inline constexpr std::string_view kActionScheduleRotation = "schedule_rotation";
inline constexpr std::string_view kActionRotateNow = "rotate_now";

// Optional narrowing of a rule or an automation entry beside its cert types: a certificate
// matches when every selector given matches (one of its values does); none given matches all.
struct Selector {
  std::vector<std::string> paths;    // globs over the `path` label (fnmatch, like files.extra)
  std::vector<std::string> sources;  // `source` label values
  std::vector<std::string> users;    // `user` label values (client certificates)

  bool matches(const CertIdentity& id) const;
  bool empty() const { return paths.empty() && sources.empty() && users.empty(); }
  friend bool operator==(const Selector&, const Selector&) = default;
};

struct Rule {
  std::vector<CertType> cert_types;
  std::chrono::seconds below{0};  // matches when less than this is left before notAfter
  std::string action;
  Severity severity = Severity::info;
  // `below: 33%`: a share (1..100) of the certificate's lifetime (notAfter - notBefore) instead
  // of `below`; 0 when `below` is a duration. Needs notBefore (file and probe certificates): a
  // certificate without one is not matched.
  int below_percent = 0;
  Selector select;

  friend bool operator==(const Rule&, const Rule&) = default;
};

// How long before notAfter `rule` starts to match `cert` (seconds), or nullopt when it does not
// apply to it (its type, a selector, or a share of a lifetime without notBefore).
std::optional<std::int64_t> rule_threshold(const Rule& rule, const CertObservation& cert);

// `percent` of the lifetime notAfter - notBefore, in whole seconds (rounded down); nullopt without
// notBefore or notAfter.
std::optional<std::int64_t> share_of_lifetime(const CertObservation& cert, int percent);

// docs/metrics.md defaults: CA types < 365d plan_rotation/info; leaf types < 90d
// schedule_rotation/warning; < 30d rotate_now/critical.
std::vector<Rule> default_rules();

}  // namespace certwatch::rules
