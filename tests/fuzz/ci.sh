#!/usr/bin/env bash
# fuzz/ci.sh [SECONDS [BUILD_DIR]] - the bounded fuzz run of scripts/test.sh:
# builds fuzz_import (via run.sh, in BUILD_DIR, default build-fuzz/) and fuzzes
# for SECONDS (default 60) from a fresh temp copy of the seeds (tiny models,
# tests/ir/*.mir, tests/fuzz/regressions/), one job, -timeout=10,
# -rss_limit_mb=2048. Any crash, sanitizer report, leak, MIXC_BUG abort,
# timeout or out-of-memory fails it; the input is kept in BUILD_DIR/artifacts/
# and must become a file in tests/fuzz/regressions/ once fixed (see run.sh).
set -uo pipefail
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
b=${2:-$(cd "$here/../.." && pwd)/build-fuzz}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$b/artifacts"
before=$(ls "$b/artifacts" | wc -l)
FUZZ_CORPUS=$tmp/corpus bash "$here/run.sh" "$secs" "$b" -rss_limit_mb=2048 -timeout=10 \
  >"$tmp/log" 2>&1
rc=$?
grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$tmp/log"
if [ "$rc" != 0 ]; then
  echo "FAIL: building or running fuzz_import: exit $rc; the end of its log:"
  tail -40 "$tmp/log" | sed 's/^/  | /'
  echo "new inputs in $b/artifacts (minimize, fix, then add to tests/fuzz/regressions/):"
  ls -t "$b/artifacts" | head -n $(( $(ls "$b/artifacts" | wc -l) - before )) | sed 's/^/  /'
  exit 1
fi
echo "fuzz: ${secs}s, no crash"
