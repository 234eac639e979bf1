#!/bin/sh
# device-check.sh - the GPU example's one run on a GPU machine: everything
# the README's table needs, in one go (small ranges, then the tutorial's).
#
# The GPU machine has the GPU and its driver but no compiler and no package
# registry, so the binary is built on the development machine and carried:
#   make cuda                      build-gpu/bin/fibonacci_cuda: needs only
#                                  glibc 2.35+ and the driver there
#   sh examples/fibonacci/gpu/device-check.sh [BINARY]     on the GPU machine
# (with the device tool: carry ["build-gpu/bin"], timeout_s 300).
#
# Writes into $OUT when set, else ./gpu-check: nvidia-smi.txt, small.txt,
# large.txt, memcheck.txt, synccheck.txt, full.txt, full.json and
# full.sha256 (eight files, what the device tool brings back). Back on the
# development machine, check the values a second way:
#   build/bin/fibonacci_farm --values 5000:10000 --algo gmp --backend serial \
#       --jobs 1 --output ref.txt && sha256sum ref.txt   # = full.sha256
# Exit status: 0 when every step passed, else the last failing step's.
set -u
here=$(dirname "$0")
bin=${1:-$here/../../../build-gpu/bin/fibonacci_cuda}
out=${OUT:-$PWD/gpu-check}
mkdir -p "$out"
status=0

# step NAME COMMAND...: runs COMMAND (at most 4 minutes), its output shown
# and kept in $out/NAME.txt.
step() {
    name=$1; shift
    echo "== $name: $*"
    timeout 240 "$@" >"$out/$name.txt" 2>&1; rc=$?
    cat "$out/$name.txt"
    echo "== $name: exit $rc"
    [ $rc -eq 0 ] || status=$rc
}

# The driver first: CUDA 13 needs a recent one (see the README).
step nvidia-smi nvidia-smi
echo "== machine"
date -u
uname -a
echo "CPUs online: $(nproc)"
grep -m1 'model name' /proc/cpuinfo
ldd --version | head -n 1
if [ ! -x "$bin" ]; then
    echo "device-check: no $bin: run 'make cuda' on the development machine" \
         "and carry build-gpu/bin" >&2
    exit 1
fi
ldd "$bin"

# The gpu test's ranges: 8 limbs per lane, then 32.
step small "$bin" --values 0:600 --repeat 2
step large "$bin" --values 11797:12797 --repeat 2
# Memory errors and misused warp votes or shuffles, where the image has
# compute-sanitizer (it slows the kernel many times over: a small range).
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$sanitizer" ]; then
    step memcheck "$sanitizer" --tool memcheck --error-exitcode 1 \
        "$bin" --values 0:300 --repeat 1
    step synccheck "$sanitizer" --tool synccheck --error-exitcode 1 \
        "$bin" --values 0:300 --repeat 1
fi
# The tutorial's workload, with the values kept for the second check.
step full "$bin" --values 5000:10000 --repeat 5 --json "$out/full.json" \
    --output "$out/values.txt"
if [ -f "$out/values.txt" ]; then
    sha256sum <"$out/values.txt" >"$out/full.sha256"
    rm -f "$out/values.txt"
    echo "values sha256: $(cat "$out/full.sha256")"
fi
exit $status
