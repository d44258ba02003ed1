// The running daemon: the wiring of one io_context thread (timers, signals, HTTP), a thread per
// source for its polls, a small worker pool for rendering and reloads, the scheduler, the
// publisher, inotify, systemd notification and reload. Every poll publishes a new immutable
// snapshot.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "http/http_server.hpp"
#include "http/routes.hpp"
#include "sources/registry.hpp"
#include "state/snapshot.hpp"

namespace certwatch::runtime {

// Keeps the daemon's resident memory near what it uses: glibc's allocator otherwise grows its
// mmap threshold after the first large free (so multi-megabyte exposition texts land in, and
// fragment, the heap) and gives every thread its own arena. Call before any thread starts.
void tune_allocator();

struct DaemonOptions {
  std::string config_file;
  web::HttpServerOptions http;
  web::WebOptions web;
  state::BuildInfo build;
  // Loads the config again on SIGHUP; defaults to config::load_config_file(config_file).
  std::function<config::LoadResult()> reload;
  // The sources a config enables; defaults to sources::make_sources (the registry). Tests plug a
  // source of their own in here.
  std::function<sources::SourceList(const config::Config&)> make_sources;
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

  // Listens, polls, serves until SIGTERM or SIGINT (or request_stop). Returns the exit code.
  int run();
  // Stops a running daemon as SIGTERM would; callable from any thread.
  void request_stop();
  // After run(): a poll was still blocked (a hung database within its timeouts). Joining it would
  // break the promise to stop within 2 s, so the caller should end the process without
  // destroying the daemon.
  bool poll_abandoned() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace certwatch::runtime
