#!/bin/bash
# The test suite's last entry (a CTest fixture cleanup every test requires, so it runs after all of
# them, with -j too, and after any subset ctest -R selects): fails when a process the run started
# from the build tree is still alive, and names each (issue 29). A process counts when its
# executable is in the build tree (the daemon, a test binary) or its environment carries the
# CERTWATCH_TEST_OWNER marker tests/support/process.cpp gives every child (inherited by what the
# child starts: the daemon under strace, PostgreSQL's backends, Chromium's helpers).
#
# usage: process_guard.sh BUILD_DIR [WAIT_SECONDS]
set -u
build=$(realpath "$1")
wait_seconds=${2:-10}

# One line per live process of the run: pid, parent, executable, command line, the test case that
# started it.
scan() {
  local dir pid exe owner test_case args
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = "$$" ] && continue
    exe=$(readlink "$dir/exe" 2>/dev/null) || exe=""
    owner="" test_case=""
    if [ -r "$dir/environ" ]; then
      while IFS= read -r -d '' entry; do
        case $entry in
          CERTWATCH_TEST_OWNER=*) owner=${entry#CERTWATCH_TEST_OWNER=} ;;
          CERTWATCH_TEST_CASE=*) test_case=${entry#CERTWATCH_TEST_CASE=} ;;
        esac
      done 2>/dev/null <"$dir/environ"
    fi
    case $exe/ in "$build"/*) ;; *) case $owner in "$build"/*) ;; *) continue ;; esac ;; esac
    args=$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null)
    [ -z "$args" ] && [ -z "$exe" ] && continue # exited meanwhile, or a kernel thread
    echo "pid $pid (parent $(awk '{print $4}' "$dir/stat" 2>/dev/null)): ${args:-$exe}" \
      "[started by ${owner:-?} ${test_case}]"
  done
}

# Processes of the run that are exiting right now (the test process guardians, a daemon finishing
# its shutdown) get a moment.
deadline=$((SECONDS + wait_seconds))
while :; do
  left=$(scan)
  [ -z "$left" ] && exit 0
  [ "$SECONDS" -ge "$deadline" ] && break
  sleep 0.5
done
echo "processes started by the test run from $build are still running:"
echo "$left"
exit 1
