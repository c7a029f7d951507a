#!/usr/bin/env bash
# malformed/run.sh MIXC OUTDIR - bad model files through `mixc check`.
# make_malformed.py writes NAME/model.onnx with the outcome in the name:
#   ok_*    exit 0;
#   err_*, fatal_*   exit 1, an "error:" line, and every substring EXPECT.txt
#                    lists for NAME in the diagnostics.
# On top of that: empty and random files, and every tiny model truncated at
# several points (exit 1) and with bytes flipped (exit 0 or 1). Never a
# crash (3), a signal or a hang (10 s limit).
set -u
MIXC=$1; TMP=$2; rm -rf "$TMP"; mkdir -p "$TMP/corpus" "$TMP/extra"
. "$(dirname "$0")/../lib.sh"
here=$(dirname "$0")
/usr/bin/python3 "$here/make_malformed.py" "$TMP/corpus" >/dev/null || { echo "make_malformed.py failed"; exit 1; }

check_one() { # FILE KIND NAME
  local f=$1 kind=$2 name=$3
  timeout 10 "$MIXC" check "$f" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  case "$kind" in
    ok) [ "$rc" = 0 ] && ok || { bad "$name: exit $rc, want 0"; head -3 "$TMP/err"; } ;;
    any) { [ "$rc" = 0 ] || [ "$rc" = 1 ]; } && ok || { bad "$name: exit $rc, want 0 or 1"; head -3 "$TMP/err"; } ;;
    err)
      if [ "$rc" = 1 ] && grep -q '^error: ' "$TMP/err"; then ok; else bad "$name: exit $rc, want 1 with an error line"; head -3 "$TMP/err"; fi ;;
  esac
}

for d in "$TMP"/corpus/*/; do
  name=$(basename "$d"); f=$d/model.onnx
  case "$name" in ok_*) check_one "$f" ok "$name" ;; *) check_one "$f" err "$name" ;; esac
  # every expected message for this model
  awk -v n="$name" '/^[^\t]/ {cur=$0; next} cur==n {sub(/^\t/, ""); print}' "$TMP/corpus/EXPECT.txt" |
  while IFS= read -r want; do
    grep -qF -- "$want" "$TMP/err" && echo ok || echo "FAIL: $name: no diagnostic contains: $want"
  done >"$TMP/expect"
  pass=$((pass + $(grep -c '^ok$' "$TMP/expect")))
  fail=$((fail + $(grep -c '^FAIL' "$TMP/expect")))
  grep '^FAIL' "$TMP/expect"
done

: >"$TMP/extra/empty.onnx"
head -c 4096 /dev/urandom >"$TMP/extra/random.onnx"
printf '// mixc IR\ngraph "x" {\n  input %%x : f32[2\n' >"$TMP/extra/truncated.mir"
/usr/bin/python3 - "$here/../models/tiny" "$TMP/extra" <<'PY'
import os, random, sys
src, out = sys.argv[1], sys.argv[2]
rng = random.Random(1234)
for name in sorted(os.listdir(src)):
    data = open(os.path.join(src, name, "model.onnx"), "rb").read()
    for frac in (0.05, 0.3, 0.61, 0.97):
        open(os.path.join(out, f"trunc_{name}_{int(frac*100)}.onnx"), "wb").write(data[: int(len(data) * frac)])
    for k in range(6):
        b = bytearray(data)
        for _ in range(8):
            b[rng.randrange(len(b))] = rng.randrange(256)
        open(os.path.join(out, f"mut_{name}_{k}.onnx"), "wb").write(bytes(b))
PY
for f in "$TMP"/extra/*; do
  name=$(basename "$f")
  case "$name" in mut_*) check_one "$f" any "$name" ;; *) check_one "$f" err "$name" ;; esac
done
# text IR without outputs: the verifier refuses it too
printf '// mixc IR\ngraph "x" {\n  opset "" 17\n  input %%x : f32[2]\n  %%y : f32[2] = Relu(%%x) @r #0\n}\n' >"$TMP/no_outputs.mir"
check_one "$TMP/no_outputs.mir" err no_outputs.mir
grep -qF "the graph has no outputs" "$TMP/err" && ok || bad "no_outputs.mir: no 'no outputs' diagnostic"
finish
