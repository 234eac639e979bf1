#!/bin/sh
# Lint: runs the shellcheck program on every shell script of the project
# (the job scripts, the build and test scripts, CI).
# usage: shellcheck.sh SOURCE_DIR
set -u
cd "$1" || exit 1
if ! command -v shellcheck >/dev/null; then
    echo "FAIL: shellcheck is missing: run 'make deps'"
    exit 1
fi
files=$(find examples scripts tests .ci -type f \( -name '*.sh' -o -path .ci/run \) | sort)
pass=0
fail=0
for f in $files; do
    if shellcheck -x "$f"; then pass=$((pass + 1)); else
        echo "FAIL: $f"; fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
