#!/usr/bin/env bash
# test.sh - the whole test suite: installs what is missing, builds, and runs
# every test with ctest (CUnit unit suites, IR text tests, model tests,
# malformed inputs, CLI, hostile inputs, threads), then the same suite again
# built with -fsanitize=address,undefined (build-asan/), then 60 seconds of
# libFuzzer on the importer (build-fuzz/). Exits non-zero if anything fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/setup.sh"
bash "$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure -j 2 --timeout 1200
# Stage 2: the same suite (without the ONNX node suite) under AddressSanitizer
# and UndefinedBehaviorSanitizer (cmake/sanitize.cmake; leaks are checked and
# a sanitizer report fails the test). About 5 minutes on 2 cores.
cmake -S "$top" -B "$top/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIXC_SANITIZE=ON >/dev/null
cmake --build "$top/build-asan" -j "$(nproc)"
cd "$top/build-asan"
ctest --output-on-failure -j 2 --timeout 1200 -E onnx_node
# Stage 3: fuzz the importer for 60 s from a fresh copy of the seeds
# (tests/fuzz/ci.sh; clang-19 + libFuzzer, built in build-fuzz/). Any crash,
# sanitizer report, leak, hang (10 s) or > 2 GiB RSS fails the run.
bash "$top/tests/fuzz/ci.sh" 60 "$top/build-fuzz"
