// Name resolution that no single lookup can hold up. getaddrinfo(3) cannot be cancelled and may
// block for as long as the system's resolver configuration says (a DNS server that never answers:
// timeout x attempts x servers); Asio's resolver runs every lookup of an io_context on one thread,
// one after the other, so one such name delayed every other. Here each lookup runs on a thread of
// its own, at most kMaxLookupThreads at once in the process; a lookup of a name already under way
// is joined rather than repeated, so a name that hangs poll after poll holds one thread, not one
// per poll. The caller's deadline ends its wait; the thread finishes in the background.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certwatch::net {

// Lookups running at once in the process; more wait in order for a thread to come free.
inline constexpr int kMaxLookupThreads = 32;

struct ResolveResult {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;  // empty when error is set
  std::string canonical_name;                             // AI_CANONNAME's, when given
  std::string error;                                      // gai_strerror's text
};

// Interest in one lookup: while it lives, the callback given to resolve() runs once (on a lookup
// thread, or at once for an IP literal) and then never again; once it is destroyed the callback
// never runs, so its captures may die with it. The callback must not block (post the result to
// the caller's executor).
class PendingLookup {
 public:
  virtual ~PendingLookup() = default;
};

std::unique_ptr<PendingLookup> resolve(const std::string& host, std::uint16_t port,
                                       std::function<void(ResolveResult)> done);

// A lookup started now whose result is wanted later, after other work (a name needed only once
// the probes are done): the wait then overlaps that work.
class Prefetch {
 public:
  explicit Prefetch(const std::string& host);
  ~Prefetch();
  Prefetch(const Prefetch&) = delete;
  Prefetch& operator=(const Prefetch&) = delete;
  // The result, waiting at most `wait` more for it; nullopt when it has not come (the lookup
  // goes on in the background, and a later lookup of the name joins it).
  std::optional<ResolveResult> take(std::chrono::milliseconds wait);

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<PendingLookup> pending_;
};

}  // namespace certwatch::net
