#include "core/caps.hpp"

#include <cstdint>
#include <cstdio>

namespace certwatch::caps {
namespace {

// The largest end <= limit that does not split a UTF-8 sequence.
std::size_t boundary(std::string_view text, std::size_t limit) {
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return end;
}

// FNV-1a, 64 bits: stable across runs and builds, so a cut value names the same series after a
// restart.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace

bool bound_label_value(std::string& value) {
  if (value.size() <= kMaxLabelValueBytes) return false;
  char suffix[21];
  std::snprintf(suffix, sizeof suffix, "...#%016llx",
                static_cast<unsigned long long>(fnv1a(value)));
  value.resize(boundary(value, kMaxLabelValueBytes - (sizeof suffix - 1)));
  value += suffix;
  return true;
}

bool bound_text(std::string& text, std::size_t limit) {
  if (text.size() <= limit || limit < 3) return false;
  text.resize(boundary(text, limit - 3));
  text += "...";
  return true;
}

}  // namespace certwatch::caps
