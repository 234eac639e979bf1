#!/bin/sh
# deps.sh - install what taskfarm needs from Debian's packages, and say what.
#
# Used by `make deps`. Installs only the packages that are missing, as root
# or through sudo. On a cluster without root, load modules instead (see the
# README: `module load gcc cmake gmp openmpi`).
set -eu

# Each package and why we need it.
PKGS="
build-essential     compiler and make
cmake               the build system (CMake + CTest)
pkg-config          locating libraries
libgmp-dev          exact big integers for the Fibonacci examples
libcmocka-dev       unit tests
zlib1g-dev          crc32 for the resume journal
openmpi-bin         MPI backend and multi-node example (mpirun)
libopenmpi-dev      MPI backend headers
slurmctld           real local Slurm cluster in the tests
slurmd              real local Slurm cluster in the tests
slurm-client        sbatch, squeue, scontrol
munge               Slurm authentication
iproute2            network namespaces of the multi-node test (ip)
util-linux          nsenter, unshare, setsid of the multi-node test
shellcheck          lint of every job script
gnuplot-nox         scaling plot of the demo and benchmark
python3             Python side of the benchmark
python3-joblib      Python side of the benchmark
python3-dev         headers for the taskfarm Python module (python/)
python3-pytest      tests of the taskfarm Python module
procps              ps/pgrep used by the fault tests
lmod                module load taskfarm in the install test (HPC sites use Lmod)
parallel            GNU parallel, compared with the taskfarm command in bench/
clang               the journal fuzzer (libFuzzer)
libclang-rt-14-dev  libFuzzer and the sanitizers' runtime for clang
"

missing=""
for p in $(printf '%s\n' "$PKGS" | awk 'NF {print $1}'); do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: everything is installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: no apt-get here; install:$missing (or use 'module load', see README)" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: need root or sudo to install:$missing" >&2; exit 1
    fi
fi

echo "deps: installing:$missing"
printf '%s\n' "$PKGS" | awk -v m="$missing " 'NF && index(m, " " $1 " ") {printf "  %-16s ", $1; $1=""; print}'
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086 # $missing is a list of package names
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
