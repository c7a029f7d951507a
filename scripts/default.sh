#!/usr/bin/env bash
# default.sh - the main job on the embedded default model: installs what is
# missing, builds mixc, checks the shipped tiny Sparse-MLP model and prints its
# optimized IR. (Once the backend lands this compiles and runs it.)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/setup.sh"
bash "$top/scripts/build.sh"
m=$top/models/default/sparse_mlp.onnx
"$top/build/mixc" check "$m"
"$top/build/mixc" dump "$m" --elide-weights
