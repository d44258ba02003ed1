#!/usr/bin/env bash
# Fails, listing the files, when any tracked C++ source differs from what .clang-format (Debian
# 12's clang-format 14) makes of it. Fix with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if ! report=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
  grep -o '^[^:]*:[0-9]*:[0-9]*: error' <<<"$report" | cut -d: -f1 | sort -u |
    sed 's/^/not formatted: /' >&2
  exit 1
fi
echo "format: ${#files[@]} files match .clang-format"
