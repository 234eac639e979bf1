#!/bin/sh
# demo.sh - the main job: the tutorial's serial example, then the Fibonacci
# workload on every CPU of this machine or allocation.
# usage: demo.sh BUILD_DIR
set -eu
bin=${1:-build}/bin
echo "== The serial example (examples/fibonacci/serial)"
"$bin/fibonacci"
