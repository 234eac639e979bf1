#!/bin/bash
# c-mpi.sh - the multi-node example (fibonacci_mpi) as a Slurm job.
#
#   sbatch c-mpi.sh
#
# MPI runs one copy of the program per task, on as many nodes as you ask:
# here 2 nodes x 8 tasks = 16 ranks, one CPU each. srun starts them all
# as ONE job step (never one srun per value: thousands of job steps flood
# the Slurm controller); rank 0 hands out the work and collects the
# results. n_jobs is the world size, read from MPI, never written here.
#
# Multi-node pays off when one node's cores are not enough and each task
# is much longer than a message between nodes (tens of microseconds):
# fib(5000..9999) at about 0.1 ms a value is the short end of worthwhile.
# On one node, the threads or procs backend (c-farm.sh) does the same with
# less machinery.
#
# MPI cannot survive a rank that dies (a lost node ends the whole job):
# with --journal FILE --output FILE, resubmit the same command, on fewer
# nodes if one is down, and it computes only what the journal lacks.
#
#SBATCH --job-name=fib-mpi
#SBATCH --nodes=2
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

# With environment modules (most clusters), load the toolchain and MPI:
# module load gcc cmake gmp openmpi

root=${TASKFARM_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
while [ ! -f "$root/include/taskfarm.h" ] && [ "$root" != / ]; do
    root=$(dirname "$root")
done
# shellcheck source=SCRIPTDIR/../jobenv.sh
. "$root/examples/fibonacci/jobenv.sh"
tf_need fibonacci_mpi

# Open MPI under Slurm starts through PMIx. Without srun's PMIx support,
# use mpirun instead, which reads the allocation from Slurm:
#   mpirun "$bin/fibonacci_mpi" "$@"
srun --mpi=pmix "$bin/fibonacci_mpi" "$@"
