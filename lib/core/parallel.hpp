// Work shared among a few threads of the caller's own, for a step that holds thousands of
// independent pieces: a cold poll's files (stat, read, parse). Not the chain signature checks:
// spread over threads, OpenSSL 3.0's internal locks made them slower (docs/architecture.md).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace certwatch {

// The cores this process may run on: its CPU affinity (systemd's CPUAffinity=, taskset), at
// least 1.
std::size_t usable_cores();

// Runs work(i) for every i < count on up to `max_threads` threads, this one among them, and no
// more than one thread per `per_thread` items or per usable core: below that a thread costs
// more than it saves. Items are handed out in chunks, in no particular order, so work(i) must
// touch nothing another item touches. Returns when every item is done. The first exception
// work throws is rethrown once every thread has stopped; the items not yet started are skipped.
// A thread that cannot be created (TasksMax, RLIMIT_NPROC) leaves the work to those that could.
template <typename Work>
void parallel_for(std::size_t count, std::size_t per_thread, std::size_t max_threads,
                  const Work& work) {
  constexpr std::size_t kChunk = 16;
  const std::size_t threads =
      std::min({max_threads, usable_cores(), count / std::max<std::size_t>(per_thread, 1)});
  if (threads <= 1) {
    for (std::size_t i = 0; i < count; ++i) work(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto run = [&] {
    try {
      for (std::size_t begin; (begin = next.fetch_add(kChunk)) < count;) {
        for (std::size_t i = begin; i < std::min(begin + kChunk, count); ++i) work(i);
      }
    } catch (...) {
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = count;  // the others stop at their next chunk
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(run);
    } catch (const std::system_error&) {
      break;
    }
  }
  run();
  for (std::thread& helper : helpers) helper.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace certwatch
