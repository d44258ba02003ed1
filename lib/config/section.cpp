#include "config/section.hpp"

#include <array>
#include <limits>
#include <utility>

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

namespace {

constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kSizeUnits{{
    {"B", 1},
    {"KiB", 1024},
    {"MiB", 1024 * 1024},
    {"GiB", 1024 * 1024 * 1024},
}};

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t pos = 0;
  const auto number = parse_digits(text, pos, std::numeric_limits<std::uint64_t>::max());
  if (!number) return std::nullopt;
  const std::string_view unit = text.substr(pos);
  if (unit.empty()) return number;
  for (const auto& [name, factor] : kSizeUnits) {
    if (name != unit) continue;
    if (*number > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
    return *number * factor;
  }
  return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
  for (auto it = kSizeUnits.rbegin(); it != kSizeUnits.rend(); ++it) {
    if (bytes != 0 && bytes % it->second == 0)
      return std::to_string(bytes / it->second) + std::string(it->first);
  }
  return std::to_string(bytes) + "B";
}

std::string range_text(const SizeRange& range) {
  return "between " + format_size(range.min) + " and " + format_size(range.max);
}

}  // namespace certwatch::config
