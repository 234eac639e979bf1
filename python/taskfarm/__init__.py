"""taskfarm - apply a function to many inputs on all the CPUs a job has.

    import taskfarm
    results = taskfarm.map(fib, range(5000, 10000))          # n_jobs=-1
    for r in taskfarm.imap(fib, huge_iterator, ordered=False): ...
    taskfarm.cpus()            # (8, 'SLURM_CPUS_PER_TASK')

and drop-ins for the two usual ways, with one import changed:

    from taskfarm import Parallel, delayed     # joblib
    from taskfarm import Pool                  # multiprocessing

Workers are forked processes (libtaskfarm's process backend), started once
per call (per Pool) and reused. A task that raises gives its exception with
the worker's traceback; a worker that dies (segfault, OOM killer, os._exit)
gives WorkerDied for that task and the others finish; a task over timeout=
gives TaskTimeout; journal="f.journal" lets a rerun skip what was done.
Ctrl-C raises KeyboardInterrupt and SIGTERM (Slurm's time limit) raises
Terminated, with the workers reaped.

Fork safety: the workers are forks of the caller; if the caller has other
threads at that moment, a RuntimeWarning says so (a lock held by another
thread stays held in the workers). Create pools before starting threads.
"""
from . import _taskfarm
from ._core import (Farm, JournalError, PicklingError, RemoteError,
                    TaskTimeout, Terminated, WorkerDied, run_iter, run_list,
                    _MODE_CALL, _MODE_STAR)
from ._joblib import Parallel, delayed, cpu_count
from ._pool import Pool

__version__ = _taskfarm.version()

__all__ = ["map", "imap", "starmap", "cpus", "Parallel", "delayed", "Pool",
           "WorkerDied", "TaskTimeout", "Terminated", "JournalError",
           "PicklingError", "RemoteError", "cpu_count"]


def cpus():
    """(count, source): the CPUs this process may use and the limit that
    decided it: 'SLURM_CPUS_PER_TASK', 'the cgroup CPU quota', 'the affinity
    mask', ... n_jobs=-1 means that count."""
    return _taskfarm.cpus()


def _farm(n_jobs, timeout, retries, journal):
    return Farm(n_jobs, timeout=timeout, retries=retries,
                grace=0.0 if journal else None)


def map(func, iterable, n_jobs=-1, *, ordered=True, timeout=None, retries=0,
        journal=None, key=None, progress=False, errors="raise",
        chunksize=None):
    """[func(x) for x in iterable], on n_jobs worker processes.

    n_jobs: workers; -1 all CPUs of the allocation (cpus()), -2 all but one.
    ordered: results in input order; False: in completion order.
    timeout: seconds per task (TaskTimeout); retries: extra attempts of a
    task that raised or whose worker died.
    journal: a file; a rerun of the same call (same function, same inputs,
    or the same key=) skips the tasks already finished and reads their
    results from it. "Same function": its name, code, defaults and the
    values its closure holds (two lambdas are two functions; a journal of
    another one is refused with JournalError); not the globals it reads:
    give key= when they decide the results. A task that raised is finished (its exception is
    journaled and raised again); one whose worker died or timed out is
    not, and runs again. Chunks are sized by the input count alone there,
    so a rerun with other n_jobs still matches.
    errors: "raise" raises the lowest-index failure once the others have
    finished; "collect" puts the exception in that task's place.
    """
    farm = _farm(n_jobs, timeout, retries, journal)
    try:
        return run_list(farm, func, _MODE_CALL, iterable, ordered=ordered,
                        journal=journal, key=key, progress=progress,
                        errors=errors, chunksize=chunksize)
    finally:
        farm.close()


def starmap(func, iterable, n_jobs=-1, **kw):
    """map() with func(*args) for args in iterable."""
    farm = _farm(n_jobs, kw.pop("timeout", None), kw.pop("retries", 0),
                 kw.get("journal"))
    try:
        return run_list(farm, func, _MODE_STAR, iterable, **kw)
    finally:
        farm.close()


def imap(func, iterable, n_jobs=-1, *, ordered=True, timeout=None, retries=0,
         journal=None, key=None, progress=False, errors="raise",
         chunksize=None):
    """Yields func(x) for x in iterable (in order, or as completed with
    ordered=False), pulling the inputs lazily: memory stays bounded
    whatever the length. With a journal over an iterator, give key=; the
    journal is then one file per segment, journal.0, journal.1, ..."""
    farm = _farm(n_jobs, timeout, retries, journal)
    try:
        yield from run_iter(farm, func, _MODE_CALL, iterable, ordered=ordered,
                            journal=journal, key=key, progress=progress,
                            errors=errors, chunksize=chunksize)
    finally:
        farm.close()
