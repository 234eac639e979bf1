#!/usr/bin/python3
"""py_taskfarm.py - the taskfarm Python module against joblib and
multiprocessing.Pool, on the tutorial's workload, side by side in one run.

usage: py_taskfarm.py BUILD_DIR [--quick] [--rounds N] [--values LO:HI]
                       [--jobs 1,2,...]

Systems: taskfarm.Parallel(n_jobs)(delayed(fib)(n) ...), joblib's Parallel
the same way (its default backend), and `with Pool(n) as p: p.map(fib,
values)` from multiprocessing (fork). Each measurement is one fresh
interpreter (as the tutorial's programs are), timed inside it around the
one call, pool creation and shutdown included; the (system, n_jobs) pairs
run in interleaved rounds (A B C A B C ...), so that drift on a shared
machine hits all alike, and every run's results must be identical (CRC-32
of the decimal values) before any time is reported. Then per-task overhead
(100,000 trivial tasks, n_jobs=2) and the start of 2 workers (a map of 2
trivial tasks), medians of 5, interleaved too; there taskfarm.Pool.map
runs beside Parallel, since Parallel's figure includes the caller's
delayed() calls that Pool.map does not make.

Writes BUILD_DIR/bench/python.json and python.md, and prints the table
and the four targets of issue 18 (ratios from this one run).
"""
import json
import os
import statistics
import subprocess
import sys
import time
import zlib

PYTHON = "/usr/bin/python3"
SYSTEMS = ("taskfarm", "joblib", "pool")
SIDE_SYSTEMS = ("taskfarm", "taskfarm-pool", "joblib", "pool")


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def trivial(i):
    return i


def importer(system):
    """The system's map, its module imported now (outside the timing)."""
    if system == "taskfarm":
        from taskfarm import Parallel, delayed
    elif system == "taskfarm-pool":
        from taskfarm import Pool as TfPool

        def tf_map_with(n_jobs, func, values):
            with TfPool(n_jobs) as p:
                return p.map(func, values)
        return tf_map_with
    elif system == "joblib":
        from joblib import Parallel, delayed
    elif system == "pool":
        from multiprocessing import Pool

        def map_with(n_jobs, func, values):
            with Pool(n_jobs) as p:
                return p.map(func, values)
        return map_with
    else:
        raise SystemExit("py_taskfarm: no system %r" % system)

    def map_with(n_jobs, func, values):
        return Parallel(n_jobs=n_jobs)(delayed(func)(v) for v in values)
    return map_with


def child(argv):
    """One measurement, in this fresh interpreter: prints one JSON line."""
    what, system, n_jobs = argv[0], argv[1], int(argv[2])
    run = importer(system)
    if what == "run":
        values = range(int(argv[3]), int(argv[4]))
        t0 = time.perf_counter()
        results = run(n_jobs, fib, values)
        seconds = time.perf_counter() - t0
        crc = 0
        for v in results:
            crc = zlib.crc32(str(v).encode() + b"\n", crc)
        out = {"seconds": seconds, "crc32": "%08x" % crc}
    elif what == "trivial":
        n = int(argv[3])
        t0 = time.perf_counter()
        results = run(n_jobs, trivial, range(n))
        out = {"per_task_s": (time.perf_counter() - t0) / n}
        if results != list(range(n)):
            raise SystemExit("py_taskfarm: trivial results differ")
    else:
        t0 = time.perf_counter()
        run(n_jobs, trivial, range(n_jobs))
        out = {"seconds": time.perf_counter() - t0}
    print(json.dumps(out))


def call(build, args):
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"),
               PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([PYTHON, os.path.abspath(__file__), "--child"]
                          + [str(a) for a in args], capture_output=True,
                          text=True, timeout=900, env=env)
    if done.returncode != 0:
        raise SystemExit("py_taskfarm: %s failed: %s"
                         % (" ".join(map(str, args)), done.stderr.strip()))
    return json.loads(done.stdout)


def cpus(build):
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"))
    out = subprocess.run([PYTHON, "-c", "import taskfarm; "
                          "print(*taskfarm.cpus(), sep='|')"],
                         capture_output=True, text=True, env=env, check=True)
    n, source = out.stdout.strip().split("|")
    return int(n), source


def rounds_of(build, jobs, lo, hi, rounds):
    times, crcs = {}, set()
    for r in range(rounds):
        t0 = time.time()
        for n in jobs:
            for system in SYSTEMS:
                res = call(build, ["run", system, n, lo, hi])
                times.setdefault((system, n), []).append(res["seconds"])
                crcs.add(res["crc32"])
        print("round %d/%d: %.0f s" % (r + 1, rounds, time.time() - t0),
              file=sys.stderr)
    if len(crcs) != 1:
        raise SystemExit("py_taskfarm: results differ between runs: %s"
                         % sorted(crcs))
    return {k: statistics.median(v) for k, v in times.items()}, times


def side_measures(build, trivial_n, reps):
    per_task, start = {}, {}
    for _ in range(reps):
        for system in SIDE_SYSTEMS:
            per_task.setdefault(system, []).append(
                call(build, ["trivial", system, 2, trivial_n])["per_task_s"])
            start.setdefault(system, []).append(
                call(build, ["startup", system, 2])["seconds"])
    return ({s: statistics.median(v) for s, v in per_task.items()},
            {s: statistics.median(v) for s, v in start.items()})


def targets(med, jobs, n_cpus, per_task, start):
    def best(system):
        return min(med[(system, n)] for n in jobs)
    at_cpus = med.get(("taskfarm", n_cpus))
    out = [
        ("taskfarm at n_jobs=CPUs (%d) / Pool's best" % n_cpus,
         at_cpus / best("pool") if at_cpus else None, 1.0),
        ("taskfarm at n_jobs=32 / its own best",
         med[("taskfarm", 32)] / best("taskfarm") if 32 in jobs else None,
         1.10),
        ("per-task overhead: taskfarm.Parallel / Pool",
         per_task["taskfarm"] / per_task["pool"], 1.0),
        ("per-task overhead: taskfarm.Pool / Pool",
         per_task["taskfarm-pool"] / per_task["pool"], 1.0),
        ("start of 2 workers: taskfarm / Pool",
         start["taskfarm"] / start["pool"], 0.5),
    ]
    return [{"target": t, "ratio": r, "at_most": limit,
             "met": r is not None and r <= limit} for t, r, limit in out]


def table(med, jobs, per_task, start, tg, n_cpus, source, lo, hi, rounds):
    lines = ["fib(n) for n in %d..%d, %d interleaved rounds, medians; %d "
             "CPUs (from %s)" % (lo, hi - 1, rounds, n_cpus, source), "",
             "| n_jobs | taskfarm.Parallel | joblib.Parallel | "
             "multiprocessing.Pool |", "|---|---|---|---|"]
    for n in jobs:
        lines.append("| %d | %.3f s | %.3f s | %.3f s |" % (
            n, med[("taskfarm", n)], med[("joblib", n)], med[("pool", n)]))
    lines += ["", "| per call | taskfarm.Parallel | taskfarm.Pool | joblib | "
              "Pool |", "|---|---|---|---|---|",
              "| per-task overhead (trivial tasks, n_jobs=2) | %.2f us | "
              "%.2f us | %.2f us | %.2f us |"
              % tuple(per_task[s] * 1e6 for s in SIDE_SYSTEMS),
              "| start of 2 workers (map of 2 trivial tasks) | %.1f ms | "
              "%.1f ms | %.1f ms | %.1f ms |"
              % tuple(start[s] * 1e3 for s in SIDE_SYSTEMS),
              "", "| target | ratio | at most | met |", "|---|---|---|---|"]
    for t in tg:
        r = "n/a" if t["ratio"] is None else "%.2f" % t["ratio"]
        lines.append("| %s | %s | %.2f | %s |" % (
            t["target"], r, t["at_most"], "yes" if t["met"] else "NO"))
    return "\n".join(lines) + "\n"


def main(argv):
    if argv[1:2] == ["--child"]:
        return child(argv[2:])
    if len(argv) < 2 or argv[1].startswith("-"):
        raise SystemExit(__doc__)
    build = argv[1]
    quick = "--quick" in argv
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv \
        else (1 if quick else 3)
    jobs = [1, 2, 32] if quick else [1, 2, 4, 8, 16, 32]
    lo, hi = (5000, 6000) if quick else (5000, 10000)
    if "--jobs" in argv:
        jobs = [int(j) for j in argv[argv.index("--jobs") + 1].split(",")]
    if "--values" in argv:
        lo, hi = map(int, argv[argv.index("--values") + 1].split(":"))
        hi += 1
    n_cpus, source = cpus(build)
    if n_cpus not in jobs:
        jobs = sorted(set(jobs) | {n_cpus})
    med, samples = rounds_of(build, jobs, lo, hi, rounds)
    per_task, start = side_measures(build, 10000 if quick else 100000,
                                    2 if quick else 5)
    tg = targets(med, jobs, n_cpus, per_task, start)
    if 32 not in jobs:
        tg = [t for t in tg if "32" not in t["target"]]
    md = table(med, jobs, per_task, start, tg, n_cpus, source, lo, hi, rounds)
    out = os.path.join(build, "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "python.json"), "w") as f:
        json.dump({"cpus": n_cpus, "cpus_source": source, "values": [lo, hi],
                   "rounds": rounds, "loadavg": os.getloadavg(),
                   "runs": [{"system": s, "n_jobs": n, "seconds": v}
                            for (s, n), v in samples.items()],
                   "per_task_s": per_task, "start_s": start,
                   "targets": tg}, f, indent=1)
    with open(os.path.join(out, "python.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
