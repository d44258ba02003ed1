#include "x509/facts_text.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <chrono>

#include "x509/der.hpp"

namespace certwatch::x509 {

std::string to_lower_hex(std::string_view bytes) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kDigits[byte >> 4U]);
    hex.push_back(kDigits[byte & 0x0FU]);
  }
  return hex;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<std::string> sha256_hex(std::string_view der) {
  const EVP_MD* sha256 = fetched_digest(NID_sha256);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  unsigned int digest_length = 0;
  if (sha256 == nullptr ||
      EVP_Digest(der.data(), der.size(), digest.data(), &digest_length, sha256, nullptr) != 1) {
    return std::nullopt;
  }
  return to_lower_hex({reinterpret_cast<const char*>(digest.data()), digest_length});
}

std::string serial_text(std::string_view magnitude, bool negative) {
  const std::string hex = to_lower_hex(magnitude);
  const std::size_t first_significant = hex.find_first_not_of('0');
  if (first_significant == std::string::npos) return "0";
  // RFC 5280 forbids negative serials but real CAs have issued them; show the sign rather than
  // pretending the value is positive.
  return (negative ? "-" : "") + hex.substr(first_significant);
}

std::optional<std::int64_t> unix_seconds_of(int year, unsigned month, unsigned day, int hour,
                                            int minute, int second) {
  using namespace std::chrono;
  const year_month_day date{std::chrono::year{year}, std::chrono::month{month},
                            std::chrono::day{day}};
  if (!date.ok()) return std::nullopt;
  const auto midnight = sys_days{date}.time_since_epoch();
  return duration_cast<seconds>(midnight).count() + std::int64_t{hour} * 3600 +
         std::int64_t{minute} * 60 + second;
}

std::optional<std::string> ip_address_text(std::string_view raw) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  int family = 0;
  if (raw.size() == 4) {
    family = AF_INET;
  } else if (raw.size() == 16) {
    family = AF_INET6;
  } else {
    return std::nullopt;
  }
  if (inet_ntop(family, raw.data(), text.data(), static_cast<socklen_t>(text.size())) == nullptr) {
    return std::nullopt;
  }
  return std::string(text.data());
}

}  // namespace certwatch::x509
