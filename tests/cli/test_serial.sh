#!/bin/sh
# test_serial.sh - the serial example, driven as a user would drive it.
# usage: test_serial.sh PATH/TO/fibonacci
set -u
prog=$1
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

expect_out "no arguments: the tutorial's two lines" \
"Fibonacci number at position 7 is: 13
Fibonacci number at position 20 is: 6765" "$prog"

expect_out "positions as arguments" \
"Fibonacci number at position 7 is: 13
Fibonacci number at position 20 is: 6765
Fibonacci number at position 100 is: 354224848179261915075
Fibonacci number at position 0 is: 0" "$prog" 7 20 100 0

digits=$("$prog" 1000 | sed 's/.*is: //' | tr -d '\n' | wc -c)
check "fib(1000) printed in full (209 digits)" [ "$digits" = 209 ]

for bad in -3 abc 1.5 "" 1000001 99999999999999999999 +4; do
    expect_fail "bad argument '$bad'" 2 "invalid position" "$prog" 7 "$bad"
done

finish
