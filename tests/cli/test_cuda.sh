#!/bin/sh
# test_cuda.sh - the GPU example (fibonacci_cuda), driven as a user would:
# its values, written out, must equal GMP's as fibonacci_farm writes them.
# usage: test_cuda.sh BIN_DIR gpu|emulate
#   gpu      on the GPU; exits 77 (CTest's skip) where there is none
#   emulate  the same program with the kernel emulated on the CPU
set -u
bin=$1
mode=$2
here=$(dirname "$0")
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"
cuda=$bin/fibonacci_cuda
if [ "$mode" = emulate ]; then emulate=--emulate; else emulate=; fi

if [ "$mode" = gpu ]; then
    "$cuda" --values 0:2 --repeat 1 >/dev/null 2>"$tmp/err"; rc=$?
    if [ $rc -eq 77 ]; then
        echo "skipped: $(cat "$tmp/err")"
        exit 77
    fi
fi

# same NAME LO:HI: the program's values equal GMP's, every line.
same() {
    # shellcheck disable=SC2086 # $emulate is one option or nothing
    out=$("$cuda" $emulate --values "$2" --repeat 2 --jobs 2 \
          --output "$tmp/got" --json "$tmp/got.json" 2>"$tmp/err"); rc=$?
    check "$1: exit 0" [ $rc -eq 0 ]
    [ $rc -eq 0 ] || cat "$tmp/err"
    check "$1: says every value verified" \
          has "$out" "^All [0-9]+ values verified against GMP's mpz_fib_ui"
    "$bin/fibonacci_farm" --values "$2" --algo gmp --backend serial --jobs 1 \
        --output "$tmp/want" >/dev/null
    check "$1: the values equal fibonacci_farm --algo gmp's" \
          cmp -s "$tmp/got" "$tmp/want"
    check "$1: the JSON" python3 - "$tmp/got.json" "$mode" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
emulated = sys.argv[2] == "emulate"
assert doc["verified"] is True and doc["emulated"] is emulated
assert doc["limbs_per_lane"] in (8, 32)
for key in ("serial_loop_seconds", "threads_loop_seconds", "mpz_fib_ui_seconds"):
    assert doc["cpu"][key] > 0, key
assert doc["cpu"]["threads_n_jobs"] == 2
if not emulated:
    assert doc["device"]["name"] and doc["gpu"]["kernel_seconds"] > 0
    assert doc["gpu"]["repeat"] == 2
assert doc["speedup_vs_threads"] > 0
PY
}

same "0..599" 0:600
check "0..599: 8 limbs per lane" has "$out" "8 limbs (of 32 bits )?per lane"
same "11797..11800, past the small warp" 11797:11801
check "11797..11800: 32 limbs per lane" has "$out" "32 limbs (of 32 bits )?per lane"
if [ "$mode" = gpu ]; then
    check "gpu: names the device" has "$out" "^GPU: .+, [0-9]+ SMs"
    check "gpu: kernel and transfers timed" has "$out" "kernel [0-9.]+ ms"
else
    check "emulate: says so" has "$out" "^Emulated: "
    expect_fail "--values past what a warp holds" 2 "bad --values" \
        "$cuda" --values 0:47200
    expect_fail "--values 9:3" 2 "bad --values" "$cuda" --values 9:3
    expect_fail "--repeat 0" 2 "bad --repeat" "$cuda" --repeat 0
    expect_fail "--jobs x" 2 "bad --jobs" "$cuda" --jobs x
    expect_fail "unknown option" 2 "unknown option" "$cuda" --frobnicate 1
    expect_fail "missing value" 2 "needs a value" "$cuda" --values
    "$cuda" --help >/dev/null; rc=$?
    check "--help: exit 0" [ $rc -eq 0 ]
fi
finish
