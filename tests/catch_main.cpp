// Catch2's main, plus one rule: a run whose tests passed but skipped some for a missing tool
// exits with kSkippedExitCode, so CTest shows "Skipped" instead of a silent pass.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "support/require_tool.hpp"

int main(int argc, char* argv[]) {
  const int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && certwatch::testing::some_test_skipped()) {
    return certwatch::testing::kSkippedExitCode;
  }
  return failed;
}
