// crdb-certwatch: the table of contents. Parse flags, load config, build, run, stop.
#include <openssl/crypto.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config/config.hpp"
#include "runtime/daemon.hpp"
#include "runtime/logging.hpp"

#ifndef CERTWATCH_VERSION
#define CERTWATCH_VERSION "0.0.0"
#endif
#ifndef CERTWATCH_REVISION
#define CERTWATCH_REVISION "unknown"
#endif

namespace {

struct Flags {
  std::string config_file = "/etc/crdb-certwatch/config.yaml";
  std::string listen_address = ":9712";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  bool config_check = false;
  bool version = false;
};

certwatch::exporter::BuildInfo build_info() {
  return {CERTWATCH_VERSION, CERTWATCH_REVISION, OpenSSL_version(OPENSSL_VERSION_STRING)};
}

void print_errors(const std::vector<certwatch::config::ConfigError>& errors) {
  for (const auto& error : errors) std::cerr << error.to_string() << "\n";
}

int run(const Flags& flags) {
  using namespace certwatch;
  if (flags.version) {
    const auto build = build_info();
    std::cout << "crdb-certwatch version " << build.version << " (revision " << build.revision
              << "), OpenSSL " << build.openssl_version << "\n";
    return 0;
  }
  if (auto error = runtime::setup_logging(flags.log_level, flags.log_format)) {
    std::cerr << "crdb-certwatch: " << *error << "\n";
    return 2;
  }
  config::LoadResult loaded = config::load_config_file(flags.config_file);
  if (flags.config_check) {
    if (!loaded.config) {
      print_errors(loaded.errors);
      return 1;
    }
    std::cout << flags.config_file << ": configuration is valid\n";
    return 0;
  }
  if (!loaded.config) {
    print_errors(loaded.errors);
    return 1;
  }
  if (flags.telemetry_path.empty() || flags.telemetry_path.front() != '/' ||
      flags.telemetry_path == "/" || flags.telemetry_path.starts_with("/-/")) {
    std::cerr << "crdb-certwatch: --web.telemetry-path must be an absolute path other than / and "
                 "/-/...\n";
    return 2;
  }
  runtime::DaemonOptions options;
  options.config_file = flags.config_file;
  options.http.listen_address = flags.listen_address;
  options.web.telemetry_path = flags.telemetry_path;
  options.build = build_info();
  runtime::logger("main")->info("starting crdb-certwatch {} (revision {}), config {}",
                                options.build.version, options.build.revision, flags.config_file);
  runtime::Daemon daemon(std::move(options), std::move(*loaded.config));
  return daemon.run();
}

}  // namespace

int main(int argc, char** argv) {
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
  app.add_option("--log.level", flags.log_level, "Log level: debug, info, warn, error.")
      ->capture_default_str();
  app.add_option("--log.format", flags.log_format, "Log format: logfmt or json.")
      ->capture_default_str();
  app.add_flag("--version", flags.version, "Print the version and exit.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run(flags);
  } catch (const std::exception& e) {
    std::cerr << "crdb-certwatch: fatal: " << e.what() << "\n";
    return 1;
  }
}
