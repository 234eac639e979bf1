#!/bin/bash
# python-multiproc.sh - the Pool program (fibonacci_multiproc.py) as a Slurm job.
#
#   sbatch python-multiproc.sh                  the tutorial's sweep
#   sbatch python-multiproc.sh 5000:5999 1,2,4  fewer values and n_jobs
#
# 8 CPUs as the tutorial asks for them: --ntasks-per-node=8
# --cpus-per-task=1. The program is one process (no srun: srun would start
# 8 copies); its workers are forked children, and taskfarm.cpus() reads the
# 8 from the allocation (SLURM_CPUS_ON_NODE, the affinity mask) and prints
# where it came from. Rows past 8 processes are no faster.
#SBATCH --job-name=python-multiproc
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
# module load gcc python   (and: module load taskfarm, if it is installed)

# Slurm runs a copy of this script, so find the project from where sbatch
# was run.
root=${TASKFARM_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
while [ ! -f "$root/include/taskfarm.h" ] && [ "$root" != / ]; do
    root=$(dirname "$root")
done
# shellcheck source=SCRIPTDIR/../pyenv.sh
. "$root/examples/fibonacci/pyenv.sh"

"$python" "$here/fibonacci_multiproc.py" "$@"
