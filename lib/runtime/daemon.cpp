#include "runtime/daemon.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "core/logging.hpp"
#include "runtime/file_watch.hpp"
#include "runtime/notify.hpp"
#include "sources/cluster_source.hpp"
#include "sources/file_source.hpp"

namespace certwatch::runtime {

namespace asio = boost::asio;
using exporter::Snapshot;
using exporter::SnapshotInputs;
using exporter::SourceHealth;

void tune_allocator() {
  // Buffers from 256 KiB up (texts, their gzip, read buffers) get their own mappings and go
  // back to the system when freed; a fixed value also stops the threshold from adapting.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  // The io_context thread, two pollers and the bcrypt thread: two arenas are plenty.
  ::mallopt(M_ARENA_MAX, 2);
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::vector<std::shared_ptr<sources::Source>> make_sources(const config::Config& config) {
  std::vector<std::shared_ptr<sources::Source>> out;
  out.push_back(std::make_shared<sources::FileSource>(config.files, config.poll_interval));
  if (config.cluster) out.push_back(std::make_shared<sources::ClusterSource>(*config.cluster));
  return out;
}

namespace {

// Runs one poll, timing it and turning its outcome into health; the loop never dies on a source.
void record_poll(sources::PollResult&& result, double started, double finished,
                 SourceHealth& health, exporter::SharedPollResult& last_good) {
  health.polled = true;
  health.last_poll = finished;
  health.last_duration = finished - started;
  health.up = result.ok;
  if (result.ok) {
    health.last_success = finished;
    health.last_error_reason.clear();
    health.last_error.clear();
    last_good = std::make_shared<const sources::PollResult>(std::move(result));
  } else {
    health.last_error_reason = result.error_reason.empty() ? "unknown" : result.error_reason;
    ++health.errors_total[health.last_error_reason];
    health.last_error = result.error_message;
  }
}

sources::PollResult run_poll(sources::Source& source) {
  try {
    return source.poll();
  } catch (const std::exception& e) {
    sources::PollResult failed;
    failed.kind = source.kind();
    failed.ok = false;
    failed.error_reason = "internal_error";
    failed.error_message = e.what();
    return failed;
  }
}

}  // namespace

std::shared_ptr<const Snapshot> poll_once(const config::Config& config,
                                          const exporter::BuildInfo& build) {
  SnapshotInputs inputs;
  inputs.rules = config.rules;
  inputs.build = build;
  inputs.config_reload_success_at = unix_now();
  for (const auto& source : make_sources(config)) {
    SourceHealth health;
    health.kind = source->kind();
    exporter::SharedPollResult last_good;
    const double started = unix_now();
    sources::PollResult result = run_poll(*source);
    record_poll(std::move(result), started, unix_now(), health, last_good);
    if (last_good) inputs.results.push_back(std::move(last_good));
    inputs.health.push_back(std::move(health));
  }
  return exporter::make_snapshot(inputs, unix_now());
}

struct Daemon::Impl : std::enable_shared_from_this<Daemon::Impl> {
  // One per enabled source. Survives reloads for source kinds that stay enabled, so counters
  // never reset and a source's last good data stays until its next poll.
  struct Slot {
    std::shared_ptr<sources::Source> source;
    std::unique_ptr<asio::steady_timer> timer;
    SourceHealth health;
    exporter::SharedPollResult last_good;
    std::map<std::string, FileErrorReason> logged_file_errors;
    bool in_flight = false;
    bool poll_again = false;  // a reload asked for a poll while one was running
    std::uint64_t generation = 0;
  };

  Impl(DaemonOptions opts, config::Config cfg)
      : options(std::move(opts)),
        config(std::move(cfg)),
        signals(io, SIGHUP, SIGTERM, SIGINT),
        web_handler(web::make_web_handler(options.web, [this] { return current(); })),
        server(io, options.http, web_handler),
        rng(std::random_device{}()),
        log(logger("scheduler")),
        file_log(logger("file")) {
    server.set_security(options.web_security);
  }

  // Re-reads --web.config.file; false (and the running one kept) when it is invalid.
  bool reload_web_config() {
    if (options.web_config_file.empty()) return true;
    web::EndpointSecurityLoad loaded = web::load_endpoint_security(options.web_config_file);
    if (!loaded.security) {
      for (const auto& e : loaded.errors) {
        log->error("web config rejected, keeping the running one: {}", e.to_string());
      }
      return false;
    }
    server.set_security(std::move(loaded.security));
    log->info("web config reloaded from {}", options.web_config_file);
    return true;
  }

  std::shared_ptr<const Snapshot> current() const { return std::atomic_load(&snapshot); }

  // Whether a source's part of the config is the same in both: then a reload keeps the running
  // source, with its file cache or its database connection, instead of starting cold.
  static bool same_source_config(SourceKind kind, const config::Config& a,
                                 const config::Config& b) {
    switch (kind) {
      case SourceKind::file:
        return a.files == b.files && a.poll_interval == b.poll_interval;
      case SourceKind::cluster:
        return a.cluster == b.cluster;
      case SourceKind::probe:
        return false;
    }
    return false;
  }

  // `previous`: the config the running sources were made from (null at start-up).
  void install_sources(const config::Config* previous) {
    std::map<SourceKind, Slot> next;
    for (auto& source : make_sources(config)) {
      Slot slot;
      if (auto old = slots.find(source->kind()); old != slots.end()) {
        if (previous != nullptr && same_source_config(source->kind(), *previous, config)) {
          source = old->second.source;
        }
        slot.health = std::move(old->second.health);
        slot.last_good = std::move(old->second.last_good);
        slot.logged_file_errors = std::move(old->second.logged_file_errors);
        slot.in_flight = old->second.in_flight;
        slot.generation = old->second.generation + 1;
        if (old->second.timer) old->second.timer->cancel();
      }
      slot.health.kind = source->kind();
      slot.source = std::move(source);
      slot.timer = std::make_unique<asio::steady_timer>(io);
      next.emplace(slot.source->kind(), std::move(slot));
    }
    for (auto& [kind, slot] : slots) {
      if (slot.timer) slot.timer->cancel();
    }
    slots = std::move(next);
  }

  void start_poll(SourceKind kind) {
    Slot& slot = slots.at(kind);
    if (slot.in_flight) {
      slot.poll_again = true;
      return;
    }
    slot.in_flight = true;
    ++busy_workers;
    const double started = unix_now();
    asio::post(workers, [self = shared_from_this(), source = slot.source, kind,
                         generation = slot.generation, started] {
      sources::PollResult result = run_poll(*source);
      --self->busy_workers;
      asio::post(self->io, [self, kind, generation, started, result = std::move(result)]() mutable {
        self->finish_poll(kind, generation, started, std::move(result));
      });
    });
  }

  void finish_poll(SourceKind kind, std::uint64_t generation, double started,
                   sources::PollResult result) {
    const auto it = slots.find(kind);
    if (it == slots.end()) return;  // source disabled by a reload meanwhile
    Slot& slot = it->second;
    slot.in_flight = false;
    if (stopping) return;
    if (generation != slot.generation) {
      // The config changed while this poll ran: its result may describe the old config.
      slot.poll_again = false;
      start_poll(kind);
      return;
    }
    const bool ok = result.ok;
    const std::string reason = result.error_reason;
    record_poll(std::move(result), started, unix_now(), slot.health, slot.last_good);
    if (ok) {
      log->debug("poll of source {} succeeded in {:.3f}s", to_string(kind),
                 slot.health.last_duration);
    } else {
      log->warn("poll of source {} failed: reason={} {}", to_string(kind), reason,
                slot.health.last_error);
    }
    if (ok) log_new_file_errors(slot);
    if (ok && slot.last_good->cluster) log_local_node(*slot.last_good->cluster);
    publish();
    if (kind == SourceKind::file) watch_file_directories();
    if (slot.poll_again) {
      // Something changed while this poll ran: look again now rather than at the next interval.
      slot.poll_again = false;
      start_poll(kind);
      return;
    }
    schedule(kind);
  }

  // Directories whose changes trigger a file poll at once: the certs directories and the
  // directories of the extra globs (when that part has no wildcard).
  void watch_file_directories() {
    std::set<std::string> dirs(config.files.certs_dirs.begin(), config.files.certs_dirs.end());
    for (const config::ExtraFile& extra : config.files.extra) {
      const std::string parent = std::filesystem::path(extra.glob).parent_path().string();
      if (parent.find_first_of("*?[") == std::string::npos) dirs.insert(parent);
    }
    file_watch.watch(dirs);
  }

  // One line per file when it becomes unusable or its reason changes, not one per poll.
  void log_new_file_errors(Slot& slot) {
    std::map<std::string, FileErrorReason> now;
    for (const FileError& e : slot.last_good->file_errors) {
      now[e.path] = e.reason;
      const auto before = slot.logged_file_errors.find(e.path);
      if (before == slot.logged_file_errors.end() || before->second != e.reason) {
        file_log->warn("file {} unusable: reason={} {}", e.path, to_string(e.reason), e.detail);
      }
    }
    for (const auto& [path, reason] : slot.logged_file_errors) {
      if (now.count(path) == 0) file_log->info("file {} is usable again", path);
    }
    slot.logged_file_errors = std::move(now);
  }

  void schedule(SourceKind kind) {
    Slot& slot = slots.at(kind);
    const auto interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(slot.source->interval());
    // Up to 5% jitter, at most 30 s, so daemons started together do not poll in lockstep.
    const auto spread = std::min<std::int64_t>(interval.count() / 20, 30'000);
    std::uniform_int_distribution<std::int64_t> jitter(-spread, spread);
    slot.timer->expires_after(interval + std::chrono::milliseconds(jitter(rng)));
    slot.timer->async_wait([self = shared_from_this(), kind,
                            generation = slot.generation](const boost::system::error_code& ec) {
      if (ec || self->stopping) return;
      const auto it = self->slots.find(kind);
      if (it == self->slots.end() || it->second.generation != generation) return;
      self->start_poll(kind);
    });
  }

  SnapshotInputs snapshot_inputs() const {
    SnapshotInputs inputs;
    inputs.rules = config.rules;
    inputs.build = options.build;
    inputs.config_reload_ok = reload_ok;
    inputs.config_reload_success_at = reload_success_at;
    for (const auto& [kind, slot] : slots) {
      if (slot.last_good) inputs.results.push_back(slot.last_good);
      inputs.health.push_back(slot.health);
    }
    return inputs;
  }

  // Makes the next snapshot on the worker pool (evaluating and rendering thousands of
  // certificates must not hold up scrapes) and installs it back on the io_context thread. One
  // rendering at a time: a publish asked for meanwhile runs after it, with the newest inputs.
  void publish() {
    if (rendering) {
      publish_again = true;
      return;
    }
    rendering = true;
    asio::post(workers,
               [self = shared_from_this(), inputs = snapshot_inputs(), previous = current()] {
                 auto next = exporter::make_snapshot(inputs, unix_now(), previous.get());
                 asio::post(self->io, [self, next = std::move(next)]() mutable {
                   self->install_snapshot(std::move(next));
                 });
               });
  }

  // The first snapshot, before anything polled: made at once so /metrics answers from the start.
  void publish_now() { install_snapshot(exporter::make_snapshot(snapshot_inputs(), unix_now())); }

  void install_snapshot(std::shared_ptr<const Snapshot> next) {
    rendering = false;
    log_reload_pending(*next);
    std::atomic_store(&snapshot, std::move(next));
    if (!ready_sent && current()->ready()) {
      ready_sent = true;
      notifier.ready();
    }
    if (publish_again && !stopping) {
      publish_again = false;
      publish();
    }
  }

  // Reload-pending detection needs the local node; say once why it is unknown, or which it is.
  void log_local_node(const sources::ClusterFacts& cluster) {
    const std::string said = cluster.local_node_id + "|" + cluster.local_node_note;
    if (said == local_node_logged) return;
    local_node_logged = said;
    if (cluster.local_node_id.empty()) {
      log->warn(
          "local node not identified, so reload-pending checks are off: {} (set "
          "cluster.local_node_id)",
          cluster.local_node_note);
    } else {
      log->info("local node is node {}", cluster.local_node_id);
    }
  }

  // A certificate replaced on disk but not reloaded is said once when it appears, with the fix.
  void log_reload_pending(const Snapshot& next) {
    std::set<std::string> now;
    for (const rules::ReloadPending& p : next.reload_pending) {
      now.insert(p.path);
      if (reload_pending_logged.count(p.path) == 0) {
        log->warn(
            "{} on disk differs from the {} certificate node {} has loaded (notAfter {} on disk, "
            "{} loaded): it was replaced but not reloaded; send SIGHUP to the cockroach process "
            "(pkill -SIGHUP -x cockroach)",
            p.path, to_string(p.cert_type), p.node_id, p.on_disk_not_after, p.loaded_not_after);
      }
    }
    for (const std::string& path : reload_pending_logged) {
      if (now.count(path) == 0) log->info("{}: the node has reloaded it", path);
    }
    reload_pending_logged = std::move(now);
  }

  void reload() {
    notifier.reloading();
    log->info("SIGHUP: reloading configuration from {}", options.config_file);
    config::LoadResult loaded =
        options.reload ? options.reload() : config::load_config_file(options.config_file);
    if (!loaded.config) {
      reload_ok = false;
      for (const auto& error : loaded.errors) {
        log->error("configuration rejected, keeping the running one: {}", error.to_string());
      }
    } else {
      reload_ok = true;
      reload_success_at = unix_now();
      const config::Config previous = std::exchange(config, std::move(*loaded.config));
      install_sources(&previous);
      log->info("configuration reloaded; polling every source now");
      for (const auto& [kind, slot] : slots) start_poll(kind);
    }
    if (!reload_web_config()) reload_ok = false;
    publish();
    notifier.ready();
  }

  void wait_for_signal() {
    signals.async_wait([self = shared_from_this()](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        self->reload();
        self->wait_for_signal();
        return;
      }
      self->log->info("signal {}: stopping", sig);
      self->stop();
    });
  }

  void stop() {
    stopping = true;
    notifier.stopping();
    server.stop();
    for (auto& [kind, slot] : slots) {
      if (slot.timer) slot.timer->cancel();
    }
    signals.cancel();
    watchdog.cancel();
    io.stop();
  }

  void start_watchdog() {
    const auto interval = notifier.watchdog_interval();
    if (!interval) return;
    watchdog.expires_after(*interval);
    watchdog.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stopping) return;
      self->notifier.watchdog();
      self->start_watchdog();
    });
  }

  DaemonOptions options;
  config::Config config;
  asio::io_context io;
  asio::thread_pool workers{2};
  asio::signal_set signals;
  web::Handler web_handler;
  web::HttpServer server;
  asio::steady_timer watchdog{io};
  FileWatch file_watch{io, [this] {
                         if (!stopping && slots.count(SourceKind::file) != 0) {
                           start_poll(SourceKind::file);
                         }
                       }};
  std::map<SourceKind, Slot> slots;
  std::shared_ptr<const Snapshot> snapshot;
  std::minstd_rand rng;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<spdlog::logger> file_log;
  Notifier notifier;
  std::atomic<int> busy_workers{0};  // polls running in the pool
  std::set<std::string> reload_pending_logged;
  std::string local_node_logged;
  bool stopping = false;
  bool rendering = false;      // a snapshot is being made on the pool
  bool publish_again = false;  // inputs changed while it was
  bool ready_sent = false;
  bool reload_ok = true;
  double reload_success_at = unix_now();
};

Daemon::Daemon(DaemonOptions options, config::Config config)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(config))) {}

Daemon::~Daemon() = default;

int Daemon::run() {
  Impl& d = *impl_;
  d.install_sources(nullptr);
  d.publish_now();  // exporter metrics are served before the first poll finishes
  if (auto error = d.server.start()) {
    d.log->error("{}", *error);
    return 1;
  }
  d.log->info("listening on {} (port {}), metrics at {}", d.options.http.listen_address,
              d.server.port(), d.options.web.telemetry_path);
  d.wait_for_signal();
  d.watch_file_directories();
  for (const auto& [kind, slot] : d.slots) d.start_poll(kind);
  d.start_watchdog();
  d.io.run();
  d.workers.stop();
  if (d.busy_workers.load() > 0) {
    // A poll is blocked (a hung database within its timeouts): joining it would break the
    // promise to stop within 2 s, and it holds nothing that needs an orderly close.
    d.log->info("stopped (abandoning a poll still in progress)");
    spdlog::shutdown();
    std::_Exit(0);
  }
  d.workers.join();
  d.log->info("stopped");
  return 0;
}

}  // namespace certwatch::runtime
