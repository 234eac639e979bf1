# shellcheck shell=bash disable=SC2154 # build, J, id, st, out: the sourcing test
# command.sh - the `taskfarm` command (cli/) on two nodes; sourced by
# test_multinode.sh, which calls multinode_command_checks with the cluster
# up and both nodes idle (before the lost-node check).
#
# One sbatch job (--nodes=2 --ntasks-per-node=1) runs
# `srun --mpi=pmix taskfarm --joblog ...`: one SPMD farm over a rank on
# each node, rank 0 (node1) writing the output and the joblog. The
# environment already forces Open MPI onto TCP between the nodes
# (OMPI_MCA_pml/btl).

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

# The task: its stdout (seq, about 9 kB) depends on the input only, so the
# two-node run must equal a local one. Its host and rank (SLURM_PROCID,
# which srun gives each rank and a rank its tasks) go to stderr, into the
# job's output, to check the joblog's Host column against. The sleep
# spreads the 40 tasks over both ranks (about 2 s in all). One line: the
# job's --wrap is /bin/sh, which may not read $'...' quoting.
# shellcheck disable=SC2016 # expanded by the task's sh
mn_cmd_task=(sh -c 'sleep 0.1; seq "$1" "$(($1 + 2000))"; echo "tfhost $1 $(hostname) $SLURM_PROCID" >&2' sh)
mn_cmd_n=40

# mn_cmd_hosts: "SEQ HOST" of each task as it printed it (SEQ = input + 1).
mn_cmd_hosts() {
    printf '%s\n' "$out" | awk '$1 == "tfhost" { print $2 + 1, $3 }' | sort -n
}

# mn_cmd_ranks: "HOST RANK" of the ranks that ran tasks, one a line.
mn_cmd_ranks() {
    printf '%s\n' "$out" | awk '$1 == "tfhost" { print $3, $4 }' | sort -u
}

# mn_cmd_joblog FILE: "SEQ HOST EXITVAL" of each row of the joblog FILE.
mn_cmd_joblog() {
    awk -F'\t' 'NR > 1 { print $1, $2, $7 }' "$1" | sort -n
}

# mn_cmd_over_tcp BYTES: node2's link carried at least the output of
# node2's tasks (each at least the smallest task's, input 0), which its
# rank sends to rank 0.
mn_cmd_over_tcp() {
    local n want
    n=$(mn_cmd_joblog "$J/cmd.joblog" | awk '$2 == "node2"' | wc -l)
    want=$((n * $(seq 0 2000 | wc -c)))
    echo "  (node2's link: $1 bytes; its $n tasks' output: at least $want)"
    [ "$want" -gt 0 ] && [ "$1" -ge "$want" ]
}

multinode_command_checks() {
    local t=$build/bin/taskfarm b0 args
    if [ ! -x "$t" ]; then
        bad "$t is missing (the build makes it beside the library)"
        return 0
    fi
    args=(--joblog "$J/cmd.joblog" --range "0:$mn_cmd_n" "${mn_cmd_task[@]}")
    (cd "$J" && "$t" -j 2 "${args[@]:2}" >"$J/cmd-local.out" 2>/dev/null)
    b0=$(mn_link_bytes 2)
    # shellcheck disable=SC2016 # $OMPI_MCA_* is the job's
    SBATCH_EXTRA="--nodes=2 --ntasks-per-node=1" submit_wrap \
        "echo \"ompi: \$OMPI_MCA_pml \$OMPI_MCA_btl\";
         srun --mpi=pmix $(printf '%q ' "$t" "${args[@]}") >$(printf %q "$J/cmd-2n.out")"
    check "taskfarm on two nodes (srun --mpi=pmix, 2 ranks): COMPLETED" \
          [ "$st" = COMPLETED ] || show
    check "  rank 0 on node1 and rank 1 on node2, both ran tasks" \
          [ "$(mn_cmd_ranks)" = "node1 0
node2 1" ] || mn_cmd_ranks
    check "  stdout identical to taskfarm -j 2 run here" \
          cmp -s "$J/cmd-2n.out" "$J/cmd-local.out"
    check "  the joblog: every task once, exit 0, on node1 or node2" \
          [ "$(mn_cmd_joblog "$J/cmd.joblog" | awk '{ print $1, $3 }')" = \
            "$(seq 1 $mn_cmd_n | sed 's/$/ 0/')" ] ||
        head -n 5 "$J/cmd.joblog"
    check "  its Host column names both nodes" [ "$(mn_cmd_joblog "$J/cmd.joblog" |
        awk '{ print $2 }' | sort -u | paste -sd,)" = node1,node2 ]
    check "  and each task's Host is where the task ran" \
          [ "$(mn_cmd_joblog "$J/cmd.joblog" | awk '{ print $1, $2 }')" = \
            "$(mn_cmd_hosts)" ]
    check "  Open MPI held to TCP (pml ob1, btl tcp,self)" has "^ompi: ob1 tcp,self$"
    check "  through node2's link" mn_cmd_over_tcp $(($(mn_link_bytes 2) - b0))
    lap "the taskfarm command on two nodes"
}
