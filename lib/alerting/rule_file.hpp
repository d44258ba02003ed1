// The Prometheus alerting rules generated from the daemon's own config, so that the rules and the
// daemon's evaluator read one rule table and can never disagree. Pure: config in, YAML text out.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "sources/registry.hpp"

namespace certwatch::alerting {

struct AlertRule {
  std::string name;  // CamelCase, prefix CrdbCert
  std::string expr;
  std::chrono::seconds for_duration{0};  // 0: no `for:` (fires on the first evaluation)
  // In output order. Rule labels override the series' labels of the same name.
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, std::string>>
      annotations;  // summary, description, runbook_url
};

// A Prometheus recording rule: `record` is level:metric:operations (Prometheus' naming).
struct RecordingRule {
  std::string record;
  std::string expr;
};

struct RuleGroup {
  std::string name;
  std::vector<AlertRule> rules;
  // Written before the alerts of the group; only the fleet group has any.
  std::vector<RecordingRule> records = {};
};

// Every alert of the rule file, in a fixed order: certificate states (one alert per non-ok action
// of config.rules, most severe first, then the built-in expired, not_yet_valid, load_failed,
// renewal_overdue), then files, cluster, CMEK, the Cloud client CA, the exporter itself, and the
// fleet-wide recording rules (per `cluster` target label: docs/scale.md).
// Every join and aggregation keeps `cluster` (the scrape config's target label), so two clusters
// with the same node ids never meet in one series, and every alert carries its cluster.
// Without alerting.runbook_base_url, runbook_url points at the daemon that raised the alert:
// `daemon_scheme`://{{ $labels.instance }}/runbooks/<Alert> ("https" when it serves TLS); alerts
// aggregated without `instance` then get none (see alerts_without_runbook).
// `registry`: the sources whose alerts the rules hold (a test adds its own source's).
std::vector<RuleGroup> build_rule_groups(
    const config::Config& config, std::string_view daemon_scheme = "http",
    const sources::Registry& registry = sources::Registry::builtin());
// The alerts of `groups` that carry no runbook_url, for a note on stderr.
std::vector<std::string> alerts_without_runbook(const std::vector<RuleGroup>& groups);

// The rule file as YAML (`groups:` ...). Deterministic: the same config gives the same bytes.
std::string render_rule_file(const std::vector<RuleGroup>& groups);
std::string generate_rule_file(const config::Config& config);

// The Kubernetes object a PrometheusRule is written as (`rules --format=prometheus-operator`).
struct ObjectMeta {
  std::string name = "crdb-certwatch";
  std::string namespace_name;  // empty: no namespace (kustomize or kubectl -n sets it)
};
// Why `meta` cannot name a Kubernetes object (DNS-1123 name and namespace); nullopt when it can.
std::optional<std::string> object_meta_error(const ObjectMeta& meta);
// The same groups as render_rule_file, as a Prometheus Operator PrometheusRule
// (monitoring.coreos.com/v1): the operator loads it into every Prometheus whose ruleSelector
// matches its labels.
std::string render_prometheus_rule(const std::vector<RuleGroup>& groups, const ObjectMeta& meta);

// "rotate_now" -> "CrdbCertRotateNow": the alert name of a certificate state's action.
std::string action_alert_name(std::string_view action);

// The runbook page an alert's runbook_url points at: the alert name (deploy/runbooks/<page>.md,
// served by the daemon at /runbooks/<page>).
std::string runbook_page(std::string_view alert_name);

}  // namespace certwatch::alerting
