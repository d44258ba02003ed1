// libFuzzer target for the CMEK API's response body: sources::parse_cmek_cluster_info on the
// input, and the RFC 3339 and Retry-After readers on its first line. Beyond "no crash, no leak,
// no UB" it checks:
//   - info comes back exactly when there is no error, and an error never quotes the body;
//   - every string kept is within the response-string cap, every timestamp is a unix time of
//     years 1970-9999;
//   - a Retry-After that parses is within a day.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/caps.hpp"
#include "sources/cmek_source.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that got here
}

constexpr double kYear10000 = 253'402'300'800.0;  // 10000-01-01T00:00:00Z

void check_time(const std::optional<double>& t) {
  if (t) require(*t >= 0 && *t < kYear10000);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto parsed = certwatch::sources::parse_cmek_cluster_info(input);
  require(parsed.info.has_value() == parsed.error.empty());
  if (!parsed.error.empty()) require(parsed.error.size() < 1024);
  if (parsed.info) {
    const std::size_t cap = 2 * 1024;  // docs/metrics.md: 2 KiB per response string
    require(parsed.info->status.size() <= cap);
    for (const auto& region : parsed.info->regions) {
      require(region.region.size() <= cap && region.status.size() <= cap);
      for (const auto& key : region.keys) {
        require(key.status.size() <= cap && key.uri.size() <= cap);
        require(key.user_message.size() <= cap && key.auth_principal.size() <= cap);
        check_time(key.created_at);
        check_time(key.updated_at);
      }
    }
  }
  const std::string_view first_line = input.substr(0, input.find('\n'));
  check_time(certwatch::sources::parse_rfc3339(first_line));
  if (const auto retry = certwatch::sources::parse_retry_after(first_line)) {
    require(retry->count() >= 0 && retry->count() <= 86'400);
  }
  return 0;
}
