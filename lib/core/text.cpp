#include "core/text.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iterator>

namespace certwatch {
namespace {

enum class Escape { invalid_utf8, invalid_utf8_and_controls };

// The length of the well-formed UTF-8 sequence that starts at text[at] (Unicode table 3-7), or 0
// when the byte there starts none.
std::size_t sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) {
    return at + i < text.size() ? static_cast<unsigned char>(text[at + i]) : 0u;
  };
  const unsigned lead = byte(0);
  if (lead < 0x80) return 1;
  const auto continuation = [&](std::size_t i, unsigned low = 0x80, unsigned high = 0xbf) {
    return byte(i) >= low && byte(i) <= high;
  };
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    // E0 would be overlong below A0; ED at A0 and above encodes a surrogate.
    const unsigned low = lead == 0xe0 ? 0xa0 : 0x80;
    const unsigned high = lead == 0xed ? 0x9f : 0xbf;
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    // F0 would be overlong below 90; F4 at 90 and above is past U+10FFFF.
    const unsigned low = lead == 0xf0 ? 0x90 : 0x80;
    const unsigned high = lead == 0xf4 ? 0x8f : 0xbf;
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;  // a continuation byte on its own, C0/C1 (always overlong), F5..FF
}

// One character of the input (or one stray byte) and whether it is written as `\xNN` escapes.
struct Unit {
  std::size_t length;
  bool escaped;
};

// The code point of the well-formed sequence of `length` bytes at text[at].
char32_t code_point(std::string_view text, std::size_t at, std::size_t length) {
  const auto byte = [&](std::size_t i) { return static_cast<char32_t>(text[at + i] & 0xff); };
  switch (length) {
    case 1:
      return byte(0);
    case 2:
      return (byte(0) & 0x1f) << 6 | (byte(1) & 0x3f);
    case 3:
      return (byte(0) & 0x0f) << 12 | (byte(1) & 0x3f) << 6 | (byte(2) & 0x3f);
    default:
      return (byte(0) & 0x07) << 18 | (byte(1) & 0x3f) << 12 | (byte(2) & 0x3f) << 6 |
             (byte(3) & 0x3f);
  }
}

// Characters that change how the text around them shows or that show as nothing: the bidi
// embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) that make "exe.txt" of
// "txt.exe", the other format characters (Unicode general category Cf, Unicode 15), the line and
// paragraph separators, variation selectors, tags, and the letters that render blank (Hangul
// fillers, Khmer inherent vowels, the combining grapheme joiner).
bool invisible_or_format(char32_t c) {
  struct Range {
    char32_t first, last;
  };
  static constexpr Range kRanges[] = {
      {0x00ad, 0x00ad},   {0x034f, 0x034f},   {0x0600, 0x0605},   {0x061c, 0x061c},
      {0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x0890, 0x0891},   {0x08e2, 0x08e2},
      {0x115f, 0x1160},   {0x17b4, 0x17b5},   {0x180b, 0x180f},   {0x200b, 0x200f},
      {0x2028, 0x202e},   {0x2060, 0x206f},   {0x3164, 0x3164},   {0xfe00, 0xfe0f},
      {0xfeff, 0xfeff},   {0xffa0, 0xffa0},   {0xfff0, 0xfffb},   {0x110bd, 0x110bd},
      {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a},
      {0xe0000, 0xe0fff},
  };
  for (const Range& range : kRanges) {
    if (c < range.first) return false;  // the ranges are sorted
    if (c <= range.last) return true;
  }
  return false;
}

Unit unit_at(std::string_view text, std::size_t at, Escape escape) {
  const std::size_t length = sequence_length(text, at);
  if (length == 0) return {1, true};
  if (escape == Escape::invalid_utf8) return {length, false};
  const char32_t c = code_point(text, at, length);
  const bool c0_del_or_c1 = c < 0x20 || (c >= 0x7f && c <= 0x9f);
  return {length, c0_del_or_c1 || invisible_or_format(c)};
}

// Whether the backslash at text[at] must be doubled: what follows it would otherwise read as (or
// run into) an escape.
bool backslash_needs_doubling(std::string_view text, std::size_t at, Escape escape) {
  if (at + 1 >= text.size()) return false;
  const char next = text[at + 1];
  return next == 'x' || next == '\\' || unit_at(text, at + 1, escape).escaped;
}

// Where the first character that the escaping changes starts; text.size() when none does.
std::size_t unchanged_prefix(std::string_view text, Escape escape) {
  std::size_t at = 0;
  while (at < text.size()) {
    const Unit unit = unit_at(text, at, escape);
    if (unit.escaped || (text[at] == '\\' && backslash_needs_doubling(text, at, escape))) break;
    at += unit.length;
  }
  return at;
}

std::string escape_bytes(std::string_view text, Escape escape) {
  std::size_t at = unchanged_prefix(text, escape);
  std::string out(text.substr(0, at));
  out.reserve(text.size() + 16);
  static constexpr char kHex[] = "0123456789abcdef";
  while (at < text.size()) {
    const Unit unit = unit_at(text, at, escape);
    if (unit.escaped) {
      for (std::size_t i = at; i < at + unit.length; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        out += {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xf]};
      }
    } else if (text[at] == '\\' && backslash_needs_doubling(text, at, escape)) {
      out += "\\\\";
    } else {
      out.append(text.substr(at, unit.length));
    }
    at += unit.length;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string human_duration(double seconds) {
  const bool negative = seconds < 0;
  auto left = static_cast<std::int64_t>(std::llround(std::fabs(seconds)));
  struct Unit {
    std::int64_t size;
    char suffix;
  };
  static constexpr Unit kUnits[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  std::string out;
  std::size_t first = 0;  // the largest unit with a non-zero count
  while (first + 1 < std::size(kUnits) && left < kUnits[first].size) ++first;
  for (std::size_t i = first; i < std::min(first + 2, std::size(kUnits)); ++i) {
    const std::int64_t count = left / kUnits[i].size;
    left %= kUnits[i].size;
    if (count > 0) out += (out.empty() ? "" : " ") + std::to_string(count) + kUnits[i].suffix;
  }
  if (out.empty()) out = "0s";
  return negative ? "-" + out : out;
}

std::string utc_time(std::int64_t unix_seconds, const char* format) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  if (std::strftime(buffer, sizeof buffer, format, &tm) == 0) return {};
  return buffer;
}

std::string escape_html(std::string_view raw) {
  const std::string text = escape_for_display(raw);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_markdown(std::string_view raw) {
  static constexpr std::string_view kMarkup = "\\`*_[]<>|&~#!";
  const std::string text = escape_for_display(raw);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (kMarkup.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = sequence_length(text, at);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

std::string escape_invalid_utf8(std::string_view bytes) {
  return escape_bytes(bytes, Escape::invalid_utf8);
}

void escape_invalid_utf8_in_place(std::string& text) {
  if (unchanged_prefix(text, Escape::invalid_utf8) == text.size()) return;
  text = escape_bytes(text, Escape::invalid_utf8);
}

std::string escape_for_display(std::string_view bytes) {
  return escape_bytes(bytes, Escape::invalid_utf8_and_controls);
}

bool shows_as_it_is(std::string_view bytes) {
  return unchanged_prefix(bytes, Escape::invalid_utf8_and_controls) == bytes.size();
}

std::string unescape_bytes(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t at = 0; at < escaped.size(); ++at) {
    const char c = escaped[at];
    const char next = at + 1 < escaped.size() ? escaped[at + 1] : '\0';
    if (c == '\\' && next == '\\') {
      out += '\\';
      ++at;
    } else if (c == '\\' && next == 'x' && at + 3 < escaped.size() &&
               hex_value(escaped[at + 2]) >= 0 && hex_value(escaped[at + 3]) >= 0) {
      out += static_cast<char>(hex_value(escaped[at + 2]) * 16 + hex_value(escaped[at + 3]));
      at += 3;
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view trim_whitespace(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\r\n\f\v";
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
}

}  // namespace certwatch
