#!/bin/bash
# run.sh MIXC BUILD_DIR [run.py options...] - the ctest entry `onnx_node`:
# generates the official ONNX node suite once (cached in BUILD_DIR/onnx_node_suite)
# and runs it through `mixc run` against tests/onnx_node/manifest.txt.
set -eu
if [ $# -lt 2 ]; then echo "usage: run.sh MIXC BUILD_DIR [run.py options]" >&2; exit 2; fi
mixc=$1 build=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3   # Debian's python3 with python3-onnx and python3-numpy
suite=$build/onnx_node_suite
"$py" "$here/generate.py" "$suite"
exec "$py" "$here/run.py" --mixc "$mixc" --suite "$suite/node" \
  --manifest "$here/manifest.txt" --jobs "${MIXC_NODE_JOBS:-2}" "$@"
