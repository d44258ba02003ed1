#include "core/names.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

namespace certwatch {

std::optional<std::string> canonical_ip(std::string_view text) {
  std::string address(text);
  if (const auto zone = address.find('%'); zone != std::string::npos) address.resize(zone);
  char buffer[INET6_ADDRSTRLEN] = {};
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    return std::string(inet_ntop(AF_INET, &v4, buffer, sizeof buffer));
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    // A v4-mapped address (::ffff:10.0.0.1) is the same host as its IPv4 form.
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      std::copy_n(&v6.s6_addr[12], 4, reinterpret_cast<unsigned char*>(&v4.s_addr));
      return std::string(inet_ntop(AF_INET, &v4, buffer, sizeof buffer));
    }
    return std::string(inet_ntop(AF_INET6, &v6, buffer, sizeof buffer));
  }
  return std::nullopt;
}

bool is_dns_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (const char c : label) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_host_name_or_ip(std::string_view host) {
  if (host.find('\0') != std::string_view::npos) return false;  // inet_pton would stop there
  const std::string text(host);
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 ||
         inet_pton(AF_INET6, text.c_str(), &v6) == 1 || is_dns_host_name(host);
}

std::string canonical_dns_name(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

namespace {

bool dns_matches(std::string_view pattern, std::string_view name) {
  if (!pattern.starts_with("*.")) return pattern == name;
  const std::string_view suffix = pattern.substr(1);  // ".db.example"
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return false;
  const std::string_view label = name.substr(0, name.size() - suffix.size());
  return label.find('.') == std::string_view::npos;
}

}  // namespace

bool san_covers(const std::vector<std::string>& dns_names,
                const std::vector<std::string>& ip_addresses, std::string_view name) {
  if (const auto ip = canonical_ip(name)) {
    return std::any_of(ip_addresses.begin(), ip_addresses.end(),
                       [&](const std::string& san) { return canonical_ip(san) == ip; });
  }
  const std::string wanted = canonical_dns_name(name);
  return std::any_of(dns_names.begin(), dns_names.end(), [&](const std::string& san) {
    return dns_matches(canonical_dns_name(san), wanted);
  });
}

std::optional<HostPort> split_host_port(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  const std::string_view port_text = address.substr(colon + 1);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 address must be bracketed to carry a port
  }
  if (host.empty() || port_text.empty() || port_text.size() > 5) return std::nullopt;
  for (const char c : host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  int port = 0;
  for (const char c : port_text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + (c - '0');
  }
  if (port < 1 || port > 65535) return std::nullopt;
  return HostPort{std::string(host), port};
}

}  // namespace certwatch
