#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60), one after the other on one core, starting
# from the committed seed corpus. New inputs go to a working corpus in the build directory, so
# the committed corpus changes only when you merge on purpose (fuzz/README.md).
#   fuzz/run.sh [SECONDS] [TARGET...]      TARGET: x509 config cmek_json web_config node_status
#                                          (default all)
# Exits non-zero when a target finds a crash; the input is in BUILD_DIR/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-fuzz}
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x509 config cmek_json web_config node_status)

for target in "${targets[@]}"; do
  [ -x "$build_dir/fuzz/${target}_fuzz" ] || { ./fuzz/build.sh; break; }
done
mkdir -p "$build_dir/artifacts"
status=0
for target in "${targets[@]}"; do
  work="$build_dir/corpus-$target"
  dict=
  [ -f "fuzz/$target.dict" ] && dict="../fuzz/$target.dict"
  mkdir -p "$work"
  echo "== ${target}_fuzz for ${seconds}s (corpus $work, seeds fuzz/corpus/$target)"
  # -jobs=1: one process, the machine's cores are shared; its log lands in fuzz-0.log.
  if ! (cd "$build_dir" && "./fuzz/${target}_fuzz" -jobs=1 -workers=1 \
        -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        ${dict:+-dict="$dict"} -artifact_prefix=artifacts/ -print_final_stats=1 \
        "corpus-$target" "../fuzz/corpus/$target" >/dev/null 2>&1); then
    status=1
  fi
  mv "$build_dir/fuzz-0.log" "$build_dir/$target-fuzz.log"
  grep -E "^#[0-9]+.*DONE|^stat::number_of_executed_units|^stat::peak_rss|ERROR|SUMMARY" \
    "$build_dir/$target-fuzz.log" || true
  tail -n 1 "$build_dir/$target-fuzz.log"
done
exit $status
