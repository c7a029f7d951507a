#!/usr/bin/env bash
# test.sh - the whole test suite: installs what is missing, builds, and runs
# every test with ctest (CUnit unit suites, IR text tests, model tests,
# malformed inputs, CLI). Exits non-zero if anything fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/setup.sh"
bash "$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure -j 2 --timeout 1200
