#!/bin/bash
# test_slurm.sh - every job script of the tutorial, submitted with sbatch to
# a real (private, single-node) Slurm cluster that this test starts and
# always stops, also when a check fails or the test is interrupted.
#
# usage: test_slurm.sh SOURCE_DIR BUILD_DIR
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge
# (make deps); without them it fails and says so. The cluster runs
# proctrack/linuxproc and task/affinity; test_slurm_cgroup.sh repeats the
# checks that differ under cgroups.
set -uo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
here=$(dirname "$0")
# shellcheck source=SCRIPTDIR/../cli/lib.sh
. "$src/tests/cli/lib.sh"
# shellcheck source=SCRIPTDIR/cluster.sh
. "$here/cluster.sh"

cluster_test_begin
# shellcheck source=SCRIPTDIR/shapes.sh
. "$here/shapes.sh"

# ---- the serial example -------------------------------------------------
submit examples/fibonacci/serial c-sp.sh
check "c-sp.sh: COMPLETED" [ "$st" = COMPLETED ]
check "c-sp.sh: exactly the tutorial's two lines" [ "$out" = "Fibonacci number at position 7 is: 13
Fibonacci number at position 20 is: 6765" ] || show

submit examples/fibonacci/serial c-sp.sh 7 -3
check "c-sp.sh with a bad argument: FAILED" [ "$st" = FAILED ]
check "  with the program's exit code 2" [ "$(job_field "$id" ExitCode)" = 2:0 ]
check "  and the reason in its output" has "invalid position '-3'" || show

# ---- the parallel examples: the CPU count comes from the allocation -----
small=(--values 5000:5600 --jobs "1,2")
SBATCH_EXTRA="--cpus-per-task=1" submit examples/fibonacci/parallel c-farm.sh \
    "${small[@]}" --backend threads,procs
check "c-farm.sh (1 CPU): COMPLETED" [ "$st" = COMPLETED ]
check "  every result verified" has "^All results verified"
check "  detects 1 CPU, from Slurm or the mask" \
      has "^CPUs: 1, from (SLURM_CPUS_PER_TASK|the affinity mask)$" || show
check "  warns about 2 workers on 1 CPU" has "^Warning: n_jobs up to 2, but this job has 1 CPU:"
check "  marks the oversubscribed rows" has "^threads +2 .*more workers than CPUs$"

SBATCH_EXTRA="--cpus-per-task=2" submit examples/fibonacci/parallel c-farm.sh \
    "${small[@]}" --backend procs
check "c-farm.sh (2 CPUs): COMPLETED, verified" has "^All results verified"
check "  detects 2 CPUs, from Slurm or the mask" \
      has "^CPUs: 2, from (SLURM_CPUS_PER_TASK|the affinity mask)$" || show
check "  no oversubscription warning" test -z "$(printf '%s\n' "$out" | grep Warning)"

SBATCH_EXTRA="--ntasks-per-node=2 --cpus-per-task=1" submit \
    examples/fibonacci/parallel c-multiproc.sh "${small[@]}"
check "c-multiproc.sh (2 tasks x 1 CPU): COMPLETED, verified" has "^All results verified"
check "  the batch step holds both CPUs" \
      has "^CPUs: 2, from (SLURM_CPUS_ON_NODE|the affinity mask)$" || show

if [ -x "$build/bin/fibonacci_openmp" ]; then
    SBATCH_EXTRA="--cpus-per-task=2" submit examples/fibonacci/parallel \
        c-openmp.sh "${small[@]}"
    check "c-openmp.sh (2 CPUs): COMPLETED, verified" has "^All results verified"
    check "  detects 2 CPUs" has "^CPUs: 2, from " || show
fi

if [ -x "$build/bin/fibonacci_mpi" ]; then
    # c-mpi.sh asks for 2 nodes x 8 tasks; on this one node, 2 tasks.
    SBATCH_EXTRA="--nodes=1 --ntasks-per-node=2" submit \
        examples/fibonacci/parallel c-mpi.sh --values 5000:5600
    check "c-mpi.sh (1 node, 2 ranks, srun --mpi=pmix): COMPLETED" \
          [ "$st" = COMPLETED ] || show
    check "  every result verified on rank 0" has "^All results verified"
    check "  n_jobs is the world size, 2" \
          has "^CPUs: 2, from the MPI world size$"
    check "  one table, from rank 0 only" \
          [ "$(printf '%s\n' "$out" | grep -c '^All results verified')" -eq 1 ]
fi

SBATCH_EXTRA="--cpus-per-task=1" submit examples/fibonacci/parallel c-farm.sh \
    --jobs 0,x
check "c-farm.sh with bad options: FAILED with exit code 2" \
      [ "$st:$(job_field "$id" ExitCode)" = FAILED:2:0 ]
check "  and says why" has "bad --jobs '0,x'" || show

lap "the examples"
# ---- the Python programs, on the taskfarm module ------------------------
if [ -f "$build/python/taskfarm/__init__.py" ]; then
    submit examples/fibonacci/python python-sp.sh
    check "python-sp.sh: the tutorial's two lines" [ "$out" = "Fibonacci number at position 7 is: 13
Fibonacci number at position 20 is: 6765" ] || show
    SBATCH_EXTRA="--ntasks=1 --cpus-per-task=2" submit examples/fibonacci/python \
        python-joblib.sh 5000:5300 1,2
    check "python-joblib.sh (2 CPUs): COMPLETED, verified" has "^All results verified"
    check "  taskfarm.cpus() reads 2 CPUs from Slurm or the mask" \
          has "^CPUs: 2, from (SLURM_CPUS_PER_TASK|the affinity mask)$" || show
    SBATCH_EXTRA="--ntasks-per-node=2 --cpus-per-task=1" submit \
        examples/fibonacci/python python-multiproc.sh 5000:5300 2
    check "python-multiproc.sh (2 tasks x 1 CPU): COMPLETED, verified" \
          has "^All results verified" || show
fi

# ---- a job killed at its time limit, resubmitted, resumes ---------------
# 76 values near n = 1,000,000 (~1.5 s each): about 113 s on 1 idle CPU,
# more than one --time=00:01:00 allocation (Slurm ends it 60-90 s in), so
# the first submission, on 1 CPU, is killed at its limit. The same command
# is then resubmitted with more time and 2 CPUs, as a user would, and must
# resume from the journal and complete. Half the work of a 2-CPU first
# run, and the test's length follows the work, not a count of one-minute
# allocations, which a loaded machine would exhaust.
big=(--values 999925:1000001 --journal "$J/resume.journal" --output "$J/resume.txt")
"$build/bin/fibonacci_farm" --values 999925:1000001 --algo gmp --backend threads \
    --jobs 2 --output "$J/reference.txt" >/dev/null
SBATCH_EXTRA="--time=00:01:00 --cpus-per-task=1" submit \
    examples/fibonacci/parallel c-farm-resume.sh "${big[@]}"
check "c-farm-resume.sh: killed at its time limit (TIMEOUT)" [ "$st" = TIMEOUT ] || show
check "  said how to resume when it was stopped" \
      grep -q "resume with the same command" "$J"/fib-resume-*.out
SUBMIT_WAIT=600 SBATCH_EXTRA="--time=00:10:00 --cpus-per-task=2" submit \
    examples/fibonacci/parallel c-farm-resume.sh "${big[@]}"
check "  the same command, resubmitted, COMPLETED" [ "$st" = COMPLETED ] || show
check "  resuming from the journal" has "[1-9][0-9]* from the journal"
check "  its output equals an uninterrupted run's" \
      cmp -s "$J/resume.txt" "$J/reference.txt"

lap "the time-limit job"
# ---- the taskfarm command (examples/fibonacci/cli/c-cli.sh) --------------
SBATCH_EXTRA="--cpus-per-task=2" submit examples/fibonacci/cli c-cli.sh \
    --range 5000:5200 "$build/bin/fibonacci"
check "c-cli.sh (2 CPUs): COMPLETED" [ "$st" = COMPLETED ] || show
check "  uses 2 slots and says so" \
      has "on 2 slots \(2 CPUs, from (SLURM_CPUS_PER_TASK|the affinity mask)\)" || show
# shellcheck disable=SC2046 # one position per argument
check "  its output is the serial program's, in order" \
      cmp -s "$J/fib-cli.txt" <("$build/bin/fibonacci" $(seq 5000 5199))
rm -f "$J"/fib-cli.*
# 200 one-second tasks on 2 slots: 100 s, past --time=00:01:00 (Slurm ends
# it 60-90 s in). Resubmitted as is but with -j 16 (the journal's key is
# the command and the inputs, not the slots), it must resume and complete,
# its output byte-identical to an uninterrupted run's.
# shellcheck disable=SC2016 # $1 is for sh -c
slow=(--range 0:200 sh -c 'sleep 1; echo "task $1 $(( $1 * $1 ))"' sh)
"$build/bin/taskfarm" -j 50 "${slow[@]}" >"$J/cli-reference.txt"
SBATCH_EXTRA="--time=00:01:00 --cpus-per-task=2" submit \
    examples/fibonacci/cli c-cli.sh -j 2 "${slow[@]}"
check "c-cli.sh: killed at its time limit (TIMEOUT)" [ "$st" = TIMEOUT ] || show
check "  part of the output is in the journal" [ -s "$J/fib-cli.journal" ]
SBATCH_EXTRA="--cpus-per-task=2" submit examples/fibonacci/cli c-cli.sh -j 16 "${slow[@]}"
check "  resubmitted: COMPLETED" [ "$st" = COMPLETED ] || show
check "  its output equals an uninterrupted run's" \
      cmp -s "$J/fib-cli.txt" "$J/cli-reference.txt"
check "  only the rest ran again" has "^taskfarm: 200 tasks: [1-9][0-9]* from the journal" || show
lap "the taskfarm command"
# ---- the job array and its dependent combine step -----------------------
sub=$(cd "$src/examples/fibonacci/array" && FIB_PARTS=$J ./submit.sh --chdir="$J")
array_id=$(echo "$sub" | sed -n 's/.*array job \([0-9]*\) .*/\1/p')
combine_id=$(echo "$sub" | sed -n 's/.*combine job \([0-9]*\) .*/\1/p')
st=$(wait_job "$array_id" 180)
check "array: every element COMPLETED" [ "$st" = COMPLETED ]
check "array: four part files" [ "$(find "$J" -name 'fib-part-*.txt' | wc -l)" -eq 4 ]
id=$combine_id
st=$(wait_job "$combine_id" 180)
out=$(cat "$J"/*-"$combine_id".out 2>/dev/null)
check "array: the afterok combine step COMPLETED" [ "$st" = COMPLETED ] || show
check "array: combined = the serial program's 5000 lines" \
      cmp -s "$J/fib-all.txt" <("$build/bin/fibonacci" $(seq 5000 9999))
check "array: combine ran after the array" \
      [ "$(job_field "$combine_id" Dependency)" = "(null)" ]

lap "the job array"
# ---- the CPU count in every job shape of issue 14 ------------------------
check_cpu_shapes
lap "the job shapes"

echo "Slurm tests took $((SECONDS - t0)) s"
finish
