# shellcheck shell=bash disable=SC2154
# jobenv.sh - sourced by the job scripts once they have found the project
# root ($root). Loads nothing by itself: on a cluster with environment
# modules, load a compiler, CMake and GMP in the job script first.
#
# Sets: bin, the directory of the example programs. Builds them first if
# they are missing (the same `make` as on a login node).

if [ ! -f "$root/include/taskfarm.h" ]; then
    echo "job: cannot find the taskfarm project above ${SLURM_SUBMIT_DIR:-$PWD};" \
         "submit from inside it, or set TASKFARM_ROOT" >&2
    exit 1
fi
bin=${TASKFARM_BUILD:-$root/build}/bin

# tf_need PROGRAM: build the project if PROGRAM is not there yet.
tf_need() {
    if [ ! -x "$bin/$1" ]; then
        echo "job: $bin/$1 missing; building with: make -C $root" >&2
        make -C "$root" all >&2 || {
            echo "job: build failed; on a login node run 'make' (after" \
                 "'module load gcc cmake gmp' where modules are used)" >&2
            exit 1
        }
    fi
}
