#!/bin/bash
# c-gpu.sh - the GPU example (fibonacci_cuda) as a Slurm job.
#
#   sbatch c-gpu.sh                       the tutorial's values, 5000..9999
#   sbatch c-gpu.sh --values 0:20000      any range the program takes
#
# One GPU, and a few CPUs: one drives the GPU; the others run the CPU
# comparison the program prints (the threads backend on every CPU of the
# job). The GPU run itself takes milliseconds; most of the job is the CPU
# comparison and the CUDA start-up. For a fair comparison with a whole
# node's cores, raise --cpus-per-task to the node's count.
#
#SBATCH --job-name=fib-gpu
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --gpus=1
#SBATCH --mem-per-cpu=2G
#SBATCH --time=00:05:00
#SBATCH --output=%x-%j.out
#
# Site-specific lines: delete one '#' and put your cluster's value.
##SBATCH --clusters=CLUSTER        # the cluster, on multi-cluster sites
##SBATCH --partition=PARTITION     # the GPU partition, e.g. gpu or gpu-debug
##SBATCH --qos=QOS                 # often named like the partition
##SBATCH --account=ACCOUNT         # the allocation your group charges to
##SBATCH --constraint=H200         # a GPU model, where the site names them
##SBATCH --mail-type=END,FAIL      # mail when the job ends or fails
##SBATCH --mail-user=YOU@EXAMPLE.EDU
# Sites on older Slurm ask for GPUs as a generic resource instead: put one
# '#' before the --gpus line above and use this one.
##SBATCH --gres=gpu:1
set -euo pipefail

# With environment modules (most clusters), load the toolchain first; the
# CUDA module provides nvcc, which the build needs to make fibonacci_cuda:
# module load gcc cmake gmp cuda

# Slurm runs a copy of this script, so find the project from where sbatch
# was run.
root=${TASKFARM_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
while [ ! -f "$root/include/taskfarm.h" ] && [ "$root" != / ]; do
    root=$(dirname "$root")
done
# shellcheck source=SCRIPTDIR/../jobenv.sh
. "$root/examples/fibonacci/jobenv.sh"
tf_need fibonacci_cuda
if [ ! -x "$bin/fibonacci_cuda" ]; then
    echo "job: no $bin/fibonacci_cuda: the build found no CUDA compiler" \
         "(load the CUDA module, or set CUDACXX, then run make)" >&2
    exit 1
fi

# Which GPU Slurm gave the job, and its driver, for the record.
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
"$bin/fibonacci_cuda" "$@"
