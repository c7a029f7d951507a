#!/usr/bin/env bash
# default.sh - the main job on the embedded default model: installs what is
# missing, builds mixc, checks the shipped tiny Sparse-MLP model, prints its
# optimized IR, JIT-compiles and runs it, and compares the output with the
# PyTorch output shipped beside it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/setup.sh"
bash "$top/scripts/build.sh"
m=$top/models/default
out=$top/build/default_out
mkdir -p "$out"
"$top/build/mixc" check "$m/sparse_mlp.onnx"
"$top/build/mixc" dump "$m/sparse_mlp.onnx" --elide-weights
"$top/build/mixc" run "$m/sparse_mlp.onnx" --input "input=$m/input.npy" --output-dir "$out" --bench 20
/usr/bin/python3 "$top/tests/models/compare.py" "$out/logits.npy" "$m/expected.npy" --rtol 1e-3 --atol 1e-4
