// This host's identity (its names and addresses), by which the cluster source recognises the
// node it runs beside in kv_node_status' `address` column. Looked up without blocking a poll for
// long: a DNS that never answers costs a bounded wait.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch::net {
class Prefetch;  // net/resolver.hpp
}

namespace certwatch::sources {

// This host's names and addresses, to recognise the local node by its `address` column.
struct HostIdentity {
  std::vector<std::string> names;      // hostname, canonical name
  std::vector<std::string> addresses;  // textual IPv4/IPv6, any form inet_pton accepts
};
// This host's identity, its name looked up in the background from construction (gethostname(),
// then the name with AI_CANONNAME through net/resolver.hpp), so the lookup overlaps other work;
// getifaddrs() at get().
class HostIdentityLookup {
 public:
  HostIdentityLookup();
  ~HostIdentityLookup();
  HostIdentityLookup(const HostIdentityLookup&) = delete;
  HostIdentityLookup& operator=(const HostIdentityLookup&) = delete;
  // Waits at most `wait` more for the name's lookup; without its answer (a DNS that never
  // answers), the identity holds the host name and the interfaces' addresses only.
  HostIdentity get(std::chrono::milliseconds wait);

 private:
  std::string hostname_;
  std::unique_ptr<net::Prefetch> lookup_;
};
// HostIdentityLookup().get(5 s): blocks on DNS for 5 s at most.
HostIdentity current_host_identity();

// "host:port" -> "host"; "[::1]:26257" -> "::1"; a bare host is returned as is.
std::string address_host(std::string_view address);

}  // namespace certwatch::sources
