#!/bin/bash
# c-cli-mpi.sh - c-cli.sh across nodes: one `taskfarm` farm over every
# rank of one job step (taskfarm built with MPI).
#
#   sbatch c-cli-mpi.sh        fibonacci N, N = 5000..9999, on 2 x 8 ranks
#   sbatch c-cli-mpi.sh py     the same with the Python script (fib.py)
#   sbatch c-cli-mpi.sh OPTIONS... COMMAND [ARG...]
#
# srun starts taskfarm once per task: 2 nodes x 8 = 16 ranks, ONE job step
# for the whole farm (never one srun per input: thousands of job steps
# flood the Slurm controller). Rank 0 reads the inputs, sends each with its
# task, and writes fib-cli.txt, the journal and the joblog (whose Host
# column names the node). Every rank runs one command at a time, so ask
# for --ntasks-per-node = the CPUs you want used on each node. Resubmit to
# resume, as with c-cli.sh.
#
#SBATCH --job-name=fib-cli-mpi
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=8
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=1G
#SBATCH --time=00:10:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
#
# Site-specific lines: delete one '#' and put your cluster's value.
##SBATCH --clusters=CLUSTER        # the cluster, on multi-cluster sites
##SBATCH --partition=PARTITION     # e.g. debug or general-compute
##SBATCH --qos=QOS                 # often named like the partition
##SBATCH --account=ACCOUNT         # the allocation your group charges to
set -euo pipefail

# With environment modules (most clusters), load the toolchain and MPI:
# module load gcc cmake gmp openmpi

root=${TASKFARM_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
while [ ! -f "$root/include/taskfarm.h" ] && [ "$root" != / ]; do
    root=$(dirname "$root")
done
# shellcheck source=SCRIPTDIR/../jobenv.sh
. "$root/examples/fibonacci/jobenv.sh"
tf_need taskfarm
tf_need fibonacci

case "${1:-c}" in
    c)  set -- --range 5000:10000 "$bin/fibonacci" ;;
    py) set -- --range 5000:10000 /usr/bin/python3 "$root/examples/fibonacci/cli/fib.py" ;;
esac
# Open MPI under Slurm starts through PMIx; without it, mpirun reads the
# allocation from Slurm:  mpirun "$bin/taskfarm" ...
srun --mpi=pmix "$bin/taskfarm" --verbose --journal fib-cli.journal \
    --joblog fib-cli.joblog "$@" >fib-cli.txt
