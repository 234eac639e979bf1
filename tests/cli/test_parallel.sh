#!/bin/sh
# test_parallel.sh - the parallel examples, driven as a user would.
# usage: test_parallel.sh BIN_DIR
set -u
bin=$1
here=$(dirname "$0")
. "$here/lib.sh"
small="--values 100:400"

out=$("$bin/fibonacci_farm" $small --jobs 1,2,3 --backend serial,threads,procs \
      --json "$tmp/farm.json" 2>"$tmp/err"); rc=$?
check "farm: three backends, exit 0" [ $rc -eq 0 ]
check "farm: every result verified" \
      sh -c 'echo "$1" | grep -q "^All results verified against the serial run.$"' _ "$out"
check "farm: nine rows" [ "$(echo "$out" | grep -cE '^(serial|threads|procs) ')" -eq 9 ]
check "farm: names its CPU source" \
      sh -c 'echo "$1" | grep -qE "^CPUs: [0-9]+, from (the affinity mask|the cgroup CPU quota|SLURM_|all CPUs)"' _ "$out"
check "farm: the JSON schema" python3 "$here/check_json.py" "$tmp/farm.json" 9
check "farm: no progress bar when stderr is not a terminal" [ ! -s "$tmp/err" ]

out=$("$bin/fibonacci_farm" $small --jobs 2000 2>&1); rc=$?
check "farm: --jobs above 1024 refused" [ $rc -eq 2 ]
out=$("$bin/fibonacci_farm" $small --jobs 64 --backend procs); rc=$?
check "farm: 64 procs workers run" [ $rc -eq 0 ]
check "farm: rows past the CPUs are marked" \
      sh -c 'echo "$1" | grep -q "more workers than CPUs"' _ "$out"

out=$(TASKFARM_NUM_JOBS=1 "$bin/fibonacci_farm" $small --jobs all); rc=$?
check "farm: TASKFARM_NUM_JOBS decides the CPUs" \
      sh -c 'echo "$1" | grep -q "^CPUs: 1, from TASKFARM_NUM_JOBS$"' _ "$out"
check "farm: 'all' is the detected count" \
      sh -c 'echo "$1" | grep -qE "^threads +1 "' _ "$out"

for algo in doubling gmp; do
    check "farm: --algo $algo verifies" sh -c '"$1" --values 0:3000 --jobs 2 \
          --algo "$2" --backend procs >/dev/null' _ "$bin/fibonacci_farm" "$algo"
done

out=$("$bin/fibonacci_multiproc" $small --jobs 1,2 --json "$tmp/mp.json"); rc=$?
check "multiproc: exit 0, verified" [ $rc -eq 0 ]
check "multiproc: the JSON schema" python3 "$here/check_json.py" "$tmp/mp.json" 2
if [ -x "$bin/fibonacci_openmp" ]; then
    out=$("$bin/fibonacci_openmp" $small --jobs 1,2,4 --json "$tmp/omp.json"); rc=$?
    check "openmp: exit 0, verified" [ $rc -eq 0 ]
    check "openmp: the JSON schema" python3 "$here/check_json.py" "$tmp/omp.json" 3
fi

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
    check "$prog: --help exits 0" sh -c '"$1" --help >/dev/null' _ "$bin/$prog"
done

"$bin/fibonacci_farm" $small --jobs 1 --json /nonexistent/dir/x.json >/dev/null 2>"$tmp/err"; rc=$?
check "farm: unwritable --json fails with exit 1" [ $rc -eq 1 ]
check "farm: and says which file" grep -q "cannot write /nonexistent/dir/x.json" "$tmp/err"

finish
