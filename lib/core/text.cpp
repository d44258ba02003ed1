#include "core/text.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iterator>

namespace certwatch {

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

}  // namespace certwatch
