#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test through CTest.
# The tests start their own PostgreSQL and Prometheus on 127.0.0.1 and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/check-format.sh
./scripts/build.sh -DCERTWATCH_WERROR=ON
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j2 --timeout 300
