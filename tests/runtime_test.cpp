// The daemon's moving parts on their own, with an injected clock: the scheduler (health, retries,
// reload, no overlapping polls), the publisher (one rendering at a time, newest inputs, READY
// once) and the log-once change tracker.

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "runtime/change_tracker.hpp"
#include "runtime/publisher.hpp"
#include "runtime/scheduler.hpp"

namespace {

using namespace certwatch;
using namespace std::chrono_literals;

// A clock that advances by one second each time it is read.
state::Clock stepping_clock() {
  auto now = std::make_shared<std::atomic<int>>(1000);
  return [now] { return static_cast<double>((*now)++); };
}

// A source whose polls the test scripts: succeed, fail, throw, or wait for a release.
class ScriptedSource final : public sources::Source {
 public:
  explicit ScriptedSource(std::string name, int config = 0,
                          std::chrono::seconds interval = std::chrono::hours{1})
      : Source(std::move(name)), config_(config), interval_(interval) {}
  std::chrono::seconds interval() const override { return interval_; }
  bool same_config(const Source& next) const override {
    const auto* other = dynamic_cast<const ScriptedSource*>(&next);
    return other != nullptr && other->config_ == config_;
  }
  sources::PollResult poll() override {
    {
      std::unique_lock lock(mutex_);
      ++started_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return !hold_; });
    }
    ++polls;
    if (mode == Mode::fail) return sources::PollResult::failed(ErrorReason::timeout, "too slow");
    if (mode == Mode::throw_) throw std::runtime_error("boom");
    if (mode == Mode::throw_other) throw 42;  // not a std::exception
    sources::PollResult result;
    result.certificates.emplace_back();
    return result;
  }
  void hold() {
    std::lock_guard lock(mutex_);
    hold_ = true;
  }
  void release() {
    std::lock_guard lock(mutex_);
    hold_ = false;
    changed_.notify_all();
  }
  void wait_started(int n) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return started_ >= n; });
  }

  enum class Mode { ok, fail, throw_, throw_other };
  std::atomic<Mode> mode{Mode::ok};
  std::atomic<int> polls{0};

 private:
  int config_;
  std::chrono::seconds interval_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_ = false;
  int started_ = 0;
};

struct SchedulerRig {
  boost::asio::io_context io;
  int polled = 0;
  int stop_after = 1;
  runtime::Scheduler scheduler{
      io, stepping_clock(),
      [this](const sources::Source&, const state::SourceHealth&, const state::SharedPollResult&) {
        if (++polled >= stop_after) io.stop();
      },
      42};

  // Runs the io loop until `n` more polls were recorded (or 10 s passed).
  void run_polls(int n) {
    stop_after = polled + n;
    io.restart();
    const auto busy = boost::asio::make_work_guard(io);  // results arrive from the pool
    io.run_for(10s);
  }
  ~SchedulerRig() {
    scheduler.stop();
    // Polls run on the sources' own threads: wait for them to hand their results to the io
    // context before it goes.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (scheduler.busy() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
  }
};

}  // namespace

TEST_CASE("change tracker says a thing when it appears, changes and goes", "[runtime]") {
  runtime::ChangeTracker<std::string, int> tracker;
  auto first = tracker.update({{"a", 1}, {"b", 2}});
  CHECK(first.new_or_changed.size() == 2);
  CHECK(first.gone.empty());
  auto same = tracker.update({{"a", 1}, {"b", 2}});
  CHECK(same.new_or_changed.empty());
  CHECK(same.gone.empty());
  auto changed = tracker.update({{"a", 3}});
  REQUIRE(changed.new_or_changed.size() == 1);
  CHECK(changed.new_or_changed[0] == std::pair<std::string, int>{"a", 3});
  CHECK(changed.gone == std::vector<std::string>{"b"});
}

TEST_CASE("scheduler records health from the injected clock and keeps the last good result",
          "[runtime]") {
  SchedulerRig rig;
  auto source = std::make_shared<ScriptedSource>("alpha");
  rig.scheduler.install({source});
  rig.scheduler.poll_all();
  rig.run_polls(1);
  REQUIRE(rig.polled == 1);
  auto health = rig.scheduler.health().at(0);
  CHECK(health.source == "alpha");
  CHECK(health.up);
  CHECK(health.last_duration == 1.0);  // the clock advanced once between start and finish
  CHECK(health.last_success == health.last_poll);
  REQUIRE(rig.scheduler.results().size() == 1);
  const auto good = rig.scheduler.results().at(0);

  SECTION("a failure counts by reason and keeps the last good data") {
    source->mode = ScriptedSource::Mode::fail;
    rig.scheduler.poll_now("alpha");
    rig.run_polls(1);
    health = rig.scheduler.health().at(0);
    CHECK_FALSE(health.up);
    CHECK(health.errors_total.at(ErrorReason::timeout) == 1);
    REQUIRE(health.last_error);
    CHECK(health.last_error->message == "too slow");
    CHECK(rig.scheduler.results().at(0) == good);
  }
  SECTION("an exception becomes internal_error; the loop goes on") {
    source->mode = ScriptedSource::Mode::throw_;
    rig.scheduler.poll_now("alpha");
    rig.run_polls(1);
    health = rig.scheduler.health().at(0);
    CHECK(health.errors_total.at(ErrorReason::internal_error) == 1);
    CHECK(health.last_error->message == "boom");
    source->mode = ScriptedSource::Mode::ok;
    rig.scheduler.poll_now("alpha");
    rig.run_polls(1);
    CHECK(rig.scheduler.health().at(0).up);
  }
  SECTION("something thrown that is not a std::exception is internal_error too") {
    source->mode = ScriptedSource::Mode::throw_other;
    rig.scheduler.poll_now("alpha");
    rig.run_polls(1);
    health = rig.scheduler.health().at(0);
    CHECK_FALSE(health.up);
    CHECK(health.errors_total.at(ErrorReason::internal_error) == 1);
    REQUIRE(health.last_error);
    CHECK(health.last_error->message.find("not a std::exception") != std::string::npos);
    CHECK(rig.scheduler.results().at(0) == good);
    source->mode = ScriptedSource::Mode::ok;
    rig.scheduler.poll_now("alpha");
    rig.run_polls(1);
    CHECK(rig.scheduler.health().at(0).up);
  }
}

TEST_CASE("scheduler never overlaps polls of a source and coalesces requests made meanwhile",
          "[runtime]") {
  SchedulerRig rig;
  auto source = std::make_shared<ScriptedSource>("alpha");
  rig.scheduler.install({source});
  source->hold();
  rig.scheduler.poll_all();
  source->wait_started(1);
  // Three more requests while the poll runs: one more poll after it, not three.
  rig.scheduler.poll_now("alpha");
  rig.scheduler.poll_now("alpha");
  rig.scheduler.poll_all();
  CHECK(rig.scheduler.busy() == 1);
  source->release();
  rig.run_polls(2);
  CHECK(rig.polled == 2);
  CHECK(source->polls == 2);
  CHECK(rig.scheduler.busy() == 0);
}

TEST_CASE("each source polls on a thread of its own: held polls delay no other and overruns count",
          "[runtime][isolation]") {
  // Issue 28: three blocked sources (more than the old pool of two workers) and a fourth that
  // still polls, again and again.
  SchedulerRig rig;
  std::vector<std::shared_ptr<ScriptedSource>> held;
  for (const char* name : {"slow1", "slow2", "slow3"}) {
    held.push_back(std::make_shared<ScriptedSource>(name, 0, 1s));
    held.back()->hold();
  }
  auto fast = std::make_shared<ScriptedSource>("fast");
  std::vector<std::string> overran;
  rig.scheduler.on_overrun([&](const sources::Source& source, const state::SourceHealth& health) {
    overran.push_back(source.name());
    CHECK(health.overruns == 1);
    CHECK(health.poll_started > 0);
  });
  rig.scheduler.install({held[0], held[1], held[2], fast});
  rig.scheduler.poll_all();
  for (const auto& source : held) source->wait_started(1);
  rig.run_polls(1);
  CHECK(fast->polls == 1);
  for (int i = 0; i < 5; ++i) {
    rig.scheduler.poll_now("fast");
    rig.run_polls(1);
  }
  CHECK(fast->polls == 6);
  // The fast poll's thread counts itself idle just after handing its result over.
  for (int i = 0; i < 1000 && rig.scheduler.busy() != 3; ++i) std::this_thread::sleep_for(1ms);
  CHECK(rig.scheduler.busy() == 3);
  // Their interval (1 s) passes with the polls still running: one overrun each, said once.
  {
    rig.io.restart();
    const auto busy = boost::asio::make_work_guard(rig.io);
    rig.io.run_for(3000ms);  // the 1 s overrun timers, with room for a loaded machine
  }
  std::sort(overran.begin(), overran.end());
  CHECK(overran == std::vector<std::string>{"slow1", "slow2", "slow3"});
  for (const auto& source : held) source->release();
  rig.run_polls(3);
  for (const state::SourceHealth& health : rig.scheduler.health()) {
    INFO(health.source);
    CHECK(health.poll_started == 0);
    CHECK(health.overruns == (health.source == "fast" ? 0U : 1U));
    CHECK(health.up);
  }
}

TEST_CASE("a source is stale when a poll outlives its interval or success is 2.5 intervals old",
          "[runtime][isolation]") {
  state::SourceHealth h;
  h.interval = 10;
  h.installed_at = 1000;
  CHECK(h.stale_reason(1020) == "");
  CHECK(h.stale_reason(1026) == "no successful poll yet, in 26 s (interval 10 s)");
  h.last_success = 1020;
  CHECK(h.stale_reason(1044) == "");
  CHECK(h.stale_reason(1045.5) == "no successful poll for 25 s (interval 10 s)");
  h.poll_started = 1030;
  CHECK(h.stale_reason(1040) == "");
  CHECK(h.stale_reason(1041) == "a poll running for 11 s, past its interval of 10 s");
  h.interval = 0;  // `check`: polled once, never stale
  CHECK(h.stale_reason(99999) == "");
}

TEST_CASE("scheduler reload keeps a source whose config is unchanged and health by name",
          "[runtime]") {
  SchedulerRig rig;
  auto alpha = std::make_shared<ScriptedSource>("alpha", 1);
  auto beta = std::make_shared<ScriptedSource>("beta", 1);
  rig.scheduler.install({alpha, beta});
  rig.scheduler.poll_all();
  rig.run_polls(2);
  REQUIRE(alpha->polls == 1);

  auto alpha_again = std::make_shared<ScriptedSource>("alpha", 1);  // same config
  auto beta_changed = std::make_shared<ScriptedSource>("beta", 2);  // changed config
  rig.scheduler.install({alpha_again, beta_changed});
  rig.scheduler.poll_all();
  rig.run_polls(2);
  CHECK(alpha->polls == 2);  // the running instance was kept
  CHECK(alpha_again->polls == 0);
  CHECK(beta->polls == 1);  // replaced
  CHECK(beta_changed->polls == 1);
  const auto health = rig.scheduler.health();
  REQUIRE(health.size() == 2);
  CHECK(health[1].source == "beta");
  CHECK(health[1].last_success > 0);  // carried over by name

  rig.scheduler.install({alpha_again});
  CHECK(rig.scheduler.health().size() == 1);
}

namespace {

// A source that reads alpha's view (as the probe's from_cluster reads the cluster's nodes): it
// records, at each poll, how many views it had received by then.
class ViewReader final : public sources::Source {
 public:
  ViewReader() : Source("reader") {}
  std::chrono::seconds interval() const override { return std::chrono::hours{1}; }
  bool same_config(const Source& next) const override {
    return dynamic_cast<const ViewReader*>(&next) != nullptr;
  }
  std::vector<std::string> depends_on() const override { return {"alpha"}; }
  void receive(const std::string& source,
               const std::shared_ptr<const sources::PollResult>& result) override {
    std::lock_guard lock(mutex_);
    if (source == "alpha" && result && result->ok()) ++views_;
  }
  sources::PollResult poll() override {
    std::lock_guard lock(mutex_);
    views_at_poll.push_back(views_);
    return {};
  }
  std::vector<int> polls() {
    std::lock_guard lock(mutex_);
    return views_at_poll;
  }

 private:
  std::mutex mutex_;
  int views_ = 0;
  std::vector<int> views_at_poll;
};

}  // namespace

TEST_CASE("a source that reads another's view first polls after it, with the view in hand",
          "[runtime]") {
  // Issue 26: the probe read the cluster's nodes through a global, and its first poll could run
  // before the cluster's and then wait a whole interval. Now the dependency is declared.
  SchedulerRig rig;
  auto alpha = std::make_shared<ScriptedSource>("alpha");
  auto reader = std::make_shared<ViewReader>();
  rig.scheduler.install({reader, alpha});  // the reader first: order alone would poll it first
  alpha->hold();
  rig.scheduler.poll_all();
  alpha->wait_started(1);
  std::this_thread::sleep_for(200ms);
  CHECK(reader->polls().empty());  // waiting for alpha's first poll
  CHECK(rig.scheduler.busy() == 1);
  alpha->release();
  rig.run_polls(2);
  CHECK(reader->polls() == std::vector<int>{1});  // one poll, with alpha's view
}

TEST_CASE("a source whose dependency's first poll failed polls again when the view arrives",
          "[runtime]") {
  SchedulerRig rig;
  auto alpha = std::make_shared<ScriptedSource>("alpha");
  auto reader = std::make_shared<ViewReader>();
  rig.scheduler.install({alpha, reader});
  alpha->mode = ScriptedSource::Mode::fail;
  rig.scheduler.poll_all();
  rig.run_polls(2);
  CHECK(reader->polls() == std::vector<int>{0});  // polled without a view: its own targets
  alpha->mode = ScriptedSource::Mode::ok;
  rig.scheduler.poll_now("alpha");
  rig.run_polls(2);
  CHECK(reader->polls() == std::vector<int>{0, 1});  // at once, not after its hour
  // Later views reach it without a poll of their own: it uses them at its interval.
  rig.scheduler.poll_now("alpha");
  rig.run_polls(1);
  std::this_thread::sleep_for(100ms);
  CHECK(reader->polls() == std::vector<int>{0, 1});
}

TEST_CASE("scheduler polls again at the interval, with jitter", "[runtime]") {
  class Quick final : public sources::Source {
   public:
    Quick() : Source("quick") {}
    std::chrono::seconds interval() const override { return std::chrono::seconds{1}; }
    bool same_config(const Source&) const override { return true; }
    sources::PollResult poll() override { return {}; }
  };
  SchedulerRig rig;
  rig.scheduler.install({std::make_shared<Quick>()});
  rig.scheduler.poll_all();
  const auto started = std::chrono::steady_clock::now();
  rig.run_polls(2);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(rig.polled == 2);
  CHECK(took >= 900ms);  // interval 1 s, at most 5% jitter
}

TEST_CASE("publisher renders one at a time, with the newest inputs, and says ready once",
          "[runtime]") {
  boost::asio::io_context io;
  boost::asio::thread_pool workers{2};
  int installed = 0;
  int ready = 0;
  runtime::Publisher publisher(
      io, workers, stepping_clock(),
      [&](const state::Snapshot&) {
        if (++installed >= 3) io.stop();  // publish_now, then two renderings
      },
      [&] { ++ready; });

  state::SnapshotInputs not_polled;
  not_polled.health.emplace_back();
  not_polled.health[0].source = "alpha";
  publisher.publish_now(not_polled);
  REQUIRE(publisher.current());
  CHECK(ready == 0);
  CHECK(publisher.current()->text.find(R"(crdb_cert_source_up{source="alpha"} 0)") !=
        std::string::npos);

  state::SnapshotInputs polled = not_polled;
  polled.health[0].polled = polled.health[0].up = true;
  state::SnapshotInputs newest = polled;
  newest.build.version = "newest";
  publisher.publish(polled);  // rendering
  publisher.publish(newest);  // waits, and is what gets rendered next
  const auto busy = boost::asio::make_work_guard(io);
  io.run_for(10s);
  workers.join();
  CHECK(installed == 3);
  CHECK(ready == 1);
  CHECK(publisher.current()->text.find(R"(version="newest")") != std::string::npos);
  CHECK(publisher.current()->snapshot->ready());
}
