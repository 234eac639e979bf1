#!/bin/bash
# cli_bench.sh - the `taskfarm` command against xargs and GNU parallel,
# side by side, in interleaved rounds (each round runs the three in a
# rotated order, so a burst of load elsewhere hits all of them alike);
# medians and ratios at the end.
#   overhead: 5,000 x `true` on 2 slots (xargs -P2 -n1, taskfarm -j2,
#             parallel -j2)
#   output:   1,000 tasks of 100 kB each (xargs unordered, taskfarm and
#             parallel -k ordered), the same command for all three
#   memory:   peak RSS of 50,000 and 100,000 `true` from stdin (VmHWM)
#
# usage: bench/cli_bench.sh BUILD_DIR [ROUNDS]   (GNU parallel: make deps)
set -u
build=$(cd "$1" && pwd)
rounds=${2:-5}
T=$build/bin/taskfarm
here=$(cd "$(dirname "$0")" && pwd)
command -v parallel >/dev/null || { echo "GNU parallel is missing: make deps"; exit 1; }
parallel --version 2>/dev/null | head -n1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seq 5000 >"$tmp/5000"
seq 1000 >"$tmp/1000"
big='head -c 100000 /dev/zero'

calc() { awk "BEGIN {print $*}"; }

# timed NAME COMMAND...: appends the wall seconds of COMMAND to $tmp/NAME.
timed() {
    name=$1; shift
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    calc "$t1 - $t0" >>"$tmp/$name"
}

o_xargs()    { xargs -P2 -n1 true <"$tmp/5000"; }
o_taskfarm() { "$T" -j2 true <"$tmp/5000"; }
o_parallel() { parallel -j2 true <"$tmp/5000"; }
b_xargs()    { xargs -P2 -n1 sh -c "$big" <"$tmp/1000"; }
b_taskfarm() { "$T" -j2 sh -c "$big" <"$tmp/1000"; }
b_parallel() { parallel -k -j2 sh -c "'$big'" <"$tmp/1000"; }

tools=(xargs taskfarm parallel)
for r in $(seq "$rounds"); do
    for k in 0 1 2; do
        t=${tools[$(( (k + r) % 3 ))]}
        timed "overhead-$t" "o_$t"
        timed "output-$t" "b_$t"
    done
    echo "round $r done" >&2
done

median() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo
printf '%-28s %10s %10s %10s\n' "benchmark (median of $rounds)" xargs taskfarm parallel
for b in overhead output; do
    x=$(median "$tmp/$b-xargs"); f=$(median "$tmp/$b-taskfarm"); p=$(median "$tmp/$b-parallel")
    printf '%-28s %9.2fs %9.2fs %9.2fs\n' "$b" "$x" "$f" "$p"
    printf '%-28s %10s %10.2f %10.2f\n' "  x of xargs" 1.00 "$(calc "$f / $x")" "$(calc "$p / $x")"
    printf '%-28s %10s %10.2f\n' "  parallel / taskfarm" "" "$(calc "$p / $f")"
done
printf '%-28s %9.3f %9.3f %9.3f\n' "overhead ms/task" \
    "$(calc "$(median "$tmp/overhead-xargs") / 5")" \
    "$(calc "$(median "$tmp/overhead-taskfarm") / 5")" \
    "$(calc "$(median "$tmp/overhead-parallel") / 5")"
echo
echo "memory (taskfarm, VmHWM):"
/usr/bin/python3 "$here/../tests/command/test_memory.py" "$T" 50000 100000
