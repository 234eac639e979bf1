#!/bin/sh
# demo.sh - the main job: the tutorial's serial example, then the scaling
# demo on the tutorial workload (fib(n), n = 5000..9999, n_jobs 1..32) with
# the threads and process backends and hand-written OpenMP, all timed in
# the same interleaved rounds against the same serial baseline, a plot,
# and the lesson the tutorial never shows.
# usage: demo.sh BUILD_DIR     (DEMO_REPEAT=N: rounds, default 3)
set -eu
build=${1:-build}
# Three rounds: a median that one busy moment cannot move, and the whole
# demo within a minute on 2 CPUs even while other work shares them (five
# took 80 s on a busy machine). DEMO_REPEAT=5 for steadier medians.
repeat=${DEMO_REPEAT:-3}
bin=$build/bin
out=$build/demo
mkdir -p "$out"

echo "== 1. The serial example (examples/fibonacci/serial)"
"$bin/fibonacci"
echo

echo "== 2. The scaling demo: the same work on every n_jobs, $repeat rounds"
backends=threads,procs
if "$bin/fibonacci_farm" --help | grep -q ' openmp'; then
    backends=$backends,openmp       # the build has OpenMP
fi
"$bin/fibonacci_farm" --backend "$backends" --repeat "$repeat" \
    --json "$out/farm.json"
echo

echo "== 3. A better algorithm, on one core"
"$bin/fibonacci_farm" --backend serial --jobs 1 --algo doubling \
    --repeat "$repeat" --json "$out/doubling.json" >/dev/null
"$bin/fibonacci_farm" --backend serial --jobs 1 --algo gmp \
    --repeat "$repeat" --json "$out/gmp.json" >/dev/null
summary=$(python3 "$(dirname "$0")/scaling.py" "$out")
names=$(echo "$summary" | sed -n 's/^backends=//p' | tr ',' ' ')
cpus=$(echo "$summary" | sed -n 's/^cpus=//p')
nb=$(echo "$names" | wc -w)
echo "$summary" | sed -n 's/^NOISE: /How noisy this run was: /p' | fold -s -w 78
echo "$summary" | sed -n 's/^LESSON: //p' | fold -s -w 78
echo

if command -v gnuplot >/dev/null 2>&1; then
    gnuplot -e "dat='$out/scaling.dat'; png='$out/scaling.png'; cpus=$cpus; nb=$nb; names='$names'; rounds=$repeat" \
        "$(dirname "$0")/scaling.gp"
    echo "Wrote $out/scaling.json and $out/scaling.png"
else
    echo "Wrote $out/scaling.json (install gnuplot for the plot: make deps)"
fi
