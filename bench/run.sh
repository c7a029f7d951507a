#!/bin/bash
# mixc vs ONNX Runtime vs PyTorch, one command:
#   bash bench/run.sh [--quick] [--all-configs] [other bench.py flags]
# Builds mixc in build-bench/ (Release), installs the peers (setup.sh),
# exports missing models into bench/out/models, runs bench.py, draws the chart.
# Results: bench/out/results.md (also on stdout), results.json, ratios.png.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${MIXC_BENCH_BUILD:-$ROOT/build-bench}
bash "$HERE/setup.sh"
if [ ! -x "$BUILD/mixc" ] || [ -z "${MIXC_BENCH_NO_BUILD:-}" ]; then
    mkdir -p "$HERE/out"
    { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release && cmake --build "$BUILD" -j2 --target mixc; } \
        >"$HERE/out/build.log" 2>&1 || { tail -30 "$HERE/out/build.log"; exit 1; }
fi
mkdir -p "$HERE/out"
/usr/bin/python3 "$HERE/bench.py" --mixc "$BUILD/mixc" --out "$HERE/out" "$@"
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    /usr/bin/python3 "$HERE/plot.py" "$HERE/out/results.json" "$HERE/out/ratios.png" \
        && echo "chart: $HERE/out/ratios.png"
else
    echo "no chart: python3-matplotlib is not installed" >&2
fi
