#!/usr/bin/env bash
# fuzz/corpus.sh MIXC - the deterministic side of fuzzing (ctest fuzz_smoke):
# every file in tests/fuzz/regressions/ (inputs the fuzzer once crashed on)
# and every fuzzer seed (tiny models, tests/ir/*.mir) through `mixc check`:
# exit 0 or 1, never 3, a signal, a sanitizer report or a hang (10 s).
# Regression files named *.mir are checked as text IR; others as ONNX.
set -u
MIXC=$1; TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT; export TMP
. "$(dirname "$0")/../lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
n=0
for f in "$here"/regressions/* "$here"/../models/tiny/*/model.onnx "$here"/../ir/*.mir; do
  [ -f "$f" ] && [ "${f##*.}" != md ] || continue
  case $f in *.mir|*.onnx) g=$f ;; *) g=$TMP/in.onnx; head -c 10 "$f" | grep -q '^// mixc IR' && g=$TMP/in.mir; cp "$f" "$g" ;; esac
  timeout 10 "$MIXC" check "$g" >"$TMP/out" 2>"$TMP/err"; rc=$?; n=$((n + 1))
  case $rc in 0|1) ok ;; *) bad "$(basename "$f"): exit $rc, want 0 or 1"; head -5 "$TMP/err" | sed 's/^/  | /' ;; esac
done
echo "fuzz corpus: $n files"
finish
