// Instant pickup of certificate changes: inotify on the watched directories, bursts debounced,
// then one callback (the scheduler polls the file source). Where inotify is unavailable or its
// limits are hit, the watcher says so and the poll interval alone applies.
// Thread-safety: all methods run on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace certwatch::runtime {

class FileWatch {
 public:
  FileWatch(boost::asio::io_context& io, std::function<void()> on_change,
            std::chrono::milliseconds debounce = std::chrono::milliseconds(200));
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  // Watches exactly these directories from now on; ones that do not exist yet are retried on the
  // next call. Does nothing when inotify cannot be used (the constructor said so in the log).
  void watch(const std::set<std::string>& directories);

 private:
  void read_events();
  void changed();

  std::function<void()> on_change_;
  std::chrono::milliseconds debounce_;
  int fd_ = -1;
  std::unique_ptr<boost::asio::posix::stream_descriptor> stream_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point first_event_{};
  std::map<std::string, int> watches_;  // directory -> watch descriptor
  std::set<std::string> unwatchable_;   // at the watch limit, already logged
  std::array<char, 16 * 1024> buffer_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace certwatch::runtime
