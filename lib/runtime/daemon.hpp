// The running daemon: one io_context thread for timers, signals and HTTP; polls run on a small
// worker pool and post their results back. Every poll publishes a new immutable snapshot.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "exporter/snapshot.hpp"
#include "http/http_server.hpp"
#include "http/routes.hpp"
#include "sources/source.hpp"

namespace certwatch::runtime {

// The one visible place where sources are registered: the enabled sources of a config.
std::vector<std::shared_ptr<sources::Source>> make_sources(const config::Config& config);

// Polls every enabled source once, in the calling thread, and evaluates the result (`check`).
std::shared_ptr<const exporter::Snapshot> poll_once(const config::Config& config,
                                                    const exporter::BuildInfo& build);

// Keeps the daemon's resident memory near what it uses: glibc's allocator otherwise grows its
// mmap threshold after the first large free (so multi-megabyte exposition texts land in, and
// fragment, the heap) and gives every thread its own arena. Call before any thread starts.
void tune_allocator();

// Seconds since the epoch as a double, from the system clock.
double unix_now();

struct DaemonOptions {
  std::string config_file;
  web::HttpServerOptions http;
  web::WebOptions web;
  exporter::BuildInfo build;
  // Loads the config again on SIGHUP; defaults to config::load_config_file(config_file).
  std::function<config::LoadResult()> reload;
  // --web.config.file: TLS, basic auth and headers, re-read on SIGHUP (an invalid one keeps the
  // running one). Empty: plain HTTP. `web_security` is the start-up one, already validated.
  std::string web_config_file;
  std::shared_ptr<const web::EndpointSecurity> web_security;
};

class Daemon {
 public:
  Daemon(DaemonOptions options, config::Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Listens, polls, serves until SIGTERM or SIGINT. Returns the process exit code.
  int run();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace certwatch::runtime
