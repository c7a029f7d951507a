#!/usr/bin/env bash
# test_run.sh MIXC OUTDIR - every tiny model runs and matches PyTorch's output
# (rtol 1e-3, atol 1e-4) three ways: the JIT (`mixc run`), the reference
# kernels (`mixc run --interp`) and an AOT executable (`mixc compile`).
# Models listed in UNSUPPORTED must fail with exit 1 and the given message;
# if one starts working, this test fails until it is taken off the list.
# The Mixer exported four ways (mixer, mixer_einsum, mixer_conv1d,
# mixer_opset14: the same weights, token mixing as Transpose/MatMul, Einsum or
# Conv1d, LayerNorm decomposed) gives the same bytes through the JIT:
# raise-matmul and raise-layernorm make them one program; so does the masked
# Sparse-MLP exported at opset 14 (sparse_mlp_opset14).
set -u
MIXC=$1; TMP=$2; rm -rf "$TMP"; mkdir -p "$TMP"
. "$(dirname "$0")/../lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
declare -A UNSUPPORTED=(

)
compare() { /usr/bin/python3 "$here/compare.py" "$1" "$2" --rtol 1e-3 --atol 1e-4; }
for d in "$here"/tiny/*/; do
  name=$(basename "$d"); m=$d/model.onnx; in=$d/input_0.npy; want=$d/output_0.npy
  if [ -n "${UNSUPPORTED[$name]:-}" ]; then
    expect_exit 1 "$name: unsupported" "$MIXC" run "$m" --input "input=$in" --output-dir "$TMP"
    grep -qF -- "${UNSUPPORTED[$name]}" "$TMP/err" && ok || bad "$name: message lacks '${UNSUPPORTED[$name]}'"
    continue
  fi
  for how in jit interp; do
    out=$TMP/$name.$how; mkdir -p "$out"
    flag=(); [ $how = interp ] && flag=(--interp)
    expect_exit 0 "$name: run ($how)" "$MIXC" run "$m" --input "input=$in" --output-dir "$out" "${flag[@]}"
    if r=$(compare "$out/logits.npy" "$want"); then ok; else bad "$name ($how): $r"; fi
  done
  exe=$TMP/$name.exe; out=$TMP/$name.aot; mkdir -p "$out"
  dims=$(/usr/bin/python3 -c "import numpy as np, sys; print('x'.join(map(str, np.load(sys.argv[1]).shape)))" "$in")
  timeout 120 "$MIXC" compile "$m" -o "$exe" --shape "input=$dims" >"$TMP/out" 2>"$TMP/err" && ok || { bad "$name: compile"; head -3 "$TMP/err"; continue; }
  expect_exit 0 "$name: executable" "$exe" --input "input=$in" --output-dir "$out" --bench 3
  tail -1 "$TMP/out" | grep -Eq '^median_ms=[0-9.]+ min_ms=[0-9.]+ runs=3$' && ok || bad "$name: --bench last line"
  if r=$(compare "$out/logits.npy" "$want"); then ok; else bad "$name (aot): $r"; fi
done
for p in mixer:mixer_einsum mixer:mixer_conv1d mixer:mixer_opset14 sparse_mlp_masked:sparse_mlp_opset14; do
  r=${p%%:*} v=${p#*:}
  cmp -s "$TMP/$r.jit/logits.npy" "$TMP/$v.jit/logits.npy" && ok || bad "$v: JIT output differs from $r's"
done
finish
