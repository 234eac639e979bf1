#!/bin/sh
# demo.sh - the main job: the tutorial's serial example, then the scaling
# demo on the tutorial workload (fib(n), n = 5000..9999, n_jobs 1..32) with
# the threads and process backends and hand-written OpenMP, a plot, and the
# lesson the tutorial never shows.
# usage: demo.sh BUILD_DIR
set -eu
build=${1:-build}
bin=$build/bin
out=$build/demo
mkdir -p "$out"

echo "== 1. The serial example (examples/fibonacci/serial)"
"$bin/fibonacci"
echo

echo "== 2. The scaling demo: the same work on every n_jobs"
"$bin/fibonacci_farm" --backend threads,procs --json "$out/farm.json"
echo
if [ -x "$bin/fibonacci_openmp" ]; then
    "$bin/fibonacci_openmp" --json "$out/openmp.json"
    echo
fi

echo "== 3. A better algorithm, on one core"
"$bin/fibonacci_farm" --backend serial --jobs 1 --algo doubling \
    --json "$out/doubling.json" >/dev/null
"$bin/fibonacci_farm" --backend serial --jobs 1 --algo gmp \
    --json "$out/gmp.json" >/dev/null
summary=$(python3 "$(dirname "$0")/scaling.py" "$out")
backends=$(echo "$summary" | sed -n 's/^backends=//p' | tr ',' ' ')
cpus=$(echo "$summary" | sed -n 's/^cpus=//p')
nb=$(echo "$backends" | wc -w)
echo "$summary" | sed -n 's/^LESSON: //p' | fold -s -w 78
echo

if command -v gnuplot >/dev/null 2>&1; then
    gnuplot -e "dat='$out/scaling.dat'; png='$out/scaling.png'; cpus=$cpus; nb=$nb; names='$backends'" \
        "$(dirname "$0")/scaling.gp"
    echo "Wrote $out/scaling.json and $out/scaling.png"
else
    echo "Wrote $out/scaling.json (install gnuplot for the plot: make deps)"
fi
