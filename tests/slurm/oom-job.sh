#!/bin/bash
# oom-job.sh - runs oom_farm (tests/slurm/oom_farm.c) in a job with a
# memory limit, directly in the batch script or, with --srun, as a step,
# and prints the program's own exit status, which Slurm's job state hides.
#
#   sbatch --mem=200M oom-job.sh [--srun] BACKEND N K
set -uo pipefail
launch=()
if [ "${1:-}" = --srun ]; then
    launch=(srun)
    shift
fi
"${launch[@]}" "$TASKFARM_BUILD/bin/slurm_oom_farm" "$@"
echo "exit status $?"
