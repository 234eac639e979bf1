# shellcheck shell=bash
# shapes.sh - the CPU count in every job shape of issue 14's table, on the
# cluster that is running; sourced by both Slurm test scripts (the counts
# must be the same in both modes). Needs check (tests/cli/lib.sh), wait_job
# and $J (cluster.sh).
#
#   job          where                 CPUs
#   -c1          batch, and srun       1
#   -c2          batch, and srun       2
#   -n2 -c1      batch                 2
#   -n2 -c1      srun -n1              2   (the step inherits CPUS_PER_TASK=1)
#   -n2 -c1      srun -n1 --exact      1
#   -n2 -c1      srun -n1 -c2          2
#   -n2 -c1      srun -n2              1 each
#   array -c2    each task             2

# expect_cpus FILE LABEL N: the run labelled LABEL in FILE found N CPUs
# and verified its results.
expect_cpus() {
    local file=$1 label=$2 n=$3 line
    line=$(grep -F "$label: CPUs: " "$file" 2>/dev/null | head -1)
    line=${line#"$label: "}
    if [[ $line == "CPUs: $n, from "* ]] &&
        grep -qF "$label: All results verified" "$file"; then
        ok "  $label: $line"
    else
        bad "  $label: want $n CPU(s), verified; got '${line:-no count}'"
        cat "$file" 2>/dev/null
    fi
}

# shape_job OPTIONS...: submits shapes-job.sh with OPTIONS; prints its id.
shape_job() {
    local id
    id=$(sbatch --parsable --chdir="$J" --output="$J/shape-%A_%a.out" "$@" \
         "$SHAPES_SCRIPT")
    echo "${id%%;*}"
}

check_cpu_shapes() {
    local c1 c2 n2 arr id task f
    SHAPES_SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/shapes-job.sh
    export SHAPES_SCRIPT
    c1=$(shape_job -c1)
    c2=$(shape_job -c2)
    n2=$(shape_job -n2 -c1)
    arr=$(shape_job --array=1-2 -c2)
    for id in "$c1" "$c2" "$n2" "$arr"; do
        st=$(wait_job "$id" 120)
        check "shape job $id ($(job_field "$id" NumTasks) task(s) of $(job_field "$id" CPUs/Task) CPU(s)): $st" \
              [ "$st" = COMPLETED ]
    done
    # A job that is not an array has %a = 4294967294 (NO_VAL).
    f=$J/shape-${c1}_4294967294.out
    echo "-c1:"
    expect_cpus "$f" "batch #0" 1
    expect_cpus "$f" "srun #0" 1
    f=$J/shape-${c2}_4294967294.out
    echo "-c2:"
    expect_cpus "$f" "batch #0" 2
    expect_cpus "$f" "srun #0" 2
    f=$J/shape-${n2}_4294967294.out
    echo "-n2 -c1:"
    expect_cpus "$f" "batch #0" 2
    expect_cpus "$f" "srun -n1 #0" 2
    expect_cpus "$f" "srun -n1 --exact #0" 1
    expect_cpus "$f" "srun -n1 -c2 #0" 2
    expect_cpus "$f" "srun -n2 #0" 1
    expect_cpus "$f" "srun -n2 #1" 1
    for task in 1 2; do
        f=$J/shape-${arr}_$task.out
        echo "array -c2, task $task:"
        expect_cpus "$f" "batch #0" 2
        expect_cpus "$f" "srun #0" 2
    done
}
