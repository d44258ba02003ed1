// libFuzzer target for --web.config.file: web::parse_web_config on the input as YAML. Beyond "no
// crash, no leak, no UB" it checks that a config comes back exactly when there are no errors, that
// every error says something and names its file, and that parsing touches no file (the paths it
// names live in a directory that does not exist).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/web_config.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that got here
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string file = "/nonexistent-certwatch-fuzz/web.yml";
  const auto loaded = certwatch::web::parse_web_config(input, file);
  require(loaded.config.has_value() == loaded.errors.empty());
  for (const auto& error : loaded.errors) {
    require(!error.message.empty());
    require(error.to_string().starts_with(file));
  }
  return 0;
}
