# shellcheck shell=sh
# lib.sh - small assertions for the command-line tests; sourced.
# Each check prints PASS/FAIL; finish prints "N passed, N failed" and sets
# the exit status.
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok()  { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
    name=$1; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

# has TEXT PATTERN: TEXT has a line matching the extended regex PATTERN.
has() {
    printf '%s\n' "$1" | grep -qE -- "$2"
}

# expect_out NAME EXPECTED COMMAND...: exit 0 and stdout exactly EXPECTED.
expect_out() {
    name=$1; want=$2; shift 2
    got=$("$@" 2>"$tmp/err"); rc=$?
    if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then ok "$name"; else
        bad "$name (rc=$rc)"; printf 'want:\n%s\ngot:\n%s\n' "$want" "$got"
        cat "$tmp/err"
    fi
}

# expect_fail NAME STATUS PATTERN COMMAND...: exits STATUS, stdout empty,
# stderr one line matching PATTERN.
expect_fail() {
    name=$1; status=$2; pattern=$3; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc -eq "$status" ] && [ ! -s "$tmp/out" ] &&
       [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$pattern" "$tmp/err"; then
        ok "$name"
    else
        bad "$name (rc=$rc)"; cat "$tmp/out" "$tmp/err"
    fi
}

# expect_error NAME STATUS PATTERN COMMAND...: a failure found while running
# (after the program may have printed its header): exits STATUS, and stderr
# matches PATTERN.
expect_error() {
    name=$1; status=$2; pattern=$3; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc -eq "$status" ] && grep -q -- "$pattern" "$tmp/err"; then
        ok "$name"
    else
        bad "$name (rc=$rc)"; cat "$tmp/err"
    fi
}

finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
