#!/usr/bin/env bash
# Soak: the real daemon through CYCLES poll cycles (default 10000) while files change under it
# and /metrics is scraped in parallel; samples VmRSS and open file descriptors and fails when
# either grows after warm-up.
#   bench/soak.sh [CYCLES] [CERTS]        CERTS certificates on disk (default 30: each SIGHUP poll is a cold one)
# Polls are driven by SIGHUP: the config parser takes whole seconds only, and each SIGHUP reloads
# the config and polls every source at once. The driver waits for each poll to finish (its
# crdb_cert_source_last_success_timestamp_seconds changes) before the next SIGHUP, so cycles are
# counted, not coalesced. A mutator rewrites, renames into place, swaps symlinks, chmods and
# deletes certificate files throughout; a scraper fetches /metrics (plain and gzip) throughout.
# Environment: BUILD_DIR (default build-bench), SKIP_BUILD=1, SAMPLE_EVERY (default CYCLES/20).
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-10000}
certs=${2:-30}
build_dir=${BUILD_DIR:-build-bench}
sample_every=${SAMPLE_EVERY:-$((cycles / 20))}
[ "$sample_every" -ge 1 ] || sample_every=1

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" -j2 --target crdb-certwatch crdb-certwatch-gencerts >/dev/null
fi
work=$(mktemp -d /tmp/certwatch-soak.XXXXXX)
pid="" mutator="" scraper="" tailer=""
cleanup() {
  for p in $scraper $mutator $tailer $pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

gencerts="$build_dir/tests/crdb-certwatch-gencerts"
"$gencerts" bench "$work/certs" "$certs" >/dev/null
"$gencerts" bench "$work/pool" 60 >/dev/null  # replacements the mutator swaps in
mkdir -p "$work/versions"
cat >"$work/config.yaml" <<YAML
poll_interval: 1h
files:
  certs_dirs: [$work/certs]
YAML
"$build_dir/daemon/crdb-certwatch" --config.file "$work/config.yaml" \
  --web.listen-address 127.0.0.1:0 --log.level debug 2>"$work/daemon.log" &
pid=$!
# The daemon's log, line by line as it grows, on fd 3.
exec 3< <(tail -n +1 -F "$work/daemon.log" 2>/dev/null)
tailer=$!
port=""
for _ in $(seq 200); do
  port=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$pid," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { cat "$work/daemon.log" >&2; echo "daemon did not start" >&2; exit 1; }
url="http://127.0.0.1:$port/metrics"

wait_for_line() {  # wait_for_line TEXT: returns once the daemon logs a line holding TEXT
  local line
  while IFS= read -r -t 30 line <&3; do
    case $line in *"$1"*) return 0 ;; esac
  done
  echo "the daemon did not log \"$1\" within 30 s" >&2
  return 1
}
# File changes may also trigger polls (inotify); a SIGHUP cycle is the reload line and the first
# finished file poll after it, which started after the reload.
wait_next_poll() {
  wait_for_line "configuration reloaded"
  wait_for_line "poll of source file succeeded"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
fds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }

wait_for_line "poll of source file succeeded"
quiet_fds_before=$(fds)

# The mutator: one change every ~10 ms to a random file, in every way certificates change.
(
  set +e  # a change racing another (a file deleted meanwhile) is part of the test, not an error
  pool=("$work"/pool/*.crt)
  n=0
  while true; do
    n=$((n + 1))
    target="$work/certs/client.user$((RANDOM % certs)).crt"
    source=${pool[$((RANDOM % ${#pool[@]}))]}
    case $((RANDOM % 6)) in
      0) cat "$source" >"$target" ;;                                    # rewrite in place
      1) cp "$source" "$target.tmp" && mv -f "$target.tmp" "$target" ;;  # rename into place
      2) cp "$source" "$work/versions/v$n" && ln -sfn "$work/versions/v$n" "$target" &&
           find "$work/versions" -mmin +1 -delete 2>/dev/null ;;      # symlink swap
      3) chmod 000 "$target" 2>/dev/null; sleep 0.005; chmod 644 "$target" 2>/dev/null ;;
      4) rm -f "$target" ;;                                              # deleted
      5) cp "$source" "$target" ;;                                       # (re)created
    esac
    sleep 0.01
  done
) &
mutator=$!

# The scraper: back-to-back scrapes, plain and gzip, counting failures.
(
  ok=0 failed=0
  trap 'echo "$ok $failed" >"$work/scrapes"; exit 0' TERM
  while true; do
    if curl -sf -o /dev/null "$url" && curl -sf -o /dev/null -H 'Accept-Encoding: gzip' "$url"; then
      ok=$((ok + 2))
    else
      failed=$((failed + 1))
    fi
    sleep 0.01
  done
) &
scraper=$!

declare -a sample_cycle sample_rss sample_fds
start=$(date +%s.%N)
printf '%8s %10s %6s %8s\n' cycle rss_kib fds elapsed_s
for cycle in $(seq 1 "$cycles"); do
  kill -HUP "$pid"
  wait_next_poll
  if [ $((cycle % sample_every)) -eq 0 ] || [ "$cycle" -eq 1 ]; then
    sample_cycle+=("$cycle") sample_rss+=("$(rss_kib)") sample_fds+=("$(fds)")
    printf '%8d %10d %6d %8.1f\n' "$cycle" "${sample_rss[-1]}" "${sample_fds[-1]}" \
      "$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { print n - s }')"
  fi
done
elapsed=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
kill "$mutator" && wait "$mutator" 2>/dev/null || true
mutator=""
kill -TERM "$scraper" && wait "$scraper" 2>/dev/null || true
scraper=""
sleep 1  # let the scrapes' connections close
quiet_fds_after=$(fds)
read -r scrapes_ok scrapes_failed <"$work/scrapes" || { scrapes_ok=0 scrapes_failed=0; }
kill -0 "$pid" || { echo "FAIL: the daemon died" >&2; cat "$work/daemon.log" >&2; exit 1; }

# Warm-up is the first 10% of the cycles: compare the last sample with the one there.
ref=0
for i in "${!sample_cycle[@]}"; do
  [ "${sample_cycle[$i]}" -le $((cycles / 10)) ] && ref=$i
done
ref_rss=${sample_rss[$ref]} last_rss=${sample_rss[-1]}
max_fds=$(printf '%s\n' "${sample_fds[@]}" | sort -n | tail -n1)
rss_ok=$(awk -v a="$ref_rss" -v b="$last_rss" 'BEGIN { d = b - a; print (d <= 2048 || d <= a * 0.10) ? 1 : 0 }')
status=0
echo
polls=$(grep -c "poll of source file succeeded" "$work/daemon.log" || true)
echo "cycles: $cycles SIGHUP polls in ${elapsed}s ($polls file polls in all, counting those file changes triggered); certificates: $certs; scrapes: $scrapes_ok ok, $scrapes_failed failed"
echo "RSS: ${ref_rss} KiB at cycle ${sample_cycle[$ref]} (end of warm-up), ${last_rss} KiB at cycle ${sample_cycle[-1]}, peak $(awk '/^VmHWM:/ { print $2 }' /proc/$pid/status) KiB"
echo "fds: $quiet_fds_before quiet before, $quiet_fds_after quiet after, at most $max_fds while scraped"
if [ "$rss_ok" = 1 ]; then echo "PASS: RSS flat after warm-up (within 10% or 2 MiB)"; else echo "FAIL: RSS grew after warm-up"; status=1; fi
if [ "$quiet_fds_after" -le "$quiet_fds_before" ]; then echo "PASS: no file descriptor leak"; else echo "FAIL: file descriptors leaked"; status=1; fi
if [ "$scrapes_failed" -eq 0 ]; then echo "PASS: every scrape succeeded"; else echo "FAIL: $scrapes_failed scrapes failed"; status=1; fi
exit $status
