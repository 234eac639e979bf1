#!/bin/bash
# c-farm.sh - the joblib-style example (fibonacci_farm) as a Slurm job.
#
#   sbatch c-farm.sh                          the tutorial's sweep
#   sbatch c-farm.sh --jobs all --backend procs   just the allocation
#
# One process with 8 CPUs: --ntasks=1 --cpus-per-task=8. The program is a
# single process whose workers are threads or forked children, so all 8
# CPUs must belong to that one task; --ntasks=8 --cpus-per-task=1 would
# also give 8 CPUs, but as 8 tasks meant for srun (see c-multiproc.sh).
# No srun here: srun starts one copy per task, and one copy is what we want.
#
# The program reads its CPU count from the allocation (the affinity mask
# Slurm sets, SLURM_CPUS_PER_TASK) and prints where it came from, so the 8
# below is the only place the number appears. The tutorial's sweep runs
# n_jobs = 1, 2, 4, 8, 16, 32: rows past the allocation are marked, and they
# are no faster, because more workers than CPUs only take turns.
#
#SBATCH --job-name=fib-farm
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
tf_need fibonacci_farm

if [ $# -eq 0 ]; then
    set -- --backend threads,procs
fi
"$bin/fibonacci_farm" "$@"
