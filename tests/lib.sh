# lib.sh - helpers shared by the shell test drivers: counting, expectations,
# and the closing "N passed, N failed" line that ctest logs show.
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect_exit CODE DESC CMD... : runs CMD (30 s limit: a hang fails; sanitized
# builds on a loaded machine need the headroom), checks its exit code.
expect_exit() {
  local want=$1 desc=$2; shift 2
  timeout 30 "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok; else bad "$desc: exit $got, want $want"; sed 's/^/  | /' "$TMP/err" | head -5; fi
  return 0
}
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" = 0 ]
}
