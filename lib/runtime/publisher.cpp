#include "runtime/publisher.hpp"

#include <boost/asio/post.hpp>

namespace certwatch::runtime {

namespace asio = boost::asio;

Publisher::Publisher(asio::io_context& io, asio::thread_pool& workers, state::Clock clock,
                     std::function<void(const state::Snapshot&)> on_install,
                     std::function<void()> on_ready)
    : io_(io),
      workers_(workers),
      clock_(std::move(clock)),
      on_install_(std::move(on_install)),
      on_ready_(std::move(on_ready)) {}

Publisher::~Publisher() { *alive_ = false; }

void Publisher::publish(state::SnapshotInputs inputs) {
  if (stopped_) return;
  if (rendering_) {
    pending_ = std::move(inputs);
    return;
  }
  rendering_ = true;
  asio::post(workers_, [this, alive = alive_, clock = clock_, &io = io_, inputs = std::move(inputs),
                        previous = current()] {
    auto next = exporter::make_exposition(state::make_snapshot(inputs, clock()), previous.get());
    asio::post(io, [this, alive, next = std::move(next)]() mutable {
      if (!*alive) return;
      rendering_ = false;
      install(std::move(next));
    });
  });
}

void Publisher::publish_now(const state::SnapshotInputs& inputs) {
  install(exporter::make_exposition(state::make_snapshot(inputs, clock_()), current().get()));
}

void Publisher::install(std::shared_ptr<const exporter::Exposition> next) {
  if (on_install_) on_install_(*next->snapshot);
  const bool ready = next->snapshot->ready();
  current_.store(std::move(next));
  if (!ready_said_ && ready) {
    ready_said_ = true;
    if (on_ready_) on_ready_();
  }
  if (pending_ && !rendering_ && !stopped_) {
    state::SnapshotInputs inputs = std::move(*pending_);
    pending_.reset();
    publish(std::move(inputs));
  }
}

}  // namespace certwatch::runtime
