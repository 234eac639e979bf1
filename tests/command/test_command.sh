#!/bin/bash
# test_command.sh - the `taskfarm` command, driven as a user would: inputs,
# replacement strings, injection, order, output, exit statuses, joblog,
# environment, time-outs, retries, stop-on-error, journal, signals.
#
# usage: test_command.sh TASKFARM SOURCE_DIR
# shellcheck disable=SC2016,SC1083 # $1 for sh -c, {} for taskfarm
set -u
T=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck source=SCRIPTDIR/../cli/lib.sh
. "$2/tests/cli/lib.sh"
cd "$tmp" || exit 1

# eq NAME WANT GOT: exact comparison, both shown on failure.
eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        bad "$1"; printf 'want:\n%s\ngot:\n%s\n' "$2" "$3"; fi
}

# verdict NAME: passes when the command just before it succeeded, so that
# a check can be a list: [ A ] && [ B ]; verdict NAME.
verdict() {
    r=$?
    if [ "$r" -eq 0 ]; then ok "$1"; else bad "$1"; fi
}

# status NAME WANT COMMAND...: the exit status of COMMAND.
status() {
    name=$1; want=$2; shift 2
    "$@" >/dev/null 2>"$tmp/status-err"; rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name"; else
        bad "$name (rc=$rc, want $want)"; cat "$tmp/status-err"; fi
}

# marker_alive TEXT: some process has TEXT in its command line (/proc).
marker_alive() {
    for c in /proc/[0-9]*/cmdline; do
        if { tr '\0' ' ' <"$c"; } 2>/dev/null | grep -qF -- "$1"; then
            return 0
        fi
    done
    return 1
}

# ---- inputs ---------------------------------------------------------------
eq "inputs after :::" "$(printf 'a\nb\nc')" "$("$T" -j2 echo ::: a b c)"
printf 'x\ny\n' >in.txt
eq "-a FILE: one input per line" "$(printf 'x\ny')" "$("$T" -a in.txt echo)"
eq "stdin: one input per line" "$(printf '1\n2\n3')" "$(seq 3 | "$T" echo)"
eq "--range LO:HI: LO <= i < HI" "$(seq 5 9)" "$("$T" --range 5:10 echo)"
eq "-0: NUL-separated, newlines kept" "$(printf '<a\nb>\n<c>')" \
   "$(printf 'a\nb\0c\0' | "$T" -0 printf '<%s>\n')"
out=$("$T" echo </dev/null 2>&1); rc=$?
[ "$rc" = 0 ] && [ -z "$out" ]; verdict "an empty input list runs nothing and exits 0"

# ---- replacement strings --------------------------------------------------
eq "{} {#} {.} {/} {//} {/.}" "d/f.c 1 d/f f.c d f|x 2 x x . x" \
   "$("$T" -j1 echo {} {#} {.} {/} {//} {/.} ::: d/f.c x | paste -sd'|')"
eq "{%} is the slot, 1..jobs" "1" "$("$T" -j1 echo {%} ::: a b | sort -u)"
eq "--colsep: {1} {2} are columns" "$(printf '2-a\n4-b')" \
   "$(printf 'a,2\nb,4\n' | "$T" --colsep , echo {2}-{1})"
eq "no replacement string: the input is appended" "pre x" "$("$T" echo pre ::: x)"
eq "inside a word" "out_7.txt" "$("$T" echo out_{}.txt ::: 7)"

# ---- injection: inputs are text, one argument each ------------------------
cat >args.sh <<'EOF'
#!/bin/sh
# prints its argument count and each argument in brackets
printf '%s' "$#"; printf ' [%s]' "$@"; echo
EOF
chmod +x args.sh
inputs=('$(touch PWNED)' '`touch PWNED`' '; touch PWNED' "it's" 'a "b" c'
        'two  spaces' '*' '-n' '--help' '$HOME' '|touch PWNED' '&& touch PWNED')
want=""
for i in "${inputs[@]}"; do want="$want$(printf '1 [%s]' "$i")
"; done
want=${want%
}
eq "injection, no shell: each input one argument" "$want" "$("$T" ./args.sh ::: "${inputs[@]}")"
eq "injection, no shell, {} inside a word" "$want" "$("$T" ./args.sh {} ::: "${inputs[@]}")"
eq "injection, --shell: quoted, still one argument" "$want" \
   "$("$T" --shell ./args.sh {} ::: "${inputs[@]}")"
eq "injection, --shell, appended input" "$want" "$("$T" --shell ./args.sh ::: "${inputs[@]}")"
eq "injection, -0 with a newline in an input" "$(printf '1 [l1\nl2; touch PWNED]')" \
   "$(printf 'l1\nl2; touch PWNED\0' | "$T" -0 --shell ./args.sh {})"
eq "injection, --shell, {} inside the user's own quotes, or escaped" \
   "$want$(printf '\n%s' "$want" "$want" "$want")" \
   "$("$T" --shell "./args.sh '{}'" ::: "${inputs[@]}"; "$T" --shell './args.sh "{}"' ::: "${inputs[@]}"
      "$T" --shell './args.sh \{}' ::: "${inputs[@]}"; "$T" --shell './args.sh "\{}"' ::: "${inputs[@]}")"
check "injection: no input ever ran as a command" [ ! -e PWNED ]
eq "--shell runs the command through sh" "3" "$("$T" --shell 'echo {} | wc -w' ::: 'a b c')"

# ---- order and output -----------------------------------------------------
eq "input order by default, whatever finishes first" "$(printf '0.8\n0.4\n0')" \
   "$("$T" -j3 sh -c 'sleep $1; echo $1' sh ::: 0.8 0.4 0)"
eq "--order completed: as each finishes" "$(printf '0\n0.4\n0.8')" \
   "$("$T" -j3 --order completed sh -c 'sleep $1; echo $1' sh ::: 0.8 0.4 0)"
eq "a slot busy with a long task gets no queued task" "1 1|2 2|3 2|4 2" \
   "$("$T" -j2 sh -c 'sleep $1; echo $2 $3' sh {} {#} {%} ::: 2 0.2 0.2 0.2 | paste -sd'|')"
out=$("$T" -j2 sh -c 'for i in 1 2 3; do echo $1$1; sleep 0.0$i; done' sh ::: a b)
eq "each task's output whole, never interleaved" "$(printf 'aa\naa\naa\nbb\nbb\nbb')" "$out"
eq "--tag prefixes each line with the input" "$(printf 'x\tx\nx\t2\ny\ty\ny\t2')" \
   "$("$T" --tag sh -c 'echo $1; echo 2' sh ::: x y)"
"$T" --results res sh -c 'echo out$1; echo err$1 >&2; exit $1' sh ::: 0 3 >res.out 2>&1
check "--results DIR/SEQ/{stdout,stderr,exit}" \
    [ "$(cat res/1/stdout res/1/stderr res/1/exit res/2/stdout res/2/stderr res/2/exit)" = \
      "$(printf 'out0\nerr0\n0\nout3\nerr3\n3')" ]
check "--results: nothing on stdout but the failure on stderr" \
    [ "$(cat res.out)" = "taskfarm: task 2 (3) exited with status 3" ]
head -c 3000000 /dev/urandom >big.bin
eq "3 MB of output (spilled to a file), intact" "$(sha256sum <big.bin)" \
   "$("$T" -j2 cat ::: big.bin | sha256sum)"
# Output in every rhythm: many small writes on both streams, a slow
# writer, writes larger than a pipe while taskfarm holds off (spawn.c).
"$T" -j2 sh -c 'i=0; while [ $i -lt 300 ]; do echo out$1.$i; echo err$1.$i >&2; i=$((i + 1)); done' sh ::: a b >rh.out 2>rh.err
[ "$(sort rh.out | uniq | wc -l)" = 600 ] && [ "$(sort rh.err | uniq | wc -l)" = 600 ] &&
    [ "$(head -n 300 rh.out | sed 's/\..*//' | uniq)" = outa ]
verdict "300 small writes to stdout and stderr each: all there, in input order"
eq "a slow writer: every line" "1 2 3 4" \
   "$("$T" sh -c 'for i in 1 2 3 4; do echo $i; sleep 0.05; done' ::: a | paste -sd' ')"
eq "writes bigger than a pipe, in bursts: intact" \
   "$( (head -c 700000 big.bin; head -c 300000 big.bin) | sha256sum)" \
   "$("$T" sh -c 'head -c 700000 big.bin; sleep 0.01; head -c 300000 big.bin' ::: a | sha256sum)"
"$T" sh -c 'echo o; echo e >&2' ::: 1 >o.txt 2>e.txt
[ "$(cat o.txt)" = o ] && [ "$(cat e.txt)" = e ]; verdict "stdout and stderr to taskfarm's own"

# ---- exit statuses --------------------------------------------------------
status "exit 0 when every task succeeded" 0 "$T" true ::: 1 2 3
status "exit 3 when 3 tasks failed" 3 "$T" sh -c 'exit $1' sh ::: 0 1 2 0 7
status "exit 100 when 100 failed" 100 sh -c "seq 100 | '$T' false"
status "exit 101 when more than 100 failed" 101 sh -c "seq 130 | '$T' false"
status "exit 255 for a usage error" 255 "$T" --no-such-option true
status "a second ::: is refused, not taken as an input (GNU parallel's product)" 255 "$T" echo ::: a ::: b
status "a task killed by a signal counts as failed" 1 "$T" sh -c 'kill -SEGV $$' ::: 1
printf 'echo no-shebang "$@"\n' >noshebang.sh; chmod +x noshebang.sh
eq "a script without #! runs with /bin/sh, as execvp and xargs do" "no-shebang a" \
   "$("$T" ./noshebang.sh ::: a 2>&1)"
status "a command that does not exist: failed" 1 "$T" ./no-such-program ::: 1

# ---- bad input --------------------------------------------------------------
expect_fail "unknown option" 255 "unknown option" "$T" --frobnicate true
expect_fail "missing -a file" 255 "no-such-file" "$T" -a no-such-file echo
expect_fail "a NUL byte in a line refused, not cut short" 255 "NUL" \
    sh -c "printf 'x\\n\\na\\0b\\n' | '$T' echo"
expect_fail "-j 0 refused" 255 "-j 0" "$T" -j 0 true ::: 1
expect_fail "-j abc refused" 255 "abc" "$T" -j abc true ::: 1
expect_fail "--range 9:3 refused" 255 "9:3" "$T" --range 9:3 echo
expect_fail "--range over 2^40 tasks refused, saying so (HI - LO overflows a long long)" \
    255 "more tasks than a run can have" \
    "$T" --range -9223372036854775808:9223372036854775807 true
eq "--range at the ends of a 64-bit integer" \
   "-9223372036854775808 -9223372036854775807 9223372036854775805 9223372036854775806" \
   "$( ("$T" --range -9223372036854775808:-9223372036854775806 echo
        "$T" --range 9223372036854775805:9223372036854775807 echo) | paste -sd' ')"
expect_fail "no command" 255 "no command" "$T" -j 2
expect_fail "--timeout -1 refused" 255 "timeout" "$T" --timeout -1 true ::: 1
expect_fail "two input sources refused" 255 "one way" "$T" -a in.txt echo ::: 1

# ---- jobs, CPUs, environment ----------------------------------------------
cpus=$(nproc)
"$T" -v true ::: 1 2>v.txt
check "--verbose: slots and their source" grep -qE "on $cpus slots \\($cpus CPUs, from " v.txt
"$T" -v -j +2 true ::: 1 2>v.txt
check "-j +2: CPUs plus 2" grep -q "on $((cpus + 2)) slots" v.txt
"$T" -v -j 200% true ::: 1 2>v.txt
check "-j 200%: twice the CPUs" grep -q "on $((cpus * 2)) slots" v.txt
"$T" -v -j -1 true ::: 1 2>v.txt
check "-j -1: CPUs minus one (at least 1)" grep -qE "on $(( cpus > 1 ? cpus - 1 : 1 )) slots" v.txt
"$T" -v -j -1000 true ::: 1 2>v.txt
check "-j -1000: at least 1 slot, as GNU parallel" grep -q "on 1 slots" v.txt
eq "TASKFARM_TASK, _SEQ, _SLOT" "0 1 1|1 2 1" \
   "$("$T" -j1 sh -c 'echo $TASKFARM_TASK $TASKFARM_SEQ $TASKFARM_SLOT' ::: a b | paste -sd'|')"
eq "OMP_NUM_THREADS and BLAS = CPUs / slots" "1 1 1" \
   "$("$T" -j "$cpus" sh -c 'echo $OMP_NUM_THREADS $OPENBLAS_NUM_THREADS $MKL_NUM_THREADS' ::: a)"
eq "OMP_NUM_THREADS left alone when set" "5" "$(OMP_NUM_THREADS=5 "$T" sh -c 'echo $OMP_NUM_THREADS' ::: a)"
eq "stdin of a task is /dev/null" "" "$(echo leaked | "$T" -a in.txt cat - 2>/dev/null | grep leaked)"
mask=$("$T" -j1 --cpus-per-task 1 sh -c 'grep Cpus_allowed_list /proc/self/status' ::: a | awk '{print $2}')
first=$(awk '/Cpus_allowed_list/ {print $2}' /proc/self/status | cut -d, -f1 | cut -d- -f1)
eq "--cpus-per-task 1: slot 1 pinned to the mask's first CPU" "$first" "$mask"
"$T" -v -j1 --cpus-per-task 1 true ::: a 2>v1.txt
"$T" -v -j $((cpus + 1)) --cpus-per-task 1 true ::: a 2>v2.txt
grep -q "each pinned to its own 1 CPU$" v1.txt && grep -q "shared ($((cpus + 1)) slots x 1 > $cpus CPUs)" v2.txt
verdict "-v: --cpus-per-task says when more slots than CPUs share them"
eq "--cpus-per-task: OMP_NUM_THREADS = K" "1" "$("$T" --cpus-per-task 1 sh -c 'echo $OMP_NUM_THREADS' ::: a)"
eq "signal mask clean, dispositions default" "0000000000000000 0000000000000000" \
   "$("$T" sh -c 'awk "/^SigBlk|^SigIgn/ {print \$2}" /proc/self/status | paste -sd" "' ::: a)"

cat >sigign.sh <<'EOF'
trap '' HUP PIPE USR1 USR2      # inherited by taskfarm, as from a parent
exec "$1" sh -c 'awk "/^SigIgn/ {print \$2}" /proc/self/status' ::: a
EOF
eq "signals ignored when taskfarm starts are default in a task" \
   "0000000000000000" "$(sh sigign.sh "$T")"
rc=0; "$T" --joblog nf.log no-such-command-tf ::: a 2>nf.err || rc=$?
[ "$rc" = 1 ] && grep -q "no-such-command-tf: command not found" nf.err &&
    [ "$(awk -F'\t' 'NR == 2 {print $7}' nf.log)" = 127 ]
verdict "a command not in PATH: exit 1, GNU parallel's message, Exitval 127"
printf 'echo x\n' >noexec.sh; chmod -x noexec.sh
rc=0; "$T" --joblog ne.log ./noexec.sh ::: a 2>ne.err || rc=$?
[ "$rc" = 1 ] && grep -q "noexec.sh: Permission denied" ne.err &&
    [ "$(awk -F'\t' 'NR == 2 {print $7}' ne.log)" = 126 ]
verdict "a file that cannot be executed: the exec's errno, Exitval 126"
eq "commands after one that could not start run" "ok" \
   "$("$T" -j1 sh -c 'if [ "$1" = 1 ]; then exec ./noexec.sh; fi; echo ok' sh ::: 1 2 2>/dev/null)"

rc=0; timeout -k 5 20 /usr/bin/python3 -c 'import signal, os, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # a parent that ignores it
os.execv(sys.argv[1], sys.argv[1:])' "$T" --joblog chld.log sh -c 'exit 7' ::: 1 2 2>/dev/null || rc=$?
[ "$rc" = 2 ] && [ "$(awk -F'\t' 'NR > 1 {print $7}' chld.log | paste -sd' ')" = "7 7" ]
verdict "SIGCHLD ignored by taskfarm's parent: statuses still seen (rc=$rc)"
eq "taskfarm's stdin closed: a command still gets /dev/null" "/dev/null" \
   "$("$T" sh -c 'readlink /proc/self/fd/0' ::: 1 <&-)"
mkdir -p shadow/echo
eq "a directory earlier in PATH does not shadow the program" "hi 1" \
   "$(PATH="$PWD/shadow:$PATH" "$T" echo hi ::: 1 2>&1)"
echo x >seven.txt
eq "a descriptor taskfarm inherited is the command's too, as with xargs" "x" \
   "$("$T" sh -c 'cat <&7' ::: 1 7<"$tmp/seven.txt")"
fds() { sh -c 'ls /proc/self/fd' | paste -sd' '; }
eq "no descriptor of taskfarm's leaks into a task (joblog, journal, /dev/null)" \
   "$(fds)" "$("$T" -j2 --joblog fd.log --journal fd.tfj sh -c 'ls /proc/self/fd | paste -sd" "' ::: 1 2 | sort -u)"

# ---- joblog ---------------------------------------------------------------
"$T" -j2 --joblog jl.txt sh -c 'exit $1' sh ::: 0 3 >/dev/null 2>&1
"$T" -j2 --joblog jl2.txt sh -c 'kill -$1 $$' sh ::: 9 11 >/dev/null 2>&1
check "joblog: GNU parallel's header" \
    [ "$(head -n1 jl.txt)" = "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')" ]
check "joblog: one line per task, exit values" \
    [ "$(awk -F'\t' 'NR > 1 {print $1, $2, $7, $8, $9}' jl.txt | sort)" = \
      "$(printf "1 : 0 0 sh -c 'exit \$1' sh 0\n2 : 3 0 sh -c 'exit \$1' sh 3")" ]
check "joblog: signals" \
    [ "$(awk -F'\t' 'NR > 1 {print $1, $7, $8}' jl2.txt | sort)" = "$(printf '1 0 9\n2 0 11')" ]
check "joblog: 9 tab-separated fields, times as numbers" \
    awk -F'\t' 'NF != 9 || (NR > 1 && ($3 !~ /^[0-9]+\.[0-9][0-9][0-9]$/ || $4 !~ /^ *[0-9]+\.[0-9][0-9][0-9]$/)) {exit 1}' jl.txt

if [ -w /dev/full ]; then
    expect_fail "joblog: a write that fails (a full disk) is an error" 255 "joblog" \
        "$T" --joblog /dev/full true ::: 1
fi

# ---- time-outs: the whole process group, no process left ------------------
start=$(date +%s)
"$T" --joblog to.txt --timeout 0.5 sh -c 'trap "" TERM; sleep 301.25 & sleep 301.5; :' ::: 1 \
    >/dev/null 2>to.err; rc=$?
[ "$rc" = 1 ] && grep -q "timed out" to.err; verdict "timed out: reported, exit 1"
check "timed out: Exitval -1, Signal 9 in the joblog" \
    [ "$(awk -F'\t' 'NR == 2 {print $7, $8}' to.txt)" = "-1 9" ]
sleep 0.2
check "timed out: child and grandchild that ignore SIGTERM are gone" \
    eval '! marker_alive "sleep 301.25" && ! marker_alive "sleep 301.5"'
check "timed out: within the grace, not after the sleep" [ $(( $(date +%s) - start )) -lt 10 ]

# ---- retries, stop on error -------------------------------------------------
status "without --retries a flaky task fails" 1 \
    "$T" sh -c 'if [ -e a$1 ]; then exit 0; fi; touch a$1; exit 1' sh ::: 1
eq "--retries 2: a task failing once succeeds" "ok" \
   "$("$T" --retries 2 sh -c 'if [ -e b$1 ]; then echo ok; exit 0; fi; touch b$1; exit 1' sh ::: 1)"
out=$("$T" -j1 --stop-on-error sh -c 'echo $1; exit $(( $1 == 3 ))' sh ::: 1 2 3 4 5 2>/dev/null); rc=$?
eq "--stop-on-error: no new task after the first failure" "$(printf '1\n2\n3')" "$out"
check "--stop-on-error: exit 1" [ "$rc" = 1 ]

# ---- journal --------------------------------------------------------------
job=(--journal j.tfj -j2 sh -c 'echo task $1; exit $(( $1 == 4 ))' sh)
"$T" "${job[@]}" ::: 1 2 3 4 5 >j1.out 2>/dev/null; rc1=$?
"$T" "${job[@]}" ::: 1 2 3 4 5 >j2.out 2>j2.err; rc2=$?
check "journal: a rerun writes the same stdout" cmp -s j1.out j2.out
[ "$rc1" = 1 ] && [ "$rc2" = 1 ] && grep -q "task 4" j2.err
verdict "journal: the failed task ran again (and failed again)"
sum=$(sha256sum <j.tfj)
expect_fail "journal: another command refused" 255 "another run" \
    "$T" --journal j.tfj -j2 echo ::: 1 2 3 4 5
expect_fail "journal: other inputs refused" 255 "another run" \
    "$T" "${job[@]}" ::: 1 2 3 4 6
check "journal: the refused journal untouched" [ "$(sha256sum <j.tfj)" = "$sum" ]
expect_fail "journal: a system failure says which" 255 "No such file or directory" \
    "$T" --journal no-such-dir/j.tfj true ::: 1
"$T" --journal jr.tfj -j1 sh -c 'echo $1 >>ran.txt; echo $1' sh ::: a b c >/dev/null
"$T" --journal jr.tfj -j1 sh -c 'echo $1 >>ran.txt; echo $1' sh ::: a b c >jr.out
[ "$(cat ran.txt)" = "$(printf 'a\nb\nc')" ] && [ "$(cat jr.out)" = "$(printf 'a\nb\nc')" ]
verdict "journal: succeeded tasks are not run again, output replayed"

# ---- signals: no new task, grace, 143 / 130 -------------------------------
for sig in TERM INT; do
    rm -f s.tfj ran-s.txt started.*
    sjob=(--journal s.tfj -j2 --grace 3 sh -c 'touch started.$1; sleep 1.5; echo $1 >>ran-s.txt; echo $1' sh)
    "$T" "${sjob[@]}" ::: 1 2 3 4 5 6 >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do     # until both slots run a task
        [ -e started.1 ] && [ -e started.2 ] && break
        sleep 0.05
    done
    kill -s "$sig" "$pid"
    wait "$pid"; rc=$?
    want=$([ "$sig" = TERM ] && echo 143 || echo 130)
    check "SIG$sig: exit $want" [ "$rc" = "$want" ]
    check "SIG$sig: running tasks finished in the grace, no new one started" \
        [ "$(sort ran-s.txt)" = "$(printf '1\n2')" ]
    "$T" "${sjob[@]}" ::: 1 2 3 4 5 6 >s2.out
    check "SIG$sig: the rerun completes the output" [ "$(cat s2.out)" = "$(seq 6)" ]
    check "SIG$sig: the two finished in the grace were journaled, not rerun" \
        [ "$(sort ran-s.txt)" = "$(seq 6)" ]
done
"$T" -j2 --grace 0.2 sleep 302.5 ::: 1 2 3 >/dev/null 2>&1 &
pid=$!
sleep 0.3
kill -TERM "$pid"
wait "$pid"; rc=$?
sleep 0.2
check "SIGTERM, grace over: running commands killed, exit 143" \
    eval '[ "$rc" = 143 ] && ! marker_alive "sleep 302.5"'

# ---- dry run, help, version -------------------------------------------------
eq "--dry-run prints the commands, runs nothing" "$(printf "touch dry1\ntouch 'd r y'")" \
   "$("$T" --dry-run touch ::: dry1 'd r y')"
check "--dry-run ran nothing" [ ! -e dry1 ]
check "--help: usage on stdout, exit 0" sh -c "'$T' --help | grep -q '^usage: taskfarm'"
check "--version" sh -c "'$T' --version | grep -qE '^taskfarm [0-9]+\\.[0-9]+\\.[0-9]+$'"

finish
