// libFuzzer target for the config parser: config::parse_config on the input as YAML, and the
// duration syntax on its first line. Beyond "no crash, no leak, no UB" it checks:
//   - a config comes back exactly when there are no errors, and every error says something;
//   - every duration that parses is spelled back by format_duration to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that got here
}

void check_duration_round_trip(std::string_view text) {
  const auto parsed = certwatch::config::parse_duration(text);
  if (!parsed) return;
  require(parsed->count() >= 0);
  const std::string spelled = certwatch::config::format_duration(*parsed);
  const auto reparsed = certwatch::config::parse_duration(spelled);
  require(reparsed.has_value() && *reparsed == *parsed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // A directory that does not exist: a relative dsn_file can never read a real file, so runs are
  // reproducible.
  const certwatch::config::LoadResult loaded =
      certwatch::config::parse_config(input, "/nonexistent-certwatch-fuzz/config.yaml");
  require(loaded.config.has_value() == loaded.errors.empty());
  for (const auto& error : loaded.errors) {
    require(!error.message.empty());
    require(!error.to_string().empty());
  }
  if (loaded.config) {
    for (const auto& rule : loaded.config->rules) require(!rule.cert_types.empty());
  }

  check_duration_round_trip(input.substr(0, input.find('\n')));
  return 0;
}
