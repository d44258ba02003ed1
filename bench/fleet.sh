#!/usr/bin/env bash
# The fleet scenario (issue 27): one daemon running the cluster source on a 1,000-node
# kv_node_status and the probe's from_cluster on 1,000 targets, 10% of which hang until
# probe.timeout (5 s), with 16 probes in flight; every source polls every PROBE_INTERVAL (60 s).
# Prints a Markdown table: poll durations, series, bytes per scrape, /metrics p50/p99, RSS, CPU
# per poll cycle.
#
# Usage: bench/fleet.sh [NODES [HANG_PERCENT]]    (default 1000 10)
# BUILD_DIR (default build) holds crdb-certwatch and crdb-certwatch-bench-fleet-fixture;
# SCRAPES (default 300) scrapes are timed; PROBE_INTERVAL (default 60) seconds; KEEP=1 keeps the
# work directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
nodes=${1:-1000}
hang=${2:-10}
scrapes=${SCRAPES:-300}
interval=${PROBE_INTERVAL:-60}
work=$(mktemp -d /tmp/certwatch-fleet-XXXXXX)
fixture_pid= daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$fixture_pid" ] && exec 3>&- && wait "$fixture_pid" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The fixture serves until its standard input closes: hold a pipe to it on fd 3.
mkfifo "$work/fixture.in"
"$build/bench/crdb-certwatch-bench-fleet-fixture" "$work" "$nodes" "$hang" "$interval" \
  <"$work/fixture.in" >"$work/fixture.out" 2>"$work/fixture.err" &
fixture_pid=$!
exec 3>"$work/fixture.in"
for _ in $(seq 600); do
  grep -q '^READY' "$work/fixture.out" 2>/dev/null && break
  kill -0 "$fixture_pid" 2>/dev/null || { cat "$work/fixture.err" >&2; exit 1; }
  sleep 0.2
done
fixture=$(grep '^READY' "$work/fixture.out")
echo "fixture: $fixture" >&2

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/metrics"
"$build/daemon/crdb-certwatch" --config.file="$work/config.yaml" \
  --web.listen-address="127.0.0.1:$port" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
started=$(date +%s.%N)

metric() {  # metric NAME{LABELS} -> value in the current exposition
  curl -sf "$url" | awk -v name="$1" '$1 == name { print $2 }'
}
cpu_seconds() {  # utime + stime of the daemon, seconds
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$daemon_pid/stat"
}
wait_probe_success_after() {  # wait until the probe's last success is later than $1
  local deadline=$(($(date +%s) + 4 * interval + 60)) value
  while [ "$(date +%s)" -lt "$deadline" ]; do
    value=$(metric 'crdb_cert_source_last_success_timestamp_seconds{source="probe"}' || true)
    if [ -n "$value" ] && awk -v a="$value" -v b="$1" 'BEGIN { exit !(a > b) }'; then
      echo "$value"
      return 0
    fi
    sleep 0.5
  done
  echo "the probe did not finish a poll in time; daemon log:" >&2
  tail -20 "$work/daemon.log" >&2
  return 1
}

first=$(wait_probe_success_after 0)
first_done=$(date +%s.%N)
cpu_first=$(cpu_seconds)
probe_first=$(metric 'crdb_cert_source_duration_seconds{source="probe"}')
cluster_first=$(metric 'crdb_cert_source_duration_seconds{source="cluster"}')
# One whole cycle more: every source polls once in it (all at the same interval).
second=$(wait_probe_success_after "$first")
cpu_second=$(cpu_seconds)
probe_second=$(metric 'crdb_cert_source_duration_seconds{source="probe"}')
cluster_second=$(metric 'crdb_cert_source_duration_seconds{source="cluster"}')
overruns=$(metric 'crdb_cert_source_overruns_total{source="probe"}')

exposition=$(curl -sf "$url")
printf '%s\n' "$exposition" >"$work/metrics.txt"  # kept with KEEP=1
series=$(grep -vc '^#' <<<"$exposition")
cert_series=$(grep -c '^crdb_cert_not_after_timestamp_seconds{' <<<"$exposition" || true)
probe_timeouts=$(awk -F' ' '/^crdb_cert_probe_errors_total\{.*reason="timeout"/ { n++ } END { print n + 0 }' <<<"$exposition")
probe_ok=$(grep -c '^crdb_cert_probe_success{.*} 1$' <<<"$exposition" || true)
plain_bytes=$(curl -s -o /dev/null -w '%{size_download}' "$url")
gzip_bytes=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "$url")

scrape_times() {
  local urls=()
  for _ in $(seq "$scrapes"); do urls+=(-o /dev/null "$url"); done
  curl -s -w '%{time_total}\n' "$@" "${urls[@]}"
}
percentile() {
  sort -g | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] }'
}
plain=$(scrape_times)
gz=$(scrape_times -H 'Accept-Encoding: gzip')
hwm_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$daemon_pid/status")
rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status")

ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }
sec() { awk -v s="$1" 'BEGIN { printf "%.2f s", s }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
cycle_cpu=$(awk -v a="$cpu_first" -v b="$cpu_second" 'BEGIN { print b - a }')
bound=$(awk -v n="$nodes" -v h="$hang" 'BEGIN { hung = int(n * h / 100); printf "%d", (hung + 15) / 16 * 5 }')
cat <<EOF
Fleet scenario: $fixture; probe concurrency 16, timeout 5 s, every source every ${interval} s.

| figure | value |
|---|---|
| probe poll, first / second | $(sec "$probe_first") / $(sec "$probe_second") (hanging targets alone: ceil(hung/16) x 5 s = ${bound} s; budget: the interval, ${interval} s) |
| cluster poll (kv_node_status, $nodes rows), first / second | $(sec "$cluster_first") / $(sec "$cluster_second") |
| probe overruns (polls past the interval) | ${overruns:-0} |
| probe targets: handshakes / timeouts | $probe_ok / $probe_timeouts |
| series in one scrape | $series ($cert_series certificates with a notAfter) |
| bytes per scrape, plain / gzip | $plain_bytes / $gzip_bytes |
| /metrics p50 / p99, plain | $(ms "$(percentile 50 <<<"$plain")") / $(ms "$(percentile 99 <<<"$plain")") |
| /metrics p50 / p99, gzip | $(ms "$(percentile 50 <<<"$gz")") / $(ms "$(percentile 99 <<<"$gz")") |
| RSS: peak (VmHWM) / now | $(mib "$hwm_kib") / $(mib "$rss_kib") |
| CPU, start to the end of the first probe poll | $(sec "$cpu_first") |
| CPU per poll cycle (one probe, cluster and file poll each) | $(sec "$cycle_cpu") |
EOF
