#!/bin/bash
# shapes-job.sh - the CPU count as fibonacci_farm finds it in each place of
# one job: the batch script itself, then the srun steps of issue 14's table
# for the job's shape. Submitted by shapes.sh:
#
#   sbatch -c1 | -c2 | -n2 -c1 | --array=1-2 -c2   shapes-job.sh
#
# Every output line starts with where it ran ("srun -n1 --exact #0: "), #N
# being the task's SLURM_PROCID. TASKFARM_BUILD and SHAPES_SCRIPT (this
# file) come from the test's environment, which sbatch passes on.
set -uo pipefail
fib=$TASKFARM_BUILD/bin/fibonacci_farm

# here LABEL...: one farm run in this process, its lines labelled.
here() {
    local label="$* #${SLURM_PROCID:-0}"
    "$fib" --values 5000:5100 --jobs all --backend procs 2>&1 |
        sed "s/^/$label: /"
}

if [ "${1:-}" = --task ]; then
    shift
    here "$@"
    exit 0
fi

here batch
step() { srun "$@" "$SHAPES_SCRIPT" --task srun "$@"; }
if [ "${SLURM_NTASKS:-1}" = 2 ]; then
    step -n1
    step -n1 --exact
    step -n1 -c2
    step -n2
else
    step
fi
