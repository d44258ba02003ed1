#!/usr/bin/env bash
# Builds the libFuzzer targets (x509_fuzz, config_fuzz) with clang into BUILD_DIR (default
# build-fuzz/). Not part of the normal build: libFuzzer needs clang, the project builds with g++.
# Debian packages: clang libclang-rt-14-dev (scripts/deps.sh does not install them).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-fuzz}
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCERTWATCH_BUILD_FUZZ=ON -DCERTWATCH_BUILD_TESTS=OFF -DCERTWATCH_BUILD_BENCH=OFF >/dev/null
targets="x509_fuzz config_fuzz cmek_json_fuzz web_config_fuzz node_status_fuzz"
# shellcheck disable=SC2086
cmake --build "$build_dir" -j"${JOBS:-2}" --target $targets
echo "built in $build_dir/fuzz: $targets"
