#!/bin/bash
# test_kill.sh - SIGKILL of a journaled `taskfarm` run at random moments,
# then the same command again: its stdout must be byte-identical to an
# uninterrupted run's (sha256), and no command that taskfarm started may
# be left running (PR_SET_PDEATHSIG), checked in /proc.
#
# usage: test_kill.sh TASKFARM SOURCE_DIR [ROUNDS]
# shellcheck disable=SC2016 # $1 is for sh -c
set -u
T=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
rounds=${3:-20}
# shellcheck source=SCRIPTDIR/../cli/lib.sh
. "$2/tests/cli/lib.sh"
cd "$tmp" || exit 1

# Each task prints, then becomes a sleep with a marker in its command line
# (exec: the command itself, which PR_SET_PDEATHSIG covers). One task in
# eight sleeps 1.2 s, so that at most moments a command is running that
# would outlive taskfarm by far more than the 0.5 s looked at below.
job=(--journal j.tfj -j2 sh -c 'echo "task $1 $(( $1 * $1 ))"
     if [ $(( $1 % 8 )) = 0 ]; then exec sleep 1.17531; fi
     exec sleep 0.0$(( $1 % 5 + 1 ))7531' sh)
n=40
"$T" --range 0:$n "${job[@]:2}" >full.out 2>&1 || bad "the uninterrupted run"
want=$(sha256sum <full.out)

# marker_alive: a process whose command line (in /proc) carries the marker;
# the pattern cannot match grep's own command line.
marker_alive() {
    grep -qsaE 'sleep.[01]\.[0-9]*7531' /proc/[0-9]*/cmdline
}

leftover=0
differ=0
for round in $(seq "$rounds"); do
    rm -f j.tfj
    "$T" --range 0:$n "${job[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "$(( RANDOM % 2 )).$(( RANDOM % 10 ))$(( RANDOM % 10 ))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        marker_alive || break
        sleep 0.05
    done
    if marker_alive; then leftover=$((leftover + 1)); echo "round $round: a command outlived taskfarm"; fi
    "$T" --range 0:$n "${job[@]}" >again.out 2>&1
    if [ "$(sha256sum <again.out)" != "$want" ]; then
        differ=$((differ + 1)); echo "round $round: the rerun's output differs"
        diff full.out again.out | head -5
    fi
done
check "$rounds SIGKILLs then reruns: stdout byte-identical every time" [ "$differ" = 0 ]
check "$rounds SIGKILLs: no command left running after taskfarm died" [ "$leftover" = 0 ]
finish
