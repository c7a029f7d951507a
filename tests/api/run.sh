#!/usr/bin/env bash
# api/run.sh MIXC OUTDIR [JIT_EXAMPLE] - `mixc run` and `mixc compile` beyond
# what models/test_run.sh checks (every tiny model, JIT/interp/AOT): .pb
# inputs, --bench, every --emit kind, --shape, the documented exit codes
# (0 ok, 1 bad input, 2 usage) with messages naming the input, and the C API
# example (examples/jit_example.c) when its path is given.
set -u
MIXC=$1; TMP=$2; EXAMPLE=${3:-}; mkdir -p "$TMP"; export TMP
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
TINY=$HERE/../models/tiny

expect_exit 0 "run --help" "$MIXC" run --help
grep -q -- '--input NAME=FILE' "$TMP/out" && ok || bad "run --help shows --input"
expect_exit 0 "compile --help" "$MIXC" compile --help
grep -q -- '--emit' "$TMP/out" && ok || bad "compile --help shows --emit"

# .pb inputs, --bench, and an AOT executable
M=$HERE/../../models/default/sparse_mlp.onnx
D=$TINY/mixer
read -r -a pbflags <<<"$($PY "$HERE/tensors.py" args "$D" pb)"
expect_exit 0 "run with .pb inputs" "$MIXC" run "$D/model.onnx" "${pbflags[@]}" --output-dir "$TMP/pb"
$PY "$HERE/tensors.py" compare "$D" "$TMP/pb" >/dev/null 2>&1 && ok || bad ".pb inputs: outputs differ"
read -r -a flags <<<"$($PY "$HERE/tensors.py" args "$D")"
expect_exit 0 "run --bench" "$MIXC" run "$D/model.onnx" "${flags[@]}" --output-dir "$TMP/bench" --bench 3
tail -1 "$TMP/out" | grep -Eq '^median_ms=[0-9.]+ min_ms=[0-9.]+ runs=3$' && ok || bad "--bench prints its line last"
expect_exit 0 "compile exe" "$MIXC" compile "$D/model.onnx" -o "$TMP/mixer_exe"
expect_exit 0 "compiled exe runs" "$TMP/mixer_exe" "${flags[@]}" --output-dir "$TMP/exe"
$PY "$HERE/tensors.py" compare "$D" "$TMP/exe" >/dev/null 2>&1 && ok || bad "exe: outputs differ"
for k in obj lib llvm asm; do
  expect_exit 0 "compile --emit=$k" "$MIXC" compile "$M" -o "$TMP/sm.$k" --emit=$k
  [ -s "$TMP/sm.$k" ] && ok || bad "--emit=$k writes its file"
done
DB=$TINY/mixer_dynbatch
expect_exit 0 "compile --shape binds a symbolic dim" "$MIXC" compile "$DB/model.onnx" -o "$TMP/db_exe" --shape input=2x3x32x32
expect_exit 1 "compile without binding a symbolic dim" "$MIXC" compile "$DB/model.onnx" -o "$TMP/db_exe2"
grep -q "batch" "$TMP/err" && ok || bad "unbound dim is named"

# exit codes and messages
X=${flags[1]#*=}
$PY -c "import numpy as np; np.save('$TMP/wrong.npy', np.zeros((1, 2), np.float32)); np.save('$TMP/f64.npy', np.load('$X').astype(np.float64))"
expect_exit 2 "run: no model" "$MIXC" run
expect_exit 2 "run: unknown option" "$MIXC" run "$D/model.onnx" "${flags[@]}" --bogus
expect_exit 2 "run: --threads 0" "$MIXC" run "$D/model.onnx" "${flags[@]}" --threads 0
expect_exit 2 "run: --bench x" "$MIXC" run "$D/model.onnx" "${flags[@]}" --bench x
expect_exit 2 "run: --input without =" "$MIXC" run "$D/model.onnx" --input foo
expect_exit 1 "run: missing model file" "$MIXC" run "$TMP/nope.onnx" "${flags[@]}"
expect_exit 1 "run: missing input" "$MIXC" run "$D/model.onnx"
grep -q "missing --input input=FILE" "$TMP/err" && ok || bad "missing input is named"
expect_exit 1 "run: unknown input" "$MIXC" run "$D/model.onnx" "${flags[@]}" --input nosuch="$X"
grep -q "unknown input 'nosuch'" "$TMP/err" && ok || bad "unknown input is named"
expect_exit 1 "run: wrong shape" "$MIXC" run "$D/model.onnx" --input input="$TMP/wrong.npy"
grep -q "input 'input': expected f32\[2,3,32,32\], got \[1,2\]" "$TMP/err" && ok || bad "wrong shape: expected vs got"
expect_exit 1 "run: wrong dtype" "$MIXC" run "$D/model.onnx" --input input="$TMP/f64.npy"
grep -q "got f64" "$TMP/err" && ok || bad "wrong dtype: expected vs got"
expect_exit 1 "run: unreadable input" "$MIXC" run "$D/model.onnx" --input input="$TMP/nope.npy"
expect_exit 2 "compile: no -o" "$MIXC" compile "$M"
expect_exit 2 "compile: bad --emit" "$MIXC" compile "$M" -o "$TMP/x" --emit=wasm
expect_exit 2 "compile: bad --shape" "$MIXC" compile "$M" -o "$TMP/x" --shape input=2y3
expect_exit 2 "compile: bad --prefix" "$MIXC" compile "$M" -o "$TMP/x" --prefix 9x

if [ -n "$EXAMPLE" ]; then
  expect_exit 0 "jit_example" "$EXAMPLE" "$M"
  grep -q '^logits:' "$TMP/out" && ok || bad "jit_example prints the outputs"
  expect_exit 0 "jit_example --interp, bound dim" "$EXAMPLE" "$DB/model.onnx" batch=3 --interp
  expect_exit 1 "jit_example: unbound dim" "$EXAMPLE" "$DB/model.onnx"
fi
finish
