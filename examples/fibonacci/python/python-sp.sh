#!/bin/bash
# python-sp.sh - the serial Python program (fibonacci.py) as a Slurm job.
#
#   sbatch python-sp.sh            prints fib(7) and fib(20), as the tutorial does
#   sbatch python-sp.sh 100 1000   any positions, one line each
#
# A serial job uses one CPU core, so it asks for one node, one task and one
# CPU. Submit it from anywhere inside the project (or set TASKFARM_ROOT).
#
#SBATCH --job-name=py-serial
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=1G
#SBATCH --time=00:01:00
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

"$python" "$here/fibonacci.py" "$@"
