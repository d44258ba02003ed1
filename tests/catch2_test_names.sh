#!/bin/sh
# Every Catch2 test case name must survive catch_discover_tests: CTest splits a name at ';' (two
# entries, both failing, neither running the test), and a name starting with '-' is read as an
# option. (A ',' is escaped by catch_discover_tests and is fine.) Lists each binary's names and fails on
# any such name.
# Usage: catch2_test_names.sh CATCH2_BINARY...
set -u
bad=0
count=0
for binary in "$@"; do
  # Catch2 v2 exits with the number of names it listed: the output is the verdict.
  names=$("$binary" --list-test-names-only) || true
  if [ -z "$names" ]; then
    echo "FAIL: $binary --list-test-names-only listed nothing" >&2
    exit 1
  fi
  while IFS= read -r name; do
    [ -z "$name" ] && continue
    count=$((count + 1))
    case $name in
    *\;* | -*)
      echo "FAIL: $(basename "$binary"): test name CTest or Catch2 would split or misread: $name" >&2
      bad=1
      ;;
    esac
  done <<NAMES
$names
NAMES
done
if [ "$count" -eq 0 ]; then
  echo "FAIL: no test names listed" >&2
  exit 1
fi
[ "$bad" -eq 0 ] && echo "ok: $count test names in $# binaries, none with ';' or a leading '-'"
exit "$bad"
