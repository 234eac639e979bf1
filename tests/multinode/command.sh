# shellcheck shell=bash disable=SC2154 # build, J: the sourcing test
# command.sh - the hook for the `taskfarm` command (cli/) on two nodes;
# sourced by test_multinode.sh, which calls multinode_command_checks with
# the cluster up and both nodes idle (before the lost-node check).
#
# To add the check, replace the skip with, e.g.:
#
#   SBATCH_EXTRA="--nodes=2 --ntasks-per-node=1" submit_wrap \
#       "srun --mpi=pmix $build/bin/taskfarm ARGS..."
#   check "taskfarm on two nodes: COMPLETED" [ "$st" = COMPLETED ] || show
#   check "  ranks on both nodes" [ "$(printf '%s\n' "$out" |
#       grep -c '_task_start: Node node[12], 1 tasks started')" -eq 2 ]
#
# The environment already forces Open MPI onto TCP between the nodes
# (OMPI_MCA_pml/btl) and makes srun say where it starts each task
# (SLURM_DEBUG=1); mn_link_bytes 2 before and after gives node2's traffic.

# submit_wrap COMMAND: sbatch --wrap COMMAND, in $J; sets id, st, out.
# shellcheck disable=SC2034 # st and out are for the caller
submit_wrap() {
    # shellcheck disable=SC2086 # SBATCH_EXTRA is a list of options
    id=$(sbatch --parsable --chdir="$J" --output="$J/wrap-%j.out" \
         ${SBATCH_EXTRA:-} --wrap "$1")
    id=${id%%;*}
    st=$(wait_job "$id" "${SUBMIT_WAIT:-240}")
    out=$(job_out "$id")
}

multinode_command_checks() {
    if [ ! -x "$build/bin/taskfarm" ]; then
        echo "(no $build/bin/taskfarm yet: its two-node check is a hook," \
             "tests/multinode/command.sh)"
        return 0
    fi
    echo "(tests/multinode/command.sh: the taskfarm command's two-node" \
         "check is still to be written)"
}
