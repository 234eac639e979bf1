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

cluster_up() {
    local base=$SLURM_TEST_BASE port=$SLURM_TEST_PORT node kv real mem mpi
    # Slurm's cgroups that were there before are not ours to remove.
    SLURM_TEST_OLD_CGROUPS=$(slurm_cgroups | tr '\n' ' ')
    mkdir -p "$base"/{etc,munge,state/ctld,state/d,log,run}
    chmod 755 "$base"
    chmod 711 "$base/munge"
    dd if=/dev/urandom of="$base/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$base/munge/munge.key"
    /usr/sbin/munged --key-file="$base/munge/munge.key" \
        --socket="$base/munge/munge.socket" --pid-file="$base/run/munged.pid" \
        --log-file="$base/log/munged.log" --seed-file="$base/munge/seed" ||
        return 1

    node=$(hostname -s)
    declare -A hw
    for kv in $(slurmd -C | head -n1); do hw[${kv%%=*}]=${kv#*=}; done
    real=${hw[RealMemory]}
    mem=$(( real > 1024 ? real - 512 : real ))
    mpi=none
    if ldconfig -p | grep -q 'libpmix\.so\.2'; then mpi=pmix; fi
    rm -f "$base/etc/cgroup.conf"
    if [ "${SLURM_TEST_CGROUP:-0}" = 1 ]; then
        cgroup_conf "$base/etc/cgroup.conf"
    fi
    cat > "$base/etc/slurm.conf" <<CONF
ClusterName=taskfarmtest
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${base}/munge/munge.socket
StateSaveLocation=${base}/state/ctld
SlurmdSpoolDir=${base}/state/d
SlurmctldPidFile=${base}/run/slurmctld.pid
SlurmdPidFile=${base}/run/slurmd.pid
SlurmctldLogFile=${base}/log/slurmctld.log
SlurmdLogFile=${base}/log/slurmd.log
$(mode_conf "$mem" "${hw[CPUs]}")
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
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${hw[CPUs]} Boards=${hw[Boards]} SocketsPerBoard=${hw[SocketsPerBoard]} CoresPerSocket=${hw[CoresPerSocket]} ThreadsPerCore=${hw[ThreadsPerCore]} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$base/etc/slurm.conf
    slurmctld || return 1
    slurmd || return 1
    local state=""
    for _ in $(seq 1 150); do           # at most 30 s
        state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null || true)
        [ "$state" = idle ] && return 0
        sleep 0.2
    done
    echo "cluster: node state '$state' after 30 s; logs in $base/log" >&2
    return 1
}

# Stops a daemon by its pid file: TERM, then KILL after 10 s.
stop_pid() {
    local pf=$1 pid
    [ -f "$pf" ] || return 0
    pid=$(cat "$pf")
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

cluster_down() {
    local base=$SLURM_TEST_BASE
    if [ -f "$base/run/slurmctld.pid" ]; then
        scancel --full --quiet --user=root 2>/dev/null || true
        for _ in $(seq 1 50); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    stop_pid "$base/run/slurmd.pid"
    stop_pid "$base/run/slurmctld.pid"
    stop_pid "$base/run/munged.pid"
    remove_slurm_cgroups
}

# Removes the cgroup directories this cluster's slurmd made, deepest first.
# rmdir only removes a cgroup without processes, so a job that outlived
# its slurmstepd keeps its directory, and cgroups_left then names it.
remove_slurm_cgroups() {
    local d
    # Before cluster_up has looked, no directory is known to be ours.
    [ -n "${SLURM_TEST_OLD_CGROUPS+set}" ] || return 0
    for d in $(slurm_cgroups); do
        case " ${SLURM_TEST_OLD_CGROUPS:-} " in *" $d "*) continue ;; esac
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
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
    trap 'cluster_down; rm -rf "$tmp"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    J=$tmp/jobs
    mkdir -p "$J"
    chmod 755 "$tmp" "$J"
    t0=$SECONDS
    if ! cluster_up; then
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
