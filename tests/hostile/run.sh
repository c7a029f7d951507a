#!/usr/bin/env bash
# hostile/run.sh MIXC OUTDIR - hostile models and run-time inputs.
# 1. make_hostile.py writes the models and MANIFEST.tsv (see its docstring):
#    every model exits 1 with an "error:" line naming the node or file and
#    the problem (mode err: `mixc check`; mode lower: `mixc compile`), with
#    printable diagnostics (no control byte, valid UTF-8, lines <= 4 KiB), or, for
#    mutated files that stay valid, 0 - then `mixc run` on the tiny model's
#    input must exit 0 or 1. Never a signal, exit 3, a sanitizer report or a
#    hang (10 s each).
# 2. Run-time inputs through `mixc run` and an AOT executable: wrong name,
#    dtype, shape, missing input, unreadable and malformed .npy/.pb, and a
#    Gather index out of range in the data: exit 1 with an "error:" line.
# 3. MIXC_MAX_ARENA_BYTES: a tiny limit is exit 1 naming the limit.
# 4. Exit codes 0, 1, 2 and 3 (3: a SIGSEGV delivered to a running mixc goes
#    through the driver's crash handler).
set -u
MIXC=$1; TMP=$2; rm -rf "$TMP"; mkdir -p "$TMP"; export TMP
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
TINY=$HERE/../models/tiny
PY=/usr/bin/python3
$PY "$HERE/make_hostile.py" "$TMP/m" >/dev/null || { echo "make_hostile.py failed"; exit 1; }

# rc_ok RC: not a signal, not 3, not a sanitizer exit (86)
want_err() { # DESC SUBSTRINGS... (reads $rc, $TMP/err)
  local desc=$1; shift
  if [ "$rc" != 1 ] || ! grep -q '^error: ' "$TMP/err"; then
    bad "$desc: exit $rc, want 1 with an 'error:' line"; head -5 "$TMP/err" | sed 's/^/  | /'; return
  fi
  for s in "$@"; do
    [ -z "$s" ] && continue
    grep -qF -- "$s" "$TMP/err" || { bad "$desc: no diagnostic contains '$s'"; head -5 "$TMP/err" | cut -c1-300 | sed 's/^/  | /'; return; }
  done
  printable || return
  ok
}
# printable (reads $TMP/err): diagnostics quote the model's names escaped and
# shortened - no control byte, only valid UTF-8, no line over 4096 bytes.
printable() {
  if LC_ALL=C grep -q '[[:cntrl:]]' "$TMP/err"; then bad "$desc: a control byte in the diagnostics"; return 1; fi
  if LC_ALL=C.UTF-8 grep -qaxv '.*' "$TMP/err"; then bad "$desc: invalid UTF-8 in the diagnostics"; return 1; fi
  if LC_ALL=C awk 'length > 4096 { f = 1 } END { exit !f }' "$TMP/err"; then
    bad "$desc: a diagnostic line longer than 4096 bytes"; return 1
  fi
}

n=0
while IFS=$'\t' read -r -a f; do
  name=${f[0]}; mode=${f[1]}; exp=("${f[@]:2}"); n=$((n + 1))
  m=$TMP/m/$name/model.onnx
  case $mode in
    err)   timeout 10 "$MIXC" check "$m" >"$TMP/out" 2>"$TMP/err"; rc=$?; want_err "$name" "${exp[@]}" ;;
    lower) timeout 10 "$MIXC" compile "$m" -o "$TMP/x.ll" --emit=llvm >"$TMP/out" 2>"$TMP/err"; rc=$?
           want_err "$name" "${exp[@]}" ;;
    any)
      timeout 10 "$MIXC" check "$m" >"$TMP/out" 2>"$TMP/err"; rc=$?
      if [ "$rc" = 1 ]; then want_err "$name"
      elif [ "$rc" != 0 ]; then bad "$name: check exit $rc, want 0 or 1"; head -5 "$TMP/err" | sed 's/^/  | /'
      else
        ok
        t=${name#mut_}; t=${t%_*}
        if [ -d "$TINY/$t" ]; then
          MIXC_MAX_ARENA_BYTES=$((1 << 30)) timeout 20 "$MIXC" run "$m" --input "input=$TINY/$t/input_0.npy" --output-dir "$TMP/mo" >"$TMP/out" 2>"$TMP/err"; rc=$?
          case $rc in 0) ok ;; 1) want_err "$name (run)" ;;
            *) bad "$name: run exit $rc, want 0 or 1"; head -5 "$TMP/err" | sed 's/^/  | /' ;; esac
        fi
      fi ;;
  esac
done <"$TMP/m/MANIFEST.tsv"
echo "hostile models: $n"
[ "$n" -ge 150 ] && ok || bad "only $n hostile models"

# ---- run-time inputs: `mixc run` and an AOT executable ------------------------------
R=$TMP/rt; mkdir -p "$R"
$PY "$HERE/make_inputs.py" "$R" || { bad "make_inputs.py failed"; finish; exit 1; }
G=$R/gather.onnx
timeout 60 "$MIXC" compile "$G" -o "$R/gather_exe" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" = 0 ] && ok || { bad "compile gather model: exit $rc"; head -5 "$TMP/err"; }
good=(--input "data=$R/data.npy" --input "idx=$R/idx_ok.npy")
for how in run exe; do
  if [ $how = run ]; then cmd=("$MIXC" run "$G"); else cmd=("$R/gather_exe"); fi
  timeout 10 "${cmd[@]}" "${good[@]}" --output-dir "$R/out_$how" >"$TMP/out" 2>"$TMP/err"; rc=$?
  [ "$rc" = 0 ] && ok || { bad "$how: good inputs: exit $rc"; head -5 "$TMP/err"; }
  while IFS=$'\t' read -r desc want args; do
    read -r -a a <<<"$args"
    timeout 10 "${cmd[@]}" "${a[@]/@/$R/}" --output-dir "$R/o" >"$TMP/out" 2>"$TMP/err"; rc=$?
    # run-time errors are one message line (not "error:"-prefixed diagnostics)
    if [ "$rc" = 1 ] && grep -qF -- "$want" "$TMP/err"; then ok
    else bad "$how: $desc: exit $rc, want 1 with a message containing '$want'"; head -3 "$TMP/err" | sed 's/^/  | /'; fi
  done <"$R/CASES.tsv"
done

# ---- the memory limit -----------------------------------------------------------------
SM=$TINY/sparse_mlp_masked
MIXC_MAX_ARENA_BYTES=1024 timeout 30 "$MIXC" run "$SM/model.onnx" --input "input=$SM/input_0.npy" \
  --output-dir "$TMP/lim" >"$TMP/out" 2>"$TMP/err"; rc=$?
want_err "MIXC_MAX_ARENA_BYTES=1024" "exceeds the limit 1024 (MIXC_MAX_ARENA_BYTES)" "planned memory"
MIXC_MAX_ARENA_BYTES=1024 timeout 30 "$MIXC" compile "$SM/model.onnx" -o "$TMP/lim.o" --emit=obj \
  >"$TMP/out" 2>"$TMP/err"; rc=$?
want_err "compile with MIXC_MAX_ARENA_BYTES=1024" "(MIXC_MAX_ARENA_BYTES)"
MIXC_MAX_ARENA_BYTES=$((1 << 30)) timeout 30 "$MIXC" run "$SM/model.onnx" --input "input=$SM/input_0.npy" \
  --output-dir "$TMP/lim" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ "$rc" = 0 ] && ok || bad "MIXC_MAX_ARENA_BYTES=1GiB: exit $rc, want 0"

# ---- exit codes 0, 1, 2, 3 -----------------------------------------------------------
expect_exit 0 "exit 0: check a good model" "$MIXC" check "$SM/model.onnx"
expect_exit 1 "exit 1: check a bad model" "$MIXC" check "$TMP/m/unknown_op/model.onnx"
expect_exit 2 "exit 2: unknown command" "$MIXC" frobnicate
expect_exit 2 "exit 2: check without a model" "$MIXC" check
# exit 3: an internal error. The driver turns SIGSEGV/SIGABRT (MIXC_BUG aborts)
# into exit 3 with a message; a mixc blocked opening a FIFO gets a SIGSEGV.
mkfifo "$TMP/fifo.onnx"
"$MIXC" check "$TMP/fifo.onnx" >"$TMP/out" 2>"$TMP/err" &
pid=$!
# wait until it is blocked opening the FIFO (past main(): the handler is set)
for _ in $(seq 100); do grep -q fifo "/proc/$pid/wchan" 2>/dev/null && break; sleep 0.1; done
kill -SEGV "$pid" 2>/dev/null
wait "$pid"; rc=$?
if [ "$rc" = 3 ] && grep -q "internal error" "$TMP/err"; then ok; else bad "exit 3: got $rc"; cat "$TMP/err"; fi
rm -f "$TMP/fifo.onnx"
finish
