#!/bin/bash
# python-joblib.sh - the joblib program (fibonacci_joblib.py) as a Slurm job.
#
#   sbatch python-joblib.sh                     the tutorial's sweep
#   sbatch python-joblib.sh 5000:5999 1,2,4     fewer values and n_jobs
#
# One process with 8 CPUs: --ntasks=1 --cpus-per-task=8, so all 8 belong
# to the one task that runs Python (no srun). taskfarm.cpus(), and with it
# n_jobs=-1, reads them from SLURM_CPUS_PER_TASK and the affinity mask;
# joblib's own cpu_count() would have said the whole node.
#SBATCH --job-name=python-joblib
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
# module load gcc python   (and: module load taskfarm, if it is installed)

# Slurm runs a copy of this script, so find the project from where sbatch
# was run.
root=${TASKFARM_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
while [ ! -f "$root/include/taskfarm.h" ] && [ "$root" != / ]; do
    root=$(dirname "$root")
done
# shellcheck source=SCRIPTDIR/../pyenv.sh
. "$root/examples/fibonacci/pyenv.sh"

"$python" "$here/fibonacci_joblib.py" "$@"
