// One timer per named source: each polls at its interval with up to 5% jitter (at most 30 s), never
// two polls of one source at once, and a poll asked for while one runs runs right after it. Each
// source polls on a thread of its own (PollThread), so a slow or blocked source delays no other;
// the outcome comes back on the io_context's thread, where health and each source's last good
// result are kept. A poll still running when its interval has passed is an overrun: counted, and
// said once through the overrun handler. A source that reads another's view (Source::depends_on)
// first polls after that source's first poll, and receives each of its good results.
// Thread-safety: every method runs on the io_context's thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "runtime/poll_thread.hpp"
#include "sources/registry.hpp"
#include "state/collect.hpp"

namespace certwatch::runtime {

class Scheduler {
 public:
  // How long a source's first poll waits for a source it depends on to finish its first poll.
  static constexpr std::chrono::seconds kMaxDependencyWait{10};

  // Called on the io thread after each poll of `source` was recorded (its health is current).
  using PollHandler =
      std::function<void(const sources::Source& source, const state::SourceHealth& health,
                         const state::SharedPollResult& last_good)>;

  // Called on the io thread when a poll of `source` has run for its whole interval (once a poll).
  using OverrunHandler =
      std::function<void(const sources::Source& source, const state::SourceHealth& health)>;

  Scheduler(boost::asio::io_context& io, state::Clock clock, PollHandler on_poll,
            std::uint32_t seed = std::random_device{}());
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Makes `sources` the running set, in this order. A source whose name was running before keeps
  // its health and last good data; its running instance is kept too when same_config() says the
  // new one polls the same thing. Sources no longer listed stop.
  void install(sources::SourceList sources);
  // Polls now (or right after the poll in progress) and restarts the source's interval.
  void poll_now(const std::string& name);
  void poll_all();
  // Polls now every source that watches directories (inotify saw a change).
  void poll_watching();
  void stop();
  void on_overrun(OverrunHandler handler) { on_overrun_ = std::move(handler); }

  std::set<std::string> watched_directories() const;
  // Each source's last good result and its health, in source order.
  std::vector<state::SharedPollResult> results() const;
  std::vector<state::SourceHealth> health() const;
  // Polls running now (a hung database keeps one busy).
  int busy() const { return busy_->load(); }

 private:
  struct Slot {
    std::shared_ptr<sources::Source> source;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::unique_ptr<boost::asio::steady_timer> overrun;  // fires when a poll outlives its interval
    std::shared_ptr<PollThread> thread;                  // kept across reloads, by name
    state::SourceHealth health;
    state::SharedPollResult last_good;
    bool in_flight = false;
    bool poll_again = false;  // asked for while a poll ran
    std::uint64_t generation = 0;
    std::uint64_t polls_started = 0;  // tells the overrun timer which poll it was armed for
    bool polled = false;              // a poll of it has finished (well or not)
    bool deferred = false;            // its poll waits for a source it depends on to poll first
    bool has_view = false;            // it has received a view of each source it depends on
    bool waited = false;              // it waited kMaxDependencyWait and polls without the view
  };

  Slot* find(const std::string& name);
  void start(Slot& slot);
  void finish(const std::string& name, std::uint64_t generation, double started,
              sources::PollResult result);
  void schedule(Slot& slot);
  void watch_overrun(Slot& slot);
  // Whether `slot` depends on a source that has not finished its first poll yet.
  bool waits_for_dependency(const Slot& slot);
  // After a poll of `from` (`fresh`: it succeeded, its last good result is new): hands that result
  // to the sources that depend on it, and polls those that waited for it.
  void deliver(const Slot& from, bool fresh);

  boost::asio::io_context& io_;
  state::Clock clock_;
  PollHandler on_poll_;
  OverrunHandler on_overrun_;
  std::minstd_rand rng_;
  std::vector<Slot> slots_;
  bool stopped_ = false;
  // Shared with the poll threads' jobs, which may outlive the scheduler when a poll hangs at
  // shutdown.
  std::shared_ptr<std::atomic<int>> busy_ = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace certwatch::runtime
