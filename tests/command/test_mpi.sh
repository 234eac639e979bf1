#!/bin/bash
# test_mpi.sh - `mpirun -n 3 taskfarm ...` is one farm over 3 ranks: the
# same output as `taskfarm -j 3` (in input order), every rank used, the
# joblog's Host column names the node, failures counted by rank 0, and a
# journal written under MPI resumes (under MPI and without).
#
# usage: test_mpi.sh TASKFARM SOURCE_DIR MPIEXEC
# shellcheck disable=SC2016 # $1 is for sh -c
set -u
T=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mpiexec=$3
# shellcheck source=SCRIPTDIR/../cli/lib.sh
. "$2/tests/cli/lib.sh"
cd "$tmp" || exit 1
mpi=("$mpiexec" --allow-run-as-root --oversubscribe -n 3)
host=$(hostname)

job=(sh -c 'echo "task $1 $(( $1 * $1 ))"; echo "err $1" >&2' sh)
"$T" -j 3 --range 0:60 "${job[@]}" >j3.out 2>j3.err
"${mpi[@]}" "$T" --range 0:60 "${job[@]}" >m3.out 2>m3.err; rc=$?
check "mpirun -n 3: exit 0" [ "$rc" = 0 ]
check "mpirun -n 3: stdout identical to -j 3" cmp -s j3.out m3.out
check "mpirun -n 3: every task's stderr, whole" \
    [ "$(sort m3.err)" = "$(sort j3.err)" ]
eq_slots=$("${mpi[@]}" "$T" --range 0:30 sh -c 'sleep 0.05; echo $TASKFARM_SLOT' sh | sort -u | paste -sd,)
check "mpirun -n 3: slots 1, 2, 3 (one per rank) all ran tasks" [ "$eq_slots" = 1,2,3 ]
fds=$("${mpi[@]}" "$T" --range 0:6 sh -c 'sleep 0.05; ls /proc/self/fd | paste -sd" "' | sort -u)
check "mpirun: no descriptor of Open MPI's leaks into a command (got: $fds)" \
    [ "$fds" = "0 1 2 3" ]       # 3: ls's own, for /proc/self/fd
"${mpi[@]}" "$T" --joblog jl.txt sh -c 'exit $1' sh ::: 0 3 0 5 >/dev/null 2>f.err; rc=$?
check "mpirun: two failed tasks, exit 2" [ "$rc" = 2 ]
check "mpirun: the joblog's Host is the node, exit values right" \
    [ "$(awk -F'\t' 'NR > 1 {print $1, $2, $7}' jl.txt | sort)" = \
      "$(printf '1 %s 0\n2 %s 3\n3 %s 0\n4 %s 5' "$host" "$host" "$host" "$host")" ]
"${mpi[@]}" "$T" --journal m.tfj --range 0:20 "${job[@]}" >mj1.out 2>/dev/null
"${mpi[@]}" "$T" --journal m.tfj --range 0:20 "${job[@]}" >mj2.out 2>/dev/null
"$T" --journal m.tfj --range 0:20 "${job[@]}" >mj3.out 2>/dev/null
"$T" -j 3 --range 0:20 "${job[@]}" >ref20.out 2>/dev/null
check "mpirun with a journal: the rerun replays identical output" cmp -s mj1.out mj2.out
check "  and so does a rerun without MPI, = an uninterrupted run" \
    sh -c 'cmp -s mj1.out mj3.out && cmp -s mj1.out ref20.out'
finish
