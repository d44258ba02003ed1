#include "alerting/rule_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "core/metric_names.hpp"
#include "rules/automation.hpp"
#include "rules/checks.hpp"
#include "rules/conditions.hpp"
#include "rules/evaluate.hpp"
#include "sources/registry.hpp"
#include "state/remedy.hpp"

namespace certwatch::alerting {
namespace {

using config::format_duration;

// The identity labels of docs/metrics.md: what makes two series the same certificate.
constexpr std::string_view kIdentity = "source, cert_type, node_id, path, index, user";

// The alert and the severity label of a condition, from the table `check` uses too.
std::string condition_alert(Condition condition) { return std::string(rules::alert_of(condition)); }
std::vector<std::pair<std::string, std::string>> condition_labels(Condition condition) {
  return {{"severity", std::string(to_string(rules::severity_of(condition)))}};
}

constexpr std::string_view kExporterDownAlert = "CrdbCertExporterDown";

// A pending reload the probe sees from the outside too (Prometheus' `query` template function).
constexpr std::string_view kWireConfirms =
    "{{ with printf \"crdb_cert_served_mismatch{against='disk',node_id='%s',cluster='%s'}\" "
    "$labels.node_id $labels.cluster | query }}{{ if . }} The probe confirms it: the node still "
    "serves the old certificate.{{ end "
    "}}{{ end }}";

// Alerts that are not certificate states; an action that camel-cases to one of these gets a
// longer name instead of clashing.
const std::vector<std::string>& fixed_alert_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out{std::string(kExporterDownAlert)};
    for (const rules::CheckInfo& check : rules::all_checks()) out.emplace_back(check.alert);
    for (const Condition condition : sources::Registry::builtin().conditions()) {
      out.push_back(condition_alert(condition));
    }
    return out;
  }();
  return names;
}

// Where the certificate is, in words, for summaries and descriptions. File certificates are named
// by path and host; node-scoped ones (cluster, probe) by node id, as they are aggregated across
// daemons and carry no instance.
constexpr std::string_view kWhere =
    "{{ if $labels.path }}{{ $labels.path }}"
    "{{ if and $labels.index (ne $labels.index \"0\") }} (certificate {{ $labels.index }} of the "
    "bundle){{ end }}{{ if $labels.instance }} on {{ $labels.instance }}{{ end }}"
    "{{ else }}of node {{ $labels.node_id }} ({{ $labels.source }} source){{ end }}"
    "{{ if $labels.user }} for SQL user {{ $labels.user }}{{ end }}";

// The short form for summaries.
constexpr std::string_view kWhereShort =
    "{{ if $labels.path }}{{ $labels.path }}{{ if $labels.instance }} on {{ $labels.instance }}"
    "{{ end }}{{ else }}node {{ $labels.node_id }}{{ end }}";

// The actions the product knows: the default rule table's and the built-in states. Any other
// action comes from a custom rule.
struct KnownAction {
  std::string_view action;
  std::string_view summary;  // after "CockroachDB <type> certificate "
  std::string_view advice;   // what an operator does about it, for the description
};
constexpr KnownAction kKnownActions[] = {
    {rules::kActionRotateNow, "must be rotated now",
     "Rotate it now: issue a new certificate (cockroach cert create-node ... --overwrite or "
     "create-client), deploy it with the key at 0600, then send SIGHUP to cockroach."},
    {rules::kActionScheduleRotation, "rotation must be scheduled",
     "Schedule its rotation in the coming weeks, before it reaches the rotate-now threshold."},
    {rules::kActionPlanRotation, "(CA) rotation must be planned",
     "Plan the CA rotation: a combined CA file (new first, old second) must reach every node and "
     "client well before the old CA expires."},
    {rules::kActionExpired, "has expired",
     "Connections that rely on it fail. Issue and deploy a replacement now, then SIGHUP."},
    {rules::kActionNotYetValid, "is not valid yet",
     "Its notBefore is in the future: check the host clock (NTP) and how it was issued."},
    {rules::kActionLoadFailed, "failed to load on a node",
     "The node reports 0 for this certificate: the file is missing, does not parse, or its key "
     "permissions were refused. Check the node's certs directory and logs."},
    {rules::kActionRenewalOverdue, "was not renewed by its automation",
     "The automation that renews it did not: check the Helm chart's rotation CronJob (kubectl get "
     "cronjobs, its last Job's logs) or the cert-manager Certificate (kubectl describe "
     "certificate: status, conditions, events), then renew it by hand before it expires."},
};

const KnownAction* known_action(std::string_view action) {
  for (const KnownAction& known : kKnownActions) {
    if (known.action == action) return &known;
  }
  return nullptr;
}

std::string advice_for(std::string_view action) {
  const KnownAction* known = known_action(action);
  return known ? std::string(known->advice) : "Follow the runbook for this action.";
}

std::string summary_for(std::string_view action) {
  const std::string subject = "CockroachDB {{ $labels.cert_type }} certificate ";
  const KnownAction* known = known_action(action);
  return subject + (known ? std::string(known->summary) : "is in state " + std::string(action));
}

// A custom action has no page of its own: it gets the page of the default action it resembles
// most (CA-only rules: CA rotation; otherwise by severity).
std::string page_for_custom_action(const std::vector<rules::Rule>& rules, std::string_view action) {
  bool all_ca = true;
  Severity worst = Severity::none;
  for (const rules::Rule& rule : rules) {
    if (rule.action != action) continue;
    worst = std::max(worst, rule.severity);
    for (CertType type : rule.cert_types) all_ca = all_ca && is_ca_type(type);
  }
  if (all_ca) return runbook_page("CrdbCertPlanRotation");
  if (worst == Severity::critical) return runbook_page("CrdbCertRotateNow");
  return runbook_page("CrdbCertScheduleRotation");
}

// The non-ok actions of the rule table, most severe first, at equal severity the smaller
// threshold first, each once.
std::vector<std::string> rule_actions(const std::vector<rules::Rule>& rules) {
  std::vector<const rules::Rule*> ordered;
  for (const rules::Rule& rule : rules) ordered.push_back(&rule);
  std::stable_sort(ordered.begin(), ordered.end(), [](const rules::Rule* a, const rules::Rule* b) {
    if (a->severity != b->severity) return a->severity > b->severity;
    return a->below < b->below;
  });
  std::vector<std::string> actions;
  for (const rules::Rule* rule : ordered) {
    if (std::find(actions.begin(), actions.end(), rule->action) == actions.end()) {
      actions.push_back(rule->action);
    }
  }
  return actions;
}

std::string quote_label_value(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The expression of one certificate state. File certificates keep `instance` (the same path exists
// on every host); node-scoped ones (cluster, probe) are reported identically by every daemon that
// runs those sources, so they are aggregated without `instance` and page once.
std::string state_expr(std::string_view action) {
  const std::string selector = "action=" + quote_label_value(action);
  const std::string state(metric::kExpiryState);
  const std::string not_after(metric::kNotAfter);
  const std::string file_state = state + "{source=\"file\", " + selector + "}";
  const std::string node_state =
      "max without (instance) (" + state + "{source!=\"file\", " + selector + "})";
  if (action == rules::kActionLoadFailed) {
    // No notAfter exists for a certificate that failed to load: the state itself is the value.
    return file_state + "\nor\n" + node_state + "\n";
  }
  const std::string identity(kIdentity);
  if (action == rules::kActionRenewalOverdue) {
    // The value is how late the renewal is; managed_by comes from the expected-renewal series.
    const std::string expected(metric::kRenewalExpected);
    return file_state + "\n  * on (cluster, job, instance, " + identity +
           ") group_left (managed_by)\n  (time() - " + expected + "{source=\"file\"})\nor\n" +
           node_state + "\n  * on (cluster, job, " + identity +
           ") group_left (managed_by)\n  (time() - max by (cluster, job, " + identity +
           ", managed_by) (" + expected + "{source!=\"file\"}))\n";
  }
  // The value is the seconds left before notAfter; for expired, the seconds since.
  const bool since = action == rules::kActionExpired;
  const auto seconds = [since](const std::string& value) {
    return since ? "(time() - " + value + ")" : "(" + value + " - time())";
  };
  return file_state + "\n  * on (cluster, job, instance, " + identity + ") group_left ()\n  " +
         seconds(not_after + "{source=\"file\"}") + "\nor\n" + node_state +
         "\n  * on (cluster, job, " + identity + ") group_left ()\n  " +
         seconds("min by (cluster, job, " + identity + ") (" + not_after + "{source!=\"file\"})") +
         "\n";
}

// Whether an alert's series keep `instance` (the daemon that raised it, whose /runbooks/ a link can
// point at): all of them, some (file series keep it, node-scoped ones are aggregated without it),
// or none.
enum class Instance { all, some, none };

class Builder {
 public:
  Builder(const config::Config& config, std::string_view daemon_scheme,
          const sources::Registry& registry)
      : config_(config), daemon_scheme_(daemon_scheme), registry_(registry) {}

  AlertRule alert(std::string name, std::string expr, std::chrono::seconds for_duration,
                  std::vector<std::pair<std::string, std::string>> labels, std::string summary,
                  std::string description, std::string page = {},
                  Instance instance = Instance::all) const {
    AlertRule rule;
    if (page.empty()) page = runbook_page(name);
    rule.name = std::move(name);
    rule.expr = std::move(expr);
    rule.for_duration = for_duration;
    rule.labels = std::move(labels);
    for (const auto& [label, value] : config_.alerting.extra_labels) {
      rule.labels.emplace_back(label, value);
    }
    rule.annotations = {{"summary", std::move(summary)}, {"description", std::move(description)}};
    // The fix every output shows (state/remedy.hpp), without a particular certificate: the
    // status page and `check` give the exact command.
    const std::string page_alert = page.ends_with(".md") ? page.substr(0, page.size() - 3) : page;
    if (auto remedy = state::remedy_for_alert(page_alert, registry_.conditions())) {
      rule.annotations.emplace_back("fix", std::move(remedy->fix));
    }
    if (auto url = runbook_url(page, instance)) rule.annotations.emplace_back("runbook_url", *url);
    return rule;
  }

  // Under runbook_base_url when set; otherwise on the daemon that raised the alert, which an
  // alert aggregated without `instance` cannot name: no link rather than a broken one.
  std::optional<std::string> runbook_url(const std::string& page, Instance instance) const {
    std::string base = config_.alerting.runbook_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (!base.empty()) return base + "/" + page;
    const std::string name = page.ends_with(".md") ? page.substr(0, page.size() - 3) : page;
    const std::string url =
        std::string(daemon_scheme_) + "://{{ $labels.instance }}/runbooks/" + name;
    switch (instance) {
      case Instance::all:
        return url;
      case Instance::some:
        return "{{ if $labels.instance }}" + url + "{{ end }}";
      case Instance::none:
        break;
    }
    return std::nullopt;
  }

  RuleGroup certificate_states() const {
    RuleGroup group{"crdb-certwatch.certificates", {}};
    std::vector<std::string> actions = rule_actions(config_.rules);
    for (std::string_view builtin : {rules::kActionExpired, rules::kActionNotYetValid,
                                     rules::kActionLoadFailed, rules::kActionRenewalOverdue}) {
      actions.emplace_back(builtin);
    }
    for (const std::string& action : actions) {
      std::string name = action_alert_name(action);
      const bool custom = known_action(action) == nullptr;
      const auto& fixed = fixed_alert_names();
      if (std::find(fixed.begin(), fixed.end(), name) != fixed.end()) {
        name = "CrdbCertState" + name.substr(std::string_view("CrdbCert").size());
      }
      std::string when;
      if (action == rules::kActionExpired) {
        when = " expired {{ $value | humanizeDuration }} ago. ";
      } else if (action == rules::kActionLoadFailed) {
        when = " could not be loaded. ";
      } else if (action == rules::kActionRenewalOverdue) {
        when =
            " is managed by {{ $labels.managed_by }}, which should have renewed it {{ $value | "
            "humanizeDuration }} ago; it is still in place. ";
      } else {
        when = " expires in {{ $value | humanizeDuration }} (action " + action +
               ", severity {{ $labels.severity }}). ";
      }
      // The severity label comes from the series: the evaluator already chose it from the same
      // rules, and one action may carry different severities in different rules.
      group.rules.push_back(alert(
          name, state_expr(action), config_.alerting.expiry_for, {},
          summary_for(action) + ": " + std::string(kWhereShort),
          "The {{ $labels.cert_type }} certificate " + std::string(kWhere) + when +
              advice_for(action),
          custom ? page_for_custom_action(config_.rules, action) : std::string(), Instance::some));
    }
    return group;
  }

  // One alert per posture check that runs. The severity label comes from the series (the config
  // may change a check's severity); file-source failures keep `instance`, node-scoped ones
  // (probe, cluster) are aggregated across daemons and page once.
  RuleGroup checks() const {
    RuleGroup group{"crdb-certwatch.checks", {}};
    const std::string failed(metric::kCheckFailed);
    for (const rules::CheckInfo& check : rules::all_checks()) {
      if (!config_.checks.runs(check.name)) continue;
      const std::string selector = "check=" + quote_label_value(check.name);
      group.rules.push_back(alert(
          std::string(check.alert),
          failed + "{source=\"file\", " + selector + "} == 1\nor\nmax without (instance) (" +
              failed + "{source!=\"file\", " + selector + "}) == 1\n",
          config_.alerting.expiry_for, {},
          "CockroachDB {{ $labels.cert_type }} certificate " + std::string(check.summary) + ": " +
              std::string(kWhereShort),
          "The {{ $labels.cert_type }} certificate " + std::string(kWhere) + " fails the " +
              std::string(check.name) +
              " check ({{ $labels.detail }}, severity {{ "
              "$labels.severity }}). " +
              std::string(check.why) + " The status page's Problems section gives the exact fix.",
          {}, Instance::some));
    }
    return group;
  }

  RuleGroup files() const {
    RuleGroup group{"crdb-certwatch.files", {}};
    group.rules.push_back(alert(
        condition_alert(Condition::file_error), std::string(metric::kFileError) + " == 1\n",
        config_.alerting.file_error_for, condition_labels(Condition::file_error),
        "Certificate file {{ $labels.path }} on {{ $labels.instance }} cannot be read",
        "crdb-certwatch on {{ $labels.instance }} cannot use {{ $labels.path }} (reason: {{ "
        "$labels.reason }}), so its expiry is not watched. Fix the file or its permissions, or "
        "remove it from the configuration."));
    return group;
  }

  RuleGroup cluster() const {
    const auto& a = config_.alerting;
    RuleGroup group{"crdb-certwatch.cluster", {}};
    group.rules.push_back(alert(
        condition_alert(Condition::node_stale),
        "time() - max without (instance) (" + std::string(metric::kClusterNodeUpdated) + ")\n  > " +
            std::to_string(a.node_stale_after.count()) + "\n",
        std::chrono::seconds{0}, condition_labels(Condition::node_stale),
        "CockroachDB node {{ $labels.node_id }} has not reported its status for {{ $value | "
        "humanizeDuration }}",
        "kv_node_status.updated_at of node {{ $labels.node_id }} is {{ $value | humanizeDuration "
        "}} old (limit " +
            format_duration(a.node_stale_after) +
            "): the node is down or partitioned, and its certificate numbers are stale.",
        {}, Instance::none));
    group.rules.push_back(alert(
        condition_alert(Condition::reload_pending), std::string(metric::kReloadPending) + " == 1\n",
        a.reload_pending_for, condition_labels(Condition::reload_pending),
        "Node {{ $labels.node_id }} has not loaded the new {{ $labels.cert_type }} certificate",
        "{{ $labels.path }} on {{ $labels.instance }} differs from the certificate node {{ "
        "$labels.node_id }} reports it has loaded. CockroachDB reloads certificates only on "
        "SIGHUP: run pkill -SIGHUP -x cockroach on that host and check the node's log." +
            std::string(kWireConfirms)));
    group.rules.push_back(alert(
        condition_alert(Condition::served_mismatch),
        "max without (instance) (" + std::string(metric::kServedMismatch) + ") == 1\n",
        a.reload_pending_for, condition_labels(Condition::served_mismatch),
        "Node {{ $labels.node_id }} serves another certificate than its {{ $labels.against }} "
        "says",
        "{{ $labels.target }} (node {{ $labels.node_id }}) serves a leaf that differs from {{ if "
        "eq $labels.against \"disk\" }}the node.crt on its host{{ else }}the node certificate it "
        "reports in kv_node_status{{ end }}: the certificate was renewed but the node still "
        "serves the old one. Send SIGHUP to cockroach, or restart the node (Kubernetes: "
        "cert-manager renewed the Secret, the pod still serves the old one: kubectl rollout "
        "restart).",
        {}, Instance::none));
    group.rules.push_back(alert(
        condition_alert(Condition::probe_failed), std::string(metric::kProbeSuccess) + " == 0\n",
        a.source_down_for, condition_labels(Condition::probe_failed),
        "crdb-certwatch on {{ $labels.instance }} cannot complete a TLS handshake with {{ "
        "$labels.target }}",
        "The last probe of {{ $labels.target }} failed "
        "(crdb_cert_source_errors_total{source=\"probe\"} "
        "counts the reason: connect_failed, timeout, ssl_refused, handshake_failed, dns_failed). "
        "Clients of that port may fail the same way; what it serves is not watched."));
    group.rules.push_back(alert(
        condition_alert(Condition::cluster_insecure),
        // min: one daemon seeing an insecure cluster is enough; without instance: page once.
        "min without (instance) (" + std::string(metric::kClusterSecure) + ") == 0\n",
        a.insecure_for, condition_labels(Condition::cluster_insecure),
        "The CockroachDB cluster runs in insecure mode",
        "No node reports certificate metrics: the cluster runs without TLS and authentication "
        "(--insecure), or its version predates the metrics. No certificate expiry can be "
        "watched from the cluster side.",
        {}, Instance::none));
    group.rules.push_back(alert(
        condition_alert(Condition::client_child_metrics_off),
        // max: one daemon that sees per-user children is enough to know they are on.
        "max without (instance) (" + std::string(metric::kClientChildMetrics) + ") == 0\n",
        a.insecure_for, condition_labels(Condition::client_child_metrics_off),
        "CockroachDB nodes report no client certificate per SQL user",
        "The nodes' /_status/vars carry security_certificate_expiration_client but no sql_user "
        "children: SET CLUSTER SETTING server.child_metrics.enabled = true; turns them on (or no "
        "client has connected with a certificate yet). Until then application client "
        "certificates expire unseen from the server side.",
        {}, Instance::none));
    return group;
  }

  // The data-at-rest key, per key (the cluster and region states are on the page and in the
  // metrics). Node-scoped like the cluster source: every daemon that polls the API reports the
  // same series, so they are aggregated without `instance` and page once.
  RuleGroup cmek() const {
    const auto& a = config_.alerting;
    const auto keys_in = [](std::string_view statuses) {
      return "max without (instance) (" + std::string(metric::kCmekKeyInfo) + "{status=~\"" +
             std::string(statuses) + "\"}) == 1\n";
    };
    const std::string key =
        "CMEK key {{ $labels.uri }} ({{ $labels.type }}) of cluster {{ "
        "$labels.cluster_id }} in region {{ $labels.region }}";
    RuleGroup group{"crdb-certwatch.cmek", {}};
    group.rules.push_back(alert(
        condition_alert(Condition::cmek_key_revoked), keys_in("REVOKED|REVOKING"),
        std::chrono::seconds{0}, condition_labels(Condition::cmek_key_revoked),
        "CMEK key of cluster {{ $labels.cluster_id }} in {{ $labels.region }} is {{ "
        "$labels.status }}",
        key + " is {{ $labels.status }}: the cluster loses access to its data at rest, "
              "permanently once the provider's grace period passes. Restore the key in the KMS "
              "and check its key policy or IAM grant to {{ $labels.auth_principal }}. Never "
              "revoke a CMEK key as a test.",
        {}, Instance::none));
    group.rules.push_back(alert(
        condition_alert(Condition::cmek_failed), keys_in(".+_FAILED"), std::chrono::seconds{0},
        condition_labels(Condition::cmek_failed),
        "CMEK operation failed on cluster {{ $labels.cluster_id }} in {{ $labels.region }}: {{ "
        "$labels.status }}",
        key + " is {{ $labels.status }}. The API's user_message says why: it is on the status "
              "page's \"Data-at-rest key (CMEK)\" section and in crdb-certwatch check (free text, "
              "so not a label).",
        {}, Instance::none));
    group.rules.push_back(alert(
        condition_alert(Condition::cmek_transition_stuck), keys_in("ENABLING|ROTATING|DISABLING"),
        a.cmek_transition_for, condition_labels(Condition::cmek_transition_stuck),
        "CMEK key of cluster {{ $labels.cluster_id }} in {{ $labels.region }} stuck in {{ "
        "$labels.status }}",
        key + " has been {{ $labels.status }} for over " + format_duration(a.cmek_transition_for) +
            ". Check the operation in the CockroachDB Cloud Console and the key's KMS "
            "permissions.",
        {}, Instance::none));
    group.rules.push_back(alert(
        condition_alert(Condition::cmek_api_unreachable),
        std::string(metric::kSourceUp) + "{source=\"cmek\"} == 0\n", a.source_down_for,
        condition_labels(Condition::cmek_api_unreachable),
        "crdb-certwatch on {{ $labels.instance }} cannot read the CMEK state from the Cloud API",
        "The last CMEK poll on {{ $labels.instance }} failed (crdb_cert_source_errors_total{source="
        "\"cmek\"} gives the reason: auth_failed, not_found, rate_limited, server_error, timeout, "
        "handshake_failed, bad_response). The CMEK metrics are served from the last good poll and "
        "may "
        "be stale."));
    return group;
  }

  // The client CA uploaded to CockroachDB Cloud (the cloud source): its certificates are under the
  // certificate state alerts; these are about the upload. Aggregated like CMEK's.
  RuleGroup cloud() const {
    const auto& a = config_.alerting;
    const auto status_is = [](std::string_view status) {
      return "max without (instance) (" + std::string(metric::kCloudClientCaStatus) + "{status=\"" +
             std::string(status) + "\"}) == 1\n";
    };
    RuleGroup group{"crdb-certwatch.cloud", {}};
    group.rules.push_back(alert(
        condition_alert(Condition::cloud_client_ca_failed), status_is("FAILED"),
        std::chrono::seconds{0}, condition_labels(Condition::cloud_client_ca_failed),
        "Client CA upload FAILED on CockroachDB Cloud cluster {{ $labels.cluster_id }}",
        "The last update of the client CA of cluster {{ $labels.cluster_id }} failed: the cluster "
        "may still trust the previous CA, and clients issued from the new one are refused. Check "
        "the PEM (CA certificates only) and upload it again.",
        {}, Instance::none));
    group.rules.push_back(alert(
        condition_alert(Condition::cloud_client_ca_pending), status_is("PENDING"),
        a.cmek_transition_for, condition_labels(Condition::cloud_client_ca_pending),
        "Client CA update of CockroachDB Cloud cluster {{ $labels.cluster_id }} stuck in PENDING",
        "The client CA update of cluster {{ $labels.cluster_id }} has been PENDING for over " +
            format_duration(a.cmek_transition_for) +
            ". Check the cluster in the CockroachDB Cloud Console; contact support if it stays.",
        {}, Instance::none));
    group.rules.push_back(
        alert(condition_alert(Condition::cloud_client_ca_not_set), status_is("NOT_SET"),
              std::chrono::seconds{0}, condition_labels(Condition::cloud_client_ca_not_set),
              "No client CA uploaded to CockroachDB Cloud cluster {{ $labels.cluster_id }}",
              "Cluster {{ $labels.cluster_id }} has no client CA: clients cannot authenticate with "
              "certificates. Nothing to do unless they should.",
              {}, Instance::none));
    return group;
  }

  RuleGroup exporter() const {
    const auto& a = config_.alerting;
    const std::string job = "job=" + quote_label_value(a.job);
    RuleGroup group{"crdb-certwatch.exporter", {}};
    // A source with a down condition of its own (CMEK: CrdbCmekApiUnreachable) pages through it
    // alone: page once.
    std::vector<std::string_view> own_down;
    for (const sources::SourceEntry& entry : sources::Registry::builtin().entries()) {
      if (entry.down_condition) own_down.push_back(entry.source);
    }
    std::string selector;
    for (std::string_view source : own_down) {
      selector += (selector.empty() ? "" : "|") + std::string(source);
    }
    if (!selector.empty()) {
      selector = "{source!" + std::string(own_down.size() == 1 ? "=" : "~") +
                 quote_label_value(selector) + "}";
    }
    group.rules.push_back(alert(
        condition_alert(Condition::source_down),
        std::string(metric::kSourceUp) + selector + " == 0\n", a.source_down_for,
        condition_labels(Condition::source_down),
        "crdb-certwatch on {{ $labels.instance }} cannot poll its {{ $labels.source }} source",
        "The last poll of the {{ $labels.source }} source on {{ $labels.instance }} failed (see "
        "crdb_cert_source_errors_total for the reason and the daemon's log). Certificates of this "
        "source are served from the last good poll and may be stale."));
    group.rules.push_back(alert(
        std::string(kExporterDownAlert), "up{" + job + "} == 0\nor\nabsent(up{" + job + "})\n",
        a.exporter_down_for, {{"severity", "warning"}},
        "crdb-certwatch {{ if $labels.instance }}on {{ $labels.instance }} {{ end }}is down or "
        "not scraped",
        "Prometheus cannot scrape crdb-certwatch (job " + a.job +
            "{{ if $labels.instance }}, instance {{ $labels.instance }}{{ end }}), or no target of "
            "that job exists. Certificate expiry is not watched until it is back.",
        {}, Instance::some));
    group.rules.push_back(alert(
        condition_alert(Condition::config_reload_failed),
        std::string(metric::kConfigReloadSuccessful) + " == 0\n", std::chrono::seconds{0},
        condition_labels(Condition::config_reload_failed),
        "crdb-certwatch on {{ $labels.instance }} rejected its new configuration",
        "The last configuration reload on {{ $labels.instance }} failed; the previous "
        "configuration stays in force. Run crdb-certwatch --config.check and fix the errors it "
        "names."));
    return group;
  }

  // The alerts of the sources that bring their own (SourceEntry::alerts): one group per source,
  // its alerts aggregated without `instance` like every node-scoped one.
  std::vector<RuleGroup> source_alerts() const {
    std::vector<RuleGroup> groups;
    for (const sources::SourceEntry& entry : registry_.entries()) {
      if (entry.alerts == nullptr) continue;
      RuleGroup group{"crdb-certwatch." + std::string(entry.section.name), {}};
      for (const sources::SourceAlert& a : entry.alerts(config_)) {
        group.rules.push_back(alert(condition_alert(a.condition), a.expr, a.for_duration,
                                    condition_labels(a.condition), a.summary, a.description, {},
                                    Instance::none));
      }
      groups.push_back(std::move(group));
    }
    return groups;
  }

  // Fleet-wide views per `cluster` (the scrape config's target label): what a dashboard over
  // hundreds of clusters, or a global Thanos/Mimir query, reads instead of every certificate's
  // series. Certificates seen by several daemons (cluster, probe, cmek, cloud sources) count
  // once: they are aggregated without `instance` first, as the alerts do.
  RuleGroup fleet() const {
    const std::string state(metric::kExpiryState);
    const std::string failed(metric::kCheckFailed);
    const std::string not_after(metric::kNotAfter);
    const auto once = [](const std::string& metric) {
      return "  " + metric + "{source=\"file\"}\n  or\n  max without (instance) (" + metric +
             "{source!=\"file\"})\n";
    };
    const auto as_number = [](const std::string& metric) {
      std::string out;
      const std::pair<std::string_view, int> levels[] = {
          {"critical", 3}, {"warning", 2}, {"info", 1}, {"none", 0}};
      for (const auto& [severity, level] : levels) {
        out += std::string(out.empty() ? "  " : "  or\n  ") + metric + "{severity=\"" +
               std::string(severity) + "\"} * " + std::to_string(level) + "\n";
      }
      return out;
    };
    RuleGroup group{"crdb-certwatch.fleet", {}};
    group.records = {
        // 0 ok, 1 info, 2 warning, 3 critical: the worst certificate state or failing check.
        {"cluster:crdb_cert_worst_severity:max",
         "max by (cluster) (\n" + as_number(state) + "  or\n" + as_number(failed) + ")\n"},
        {"cluster_severity:crdb_cert_expiry_state:count",
         "count by (cluster, severity) (\n" + once(state) + ")\n"},
        {"cluster:crdb_cert_expiring_30d:count",
         "count by (cluster) (\n  (" + not_after +
             "{source=\"file\"} - time() < 30 * 86400)\n  "
             "or\n  (max without (instance) (" +
             not_after + "{source!=\"file\"}) - time() < 30 * 86400)\n)\n"},
        {"cluster:crdb_cert_soonest_expiry_seconds:min",
         "min by (cluster) (" + not_after + ") - time()\n"},
        {"cluster:crdb_cert_certificates:count", "count by (cluster) (\n" + once(state) + ")\n"},
        {"cluster:crdb_cert_exporters_up:sum",
         "sum by (cluster) (up{job=" + quote_label_value(config_.alerting.job) + "})\n"},
    };
    return group;
  }

 private:
  const config::Config& config_;
  std::string_view daemon_scheme_;
  const sources::Registry& registry_;
};

}  // namespace

std::string action_alert_name(std::string_view action) { return state::action_alert(action); }

std::string runbook_page(std::string_view alert_name) { return std::string(alert_name) + ".md"; }

std::vector<std::string> alerts_without_runbook(const std::vector<RuleGroup>& groups) {
  std::vector<std::string> names;
  for (const RuleGroup& group : groups) {
    for (const AlertRule& rule : group.rules) {
      const bool has = std::any_of(rule.annotations.begin(), rule.annotations.end(),
                                   [](const auto& a) { return a.first == "runbook_url"; });
      if (!has) names.push_back(rule.name);
    }
  }
  return names;
}

std::vector<RuleGroup> build_rule_groups(const config::Config& config,
                                         std::string_view daemon_scheme,
                                         const sources::Registry& registry) {
  const Builder builder(config, daemon_scheme, registry);
  std::vector<RuleGroup> groups{builder.certificate_states(),
                                builder.checks(),
                                builder.files(),
                                builder.cluster(),
                                builder.cmek(),
                                builder.cloud()};
  for (RuleGroup& group : builder.source_alerts()) groups.push_back(std::move(group));
  groups.push_back(builder.exporter());
  groups.push_back(builder.fleet());
  return groups;
}

namespace {

// `groups:` and its list, into a map the caller opened: the body of a rule file and the spec of
// a PrometheusRule alike.
void emit_groups(YAML::Emitter& out, const std::vector<RuleGroup>& groups) {
  out << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
  for (const RuleGroup& group : groups) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << group.name;
    out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    for (const RecordingRule& rule : group.records) {
      std::string expr = rule.expr;
      while (!expr.empty() && expr.back() == '\n') expr.pop_back();
      out << YAML::BeginMap << YAML::Key << "record" << YAML::Value << rule.record;
      out << YAML::Key << "expr" << YAML::Value << YAML::Literal << expr << YAML::EndMap;
    }
    for (const AlertRule& rule : group.rules) {
      out << YAML::BeginMap;
      out << YAML::Key << "alert" << YAML::Value << rule.name;
      // A block scalar keeps multi-line expressions readable; its final newline is implied.
      std::string expr = rule.expr;
      while (!expr.empty() && expr.back() == '\n') expr.pop_back();
      out << YAML::Key << "expr" << YAML::Value << YAML::Literal << expr;
      if (rule.for_duration.count() > 0) {
        out << YAML::Key << "for" << YAML::Value << format_duration(rule.for_duration);
      }
      if (!rule.labels.empty()) {
        out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
        for (const auto& [name, value] : rule.labels) {
          out << YAML::Key << name << YAML::Value << YAML::DoubleQuoted << value;
        }
        out << YAML::EndMap;
      }
      out << YAML::Key << "annotations" << YAML::Value << YAML::BeginMap;
      for (const auto& [name, value] : rule.annotations) {
        out << YAML::Key << name << YAML::Value << YAML::DoubleQuoted << value;
      }
      out << YAML::EndMap << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

// A Kubernetes DNS-1123 label (max 63) or subdomain (max 253): lowercase alphanumerics and '-',
// '.' between labels of a subdomain, alphanumerics at both ends of each label.
bool is_dns1123(std::string_view name, bool subdomain) {
  if (name.empty() || name.size() > (subdomain ? 253u : 63u)) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') {
      const char c = name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
      continue;
    }
    if (i < name.size() && !subdomain) return false;
    const std::string_view label = name.substr(label_start, i - label_start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    label_start = i + 1;
  }
  return true;
}

constexpr std::string_view kGeneratedHeader =
    "# Generated by `crdb-certwatch rules` from the daemon's configuration: do not edit.\n";

}  // namespace

std::string render_rule_file(const std::vector<RuleGroup>& groups) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  emit_groups(out, groups);
  out << YAML::EndMap;
  return std::string(kGeneratedHeader) + out.c_str() + "\n";
}

std::optional<std::string> object_meta_error(const ObjectMeta& meta) {
  if (!is_dns1123(meta.name, true)) {
    return "--name: \"" + meta.name +
           "\" is not a Kubernetes object name (lowercase letters, digits, '-' and '.', at most "
           "253 characters)";
  }
  if (!meta.namespace_name.empty() && !is_dns1123(meta.namespace_name, false)) {
    return "--namespace: \"" + meta.namespace_name +
           "\" is not a Kubernetes namespace (lowercase letters, digits and '-', at most 63 "
           "characters)";
  }
  return std::nullopt;
}

std::string render_prometheus_rule(const std::vector<RuleGroup>& groups, const ObjectMeta& meta) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "monitoring.coreos.com/v1";
  out << YAML::Key << "kind" << YAML::Value << "PrometheusRule";
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << meta.name;
  if (!meta.namespace_name.empty()) {
    out << YAML::Key << "namespace" << YAML::Value << meta.namespace_name;
  }
  out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "app.kubernetes.io/name" << YAML::Value << "crdb-certwatch";
  out << YAML::EndMap << YAML::EndMap;
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  emit_groups(out, groups);
  out << YAML::EndMap << YAML::EndMap;
  return std::string(kGeneratedHeader) + out.c_str() + "\n";
}

std::string generate_rule_file(const config::Config& config) {
  return render_rule_file(build_rule_groups(config));
}

}  // namespace certwatch::alerting
