#!/bin/bash
# c-farm-resume.sh - a job that survives its time limit: resubmit the same
# command and it picks up where the last run stopped.
#
#   sbatch c-farm-resume.sh            run, or resume, the tutorial workload
#   sbatch c-farm-resume.sh --values 100000:120000     a longer one
#
# How: fibonacci_farm keeps every finished value in a journal
# (--journal). When Slurm ends the job at its time limit it sends SIGTERM,
# then SIGKILL KillWait seconds later (30 s by default). On SIGTERM the
# program stops handing out work, gives running values 3 s to finish into
# the journal, and exits 143, printing how many remain. Submitting the
# same command again replays what the journal holds and computes only the
# rest; --output is written (atomically) only when all values are there.
# A journal made with other --values or --algo is refused, not overwritten.
#
# --requeue lets Slurm put the job back in the queue by itself when its
# node fails or it is preempted; the rerun resumes from the journal the
# same way. For an earlier warning than the time limit, ask Slurm to send
# SIGTERM to this script N seconds before it (B: the batch shell; `exec`
# below makes the program that shell):
##SBATCH --signal=B:TERM@60
#
#SBATCH --job-name=fib-resume
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
# module load gcc cmake gmp

root=${TASKFARM_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
while [ ! -f "$root/include/taskfarm.h" ] && [ "$root" != / ]; do
    root=$(dirname "$root")
done
# shellcheck source=SCRIPTDIR/../jobenv.sh
. "$root/examples/fibonacci/jobenv.sh"
tf_need fibonacci_farm

# The journal and the output live where the job was submitted; later
# options on the command line ("$@") win over these.
exec "$bin/fibonacci_farm" --backend procs --jobs all \
    --journal fib-resume.journal --output fib-resume.txt "$@"
