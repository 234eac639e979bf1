# shellcheck shell=bash disable=SC2154 # src, build, tmp: the sourcing test
# cluster.sh - a private single-node Slurm cluster for the tests; sourced.
#
# cluster_up starts munged, slurmctld and slurmd from Debian's packages,
# everything (config, key, socket, state, logs) under $SLURM_TEST_BASE, and
# waits until the node is idle. cluster_down stops them by the PIDs in their
# pid files. Adapted from shared/recipes/local-slurm, where the pitfalls
# are measured: batch_sched_delay=0 (else ~3 s per job), o+x on every
# directory of munge's socket path, SLURM_CONF for every client,
# task/affinity so that a job's CPU set is really restricted, Open MPI
# installed before slurmd starts (for srun --mpi=pmix).
#
# Two modes. SLURM_TEST_CGROUP=0 (default): proctrack/linuxproc and
# task/affinity, nothing confined but the CPU mask. SLURM_TEST_CGROUP=1: as
# most sites run it, proctrack/cgroup and task/cgroup with ConstrainCores
# and ConstrainRAMSpace, so a job that exceeds --mem meets the kernel's OOM
# killer; memory is then a consumable (CR_Core_Memory) and DefMemPerCPU
# gives each job a share, else every job would take the whole node's
# memory and jobs would run one at a time. Slurm 22.05 here drives cgroup
# v1 (cgroup_v1_missing says why a host cannot); it makes
# /sys/fs/cgroup/<controller>/slurm_<node>, which cluster_down removes.

# cgroup_v1_missing: prints why this host cannot run the cgroup mode and
# succeeds, or fails (prints nothing) when it can. SLURM_TEST_CGROUP_ROOT
# (default /sys/fs/cgroup) may point elsewhere, e.g. at a cgroup2 mount to
# try the skip on a v1 host.
cgroup_v1_missing() {
    local root=${SLURM_TEST_CGROUP_ROOT:-/sys/fs/cgroup} c
    if [ "$(stat -fc %T "$root" 2>/dev/null)" = cgroup2fs ]; then
        echo "$root is cgroup v2 (unified); this test's Slurm 22.05 cluster" \
             "confines jobs with cgroup v1 controllers"
        return 0
    fi
    for c in cpuset memory freezer cpuacct; do
        if [ "$(stat -fc %T "$root/$c" 2>/dev/null)" != cgroupfs ]; then
            echo "no cgroup v1 '$c' controller at $root/$c"
            return 0
        fi
    done
    # A container may show the controllers read-only.
    if ! mkdir "$root/memory/taskfarm-probe-$$" 2>/dev/null; then
        echo "cannot create a cgroup under $root/memory (read-only?)"
        return 0
    fi
    rmdir "$root/memory/taskfarm-probe-$$"
    return 1
}

# The lines of slurm.conf that differ between the two modes.
mode_conf() {
    local mem=$1 cpus=$2
    if [ "${SLURM_TEST_CGROUP:-0}" = 1 ]; then
        echo "ProctrackType=proctrack/cgroup"
        echo "TaskPlugin=task/cgroup,task/affinity"
        echo "SelectTypeParameters=CR_Core_Memory"
        echo "DefMemPerCPU=$((mem / cpus))"
        echo "JobAcctGatherType=jobacct_gather/cgroup"
    else
        echo "ProctrackType=proctrack/linuxproc"
        echo "TaskPlugin=task/affinity"
        echo "SelectTypeParameters=CR_Core"
        echo "JobAcctGatherType=jobacct_gather/none"
    fi
}

cgroup_conf() {
    cat > "$1" <<CONF
CgroupPlugin=cgroup/v1
CgroupMountpoint=${SLURM_TEST_CGROUP_ROOT:-/sys/fs/cgroup}
ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainDevices=no
CONF
}

# Slurm's own cgroup directories for this node, one per controller.
slurm_cgroups() {
    local d
    for d in "${SLURM_TEST_CGROUP_ROOT:-/sys/fs/cgroup}"/*/slurm_"$(hostname -s)"; do
        [ -d "$d" ] && echo "$d"
    done
}

# munge_up: the private munged (key, socket, pid, log under
# $SLURM_TEST_BASE) and the directories every cluster here uses.
munge_up() {
    local base=$SLURM_TEST_BASE
    mkdir -p "$base"/{etc,munge,state/ctld,state/d,log,run}
    chmod 755 "$base"
    chmod 711 "$base/munge"
    dd if=/dev/urandom of="$base/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$base/munge/munge.key"
    /usr/sbin/munged --key-file="$base/munge/munge.key" \
        --socket="$base/munge/munge.socket" --pid-file="$base/run/munged.pid" \
        --log-file="$base/log/munged.log" --seed-file="$base/munge/seed"
}

# slurm_conf_common HOST ADDR: the lines of slurm.conf that every cluster
# here shares, slurmctld on HOST at ADDR. The slurmd files are named per
# node (%n), so several slurmd can share $SLURM_TEST_BASE.
slurm_conf_common() {
    local base=$SLURM_TEST_BASE port=$SLURM_TEST_PORT mpi=none
    if ldconfig -p | grep -q 'libpmix\.so\.2'; then mpi=pmix; fi
    cat <<CONF
ClusterName=taskfarmtest
SlurmctldHost=${1}(${2})
SlurmUser=root
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${base}/munge/munge.socket
StateSaveLocation=${base}/state/ctld
SlurmdSpoolDir=${base}/state/d/%n
SlurmctldPidFile=${base}/run/slurmctld.pid
SlurmdPidFile=${base}/run/slurmd-%n.pid
SlurmctldLogFile=${base}/log/slurmctld.log
SlurmdLogFile=${base}/log/slurmd-%n.log
SelectType=select/cons_tres
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MpiDefault=${mpi}
MailProg=/bin/true
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${base}/log/jobcomp.txt
KillWait=5
MinJobAge=600
CONF
}

# wait_idle NODE...: waits until every NODE is idle (at most 30 s).
wait_idle() {
    local state="" want
    want=$(printf 'idle\n%.0s' "$@")
    for _ in $(seq 1 150); do
        state=$(sinfo -h -N -n "$(IFS=,; echo "$*")" -o '%T' 2>/dev/null)
        [ "$state" = "$want" ] && return 0
        sleep 0.2
    done
    echo "cluster: node states '$(tr '\n' ' ' <<<"$state")' after 30 s; logs in" \
         "$SLURM_TEST_BASE/log" >&2
    return 1
}

cluster_up() {
    local base=$SLURM_TEST_BASE node kv real mem
    # Slurm's cgroups that were there before are not ours to remove.
    SLURM_TEST_OLD_CGROUPS=$(slurm_cgroups | tr '\n' ' ')
    munge_up || return 1
    echo "$SLURM_TEST_OLD_CGROUPS" >"$base/run/old-cgroups"   # for the watchdog
    node=$(hostname -s)
    declare -A hw
    for kv in $(slurmd -C | head -n1); do hw[${kv%%=*}]=${kv#*=}; done
    real=${hw[RealMemory]}
    mem=$(( real > 1024 ? real - 512 : real ))
    rm -f "$base/etc/cgroup.conf"
    if [ "${SLURM_TEST_CGROUP:-0}" = 1 ]; then
        cgroup_conf "$base/etc/cgroup.conf"
    fi
    {
        slurm_conf_common "$node" 127.0.0.1
        mode_conf "$mem" "${hw[CPUs]}"
        echo "NodeName=${node} NodeAddr=127.0.0.1 CPUs=${hw[CPUs]} Boards=${hw[Boards]} SocketsPerBoard=${hw[SocketsPerBoard]} CoresPerSocket=${hw[CoresPerSocket]} ThreadsPerCore=${hw[ThreadsPerCore]} RealMemory=${mem} State=UNKNOWN"
        echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    } > "$base/etc/slurm.conf"
    export SLURM_CONF=$base/etc/slurm.conf
    slurmctld || return 1
    slurmd || return 1
    wait_idle "$node"
}

# stop_pid PIDFILE...: stops the daemons of the pid files: TERM to all,
# then KILL to those still there after 10 s. Together, so that n slurmd
# cost one wait, not n.
stop_pid() {
    local pf pids=() pid alive
    for pf in "$@"; do
        [ -f "$pf" ] && pid=$(cat "$pf") && kill -TERM "$pid" 2>/dev/null &&
            pids+=("$pid")
    done
    for _ in $(seq 1 100); do
        alive=()
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive+=("$pid")
        done
        [ ${#alive[@]} -eq 0 ] && return 0
        sleep 0.1
    done
    kill -KILL "${alive[@]}" 2>/dev/null
    return 0
}

# slurm_daemons_down: cancels every job, then stops every slurmd, the
# slurmctld and munged of $SLURM_TEST_BASE by their pid files.
slurm_daemons_down() {
    local base=$SLURM_TEST_BASE
    if [ -f "$base/run/slurmctld.pid" ]; then
        scancel --full --quiet --user=root 2>/dev/null || true
        for _ in $(seq 1 50); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    stop_pid "$base"/run/slurmd-*.pid "$base/run/slurmctld.pid"
    stop_pid "$base/run/munged.pid"
}

cluster_down() {
    watchdog_stop
    slurm_daemons_down
    remove_slurm_cgroups
}

# ---- the watchdog: teardown even when the test is SIGKILLed -------------
# An EXIT trap cannot run after SIGKILL (CTest's time-out sends it, to the
# test and its children), and the daemons fork into the background, so
# they would outlive the test. watchdog_start LIB DOWN starts a process
# outside the test's process tree (setsid, reparented to init) that polls
# the test's PID (and its start time, against a reused PID) every second;
# when the test is gone it sources LIB, runs DOWN and removes $tmp. The
# test's own DOWN stops the watchdog first (watchdog_stop), by its PID.

# proc_start PID: the process's start time (field 22 of /proc/PID/stat),
# empty once it is gone.
proc_start() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    s=${s##*) }
    # shellcheck disable=SC2086 # the fields after the command name
    set -- $s
    echo "${20}"
}

watchdog_start() {
    local lib=$1 down=$2 run=$SLURM_TEST_BASE/run
    mkdir -p "$run"
    # The inner & is not a process group leader, so setsid does not fork:
    # $! is the watchdog itself; the subshell exits, so init adopts it.
    (
        # shellcheck disable=SC2016 # expanded by the watchdog's bash
        TF_WATCHDOG=1 setsid bash -c '
            . "$1"
            export SLURM_CONF=$SLURM_TEST_BASE/etc/slurm.conf
            while [ "$(proc_start "$2")" = "$3" ]; do sleep 1; done
            echo "watchdog: test $2 gone; tearing down"
            sleep 2     # a daemon it was starting writes its pid file
            if [ -f "$SLURM_TEST_BASE/run/old-cgroups" ]; then
                SLURM_TEST_OLD_CGROUPS=$(cat "$SLURM_TEST_BASE/run/old-cgroups")
            fi
            "$4"
            rm -rf "$5"' watchdog "$lib" "$$" "$(proc_start $$)" "$down" \
            "$tmp" </dev/null >"${TF_WATCHDOG_LOG:-$tmp/watchdog.log}" 2>&1 &
        echo $! >"$run/watchdog.pid"
    )
}

# watchdog_stop: the test tears down itself; not from the watchdog.
watchdog_stop() {
    local pf=$SLURM_TEST_BASE/run/watchdog.pid
    [ -f "$pf" ] && [ -z "${TF_WATCHDOG:-}" ] || return 0
    kill "$(cat "$pf")" 2>/dev/null
    rm -f "$pf"
}

# Removes the cgroup directories this cluster's slurmd made, deepest first.
# rmdir only removes a cgroup without processes, so a job that outlived
# its slurmstepd keeps its directory, and cgroups_left then names it.
# Jobs just cancelled may take a moment to exit: up to 5 s of retries.
remove_slurm_cgroups() {
    local d
    # Before cluster_up has looked, no directory is known to be ours.
    [ -n "${SLURM_TEST_OLD_CGROUPS+set}" ] || return 0
    for _ in $(seq 1 25); do
        for d in $(cgroups_left); do
            find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        [ -z "$(cgroups_left)" ] && return 0
        sleep 0.2
    done
    return 0
}

# cgroups_left: the Slurm cgroup directories this cluster left behind.
cgroups_left() {
    local d
    for d in $(slurm_cgroups); do
        case " ${SLURM_TEST_OLD_CGROUPS:-} " in *" $d "*) ;; *) echo "$d" ;; esac
    done
}

# wait_job ID [SECONDS]: prints the job's final state (bounded poll).
wait_job() {
    local id=$1 end=$((SECONDS + ${2:-120})) st
    while [ $SECONDS -lt $end ]; do
        st=$(scontrol show job -o "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' |
             cut -d= -f2 | sort -u | tr '\n' ' ')
        case "$st" in
            ""|*PENDING*|*RUNNING*|*CONFIGURING*|*COMPLETING*|*SUSPENDED*) sleep 0.2 ;;
            *) echo "${st% }"; return 0 ;;
        esac
    done
    echo WAIT_TIMEOUT
    return 1
}

# jobcomp_field ID NAME: one field of the job's line in jobcomp/filetxt's
# log, which is written when the job ends and also has DerivedExitCode
# (scontrol shows that only with accounting). Waits up to 10 s for it.
jobcomp_field() {
    local log=$SLURM_TEST_BASE/log/jobcomp.txt line
    for _ in $(seq 1 50); do
        line=$(grep "^JobId=$1 " "$log" 2>/dev/null)
        [ -n "$line" ] && break
        sleep 0.2
    done
    printf '%s\n' "$line" | grep -o " $2=[^ ]*" | head -1 | cut -d= -f2
}

# job_field ID NAME: one field of scontrol show job (ExitCode, Reason...).
job_field() {
    scontrol show job -o "$1" | grep -o " $2=[^ ]*" | head -1 | cut -d= -f2
}

# ---- what both test scripts share ----------------------------------------

# cluster_test_begin: checks what the tests need, starts the cluster in the
# mode SLURM_TEST_CGROUP says, and stops it on any exit. Needs $tmp (from
# tests/cli/lib.sh) and $build; sets J, the jobs' directory, and t0.
cluster_test_begin() {
    local cmd
    if [ "$(id -u)" != 0 ]; then
        echo "FAIL: the Slurm tests start munged, slurmctld and slurmd, and need root"
        exit 1
    fi
    for cmd in munged slurmctld slurmd sbatch scontrol sinfo squeue scancel; do
        if ! command -v "$cmd" >/dev/null; then
            echo "FAIL: $cmd is missing: run 'make deps' (slurm-wlm and munge)"
            exit 1
        fi
    done
    export SLURM_TEST_BASE=$tmp/cluster
    export SLURM_TEST_PORT=$((20000 + $$ % 20000))
    export TASKFARM_BUILD=$build
    local up=${CLUSTER_UP:-cluster_up} down=${CLUSTER_DOWN:-cluster_down}
    # shellcheck disable=SC2064 # the function names, now
    trap "$down; rm -rf \"\$tmp\"" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    watchdog_start "${CLUSTER_LIB:-${BASH_SOURCE[0]}}" "$down"
    J=$tmp/jobs
    mkdir -p "$J"
    chmod 755 "$tmp" "$J"
    t0=$SECONDS
    if ! "$up"; then
        echo "FAIL: the cluster did not start; logs:"
        tail -n 20 "$SLURM_TEST_BASE"/log/*.log
        exit 1
    fi
    echo "cluster up in $((SECONDS - t0)) s (SLURM_CONF=$SLURM_CONF)"
}

# submit DIR SCRIPT [ARGS...]: sbatch from DIR ($src-relative), as a user
# would; sets id, st (final state) and out (the job's output). SBATCH_EXTRA
# adds options; SUBMIT_WAIT is how long to wait for the end (240 s).
submit() {
    local dir=$1 script=$2
    shift 2
    # shellcheck disable=SC2086 # SBATCH_EXTRA is a list of options
    id=$(cd "$src/$dir" && sbatch --parsable --chdir="$J" ${SBATCH_EXTRA:-} \
         "$script" "$@")
    id=${id%%;*}
    st=$(wait_job "$id" "${SUBMIT_WAIT:-240}")
    out=$(cat "$J"/*-"$id".out 2>/dev/null)
}

# job_out ID: the output of job ID (its files are named *-ID.out).
job_out() {
    cat "$J"/*-"$1".out 2>/dev/null
}

# lap WHAT: prints how long WHAT took (since the last lap, or the start).
lap() {
    echo "($1: $((SECONDS - ${lap_at:-$t0})) s)"
    lap_at=$SECONDS
}

has() { printf '%s\n' "$out" | grep -qE -- "$1"; }
show() { printf -- '--- job %s (%s):\n%s\n---\n' "$id" "$st" "$out"; }
