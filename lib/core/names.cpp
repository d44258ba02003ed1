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

}  // namespace certwatch
