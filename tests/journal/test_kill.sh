#!/bin/sh
# test_kill.sh - SIGKILL a journaled fibonacci_farm at random moments, rerun
# the same command, and require the final --output to be byte-identical to
# an uninterrupted run every time (procs and threads backends).
# usage: test_kill.sh BIN_DIR [KILLS_PER_BACKEND]
set -u
bin=$1
kills=${2:-50}
# shellcheck source=SCRIPTDIR/../cli/lib.sh
. "$(dirname "$0")/../cli/lib.sh"
values=5000:10000
n=5000

"$bin/fibonacci_farm" --values $values --jobs 2 --backend threads \
    --output "$tmp/reference.txt" >/dev/null || exit 1

# A reproducible "random" delay in seconds, from 0 to about 0.3.
delay() { awk -v s="$1" 'BEGIN { srand(s); printf "%.3f", rand() * 0.3 }'; }

for backend in procs threads; do
    differ=0 miscount=0 killed=0 resumed=0
    for k in $(seq 1 "$kills"); do
        j=$tmp/$backend-$k.journal
        out=$tmp/$backend-$k.txt
        set -- --values $values --jobs 2 --backend "$backend" \
               --journal "$j" --output "$out"
        "$bin/fibonacci_farm" "$@" >/dev/null 2>&1 &
        pid=$!
        sleep "$(delay "$k$backend")"
        kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
        wait "$pid" 2>/dev/null
        line=$("$bin/fibonacci_farm" "$@" | grep ' values in ')
        computed=$(echo "$line" | sed -n 's/.*: \([0-9]*\) computed.*/\1/p')
        replayed=$(echo "$line" | sed -n 's/.*, \([0-9]*\) from the journal/\1/p')
        [ -n "$replayed" ] && [ "$replayed" -gt 0 ] && resumed=$((resumed + 1))
        cmp -s "$out" "$tmp/reference.txt" || differ=$((differ + 1))
        [ "$((computed + replayed))" -eq $n ] || miscount=$((miscount + 1))
        rm -f "$j" "$out"
    done
    echo "$backend: $killed of $kills runs killed mid-way, $resumed resumed from a journal"
    check "$backend: the output is identical after every kill and rerun" [ "$differ" -eq 0 ]
    check "$backend: every rerun accounts for all $n values" [ "$miscount" -eq 0 ]
    check "$backend: most reruns resumed from what the killed run kept" \
          [ "$resumed" -ge $((kills / 2)) ]
done
finish
