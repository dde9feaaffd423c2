#!/usr/bin/env bash
# `sluice stellar` and `sluice explain`: one-shot, --vars, --strict, files, stdin, --functions,
# the golden runner over tests/lang/*.test, and the REPL through a pty (script(1)).
source "$(dirname "$0")/lib/common.bash"

# ---- -e
expect_eq "-e arithmetic" "$($SLUICE stellar -e '1 + 2 * 3')" 7
expect_eq "-e Java toString" "$($SLUICE stellar -e '[1, 2.0, {"a": true}]')" "[1, 2.0, {a=true}]"
expect_eq "-e --json" "$($SLUICE stellar --json -e "{'a': [1, 'x']}")" '{"a":[1,"x"]}'
set +e
$SLUICE stellar -e 'seq +* 2' >out.txt 2>err.txt; rc=$?
set -e
expect_eq "compile error exit" "$rc" 1
grep -q 'column 6' err.txt || fail "compile error names the column: $(cat err.txt)"
[ "$(sed -n 3p err.txt)" = "       ^" ] || fail "caret under column 6: $(cat -A err.txt)"
[ ! -s out.txt ] || fail "compile error printed a result"
ok "compile error: column and caret"
set +e
$SLUICE stellar -e '1 / 0' >out.txt 2>err.txt; rc=$?
set -e
expect_eq "runtime error exit" "$rc" 1
grep -q 'zero' err.txt || fail "runtime error message: $(cat err.txt)"

# ---- --vars and --strict
expect_eq "--vars Long" "$($SLUICE stellar -e 'x + 1' --vars '{"x": 41}')" 42
expect_eq "--vars Double" "$($SLUICE stellar -e 'x * 2' --vars '{"x": 1.25}')" 2.5
expect_eq "--vars map path" "$($SLUICE stellar -e 'TO_UPPER(a.b)' --vars '{"a": {"b": "hi"}}')" HI
expect_eq "--vars list" "$($SLUICE stellar -e 'MAP(xs, (x) -> x * 10)' --vars '{"xs": [1, 2]}')" "[10, 20]"
expect_eq "lenient: undefined is null" "$($SLUICE stellar -e 'nope')" null
set +e
$SLUICE stellar --strict -e 'nope' >out.txt 2>err.txt; rc=$?
set -e
expect_eq "strict: undefined exit" "$rc" 1
grep -q 'not defined' err.txt || fail "strict message: $(cat err.txt)"
set +e
$SLUICE stellar -e '1' --vars '[1]' 2>err.txt; rc=$?
set -e
expect_eq "--vars not an object exit" "$rc" 2

# ---- -f and stdin
cat > prog.stellar <<'STL'
// a comment, then a blank line

x := 2 + 2
x * 10
f := (a) -> a + 1
MAP([1, 2], f)
s := TO_UPPER('abc')
s
STL
printf '40\n[2, 3]\nABC\n' > want.txt
$SLUICE stellar -f prog.stellar > got.txt
cmp -s got.txt want.txt || fail "-f output: $(cat got.txt)"
ok "-f: assignments, comments, lambdas in variables"
$SLUICE stellar < prog.stellar > got.txt
cmp -s got.txt want.txt || fail "stdin output: $(cat got.txt)"
ok "stdin piped"
printf '1 + 1\n1 +\n3\n' > bad.stellar
set +e
$SLUICE stellar -f bad.stellar > got.txt 2> err.txt; rc=$?
set -e
expect_eq "-f with a bad line exit" "$rc" 1
expect_eq "-f goes on after a bad line" "$(tr '\n' ' ' < got.txt)" "2 3 "
grep -q '^sluice: bad.stellar:2: column' err.txt || fail "-f error names file:line: $(cat err.txt)"

# ---- --functions
$SLUICE stellar --functions > fn.txt
grep -q '^MAP(list, lambda) -> List$' fn.txt || fail "--functions lists MAP with params: $(head fn.txt)"
grep -q '^TO_UPPER(' fn.txt || fail "--functions lists TO_UPPER"
grep -v '^    ' fn.txt | cut -d'(' -f1 > names.txt
LC_ALL=C sort -c names.txt || fail "--functions is sorted"
ok "--functions: $(wc -l < names.txt) functions, sorted, with params and doc"

# ---- explain
$SLUICE explain 'x + 1 > 2' > ex.txt
grep -q 'loadv' ex.txt || fail "explain shows the variable load: $(cat ex.txt)"
grep -q 'ret' ex.txt || fail "explain shows ret"
ok "explain"
set +e
$SLUICE explain '1 +' 2>/dev/null; rc=$?
set -e
expect_eq "explain of a bad expression exit" "$rc" 1

# ---- the golden runner
cat > fail.test <<'TST'
1 + 1
{}
long 2
TST
set +e
$SLUICE stellar --test fail.test > got.txt; rc=$?
set -e
expect_eq "failing golden exit" "$rc" 1
grep -q '^fail.test:1: 1 + 1: expected long 2, got int 2$' got.txt || fail "failure line: $(cat got.txt)"
grep -q '^0 passed, 1 failed$' got.txt || fail "summary: $(cat got.txt)"
shopt -s nullglob
tests=("$SL_SRC"/tests/lang/*.test)
if [ ${#tests[@]} -gt 0 ]; then
  $SLUICE stellar --test "${tests[@]}" > golden.txt || fail "golden files: $(cat golden.txt)"
  ok "golden: $(tail -1 golden.txt)"
else
  ok "golden: no tests/lang/*.test (skipped)"
fi

# ---- the REPL, through a pty
if command -v script >/dev/null 2>&1; then
  export HOME=$T
  {
    for l in 'x := 2 + 2' 'x * 10' '1 +* 2' '%vars' 'quit'; do
      printf '%s\n' "$l"; sleep 0.3
    done
  } | TERM=dumb timeout 20 script -qec "$SLUICE stellar" /dev/null > repl.txt 2>&1 || true
  tr -d '\r' < repl.txt > repl2.txt
  grep -q '^\[Stellar\]>>> x \* 10' repl2.txt || fail "REPL prompt: $(cat -A repl.txt)"
  grep -qx '40' repl2.txt || fail "REPL result: $(cat repl2.txt)"
  grep -qx '                ^' repl2.txt || fail "REPL caret under the column: $(cat -A repl2.txt)"
  grep -q '^x = 4' repl2.txt || fail "REPL %vars: $(cat repl2.txt)"
  grep -q 'x \* 10' "$T/.sluice_history" 2>/dev/null || grep -q 'x\\040\*\\04010' "$T/.sluice_history" ||
    fail "REPL history file"
  ok "REPL: assignment, result, caret, %vars, history"
else
  ok "REPL: no script(1) (skipped)"
fi
