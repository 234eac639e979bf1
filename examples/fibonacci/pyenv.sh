# shellcheck shell=bash disable=SC2154,SC2034
# pyenv.sh - sourced by the Python job scripts once they have found the
# project root ($root): makes `import taskfarm` work and sets $python.
#
# An installed taskfarm (module load taskfarm) is on PYTHONPATH already;
# otherwise the module in the project's build tree is used, built first
# if it is missing. Python is Debian's /usr/bin/python3 (the one the
# module is built for), or PYTHON if set.
# shellcheck source=SCRIPTDIR/jobenv.sh
. "$root/examples/fibonacci/jobenv.sh"
python=${PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import taskfarm' 2>/dev/null; then
    pybuild=${TASKFARM_BUILD:-$root/build}/python
    if [ ! -f "$pybuild/taskfarm/__init__.py" ]; then
        echo "job: the taskfarm Python module is missing; building with: make -C $root" >&2
        make -C "$root" all >&2 || { echo "job: build failed" >&2; exit 1; }
    fi
    export PYTHONPATH="$pybuild${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONDONTWRITEBYTECODE=1
here=$root/examples/fibonacci/python
