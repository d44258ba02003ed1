#include "config/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <ctime>
#include <string>
#include <vector>

#include "support/tempdir.hpp"

namespace {

using certwatch::all_tiers;
using certwatch::CertType;
using certwatch::Severity;
using certwatch::Tier;
using certwatch::tier_facts;
using certwatch::config::AlertingConfig;
using certwatch::config::ClusterConfig;
using certwatch::config::Config;
using certwatch::config::ConfigError;
using certwatch::config::ExtraFile;
using certwatch::config::format_duration;
using certwatch::config::load_config_file;
using certwatch::config::LoadResult;
using certwatch::config::parse_config;
using certwatch::config::parse_duration;
using certwatch::config::seconds;
using certwatch::rules::Rule;
using certwatch::testing::TempDir;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& error : result.errors) out.push_back(error.to_string());
  return out;
}

// Parses `yaml` as "cfg.yaml" and returns the config, failing the test on any error.
Config parse_ok(const std::string& yaml) {
  const LoadResult result = parse_config(yaml, "cfg.yaml");
  INFO(yaml);
  REQUIRE(messages(result) == std::vector<std::string>{});
  REQUIRE(result.config.has_value());
  return *result.config;
}

const std::vector<CertType> kCaTypes{CertType::ca, CertType::client_ca, CertType::ui_ca,
                                     CertType::tenant_ca};
const std::vector<CertType> kLeafTypes{CertType::node, CertType::node_client, CertType::client,
                                       CertType::ui, CertType::tenant_client};

}  // namespace

TEST_CASE("default rules are the docs/metrics.md table", "[config]") {
  const std::vector<Rule> expected{
      {kCaTypes, days{365}, "plan_rotation", Severity::info},
      {kLeafTypes, days{90}, "schedule_rotation", Severity::warning},
      {kLeafTypes, days{30}, "rotate_now", Severity::critical},
  };
  CHECK(certwatch::rules::default_rules() == expected);
}

TEST_CASE("an empty config or one with only comments gives all defaults", "[config]") {
  for (const std::string yaml : {"", "\n\n", "# nothing here\n  # indented comment\n", "---\n"}) {
    const Config config = parse_ok(yaml);
    CHECK(config == Config{});
    CHECK(config.poll_interval == minutes{1});
    CHECK(config.files.certs_dirs == std::vector<std::string>{"/var/lib/cockroach/certs"});
    CHECK(config.files.extra.empty());
    CHECK(config.files.max_file_bytes == 1024 * 1024);
    CHECK(config.rules == certwatch::rules::default_rules());
    CHECK_FALSE(config.cluster.has_value());
    CHECK(config.alerting.job == "crdb-certwatch");
    CHECK(config.alerting.extra_labels.empty());
  }
}

TEST_CASE("deployment.tier is read and defaults to self_hosted", "[config]") {
  CHECK(parse_config("", "cfg.yaml").config->deployment.tier == Tier::self_hosted);
  for (const auto& tier : all_tiers()) {
    const auto result =
        parse_config("deployment:\n  tier: " + std::string(tier.name) + "\n", "cfg.yaml");
    REQUIRE(result.errors.empty());
    CHECK(result.config->deployment.tier == tier.tier);
    CHECK(to_string(tier.tier) == tier.name);
  }
  CHECK_FALSE(tier_facts(Tier::standard).cmek_available);
  CHECK(tier_facts(Tier::advanced).cmek_available);
  CHECK(tier_facts(Tier::self_hosted).node_certificates_yours);
  CHECK_FALSE(tier_facts(Tier::basic).node_certificates_yours);
}

TEST_CASE("empty sections keep their defaults", "[config]") {
  CHECK(parse_ok("files:\nalerting: {}\n") == Config{});
}

TEST_CASE("a full config is parsed into exact values", "[config]") {
  const Config config = parse_ok(R"(# every key set
poll_interval: 45s
files:
  certs_dirs: [/var/lib/cockroach/certs, /srv/crdb/certs]
  extra:
    - path: /etc/haproxy/*.pem
      cert_type: ui
    - path: /etc/misc/cert.crt
  max_file_bytes: 512KiB
rules:
  - cert_types: [ca]
    below: 180d
    action: plan_rotation
    severity: info
  - cert_types: [node, client]
    below: 1h30m
    action: page_someone
    severity: critical
cluster:
  dsn: postgresql://certwatch@db:26257/defaultdb?sslmode=verify-full
  poll_interval: 10m
  connect_timeout: 3s
  statement_timeout: 20s
  local_node_id: 3
alerting:
  job: certwatch
  runbook_base_url: https://wiki.example.com/runbooks
  extra_labels:
    team: db
    _private: "yes"
  expiry_for: 0s
  file_error_for: 1m
  source_down_for: 2m
  node_stale_after: 3m
  reload_pending_for: 4m
  insecure_for: 5m
  exporter_down_for: 6m
)");

  Config expected;
  expected.poll_interval = seconds{45};
  expected.files.certs_dirs = {"/var/lib/cockroach/certs", "/srv/crdb/certs"};
  expected.files.extra = {ExtraFile{"/etc/haproxy/*.pem", CertType::ui},
                          ExtraFile{"/etc/misc/cert.crt", CertType::other}};
  expected.files.max_file_bytes = 512 * 1024;
  expected.rules = {
      Rule{{CertType::ca}, days{180}, "plan_rotation", Severity::info},
      Rule{{CertType::node, CertType::client}, minutes{90}, "page_someone", Severity::critical},
  };
  ClusterConfig cluster;
  cluster.dsn = "postgresql://certwatch@db:26257/defaultdb?sslmode=verify-full";
  cluster.poll_interval = minutes{10};
  cluster.connect_timeout = seconds{3};
  cluster.statement_timeout = seconds{20};
  cluster.local_node_id = "3";
  expected.cluster = cluster;
  AlertingConfig& alerting = expected.alerting;
  alerting.job = "certwatch";
  alerting.runbook_base_url = "https://wiki.example.com/runbooks";
  alerting.extra_labels = {{"team", "db"}, {"_private", "yes"}};
  alerting.expiry_for = seconds{0};
  alerting.file_error_for = minutes{1};
  alerting.source_down_for = minutes{2};
  alerting.node_stale_after = minutes{3};
  alerting.reload_pending_for = minutes{4};
  alerting.insecure_for = minutes{5};
  alerting.exporter_down_for = minutes{6};

  // Field by field first, so a failure says which one.
  CHECK(config.poll_interval == expected.poll_interval);
  CHECK(config.files.certs_dirs == expected.files.certs_dirs);
  CHECK(config.files.extra == expected.files.extra);
  CHECK(config.files.max_file_bytes == expected.files.max_file_bytes);
  CHECK(config.rules == expected.rules);
  REQUIRE(config.cluster.has_value());
  CHECK(config.cluster->dsn == cluster.dsn);
  CHECK(config.cluster->dsn_file.empty());
  CHECK(config.cluster->poll_interval == cluster.poll_interval);
  CHECK(config.cluster->connect_timeout == cluster.connect_timeout);
  CHECK(config.cluster->statement_timeout == cluster.statement_timeout);
  CHECK(config.cluster->local_node_id == cluster.local_node_id);
  CHECK(config.alerting.job == alerting.job);
  CHECK(config.alerting.runbook_base_url == alerting.runbook_base_url);
  CHECK(config.alerting.extra_labels == alerting.extra_labels);
  CHECK(config.alerting == alerting);
  CHECK(config == expected);
}

TEST_CASE("optional values take their defaults inside a present section", "[config]") {
  const Config config = parse_ok(
      "cluster:\n  dsn: host=db port=26257 user=certwatch\n  local_node_id: \"n7\"\n"
      "  name: prod-eu\n"
      "files:\n  certs_dirs: []\n  extra: [{path: /x/*.crt}]\n  max_file_bytes: 4096\n");
  REQUIRE(config.cluster.has_value());
  CHECK(config.cluster->dsn == "host=db port=26257 user=certwatch");
  CHECK(config.cluster->poll_interval == minutes{5});
  CHECK(config.cluster->connect_timeout == seconds{5});
  CHECK(config.cluster->statement_timeout == seconds{10});
  CHECK(config.cluster->local_node_id == "n7");
  CHECK(config.cluster->name == "prod-eu");
  CHECK(config.files.certs_dirs.empty());
  CHECK(config.files.extra == std::vector<ExtraFile>{{"/x/*.crt", CertType::other}});
  CHECK(config.files.max_file_bytes == 4096);
}

TEST_CASE("files.tls_secrets are read with their type and user", "[config]") {
  const Config config = parse_ok(
      "files:\n  tls_secrets:\n    - {path: /secrets/node, cert_type: node}\n"
      "    - path: /secrets/root/\n      cert_type: client\n      user: root\n"
      "    - {path: /secrets/ui, cert_type: ui}\n");
  using certwatch::config::TlsSecret;
  CHECK(config.files.tls_secrets ==
        std::vector<TlsSecret>{{"/secrets/node", CertType::node, ""},
                               {"/secrets/root/", CertType::client, "root"},
                               {"/secrets/ui", CertType::ui, ""}});
  CHECK(config.files.certs_dirs == Config{}.files.certs_dirs);
  CHECK(parse_ok("files: {}\n").files.tls_secrets.empty());
}

TEST_CASE("max_file_bytes takes bytes or binary sizes", "[config]") {
  const std::pair<std::string, std::uint64_t> cases[] = {
      {"1024", 1024},        {"65536", 65536},       {"1500B", 1500},
      {"1KiB", 1024},        {"64KiB", 65536},       {"512KiB", 512 * 1024},
      {"1MiB", 1024 * 1024}, {"64MiB", 64ULL << 20}, {"'1MiB'", 1024 * 1024},
  };
  for (const auto& [text, bytes] : cases) {
    INFO(text);
    CHECK(parse_ok("files:\n  max_file_bytes: " + text + "\n").files.max_file_bytes == bytes);
  }
}

TEST_CASE("rules replace the defaults, and an empty list leaves only the built-in states",
          "[config]") {
  CHECK(parse_ok("rules: []\n").rules.empty());
  const Config config =
      parse_ok("rules:\n  - {cert_types: [other], below: 7d, action: look, severity: warning}\n");
  CHECK(config.rules ==
        std::vector<Rule>{Rule{{CertType::other}, days{7}, "look", Severity::warning}});
}

TEST_CASE("bad configs are rejected with exact messages", "[config]") {
  struct Case {
    std::string yaml;
    std::string error;
  };
  const std::vector<Case> cases{
      // Structure and keys.
      {"- poll_interval: 1m\n", "cfg.yaml:1: the top level must be a map of settings"},
      {"hello\n", "cfg.yaml:1: the top level must be a map of settings"},
      {"pol_interval: 1m\n", "cfg.yaml:1: pol_interval: unknown key (did you mean poll_interval?)"},
      {"files:\n  certs_dirz: []\n",
       "cfg.yaml:2: files.certs_dirz: unknown key (did you mean certs_dirs?)"},
      {"deployment:\n  tier: cloud\n",
       "cfg.yaml:2: deployment.tier: unknown tier \"cloud\" (expected self_hosted, advanced, byoc, "
       "standard, basic)"},
      {"deployment:\n  plan: basic\n", "cfg.yaml:2: deployment.plan: unknown key"},
      {"poll_interval: 1m\nfiles: {}\npoll_interval: 2m\n",
       "cfg.yaml:3: poll_interval: duplicate key (first set on line 1)"},
      {"? [a, b]\n: 1\n", "cfg.yaml:1: keys must be strings"},
      {"poll_interval: 1m\n---\nfiles: {}\n", "cfg.yaml:3: only one YAML document is allowed"},
      {"files: [/certs]\n", "cfg.yaml:1: files: must be a map"},
      // Durations.
      {"poll_interval: 5x\n",
       "cfg.yaml:1: poll_interval: invalid duration \"5x\" (expected e.g. 30s, 5m, 12h, 90d, "
       "1h30m, between 1s and 7d)"},
      {"poll_interval: 30\n",
       "cfg.yaml:1: poll_interval: invalid duration \"30\" (expected e.g. 30s, 5m, 12h, 90d, "
       "1h30m, between 1s and 7d)"},
      {"poll_interval: 0s\n", "cfg.yaml:1: poll_interval: must be between 1s and 7d, got \"0s\""},
      {"poll_interval: [1m]\n",
       "cfg.yaml:1: poll_interval: must be a duration such as 30s, 5m, 12h or 90d"},
      {"poll_interval:\n", "cfg.yaml:1: poll_interval: missing value"},
      // files.
      {"files:\n  certs_dirs: /var/certs\n", "cfg.yaml:2: files.certs_dirs: must be a list"},
      {"files:\n  certs_dirs: {a: /b}\n", "cfg.yaml:2: files.certs_dirs: must be a list"},
      {"files:\n  certs_dirs:\n", "cfg.yaml:2: files.certs_dirs: must be a list"},
      {"files:\n  certs_dirs:\n    - /a\n    - relative/certs\n",
       "cfg.yaml:4: files.certs_dirs[1]: must be an absolute path, got \"relative/certs\""},
      {"files:\n  certs_dirs:\n    - {a: b}\n",
       "cfg.yaml:3: files.certs_dirs[0]: must be a string"},
      {"files:\n  certs_dirs: [\"\"]\n", "cfg.yaml:2: files.certs_dirs[0]: must not be empty"},
      {"files:\n  certs_dirs:\n    - /a\n    - /a/./\n",
       "cfg.yaml:4: files.certs_dirs[1]: same path as files.certs_dirs[0]"},
      {"files:\n  max_file_bytes: lots\n",
       "cfg.yaml:2: files.max_file_bytes: invalid size \"lots\" (expected bytes or e.g. 64KiB, "
       "512KiB, 1MiB, between 1KiB and 64MiB)"},
      {"files:\n  max_file_bytes: 1MB\n",
       "cfg.yaml:2: files.max_file_bytes: invalid size \"1MB\" (expected bytes or e.g. 64KiB, "
       "512KiB, 1MiB, between 1KiB and 64MiB)"},
      {"files:\n  max_file_bytes: -5\n",
       "cfg.yaml:2: files.max_file_bytes: invalid size \"-5\" (expected bytes or e.g. 64KiB, "
       "512KiB, 1MiB, between 1KiB and 64MiB)"},
      {"files:\n  max_file_bytes: 0KiB\n",
       "cfg.yaml:2: files.max_file_bytes: must be between 1KiB and 64MiB, got \"0KiB\""},
      {"files:\n  extra: {path: /a.crt}\n", "cfg.yaml:2: files.extra: must be a list"},
      {"files:\n  extra:\n    - /a.crt\n",
       "cfg.yaml:3: files.extra[0]: must be a map with path and cert_type"},
      {"files:\n  extra:\n    - cert_type: ca\n",
       "cfg.yaml:3: files.extra[0].path: required key is missing"},
      {"files:\n  extra:\n    - path: /a.crt\n      type: ca\n",
       "cfg.yaml:4: files.extra[0].type: unknown key"},
      {"files:\n  extra:\n    - path: /a.crt\n      cert_type: nodes\n",
       "cfg.yaml:4: files.extra[0].cert_type: unknown cert type \"nodes\" (expected one of ca, "
       "client_ca, ui_ca, tenant_ca, node, node_client, client, ui, tenant_client, "
       "tenant_signing, other)"},
      {"files:\n  extra:\n    - path: /etc/*/tls.crt\n",
       "cfg.yaml:3: files.extra[0].path: wildcards are allowed only in the last path component, "
       "got \"/etc/*/tls.crt\""},
      {"files:\n  extra:\n    - path: /etc/tls/\n",
       "cfg.yaml:3: files.extra[0].path: must name files, not a directory (use "
       "files.certs_dirs for directories)"},
      // rules.
      {"rules: {below: 5d}\n", "cfg.yaml:1: rules: must be a list"},
      {"rules:\n", "cfg.yaml:1: rules: must be a list"},
      {"rules:\n  - cert_types: [node]\n    below: 5d\n    action: act\n",
       "cfg.yaml:2: rules[0].severity: required key is missing"},
      {"rules:\n  - {cert_types: [node], below: 5d, action: act, severity: urgent}\n",
       "cfg.yaml:2: rules[0].severity: unknown severity \"urgent\" (expected info, warning or "
       "critical)"},
      {"rules:\n  - {cert_types: [node], below: 5d, action: act, severity: none}\n",
       "cfg.yaml:2: rules[0].severity: unknown severity \"none\" (expected info, warning or "
       "critical)"},
      {"rules:\n  - {cert_types: [node], below: 5d, action: Rotate-Now, severity: info}\n",
       "cfg.yaml:2: rules[0].action: invalid action name \"Rotate-Now\" (must match "
       "[a-z][a-z0-9_]*)"},
      {"rules:\n  - {cert_types: [node], below: 5d, action: expired, severity: info}\n",
       "cfg.yaml:2: rules[0].action: \"expired\" is a built-in state and cannot be a rule "
       "action"},
      {"rules:\n  - {cert_types: [node], below: 5d, action: ok, severity: info}\n",
       "cfg.yaml:2: rules[0].action: \"ok\" is a built-in state and cannot be a rule action"},
      {"rules:\n  - {cert_types: [], below: 5d, action: act, severity: info}\n",
       "cfg.yaml:2: rules[0].cert_types: must not be empty"},
      {"rules:\n  - {cert_types: node, below: 5d, action: act, severity: info}\n",
       "cfg.yaml:2: rules[0].cert_types: must be a list"},
      {"rules:\n  - cert_types: [node, ui, node]\n    below: 5d\n    action: act\n"
       "    severity: info\n",
       "cfg.yaml:2: rules[0].cert_types[2]: duplicate cert type \"node\""},
      {"rules:\n  - {cert_types: [nodes], below: 5d, action: act, severity: info}\n",
       "cfg.yaml:2: rules[0].cert_types[0]: unknown cert type \"nodes\" (expected one of ca, "
       "client_ca, ui_ca, tenant_ca, node, node_client, client, ui, tenant_client, "
       "tenant_signing, other)"},
      {"rules:\n  - {cert_types: [ca], below: 365d, action: a, severity: info}\n"
       "  - {cert_types: [ca], below: -5d, action: b, severity: info}\n",
       "cfg.yaml:3: rules[1].below: invalid duration \"-5d\" (expected e.g. 30s, 5m, 12h, 90d, "
       "1h30m, between 1s and 36500d)"},
      {"rules:\n  - 5\n",
       "cfg.yaml:2: rules[0]: must be a map with cert_types, below, action "
       "and severity"},
      // cluster.
      {"cluster: {}\n", "cfg.yaml:1: cluster: one of dsn or dsn_file is required"},
      {"cluster:\n", "cfg.yaml:1: cluster: one of dsn or dsn_file is required"},
      {"cluster:\n  dsn: host=db\n  dsn_file: /etc/dsn\n",
       "cfg.yaml:3: cluster.dsn_file: cannot be combined with cluster.dsn (set only one)"},
      {"cluster:\n  dsn: \"\"\n", "cfg.yaml:2: cluster.dsn: must not be empty"},
      {"cluster:\n  dsn: [host=db]\n", "cfg.yaml:2: cluster.dsn: must be a string"},
      {"cluster:\n  dsn: just-a-hostname\n",
       "cfg.yaml:2: cluster.dsn: must be a postgresql:// URL or a key=value connection string"},
      {"cluster:\n  dsn: host=db\n  connect_timeout: 0s\n",
       "cfg.yaml:3: cluster.connect_timeout: must be between 1s and 10m, got \"0s\""},
      {"cluster:\n  dsn: host=db\n  local_node_id: [1]\n",
       "cfg.yaml:3: cluster.local_node_id: must be a node id (string or integer)"},
      {"cluster:\n  dsn: host=db\n  local_node_id: ''\n",
       "cfg.yaml:3: cluster.local_node_id: must not be empty"},
      {"cluster:\n  dsn: host=db\n  name: \"a\\tb\"\n",
       "cfg.yaml:3: cluster.name: must be at most 128 bytes without control characters"},
      {"cluster:\n  dsn: host=db\n  name: " + std::string(129, 'n') + "\n",
       "cfg.yaml:3: cluster.name: must be at most 128 bytes without control characters"},
      {"cluster:\n  dsn: host=db\n  sslmode: require\n",
       "cfg.yaml:3: cluster.sslmode: unknown key"},
      // alerting.
      {"alerting:\n  job: \"\"\n", "cfg.yaml:2: alerting.job: must not be empty"},
      {"alerting:\n  runbook_base_url: {a: b}\n",
       "cfg.yaml:2: alerting.runbook_base_url: must be a string"},
      {"alerting:\n  extra_labels: [team]\n", "cfg.yaml:2: alerting.extra_labels: must be a map"},
      {"alerting:\n  extra_labels:\n    severity: page\n",
       "cfg.yaml:3: alerting.extra_labels.severity: reserved: the alert rules set severity "
       "themselves"},
      {"alerting:\n  extra_labels:\n    team-name: db\n",
       "cfg.yaml:3: alerting.extra_labels.team-name: invalid label name (must match "
       "[a-zA-Z_][a-zA-Z0-9_]*)"},
      {"alerting:\n  extra_labels:\n    __meta: x\n",
       "cfg.yaml:3: alerting.extra_labels.__meta: label names starting with __ are reserved"},
      {"alerting:\n  extra_labels:\n    team: [db]\n",
       "cfg.yaml:3: alerting.extra_labels.team: must be a string"},
      {"alerting:\n  node_stale_after: 0s\n",
       "cfg.yaml:2: alerting.node_stale_after: must be between 1s and 30d, got \"0s\""},
      {"alerting:\n  expiry_for: 10 m\n",
       "cfg.yaml:2: alerting.expiry_for: invalid duration \"10 m\" (expected e.g. 30s, 5m, 12h, "
       "90d, 1h30m, between 0s and 30d)"},
      // files.tls_secrets.
      {"files:\n  tls_secrets: [/s]\n",
       "cfg.yaml:2: files.tls_secrets[0]: must be a map with path, cert_type and (for a client) "
       "user"},
      {"files:\n  tls_secrets:\n    - path: /s\n",
       "cfg.yaml:3: files.tls_secrets[0].cert_type: required key is missing"},
      {"files:\n  tls_secrets:\n    - {path: s, cert_type: node}\n",
       "cfg.yaml:3: files.tls_secrets[0].path: must be an absolute path, got \"s\""},
      {"files:\n  tls_secrets:\n    - {path: /s, cert_type: ca}\n",
       "cfg.yaml:3: files.tls_secrets[0].cert_type: a TLS Secret holds a node, client or ui "
       "certificate, not \"ca\""},
      {"files:\n  tls_secrets:\n    - {path: /s, cert_type: client}\n",
       "cfg.yaml:3: files.tls_secrets[0].user: required for a client certificate (the SQL user "
       "its CN must name)"},
      {"files:\n  tls_secrets:\n    - {path: /s, cert_type: node, user: root}\n",
       "cfg.yaml:3: files.tls_secrets[0].user: only a client certificate has a user"},
      {"files:\n  tls_secrets:\n    - {path: /s, cert_type: client, user: \"\"}\n",
       "cfg.yaml:3: files.tls_secrets[0].user: must not be empty"},
      {"files:\n  tls_secrets:\n    - {path: /s, cert_type: node, key: x}\n",
       "cfg.yaml:3: files.tls_secrets[0].key: unknown key"},
      {"files:\n  certs_dirs: [/s]\n  tls_secrets:\n    - {path: /s/, cert_type: node}\n",
       "cfg.yaml:4: files.tls_secrets[0].path: same path as files.certs_dirs[0]"},
      {"files:\n  tls_secrets:\n    - {path: /var/lib/cockroach/certs, cert_type: node}\n",
       "cfg.yaml:3: files.tls_secrets[0].path: same path as files.certs_dirs (default)"},
      {"files:\n  tls_secrets:\n    - {path: /s, cert_type: ui}\n    - {path: /s, cert_type: "
       "node}\n",
       "cfg.yaml:4: files.tls_secrets[1].path: same path as files.tls_secrets[0].path"},
      // YAML syntax.
      {"files:\n  certs_dirs: /a: b\nrules: []\n",
       "cfg.yaml:2: invalid YAML: a value where none can start (a tab, a missing space after ':', "
       "or an unquoted ': ' inside a value; quote such values)"},
      {"files:\n  certs_dirs: [/a\nrules: []\n",
       "cfg.yaml:3: invalid YAML: a '{' or '[' is never closed"},
      {"files:\n  a: 1\n b: 1\n",
       "cfg.yaml:3: invalid YAML: the indentation does not line up (every key of a map, and every "
       "'- ' of a list, must start in the same column)"},
      {"files:\n\tcerts_dirs: []\n",
       "cfg.yaml:2: a tab in the indentation: YAML indents with spaces only"},
      {"files:\n  certs_dirs:\n  \t- /a\n",
       "cfg.yaml:3: a tab in the indentation: YAML indents with spaces only"},
      {"poll_interval: \"5m\\q\"\n",
       "cfg.yaml:1: invalid YAML: a backslash in a double-quoted value (use single quotes, or "
       "write each backslash twice)"},
  };
  REQUIRE(cases.size() >= 25);
  for (const Case& c : cases) {
    INFO("yaml:\n" << c.yaml);
    const LoadResult result = parse_config(c.yaml, "cfg.yaml");
    CHECK(messages(result) == std::vector<std::string>{c.error});
    CHECK_FALSE(result.config.has_value());
  }
}

TEST_CASE("the checks section is parsed into exact values", "[config][checks]") {
  const Config config = parse_ok(R"(checks:
  enabled: false
  disable: [weak_key, ca_key_present]
  severity:
    key_owner: critical
    weak_signature: none
    san_missing: info
  san:
    required: [db.example.com, 10.0.0.5]
    include_local: false
  key_owner: cockroach
  key_match: true
  denylist:
    - "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89"
    - "serial:0f1e issuer:CN=Old CA,O=Example"
  denylist_file: /etc/crdb-certwatch/denylist
)");
  certwatch::rules::ChecksConfig expected;
  expected.enabled = false;
  expected.disable = {"weak_key", "ca_key_present"};
  expected.severity = {{"key_owner", Severity::critical},
                       {"weak_signature", Severity::none},
                       {"san_missing", Severity::info}};
  expected.san_required = {"db.example.com", "10.0.0.5"};
  expected.san_include_local = false;
  expected.key_owner = "cockroach";
  expected.key_match = true;
  expected.denylist = {
      "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:"
      "67:89",
      "serial:0f1e issuer:CN=Old CA,O=Example"};
  expected.denylist_file = "/etc/crdb-certwatch/denylist";
  const certwatch::rules::ChecksConfig& checks = config.checks;
  CHECK(checks.enabled == expected.enabled);
  CHECK(checks.disable == expected.disable);
  CHECK(checks.severity == expected.severity);
  CHECK(checks.san_required == expected.san_required);
  CHECK(checks.san_include_local == expected.san_include_local);
  CHECK(checks.key_owner == expected.key_owner);
  CHECK(checks.key_match == expected.key_match);
  CHECK(checks.denylist == expected.denylist);
  CHECK(checks.denylist_file == expected.denylist_file);
  CHECK(checks == expected);
  // Everything else keeps its default.
  Config rest = config;
  rest.checks = {};
  CHECK(rest == Config{});
}

TEST_CASE("checks defaults: everything on, nothing read, nothing denied", "[config][checks]") {
  for (const std::string yaml : {"", "checks:\n", "checks: {}\n", "checks:\n  san: {}\n"}) {
    INFO(yaml);
    const certwatch::rules::ChecksConfig checks = parse_ok(yaml).checks;
    CHECK(checks == certwatch::rules::ChecksConfig{});
    CHECK(checks.enabled);
    CHECK(checks.disable.empty());
    CHECK(checks.severity.empty());
    CHECK(checks.san_include_local);
    CHECK(checks.key_owner.empty());
    CHECK_FALSE(checks.key_match);
    CHECK(checks.denylist.empty());
    CHECK(checks.denylist_file.empty());
  }
}

TEST_CASE("bad checks settings are rejected with exact messages", "[config][checks]") {
  const std::string check_names =
      "(expected one of chain_untrusted, outlives_ca, san_missing, cn_mismatch, eku_missing, "
      "key_permissions, key_owner, key_missing, ca_key_present, weak_key, weak_signature, "
      "key_mismatch, compromised)";
  const std::string deny_help =
      " (expected a SHA-256 fingerprint of 64 hex digits, or serial:<hex> issuer:<issuer DN>)";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"checks: [san_missing]\n", "cfg.yaml:1: checks: must be a map"},
      {"checks:\n  enable: true\n",
       "cfg.yaml:2: checks.enable: unknown key (did you mean enabled?)"},
      {"checks:\n  enabled: yes\n", "cfg.yaml:2: checks.enabled: must be true or false"},
      {"checks:\n  enabled:\n", "cfg.yaml:2: checks.enabled: must be true or false"},
      {"checks:\n  disable: weak_key\n", "cfg.yaml:2: checks.disable: must be a list"},
      {"checks:\n  disable: [weak_keys]\n",
       "cfg.yaml:2: checks.disable[0]: unknown check \"weak_keys\" " + check_names},
      {"checks:\n  disable: [weak_key, weak_key]\n",
       "cfg.yaml:2: checks.disable[1]: duplicate check \"weak_key\""},
      {"checks:\n  disable: [[weak_key]]\n", "cfg.yaml:2: checks.disable[0]: must be a check name"},
      {"checks:\n  severity: [weak_key]\n", "cfg.yaml:2: checks.severity: must be a map"},
      {"checks:\n  severity:\n    Weak_Key: info\n",
       "cfg.yaml:3: checks.severity.Weak_Key: unknown check \"Weak_Key\" " + check_names},
      {"checks:\n  severity:\n    weak_key: high\n",
       "cfg.yaml:3: checks.severity.weak_key: unknown severity \"high\" (expected none, info, "
       "warning or critical)"},
      {"checks:\n  severity:\n    weak_key:\n",
       "cfg.yaml:3: checks.severity.weak_key: missing value"},
      {"checks:\n  severity:\n    weak_key: info\n    weak_key: critical\n",
       "cfg.yaml:4: checks.severity.weak_key: duplicate key (first set on line 3)"},
      {"checks:\n  san: [db.example.com]\n", "cfg.yaml:2: checks.san: must be a map"},
      {"checks:\n  san:\n    require: [a]\n",
       "cfg.yaml:3: checks.san.require: unknown key (did you mean required?)"},
      {"checks:\n  san:\n    required: db.example.com\n",
       "cfg.yaml:3: checks.san.required: must be a list"},
      {"checks:\n  san:\n    required: [\"\"]\n",
       "cfg.yaml:3: checks.san.required[0]: must not be empty"},
      {"checks:\n  san:\n    include_local: 1\n",
       "cfg.yaml:3: checks.san.include_local: must be true or false"},
      {"checks:\n  key_owner: \"\"\n", "cfg.yaml:2: checks.key_owner: must not be empty"},
      {"checks:\n  key_owner: [cockroach]\n", "cfg.yaml:2: checks.key_owner: must be a string"},
      {"checks:\n  key_match: on\n", "cfg.yaml:2: checks.key_match: must be true or false"},
      {"checks:\n  denylist: abcd\n", "cfg.yaml:2: checks.denylist: must be a list"},
      {"checks:\n  denylist: [abcd]\n",
       "cfg.yaml:2: checks.denylist[0]: invalid denylist entry \"abcd\"" + deny_help},
      {"checks:\n  denylist:\n    - \"serial:01\"\n",
       "cfg.yaml:3: checks.denylist[0]: invalid denylist entry \"serial:01\"" + deny_help},
      {"checks:\n  denylist: [\"\"]\n", "cfg.yaml:2: checks.denylist[0]: must not be empty"},
      {"checks:\n  denylist_file: denylist.txt\n",
       "cfg.yaml:2: checks.denylist_file: must be an absolute path, got \"denylist.txt\""},
      {"checks:\n  denylist_file: \"\"\n", "cfg.yaml:2: checks.denylist_file: must not be empty"},
  };
  for (const auto& [yaml, error] : cases) {
    INFO("yaml:\n" << yaml);
    const LoadResult result = parse_config(yaml, "cfg.yaml");
    CHECK(messages(result) == std::vector<std::string>{error});
    CHECK_FALSE(result.config.has_value());
  }
}

TEST_CASE("checks.denylist_file is not read at load", "[config][checks]") {
  // The file source reads it at every poll; a missing file is its file error, not a bad config.
  CHECK(parse_ok("checks:\n  denylist_file: /nonexistent/denylist\n").checks.denylist_file ==
        "/nonexistent/denylist");
}

TEST_CASE("every duration and size outside its range is an error naming the key and the range",
          "[config][range]") {
  struct Key {
    std::string yaml;  // VALUE stands for the value under test
    int line;
    std::string key;
    std::string range;
    std::vector<std::string> accepted;  // the bounds themselves
    std::vector<std::string> refused;   // just outside, and far outside
  };
  const std::vector<std::string> huge_durations{"200000w", "99999999999999999999s"};
  const auto alert_for = [&](const std::string& name) {
    return Key{"alerting:\n  " + name + ": VALUE\n",
               2,
               "alerting." + name,
               "between 0s and 30d",
               {"0s", "30d"},
               {"-1s", "30d1s"}};
  };
  const auto cluster = [&](const std::string& name, const std::string& range,
                           const std::string& max, const std::string& over) {
    return Key{"cluster:\n  dsn: host=db\n  " + name + ": VALUE\n",
               3,
               "cluster." + name,
               range,
               {"1s", max},
               {"0s", over}};
  };
  const std::vector<Key> keys{
      {"poll_interval: VALUE\n",
       1,
       "poll_interval",
       "between 1s and 7d",
       {"1s", "7d"},
       {"0s", "7d1s"}},
      cluster("poll_interval", "between 1s and 7d", "7d", "1w1s"),
      cluster("connect_timeout", "between 1s and 10m", "10m", "10m1s"),
      cluster("statement_timeout", "between 1s and 10m", "10m", "601s"),
      {"rules:\n  - {cert_types: [ca], below: VALUE, action: a, severity: info}\n",
       2,
       "rules[0].below",
       "between 1s and 36500d",
       {"1s", "36500d"},
       {"0s", "36500d1s"}},
      alert_for("expiry_for"),
      alert_for("file_error_for"),
      alert_for("source_down_for"),
      alert_for("reload_pending_for"),
      alert_for("insecure_for"),
      alert_for("exporter_down_for"),
      {"alerting:\n  node_stale_after: VALUE\n",
       2,
       "alerting.node_stale_after",
       "between 1s and 30d",
       {"1s", "30d"},
       {"0s", "31d"}},
      {"files:\n  max_file_bytes: VALUE\n",
       2,
       "files.max_file_bytes",
       "between 1KiB and 64MiB",
       {"1KiB", "64MiB"},
       {"1023", "65MiB", "67108865", "99999999999999999999", "99999999999GiB"}},
  };
  const auto with_value = [](std::string yaml, const std::string& value) {
    return yaml.replace(yaml.find("VALUE"), 5, value);
  };
  for (const Key& k : keys) {
    for (const std::string& value : k.accepted) {
      INFO(k.key << ": " << value);
      CHECK(parse_config(with_value(k.yaml, value), "cfg.yaml").errors.empty());
    }
    std::vector<std::string> refused = k.refused;
    if (k.key != "files.max_file_bytes") {
      refused.insert(refused.end(), huge_durations.begin(), huge_durations.end());
    }
    for (const std::string& value : refused) {
      INFO(k.key << ": " << value);
      const std::vector<std::string> errors =
          messages(parse_config(with_value(k.yaml, value), "cfg.yaml"));
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].starts_with("cfg.yaml:" + std::to_string(k.line) + ": " + k.key + ": "));
      CHECK(errors[0].find(k.range) != std::string::npos);
      CHECK(errors[0].find(value) != std::string::npos);
    }
  }
}

TEST_CASE("all errors are reported together, in line order", "[config]") {
  const LoadResult result = parse_config(R"(poll_interval: soon
files:
  certs_dirs: [relative]
  bogus: 1
rules:
  - cert_types: [ca]
    below: 0s
    action: expired
    severity: info
cluster: {}
alerting:
  job: ""
)",
                                         "/etc/crdb-certwatch/config.yaml");
  CHECK_FALSE(result.config.has_value());
  const std::string f = "/etc/crdb-certwatch/config.yaml:";
  CHECK(messages(result) ==
        std::vector<std::string>{
            f + "1: poll_interval: invalid duration \"soon\" (expected e.g. 30s, 5m, 12h, 90d, "
                "1h30m, between 1s and 7d)",
            f + "3: files.certs_dirs[0]: must be an absolute path, got \"relative\"",
            f + "4: files.bogus: unknown key",
            f + "7: rules[0].below: must be between 1s and 36500d, got \"0s\"",
            f + "8: rules[0].action: \"expired\" is a built-in state and cannot be a rule action",
            f + "10: cluster: one of dsn or dsn_file is required",
            f + "12: alerting.job: must not be empty",
        });
  for (const ConfigError& error : result.errors) {
    CHECK(error.file == "/etc/crdb-certwatch/config.yaml");
    CHECK(error.line > 0);
  }
}

TEST_CASE("ConfigError::to_string leaves out empty parts", "[config]") {
  CHECK(ConfigError{"cfg.yaml", 3, "files.certs_dirs[1]", "bad"}.to_string() ==
        "cfg.yaml:3: files.certs_dirs[1]: bad");
  CHECK(ConfigError{"cfg.yaml", 0, "", "cannot read config file: gone"}.to_string() ==
        "cfg.yaml: cannot read config file: gone");
  CHECK(ConfigError{"cfg.yaml", 2, "", "invalid YAML: x"}.to_string() ==
        "cfg.yaml:2: invalid YAML: x");
  CHECK(ConfigError{"", 0, "rules", "must be a list"}.to_string() == "rules: must be a list");
  CHECK(ConfigError{"", 4, "rules", "must be a list"}.to_string() ==
        "line 4: rules: must be a list");
}

TEST_CASE("a YAML syntax error is one error with its line", "[config]") {
  const LoadResult result = parse_config("poll_interval: 1m\nfiles:\n  certs_dirs: [/a\n", "c.yml");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].file == "c.yml");
  CHECK(result.errors[0].line == 4);
  CHECK(result.errors[0].key.empty());
  CHECK(result.errors[0].message == "invalid YAML: a '{' or '[' is never closed");
}

TEST_CASE("dsn_file is read at load, relative to the config file's directory", "[config]") {
  const TempDir dir;
  dir.write("etc/secrets/dsn", "postgresql://certwatch:pw@db:26257/defaultdb\n\n  \n", 0600);
  const auto config_path = dir.write("etc/certwatch.yaml", "cluster:\n  dsn_file: secrets/dsn\n");

  const LoadResult result = load_config_file(config_path.string());
  REQUIRE(messages(result) == std::vector<std::string>{});
  REQUIRE(result.config->cluster.has_value());
  CHECK(result.config->cluster->dsn == "postgresql://certwatch:pw@db:26257/defaultdb");
  CHECK(result.config->cluster->dsn_file == (dir.path() / "etc/secrets/dsn").string());

  SECTION("an absolute dsn_file is used as it is") {
    const auto dsn = dir.write("abs-dsn", "host=db user=certwatch");
    const Config config = parse_ok("cluster:\n  dsn_file: " + dsn.string() + "\n");
    CHECK(config.cluster->dsn == "host=db user=certwatch");
    CHECK(config.cluster->dsn_file == dsn.string());
  }
}

TEST_CASE("an unusable dsn_file is an error naming the key", "[config]") {
  const TempDir dir;
  const std::string base = dir.path().string();
  dir.write("empty", "\n  \n");
  dir.write("words", "not a connection string\n");
  dir.write("sub/placeholder", "");
  const auto parse_in_dir = [&](const std::string& dsn_file) {
    return messages(parse_config("cluster:\n  dsn_file: " + dsn_file + "\n", base + "/cfg.yaml"));
  };
  const std::string at = base + "/cfg.yaml:2: cluster.dsn_file: ";
  CHECK(parse_in_dir("missing") ==
        std::vector<std::string>{at + "cannot read \"" + base +
                                 "/missing\": open: No such file or directory (not_found)"});
  CHECK(parse_in_dir("sub") ==
        std::vector<std::string>{at + "cannot read \"" + base +
                                 "/sub\": is a directory, not a regular file (not_regular_file)"});
  CHECK(parse_in_dir("empty") ==
        std::vector<std::string>{at + "file \"" + base + "/empty\" is empty"});
  CHECK(parse_in_dir("words") ==
        std::vector<std::string>{at + "file \"" + base +
                                 "/words\" must hold a postgresql:// URL or a key=value "
                                 "connection string"});
  CHECK(parse_in_dir("''") == std::vector<std::string>{at + "must not be empty"});
  if (geteuid() != 0) {  // root reads anything
    dir.write("locked", "host=db", 0000);
    CHECK(parse_in_dir("locked") ==
          std::vector<std::string>{at + "cannot read \"" + base +
                                   "/locked\": open: Permission denied (permission_denied)"});
  }
}

TEST_CASE("a password in the dsn never appears in an error", "[config]") {
  const TempDir dir;
  dir.write("bad-dsn", "mysql://admin:s3cret-pw@db/x\n");
  const std::vector<std::string> bad_configs{
      "cluster:\n  dsn: mysql://admin:s3cret-pw@db/x\n",
      "cluster:\n  dsn: 's3cret-pw'\n",
      "cluster:\n  dsn: [postgresql://admin:s3cret-pw@db]\n",
      "cluster:\n  dsn: {password: s3cret-pw}\n",
      "cluster:\n  dsn: postgresql://admin:s3cret-pw@db\n  dsn: host=db\n",
      "cluster:\n  dsn: postgresql://admin:s3cret-pw@db\n  dsn_file: /nonexistent\n",
      "cluster:\n  dsn: \"postgresql://admin:s3cret-pw@db\\x\"\n",
      "cluster:\n  dsn: postgresql://admin:s3cret-pw@db\n  connect_timeout: 0s\n  oops: [\n",
      "cluster:\n  dsn_file: bad-dsn\n",
      // Shaped like a keyword string, but libpq rejects it: the daemon would fail every poll.
      "cluster:\n  dsn: host=db password=s3cret-pw stray\n",
      "cluster:\n  dsn: host=db password='s3cret-pw\n",
      "cluster:\n  dsn: postgresql://admin:s3cret-pw@db/x?no_such_option=1\n",
  };
  for (const std::string& yaml : bad_configs) {
    INFO(yaml);
    const LoadResult result = parse_config(yaml, (dir.path() / "cfg.yaml").string());
    CHECK_FALSE(result.errors.empty());
    for (const std::string& message : messages(result)) {
      INFO(message);
      CHECK(message.find("s3cret") == std::string::npos);
    }
  }
}

TEST_CASE("a dsn that libpq cannot parse is a config error", "[config]") {
  const TempDir dir;
  dir.write("dsn", "host=db stray\n");
  const std::string cfg = (dir.path() / "cfg.yaml").string();
  CHECK(messages(parse_config("cluster:\n  dsn: host=db user=x stray\n", cfg)) ==
        std::vector<std::string>{cfg + ":2: cluster.dsn: libpq cannot parse this connection "
                                       "string (not shown: it may hold a password)"});
  CHECK(messages(parse_config("cluster:\n  dsn_file: dsn\n", cfg)) ==
        std::vector<std::string>{cfg + ":2: cluster.dsn_file: file \"" +
                                 (dir.path() / "dsn").string() +
                                 "\": libpq cannot parse the connection string (not shown: it "
                                 "may hold a password)"});
  CHECK(parse_config("cluster:\n  dsn: host=db user=x sslmode=verify-full\n", cfg).config);
}

TEST_CASE("load_config_file reports an unreadable file without a line", "[config]") {
  const TempDir dir;
  const std::string path = (dir.path() / "nope.yaml").string();
  const LoadResult result = load_config_file(path);
  CHECK_FALSE(result.config.has_value());
  CHECK(messages(result) == std::vector<std::string>{
                                path + ": cannot read config file: open: No such file or directory "
                                       "(not_found)"});
}

TEST_CASE("parse_duration accepts unit groups, largest first", "[config][duration]") {
  const std::pair<std::string, seconds> cases[] = {
      {"0s", seconds{0}},
      {"30s", seconds{30}},
      {"5m", minutes{5}},
      {"12h", hours{12}},
      {"90d", days{90}},
      {"2w", days{14}},
      {"1h30m", minutes{90}},
      {"1d12h", hours{36}},
      {"1w2d3h4m5s", seconds{((9 * 24 + 3) * 60 + 4) * 60 + 5}},
      {"90m", minutes{90}},
      {"007s", seconds{7}},
      {"9223372036854775807s", seconds{9223372036854775807}},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    CHECK(parse_duration(text) == expected);
  }
}

TEST_CASE("parse_duration rejects malformed text", "[config][duration]") {
  for (const std::string text : {"",
                                 "5",
                                 "30",
                                 "s",
                                 "-5m",
                                 "+5m",
                                 "5x",
                                 "5ms",
                                 "5 m",
                                 " 5m",
                                 "5m ",
                                 "1h 30m",
                                 "1.5h",
                                 "5M",
                                 "1m1h",
                                 "1h1h",
                                 "30s5m",
                                 "1d-2h",
                                 "h1",
                                 "5mm",
                                 "9223372036854775808s",
                                 "9223372036854775807m",
                                 "15250284452472w",
                                 "99999999999999999999s",
                                 "184467440737095516161s",
                                 "1w99999999999999999999999999999999999999999d",
                                 "1e3s"}) {
    INFO("\"" << text << "\"");
    CHECK_FALSE(parse_duration(text).has_value());
  }
}

TEST_CASE("format_duration gives the canonical spelling and round-trips", "[config][duration]") {
  const std::pair<seconds, std::string> cases[] = {
      {seconds{0}, "0s"}, {seconds{45}, "45s"},     {minutes{5}, "5m"},       {hours{12}, "12h"},
      {days{90}, "90d"},  {days{365}, "365d"},      {minutes{90}, "1h30m"},   {hours{36}, "1d12h"},
      {days{14}, "14d"},  {seconds{86401}, "1d1s"}, {seconds{-90}, "-1m30s"},
  };
  for (const auto& [value, text] : cases) {
    CHECK(format_duration(value) == text);
  }
  for (std::int64_t n : {0LL, 1LL, 59LL, 60LL, 61LL, 3599LL, 3600LL, 3661LL, 86399LL, 86400LL,
                         90061LL, 604800LL, 31536000LL, 9223372036854775807LL}) {
    INFO(n);
    const std::string text = format_duration(seconds{n});
    CHECK(parse_duration(text) == seconds{n});
  }
}

TEST_CASE("config/config.example.yaml loads without errors", "[config]") {
  const LoadResult result = load_config_file(CERTWATCH_SOURCE_DIR "/config/config.example.yaml");
  REQUIRE(messages(result) == std::vector<std::string>{});
  const Config& config = *result.config;
  // The example spells out the defaults; what it changes on purpose:
  CHECK(config.poll_interval == Config{}.poll_interval);
  CHECK(config.rules == certwatch::rules::default_rules());
  CHECK(config.files.certs_dirs == Config{}.files.certs_dirs);
  CHECK(config.files.extra.size() == 2);
  REQUIRE(config.cluster.has_value());
  CHECK(config.cluster->dsn.starts_with("postgresql://certwatch@localhost:26257/"));
  CHECK(config.cluster->poll_interval == ClusterConfig{}.poll_interval);
  CHECK(config.alerting.extra_labels == std::map<std::string, std::string>{{"team", "database"}});
  CHECK(config.alerting.expiry_for == AlertingConfig{}.expiry_for);
  certwatch::rules::ChecksConfig checks;
  checks.key_owner = "cockroach";
  CHECK(config.checks == checks);
}

// --- Issue 14: the cmek section and the tier checks ---------------------------------------------

namespace {

std::vector<std::string> warning_texts(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& warning : result.warnings) out.push_back(warning.to_string());
  return out;
}

}  // namespace

TEST_CASE("cmek is read with its defaults and the key from a private file", "[config]") {
  const TempDir dir;
  const auto key = dir.write("etc/cmek.key", "CCDB1_secretKEY\n", 0600);
  const auto config_path = dir.write(
      "etc/certwatch.yaml",
      "deployment: {tier: advanced}\ncmek:\n  cluster_id: abc-123\n  api_key_file: cmek.key\n");
  const LoadResult result = load_config_file(config_path.string());
  REQUIRE(messages(result) == std::vector<std::string>{});
  const auto& cmek = *result.config->cmek;
  CHECK(cmek.api_url == "https://cockroachlabs.cloud");
  CHECK(cmek.host == "cockroachlabs.cloud");
  CHECK(cmek.port == "443");
  CHECK(cmek.base_path.empty());
  CHECK(cmek.api_key == "CCDB1_secretKEY");
  CHECK(cmek.api_key_file == key.string());
  CHECK(cmek.poll_interval == minutes{5});
  CHECK(cmek.timeout == seconds{10});
  CHECK(cmek.ca_file.empty());
  CHECK(result.config->alerting.cmek_transition_for == hours{1});
  CHECK(parse_ok("alerting: {cmek_transition_for: 30m}\n").alerting.cmek_transition_for ==
        minutes{30});

  const auto custom = load_config_file(
      dir.write("etc/custom.yaml",
                "deployment: {tier: byoc}\ncmek:\n  api_url: https://[::1]:8443/proxy/\n"
                "  cluster_id: c1\n  api_key_file: cmek.key\n  ca_file: ca.pem\n"
                "  poll_interval: 1m\n  timeout: 3s\n")
          .string());
  REQUIRE(messages(custom) == std::vector<std::string>{});
  CHECK(custom.config->cmek->host == "::1");
  CHECK(custom.config->cmek->port == "8443");
  CHECK(custom.config->cmek->base_path == "/proxy");
  CHECK(custom.config->cmek->ca_file == (dir.path() / "etc/ca.pem").string());
  CHECK(custom.config->cmek->timeout == seconds{3});
}

TEST_CASE("cmek errors name the key and never quote the API key", "[config]") {
  const TempDir dir;
  dir.write("open.key", "CCDB1_secretKEY\n", 0640);
  dir.write("two.key", "CCDB1_secret\nKEY\n", 0600);
  dir.write("ok.key", "CCDB1_secretKEY\n", 0600);
  const auto check = [&](const std::string& body, const std::string& expected) {
    const auto path = dir.write("c.yaml", "deployment: {tier: advanced}\ncmek:\n" + body);
    const LoadResult result = load_config_file(path.string());
    INFO(body);
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].to_string().find(expected) != std::string::npos);
    CHECK(result.errors[0].to_string().find("secret") == std::string::npos);
  };
  check("  cluster_id: c\n  api_key_file: open.key\n", "cmek.api_key_file: file");
  check("  cluster_id: c\n  api_key_file: open.key\n", "mode 0640");
  check("  cluster_id: c\n  api_key_file: two.key\n", "a single line");
  check("  cluster_id: c\n  api_key_file: none.key\n", "cannot read");
  check("  api_key_file: ok.key\n", "cmek.cluster_id: required key is missing");
  check("  cluster_id: ../admin\n  api_key_file: ok.key\n", "cmek.cluster_id: must be");
  check("  cluster_id: c\n  api_key_file: ok.key\n  api_url: http://x\n", "only https");
  check("  cluster_id: c\n  api_key_file: ok.key\n  api_url: https://u:p@x\n", "no user");
  check("  cluster_id: c\n  api_key_file: ok.key\n  api_url: https://x:99999\n", "invalid port");
  check("  cluster_id: c\n  api_key_file: ok.key\n  timeout: 0s\n", "cmek.timeout: must be");
  check("  cluster_id: c\n  api_key_file: ok.key\n  token: x\n", "cmek.token");
}

// Issue 28: a CR LF in cmek.api_url's path went into the request line and injected a header. The
// class: every byte that is not a URL path character, in the path and in the host, through YAML's
// escapes, is refused at load with the file, line and key; good URLs still load.
TEST_CASE("cmek.api_url is validated strictly: no control character, space or stray byte",
          "[config]") {
  const TempDir dir;
  dir.write("ok.key", "CCDB1_secretKEY\n", 0600);
  const auto load = [&](const std::string& url_yaml) {
    const auto path = dir.write("c.yaml",
                                "deployment: {tier: advanced}\ncmek:\n  cluster_id: c\n"
                                "  api_url: " +
                                    url_yaml + "\n  api_key_file: ok.key\n");
    return load_config_file(path.string());
  };
  // YAML double-quoted escapes: the bytes reach the loader as they would from a hostile file.
  for (const std::string bad : {"\\r\\nX-Injected: 1",
                                "\\n",
                                "\\r",
                                "\\t",
                                "\\0",
                                "\\x01",
                                "\\x7f",
                                " ",
                                "\\u00e9",
                                "\\u202e",
                                "<",
                                ">",
                                "\\\"",
                                "{",
                                "}",
                                "|",
                                "\\\\",
                                "^",
                                "`",
                                "%",
                                "%zz",
                                "%4"}) {
    for (const std::string& where : {std::string("path"), std::string("host")}) {
      const std::string url = where == "path" ? "https://api.example/v1" + bad + "/x"
                                              : "https://api" + bad + ".example/v1";
      const LoadResult result = load("\"" + url + "\"");
      INFO(where << ": " << url);
      REQUIRE(result.errors.size() == 1);
      const std::string said = result.errors[0].to_string();
      CHECK(said.find("c.yaml:4: cmek.api_url: must be an https:// URL") != std::string::npos);
      CHECK(said.find('\r') == std::string::npos);
      CHECK(said.find('\n') == std::string::npos);
    }
  }
  for (const std::string good :
       {"https://api.example", "https://api.example:8443/proxy/v1/", "https://10.0.0.1",
        "https://[::1]:8443/a-b_c.d~e/%2Fx/@:;=+$,!*'()&", "https://API-1.Example.COM/"}) {
    const LoadResult result = load("\"" + good + "\"");
    INFO(good);
    CHECK(result.errors.empty());
  }
  CHECK_FALSE(load("\"https://[::1\"").errors.empty());
  CHECK_FALSE(load("\"https://::1/x\"").errors.empty());  // an IPv6 host needs brackets
  CHECK_FALSE(load("\"https://-api.example\"").errors.empty());
  CHECK_FALSE(load("\"https://api..example\"").errors.empty());
  CHECK_FALSE(load("\"https://api.example:0\"").errors.empty());
  CHECK_FALSE(load("\"https://api.example:65536\"").errors.empty());
}

// Issue 28: a NUL or a newline in probe.targets[].server_name cut or forged the SNI. Only a DNS
// name (RFC 1123 labels) or an IP passes, for server_name and for the address's host (its default).
TEST_CASE("probe server names and target hosts must be DNS names or IPs", "[config]") {
  const auto errors_of = [](const std::string& target) {
    const auto loaded = parse_config("probe:\n  targets:\n    - " + target + "\n", "p.yml");
    std::vector<std::string> out;
    for (const auto& e : loaded.errors) out.push_back(e.to_string());
    return out;
  };
  for (const std::string bad : {"\\0", "\\n", "\\r\\n", "\\t", " ", "\\x01", "\\x7f", "_", "/",
                                "\\u00e9", "\\u202e", "*", "%"}) {
    INFO(bad);
    const auto said =
        errors_of("{address: \"db1.example:26257\", server_name: \"db" + bad + "1.example\"}");
    REQUIRE(said.size() == 1);
    CHECK(said[0].find("p.yml:3: probe.targets[0].server_name: must be a DNS name") !=
          std::string::npos);
    const auto host = errors_of("{address: \"db" + bad + "1.example:26257\"}");
    REQUIRE_FALSE(host.empty());
    CHECK(std::any_of(host.begin(), host.end(), [](const std::string& e) {
      return e.find("p.yml:3: probe.targets[0].address") != std::string::npos;
    }));
  }
  for (const std::string& bad : std::vector<std::string>{
           "-db.example", "db-.example", "db..example", "db.example.",
           std::string(64, 'a') + ".example",
           std::string(60, 'a') + "." + std::string(60, 'b') + "." + std::string(60, 'c') + "." +
               std::string(60, 'd') + "." + std::string(60, 'e')}) {
    INFO(bad);
    CHECK(errors_of("{address: \"h:1\", server_name: \"" + bad + "\"}").size() == 1);
  }
  for (const std::string& good :
       std::vector<std::string>{"db1.example", "DB-1.Example", "10.0.0.1", "::1", "localhost",
                                std::string(63, 'a') + ".example"}) {
    INFO(good);
    CHECK(errors_of("{address: \"h:1\", server_name: \"" + good + "\"}").empty());
  }
  CHECK(errors_of("{address: \"[::1]:26257\"}").empty());
}

TEST_CASE("the tier rejects cmek where it cannot work and warns on pointless sections",
          "[config]") {
  const TempDir dir;
  dir.write("ok.key", "k\n", 0600);
  const auto load = [&](const std::string& yaml) {
    return load_config_file(dir.write("c.yaml", yaml).string());
  };
  const std::string cmek = "cmek: {cluster_id: c, api_key_file: ok.key}\n";
  for (const std::string tier : {"standard", "basic"}) {
    const auto result = load("deployment: {tier: " + tier + "}\n" + cmek);
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].key == "cmek");
    CHECK(result.errors[0].message.find("needs CockroachDB Cloud Advanced") != std::string::npos);
  }
  const auto self_hosted = load(cmek);
  REQUIRE(self_hosted.errors.size() == 1);
  CHECK(self_hosted.errors[0].message.find("set deployment.tier to advanced") != std::string::npos);
  CHECK(load("deployment: {tier: advanced}\n" + cmek).errors.empty());

  // Warnings: the cluster source on Standard, a custom rule on node certificates on Advanced;
  // the default rules and client-only rules raise none.
  const auto standard = load(
      "deployment: {tier: standard}\ncluster: {dsn: 'host=db'}\nrules:\n"
      "  - {cert_types: [client], below: 30d, action: rotate_now, severity: critical}\n");
  REQUIRE(standard.config);
  CHECK(warning_texts(standard) ==
        std::vector<std::string>{
            dir.path().string() +
            "/c.yaml:2: cluster: the cluster source is pointless on CockroachDB Cloud Standard: "
            "node certificates are managed by Cockroach Labs and only client certificates are "
            "yours (watch them with files)"});
  const auto advanced = load(
      "deployment: {tier: advanced}\nrules:\n"
      "  - {cert_types: [client, node, ui], below: 30d, action: rotate_now, severity: critical}\n");
  REQUIRE(advanced.warnings.size() == 1);
  CHECK(advanced.warnings[0].key == "rules[0].cert_types");
  CHECK(advanced.warnings[0].line == 3);
  CHECK(advanced.warnings[0].message.find("cert types node, ui are managed by Cockroach Labs") !=
        std::string::npos);
  CHECK(load("deployment: {tier: advanced}\ncluster: {dsn: 'host=db'}\n").warnings.empty());
  CHECK(load("deployment: {tier: basic}\n").warnings.empty());
  CHECK(load("rules:\n  - {cert_types: [node], below: 30d, action: a, severity: info}\n")
            .warnings.empty());
}

TEST_CASE("duplicate keys are found in linear time: 150k keys in one map", "[config][hostile]") {
  // Issue 28: duplicate detection compared every key with every earlier one (150k keys: 70 s).
  // Each key is now looked up in a hash table. The bound is on CPU time (the machine may be
  // shared): generous for a linear pass (about 1.5 s here) and far below the pairwise 70 s.
  constexpr int kKeys = 150'000;
  std::string yaml = "alerting:\n  extra_labels:\n";
  yaml.reserve(static_cast<std::size_t>(kKeys) * 20);
  for (int i = 0; i < kKeys; ++i) yaml += "    l" + std::to_string(i) + ": v\n";
  yaml += "    l7: again\n";  // line 3 + kKeys: the duplicate of line 10
  const std::clock_t started = std::clock();
  const LoadResult result = parse_config(yaml, "cfg.yaml");
  const double cpu_seconds = static_cast<double>(std::clock() - started) / CLOCKS_PER_SEC;
  CHECK(
      messages(result) ==
      std::vector<std::string>{"cfg.yaml:" + std::to_string(kKeys + 3) +
                               ": alerting.extra_labels.l7: duplicate key (first set on line 10)"});
  CHECK(cpu_seconds < 15.0);
}

TEST_CASE("config hints: did you mean, tabs, and no second error for the same mistake",
          "[config][oncall]") {
  const auto messages_of = [](const std::string& yaml) {
    std::vector<std::string> out;
    for (const ConfigError& error : parse_config(yaml, "cfg.yaml").errors) {
      out.push_back(error.to_string());
    }
    return out;
  };
  using V = std::vector<std::string>;
  // The closest key valid at that place, within a third of the typo's length.
  CHECK(messages_of("files:\n  certs_dir: [/a]\n") ==
        V{"cfg.yaml:2: files.certs_dir: unknown key (did you mean certs_dirs?)"});
  CHECK(messages_of("files:\n  Certs_Dirs: [/a]\n") ==
        V{"cfg.yaml:2: files.Certs_Dirs: unknown key (did you mean certs_dirs?)"});
  CHECK(messages_of("alerting:\n  runbok_base_url: https://x.example\n") ==
        V{"cfg.yaml:2: alerting.runbok_base_url: unknown key (did you mean runbook_base_url?)"});
  // Only keys valid at that place: poll_interval is a top-level key, not one of files'.
  CHECK(messages_of("files:\n  poll_interval: 1m\n") ==
        V{"cfg.yaml:2: files.poll_interval: unknown key"});
  // Nothing close: no guess.
  CHECK(messages_of("zzzzzzzz: 1\n") == V{"cfg.yaml:1: zzzzzzzz: unknown key"});
  // A tab in a value or a comment is fine; in the indentation it is named with its line.
  CHECK(messages_of("# a\tcomment\nfiles:\n  certs_dirs: [\"/a\tb\"]\n").empty());
  CHECK(messages_of("files:\n  certs_dirs: [/a]\n\t\nrules: []\n").empty());
  CHECK(messages_of("files:\n  certs_dirs: [/a]\nprobe:\n\t targets: []\n") ==
        V{"cfg.yaml:4: a tab in the indentation: YAML indents with spaces only"});
  // An invalid only probe target is that target's error, not also "nothing to probe".
  const V only_bad = messages_of("probe:\n  targets:\n    - address: 'no port here'\n");
  REQUIRE(only_bad.size() == 1);
  CHECK(only_bad[0].find("cfg.yaml:3: probe.targets[0].address") == 0);
  CHECK(messages_of("probe:\n  targets: []\n") ==
        V{"cfg.yaml:1: probe: nothing to probe: list targets or enable from_cluster"});
}
