#!/usr/bin/env bash
# build.sh [BUILD_DIR] - configures and builds mixc (Release-with-debug-info)
# into BUILD_DIR (default: build/). Requires scripts/setup.sh to have run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$top/build}
cmake -S "$top" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$b" -j "$(nproc)"
