#!/usr/bin/python3
"""py_fib.py - the Python side of bench/compare.py: the tutorial's own
programs, measured the way the tutorial measures them, one run per call,
one JSON object on stdout.

    py_fib.py run SYSTEM N_JOBS LO HI    SYSTEM: serial, pool, joblib
    py_fib.py trivial SYSTEM N_JOBS N
    py_fib.py startup SYSTEM N_JOBS
    py_fib.py rss SYSTEM N_JOBS N BYTES

fib() is the tutorial's algorithm exactly. The pool is
multiprocessing.Pool(n).map, as in fibonacci_multiproc.py; joblib is
Parallel(n_jobs=n)(delayed(fib)(v) for v in values) with its default
backend, as in fibonacci_joblib.py. Run it with Debian's /usr/bin/python3,
which has python3-joblib.
"""
import json
import sys
import time
import zlib
from multiprocessing import Pool

from joblib import Parallel, delayed


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def trivial(i):
    return i


def hundred_bytes(i):
    return bytes([i & 0xff]) * 100


def map_with(system, n_jobs, func, values):
    if system == "serial":
        return list(map(func, values))
    if system == "pool":
        with Pool(n_jobs) as p:
            return p.map(func, values)
    if system == "joblib":
        return Parallel(n_jobs=n_jobs)(delayed(func)(v) for v in values)
    sys.exit("py_fib: SYSTEM is serial, pool or joblib")


def cmd_run(system, n_jobs, lo, hi):
    values = range(lo, hi)
    t0 = time.perf_counter()
    results = map_with(system, n_jobs, fib, values)
    seconds = time.perf_counter() - t0
    crc = 0
    for v in results:
        crc = zlib.crc32(str(v).encode() + b"\n", crc)
    return {"seconds": seconds, "crc32": "%08x" % crc, "count": len(results)}


def cmd_trivial(system, n_jobs, n):
    t0 = time.perf_counter()
    results = map_with(system, n_jobs, trivial, range(n))
    seconds = time.perf_counter() - t0
    if results != list(range(n)):
        sys.exit("py_fib: trivial results differ")
    return {"per_task_s": seconds / n}


def cmd_startup(system, n_jobs):
    t0 = time.perf_counter()
    map_with(system, n_jobs, trivial, range(n_jobs))
    return {"seconds": time.perf_counter() - t0}


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def cmd_rss(system, n_jobs, n, size):
    # ru_maxrss survives execve (it would report the parent's peak); the
    # kernel's high-water mark can be reset instead.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status_kib("VmRSS")
    t0 = time.perf_counter()
    results = map_with(system, n_jobs, hundred_bytes, range(n))
    seconds = time.perf_counter() - t0
    peak = status_kib("VmHWM")
    if len(results) != n or size != 100:
        sys.exit("py_fib: rss measures n results of 100 bytes")
    return {"baseline_kib": base, "peak_kib": peak,
            "over_baseline_bytes": (peak - base) * 1024, "seconds": seconds}


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    cmd, system, n_jobs = argv[1], argv[2], int(argv[3])
    args = [int(a) for a in argv[4:]]
    commands = {"run": cmd_run, "trivial": cmd_trivial,
                "startup": cmd_startup, "rss": cmd_rss}
    if cmd not in commands:
        sys.exit(__doc__)
    print(json.dumps(commands[cmd](system, n_jobs, *args)))


if __name__ == "__main__":
    main(sys.argv)
