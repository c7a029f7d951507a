#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [BUILD_DIR [LIBFUZZER_FLAGS...]] - builds the libFuzzer target
# fuzz_import with clang-19 (-DMIXC_FUZZ=ON, in BUILD_DIR, default
# build-fuzz/) and fuzzes for SECONDS, starting from the seeds: every tiny
# model, every tests/ir/*.mir and every file in tests/fuzz/regressions/.
# A crash leaves crash-* in BUILD_DIR/artifacts: minimize it
# (fuzz_import -minimize_crash=1 FILE) and copy it into tests/fuzz/regressions/,
# which tests/fuzz/corpus.sh (ctest fuzz_smoke) runs through `mixc check`.
# FUZZ_CORPUS=DIR fuzzes into DIR instead of BUILD_DIR/corpus (tests/fuzz/ci.sh
# uses a fresh temp dir). Later LIBFUZZER_FLAGS override the defaults below.
# Needs libfuzzer-19-dev and libclang-rt-19-dev (scripts/setup.sh).
set -euo pipefail
secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
b=${2:-$top/build-fuzz}
CC=clang-19 cmake -S "$top" -B "$b" -DMIXC_FUZZ=ON -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$b" -j "$(nproc)" --target fuzz_import >/dev/null
seeds=$b/seeds; corpus=${FUZZ_CORPUS:-$b/corpus}; art=$b/artifacts
rm -rf "$seeds"; mkdir -p "$seeds" "$corpus" "$art"
for d in "$top"/tests/models/tiny/*/; do cp "$d/model.onnx" "$seeds/$(basename "$d").onnx"; done
cp "$top"/tests/ir/*.mir "$seeds/"
cp "$top"/tests/fuzz/regressions/* "$seeds/" 2>/dev/null || true
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
exec "$b/fuzz/fuzz_import" "$corpus" "$seeds" -max_total_time="$secs" -max_len=1048576 \
  -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$art/" -print_final_stats=1 "${@:3}"
