#!/bin/sh
# Regenerates deploy/prometheus/crdb-certwatch.rules.yml (and its PrometheusRule twin,
# deploy/kubernetes/base/prometheusrule.yaml) from the default configuration (an empty
# config file: every key at its default). tests/alerting_test.cpp fails when the checked-in file
# and the generator disagree; run this (or `cmake --build <dir> --target regen-deploy`) after
# changing the generator or the defaults, then review the diff.
# Usage: scripts/regen-deploy.sh [path/to/crdb-certwatch]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$root/build/daemon/crdb-certwatch}
empty=$(mktemp)
trap 'rm -f "$empty"' EXIT
printf '{}\n' >"$empty"
out="$root/deploy/prometheus/crdb-certwatch.rules.yml"
"$binary" rules --config.file="$empty" >"$out.tmp"
mv "$out.tmp" "$out"
# The same rules as a PrometheusRule for deploy/kubernetes (tests/kubernetes_test.sh rule).
rule="$root/deploy/kubernetes/base/prometheusrule.yaml"
"$binary" rules --format=prometheus-operator --config.file="$empty" >"$rule.tmp"
mv "$rule.tmp" "$rule"
if command -v promtool >/dev/null 2>&1; then
  promtool check rules "$out"
fi
