#include "runtime/scheduler.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>

namespace certwatch::runtime {

namespace asio = boost::asio;

Scheduler::Scheduler(asio::io_context& io, state::Clock clock, PollHandler on_poll,
                     std::uint32_t seed)
    : io_(io), clock_(std::move(clock)), on_poll_(std::move(on_poll)), rng_(seed) {}

Scheduler::~Scheduler() {
  *alive_ = false;
  stop();
}

Scheduler::Slot* Scheduler::find(const std::string& name) {
  const auto it = std::find_if(slots_.begin(), slots_.end(),
                               [&](const Slot& slot) { return slot.source->name() == name; });
  return it == slots_.end() ? nullptr : &*it;
}

void Scheduler::install(sources::SourceList sources) {
  std::vector<Slot> next;
  next.reserve(sources.size());
  for (auto& source : sources) {
    Slot slot;
    if (Slot* old = find(source->name())) {
      if (old->source->same_config(*source)) source = old->source;
      slot.health = std::move(old->health);
      slot.last_good = std::move(old->last_good);
      slot.in_flight = old->in_flight;
      slot.generation = old->generation + 1;
      slot.polls_started = old->polls_started;
      slot.polled = old->polled;
      slot.deferred = old->deferred;
      slot.has_view = old->has_view && source == old->source;
      // The poll running there (if any) finishes on it, and the next one queues behind it.
      slot.thread = std::move(old->thread);
      slot.overrun = std::move(old->overrun);
    } else {
      slot.health.installed_at = clock_();
    }
    slot.health.source = source->name();
    slot.health.interval = std::chrono::duration<double>(source->interval()).count();
    if (!slot.thread) slot.thread = std::make_shared<PollThread>(source->name());
    if (!slot.overrun) slot.overrun = std::make_unique<asio::steady_timer>(io_);
    slot.source = std::move(source);
    slot.timer = std::make_unique<asio::steady_timer>(io_);
    next.push_back(std::move(slot));
  }
  for (Slot& slot : slots_) slot.timer->cancel();
  slots_ = std::move(next);
  // A new instance (a reloaded config) gets the views its predecessor had; the reload polls it.
  for (const Slot& from : slots_) {
    if (!from.last_good) continue;
    for (Slot& slot : slots_) {
      const std::vector<std::string> needs = slot.source->depends_on();
      if (std::find(needs.begin(), needs.end(), from.source->name()) == needs.end()) continue;
      slot.source->receive(from.source->name(), from.last_good);
      slot.has_view = true;
    }
  }
}

bool Scheduler::waits_for_dependency(const Slot& slot) {
  for (const std::string& name : slot.source->depends_on()) {
    const Slot* dependency = find(name);
    if (dependency != nullptr && !dependency->polled) return true;
  }
  return false;
}

void Scheduler::deliver(const Slot& from, bool fresh) {
  const std::string& name = from.source->name();
  for (Slot& slot : slots_) {
    const std::vector<std::string> needs = slot.source->depends_on();
    if (std::find(needs.begin(), needs.end(), name) == needs.end()) continue;
    const bool view = fresh && from.last_good != nullptr;
    if (view) slot.source->receive(name, from.last_good);
    if (slot.deferred && !waits_for_dependency(slot)) {
      slot.deferred = false;
      start(slot);
    } else if (view && !slot.has_view && slot.polled) {
      // It polled without this view (the dependency's first poll failed): look again with it.
      start(slot);
    }
    if (view) slot.has_view = true;
  }
}

void Scheduler::poll_now(const std::string& name) {
  if (Slot* slot = find(name)) start(*slot);
}

void Scheduler::poll_all() {
  for (Slot& slot : slots_) start(slot);
}

void Scheduler::poll_watching() {
  for (Slot& slot : slots_) {
    if (!slot.source->watched_directories().empty()) start(slot);
  }
}

void Scheduler::stop() {
  stopped_ = true;
  for (Slot& slot : slots_) {
    slot.timer->cancel();
    slot.overrun->cancel();
  }
}

std::set<std::string> Scheduler::watched_directories() const {
  std::set<std::string> out;
  for (const Slot& slot : slots_) {
    for (std::string& dir : slot.source->watched_directories()) out.insert(std::move(dir));
  }
  return out;
}

std::vector<state::SharedPollResult> Scheduler::results() const {
  std::vector<state::SharedPollResult> out;
  for (const Slot& slot : slots_) {
    if (slot.last_good) out.push_back(slot.last_good);
  }
  return out;
}

std::vector<state::SourceHealth> Scheduler::health() const {
  std::vector<state::SourceHealth> out;
  for (const Slot& slot : slots_) out.push_back(slot.health);
  return out;
}

void Scheduler::start(Slot& slot) {
  if (stopped_) return;
  if (!slot.polled && !slot.in_flight && !slot.waited && waits_for_dependency(slot)) {
    // Started by deliver() once the dependency has polled; a dependency that hangs delays it by
    // kMaxDependencyWait at most (its own targets are polled then, the view when it comes).
    slot.deferred = true;
    slot.timer->expires_after(kMaxDependencyWait);
    slot.timer->async_wait([this, alive = alive_, name = slot.source->name(),
                            generation = slot.generation](const boost::system::error_code& ec) {
      if (ec || !*alive || stopped_) return;
      Slot* current = find(name);
      if (current == nullptr || current->generation != generation || !current->deferred) return;
      current->deferred = false;
      current->waited = true;
      start(*current);
    });
    return;
  }
  if (slot.in_flight) {
    slot.poll_again = true;
    return;
  }
  slot.in_flight = true;
  slot.timer->cancel();
  ++*busy_;
  const double started = clock_();
  slot.health.poll_started = started;
  ++slot.polls_started;
  watch_overrun(slot);
  const bool running = slot.thread->run([this, alive = alive_, busy = busy_, source = slot.source,
                                         generation = slot.generation, started, &io = io_] {
    sources::PollResult result = state::run_poll(*source);
    asio::post(io, [this, alive, name = source->name(), generation, started,
                    result = std::move(result)]() mutable {
      if (*alive) finish(name, generation, started, std::move(result));
    });
    --*busy;  // last: once no poll is busy, nothing of a poll touches the io_context
  });
  if (!running) {
    --*busy_;
    asio::post(io_, [this, alive = alive_, name = slot.source->name(), generation = slot.generation,
                     started] {
      if (*alive) {
        finish(name, generation, started,
               sources::PollResult::failed(ErrorReason::internal_error,
                                           "no thread could be started for the poll"));
      }
    });
  }
}

void Scheduler::watch_overrun(Slot& slot) {
  slot.overrun->expires_after(slot.source->interval());
  slot.overrun->async_wait([this, alive = alive_, name = slot.source->name(),
                            poll = slot.polls_started](const boost::system::error_code& ec) {
    if (ec || !*alive || stopped_) return;
    Slot* current = find(name);
    if (current == nullptr || !current->in_flight || current->polls_started != poll) return;
    ++current->health.overruns;
    if (on_overrun_) on_overrun_(*current->source, current->health);
  });
}

void Scheduler::finish(const std::string& name, std::uint64_t generation, double started,
                       sources::PollResult result) {
  Slot* slot = find(name);
  if (slot == nullptr) return;  // removed by a reload meanwhile
  slot->in_flight = false;
  slot->health.poll_started = 0;
  slot->overrun->cancel();
  if (stopped_) return;
  if (generation != slot->generation) {
    // The config changed while this poll ran: its result may describe the old config.
    slot->poll_again = false;
    start(*slot);
    return;
  }
  slot->polled = true;
  const bool good = result.ok();
  state::record_poll(std::move(result), started, clock_(), slot->health, slot->last_good);
  on_poll_(*slot->source, slot->health, slot->last_good);
  // on_poll_ may have installed new sources: look the slot up again.
  slot = find(name);
  if (slot == nullptr) return;
  deliver(*slot, good);
  // on_poll_ may have installed new sources: look the slot up again.
  slot = find(name);
  if (slot == nullptr || slot->in_flight) return;
  if (slot->poll_again) {
    // Something changed while this poll ran: look again now rather than at the next interval.
    slot->poll_again = false;
    start(*slot);
    return;
  }
  schedule(*slot);
}

void Scheduler::schedule(Slot& slot) {
  const auto interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(slot.source->interval());
  // Up to 5% jitter, at most 30 s, so daemons started together do not poll in lockstep.
  const auto spread = std::min<std::int64_t>(interval.count() / 20, 30'000);
  std::uniform_int_distribution<std::int64_t> jitter(-spread, spread);
  slot.timer->expires_after(interval + std::chrono::milliseconds(jitter(rng_)));
  slot.timer->async_wait([this, alive = alive_, name = slot.source->name(),
                          generation = slot.generation](const boost::system::error_code& ec) {
    if (ec || !*alive || stopped_) return;
    Slot* current = find(name);
    if (current == nullptr || current->generation != generation) return;
    start(*current);
  });
}

}  // namespace certwatch::runtime
