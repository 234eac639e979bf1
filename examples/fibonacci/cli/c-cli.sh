#!/bin/bash
# c-cli.sh - farm a program you already have: the `taskfarm` command runs
# it once per input on all the CPUs this job asked for, and resumes after
# a time limit when you submit the same command again.
#
#   sbatch c-cli.sh            the C program: fibonacci N, N = 5000..9999
#   sbatch c-cli.sh py         the same with a Python script (fib.py)
#   sbatch c-cli.sh OPTIONS... COMMAND [ARG...]   any taskfarm command line
#
# Output in input order in fib-cli.txt, the joblog in fib-cli.joblog, and
# the journal in fib-cli.journal (all where the job was submitted). When
# Slurm stops the job at its time limit (SIGTERM), taskfarm starts no new
# task, lets running ones finish into the journal for 3 s and exits 143;
# submitting the same command again replays the journal (fib-cli.txt comes
# out byte-identical to an uninterrupted run's) and runs only the rest.
# Another command or other inputs are refused: delete the journal first.
#
# One task (--ntasks=1) with 8 CPUs: taskfarm sees the 8 (from Slurm, the
# cgroup and the affinity mask) and runs 8 commands at a time; --verbose
# says so in the job's output. For multithreaded commands use
# `taskfarm --cpus-per-task K`: 8/K at a time, each pinned to its own K.
#
#SBATCH --job-name=fib-cli
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
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
##SBATCH --mail-type=END,FAIL      # mail when the job ends or fails
##SBATCH --mail-user=YOU@EXAMPLE.EDU
set -euo pipefail

# With environment modules (most clusters), load the toolchain first:
# module load gcc cmake gmp        (or: module load taskfarm)

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
exec "$bin/taskfarm" --verbose --journal fib-cli.journal --joblog fib-cli.joblog \
    "$@" >fib-cli.txt
