#!/bin/sh
# Proves the `-w NoTests` every test entry passes works: a Catch2 binary asked for a test case
# that does not exist must exit non-zero and say that nothing matched. Otherwise a renamed test
# would leave a CTest entry that passes while running nothing.
# Usage: catch2_no_tests.sh CATCH2_BINARY
set -u
out=$("$1" "no test is named like this" -w NoTests 2>&1)
rc=$?
if [ "$rc" -eq 0 ]; then
  echo "FAIL: $1 exited 0 when asked for a test case that does not exist" >&2
  exit 1
fi
case $out in
*"No test cases matched"*) ;;
*)
  echo "FAIL: $1 exited $rc without saying that no test case matched:" >&2
  echo "$out" >&2
  exit 1
  ;;
esac
echo "ok: $1 refuses a filter that matches no test case (exit $rc)"
