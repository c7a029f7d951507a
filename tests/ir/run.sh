#!/usr/bin/env bash
# ir/run.sh MIXC - IR text tests, QBE/lit style: each NAME.mir starts with
#   // RUN: mixc dump --after=PASS        (output must equal NAME.expected)
# with any number of
#   // WARN: text                         (stderr must contain each text)
# or
#   // ERROR: text                        (exit 1, stderr must contain text)
# Regenerate an expectation after a deliberate change with UPDATE=1.
set -u
MIXC=$1; TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/../lib.sh"
for t in "$(dirname "$0")"/*.mir; do
  name=$(basename "$t" .mir)
  run=$(sed -n 's|^// RUN: mixc dump ||p' "$t" | head -1)
  err=$(sed -n 's|^// ERROR: ||p' "$t" | head -1)
  if [ -n "$err" ]; then
    timeout 10 "$MIXC" dump "$t" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ "$rc" = 1 ] && grep -qF -- "$err" "$TMP/err"; then ok; else bad "$name: exit $rc, stderr:"; cat "$TMP/err"; fi
    continue
  fi
  # shellcheck disable=SC2086
  timeout 10 "$MIXC" dump "$t" $run >"$TMP/out" 2>"$TMP/err"; rc=$?
  if [ "$rc" != 0 ]; then bad "$name: exit $rc"; cat "$TMP/err"; continue; fi
  while IFS= read -r w; do
    grep -qF -- "$w" "$TMP/err" && ok || { bad "$name: no warning '$w' in stderr:"; cat "$TMP/err"; }
  done < <(sed -n 's|^// WARN: ||p' "$t")
  exp="${t%.mir}.expected"
  if [ "${UPDATE:-0}" = 1 ]; then cp "$TMP/out" "$exp"; fi
  if diff -u "$exp" "$TMP/out" >"$TMP/diff"; then ok; else bad "$name:"; cat "$TMP/diff"; fi
done
finish
