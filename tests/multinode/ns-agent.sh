#!/bin/bash
# ns-agent.sh HOST COMMAND...: Open MPI's launch agent (plm_rsh_agent) for
# the namespace nodes of nodes.sh, in place of ssh: runs COMMAND, a shell
# command line as ssh would pass it, on node HOST (nodeN) - in its network
# and UTS namespaces and its cpuset. mpirun hands the agent its
# environment, where nodes.sh's names are (MN_TAG, SLURM_TEST_BASE).
set -u
host=$1
shift
case $host in
    node[0-9]*) ;;
    *) echo "ns-agent.sh: '$host' is not a namespace node (nodeN)" >&2; exit 255 ;;
esac
# shellcheck source=SCRIPTDIR/nodes.sh
. "$(dirname "$0")/nodes.sh"
mn_in "${host#node}" /bin/sh -c "$*"
