#include "rules/conditions.hpp"

namespace certwatch::rules {
namespace {

// A source that is down makes `check` UNKNOWN whatever its severity here: what was checked is
// incomplete.
constexpr ConditionPolicy kPolicies[] = {
    {Condition::file_error, "CrdbCertFileUnreadable", Severity::warning},
    {Condition::source_down, "CrdbCertSourceDown", Severity::warning},
    {Condition::node_stale, "CrdbCertClusterNodeStale", Severity::warning},
    {Condition::reload_pending, "CrdbCertReloadPending", Severity::warning},
    {Condition::cluster_insecure, "CrdbCertClusterInsecure", Severity::critical},
    {Condition::config_reload_failed, "CrdbCertConfigReloadFailed", Severity::warning},
    {Condition::probe_failed, "CrdbCertProbeFailed", Severity::warning},
    {Condition::served_mismatch, "CrdbCertServedMismatch", Severity::warning},
    {Condition::cmek_key_revoked, "CrdbCmekKeyRevoked", Severity::critical},
    {Condition::cmek_failed, "CrdbCmekOperationFailed", Severity::critical},
    {Condition::cmek_transition_stuck, "CrdbCmekTransitionStuck", Severity::warning},
    {Condition::cmek_api_unreachable, "CrdbCmekApiUnreachable", Severity::warning},
    {Condition::cloud_client_ca_not_set, "CrdbCloudClientCaNotSet", Severity::info},
    {Condition::cloud_client_ca_failed, "CrdbCloudClientCaFailed", Severity::warning},
    {Condition::cloud_client_ca_pending, "CrdbCloudClientCaPending", Severity::warning},
};

}  // namespace

const ConditionPolicy& policy(Condition condition) {
  for (const ConditionPolicy& entry : kPolicies) {
    if (entry.condition == condition) return entry;
  }
  return kPolicies[0];  // unreachable: every condition has an entry (rules_test checks)
}

}  // namespace certwatch::rules
