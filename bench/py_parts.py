#!/usr/bin/python3
"""py_parts.py - where taskfarm.Parallel's time goes, in figures that a
shared machine does not blur (bench/README.md, issue 18).

usage: py_parts.py BUILD_DIR cost CASE      one case, to run under
           valgrind --tool=callgrind (instructions of the caller: the
           workers end with _exit and write no profile) or perf stat
       py_parts.py BUILD_DIR split SYSTEM   CPU ms of the caller and of
           its workers (getrusage), and the wall, for 100,000 trivial tasks
       py_parts.py BUILD_DIR gap SYSTEM     fib(5000..6999) on 2 workers:
           each worker's first and last task and busy time, and the gap
           between the workers' last task ends (the end-of-run imbalance)

CASE: base (imports only), gen (the caller's generator of 100,000
delayed(trivial)(i), consumed by a for loop), take (the same, read by
take_delayed), parallel (taskfarm.Parallel over it), tfpool
(taskfarm.Pool.map over range), pool (multiprocessing.Pool.map).
Instructions per task: (case - base) / 100,000.
SYSTEM: taskfarm, tfpool, pool.
"""
import os
import resource
import sys
import time

N = 100000


def trivial(i):
    return i


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def timed_fib(n):
    t = time.monotonic()
    fib(n)
    return os.getpid(), t, time.monotonic()


def runner(system, func, values):
    if system == "taskfarm":
        from taskfarm import Parallel, delayed
        return lambda: Parallel(n_jobs=2)(delayed(func)(v) for v in values)
    if system == "tfpool":
        from taskfarm import Pool
    elif system == "pool":
        from multiprocessing import Pool
    else:
        raise SystemExit("py_parts: no system %r" % system)

    def run():
        with Pool(2) as p:
            return p.map(func, values)
    return run


def cost(case):
    from taskfarm import _taskfarm, delayed
    if case == "gen":
        for _ in (delayed(trivial)(i) for i in range(N)):
            pass
    elif case == "take":
        _taskfarm.take_delayed(delayed(trivial)(i) for i in range(N))
    elif case != "base":
        system = {"parallel": "taskfarm"}.get(case, case)
        runner(system, trivial, range(N))()


def split(system):
    run = runner(system, trivial, range(N))
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    run()
    t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("%s wall %.1f caller %.1f workers %.1f ms" % (
        system, (t1 - t0) * 1e3,
        (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1e3,
        (c.ru_utime + c.ru_stime) * 1e3))


def gap(system):
    run = runner(system, timed_fib, range(5000, 7000))
    t0 = time.monotonic()
    r = run()
    total = time.monotonic() - t0
    by = {}
    for pid, a, b in r:
        d = by.setdefault(pid, [a, b, 0.0])
        d[0], d[1], d[2] = min(d[0], a), max(d[1], b), d[2] + b - a
    ends = [d[1] for d in by.values()]
    print("%s total %.3f s gap %.3f s | %s" % (
        system, total, max(ends) - min(ends), " ".join(
            "[first %.3f last %.3f busy %.3f]" % (d[0] - t0, d[1] - t0, d[2])
            for d in by.values())))


def main(argv):
    if len(argv) != 4 or argv[2] not in ("cost", "split", "gap"):
        raise SystemExit(__doc__)
    sys.path.insert(0, os.path.join(argv[1], "python"))
    {"cost": cost, "split": split, "gap": gap}[argv[2]](argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
