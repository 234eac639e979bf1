#!/bin/bash
# c-multiproc.sh - the process-pool example (fibonacci_multiproc) as a
# Slurm job.
#
#   sbatch c-multiproc.sh
#
# Asked as the tutorial asks: 8 tasks of 1 CPU on one node
# (--ntasks-per-node=8 --cpus-per-task=1), n_jobs = ntasks_per_node x
# cpus_per_task = 8. Without srun, the batch script is one process that
# holds all 8 CPUs of the node's allocation, and its pool of 8 forked
# workers uses them. (srun would instead start 8 copies of the program,
# each with 1 CPU: right for MPI, wrong for a pool.)
#
# The worker count is read from the allocation, never written twice: the
# program prints "CPUs: 8, from ..." and marks rows with more workers.
#
#SBATCH --job-name=fib-multiproc
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=8
#SBATCH --cpus-per-task=1
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
tf_need fibonacci_multiproc

"$bin/fibonacci_multiproc" "$@"
