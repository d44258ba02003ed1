// Times as people read them, shared by the status page and `check`. Pure formatting, no clock.
#pragma once

#include <cstdint>
#include <string>

namespace certwatch {

// The two largest non-zero units of a duration: "29d 23h", "-2d 1h", "5m 3s", "1d", "0s".
std::string human_duration(double seconds);

// Unix seconds as UTC in a strftime format, e.g. "%Y-%m-%dT%H:%M:%SZ".
std::string utc_time(std::int64_t unix_seconds, const char* format);

}  // namespace certwatch
