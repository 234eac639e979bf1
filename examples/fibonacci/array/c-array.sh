#!/bin/bash
# c-array.sh - the tutorial's 5000 values as a Slurm job array: 4 jobs,
# each computing a quarter with the plain serial program. Submit both steps
# with ./submit.sh, or by hand:
#
#   first=$(sbatch --parsable c-array.sh)
#   sbatch --dependency=afterok:$first c-array-combine.sh
#
# Slurm starts one independent job per array index (--array=0-3), each with
# its own SLURM_ARRAY_TASK_ID; they may run at once on different nodes, or
# one after another when the cluster is busy. No library, no
# communication: the right tool when the work splits into a few big,
# independent pieces. Prefer taskfarm when pieces are many and uneven (it
# balances them inside one job), when you want one result stream in order,
# or when thousands of tiny array jobs would load the scheduler.
#
#SBATCH --job-name=fib-array
#SBATCH --array=0-3
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=1G
#SBATCH --time=00:05:00
#SBATCH --output=%x-%A_%a.out
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

root=${TASKFARM_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
while [ ! -f "$root/include/taskfarm.h" ] && [ "$root" != / ]; do
    root=$(dirname "$root")
done
# shellcheck source=SCRIPTDIR/../jobenv.sh
. "$root/examples/fibonacci/jobenv.sh"
tf_need fibonacci

# The tutorial's values, 5000..9999, split into as many slices as the array
# has elements.
lo=${FIB_LO:-5000}
hi=${FIB_HI:-10000}
parts=${SLURM_ARRAY_TASK_COUNT:-4}
id=${SLURM_ARRAY_TASK_ID:-0}
size=$(( (hi - lo + parts - 1) / parts ))
first=$(( lo + id * size ))
last=$(( first + size < hi ? first + size : hi ))
out=${FIB_PARTS:-${SLURM_SUBMIT_DIR:-$PWD}}/fib-part-$id.txt

echo "array element $id of $parts: positions $first..$((last - 1)) -> $out"
# Written under a temporary name and renamed: a part file is whole or absent.
"$bin/fibonacci" $(seq "$first" $((last - 1))) > "$out.tmp"
mv "$out.tmp" "$out"
