#!/usr/bin/env bash
# test_models.sh MIXC OUTDIR - every tiny exported model: `mixc check` exits 0,
# `mixc dump` works after import, after every pass, and as DOT, and the text IR
# round-trips byte for byte (dump M.onnx --after=import > a.mir; dump a.mir
# --after=import reproduces a.mir; same for the fully optimized IR). Every
# routed MoE model is raised: its optimized IR holds mixc.moe/mixc.soft_moe and
# none of the ops its routing was exported as (com.microsoft.MoE included), and
# no Transpose next to a mixc.moe: the Sparse-MLP token MoE (2 per tiny model)
# reads and writes its transposed rows in place (moe_layout.py). The Mixer
# exported four ways (token mixing as Transpose/MatMul, Einsum or Conv1d;
# LayerNorm decomposed at opset 14) compiles to the same ops: the same
# mixc.matmul and LayerNormalization nodes (no Einsum or Conv left, and no
# Sub/Pow/Sqrt/Div of a LayerNorm); so does the masked Sparse-MLP at opset 14.
set -u
MIXC=$1; TMP=$2; mkdir -p "$TMP"
. "$(dirname "$0")/../lib.sh"
models=("$(dirname "$0")"/tiny/*/model.onnx "$(dirname "$0")"/../../models/default/*.onnx)
[ -e "${models[0]}" ] || { echo "no tiny models found"; exit 1; }
for m in "${models[@]}"; do
  name=$(basename "$(dirname "$m")")/$(basename "$m" .onnx); tag=${name//\//_}
  expect_exit 0 "$name: check" "$MIXC" check "$m"
  expect_exit 0 "$name: dump" "$MIXC" dump "$m" -o "$TMP/$tag.opt.mir"
  expect_exit 0 "$name: dump --after=all" "$MIXC" dump "$m" --after=all --verify-each
  expect_exit 0 "$name: dump --format=dot" "$MIXC" dump "$m" --format=dot -o "$TMP/$tag.dot"
  expect_exit 0 "$name: dump --after=import" "$MIXC" dump "$m" --after=import -o "$TMP/$tag.a.mir"
  expect_exit 0 "$name: reparse import" "$MIXC" dump "$TMP/$tag.a.mir" --after=import -o "$TMP/$tag.b.mir"
  if cmp -s "$TMP/$tag.a.mir" "$TMP/$tag.b.mir"; then ok; else bad "$name: import IR does not round-trip"; fi
  expect_exit 0 "$name: reparse optimized" "$MIXC" dump "$TMP/$tag.opt.mir" --after=import -o "$TMP/$tag.opt2.mir"
  if cmp -s "$TMP/$tag.opt.mir" "$TMP/$tag.opt2.mir"; then ok; else bad "$name: optimized IR does not round-trip"; fi
  # the pipeline on a parsed .mir gives what it gives on the .onnx
  expect_exit 0 "$name: pipeline from .mir" "$MIXC" dump "$TMP/$tag.a.mir" -o "$TMP/$tag.opt3.mir"
  if cmp -s "$TMP/$tag.opt.mir" "$TMP/$tag.opt3.mir"; then ok; else bad "$name: pipeline differs from .mir"; fi
  case "$name" in
    sparse_mlp_*|per_image_moe*|soft_moe*|ms_moe*|default/*)
      left=$(grep -oE '= (TopK|NonZero|OneHot|CumSum|ScatterElements|ScatterND|Softmax|Einsum|com\.microsoft\.MoE)\(' "$TMP/$tag.opt.mir" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
      [ -z "$left" ] && ok || bad "$name: routing ops left after raising: $left"
      grep -qE '= mixc\.(moe|soft_moe)\(' "$TMP/$tag.opt.mir" && ok || bad "$name: no mixc.moe / mixc.soft_moe in the optimized IR"
      # no Transpose next to a mixc.moe; each Sparse block's token MoE reads its rows in place
      want=0; case "$name" in sparse_mlp_*|default/*) want=2 ;; esac
      if r=$(/usr/bin/python3 "$(dirname "$0")/moe_layout.py" "$TMP/$tag.opt.mir" --want-transposed $want); then ok; else bad "$name: $r"; fi ;;
  esac
done
ops() { [ -s "$TMP/$1_model.opt.mir" ] && grep -oE "= [A-Za-z.]+\\(" "$TMP/$1_model.opt.mir" | sort | uniq -c; }
for p in mixer:mixer_einsum mixer:mixer_conv1d mixer:mixer_opset14 sparse_mlp_masked:sparse_mlp_opset14; do
  r=${p%%:*} v=${p#*:}
  if a=$(ops $r) && b=$(ops $v) && [ "$a" = "$b" ]; then ok; else bad "$v: optimized ops differ from $r's"; fi
done
finish
