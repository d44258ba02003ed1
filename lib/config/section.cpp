#include "config/section.hpp"

#include "core/types.hpp"

namespace certwatch::config {

// Accumulates decimal digits from text[pos]; nullopt on overflow or when there are none.
std::optional<std::uint64_t> parse_digits(std::string_view text, std::size_t& pos,
                                          std::uint64_t max) {
  const std::size_t start = pos;
  std::uint64_t value = 0;
  for (; pos < text.size() && is_digit(text[pos]); ++pos) {
    const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (pos == start) return std::nullopt;
  return value;
}

// A user-supplied (non-secret) value for an error message: quoted, bounded, printable.
std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  std::string out = "\"";
  for (char c : text.substr(0, kMaxShown)) {
    out += (c >= 0x20 && c != 0x7f) ? c : '?';
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

std::string cert_type_list() {
  return name_list(all_cert_types(), [](CertType type) { return to_string(type); });
}

std::string trim_trailing_whitespace(std::string text) {
  const auto end = text.find_last_not_of(" \t\r\n\f\v");
  text.erase(end == std::string::npos ? 0 : end + 1);
  return text;
}

std::string range_text(const DurationRange& range) {
  return "between " + format_duration(range.min) + " and " + format_duration(range.max);
}

}  // namespace certwatch::config
