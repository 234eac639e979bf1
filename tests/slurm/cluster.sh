# shellcheck shell=bash
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

cluster_up() {
    local base=$SLURM_TEST_BASE port=$SLURM_TEST_PORT node kv real mem mpi
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
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MpiDefault=${mpi}
MailProg=/bin/true
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
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

# job_field ID NAME: one field of scontrol show job (ExitCode, Reason...).
job_field() {
    scontrol show job -o "$1" | grep -o " $2=[^ ]*" | head -1 | cut -d= -f2
}
