# shellcheck shell=bash disable=SC2154 # src, build, tmp: the sourcing test
# nodes.sh - a private multi-node Slurm cluster on one machine; sourced.
#
# Each node is a network + UTS namespace (its own host name, nodeN, and
# address, 198.18.X.1N) and a cpuset of one CPU (else, where no cpuset
# can be made, an affinity mask of that CPU), joined to the host by a
# veth pair on a bridge whose host side (198.18.X.1) is where slurmctld
# listens. munged, slurm.conf and the teardown come from
# tests/slurm/cluster.sh; this file adds the nodes. Everything is named
# after the test's PID (tfNNNN...), so two tests can coexist, and nothing
# in the host's /etc changes: NodeAddr is an IP, no name is resolved.
# README.md here says what each piece is for.
#
#   mn_config        the names: MN_TAG, MN_NET, MN_NODES (MULTINODE_NODES)
#   mn_missing       why this host cannot run it (prints, succeeds) or fails
#   mn_up / mn_down  the whole cluster (CLUSTER_UP / CLUSTER_DOWN)
#   mn_in I CMD...   CMD on node I: its namespaces and its cpuset (or mask)
#   mn_enter I CMD...  CMD in node I's namespaces only, on the caller's CPUs
#   mn_nodes_up      CLUSTER_UP without Slurm: the nodes alone (for mpirun)
#   mn_kill_node I   node I lost: SIGKILL to everything on it, slurmd too
#   mn_link_bytes I  the bytes node I's link has carried, both ways
mn_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../slurm/cluster.sh
. "$mn_here/../slurm/cluster.sh"

mn_config() {
    export MN_NODES=${MULTINODE_NODES:-2}
    export MN_TAG=tf$(($$ % 10000))
    # 198.18.0.0/15 is the benchmarking range (RFC 2544): never routed.
    export MN_NET=198.18.$(($$ % 250 + 1))
    export CLUSTER_UP=mn_up CLUSTER_DOWN=mn_down CLUSTER_LIB=$mn_here/nodes.sh
}

mn_ns() { echo "${MN_TAG}n$1"; }
mn_addr() { echo "$MN_NET.$((10 + $1))"; }
mn_uts() { echo "$SLURM_TEST_BASE/run/$(mn_ns "$1").uts"; }

# The cpuset hierarchy: v1's cpuset controller, or v2's root with cpuset.
mn_cpuset_root() {
    local r=/sys/fs/cgroup
    if [ "$(stat -fc %T "$r" 2>/dev/null)" = cgroup2fs ]; then
        grep -qw cpuset "$r/cgroup.controllers" 2>/dev/null && echo "$r"
    elif [ "$(stat -fc %T "$r/cpuset" 2>/dev/null)" = cgroupfs ]; then
        echo "$r/cpuset"
    fi
}
mn_cgroup() { echo "$(mn_cpuset_root)/$(mn_ns "$1")"; }
# How nodes keep to their CPU: cpuset, or affinity (written by mn_net_up).
mn_cpu_mode() { cat "$SLURM_TEST_BASE/run/cpu-mode" 2>/dev/null || echo none; }
# Node I's CPU: one each while there are CPUs enough.
mn_cpu() { echo $((($1 - 1) % $(nproc --all))); }

mn_missing() {
    local cmd
    if [ "$(id -u)" != 0 ]; then
        echo "the multi-node test creates network namespaces, links and" \
             "cgroups and starts munged, slurmctld and slurmd: it needs root"
        return 0
    fi
    for cmd in ip nsenter unshare setsid taskset munged slurmctld slurmd \
               sbatch srun scontrol sinfo squeue scancel mpirun; do
        if ! command -v "$cmd" >/dev/null; then
            echo "$cmd is missing: run 'make deps' (iproute2, util-linux," \
                 "slurm-wlm, munge, openmpi-bin)"
            return 0
        fi
    done
    if ! ip netns add "${MN_TAG}probe" 2>/dev/null; then
        echo "cannot create a network namespace (ip netns add)"
        return 0
    fi
    ip netns del "${MN_TAG}probe"
    return 1
}

# One node: namespaces, host name, link, address, loopback, cpuset.
mn_node_up() {
    local i=$1 ns cg root
    ns=$(mn_ns "$i")
    ip netns add "$ns" || return 1
    ip link add "${ns}h" type veth peer name eth0 netns "$ns" &&
        ip link set "${ns}h" master "${MN_TAG}br" up &&
        ip -n "$ns" addr add "$(mn_addr "$i")/24" dev eth0 &&
        ip -n "$ns" link set eth0 up &&
        ip -n "$ns" link set lo up || return 1
    # A UTS namespace kept by a bind mount, like ip netns keeps its own.
    touch "$(mn_uts "$i")"
    unshare --uts="$(mn_uts "$i")" hostname "node$i" || return 1
    [ "$(mn_cpu_mode)" = cpuset ] || return 0
    root=$(mn_cpuset_root)
    cg=$root/$ns
    mkdir "$cg" || return 1
    mn_cpu "$i" >"$cg/cpuset.cpus" || return 1
    if [ -f "$root/cpuset.mems" ] && [ ! -f "$root/cgroup.controllers" ]; then
        cat "$root/cpuset.mems" >"$cg/cpuset.mems"      # v1 needs both
    fi
}

mn_net_up() {
    local br=${MN_TAG}br i root=/sys/fs/cgroup
    # v2: the root's children get cpuset files only once it is enabled.
    # Inside a container's cgroup namespace that root holds processes and
    # refuses (EBUSY): then an affinity mask, inherited by all a node
    # starts, is what keeps it on its CPU (MULTINODE_CPUSET=no to try it).
    local mode=cpuset
    if [ -z "$(mn_cpuset_root)" ] || [ "${MULTINODE_CPUSET:-}" = no ]; then
        mode=affinity
    elif [ -f "$root/cgroup.controllers" ] &&
       ! grep -qw cpuset "$root/cgroup.subtree_control"; then
        if echo +cpuset 2>/dev/null >"$root/cgroup.subtree_control"; then
            touch "$SLURM_TEST_BASE/run/cpuset-enabled"
        else
            mode=affinity
        fi
    fi
    echo "$mode" >"$SLURM_TEST_BASE/run/cpu-mode"
    [ "$mode" = cpuset ] ||
        echo "cluster: no cpuset to be made here: each node keeps to its CPU" \
             "by its affinity mask"
    # Frames between two nodes cross the bridge: keep them out of the
    # host's iptables (a FORWARD policy of DROP, as Docker sets, would
    # stop them), for this bridge only.
    ip link add "$br" type bridge &&
        ip link set "$br" type bridge nf_call_iptables 0 nf_call_ip6tables 0 \
            nf_call_arptables 0 2>/dev/null
    ip addr add "$MN_NET.1/24" dev "$br" && ip link set "$br" up || return 1
    for i in $(seq 1 "$MN_NODES"); do
        mn_node_up "$i" || return 1
    done
}

# mn_in I CMD...: runs CMD on node I (enters its cpuset, or takes its
# CPU's mask, then its namespaces; what CMD starts stays in all of them).
mn_in() {
    local i=$1 pin=()
    shift
    [ "$(mn_cpu_mode)" = cpuset ] || pin=(taskset -c "$(mn_cpu "$i")")
    (
        if [ "$(mn_cpu_mode)" = cpuset ]; then
            echo "$BASHPID" >"$(mn_cgroup "$i")/cgroup.procs" || exit 1
        fi
        mn_enter_args "$i"
        exec "${pin[@]}" "${mn_enter_cmd[@]}" "$@"
    )
}

# mn_enter_args I: sets mn_enter_cmd, the command that enters node I's
# namespaces (network and UTS), CPUs left as they are.
mn_enter_args() {
    mn_enter_cmd=(nsenter --net="/run/netns/$(mn_ns "$1")" --uts="$(mn_uts "$1")" --)
}

# mn_enter I CMD...: CMD in node I's namespaces, on the caller's CPUs: a
# node of all the machine's CPUs, e.g. to compare one node of 2 CPUs
# with two nodes of one (bench/multinode_bench.sh).
mn_enter() {
    local i=$1
    shift
    mn_enter_args "$i"
    "${mn_enter_cmd[@]}" "$@"
}

mn_conf() {
    local i mem
    # Memory is not a consumable here (CR_Core); each node claims a share
    # so that c-mpi.sh's --mem-per-cpu=1G fits.
    mem=$(($(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p') / MN_NODES))
    slurm_conf_common "$(hostname -s)" "$MN_NET.1"
    # The cpuset (or mask) keeps each node on its CPU. task/affinity cannot work
    # inside it: slurmd sees the whole machine (hwloc), binds to CPUs the
    # cpuset excludes, and the launch fails (EINVAL).
    cat <<CONF
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
SlurmdTimeout=${MULTINODE_SLURMD_TIMEOUT:-10}
JobRequeue=0
TmpFS=$SLURM_TEST_BASE/tmp/%n
CONF
    for i in $(seq 1 "$MN_NODES"); do
        echo "NodeName=node$i NodeAddr=$(mn_addr "$i") CPUs=1 Boards=1" \
             "SocketsPerBoard=1 CoresPerSocket=1 ThreadsPerCore=1" \
             "RealMemory=$mem State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
}

mn_up() {
    local i nodes=()
    munge_up || return 1
    mn_net_up || return 1
    mn_conf >"$SLURM_TEST_BASE/etc/slurm.conf"
    export SLURM_CONF=$SLURM_TEST_BASE/etc/slurm.conf
    slurmctld || return 1
    for i in $(seq 1 "$MN_NODES"); do
        mkdir -p "$SLURM_TEST_BASE/state/d/node$i" "$SLURM_TEST_BASE/tmp/node$i"
        mn_in "$i" slurmd -N "node$i" || return 1
        nodes+=("node$i")
    done
    wait_idle "${nodes[@]}"
}

# mn_nodes_up: CLUSTER_UP for a run without Slurm: the nodes, their links
# and CPUs, no daemon; mpirun reaches them through ns-agent.sh.
mn_nodes_up() {
    export SLURM_CONF=/dev/null     # no cluster: no client may find one
    mn_net_up
}

# mn_kill_node I: node I lost: SIGKILL to every process of it (those in
# its cpuset, and those in its network namespace), until none is left.
# cgroup files show size 0: read them.
mn_kill_node() {
    local procs pid pids
    procs=$(mn_cgroup "$1")/cgroup.procs
    for _ in $(seq 1 50); do
        pids=$( (cat "$procs" 2>/dev/null; ip netns pids "$(mn_ns "$1")" 2>/dev/null) |
                sort -u)
        [ -n "$pids" ] || break
        for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
        sleep 0.1
    done
    rm -f "$SLURM_TEST_BASE/run/slurmd-node$1.pid"   # not to be reused
}

mn_link_bytes() {
    local s
    s=/sys/class/net/$(mn_ns "$1")h/statistics
    echo $(($(cat "$s/rx_bytes") + $(cat "$s/tx_bytes")))
}

# Everything mn_up made, whatever part of it exists: safe to run twice.
mn_down() {
    local i ns cg
    watchdog_stop
    slurm_daemons_down
    for i in $(seq 1 "${MN_NODES:-0}"); do
        ns=$(mn_ns "$i")
        cg=$(mn_cgroup "$i")
        mn_kill_node "$i"                      # what slurmd left behind
        [ -d "$cg" ] && rmdir "$cg"
        ip link del "${ns}h" 2>/dev/null
        [ -f "$(mn_uts "$i")" ] && umount "$(mn_uts "$i")" 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    ip link del "${MN_TAG}br" 2>/dev/null
    if [ -f "$SLURM_TEST_BASE/run/cpuset-enabled" ]; then
        echo -cpuset >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
        rm -f "$SLURM_TEST_BASE/run/cpuset-enabled"
    fi
    return 0
}

# mn_left: what of this cluster is still there (empty when all is gone).
mn_left() {
    local i f
    ip netns list | grep -o "^${MN_TAG}n[0-9]*"
    ip -o link show | grep -o "${MN_TAG}[a-z0-9]*" | sort -u
    for i in $(seq 1 "$MN_NODES"); do
        [ -d "$(mn_cgroup "$i")" ] && mn_cgroup "$i"
    done
    for f in "$SLURM_TEST_BASE"/run/*.pid; do
        [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && echo "$f"
    done
    return 0
}
