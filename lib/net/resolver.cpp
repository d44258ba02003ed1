#include "net/resolver.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

namespace certwatch::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Waiter {
  std::uint16_t port = 0;
  std::function<void(ResolveResult)> done;
};

// One name's lookup, queued or running, and whoever still waits for it.
struct Entry {
  std::string host;
  std::vector<Waiter*> waiters;
  bool running = false;
};

ResolveResult lookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_CANONNAME;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  ResolveResult result;
  if (rc != 0) {
    result.error = rc == EAI_SYSTEM ? std::system_category().message(errno) : gai_strerror(rc);
    return result;
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, ::freeaddrinfo);
  if (list->ai_canonname != nullptr) result.canonical_name = list->ai_canonname;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    tcp::endpoint endpoint;
    if (ai->ai_addrlen > endpoint.capacity()) continue;
    std::memcpy(endpoint.data(), ai->ai_addr, ai->ai_addrlen);
    endpoint.resize(ai->ai_addrlen);
    result.endpoints.push_back(endpoint);
  }
  if (result.endpoints.empty()) result.error = "no address";
  return result;
}

// The process's lookup threads. Never destroyed: a thread still blocked in getaddrinfo when the
// process exits must find it alive (the threads are detached).
class Pool {
 public:
  static Pool& instance() {
    static Pool* pool = new Pool;  // NOLINT: deliberately never freed, see above
    return *pool;
  }

  std::shared_ptr<Entry> add(const std::string& host, Waiter* waiter) {
    std::lock_guard lock(mutex_);
    auto& entry = by_host_[host];
    if (!entry) {
      entry = std::make_shared<Entry>();
      entry->host = host;
      queue_.push_back(entry);
    }
    entry->waiters.push_back(waiter);
    std::shared_ptr<Entry> result = entry;
    start_threads();
    return result;
  }

  void remove(const std::shared_ptr<Entry>& entry, Waiter* waiter) {
    std::lock_guard lock(mutex_);
    std::erase(entry->waiters, waiter);
    if (entry->waiters.empty() && !entry->running) {
      std::erase(queue_, entry);
      forget(entry);
    }
  }

 private:
  void forget(const std::shared_ptr<Entry>& entry) {
    const auto it = by_host_.find(entry->host);
    if (it != by_host_.end() && it->second == entry) by_host_.erase(it);
  }

  // Under mutex_.
  void start_threads() {
    while (running_ < kMaxLookupThreads && !queue_.empty()) {
      std::shared_ptr<Entry> entry = std::move(queue_.front());
      queue_.pop_front();
      entry->running = true;
      try {
        std::thread([this, entry] { work(entry); }).detach();
        ++running_;
      } catch (const std::system_error& e) {
        deliver(*entry, ResolveResult{{}, {}, std::string("cannot start a lookup: ") + e.what()});
        forget(entry);
      }
    }
  }

  // Under mutex_: each waiter hears once; a waiter is removed only under the mutex, so none hears
  // after its PendingLookup is gone.
  static void deliver(Entry& entry, const ResolveResult& result) {
    for (Waiter* waiter : entry.waiters) {
      ResolveResult mine = result;
      for (tcp::endpoint& endpoint : mine.endpoints) endpoint.port(waiter->port);
      waiter->done(std::move(mine));
      waiter->done = nullptr;
    }
    entry.waiters.clear();
  }

  void work(std::shared_ptr<Entry> entry) {
    for (;;) {
      const ResolveResult result = lookup(entry->host);
      std::lock_guard lock(mutex_);
      deliver(*entry, result);
      forget(entry);
      entry.reset();
      while (!queue_.empty() && !entry) {
        entry = std::move(queue_.front());
        queue_.pop_front();
      }
      if (!entry) {
        --running_;
        return;
      }
      entry->running = true;
    }
  }

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> by_host_;  // queued or running
  std::deque<std::shared_ptr<Entry>> queue_;
  int running_ = 0;
};

class Lookup final : public PendingLookup {
 public:
  Lookup(const std::string& host, std::uint16_t port, std::function<void(ResolveResult)> done)
      : waiter_{port, std::move(done)} {
    entry_ = Pool::instance().add(host, &waiter_);
  }
  ~Lookup() override { Pool::instance().remove(entry_, &waiter_); }
  Lookup(const Lookup&) = delete;
  Lookup& operator=(const Lookup&) = delete;

 private:
  Waiter waiter_;
  std::shared_ptr<Entry> entry_;
};

class Done final : public PendingLookup {};

}  // namespace

std::unique_ptr<PendingLookup> resolve(const std::string& host, std::uint16_t port,
                                       std::function<void(ResolveResult)> done) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) {  // an IP literal needs no lookup
    done(ResolveResult{{tcp::endpoint(address, port)}, {}, {}});
    return std::make_unique<Done>();
  }
  return std::make_unique<Lookup>(host, port, std::move(done));
}

struct Prefetch::State {
  std::mutex mutex;
  std::condition_variable changed;
  std::optional<ResolveResult> result;
};

Prefetch::Prefetch(const std::string& host) : state_(std::make_shared<State>()) {
  pending_ = resolve(host, 0, [state = state_](ResolveResult result) {
    {
      std::lock_guard lock(state->mutex);
      state->result = std::move(result);
    }
    state->changed.notify_all();
  });
}

Prefetch::~Prefetch() = default;

std::optional<ResolveResult> Prefetch::take(std::chrono::milliseconds wait) {
  std::unique_lock lock(state_->mutex);
  state_->changed.wait_for(lock, wait, [&] { return state_->result.has_value(); });
  return std::move(state_->result);
}

}  // namespace certwatch::net
