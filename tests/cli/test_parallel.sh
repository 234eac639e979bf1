#!/bin/sh
# test_parallel.sh - the parallel examples, driven as a user would.
# usage: test_parallel.sh BIN_DIR
set -u
bin=$1
here=$(dirname "$0")
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"
small=100:400

out=$("$bin/fibonacci_farm" --values "$small" --jobs 1,2,3 --backend serial,threads,procs \
      --json "$tmp/farm.json" 2>"$tmp/err"); rc=$?
check "farm: three backends, exit 0" [ $rc -eq 0 ]
check "farm: every result verified" \
      has "$out" "^All results verified against the serial run.$"
check "farm: nine rows" [ "$(echo "$out" | grep -cE '^(serial|threads|procs) ')" -eq 9 ]
check "farm: names its CPU source" has "$out" \
      "^CPUs: [0-9]+, from (the affinity mask|the cgroup CPU quota|SLURM_|all CPUs)"
check "farm: the JSON schema" python3 "$here/check_json.py" "$tmp/farm.json" 9 1
check "farm: no progress bar when stderr is not a terminal" [ ! -s "$tmp/err" ]

"$bin/fibonacci_farm" --values "$small" --jobs 2000 2>/dev/null; rc=$?
check "farm: --jobs above 1024 refused" [ $rc -eq 2 ]
out=$("$bin/fibonacci_farm" --values "$small" --jobs 64 --backend procs); rc=$?
check "farm: 64 procs workers run" [ $rc -eq 0 ]
check "farm: rows past the CPUs are marked" has "$out" "more workers than CPUs$"
check "farm: and warned about" has "$out" "^Warning: n_jobs up to 64, but this job has"

out=$(TASKFARM_NUM_JOBS=1 "$bin/fibonacci_farm" --values "$small" --jobs all); rc=$?
check "farm: TASKFARM_NUM_JOBS decides the CPUs" \
      has "$out" "^CPUs: 1, from TASKFARM_NUM_JOBS$"
check "farm: 'all' is the detected count" has "$out" "^threads +1 "

for algo in doubling gmp; do
    out=$("$bin/fibonacci_farm" --values 0:3000 --jobs 2 --algo "$algo" \
          --backend procs); rc=$?
    check "farm: --algo $algo verifies" [ $rc -eq 0 ]
done

out=$("$bin/fibonacci_multiproc" --values "$small" --jobs 1,2 --json "$tmp/mp.json"); rc=$?
check "multiproc: exit 0, verified" [ $rc -eq 0 ]
check "multiproc: the JSON schema" python3 "$here/check_json.py" "$tmp/mp.json" 2 1
if [ -x "$bin/fibonacci_openmp" ]; then
    out=$("$bin/fibonacci_openmp" --values "$small" --jobs 1,2,4 --json "$tmp/omp.json"); rc=$?
    check "openmp: exit 0, verified" [ $rc -eq 0 ]
    check "openmp: the JSON schema" python3 "$here/check_json.py" "$tmp/omp.json" 3 1
fi

# ---- --repeat: interleaved rounds, medians and spreads -------------------
out=$("$bin/fibonacci_farm" --values "$small" --jobs 1,2 --backend threads,procs \
      --repeat 3 --json "$tmp/rep.json" 2>"$tmp/err"); rc=$?
check "--repeat 3: exit 0, verified" [ $rc -eq 0 ]
check "  says how it timed" has "$out" "^Every row timed 3 times in interleaved rounds"
check "  the serial baseline's median and spread" has "$out" \
      "^Serial execution time: [0-9.]+ s \(median of 3 runs, [0-9.]+-[0-9.]+ s: a spread of [0-9.]+%\)$"
check "  each row: median, then min-max" \
      [ "$(echo "$out" | grep -cE '^(threads|procs) +[12] +[0-9.]+ +[0-9.]+-[0-9.]+ +([0-9.]+ +[0-9.]+|noise! +-)')" -eq 4 ]
check "  every sample in the JSON" python3 "$here/check_json.py" "$tmp/rep.json" 4 3
check "  no round counter when stderr is not a terminal" [ ! -s "$tmp/err" ]
if [ -x "$bin/fibonacci_openmp" ]; then
    out=$("$bin/fibonacci_farm" --values "$small" --jobs 2 --backend threads,openmp \
          --repeat 2 --json "$tmp/fo.json"); rc=$?
    check "farm --backend openmp: in the same rounds, verified" [ $rc -eq 0 ]
    check "  its rows" has "$out" "^openmp +2 "
    check "  and in the JSON" python3 "$here/check_json.py" "$tmp/fo.json" 2 2
    expect_error "  but not with --journal" 1 "needs a taskfarm backend" \
        "$bin/fibonacci_farm" --values "$small" --jobs 2 --backend openmp --journal "$tmp/jo"
fi
for prog in fibonacci_multiproc fibonacci_openmp; do
    [ -x "$bin/$prog" ] || continue
    "$bin/$prog" --values "$small" --jobs 1 --repeat 2 --json "$tmp/r2.json" >/dev/null; rc=$?
    check "$prog --repeat 2: exit 0" [ $rc -eq 0 ]
    check "$prog --repeat 2: the JSON" python3 "$here/check_json.py" "$tmp/r2.json" 1 2
done

# ---- joblib's negative n_jobs ---------------------------------------------
out=$("$bin/fibonacci_farm" --values "$small" --jobs -1); rc=$?
cpus=$(echo "$out" | sed -n 's/^CPUs: \([0-9]*\), .*/\1/p')
check "--jobs -1: exit 0" [ $rc -eq 0 ]
check "--jobs -1: all $cpus detected CPUs" has "$out" "^threads +$cpus "
if [ "$cpus" -ge 2 ]; then
    out=$("$bin/fibonacci_farm" --values "$small" --jobs "-2,-$cpus"); rc=$?
    check "--jobs -2: all CPUs but one" has "$out" "^threads +$((cpus - 1)) "
    check "--jobs -$cpus: one worker" has "$out" "^threads +1 "
fi
out=$(TASKFARM_NUM_JOBS=1 "$bin/fibonacci_farm" --values "$small" --jobs -1); rc=$?
check "--jobs -1 follows the detected count (TASKFARM_NUM_JOBS=1)" has "$out" "^threads +1 "
expect_fail "--jobs -$((cpus + 1)): no workers left" 2 "bad --jobs" \
    "$bin/fibonacci_farm" --values "$small" --jobs "-$((cpus + 1))"

for prog in fibonacci_farm fibonacci_multiproc fibonacci_openmp; do
    [ -x "$bin/$prog" ] || continue
    expect_fail "$prog: --jobs 0,x" 2 "bad --jobs" "$bin/$prog" --jobs 0,x
    expect_fail "$prog: --jobs 1," 2 "bad --jobs" "$bin/$prog" --jobs 1,
    expect_fail "$prog: --values 9:3" 2 "bad --values" "$bin/$prog" --values 9:3
    expect_fail "$prog: --values abc" 2 "bad --values" "$bin/$prog" --values abc
    expect_fail "$prog: --values -5:10" 2 "bad --values" "$bin/$prog" --values -5:10
    expect_fail "$prog: --algo fast" 2 "unknown --algo" "$bin/$prog" --algo fast
    expect_fail "$prog: --backend gpu" 2 "bad --backend" "$bin/$prog" --backend gpu
    expect_fail "$prog: unknown option" 2 "unknown option" "$bin/$prog" --frobnicate 1
    expect_fail "$prog: missing value" 2 "needs a value" "$bin/$prog" --jobs
    expect_fail "$prog: --repeat 0" 2 "bad --repeat" "$bin/$prog" --repeat 0
    expect_fail "$prog: --repeat 101" 2 "bad --repeat" "$bin/$prog" --repeat 101
    expect_fail "$prog: --jobs --1" 2 "bad --jobs" "$bin/$prog" --jobs --1
    # The whole default workload would take seconds: exit 2 at once, with
    # nothing on stdout, means no task ran.
    expect_fail "$prog: --json in a missing directory, before any work" 2 \
        "cannot write /nonexistent/dir/x.json: No such file" \
        "$bin/$prog" --json /nonexistent/dir/x.json
    expect_fail "$prog: --json that is a directory" 2 \
        "cannot write $tmp: Is a directory" "$bin/$prog" --json "$tmp"
    "$bin/$prog" --help >/dev/null; rc=$?
    check "$prog: --help exits 0" [ $rc -eq 0 ]
done

# ---- one resumable run: --journal and --output ---------------------------
farm="$bin/fibonacci_farm"
"$farm" --values 5000:9000 --jobs 2 --backend threads --output "$tmp/plain.txt" >/dev/null
check "--output: one decimal value a line, in order" \
      [ "$(wc -l <"$tmp/plain.txt")" -eq 4000 ]
set -- --values 5000:9000 --jobs 2 --backend procs --journal "$tmp/j" --output "$tmp/out.txt"
"$farm" "$@" >/dev/null 2>"$tmp/err" &
pid=$!
sleep 0.08
kill -TERM "$pid"
wait "$pid"; rc=$?
check "SIGTERM: exit status 143" [ $rc -eq 143 ]
check "  says what remains" grep -qE "stopped by signal 15: [0-9]+ of 4000 values done, kept in .*; [0-9]+ remain" "$tmp/err"
check "  and the command that resumes" grep -q "resume with the same command: .*fibonacci_farm --values 5000:9000" "$tmp/err"
check "  writes no partial --output" [ ! -e "$tmp/out.txt" ]
out=$("$farm" "$@"); rc=$?
check "the same command resumes" has "$out" "[1-9][0-9]* from the journal$"
check "  and its output equals an uninterrupted run's" cmp -s "$tmp/out.txt" "$tmp/plain.txt"
check "--output is not world-writable" [ "$(stat -c %a "$tmp/out.txt" | cut -c3)" -le 4 ]
check "the journal is private (0600)" [ "$(stat -c %a "$tmp/j")" = 600 ]
expect_error "--journal of another run (other --values)" 1 "belongs to a run with another number" \
    "$farm" --values 5000:9001 --jobs 2 --backend procs --journal "$tmp/j"
expect_error "--journal of another run (other --algo)" 1 "belongs to another run" \
    "$farm" --values 5000:9000 --algo gmp --jobs 2 --backend procs --journal "$tmp/j"
expect_error "--journal that is a directory" 1 "Is a directory" \
    "$farm" --values 5000:5100 --jobs 1 --journal "$tmp"
expect_fail "--journal with two backends" 2 "runs once" \
    "$farm" --backend threads,procs --jobs 2 --journal "$tmp/j2"
expect_fail "--output with a --jobs list" 2 "runs once" \
    "$farm" --jobs 1,2 --output "$tmp/o2"
expect_fail "--output with --repeat" 2 "runs once" \
    "$farm" --jobs 1 --repeat 3 --output "$tmp/o2"
if [ -x "$bin/fibonacci_openmp" ]; then
    expect_fail "openmp has no --journal" 2 "unknown option" \
        "$bin/fibonacci_openmp" --jobs 2 --journal "$tmp/j3"
fi
expect_fail "--output in a missing directory: exit 2 before any work" 2 \
    "cannot write /nonexistent/dir/o.txt" \
    "$farm" --jobs 1 --output /nonexistent/dir/o.txt
expect_fail "--journal run with an unwritable --output: nothing journaled" 2 \
    "cannot write /nonexistent/dir/o.txt" \
    "$farm" --jobs 1 --journal "$tmp/j4" --output /nonexistent/dir/o.txt
check "  (no journal made)" [ ! -e "$tmp/j4" ]

# ---- the demo's merge (scripts/scaling.py) on a small run ----------------
mkdir -p "$tmp/demo"
"$farm" --values "$small" --jobs 1,2 --backend threads,procs --repeat 2 \
    --json "$tmp/demo/farm.json" >/dev/null
for algo in doubling gmp; do
    "$farm" --values "$small" --jobs 1 --backend serial --algo "$algo" --repeat 2 \
        --json "$tmp/demo/$algo.json" >/dev/null
done
out=$(python3 "$here/../../scripts/scaling.py" "$tmp/demo"); rc=$?
check "scaling.py: exit 0" [ $rc -eq 0 ]
check "  says how noisy the run was" has "$out" \
      "^NOISE: the serial baseline's 2 runs spread over [0-9.]+% of its median .*; [0-9]+ of 4 rows marked noise"
check "  and the lesson" has "$out" "^LESSON: .*A better algorithm beats more cores.$"
check "  the plot's data: n_jobs, median, slowest, fastest, noise" \
      [ "$(grep -cE '^[12] [0-9.]+ [0-9.]+ [0-9.]+ [01]$' "$tmp/demo/scaling.dat")" -eq 4 ]
check "  scaling.json keeps every sample" python3 "$here/check_json.py" "$tmp/demo/scaling.json" 4 2

finish
