#include "runtime/file_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/logging.hpp"

namespace certwatch::runtime {

namespace asio = boost::asio;

namespace {
// Creation, removal, renames (a symlink swap like Kubernetes' `..data` is a rename), writes,
// and attribute changes (chmod); and the directory itself going away.
constexpr std::uint32_t kMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF |
                                IN_MOVE_SELF | IN_ONLYDIR;
// However long a burst lasts, the change is picked up within this.
constexpr std::chrono::milliseconds kMaxDelay{1000};
}  // namespace

FileWatch::FileWatch(asio::io_context& io, std::function<void()> on_change,
                     std::chrono::milliseconds debounce)
    : on_change_(std::move(on_change)), debounce_(debounce), timer_(io) {
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    logger("file")->warn("inotify unavailable ({}): changes are seen at the poll interval only",
                         std::strerror(errno));
    return;
  }
  stream_ = std::make_unique<asio::posix::stream_descriptor>(io, fd_);
  read_events();
}

FileWatch::~FileWatch() {
  *alive_ = false;
  timer_.cancel();
  if (stream_) {
    boost::system::error_code ec;
    stream_->close(ec);  // closes fd_
  }
}

void FileWatch::watch(const std::set<std::string>& directories) {
  if (fd_ < 0) return;
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (directories.count(it->first) == 0) {
      ::inotify_rm_watch(fd_, it->second);
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& dir : directories) {
    // Re-adding an existing watch is cheap and heals one lost to a directory replaced in place.
    const int wd = ::inotify_add_watch(fd_, dir.c_str(), kMask);
    if (wd >= 0) {
      watches_[dir] = wd;
      unwatchable_.erase(dir);
    } else if (errno == ENOSPC || errno == ENOMEM) {
      // Said once per directory, not at every poll that tries again.
      if (unwatchable_.insert(dir).second) {
        logger("file")->warn(
            "cannot watch {}: inotify watch limit reached (fs.inotify.max_user_watches); "
            "changes there are seen at the poll interval only",
            dir);
      }
    } else {
      watches_.erase(dir);  // not there (yet): tried again after the next poll
    }
  }
}

void FileWatch::read_events() {
  stream_->async_read_some(
      asio::buffer(buffer_),
      [this, alive = alive_](const boost::system::error_code& ec, std::size_t) {
        if (!*alive || ec == asio::error::operation_aborted) return;
        if (ec) {
          logger("file")->warn("inotify read failed: {}", ec.message());
          return;
        }
        // Any event (including IN_Q_OVERFLOW) means "look again"; which file does not matter,
        // since a poll of unchanged files costs one stat each.
        changed();
        read_events();
      });
}

void FileWatch::changed() {
  const auto now = std::chrono::steady_clock::now();
  if (!timer_armed_) {
    timer_armed_ = true;
    first_event_ = now;
  }
  const auto deadline = std::min(now + debounce_, first_event_ + kMaxDelay);
  timer_.expires_at(deadline);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive || ec) return;
    timer_armed_ = false;
    on_change_();
  });
}

}  // namespace certwatch::runtime
