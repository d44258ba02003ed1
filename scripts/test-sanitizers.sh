#!/usr/bin/env bash
# The unit and integration tests under AddressSanitizer+UndefinedBehaviorSanitizer and,
# separately, ThreadSanitizer (fuzz/README.md, "Sanitizer runs").
#   scripts/test-sanitizers.sh [address|thread|fuzz|both|all]     default both
# fuzz: every libFuzzer target (fuzz/README.md) for FUZZ_SECONDS each (default 60), from the
# committed seeds, under AddressSanitizer+UndefinedBehaviorSanitizer (needs clang); all: both,
# then fuzz.
# Build directories: build-asan and build-tsan (override with ASAN_BUILD_DIR / TSAN_BUILD_DIR).
# Any sanitizer report fails the test that triggered it (halt_on_error), so CTest's result is the
# verdict. Extra arguments after the mode go to ctest (e.g. -R hostile).
# TESTS="x509_test hostile_dir_test ..." builds only those test executables (tests that start the
# daemon depend on it in tests/CMakeLists.txt) and runs each directly instead of the whole CTest suite: quicker on a
# busy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-both}
shift || true

run() {  # run SANITIZER BUILD_DIR [CTEST ARGS...]
  local sanitizer=$1 dir=$2
  shift 2
  echo "== $sanitizer: building $dir"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCERTWATCH_SANITIZE="$sanitizer" -DCERTWATCH_BUILD_BENCH=OFF >/dev/null
  if [ -n "${TESTS:-}" ]; then
    # shellcheck disable=SC2086
    cmake --build "$dir" -j"${JOBS:-2}" --target $TESTS
  else
    cmake --build "$dir" -j"${JOBS:-2}"
  fi
  echo "== $sanitizer: testing"
  local runner=(ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600)
  [ -n "${TESTS:-}" ] && runner=(bash -c 'status=0
    for t in "$@"; do echo "-- $t"; "$0/tests/$t" || status=1; done; exit $status' "$dir" $TESTS)
  # setarch -R: ThreadSanitizer of this toolchain cannot map its shadow memory under the high
  # mmap randomisation of recent kernels ("unexpected memory mapping"); without ASLR it can.
  LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp:print_suppressions=0 \
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    setarch "$(uname -m)" -R "${runner[@]}" "$@"
}

case $mode in
  address) run address "${ASAN_BUILD_DIR:-build-asan}" "$@" ;;
  thread) run thread "${TSAN_BUILD_DIR:-build-tsan}" "$@" ;;
  fuzz) ./fuzz/run.sh "${FUZZ_SECONDS:-60}" ;;
  both)
    run address "${ASAN_BUILD_DIR:-build-asan}" "$@"
    run thread "${TSAN_BUILD_DIR:-build-tsan}" "$@"
    ;;
  all)
    run address "${ASAN_BUILD_DIR:-build-asan}" "$@"
    run thread "${TSAN_BUILD_DIR:-build-tsan}" "$@"
    ./fuzz/run.sh "${FUZZ_SECONDS:-60}"
    ;;
  *) echo "usage: $0 [address|thread|fuzz|both|all] [ctest args...]" >&2; exit 2 ;;
esac
