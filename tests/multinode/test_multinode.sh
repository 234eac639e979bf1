#!/bin/bash
# test_multinode.sh - the MPI example on a real Slurm cluster of two nodes,
# each a network + UTS namespace with a CPU of its own (nodes.sh), so that
# Open MPI must talk TCP between them; then a time limit, a lost node, and
# mpirun outside Slurm. The cluster is always torn down, also on failure,
# interruption or SIGKILL (a watchdog).
#
# usage: test_multinode.sh SOURCE_DIR BUILD_DIR
# Needs root, iproute2, util-linux, Debian's Slurm and munge, Open MPI
# (make deps); without them it fails and says why.
set -uo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../cli/lib.sh
. "$src/tests/cli/lib.sh"
# shellcheck source=SCRIPTDIR/nodes.sh
. "$here/nodes.sh"
# shellcheck source=SCRIPTDIR/command.sh
. "$here/command.sh"

mn_config
if why=$(mn_missing); then
    echo "FAIL: $why"
    exit 1
fi
if [ ! -x "$build/bin/fibonacci_mpi" ]; then
    echo "FAIL: $build/bin/fibonacci_mpi is missing: the build found no MPI" \
         "(libopenmpi-dev: make deps)"
    exit 1
fi
cluster_test_begin
par=examples/fibonacci/parallel
# Open MPI may use only TCP between ranks, on the nodes' network; sbatch
# passes the environment on to the job and srun to the ranks. (With
# shared memory allowed too, it still takes TCP between the nodes: their
# host names differ, so it sees two hosts. Tried on 2026-12-01.)
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=tcp,self
export OMPI_MCA_btl_tcp_if_include=$MN_NET.0/24
# c-mpi.sh asks for 8 tasks per node; these nodes have one CPU each.
one=(--ntasks-per-node=1)

# fib_bytes N: the bytes of fib(N) as a rank sends it (its magnitude,
# big-endian: floor(N log2(phi) - log2(sqrt 5)) + 1 bits).
fib_bytes() {
    awk -v n="$1" 'BEGIN { l = log((1 + sqrt(5)) / 2) / log(2)
        printf "%d\n", int((int(n * l - log(sqrt(5)) / log(2)) + 1 + 7) / 8) }'
}

# node_values NODE: the values NODE's ranks computed, from the program's
# "Values computed per node: node1 2100 (1 rank), node2 2900 (1 rank)".
node_values() {
    printf '%s\n' "$out" | sed -n "s/^Values computed per node:.* $1 \([0-9]*\) .*/\1/p"
}

# over_tcp BYTES LO: node2's link carried at least the results node2's
# ranks sent, each at least fib(LO)'s size (the smallest of the run).
over_tcp() {
    local n want
    n=$(node_values node2)
    want=$((${n:-0} * $(fib_bytes "$2")))
    echo "  (node2's link: $1 bytes; its results: at least $want)"
    [ "$want" -gt 0 ] && [ "$1" -ge "$want" ]
}

# wait_journal FILE: until FILE holds a few values (100 kB), at most 60 s.
wait_journal() {
    for _ in $(seq 1 300); do
        [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt 100000 ] && return 0
        sleep 0.2
    done
}

# ---- the nodes ----------------------------------------------------------
check_nodes() {
    local placed
    # shellcheck disable=SC2016 # expanded on the nodes
    placed=$(cd "$J" && srun -N2 -n2 bash -c \
        'echo "$(hostname) $(grep Cpus_allowed_list /proc/self/status | cut -f2)"' |
        sort)
    check "two nodes, each its own host name and CPU (node1: 0, node2: 1)" \
          [ "$placed" = "node1 0
node2 1" ] || echo "got: $placed"
    check "  node addresses from 198.18.0.0/15 only" \
          [ -z "$(sinfo -h -N -o '%o' | grep -v '^198\.1[89]\.')" ]
}

# ---- c-mpi.sh on two nodes, over TCP ------------------------------------
check_c_mpi() {
    local b0
    b0=$(mn_link_bytes 2)
    SBATCH_EXTRA="--nodes=2 ${one[*]}" submit $par c-mpi.sh
    check "c-mpi.sh --nodes=2 (2 ranks, srun --mpi=pmix): COMPLETED" \
          [ "$st" = COMPLETED ] || show
    check "  every result verified on rank 0" has "^All results verified"
    check "  n_jobs is the world size, 2" has "^CPUs: 2, from the MPI world size$"
    check "  one rank on each node, both computed" \
          has "^Values computed per node: node1 [1-9][0-9]* \(1 rank\), node2 [1-9][0-9]* \(1 rank\)$"
    check "  over TCP, through node2's link" \
          over_tcp $(($(mn_link_bytes 2) - b0)) 5000
    lap "c-mpi.sh on two nodes"
}

# ---- the reference: the values of the next runs, uninterrupted ----------
# By the gmp algorithm (a second of work) while the jobs use loop (about
# 0.2 s a value on this machine): the same numbers, by another way.
lo=300000
# n_long: values enough to keep two ranks busy about 45 s at the speed
# measured now (10 values on one CPU; 100 to 2000 values).
n_long=$(cd "$J" && TIMEFORMAT=%R; { time "$build/bin/fibonacci_farm" \
    --values $lo:$((lo + 10)) --algo loop --backend serial --jobs 1 \
    --output "$J/calibrate.txt" >/dev/null; } 2>&1 |
    awk '{ n = int(900 / ($1 > 0.01 ? $1 : 0.01))
           print (n < 100 ? 100 : (n > 2000 ? 2000 : n)) }')
reference() {
    [ -f "$J/reference.txt" ] ||
        "$build/bin/fibonacci_farm" --values $lo:$((lo + n_long)) --algo gmp \
            --backend threads --jobs 2 --output "$J/reference.txt" >/dev/null
}
# slice N: the reference's first N lines, fib(lo..lo+N-1).
slice() { reference && head -n "$1" "$J/reference.txt"; }

# ---- a two-node job hit by its time limit, resubmitted ------------------
# Slurm's time limit is whole minutes and checked every 30 s, so a limit
# of 1 minute lands 60-90 s in. Shortened instead, as an administrator
# may (scontrol update TimeLimit=0) once the journal has some values, the
# same limit ends the job at slurmctld's next check (0-30 s later), by the
# same path: TIMEOUT, SIGTERM, SIGKILL after KillWait. The work (about
# 45 s on the two CPUs, n_long values) outlasts that wait.
check_time_limit() {
    local big=(--values "$lo:$((lo + n_long))" --algo loop --journal "$J/tl.journal"
               --output "$J/tl.txt")
    reference
    echo "  ($n_long values)"
    id=$(cd "$src/$par" && sbatch --parsable --chdir="$J" --nodes=2 "${one[@]}" \
         c-mpi.sh "${big[@]}")
    wait_journal "$J/tl.journal"
    scontrol update JobId="$id" TimeLimit=0
    st=$(wait_job "$id" 120)
    out=$(job_out "$id")
    check "c-mpi.sh on two nodes: ended at its time limit (TIMEOUT)" \
          [ "$st" = TIMEOUT ] || show
    check "  by Slurm's time limit" has "DUE TO TIME LIMIT"
    check "  no output yet" [ ! -e "$J/tl.txt" ]
    lap "the time limit"
    SUBMIT_WAIT=300 SBATCH_EXTRA="--nodes=2 ${one[*]}" submit $par c-mpi.sh \
        "${big[@]}"
    check "  the same command, resubmitted: COMPLETED" [ "$st" = COMPLETED ] || show
    check "  resuming from the journal" has "[1-9][0-9]* from the journal"
    check "  its output equals an uninterrupted run's" \
          cmp -s "$J/tl.txt" "$J/reference.txt"
    lap "the resumed run"
}

# ---- a node lost mid-run ------------------------------------------------
# node2 (rank 1; rank 0 is on the first node of the allocation) loses its
# slurmd and its job's processes. MPI cannot survive a rank that dies:
# rank 0 waits for its results, or its next send fails, until Slurm
# declares the node down (SlurmdTimeout, 10 s here) and ends the job.
# Last: node2 stays down.
ended() { [ -n "$st" ] && [ "$st" != COMPLETED ] && [ "$st" != WAIT_TIMEOUT ]; }
check_lost_node() {
    local lost=(--values "$lo:$((lo + 60))" --algo loop --journal "$J/lost.journal"
                --output "$J/lost.txt")
    id=$(cd "$src/$par" && sbatch --parsable --chdir="$J" --nodes=2 "${one[@]}" \
         c-mpi.sh "${lost[@]}")
    wait_journal "$J/lost.journal"
    mn_kill_node 2
    st=$(wait_job "$id" 120)
    out=$(job_out "$id")
    check "node2 lost mid-run: the MPI job ends, not COMPLETED ($st)" ended || show
    check "  ended by Slurm, for the node" has "CANCELLED AT .* DUE TO NODE FAILURE"
    check "  Slurm marked node2 down" \
          [ "$(sinfo -h -N -n node2 -o %T | tr -d '*')" = down ]
    check "  no output yet" [ ! -e "$J/lost.txt" ]
    lap "the lost node"
    SBATCH_EXTRA="--nodes=1 ${one[*]}" submit $par c-mpi.sh "${lost[@]}"
    check "  resubmitted with --nodes=1: COMPLETED on node1" \
          [ "$st:$(job_field "$id" NodeList)" = COMPLETED:node1 ] || show
    check "  resuming from the journal" has "[1-9][0-9]* from the journal"
    check "  its output equals an uninterrupted run's" \
          cmp -s "$J/lost.txt" <(slice 60)
    lap "the resumed run, on one node"
}

# ---- outside Slurm: mpirun, a namespace in place of ssh -----------------
# mpirun on node1 starts node2's orted through ns-agent.sh (plm_rsh_agent),
# which enters node2's namespaces and cpuset as ssh would log in.
check_mpirun() {
    local b0 mpi=(mpirun --allow-run-as-root --host "node1:1,node2:1" -n 2
                  --mca plm_rsh_agent "$here/ns-agent.sh"
                  --mca oob_tcp_if_include "$MN_NET.0/24")
    id=mpirun st=-
    b0=$(mn_link_bytes 2)
    out=$(mn_in 1 "${mpi[@]}" "$build/bin/fibonacci_mpi" 2>&1)
    check "mpirun across the namespaces: every result verified" \
          has "^All results verified" || show
    check "  one rank on each node, both computed" \
          has "^Values computed per node: node1 [1-9][0-9]* \(1 rank\), node2 [1-9][0-9]* \(1 rank\)$"
    check "  over TCP, through node2's link" \
          over_tcp $(($(mn_link_bytes 2) - b0)) 5000
    out=$(mn_in 1 "${mpi[@]}" "$build/bin/fibonacci_mpi" --values $lo:$((lo + 20)) \
          --algo loop --output "$J/mpirun.txt" 2>&1)
    check "  the same values as an uninterrupted run" \
          cmp -s "$J/mpirun.txt" <(slice 20) || show
    lap "mpirun outside Slurm"
}

# MULTINODE_CHECKS: which of them, in this order (the lost node last).
for c in ${MULTINODE_CHECKS:-nodes c_mpi time_limit command mpirun lost_node}; do
    case $c in
        command) multinode_command_checks ;;   # command.sh: the taskfarm command
        *) "check_$c" ;;
    esac
done

# ---- teardown -----------------------------------------------------------
mn_down
lap "teardown"
left=$(mn_left)
check "teardown left no namespace, link, cgroup or daemon" [ -z "$left" ] ||
    echo "left: $left"

echo "multi-node tests took $((SECONDS - t0)) s"
finish
