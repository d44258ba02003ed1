// crdb-certwatch: the table of contents. Parse flags, load config, build, run, stop.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>

#include "alerting/audit_report.hpp"
#include "alerting/check_report.hpp"
#include "alerting/preflight.hpp"
#include "alerting/rule_file.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/logging.hpp"
#include "core/read_file.hpp"
#include "core/text.hpp"
#include "http/web_config.hpp"
#include "runtime/daemon.hpp"
#include "sources/registry.hpp"
#include "state/collect.hpp"

#ifndef CERTWATCH_VERSION
#define CERTWATCH_VERSION "0.0.0"
#endif
#ifndef CERTWATCH_REVISION
#define CERTWATCH_REVISION "unknown"
#endif

namespace {

// Exit codes, one table for every command (README "Exit codes"). `check` speaks the monitoring
// plugin convention instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (could not check).
constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;   // invalid configuration, or the daemon cannot start/serve
constexpr int kExitUsage = 2;    // bad command line: flags, log level or format
constexpr int kExitUnknown = 3;  // `check`: anything that stopped it from checking

struct Flags {
  std::string config_file = "/etc/crdb-certwatch/config.yaml";
  std::string listen_address = ":9712";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  bool config_check = false;
  bool version = false;
  std::string check_output = "table";           // `check --output`
  std::string rules_format = "prometheus";      // `rules --format`
  certwatch::alerting::ObjectMeta rule_object;  // `rules --name --namespace`
  std::string audit_format = "html";            // `audit --format`
  std::string audit_output;                     // `audit --output`; empty: stdout
  std::string preflight_staged;                 // `preflight --staged`
  std::string preflight_live;                   // `preflight --live`; empty: from the config
  std::string preflight_config;                 // `preflight --config.file`; empty: the default
  std::string preflight_cert_type;              // `preflight --cert-type` (a Secret layout)
  std::string preflight_user;                   // `preflight --user`
  std::string preflight_output = "table";       // `preflight --output`
};

certwatch::state::BuildInfo build_info() {
  return {CERTWATCH_VERSION, CERTWATCH_REVISION, OpenSSL_version(OPENSSL_VERSION_STRING)};
}

void print_errors(const std::vector<certwatch::config::ConfigError>& errors) {
  for (const auto& error : errors) std::cerr << error.to_string() << "\n";
}

void print_warnings(const std::vector<certwatch::config::ConfigWarning>& warnings) {
  for (const auto& warning : warnings) std::cerr << "warning: " << warning.to_string() << "\n";
}

// `crdb-certwatch rules`: the Prometheus rule file for this configuration, on stdout.
int print_rules(const Flags& flags) {
  const certwatch::config::LoadResult loaded =
      certwatch::config::load_config_file(flags.config_file);
  if (!loaded.config) {
    print_errors(loaded.errors);
    return kExitConfig;
  }
  // The daemon serves its runbooks over TLS when its web config says so.
  std::string scheme = "http";
  if (!flags.web_config_file.empty()) {
    const auto web = certwatch::web::load_web_config_file(flags.web_config_file);
    if (!web.config) {
      print_errors(web.errors);
      return kExitConfig;
    }
    if (web.config->tls) scheme = "https";
  }
  const auto groups = certwatch::alerting::build_rule_groups(*loaded.config, scheme);
  if (const auto unlinked = certwatch::alerting::alerts_without_runbook(groups);
      !unlinked.empty()) {
    std::cerr << "note: " << unlinked.size()
              << " alerts are aggregated without `instance`, so they cannot link to the runbooks "
                 "a daemon serves, and get no runbook_url (set alerting.runbook_base_url to "
                 "link them):";
    for (const std::string& name : unlinked) std::cerr << " " << name;
    std::cerr << "\n";
  }
  if (flags.rules_format == "prometheus-operator") {
    std::cout << certwatch::alerting::render_prometheus_rule(groups, flags.rule_object);
  } else {
    std::cout << certwatch::alerting::render_rule_file(groups);
  }
  return kExitOk;
}

// Logging, config and one poll of every source, shared by `check` and `audit`: null (and the
// errors printed) when the config cannot be loaded or logging cannot be set up.
std::shared_ptr<const certwatch::state::Snapshot> poll_everything_once(
    const Flags& flags, std::optional<certwatch::config::Config>& config) {
  using namespace certwatch;
  if (auto error = setup_logging(flags.log_level, flags.log_format)) {
    std::cerr << "crdb-certwatch: " << *error << "\n";
    return nullptr;
  }
  config::LoadResult loaded = config::load_config_file(flags.config_file);
  if (!loaded.config) {
    print_errors(loaded.errors);
    return nullptr;
  }
  config = std::move(loaded.config);
  return state::poll_once(sources::make_sources(*config), config->rules, config->checks,
                          build_info(), certwatch::unix_now, config->deployment.tier,
                          config->automation);
}

// `crdb-certwatch check`: poll once, report, exit like a monitoring plugin (0/1/2/3). A config
// that cannot be loaded is UNKNOWN (3) too: nothing could be checked.
int check_once(const Flags& flags) {
  using namespace certwatch;
  std::optional<config::Config> config;
  const auto snapshot = poll_everything_once(flags, config);
  if (!snapshot) return kExitUnknown;
  const alerting::CheckReport report = alerting::make_check_report(*snapshot);
  std::cout << (flags.check_output == "json" ? alerting::render_check_json(report)
                                             : alerting::render_check_table(report));
  return static_cast<int>(report.status);
}

// `crdb-certwatch audit`: poll once, write the evidence report, exit like `check`. A report that
// cannot be written is UNKNOWN: the evidence is missing.
int audit_once(const Flags& flags) {
  using namespace certwatch;
  std::optional<config::Config> config;
  const auto snapshot = poll_everything_once(flags, config);
  if (!snapshot) return kExitUnknown;
  const alerting::AuditReport report =
      alerting::make_audit_report(*snapshot, alerting::audit_context(*config, flags.config_file));
  const std::string text = flags.audit_format == "json" ? alerting::render_audit_json(report)
                           : flags.audit_format == "md" ? alerting::render_audit_markdown(report)
                                                        : alerting::render_audit_html(report);
  const std::string output = flags.audit_output.empty() ? "-" : flags.audit_output;
  if (const auto error = write_output_file(output, text, 0640)) {
    std::cerr << "crdb-certwatch: cannot write " << escape_for_display(error->path) << ": "
              << escape_for_display(describe(*error)) << "\n";
    return kExitUnknown;
  }
  return static_cast<int>(report.check.status);
}

// `crdb-certwatch preflight`: judge a staged certificate set against the live one before the swap;
// exit 0 safe, 1 warnings, 2 unsafe, 3 could not check. The config is optional: the default file
// is used when it exists, an explicitly named one must load.
int preflight_once(const Flags& flags) {
  using namespace certwatch;
  if (auto error = setup_logging(flags.log_level, flags.log_format)) {
    std::cerr << "crdb-certwatch: " << *error << "\n";
    return kExitUnknown;
  }
  std::optional<config::Config> config;
  std::string config_file = flags.preflight_config;
  if (config_file.empty() && ::access(flags.config_file.c_str(), F_OK) == 0) {
    config_file = flags.config_file;
  }
  if (!config_file.empty()) {
    config::LoadResult loaded = config::load_config_file(config_file);
    if (!loaded.config) {
      print_errors(loaded.errors);
      return kExitUnknown;
    }
    config = std::move(loaded.config);
  }
  alerting::PreflightRequest request;
  request.staged_dir = flags.preflight_staged;
  request.live_dir = flags.preflight_live;
  if (!flags.preflight_cert_type.empty()) {
    request.cert_type = cert_type_from_string(flags.preflight_cert_type);
  }
  request.user = flags.preflight_user;
  request.config = config ? &*config : nullptr;
  request.now = static_cast<std::int64_t>(certwatch::unix_now());
  const alerting::PreflightRead read = alerting::read_preflight_sets(request);
  if (!read.inputs) {
    std::cerr << "crdb-certwatch preflight: " << read.error << "\n";
    return kExitUnknown;
  }
  const alerting::PreflightReport report = alerting::evaluate_preflight(*read.inputs);
  std::cout << (flags.preflight_output == "json" ? alerting::render_preflight_json(report)
                                                 : alerting::render_preflight_table(report));
  return static_cast<int>(report.status);
}

// The options of the commands that poll once (`check`, `audit`).
void add_poll_once_options(CLI::App& command, Flags& flags) {
  command.add_option("--config.file", flags.config_file, "Configuration file (YAML).")
      ->capture_default_str();
  command.add_option("--log.level", flags.log_level, "Log level (logs go to stderr).")
      ->capture_default_str();
}

int run(const Flags& flags) {
  using namespace certwatch;
  if (flags.version) {
    const auto build = build_info();
    std::cout << "crdb-certwatch version " << build.version << " (revision " << build.revision
              << "), OpenSSL " << build.openssl_version << "\n";
    return kExitOk;
  }
  if (auto error = setup_logging(flags.log_level, flags.log_format)) {
    std::cerr << "crdb-certwatch: " << *error << "\n";
    return kExitUsage;
  }
  if (flags.telemetry_path.empty() || flags.telemetry_path.front() != '/' ||
      flags.telemetry_path == "/" || flags.telemetry_path.starts_with("/-/")) {
    std::cerr << "crdb-certwatch: --web.telemetry-path must be an absolute path other than / and "
                 "/-/...\n";
    return kExitUsage;
  }
  config::LoadResult loaded = config::load_config_file(flags.config_file);
  // The web config is checked up front too: a server that cannot serve as configured (bad key,
  // unreadable certificate) must refuse to start rather than fall back to plain HTTP.
  web::EndpointSecurityLoad web;
  if (!flags.web_config_file.empty()) web = web::load_endpoint_security(flags.web_config_file);
  if (!loaded.config || !web.errors.empty()) {
    print_errors(web.errors);
    print_errors(loaded.errors);
    return kExitConfig;
  }
  if (flags.config_check) {
    print_warnings(loaded.warnings);
    std::cout << flags.config_file << ": configuration is valid"
              << (loaded.warnings.empty() ? "" : " (with warnings)") << "\n";
    return kExitOk;
  }
  runtime::DaemonOptions options;
  options.config_file = flags.config_file;
  options.http.listen_address = flags.listen_address;
  options.web.telemetry_path = flags.telemetry_path;
  options.build = build_info();
  options.web_config_file = flags.web_config_file;
  options.web_security = std::move(web.security);
  logger("main")->info("starting crdb-certwatch {} (revision {}), config {}", options.build.version,
                       options.build.revision, flags.config_file);
  for (const auto& warning : loaded.warnings) {
    logger("main")->warn("configuration: {}", warning.to_string());
  }
  // Not destroyed when a poll is still blocked: joining it would break the promise to stop
  // within two seconds, and it holds nothing that needs an orderly close.
  auto daemon = std::make_unique<runtime::Daemon>(std::move(options), std::move(*loaded.config));
  const int code = daemon->run();
  if (daemon->poll_abandoned()) {
    spdlog::shutdown();
    std::_Exit(code);
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  certwatch::runtime::tune_allocator();
  Flags flags;
  CLI::App app{
      "crdb-certwatch: watches CockroachDB certificates on disk and in the cluster and serves "
      "their expiry, with rotation alert labels, as Prometheus metrics."};
  app.set_version_flag("", "");
  app.add_option("--config.file", flags.config_file, "Configuration file (YAML).")
      ->capture_default_str();
  app.add_flag("--config.check", flags.config_check,
               "Validate the configuration file, print any errors and exit (0 valid, 1 not).");
  app.add_option("--web.listen-address", flags.listen_address,
                 "Address to listen on: host:port, :port for all interfaces.")
      ->capture_default_str();
  app.add_option("--web.telemetry-path", flags.telemetry_path, "Path that serves the metrics.")
      ->capture_default_str();
  app.add_option("--web.config.file", flags.web_config_file,
                 "Web config (Prometheus exporter-toolkit format): TLS, basic auth, headers. "
                 "Re-read on SIGHUP.");
  app.add_option("--log.level", flags.log_level, "Log level: debug, info, warn, error.")
      ->capture_default_str();
  app.add_option("--log.format", flags.log_format, "Log format: logfmt or json.")
      ->capture_default_str();
  app.add_flag("--version", flags.version, "Print the version and exit.");

  CLI::App* rules_command = app.add_subcommand(
      "rules", "Print the Prometheus alerting rules generated from the configuration.");
  rules_command->add_option("--config.file", flags.config_file, "Configuration file (YAML).")
      ->capture_default_str();
  rules_command
      ->add_option("--format", flags.rules_format,
                   "prometheus (a rule file) or prometheus-operator (a PrometheusRule object).")
      ->check(CLI::IsMember({"prometheus", "prometheus-operator"}))
      ->capture_default_str();
  rules_command->add_option("--name", flags.rule_object.name, "The PrometheusRule's name.")
      ->capture_default_str();
  rules_command->add_option("--namespace", flags.rule_object.namespace_name,
                            "The PrometheusRule's namespace (default: none, set by kustomize).");
  CLI::App* check_command = app.add_subcommand(
      "check",
      "Poll every enabled source once, print the certificates and exit like a monitoring plugin: "
      "0 OK, 1 warning, 2 critical, 3 a source failed.");
  add_poll_once_options(*check_command, flags);
  check_command->add_option("--output", flags.check_output, "Output format: table or json.")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  CLI::App* audit_command = app.add_subcommand(
      "audit",
      "Poll every enabled source once and write an evidence report of the encryption posture "
      "(HTML, Markdown or JSON); exit like check.");
  add_poll_once_options(*audit_command, flags);
  audit_command->add_option("--format", flags.audit_format, "Report format: html, md or json.")
      ->check(CLI::IsMember({"html", "md", "json"}))
      ->capture_default_str();
  audit_command->add_option("--output", flags.audit_output,
                            "Write the report to this file instead of standard output (-): a "
                            "new file or one of your own is replaced atomically (mode 0640), a "
                            "device or FIFO written through; a symlink or another user's file "
                            "is refused.");
  CLI::App* preflight_command = app.add_subcommand(
      "preflight",
      "Judge a staged certificate set (the directory about to replace the live one) before the "
      "swap: posture checks, and against the live set SANs dropped, trust breaks, CAs dropped, "
      "identity changes, notBefore ahead, downgrades. Exit 0 safe, 1 warnings, 2 unsafe, 3 could "
      "not check.");
  preflight_command
      ->add_option("--staged", flags.preflight_staged,
                   "The staged directory (a certs dir, or a mounted TLS Secret: tls.crt, tls.key, "
                   "ca.crt).")
      ->required();
  preflight_command->add_option(
      "--live", flags.preflight_live,
      "The directory it replaces (default: the first files.certs_dirs of the config, or for a "
      "Secret the first files.tls_secrets entry of that cert type).");
  preflight_command->add_option(
      "--config.file", flags.preflight_config,
      "Configuration file (YAML); default: " + flags.config_file + " when it exists.");
  preflight_command
      ->add_option("--cert-type", flags.preflight_cert_type,
                   "A TLS Secret layout: what tls.crt is (node, client, ui, node_client).")
      ->check(CLI::IsMember({"node", "client", "ui", "node_client"}));
  preflight_command->add_option("--user", flags.preflight_user,
                                "A client certificate's SQL user (TLS Secret layout).");
  preflight_command->add_option("--output", flags.preflight_output, "Output format: table or json.")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  preflight_command->add_option("--log.level", flags.log_level, "Log level (logs go to stderr).")
      ->capture_default_str();
  app.require_subcommand(0, 1);  // no subcommand: run the daemon
  // `check`, `audit` and `preflight` report every failure as UNKNOWN.
  bool checking = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    checking = checking || arg == "check" || arg == "audit" || arg == "preflight";
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return checking || check_command->parsed() || audit_command->parsed() ||
                   preflight_command->parsed()
               ? kExitUnknown
               : kExitUsage;
  }
  try {
    if (rules_command->parsed()) {
      if (const auto error = certwatch::alerting::object_meta_error(flags.rule_object)) {
        std::cerr << "crdb-certwatch rules: " << *error << "\n";
        return kExitUsage;
      }
      return print_rules(flags);
    }
    if (check_command->parsed()) return check_once(flags);
    if (audit_command->parsed()) return audit_once(flags);
    if (preflight_command->parsed()) return preflight_once(flags);
    return run(flags);
  } catch (const std::exception& e) {
    std::cerr << "crdb-certwatch: fatal: " << e.what() << "\n";
    return checking ? kExitUnknown : kExitConfig;
  }
}
