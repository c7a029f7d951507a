#!/usr/bin/env bash
# api/run.sh MIXC OUTDIR [JIT_EXAMPLE] - `mixc run` and `mixc compile` beyond
# what models/test_run.sh checks (every tiny model, JIT/interp/AOT): .pb
# inputs, --bench, every --emit kind, --shape, the documented exit codes
# (0 ok, 1 bad input, 2 usage) with messages naming the input, --weights=file
# (exe, moved exe, bad weights files, object + C program), and the C API
# example (examples/jit_example.c, with --threads, --profile and --stats) when
# its path is given.
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
expect_exit 1 "run: --threads 0" "$MIXC" run "$D/model.onnx" "${flags[@]}" --threads 0
expect_exit 1 "run: --bench x" "$MIXC" run "$D/model.onnx" "${flags[@]}" --bench x
expect_exit 1 "run: --input without =" "$MIXC" run "$D/model.onnx" --input foo
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
expect_exit 1 "compile: bad --emit" "$MIXC" compile "$M" -o "$TMP/x" --emit=wasm
expect_exit 1 "compile: bad --shape" "$MIXC" compile "$M" -o "$TMP/x" --shape input=2y3
expect_exit 1 "compile: bad --prefix" "$MIXC" compile "$M" -o "$TMP/x" --prefix 9x

# --weights=file: OUT.weights next to the output, mapped at load and checked
WD=$TINY/sparse_mlp_masked
WIN=(--input "input=$WD/input_0.npy")
wcmp() { $PY "$HERE/../models/compare.py" "$1/logits.npy" "$WD/output_0.npy" --rtol 1e-3 --atol 1e-4 >/dev/null 2>&1; }
rm -rf "$TMP/w"; mkdir -p "$TMP/w/moved"
expect_exit 0 "compile --weights=embed" "$MIXC" compile "$WD/model.onnx" -o "$TMP/w/embed"
expect_exit 0 "compile --weights=file" "$MIXC" compile "$WD/model.onnx" -o "$TMP/w/file" --weights=file
expect_exit 1 "compile: bad --weights" "$MIXC" compile "$WD/model.onnx" -o "$TMP/w/x" --weights=mmap
[ -s "$TMP/w/file.weights" ] && head -c 8 "$TMP/w/file.weights" | grep -q MIXCWTS1 && ok || bad "--weights=file writes OUT.weights"
es=$(stat -c %s "$TMP/w/embed"); fs=$(stat -c %s "$TMP/w/file"); ws=$(stat -c %s "$TMP/w/file.weights")
[ $((es - fs)) -ge $((ws * 3 / 4)) ] && ok || bad "weights-file exe ($fs B) is not smaller than embed ($es B) by ~the weights ($ws B)"
expect_exit 0 "weights-file exe runs" "$TMP/w/file" "${WIN[@]}" --output-dir "$TMP/w/o1"
wcmp "$TMP/w/o1" && ok || bad "weights-file exe: outputs differ"
cp "$TMP/w/file" "$TMP/w/moved/m"
expect_exit 1 "moved exe without its weights" "$TMP/w/moved/m" "${WIN[@]}" --output-dir "$TMP/w/o2"
grep -q "cannot load weights: cannot open weights file .*moved/file.weights" "$TMP/err" && ok || bad "missing weights file is named"
expect_exit 0 "moved exe with --weights" "$TMP/w/moved/m" "${WIN[@]}" --output-dir "$TMP/w/o2" --weights "$TMP/w/file.weights"
wcmp "$TMP/w/o2" && ok || bad "moved exe: outputs differ"
head -c 1000 "$TMP/w/file.weights" >"$TMP/w/trunc"
expect_exit 1 "truncated weights" "$TMP/w/file" "${WIN[@]}" --weights "$TMP/w/trunc"
grep -q "truncated" "$TMP/err" && ok || bad "truncated weights: message"
cp "$TMP/w/file.weights" "$TMP/w/corrupt"; printf '\125' | dd of="$TMP/w/corrupt" bs=1 seek=700 conv=notrunc 2>/dev/null
expect_exit 1 "corrupted weights" "$TMP/w/file" "${WIN[@]}" --weights "$TMP/w/corrupt"
grep -q "corrupted" "$TMP/err" && ok || bad "corrupted weights: message"
expect_exit 0 "compile another model --weights=file" "$MIXC" compile "$TINY/soft_moe/model.onnx" -o "$TMP/w/other" --weights=file
expect_exit 1 "another model's weights" "$TMP/w/file" "${WIN[@]}" --weights "$TMP/w/other.weights"
grep -q "belongs to another model" "$TMP/err" && ok || bad "other model's weights: message"
expect_exit 1 "not a weights file" "$TMP/w/file" "${WIN[@]}" --weights "$WD/model.onnx"
grep -q "not a mixc weights file" "$TMP/err" && ok || bad "not a weights file: message"
expect_exit 2 "--weights on an embedded model" "$TMP/w/embed" "${WIN[@]}" --weights "$TMP/w/file.weights"
# obj + header + a C program that loads the weights, then runs
expect_exit 0 "compile --emit=obj --weights=file" "$MIXC" compile "$WD/model.onnx" -o "$TMP/w/wm.o" --emit=obj --prefix wm --weights=file
grep -q "wm_load_weights" "$TMP/w/wm.h" && ok || bad "header declares wm_load_weights"
cat >"$TMP/w/main.c" <<'EOC'
#include <stdio.h>
#include <string.h>
#include "wm.h"
#include "runtime/rt.h"
int main(int argc, char **argv) {
  rt_tensor in, out = {WM_OUTPUT0_DTYPE, WM_OUTPUT0_RANK, WM_OUTPUT0_DIMS, 0, WM_OUTPUT0_NBYTES};
  char err[256];
  static float y[WM_OUTPUT0_NBYTES / 4];
  out.data = y;
  if (rt_tensor_read(argv[2], &in, err, sizeof err)) return 9;
  void *ins[1] = {in.data}, *outs[1] = {y};
  if (wm_run(ins, outs) != 1) return 8;                 /* weights not loaded yet */
  if (wm_load_weights("/nonexistent.weights") != -1 || !strstr(wm_weights_error(), "cannot open")) return 7;
  if (wm_load_weights(argv[1])) { fprintf(stderr, "%s\n", wm_weights_error()); return 6; }
  if (wm_run(ins, outs)) return 5;
  return rt_tensor_write_npy(argv[3], &out, err, sizeof err) ? 4 : 0;
}
EOC
RTLIB=$(dirname "$MIXC")/libmixc_rt.a
if cc -I"$TMP/w" -I"$HERE/../.." -o "$TMP/w/main" "$TMP/w/main.c" "$TMP/w/wm.o" "$RTLIB" -lm 2>"$TMP/err"; then ok; else bad "linking the weights-file object"; cat "$TMP/err"; fi
mkdir -p "$TMP/w/o3"
expect_exit 0 "C program loads the weights, then runs" "$TMP/w/main" "$TMP/w/wm.o.weights" "$WD/input_0.npy" "$TMP/w/o3/logits.npy"
wcmp "$TMP/w/o3" && ok || bad "weights-file object: outputs differ"
expect_exit 0 "compile --emit=lib --weights=file" "$MIXC" compile "$WD/model.onnx" -o "$TMP/w/libwm.so" --emit=lib --prefix wm --weights=file
nm -D "$TMP/w/libwm.so" | grep -q " T wm_load_weights" && ok || bad "library exports wm_load_weights"

if [ -n "$EXAMPLE" ]; then
  expect_exit 0 "jit_example" "$EXAMPLE" "$M"
  grep -q '^logits:' "$TMP/out" && ok || bad "jit_example prints the outputs"
  expect_exit 0 "jit_example --interp, bound dim" "$EXAMPLE" "$DB/model.onnx" batch=3 --interp
  expect_exit 1 "jit_example: unbound dim" "$EXAMPLE" "$DB/model.onnx"
  expect_exit 0 "jit_example --threads 2 --profile --stats" "$EXAMPLE" "$M" --threads 2 --profile "$TMP/ex_prof.json" --stats
  grep -q '^profile: [0-9]* calls' "$TMP/out" && grep -q '^routed MoE layers: [1-9]' "$TMP/out" && ok || bad "jit_example --profile --stats: output"
  $PY -c "import json, sys; assert json.load(open(sys.argv[1]))" "$TMP/ex_prof.json" && ok || bad "jit_example: the profile is not a JSON array"
  expect_exit 1 "jit_example --threads 5000" "$EXAMPLE" "$M" --threads 5000
fi
finish
