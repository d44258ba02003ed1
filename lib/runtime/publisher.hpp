// Makes the next snapshot and its exposition on the worker pool (evaluating and rendering
// thousands of certificates must not hold up scrapes) and installs it on the io_context's thread.
// One rendering at a time: a publish asked for meanwhile runs after it, with the newest inputs.
// Thread-safety: publish()/publish_now() on the io thread; current() from any thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "exporter/metrics.hpp"
#include "state/collect.hpp"

namespace certwatch::runtime {

class Publisher {
 public:
  // `on_install` runs on the io thread for each snapshot installed (logging what changed);
  // `on_ready` once, when the first snapshot in which every source has been polled is installed.
  Publisher(boost::asio::io_context& io, boost::asio::thread_pool& workers, state::Clock clock,
            std::function<void(const state::Snapshot&)> on_install, std::function<void()> on_ready);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Renders on the pool, installs on the io thread.
  void publish(state::SnapshotInputs inputs);
  // Renders and installs at once, in the calling (io) thread: the first snapshot, so /metrics
  // answers before any poll finished.
  void publish_now(const state::SnapshotInputs& inputs);
  void stop() { stopped_ = true; }

  std::shared_ptr<const exporter::Exposition> current() const { return current_.load(); }

 private:
  void install(std::shared_ptr<const exporter::Exposition> next);

  boost::asio::io_context& io_;
  boost::asio::thread_pool& workers_;
  state::Clock clock_;
  std::function<void(const state::Snapshot&)> on_install_;
  std::function<void()> on_ready_;
  // Read by scrapes on the io thread and by renders on the pool; replaced on the io thread.
  std::atomic<std::shared_ptr<const exporter::Exposition>> current_;
  bool rendering_ = false;
  std::optional<state::SnapshotInputs> pending_;  // asked for while rendering
  bool ready_said_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace certwatch::runtime
