#include "runtime/daemon.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <cstdlib>
#include <map>
#include <optional>
#include <utility>

#include "core/clock.hpp"
#include "core/logging.hpp"
#include "core/read_file.hpp"
#include "runtime/change_tracker.hpp"
#include "runtime/file_watch.hpp"
#include "runtime/notify.hpp"
#include "runtime/publisher.hpp"
#include "runtime/scheduler.hpp"
#include "state/rotation_journal.hpp"

namespace certwatch::runtime {

namespace asio = boost::asio;

void tune_allocator() {
  // Buffers from 256 KiB up (texts, their gzip, read buffers) get their own mappings and go
  // back to the system when freed; a fixed value also stops the threshold from adapting.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  // The io_context thread, a poll thread per source, two renderers and the bcrypt thread: two
  // arenas are plenty (a poll spends its time waiting, not allocating).
  ::mallopt(M_ARENA_MAX, 2);
}

struct Daemon::Impl : std::enable_shared_from_this<Daemon::Impl> {
  Impl(DaemonOptions opts, config::Config cfg)
      : options(std::move(opts)),
        config(std::move(cfg)),
        signals(io, SIGHUP, SIGTERM, SIGINT),
        server(io, options.http,
               web::make_web_handler(options.web, [this] { return publisher.current(); })),
        log(logger("scheduler")),
        file_log(logger("file")) {
    if (!options.make_sources) options.make_sources = sources::make_sources;
    server.set_security(options.web_security);
    scheduler.on_overrun([this](const sources::Source& source, const state::SourceHealth& health) {
      overran(source, health);
    });
  }

  // Installs a re-read --web.config.file; false (and the running one kept) when it is invalid.
  bool install_web_config(web::EndpointSecurityLoad loaded) {
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

  state::SnapshotInputs snapshot_inputs() const {
    state::SnapshotInputs inputs;
    inputs.rules = config.rules;
    inputs.checks = config.checks;
    inputs.verify_cache = verify_cache;
    inputs.build = options.build;
    inputs.tier = config.deployment.tier;
    inputs.automation = config.automation;
    inputs.rotations = rotations.record();
    inputs.config_reload_ok = reload_ok;
    inputs.config_reload_success_at = reload_success_at;
    inputs.results = scheduler.results();
    inputs.health = scheduler.health();
    return inputs;
  }

  void polled(const sources::Source& source, const state::SourceHealth& health,
              const state::SharedPollResult& last_good) {
    if (health.up) {
      log->debug("poll of source {} succeeded in {:.3f}s", source.name(), health.last_duration);
      log_file_errors(source.name(), *last_good);
      track_rotations(*last_good);
    } else {
      log->warn("poll of source {} failed: reason={} {}", source.name(),
                to_string(health.last_error->reason), health.last_error->message);
    }
    publisher.publish(snapshot_inputs());
    file_watch.watch(scheduler.watched_directories());
  }

  // A poll has run for its whole interval: its source's data is stale until it ends (issue 28).
  void overran(const sources::Source& source, const state::SourceHealth& health) {
    log->warn(
        "poll of source {} still running after its interval of {:.0f}s (overrun {}): its data is "
        "stale until the poll ends; the next poll starts after it",
        source.name(), health.interval, health.overruns);
    publisher.publish(snapshot_inputs());
  }

  // One line per file when it becomes unusable or its reason changes, not one per poll.
  void log_file_errors(const std::string& source, const sources::PollResult& result) {
    std::map<std::string, FileErrorReason> now;
    std::map<std::string, const FileError*> by_path;
    for (const FileError& e : result.file_errors) {
      now[e.path] = e.reason;
      by_path[e.path] = &e;
    }
    const auto changes = file_errors[source].update(std::move(now));
    for (const auto& [path, reason] : changes.new_or_changed) {
      file_log->warn("file {} unusable: reason={} {}", path, to_string(reason),
                     by_path[path]->detail);
    }
    for (const std::string& path : changes.gone) file_log->info("file {} is usable again", path);
  }

  // The journal as it was at start: each identity's last rotation, and what it rotated to, so a
  // rotation while the daemon was stopped shows on the first poll. A journal that cannot be read
  // is reported; the daemon runs on without its history.
  void open_journal() {
    journal = state::journal_path(config.rotation_journal, std::getenv("STATE_DIRECTORY"));
    if (journal.empty()) {
      rotation_log->info(
          "rotation journal off: set rotation_journal, or run under systemd with "
          "StateDirectory= (rotations still count in crdb_cert_rotations_total)");
      return;
    }
    const state::JournalRead read = state::read_journal(journal);
    if (read.error && read.error->reason != FileErrorReason::not_found) {
      rotation_log->warn("rotation journal {} cannot be read, its history is not used: {}", journal,
                         describe(*read.error));
    }
    if (read.bad_lines > 0) {
      rotation_log->warn(
          "rotation journal {}: {} line(s) are not journal entries (corrupt or truncated, first "
          "at line {}); skipped, the other {} entries are used",
          journal, read.bad_lines, read.first_bad_line, read.events.size());
    }
    rotations.seed(read.events);
    rotation_log->info("rotation journal {}: {} entries", journal, read.events.size());
  }

  // Rotations in a source's new result: logged, counted, and appended to the journal off the io
  // thread (in order: one strand).
  void track_rotations(const sources::PollResult& result) {
    std::vector<state::RotationEvent> events = rotations.observe(result.certificates, unix_now());
    if (events.empty()) return;
    for (const state::RotationEvent& e : events) {
      rotation_log->info("{} at {} {} {} {}: {} -> {}", to_string(e.kind), e.id.source,
                         to_string(e.id.cert_type), e.id.node_id, e.id.path,
                         e.old_fingerprint.empty() ? "-" : e.old_fingerprint,
                         e.new_fingerprint.empty() ? "-" : e.new_fingerprint);
    }
    if (journal.empty()) return;
    asio::post(journal_strand,
               [impl = weak_from_this(), path = journal, events = std::move(events)] {
                 const auto error = state::append_journal(path, events, unix_now());
                 const auto self = impl.lock();
                 if (!self) return;
                 // One line when appending starts to fail, one when it works again.
                 if (error && !self->journal_failing.exchange(true)) {
                   self->rotation_log->error("rotation journal {} cannot be written: {}", path,
                                             describe(*error));
                 } else if (!error && self->journal_failing.exchange(false)) {
                   self->rotation_log->info("rotation journal {} is written again", path);
                 }
               });
  }

  // What a new snapshot says that the last one did not: the sources' notices and pending reloads.
  void installed(const state::Snapshot& next) {
    std::map<std::string, std::pair<bool, std::string>> notices_now;
    for (const sources::Notice& n : next.notices) notices_now[n.topic] = {n.warning, n.text};
    for (const auto& [topic, notice] : notices.update(std::move(notices_now)).new_or_changed) {
      if (notice.first) {
        log->warn("{}", notice.second);
      } else {
        log->info("{}", notice.second);
      }
    }
    std::map<std::string, rules::ReloadPending> pending_now;
    for (const rules::ReloadPending& p : next.reload_pending) pending_now[p.path] = p;
    const auto changes = reload_pending.update(std::move(pending_now));
    for (const auto& [path, p] : changes.new_or_changed) {
      log->warn(
          "{} on disk differs from the {} certificate node {} has loaded (notAfter {} on disk, "
          "{} loaded): it was replaced but not reloaded; send SIGHUP to the cockroach process "
          "(pkill -SIGHUP -x cockroach)",
          p.path, to_string(p.cert_type), p.node_id, p.on_disk_not_after, p.loaded_not_after);
    }
    for (const std::string& path : changes.gone) log->info("{}: the node has reloaded it", path);
  }

  // What a reload read, off the io thread.
  struct Reloaded {
    config::LoadResult config;
    std::optional<web::EndpointSecurityLoad> web;  // when --web.config.file is set
  };

  // SIGHUP: the files are read and parsed on the worker pool (a 1.2 MB config once froze HTTP for
  // 15 s on the io thread), then installed here. A SIGHUP during a reload reloads again after it.
  void reload() {
    if (reloading) {
      reload_again = true;
      return;
    }
    reloading = true;
    notifier.reloading();
    log->info("SIGHUP: reloading configuration from {}", options.config_file);
    asio::post(workers, [this] {
      Reloaded next{
          options.reload ? options.reload() : config::load_config_file(options.config_file),
          std::nullopt};
      if (!options.web_config_file.empty()) {
        next.web = web::load_endpoint_security(options.web_config_file);
      }
      asio::post(io, [this, next = std::move(next)]() mutable { apply_reload(std::move(next)); });
    });
  }

  void apply_reload(Reloaded next) {
    reloading = false;
    config::LoadResult& loaded = next.config;
    if (!loaded.config) {
      reload_ok = false;
      for (const auto& error : loaded.errors) {
        log->error("configuration rejected, keeping the running one: {}", error.to_string());
      }
    } else {
      reload_ok = true;
      reload_success_at = unix_now();
      for (const auto& warning : loaded.warnings) {
        log->warn("configuration: {}", warning.to_string());
      }
      config = std::move(*loaded.config);
      if (state::journal_path(config.rotation_journal, std::getenv("STATE_DIRECTORY")) != journal) {
        rotation_log->warn("rotation_journal changed: the new path takes effect at restart");
      }
      scheduler.install(options.make_sources(config));
      log->info("configuration reloaded; polling every source now");
      scheduler.poll_all();
    }
    if (next.web && !install_web_config(std::move(*next.web))) reload_ok = false;
    publisher.publish(snapshot_inputs());
    notifier.ready();
    if (reload_again) {
      reload_again = false;
      reload();
    }
  }

  void wait_for_signal() {
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_for_signal();
        return;
      }
      log->info("signal {}: stopping", sig);
      stop();
    });
  }

  void stop() {
    notifier.stopping();
    server.stop();
    scheduler.stop();
    publisher.stop();
    signals.cancel();
    watchdog.cancel();
    io.stop();
  }

  void start_watchdog() {
    const auto interval = notifier.watchdog_interval();
    if (!interval) return;
    watchdog.expires_after(*interval);
    watchdog.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      notifier.watchdog();
      start_watchdog();
    });
  }

  DaemonOptions options;
  config::Config config;
  asio::io_context io;
  asio::thread_pool workers{2};
  asio::signal_set signals;
  Notifier notifier;
  Publisher publisher{io, workers, unix_now,
                      [this](const state::Snapshot& next) { installed(next); },
                      [this] { notifier.ready(); }};
  Scheduler scheduler{
      io, unix_now,
      [this](const sources::Source& source, const state::SourceHealth& health,
             const state::SharedPollResult& last_good) { polled(source, health, last_good); }};
  web::HttpServer server;
  asio::steady_timer watchdog{io};
  FileWatch file_watch{io, [this] { scheduler.poll_watching(); }};
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<spdlog::logger> file_log;
  std::shared_ptr<spdlog::logger> rotation_log = logger("rotation");
  state::RotationTracker rotations;  // io thread only
  std::string journal;               // empty: no journal
  asio::strand<asio::thread_pool::executor_type> journal_strand{workers.get_executor()};
  std::atomic<bool> journal_failing{false};
  std::map<std::string, ChangeTracker<std::string, FileErrorReason>> file_errors;  // by source
  ChangeTracker<std::string, std::pair<bool, std::string>> notices;
  ChangeTracker<std::string, rules::ReloadPending> reload_pending;
  // Signature and chain verifications, kept across snapshots: a quiet poll verifies nothing.
  std::shared_ptr<rules::VerifyCache> verify_cache = std::make_shared<rules::VerifyCache>();
  bool reloading = false;     // a reload is being read on the pool
  bool reload_again = false;  // SIGHUP while it was
  bool reload_ok = true;
  double reload_success_at = unix_now();
  bool abandoned = false;
};

Daemon::Daemon(DaemonOptions options, config::Config config)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(config))) {}

Daemon::~Daemon() = default;

bool Daemon::poll_abandoned() const { return impl_->abandoned; }

void Daemon::request_stop() {
  asio::post(impl_->io, [impl = impl_] {
    impl->log->info("stop requested");
    impl->stop();
  });
}

int Daemon::run() {
  Impl& d = *impl_;
  d.open_journal();
  d.scheduler.install(d.options.make_sources(d.config));
  d.publisher.publish_now(d.snapshot_inputs());  // served before the first poll finishes
  if (auto error = d.server.start()) {
    d.log->error("{}", *error);
    return 1;
  }
  d.log->info("listening on {} (port {}), metrics at {}", d.options.http.listen_address,
              d.server.port(), d.options.web.telemetry_path);
  d.wait_for_signal();
  d.file_watch.watch(d.scheduler.watched_directories());
  d.scheduler.poll_all();
  d.start_watchdog();
  d.io.run();
  d.workers.stop();
  if (d.scheduler.busy() > 0) {
    d.log->info("stopped (abandoning a poll still in progress)");
    d.abandoned = true;
    return 0;
  }
  d.workers.join();
  d.log->info("stopped");
  return 0;
}

}  // namespace certwatch::runtime
