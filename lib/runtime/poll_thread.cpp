#include "runtime/poll_thread.hpp"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace certwatch::runtime {

struct PollThread::State {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> jobs;
  bool quit = false;
  bool started = false;
};

PollThread::PollThread(const std::string& name) : state_(std::make_shared<State>()) {
  try {
    std::thread thread([state = state_] { serve(state); });
    // Linux keeps 15 characters: "poll " and the start of the source's name.
    const std::string short_name = ("poll " + name).substr(0, 15);
    ::pthread_setname_np(thread.native_handle(), short_name.c_str());
    thread.detach();
    state_->started = true;
  } catch (const std::system_error&) {
    // No thread (out of threads or memory): run() says so, and the poll counts as failed.
  }
}

PollThread::~PollThread() {
  const std::lock_guard lock(state_->mutex);
  state_->quit = true;
  state_->wake.notify_all();
}

bool PollThread::run(std::function<void()> job) {
  if (!state_->started) return false;
  const std::lock_guard lock(state_->mutex);
  state_->jobs.push_back(std::move(job));
  state_->wake.notify_all();
  return true;
}

void PollThread::serve(const std::shared_ptr<State>& state) {
  std::unique_lock lock(state->mutex);
  while (true) {
    state->wake.wait(lock, [&] { return state->quit || !state->jobs.empty(); });
    if (state->jobs.empty()) return;  // quit, nothing left to run
    std::function<void()> job = std::move(state->jobs.front());
    state->jobs.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // what it captured goes before the lock is taken again
    lock.lock();
  }
}

}  // namespace certwatch::runtime
