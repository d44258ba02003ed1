#!/usr/bin/env bash
# Noise-free companion to bench/run.sh: instructions executed (valgrind callgrind, Ir) by the
# floor's single pass and by `crdb-certwatch check` (start-up, one cold poll, evaluation,
# rendering, the report) over the same N certificates. Wall and CPU time on a shared 2-core
# machine swing by ±30% from one second to the next; instruction counts do not.
#   bench/instructions.sh [N]      default 1000 (callgrind runs ~50x slower than native)
# Environment: BUILD_DIR (default build-bench; bench/run.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
build_dir=${BUILD_DIR:-build-bench}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d /tmp/certwatch-instr.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$build_dir/tests/crdb-certwatch-gencerts" bench "$work/certs" "$count" >&2
printf 'files:\n  certs_dirs: [%s]\n' "$work/certs" >"$work/config.yaml"
instructions() {  # instructions COMMAND... -> Ir count
  valgrind --tool=callgrind --callgrind-out-file="$work/out" "$@" >/dev/null 2>"$work/log" || true
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/log"
}
floor=$(instructions "$build_dir/bench/crdb-certwatch-bench-floor" "$work/certs" 1)
daemon=$(instructions "$build_dir/daemon/crdb-certwatch" check --config.file "$work/config.yaml")
awk -v n="$count" -v f="$floor" -v d="$daemon" 'BEGIN {
  printf "%d certificates: floor %.0f M instructions, crdb-certwatch check %.0f M, ratio %.3f\n",
    n, f / 1e6, d / 1e6, d / f }'
