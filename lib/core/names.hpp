// Host names and addresses compared the way TLS peers compare them: IPs as addresses (any
// spelling inet_pton accepts, v4-mapped IPv6 as IPv4), DNS names case-insensitively without the
// trailing dot, and certificate wildcards as RFC 6125 says.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch {

// The canonical text of an IP address (inet_ntop of inet_pton; a zone id is dropped); nullopt
// when `text` is not an address.
std::optional<std::string> canonical_ip(std::string_view text);
// Whether `name` is a host name as RFC 1123 spells one: dot-separated labels of letters, digits
// and inner hyphens, 1-63 bytes each, 253 in all, no trailing dot. What SNI and a certificate's
// SAN may carry; nothing else (no NUL, no space, no control character) passes.
bool is_dns_host_name(std::string_view name);
// A DNS host name (above) or an IP literal (IPv4 dotted quad, IPv6 without brackets or zone).
bool is_host_name_or_ip(std::string_view host);
// Lowercase, without trailing dots.
std::string canonical_dns_name(std::string_view name);
// Whether a certificate with these SANs is valid for `name` (an IP or a DNS name). A wildcard
// covers exactly one left-most label ("*.db.example" covers "n1.db.example", not
// "db.example" nor "a.n1.db.example"), and never an IP.
bool san_covers(const std::vector<std::string>& dns_names,
                const std::vector<std::string>& ip_addresses, std::string_view name);

// "host:port" or "[v6]:port" split, the port 1-65535 in plain decimal; nullopt for anything else
// (no port, an empty host, a bare IPv6 address without brackets, bytes below 0x21 in the host).
struct HostPort {
  std::string host;
  int port = 0;
};
std::optional<HostPort> split_host_port(std::string_view address);

}  // namespace certwatch
