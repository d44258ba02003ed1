#include "sources/host_identity.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "net/resolver.hpp"

namespace certwatch::sources {
namespace {

void add_unique(std::vector<std::string>& items, std::string item) {
  if (!item.empty() && std::find(items.begin(), items.end(), item) == items.end()) {
    items.push_back(std::move(item));
  }
}

std::string sockaddr_text(const sockaddr* address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    if (inet_ntop(AF_INET, &v4->sin_addr, buffer, sizeof buffer) != nullptr) return buffer;
  } else if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (inet_ntop(AF_INET6, &v6->sin6_addr, buffer, sizeof buffer) != nullptr) return buffer;
  }
  return {};
}

}  // namespace

std::string address_host(std::string_view address) {
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    if (close != std::string_view::npos) return std::string(address.substr(1, close - 1));
    return std::string(address);
  }
  const auto colon = address.find(':');
  // More than one colon without brackets: a bare IPv6 address, no port.
  if (colon == std::string_view::npos || address.find(':', colon + 1) != std::string_view::npos) {
    return std::string(address);
  }
  return std::string(address.substr(0, colon));
}

HostIdentityLookup::HostIdentityLookup() {
  char hostname[256] = {};
  if (gethostname(hostname, sizeof hostname - 1) == 0 && hostname[0] != '\0') {
    hostname_ = hostname;
    lookup_ = std::make_unique<net::Prefetch>(hostname_);
  }
}

HostIdentityLookup::~HostIdentityLookup() = default;

HostIdentity HostIdentityLookup::get(std::chrono::milliseconds wait) {
  HostIdentity host;
  if (!hostname_.empty()) add_unique(host.names, hostname_);
  if (lookup_) {
    if (const auto found = lookup_->take(wait); found && found->error.empty()) {
      if (!found->canonical_name.empty()) add_unique(host.names, found->canonical_name);
      for (const auto& endpoint : found->endpoints) {
        add_unique(host.addresses, sockaddr_text(endpoint.data()));
      }
    }
  }
  ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) == 0) {
    const std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> owner{interfaces, &freeifaddrs};
    for (const ifaddrs* entry = interfaces; entry != nullptr; entry = entry->ifa_next) {
      if (entry->ifa_addr != nullptr) add_unique(host.addresses, sockaddr_text(entry->ifa_addr));
    }
  }
  return host;
}

HostIdentity current_host_identity() { return HostIdentityLookup().get(std::chrono::seconds{5}); }

}  // namespace certwatch::sources
