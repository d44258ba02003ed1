// A thread of one source's own (issue 28): its polls run there one at a time, so a poll that
// blocks (200 silent probe targets, a stalled Cloud API read) holds up nothing but the next poll
// of the same source. A strand on a shared pool would not do: a blocking call keeps its worker.
// Thread-safety: run() from one thread at a time (the scheduler's io thread).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace certwatch::runtime {

class PollThread {
 public:
  // Starts the thread, named `name` (cut to what the system keeps) for ps and gdb.
  explicit PollThread(const std::string& name);
  // Asks the thread to end after the job it runs, and never waits for it: a poll blocked in a
  // peer's hands must not hold up a reload or a shutdown. The thread only touches state it shares
  // with this object, and what its job captured.
  ~PollThread();
  PollThread(const PollThread&) = delete;
  PollThread& operator=(const PollThread&) = delete;

  // Runs `job` on the thread. The caller gives one job at a time (a second one before the first
  // ended waits behind it). False when the system gave no thread: the job was not run.
  bool run(std::function<void()> job);

 private:
  struct State;
  static void serve(const std::shared_ptr<State>& state);
  std::shared_ptr<State> state_;
};

}  // namespace certwatch::runtime
