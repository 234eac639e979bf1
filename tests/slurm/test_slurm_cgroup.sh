#!/bin/bash
# test_slurm_cgroup.sh - the Slurm checks that differ when jobs are confined
# by cgroups, as most sites run Slurm (proctrack/cgroup, task/cgroup,
# ConstrainCores, ConstrainRAMSpace, DefMemPerCPU): the CPU count in every
# job shape, and a real OOM kill by the job's memory cgroup. The cluster is
# private, started here and always stopped, its cgroups removed.
#
# usage: test_slurm_cgroup.sh SOURCE_DIR BUILD_DIR
# Exits 77 (a CTest skip, with the reason) on a host without cgroup v1.
#
# This cluster has no accounting (no slurmdbd), so no sacct and no step
# records: the job's state is read from scontrol (finished jobs stay for
# MinJobAge=600 s), DerivedExitCode (the worst step's) from the
# jobcomp/filetxt log, and a step's OOM event from the lines slurmstepd
# and srun write into the job's output.
set -uo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../cli/lib.sh
. "$src/tests/cli/lib.sh"
# shellcheck source=SCRIPTDIR/cluster.sh
. "$here/cluster.sh"
# shellcheck source=SCRIPTDIR/shapes.sh
. "$here/shapes.sh"

if why=$(cgroup_v1_missing); then
    echo "SKIP: $why"
    exit 77
fi
export SLURM_TEST_CGROUP=1
cluster_test_begin

# ---- the CPU count, confined by task/cgroup ----------------------------
check_cpu_shapes
lap "the job shapes"

# ---- a real OOM kill ----------------------------------------------------
# 20 tasks on 2 workers under --mem=200M; task 7 touches memory until the
# job's memory cgroup kills it. Three jobs at once (1 CPU each, 200 MB):
# the procs farm in the batch script, the same farm as an srun step, and
# the threads farm in the batch script.
oom() {
    sbatch --parsable --chdir="$J" --output="$J/oom-%j.out" -c1 --mem=200M \
        "$here/oom-job.sh" "$@"
}
procs=$(oom procs 20 7)
step=$(oom --srun procs 20 7)
threads=$(oom threads 20 7)

id=$procs st=$(wait_job "$procs" 120) out=$(job_out "$procs")
echo "procs farm, batch script:"
check "  task 7 reported killed by SIGKILL" has "^task 7: signal 9$" || show
check "  no other task failed" [ "$(grep -c '^task ' <<<"$out")" -eq 1 ]
check "  the other 19 delivered" has "^delivered 19 of 20$"
check "  the program exits 1 (tasks failed)" has "^exit status 1$"
check "  slurmstepd saw the OOM kill in the batch step" \
      has "Detected 1 oom-kill event\(s\) in StepId=$procs\.batch"
# Slurm marks a step with any oom-kill event OUT_OF_MEMORY and gives it
# exit code 0:125, whatever the program returned: the job state of a run
# that survived.
check "  yet the job is OUT_OF_MEMORY, reason OutOfMemory, exit 0:125" \
      [ "$st/$(job_field "$procs" Reason)/$(job_field "$procs" ExitCode)" = \
        OUT_OF_MEMORY/OutOfMemory/0:125 ]

id=$step st=$(wait_job "$step" 120) out=$(job_out "$step")
echo "procs farm, srun step:"
check "  task 7 reported killed by SIGKILL" has "^task 7: signal 9$" || show
check "  the other 19 delivered" has "^delivered 19 of 20$"
check "  srun says which task of the step met the OOM killer" \
      has "srun: error: .*: task 0: Out Of Memory"
check "  srun passes the program's status on" has "^exit status 1$"
# The step is OUT_OF_MEMORY; the job ends as its batch script does (here
# with echo's 0), and only DerivedExitCode, the steps' worst, shows 125.
derived=$(jobcomp_field "$step" DerivedExitCode)
check "  the job COMPLETED, DerivedExitCode 0:125 (got $st, $derived)" \
      [ "$st/$derived" = COMPLETED/0:125 ]

id=$threads st=$(wait_job "$threads" 120) out=$(job_out "$threads")
echo "threads farm, batch script:"
check "  the farm started" has "^started$"
check "  the whole process was killed: no task reported, nothing delivered" \
      [ -z "$(grep -E '^(task |delivered )' <<<"$out")" ] || show
check "  by SIGKILL (status 128 + 9)" has "^exit status 137$"
check "  the job is OUT_OF_MEMORY" [ "$st" = OUT_OF_MEMORY ]

lap "the OOM jobs"
# ---- teardown -----------------------------------------------------------
check "slurmd made its cgroups (the jobs ran confined)" [ -n "$(cgroups_left)" ]
cluster_down
left=$(cgroups_left)
check "teardown removed the cgroups slurmd made" [ -z "$left" ] ||
    echo "left: $left"

echo "Slurm cgroup tests took $((SECONDS - t0)) s"
finish
