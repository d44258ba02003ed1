#!/usr/bin/env bash
# Side by side with blackbox_exporter (issue 13): both probe the same N plain-TLS targets on
# 127.0.0.1 in one run, and the table says whether they agree on each target's earliest expiry
# (blackbox's probe_ssl_earliest_cert_expiry vs the minimum served notAfter here), probes per
# second and CPU seconds per probe for each, and the ratio.
#   bench/probe_vs_blackbox.sh [N]     N targets (default 200)
# Needs: openssl, python3, Debian's prometheus-blackbox-exporter, curl; the daemon built in
# BUILD_DIR (default build). CONCURRENCY (default 16) probes in flight on both sides; ROUNDS
# (default 3) probes of every target per side.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-200}
build_dir=${BUILD_DIR:-build}
concurrency=${CONCURRENCY:-16}
rounds=${ROUNDS:-3}
daemon="$build_dir/daemon/crdb-certwatch"
blackbox=$(command -v prometheus-blackbox-exporter || true)
[ -x "$daemon" ] || { echo "build the daemon first ($daemon)" >&2; exit 1; }
[ -n "$blackbox" ] || { echo "apt-get install prometheus-blackbox-exporter" >&2; exit 1; }

work=$(mktemp -d /tmp/certwatch-probe-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# CPU seconds (user + system) a process has used so far, from /proc (clock ticks).
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}
now() { date +%s.%N; }

echo "making a CA and $count leaves with distinct lifetimes in $work ..." >&2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-ca \
  -keyout "$work/ca.key" -out "$work/ca.crt" -days 3650 2>/dev/null
for i in $(seq 1 "$count"); do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=node \
    -keyout "$work/leaf$i.key" -out "$work/leaf$i.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$work/ext"
  openssl x509 -req -in "$work/leaf$i.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
    -CAcreateserial -days $((30 + i)) -extfile "$work/ext" -out "$work/leaf$i.crt" 2>/dev/null
done

# One small server process listening on N ports, each serving its own leaf + the CA.
cat >"$work/serve.py" <<'PY'
import asyncio, socket, ssl, sys
work, count = sys.argv[1], int(sys.argv[2])
async def main():
    ports = []
    for i in range(1, count + 1):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{work}/leaf{i}.crt", f"{work}/leaf{i}.key")
        async def handle(reader, writer):
            try:
                await reader.read(1)
            except Exception:
                pass
            writer.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx, backlog=256)
        ports.append(server.sockets[0].getsockname()[1])
    with open(f"{work}/ports", "w") as f:
        f.write("\n".join(map(str, ports)) + "\n")
    await asyncio.Event().wait()
asyncio.run(main())
PY
python3 "$work/serve.py" "$work" "$count" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/ports" ] && break; sleep 0.1; done
mapfile -t ports <"$work/ports"

# Expected: each target's leaf notAfter (the CA outlives every leaf).
for i in $(seq 1 "$count"); do
  date -d "$(openssl x509 -in "$work/leaf$i.crt" -noout -enddate | cut -d= -f2)" +%s
done >"$work/expected"

# --- blackbox_exporter: one /probe request per target, CONCURRENCY at a time.
cat >"$work/blackbox.yml" <<'YML'
modules:
  tls_connect:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config:
        insecure_skip_verify: true
YML
bb_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$blackbox" --config.file="$work/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" \
  >"$work/blackbox.log" 2>&1 &
bb_pid=$!
pids+=($bb_pid)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$bb_port/metrics" >/dev/null && break; sleep 0.1; done
probe_blackbox() {
  printf '%s\n' "${ports[@]}" | xargs -P "$concurrency" -I{} sh -c \
    "curl -sf 'http://127.0.0.1:$bb_port/probe?module=tls_connect&target=127.0.0.1:{}' | \
     sed -n 's/^probe_ssl_earliest_cert_expiry \(.*\)/{} \1/p'"
}
probe_blackbox >/dev/null  # warm
bb_cpu0=$(cpu_seconds "$bb_pid"); t0=$(now)
for _ in $(seq 1 "$rounds"); do probe_blackbox >"$work/blackbox.out"; done
t1=$(now); bb_cpu1=$(cpu_seconds "$bb_pid")

# --- crdb-certwatch: the probe source alone, ROUNDS polls at a 1 s interval.
{
  printf 'files:\n  certs_dirs: ["%s/empty"]\nprobe:\n  poll_interval: 1s\n  timeout: 5s\n' "$work"
  printf '  concurrency: %s\n  ca_file: %s/ca.crt\n  targets:\n' "$concurrency" "$work"
  for p in "${ports[@]}"; do printf '    - {address: "127.0.0.1:%s", protocol: tls}\n' "$p"; done
} >"$work/certwatch.yml"
mkdir -p "$work/empty"
cw_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$daemon" --config.file="$work/certwatch.yml" --web.listen-address="127.0.0.1:$cw_port" \
  --log.level=warn >"$work/certwatch.log" 2>&1 &
cw_pid=$!
pids+=($cw_pid)
polls() {  # finished probe polls so far: the probe source's last success timestamp changes
  curl -sf "http://127.0.0.1:$cw_port/metrics" |
    sed -n 's/^crdb_cert_source_last_success_timestamp_seconds{source="probe"} //p'
}
wait_poll_after() {  # waits for a probe poll that finished after $1
  for _ in $(seq 1 600); do
    local t; t=$(polls || true)
    if [ -n "$t" ] && awk -v a="$t" -v b="$1" 'BEGIN { exit !(a > b) }'; then echo "$t"; return; fi
    sleep 0.05
  done
  echo "no probe poll finished" >&2; exit 1
}
first=$(wait_poll_after 0)
cw_cpu0=$(cpu_seconds "$cw_pid"); t2=$(now)
last=$first
for _ in $(seq 1 "$rounds"); do last=$(wait_poll_after "$last"); done
t3=$(now); cw_cpu1=$(cpu_seconds "$cw_pid")
# The last poll's own duration: our probes per second without the 1 s pacing between polls.
poll_seconds=$(curl -sf "http://127.0.0.1:$cw_port/metrics" |
  sed -n 's/^crdb_cert_source_duration_seconds{source="probe"} //p')
curl -sf "http://127.0.0.1:$cw_port/metrics" |
  sed -n 's/^crdb_cert_not_after_timestamp_seconds{source="probe",[^}]*path="127.0.0.1:\([0-9]*\)"[^}]*} \(.*\)/\1 \2/p' \
  >"$work/certwatch.out"

# --- agreement: blackbox's earliest expiry vs our minimum served notAfter, per target.
agree=$(awk 'FNR == NR { bb[$1] = $2; next }
  { if (!($1 in min) || $2 < min[$1]) min[$1] = $2 }
  END { n = 0; for (p in bb) if ((p in min) && bb[p] - min[p] < 1 && min[p] - bb[p] < 1) n++; print n }' \
  "$work/blackbox.out" "$work/certwatch.out")
bb_targets=$(wc -l <"$work/blackbox.out")
cw_targets=$(cut -d' ' -f1 "$work/certwatch.out" | sort -u | wc -l)

awk -v n="$count" -v r="$rounds" -v c="$concurrency" \
  -v bbw="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" -v bbc="$(awk -v a="$bb_cpu0" -v b="$bb_cpu1" 'BEGIN{print b-a}')" \
  -v cww="$(awk -v a="$t2" -v b="$t3" 'BEGIN{print b-a}')" -v cwc="$(awk -v a="$cw_cpu0" -v b="$cw_cpu1" 'BEGIN{print b-a}')" \
  -v agree="$agree" -v bbt="$bb_targets" -v cwt="$cw_targets" -v poll="$poll_seconds" 'BEGIN {
  probes = n * r
  printf "| %d plain-TLS targets on 127.0.0.1, %d rounds, %d in flight | blackbox_exporter | crdb-certwatch | ratio (ours / blackbox) |\n", n, r, c
  printf "|---|---|---|---|\n"
  printf "| targets with an earliest expiry | %d | %d | |\n", bbt, cwt
  printf "| earliest expiry agrees (±1 s) | %d / %d | | |\n", agree, n
  bbcpp = bbc / probes; cwcpp = cwc / probes
  printf "| wall seconds per round of %d probes | %.2f | %.2f (one poll) | %.2f |\n", n, bbw / r, poll, poll / (bbw / r)
  printf "| probes per second | %.0f | %.0f | %.2f |\n", probes / bbw, n / poll, (n / poll) / (probes / bbw)
  printf "| CPU seconds per probe | %.6f | %.6f | %.2f |\n", bbcpp, cwcpp, (bbcpp > 0 ? cwcpp / bbcpp : 0)
}'
