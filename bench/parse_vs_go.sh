#!/usr/bin/env bash
# Parse speed side by side, in one run (issue 15): the same N PEM certificates (mixed RSA-2048,
# RSA-4096 and P-256 keys; one per file, and one bundle of all) parsed by
#   go        pem.Decode + x509.ParseCertificate (what Go exporters do)    bench/go/parse_certs.go
#   openssl   the floor's bare loop: PEM_read_bio_X509 + notAfter          crdb-certwatch-bench-parse
#   daemon    x509::parse_pem_bundle, every fact the daemon uses           crdb-certwatch-bench-parse
# Each figure is microseconds of CPU time per certificate (the process's, every thread: what
# compares on a machine other work shares; wall times are in the raw lines on stderr), the
# fastest of REPEATS passes:
#   parse only   files read into memory first, then parsed
#   end-to-end   list the directory, read every file, parse
#   bundle       the one bundle file, in memory
#   bench/parse_vs_go.sh [N]      N default 5000; BUILD_DIR (build-bench), SKIP_BUILD=1, REPEATS (5)
# Needs Debian's golang-go (standard library only, no modules).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
build_dir=${BUILD_DIR:-build-bench}
repeats=${REPEATS:-5}
command -v go >/dev/null || { echo "parse_vs_go.sh needs go (apt-get install golang-go)" >&2; exit 1; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCERTWATCH_BUILD_BENCH=ON >/dev/null
  cmake --build "$build_dir" -j2 --target crdb-certwatch-bench-parse >/dev/null
fi
work=$(mktemp -d /tmp/certwatch-parse-vs-go.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GOCACHE=${GOCACHE:-$work/gocache} GOFLAGS=-mod=mod GO111MODULE=off

# Temporary: bench/go/gen_certs.go writes the mixed-key fixture until crdb-certwatch-gencerts does.
echo "generating $count certificates in $work/certs ..." >&2
go run bench/go/gen_certs.go "$work/certs" "$work/bundle.pem" "$count" >&2
go build -o "$work/parse_certs" bench/go/parse_certs.go

parser="$build_dir/bench/crdb-certwatch-bench-parse"
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
go_line=$("$work/parse_certs" "$work/certs" "$work/bundle.pem" "$repeats")
echo "go:      $go_line" >&2
openssl_line=$("$parser" openssl "$work/certs" "$work/bundle.pem" "$repeats")
echo "openssl: $openssl_line" >&2
daemon_line=$("$parser" daemon "$work/certs" "$work/bundle.pem" "$repeats")
echo "daemon:  $daemon_line" >&2

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() {  # row NAME LINE
  local parse e2e bundle
  parse=$(field parse_cpu_us "$2") e2e=$(field e2e_cpu_us "$2") bundle=$(field bundle_cpu_us "$2")
  echo "| $1 | $(field certs "$2") | $parse | $e2e | $bundle | $(ratio "$parse" "$(field parse_cpu_us "$go_line")") | $(ratio "$e2e" "$(field e2e_cpu_us "$go_line")") |"
}
verdict=$(awk -v a="$(field parse_cpu_us "$daemon_line")" -v b="$(field parse_cpu_us "$go_line")" \
  'BEGIN { print (a <= b) ? "PASS" : "FAIL" }')
cat <<TABLE

crdb-certwatch parse vs Go: $count certificates (RSA-2048, RSA-4096, P-256 in turn), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)
command: bench/parse_vs_go.sh $count   $(go version | cut -d' ' -f3)   $(openssl version | cut -d' ' -f1-2)
µs of CPU time per certificate, fastest of $repeats passes

| parser | certs | parse only | end-to-end | bundle | parse-only ratio to Go | end-to-end ratio to Go |
|---|---|---|---|---|---|---|
$(row "Go: pem.Decode + x509.ParseCertificate" "$go_line")
$(row "OpenSSL floor: PEM_read_bio_X509 + notAfter" "$openssl_line")
$(row "crdb-certwatch: x509::parse_pem_bundle" "$daemon_line")

goal: daemon parse only <= Go: $verdict
TABLE
