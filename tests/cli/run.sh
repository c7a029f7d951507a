#!/usr/bin/env bash
# cli/run.sh MIXC OUTDIR - the driver's flags and exit codes:
# 0 ok, 1 bad input, 2 usage, 3 internal error.
set -u
MIXC=$1; TMP=$2; mkdir -p "$TMP"
. "$(dirname "$0")/../lib.sh"
M=$(dirname "$0")/../../models/default/sparse_mlp.onnx
expect_exit 0 "--version" "$MIXC" --version
grep -q '^mixc [0-9]' "$TMP/out" && ok || bad "--version prints 'mixc X.Y.Z'"
expect_exit 0 "--help" "$MIXC" --help
expect_exit 0 "dump --help" "$MIXC" dump --help
grep -q 'after=import' "$TMP/out" && ok || bad "dump --help mentions --after"
expect_exit 0 "check --help" "$MIXC" check --help
expect_exit 2 "no command" "$MIXC"
expect_exit 2 "unknown command" "$MIXC" frobnicate
expect_exit 2 "dump without model" "$MIXC" dump
expect_exit 2 "unknown option" "$MIXC" dump "$M" --bogus
expect_exit 1 "unknown format" "$MIXC" dump "$M" --format=svg
expect_exit 1 "unknown pass" "$MIXC" dump "$M" --after=nosuchpass
grep -q 'unknown pass' "$TMP/err" && ok || bad "unknown pass is named"
expect_exit 2 "-o without a value" "$MIXC" dump "$M" -o
expect_exit 2 "--after without a value" "$MIXC" dump "$M" --after
grep -q -- '--after needs a value' "$TMP/err" && ok || bad "--after without a value is named"
expect_exit 1 "missing file" "$MIXC" check "$TMP/does-not-exist.onnx"
grep -q 'does-not-exist' "$TMP/err" && ok || bad "missing file is named"
expect_exit 1 "unwritable -o" "$MIXC" dump "$M" -o /nonexistent-dir/x.mir
expect_exit 0 "dump --after=import" "$MIXC" dump "$M" --after=import
head -1 "$TMP/out" | grep -q '^// mixc IR' && ok || bad "text IR starts with its header"
expect_exit 0 "dump --after=all" "$MIXC" dump "$M" --after=all
for p in import canonicalize fold dce; do
  grep -q "^// ---- after $p ----" "$TMP/out" && ok || bad "--after=all has a header for $p"
done
expect_exit 0 "dump --after=fold" "$MIXC" dump "$M" --after=fold
expect_exit 0 "dump -o" "$MIXC" dump "$M" -o "$TMP/x.mir"
[ -s "$TMP/x.mir" ] && ok || bad "-o writes the file"
expect_exit 0 "dump dot" "$MIXC" dump "$M" --format=dot
head -1 "$TMP/out" | grep -q '^digraph' && ok || bad "dot output is a digraph"
finish
