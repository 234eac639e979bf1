#!/bin/bash
# multinode_bench.sh - what the network path between two nodes costs: the
# MPI example on 2 namespace nodes of 1 CPU each (tests/multinode/nodes.sh),
# Open MPI held to TCP between them, against 2 ranks on one node of 2 CPUs
# with the same TCP settings (and, a third column, with shared memory).
# The same 2 CPUs either way; interleaved rounds, medians, the ratio.
#
# usage: bench/multinode_bench.sh [BUILD_DIR]    (root; make bench-multinode)
#   MULTINODE_BENCH_ROUNDS  rounds (default 5)
#   MULTINODE_BENCH_VALUES  the values LO:HI (default 5000:24000, about 4 s
#                           of work on 2 quiet CPUs)
# Without Slurm: mpirun on node1, node2 reached through ns-agent.sh. Slurm
# would add its daemons' CPU and srun's PMIx start to both sides alike,
# noise on a shared 2-CPU machine, and nothing on the network path.
# shellcheck disable=SC2054 # commas inside mpirun arguments
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd) || exit 1
mn=$src/tests/multinode
# shellcheck source=SCRIPTDIR/../tests/multinode/nodes.sh
. "$mn/nodes.sh"
rounds=${MULTINODE_BENCH_ROUNDS:-5}
values=${MULTINODE_BENCH_VALUES:-5000:24000}
prog=$build/bin/fibonacci_mpi

mn_config
if why=$(mn_missing); then
    echo "multinode_bench: $why" >&2
    exit 1
fi
[ -x "$prog" ] || { echo "multinode_bench: $prog is missing (MPI not built)" >&2; exit 1; }
# shellcheck disable=SC2034 # tmp, CLUSTER_UP: read by cluster_test_begin
tmp=$(mktemp -d)
CLUSTER_UP=mn_nodes_up
cluster_test_begin     # the nodes; teardown by trap and watchdog

# tcp: 2 ranks over TCP on the nodes' network (between two nodes, or
# inside one); shm: shared memory inside one node.
tcp=(--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include "$MN_NET.0/24")
shm=(--mca pml ob1 --mca btl vader,self)
mpi=(mpirun --allow-run-as-root -n 2 --mca oob_tcp_if_include "$MN_NET.0/24")
two=("${mpi[@]}" --host node1:1,node2:1 --mca plm_rsh_agent "$mn/ns-agent.sh")

# run COL: one run of column COL; appends "COL map wall bytes" to $J/runs.
# map: the program's own time of the map (first task to last result);
# wall: mpirun's, its start included; bytes: what node2's link carried.
run() {
    local col=$1 b0 t0 t1 out cmd
    case $col in
        A) cmd=(mn_in 1 "${two[@]}" "${tcp[@]}") ;;
        B) cmd=(mn_enter 1 "${mpi[@]}" "${tcp[@]}") ;;
        C) cmd=(mn_enter 1 "${mpi[@]}" "${shm[@]}") ;;
    esac
    b0=$(mn_link_bytes 2)
    t0=$EPOCHREALTIME
    # shellcheck disable=SC2016 # expanded by each rank's bash
    out=$("${cmd[@]}" bash -c '"$0" "$@"; rc=$?; times; exit $rc' \
          "$prog" --values "$values" --output "$J/$col.txt" 2>&1)
    t1=$EPOCHREALTIME
    map=$(printf '%s\n' "$out" | sed -n 's/^[0-9]* values in \([0-9.]*\) s with mpi.*/\1/p')
    if [ -z "$map" ] || ! cmp -s "$J/$col.txt" "$J/ref.txt"; then
        printf 'multinode_bench: run %s failed or its values differ:\n%s\n' "$col" "$out" >&2
        exit 1
    fi
    # bash's times on each rank: its own and its children's user and sys
    # time ("0m1.234s 0m0.012s"); their sum is the ranks' CPU time.
    cpu=$(printf '%s\n' "$out" | awk -F'[ms]' '/^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$/ {
        u += $1 * 60 + $2; s += $3 * 60 + $4 } END { print u + 0, s + 0 }')
    echo "$col $map $(awk "BEGIN { print $t1 - $t0 }") $(($(mn_link_bytes 2) - b0)) $cpu" >>"$J/runs"
}

# The reference values, once, by the gmp algorithm (the runs use loop).
"$build/bin/fibonacci_farm" --values "$values" --algo gmp --backend threads \
    --jobs 2 --output "$J/ref.txt" >/dev/null || exit 1
cols=(A B C)
load=$(cut -d' ' -f1 /proc/loadavg)
echo "fib(n) for n in [$values), loop; $rounds rounds, order rotated each round"
for r in $(seq 0 $((rounds - 1))); do
    for k in 0 1 2; do run "${cols[(r + k) % 3]}"; done
    load="$load $(cut -d' ' -f1 /proc/loadavg)"
    echo "  round $((r + 1)): $(tail -n 3 "$J/runs" | sort | awk '{printf "%s %.2f s  ", $1, $2}')"
done

# Medians (min-max) per column; the ratios of the medians.
awk -v load="$load" '
function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) {
        t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{ n[$1]++; m[$1, n[$1]] = $2; w[$1, n[$1]] = $3; b[$1, n[$1]] = $4
  u[$1, n[$1]] = $5; s[$1, n[$1]] = $6 }
END {
    name["A"] = "A: 2 nodes x 1 CPU, TCP between them"
    name["B"] = "B: 1 node x 2 CPUs, TCP (same btl)"
    name["C"] = "C: 1 node x 2 CPUs, shared memory"
    print "\n| column | map median (min-max), s | mpirun wall median (min-max), s | ranks user + sys CPU, s (medians) | node2 link bytes/run |"
    print "|---|---|---|---|---|"
    for (c = 1; c <= 3; c++) {
        k = substr("ABC", c, 1); nk = n[k]
        for (i = 1; i <= nk; i++) {
            x[i] = m[k, i]; y[i] = w[k, i]; z[i] = b[k, i]; cu[i] = u[k, i]; cs[i] = s[k, i] }
        mm[k] = median(x, nk); mw[k] = median(y, nk)
        printf "| %s | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.2f + %.2f | %d |\n", name[k],
            mm[k], x[1], x[nk], mw[k], y[1], y[nk], median(cu, nk), median(cs, nk), median(z, nk)
    }
    printf "\nA/B: %.3f (map), %.3f (wall); A/C: %.3f (map), %.3f (wall); target A/B <= 1.10\n",
        mm["A"] / mm["B"], mw["A"] / mw["B"], mm["A"] / mm["C"], mw["A"] / mw["C"]
    printf "load average (1 min) before and after each round: %s\n", load
}' "$J/runs"
