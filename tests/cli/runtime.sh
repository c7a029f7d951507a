#!/usr/bin/env bash
# cli/runtime.sh MIXC OUTDIR - `mixc run` and compiled executables at run
# time: --threads (outputs bit-identical for 1, 2, 3 threads and the default,
# JIT, --interp and executable), --profile (valid Chrome trace JSON with one
# event per kernel call, the same calls from all three, --bench counted,
# hostile node names escaped), views without copies, fused elementwise chains
# bit-identical to the separate ops, executables moving embedded weights into
# anonymous memory, --stats (per-layer invariant and a numpy
# recomputation of the routing, tests/cli/check_run.py) and run-time data
# errors (`error: node 'NAME' (OP): MESSAGE`, exit 1).
set -u
MIXC=$1; TMP=$2; rm -rf "$TMP"; mkdir -p "$TMP"; export TMP
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
TINY=$HERE/../models/tiny
CHECK=("$PY" "$HERE/check_run.py")
same() { cmp -s "$1" "$2" && ok || bad "$3: $1 and $2 differ"; }
calls() { sed -n 's/^profile: \([0-9]*\) calls -> .*/\1/p' "$TMP/out"; }

# ---- --threads: bit-identical outputs ---------------------------------------------------
for name in sparse_mlp_onehot mixer; do
  D=$TINY/$name; IN=(--input "input=$D/input_0.npy"); O=$TMP/thr_$name; mkdir -p "$O"
  for t in 1 2 3; do
    expect_exit 0 "$name: run --threads $t" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$O/jit$t" --threads $t
  done
  expect_exit 0 "$name: run, default threads" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$O/jitdef"
  expect_exit 0 "$name: run --interp --threads 3" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$O/int3" --interp --threads 3
  timeout 120 "$MIXC" compile "$D/model.onnx" -o "$O/exe" >"$TMP/out" 2>"$TMP/err" && ok || bad "$name: compile"
  for t in 1 2 3; do
    expect_exit 0 "$name: exe --threads $t" "$O/exe" "${IN[@]}" --output-dir "$O/exe$t" --threads $t
  done
  for o in jit2 jit3 jitdef int3 exe1 exe2 exe3; do same "$O/jit1/logits.npy" "$O/$o/logits.npy" "$name --threads"; done
done
D=$TINY/sparse_mlp_onehot; IN=(--input "input=$D/input_0.npy"); EXE=$TMP/thr_sparse_mlp_onehot/exe
for bad in 0 -1 x 4097 ""; do
  expect_exit 1 "run --threads '$bad'" "$MIXC" run "$D/model.onnx" "${IN[@]}" --threads "$bad"
  expect_exit 1 "exe --threads '$bad'" "$EXE" "${IN[@]}" --threads "$bad"
done
"$MIXC" run --help | grep -q -- "--threads N .*default: the number of cores" && ok || bad "run --help: --threads default"
"$EXE" --help | grep -q -- "--profile FILE" && ok || bad "exe --help shows --profile"

# ---- --profile ---------------------------------------------------------------------------
P=$TMP/prof; mkdir -p "$P"
expect_exit 0 "run --profile" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$P/o" --profile "$P/jit.json"
n=$(calls); [ -n "$n" ] && [ "$n" -gt 10 ] && ok || bad "run --profile: no 'profile: N calls' line"
r=$("${CHECK[@]}" profile "$P/jit.json" "${n:-0}" 1) && ok || bad "jit profile: $r"
expect_exit 0 "run --interp --profile --bench 2" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$P/o" --interp --profile "$P/int.json" --bench 2
tail -1 "$TMP/out" | grep -Eq '^median_ms=[0-9.]+ min_ms=[0-9.]+ runs=2$' && ok || bad "--profile --bench: bench line is not last"
r=$("${CHECK[@]}" profile "$P/int.json" "${n:-0}" 3) && ok || bad "interp profile: $r"
expect_exit 0 "exe --profile --bench 3 --threads 2" "$EXE" "${IN[@]}" --output-dir "$P/o" --profile "$P/exe.json" --bench 3 --threads 2
r=$("${CHECK[@]}" profile "$P/exe.json" "${n:-0}" 4) && ok || bad "exe profile: $r"
r=$("${CHECK[@]}" same-events "$P/jit.json" "$P/int.json") && ok || bad "jit vs interp profile: $r"
r=$("${CHECK[@]}" same-events "$P/jit.json" "$P/exe.json") && ok || bad "jit vs exe profile: $r"
grep -q '"cat":"mixc.moe"' "$P/jit.json" && ok || bad "profile: no mixc.moe event"
expect_exit 1 "run --profile ''" "$MIXC" run "$D/model.onnx" "${IN[@]}" --profile ""
expect_exit 2 "run --profile without a value" "$MIXC" run "$D/model.onnx" "${IN[@]}" --profile
expect_exit 1 "run --profile to a missing dir" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$P/o" --profile /nonexistent-dir/p.json
grep -q "profile: cannot write /nonexistent-dir/p.json" "$TMP/err" && ok || bad "unwritable profile: message"
expect_exit 1 "exe --profile to a missing dir" "$EXE" "${IN[@]}" --output-dir "$P/o" --profile /nonexistent-dir/p.json

# ---- --output-dir: made if missing, not its parents; a file there is an error -------------
expect_exit 0 "run --output-dir missing" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$P/new"
[ -s "$P/new/logits.npy" ] && ok || bad "--output-dir missing: no logits.npy"
expect_exit 1 "run --output-dir with a missing parent" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$P/nope/sub"
grep -q "cannot create output directory $P/nope/sub" "$TMP/err" && ok || bad "--output-dir with a missing parent: message"
: >"$P/afile"
expect_exit 1 "run --output-dir that is a file" "$MIXC" run "$D/model.onnx" "${IN[@]}" --output-dir "$P/afile"
grep -q "is not a directory" "$TMP/err" && ok || bad "--output-dir that is a file: message"

# ---- views: no copy, their memory stays live while any name of it is used -----------------
V=$TMP/views; "${CHECK[@]}" views-model "$V" || bad "views-model"
for how in jit interp; do
  fl=(); [ $how = interp ] && fl=(--interp)
  expect_exit 0 "views: run ($how)" "$MIXC" run "$V/model.onnx" --input "x=$V/x.npy" --output-dir "$V/$how" --profile "$V/$how.json" "${fl[@]}"
  r=$("${CHECK[@]}" views-check "$V" "$V/$how" "$V/$how.json") && ok || bad "views ($how): $r"
done

# ---- mixc.elementwise: one loop, the bits of the separate ops ---------------------------------
C=$TMP/chain; "${CHECK[@]}" chain-model "$C" || bad "chain-model"
"$MIXC" dump "$C/fused.onnx" | grep -q 'mixc.elementwise' && ok || bad "chain: fused.onnx has no mixc.elementwise"
"$MIXC" dump "$C/unfused.onnx" | grep -q 'mixc.elementwise' && bad "chain: unfused.onnx fused" || ok
CIN=(--input "x=$C/x.npy" --input "z=$C/z.npy" --input "s=$C/s.npy")
expect_exit 0 "chain: run unfused" "$MIXC" run "$C/unfused.onnx" "${CIN[@]}" --output-dir "$C/unfused"
for t in 1 2 3; do
  expect_exit 0 "chain: run fused --threads $t" "$MIXC" run "$C/fused.onnx" "${CIN[@]}" --output-dir "$C/fused$t" --threads $t
  r=$("${CHECK[@]}" chain-check "$C" "$C/fused$t" "$C/unfused") && ok || bad "chain --threads $t: $r"
done
expect_exit 0 "chain: run fused --interp" "$MIXC" run "$C/fused.onnx" "${CIN[@]}" --output-dir "$C/fusedi" --interp
r=$("${CHECK[@]}" chain-check "$C" "$C/fusedi" "$C/unfused") && ok || bad "chain --interp: $r"

# ---- --stats -------------------------------------------------------------------------------
S=$TMP/stats; mkdir -p "$S"
for name in sparse_mlp_onehot sparse_mlp_masked per_image_moe_k2; do
  M=$TINY/$name
  expect_exit 0 "$name: run --stats" "$MIXC" run "$M/model.onnx" --input "input=$M/input_0.npy" --output-dir "$S/o" --stats
  cp "$TMP/out" "$S.$name.jit"
  r=$("${CHECK[@]}" stats "$M" "$S.$name.jit") && ok || bad "$name --stats: $r"
  expect_exit 0 "$name: run --interp --stats --bench 2" "$MIXC" run "$M/model.onnx" --input "input=$M/input_0.npy" --output-dir "$S/o" --stats --interp --bench 2
  diff <(grep -A2 '^moe ' "$S.$name.jit") <(grep -A2 '^moe ' "$TMP/out") >/dev/null && ok || bad "$name: --interp --bench stats differ from the JIT's first run"
done
expect_exit 0 "exe --stats --threads 3" "$EXE" "${IN[@]}" --output-dir "$S/o" --stats --threads 3
diff <(grep -A2 '^moe ' "$S.sparse_mlp_onehot.jit") <(grep -A2 '^moe ' "$TMP/out") >/dev/null && ok || bad "exe --stats differ from mixc run --stats"
grep -q "over_capacity=[1-9]" "$S.sparse_mlp_onehot.jit" && grep -q "dropped_rows=[1-9]" "$S.sparse_mlp_onehot.jit" && ok || bad "sparse_mlp_onehot: expected capacity and importance drops"
M=$TINY/mixer
expect_exit 0 "mixer: run --stats" "$MIXC" run "$M/model.onnx" --input "input=$M/input_0.npy" --output-dir "$S/o" --stats
grep -q "^moe: no routed MoE layers" "$TMP/out" && ok || bad "no-MoE model: --stats says there are none"

# ---- an executable's embedded weights move into anonymous memory --------------------------
# (harness.c, own_rodata): the same results as the JIT, and while it runs no
# read-only mapping of the executable of 1 MiB or more is left.
W=$TMP/weights
"${CHECK[@]}" weights-model "$W" || bad "weights-model"
expect_exit 0 "weights: run" "$MIXC" run "$W/model.onnx" --input "x=$W/x.npy" --output-dir "$W/jit"
r=$("${CHECK[@]}" weights-check "$W" "$W/jit") && ok || bad "weights: jit: $r"
timeout 120 "$MIXC" compile "$W/model.onnx" -o "$W/exe" >"$TMP/out" 2>"$TMP/err" && ok || bad "weights: compile"
"$W/exe" --input "x=$W/x.npy" --output-dir "$W/exe_o" --bench 400 >"$W/exe.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$W/exe_o/y.npy" ] && break; sleep 0.05; done
exe=$(realpath "$W/exe"); big=0
if maps=$(cat "/proc/$pid/maps" 2>/dev/null) && [ -n "$maps" ]; then
  while read -r range perms _ _ _ path; do
    [ "$path" = "$exe" ] && [ "$perms" = r--p ] || continue
    [ $((16#${range#*-} - 16#${range%-*})) -ge 1048576 ] && big=$((big + 1))
  done <<<"$maps"
else
  big="(its maps were not read: it had ended)"
fi
wait $pid && ok || bad "weights: exe --bench 400"
[ "$big" = 0 ] && ok || bad "weights: the executable still maps $big read-only file ranges of 1 MiB or more"
same "$W/jit/y.npy" "$W/exe_o/y.npy" "weights: exe vs jit"

# ---- run-time data errors name the node ---------------------------------------------------
R=$TMP/rt
$PY "$HERE/../hostile/make_inputs.py" "$R" >/dev/null || bad "make_inputs.py failed"
timeout 60 "$MIXC" compile "$R/gather.onnx" -o "$R/gather_exe" >"$TMP/out" 2>"$TMP/err" && ok || bad "compile gather"
want="error: node 'gather_idx' (Gather): Gather index 7 is out of range [-4, 4) on axis 0"
for how in jit interp exe; do
  case $how in jit) cmd=("$MIXC" run "$R/gather.onnx");; interp) cmd=("$MIXC" run "$R/gather.onnx" --interp);; exe) cmd=("$R/gather_exe");; esac
  expect_exit 1 "$how: Gather index out of range" "${cmd[@]}" --input "data=$R/data.npy" --input "idx=$R/idx_oob.npy" --output-dir "$R/o"
  [ "$(cat "$TMP/err")" = "$want" ] && ok || { bad "$how: stderr is not exactly the one error line"; sed 's/^/  | /' "$TMP/err" | head -3; }
  expect_exit 1 "$how: error with --profile --stats --threads 2" "${cmd[@]}" --input "data=$R/data.npy" --input "idx=$R/idx_neg.npy" --output-dir "$R/o" --profile "$R/p.json" --stats --threads 2
  grep -qx "error: node 'gather_idx' (Gather): Gather index -5 is out of range \[-4, 4) on axis 0" "$TMP/err" && ok || bad "$how: negative index message"
done
# a nameless node is named by its index; a hostile name is escaped in the
# message and stays valid JSON in the profile
"${CHECK[@]}" gather-model "$R/noname.onnx" "" || bad "gather-model"
expect_exit 1 "nameless node" "$MIXC" run "$R/noname.onnx" --input "data=$R/data.npy" --input "idx=$R/idx_oob.npy" --output-dir "$R/o"
grep -qx "error: node #0 (Gather): Gather index 7 is out of range \[-4, 4) on axis 0" "$TMP/err" && ok || bad "nameless node: message"
"${CHECK[@]}" gather-model "$R/hostile.onnx" 'q"uote\\back\n\x1b[31m\xff\xc3\xa9' || bad "gather-model"
expect_exit 1 "hostile node name" "$MIXC" run "$R/hostile.onnx" --input "data=$R/data.npy" --input "idx=$R/idx_oob.npy" --output-dir "$R/o"
grep -qxF "error: node 'q\"uote\\back\\n\\x1b[31m\\xffé' (Gather): Gather index 7 is out of range [-4, 4) on axis 0" "$TMP/err" && ok || { bad "hostile name: message"; cat "$TMP/err"; }
expect_exit 0 "hostile node name: --profile" "$MIXC" run "$R/hostile.onnx" --input "data=$R/data.npy" --input "idx=$R/idx_ok.npy" --output-dir "$R/o" --profile "$R/hostile.json"
r=$("${CHECK[@]}" profile "$R/hostile.json" 1 1) && ok || bad "hostile name profile: $r"
finish
