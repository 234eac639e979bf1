#!/bin/bash
# c-openmp.sh - the multithreaded example (fibonacci_openmp) as a Slurm job.
#
#   sbatch c-openmp.sh
#
# Threads share one process, so the CPUs go to one task:
# --ntasks=1 --cpus-per-task=8. Many OpenMP programs set
# OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK; this one sets its thread count per
# run from --jobs (and from the allocation for --jobs all), so it leaves
# OMP_NUM_THREADS alone.
#
#SBATCH --job-name=fib-openmp
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --mem-per-cpu=1G
#SBATCH --time=00:10:00
#SBATCH --output=%x-%j.out
#
# Site-specific lines: delete one '#' and put your cluster's value.
##SBATCH --clusters=CLUSTER        # the cluster, on multi-cluster sites
##SBATCH --partition=PARTITION     # e.g. debug or general-compute
##SBATCH --qos=QOS                 # often named like the partition
##SBATCH --account=ACCOUNT         # the allocation your group charges to
##SBATCH --mail-type=END,FAIL      # mail when the job ends or fails
##SBATCH --mail-user=YOU@EXAMPLE.EDU
set -euo pipefail

# With environment modules (most clusters), load the toolchain first:
# module load gcc cmake gmp

# Slurm runs a copy of this script, so find the project from where sbatch
# was run.
root=${TASKFARM_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
while [ ! -f "$root/include/taskfarm.h" ] && [ "$root" != / ]; do
    root=$(dirname "$root")
done
# shellcheck source=SCRIPTDIR/../jobenv.sh
. "$root/examples/fibonacci/jobenv.sh"
tf_need fibonacci_openmp

"$bin/fibonacci_openmp" "$@"
