#!/usr/bin/env python3
"""compare.py - taskfarm side by side with Python multiprocessing, joblib
and hand-written OpenMP, on the tutorial's workload.

usage: compare.py BUILD_DIR [--quick] [--rounds N]
       compare.py BUILD_DIR --kernel [--rounds N]

Every (system, n_jobs) pair runs once per round, the rounds interleaved
(A B C ... A B C ...) so that drift on a shared machine hits all alike.
Before any time is reported, every run's results must be identical: the
CRC-32 of the decimal output, one value a line, as each system computed
it. Writes BUILD_DIR/bench/compare.json, compare.md and compare.png.

The Python side (py_fib.py) runs under Debian's /usr/bin/python3, which
has python3-joblib; the C side is BUILD_DIR/bin/bench_fib.

--kernel measures only the loop kernel against the limb-addition floor
(the two targets of bench/README.md): bench_fib kernel (the serial kernel,
interleaved with the floor in 5 ms chunks, CPU time), then rounds of the C
systems at n_jobs = CPUs with the floor measured in every round; writes
BUILD_DIR/bench/kernel.json.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"

# (name, side, system, parallel): parallel systems run for every n_jobs;
# MPI (side "mpi", under mpirun) on 2 ranks only, when it is built.
SYSTEMS = [
    ("python-serial", "py", "serial", False),
    ("python-pool", "py", "pool", True),
    ("joblib", "py", "joblib", True),
    ("c-serial", "c", "serial", False),
    ("openmp", "c", "openmp", True),
    ("taskfarm-threads", "c", "threads", True),
    ("taskfarm-procs", "c", "procs", True),
    ("taskfarm-mpi", "mpi", "mpi", False),
]
MPI_RANKS = 2
TASKFARM = ("taskfarm-threads", "taskfarm-procs")


class Setup:
    def __init__(self, build, quick, rounds):
        self.build = build
        self.quick = quick
        self.rounds = rounds if rounds else (2 if quick else 5)
        self.jobs = [1, 2, 32] if quick else [1, 2, 4, 8, 16, 32]
        self.values = (5000, 6000) if quick else (5000, 10000)
        self.trivial_n = 10000 if quick else 100000
        self.rss_n = 100000 if quick else 1000000
        self.bench_fib = os.path.join(build, "bin", "bench_fib")
        self.out = os.path.join(build, "bench")


def call(setup, side, args):
    if side == "py":
        cmd = [PYTHON, os.path.join(HERE, "py_fib.py")] + args
    elif side == "mpi":
        cmd = ["mpirun", "--allow-run-as-root", "-n", str(MPI_RANKS),
               setup.bench_fib] + args
    else:
        cmd = [setup.bench_fib] + args
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        sys.exit("compare: %s failed: %s" % (" ".join(cmd),
                                            done.stderr.strip()))
    return json.loads(done.stdout)


def check_tools(setup):
    if not os.access(setup.bench_fib, os.X_OK):
        sys.exit("compare: %s is missing: run make" % setup.bench_fib)
    probe = subprocess.run([PYTHON, "-c", "import joblib"],
                           capture_output=True)
    if probe.returncode != 0:
        sys.exit("compare: %s has no joblib: run make deps "
                 "(python3-joblib)" % PYTHON)


def have_mpi():
    return subprocess.run(["sh", "-c", "command -v mpirun"],
                          capture_output=True).returncode == 0


def pairs(setup):
    for name, side, system, parallel in SYSTEMS:
        if side == "mpi":
            if have_mpi():
                yield name, side, system, MPI_RANKS
            continue
        for n in (setup.jobs if parallel else [1]):
            yield name, side, system, n


def workload_rounds(setup, which=None):
    """Interleaved rounds, the floor measured in each; returns
    {(name, n_jobs): [seconds]}, crcs, [floor ns_per_limb per round] and
    {(name, n_jobs): [cpu_seconds]} (the C side's)."""
    times, crcs, floors, cpu = {}, set(), [], {}
    lo, hi = setup.values
    for r in range(setup.rounds):
        t0 = time.time()
        for name, side, system, n in (which or pairs(setup)):
            res = call(setup, side, ["run", system, str(n), str(lo), str(hi)])
            times.setdefault((name, n), []).append(res["seconds"])
            cpu.setdefault((name, n), []).append(res.get("cpu_seconds"))
            crcs.add(res["crc32"])
        floors.append(call(setup, "c", ["floor", str(lo),
                                        str(hi)])["ns_per_limb"])
        print("round %d/%d: %.0f s" % (r + 1, setup.rounds, time.time() - t0),
              file=sys.stderr)
    return times, crcs, floors, cpu


def floor_of(setup, floors, cpus):
    """The floor from the per-round measurements' median."""
    lo, hi = setup.values
    f = call(setup, "c", ["floor", str(lo), str(hi)])
    f["ns_per_limb_rounds"] = floors
    f["ns_per_limb"] = statistics.median(floors)
    f["floor_seconds_one_cpu"] = f["limb_adds"] * f["ns_per_limb"] * 1e-9
    f["floor_seconds_all_cpus"] = f["floor_seconds_one_cpu"] / cpus
    return f


def kernel_ratio(setup):
    """The serial kernel's speed as a fraction of the floor's."""
    lo, hi = setup.values
    return call(setup, "c", ["kernel", str(lo), str(hi),
                             str(3 if setup.quick else 11)])


def side_measures(setup):
    """Per-task overhead, start-up and peak memory, median of a few runs."""
    reps = 2 if setup.quick else 3
    c_sys = [("python-pool", "py", "pool"), ("joblib", "py", "joblib"),
             ("openmp", "c", "openmp"), ("taskfarm-threads", "c", "threads"),
             ("taskfarm-procs", "c", "procs")]
    overhead, startup, rss = {}, {}, {}
    for name, side, system in c_sys:
        overhead[name] = statistics.median(
            call(setup, side, ["trivial", system, "2", str(setup.trivial_n)])
            ["per_task_s"] for _ in range(reps))
        startup[name] = statistics.median(
            call(setup, side, ["startup", system, "2"])["seconds"]
            for _ in range(reps))
    for name, side, system in [("python-pool", "py", "pool"),
                               ("taskfarm-threads", "c", "threads"),
                               ("taskfarm-procs", "c", "procs")]:
        rss[name] = call(setup, side, ["rss", system, "2", str(setup.rss_n),
                                       "100"])["over_baseline_bytes"]
    return overhead, startup, rss


def summarize(times):
    rows = []
    for (name, n), samples in times.items():
        rows.append({"system": name, "n_jobs": n,
                     "median_s": statistics.median(samples),
                     "min_s": min(samples), "max_s": max(samples),
                     "runs": len(samples)})
    return rows


def best(rows, names):
    return min(r["median_s"] for r in rows if r["system"] in names)


def best_row(rows, names):
    return min((r for r in rows if r["system"] in names),
               key=lambda r: r["median_s"])


def at(rows, name, n):
    found = [r["median_s"] for r in rows
             if r["system"] == name and r["n_jobs"] == n]
    return found[0] if found else None


def ratios_of(rows, cpus):
    tf_best = best_row(rows, TASKFARM)
    at32 = [r["median_s"] for r in rows
            if r["system"] == tf_best["system"] and r["n_jobs"] == 32]
    mpi, procs2 = at(rows, "taskfarm-mpi", 2), at(rows, "taskfarm-procs", 2)
    return {
        "mpi_2_ranks_over_procs_2": mpi / procs2 if mpi and procs2 else None,
        "pool_best_over_taskfarm_best": best(rows, ["python-pool"])
        / tf_best["median_s"],
        "joblib_best_over_taskfarm_best": best(rows, ["joblib"])
        / tf_best["median_s"],
        "taskfarm_best_over_openmp_best": tf_best["median_s"]
        / best(rows, ["openmp"]),
        "taskfarm_oversubscribed_over_best": (at32[0] / tf_best["median_s"])
        if at32 else None,
    }


def kernel_targets(kernel, floor_pct):
    """The loop kernel against the floor: serial, and the best parallel."""
    return [{"name": "serial kernel / floor (bench_fib kernel, median)",
             "value": kernel["ratio_median"], "op": ">=", "limit": 0.95,
             "met": kernel["ratio_median"] >= 0.95},
            {"name": "taskfarm best as % of the limb-addition floor",
             "value": floor_pct, "op": ">=", "limit": 90,
             "met": floor_pct >= 90}]


def targets_of(ratios, overhead, rss, floor_pct, kernel):
    t = [("Python Pool best / taskfarm best", ratios[
             "pool_best_over_taskfarm_best"], ">=", 5),
         ("joblib best / taskfarm best",
          ratios["joblib_best_over_taskfarm_best"], ">=", 6),
         ("taskfarm best / OpenMP best",
          ratios["taskfarm_best_over_openmp_best"], "<=", 1.10),
         ("taskfarm n_jobs=32 / taskfarm best",
          ratios["taskfarm_oversubscribed_over_best"], "<=", 1.10),
         ("taskfarm MPI 2 ranks / procs n_jobs=2",
          ratios["mpi_2_ranks_over_procs_2"], "<=", 1.15),
         ("taskfarm threads trivial overhead, ns/task",
          overhead["taskfarm-threads"] * 1e9, "<=", 100),
         ("taskfarm procs trivial overhead, ns/task",
          overhead["taskfarm-procs"] * 1e9, "<=", 1000),
         ("taskfarm peak RSS above baseline, MiB (streaming)",
          max(rss["taskfarm-threads"], rss["taskfarm-procs"]) / 2**20, "<=",
          64)]
    out = []
    for name, value, op, limit in t:
        met = value is not None and (value >= limit if op == ">="
                                     else value <= limit)
        out.append({"name": name, "value": value, "op": op, "limit": limit,
                    "met": met})
    return out + kernel_targets(kernel, floor_pct)


def machine(cpus):
    uname = platform.uname()
    return {"cpus": cpus["count"], "cpus_source": cpus["source"],
            "system": "%s %s %s" % (uname.system, uname.release,
                                    uname.machine),
            "python": subprocess.run([PYTHON, "--version"],
                                     capture_output=True,
                                     text=True).stdout.strip(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def detect_cpus(setup):
    out = subprocess.run([os.path.join(setup.build, "bin", "fibonacci_farm"),
                          "--values", "0:2", "--jobs", "1"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("CPUs: "):
            count, source = line[6:].split(", from ", 1)
            return {"count": int(count), "source": source}
    return {"count": os.cpu_count(), "source": "os.cpu_count()"}


def write_markdown(path, doc):
    rows, jobs = doc["results"], doc["n_jobs"]
    names = [s[0] for s in SYSTEMS]
    lines = ["# taskfarm against Python and OpenMP",
             "",
             "%s, %d CPUs (from %s), %s; %s; %d interleaved rounds, medians "
             "in seconds. Workload: fib(n), loop algorithm, n = %d..%d. All "
             "results identical (CRC-32 %s)." % (
                 doc["machine"]["date"], doc["machine"]["cpus"],
                 doc["machine"]["cpus_source"], doc["machine"]["system"],
                 doc["machine"]["python"], doc["rounds"], doc["values"][0],
                 doc["values"][1] - 1, doc["crc32"]),
             "",
             "| system | " + " | ".join("n_jobs=%d" % n for n in jobs) + " |",
             "|---|" + "---|" * len(jobs)]
    for name in names:
        cells = []
        for n in jobs:
            r = [x for x in rows if x["system"] == name and x["n_jobs"] == n]
            cells.append("%.3f" % r[0]["median_s"] if r else "")
        if any(cells):
            lines.append("| %s | %s |" % (name, " | ".join(cells)))
    lines += ["", "| target | value | limit | |", "|---|---|---|---|"]
    for t in doc["targets"]:
        value = "n/a" if t["value"] is None else "%.3f" % t["value"]
        limit = "" if t["limit"] is None else "%s %g" % (t["op"], t["limit"])
        mark = "" if t["met"] is None else ("met" if t["met"] else "MISSED")
        lines.append("| %s | %s | %s | %s |" % (t["name"], value, limit,
                                                mark))
    lines += ["", "| 2 workers | per-task overhead (trivial tasks) | "
                  "start-up |", "|---|---|---|"]
    for name, v in doc["overhead_per_task_s"].items():
        lines.append("| %s | %.0f ns | %.2f ms |" % (
            name, v * 1e9, doc["startup_s"][name] * 1e3))
    lines += ["", "| %d tasks, 100-byte results | peak RSS above baseline |"
              % doc["rss_tasks"], "|---|---|"]
    for name, v in doc["peak_rss_over_baseline_bytes"].items():
        lines.append("| %s | %.1f MiB |" % (name, v / 2**20))
    if doc["mpi_batch_round_trip_s"]:
        lines += ["", "MPI: one batch's messages between two ranks round-trip "
                  "in %.2f us (shared memory)." % (
                      doc["mpi_batch_round_trip_s"] * 1e6)]
    f = doc["floor"]
    lines += ["", "Floor: %.3g limb additions at %.3f ns each (mpn_add_n, "
              "median of the rounds) = %.3f s on one CPU, %.3f s on %d." % (
                  f["limb_adds"], f["ns_per_limb"],
                  f["floor_seconds_one_cpu"], f["floor_seconds_all_cpus"],
                  doc["machine"]["cpus"]),
              "The serial kernel (bench_fib kernel, CPU time, interleaved "
              "with the floor): %.3f of the floor's speed, median of %d "
              "passes." % (doc["kernel"]["ratio_median"],
                           doc["kernel"]["passes"])]
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


def write_plot(setup, doc):
    dat = os.path.join(setup.out, "compare.dat")
    names = []
    with open(dat, "w") as f:
        for name, _, _, parallel in SYSTEMS:
            rs = sorted((r for r in doc["results"] if r["system"] == name),
                        key=lambda r: r["n_jobs"])
            if not rs:
                continue
            if name == "taskfarm-mpi":  # one point, at its world size
                pass
            elif not parallel:  # one time: drawn flat across the sweep
                rs = [dict(rs[0], n_jobs=n) for n in setup.jobs]
            f.write("# %s\n" % name)
            for r in rs:
                f.write("%d %.6f\n" % (r["n_jobs"], r["median_s"]))
            f.write("\n\n")
            names.append(name)
    png = os.path.join(setup.out, "compare.png")
    script = os.path.join(HERE, "compare.gp")
    subprocess.run(["gnuplot", "-e",
                    "dat='%s'; png='%s'; cpus=%d; nb=%d; names='%s'" % (
                        dat, png, doc["machine"]["cpus"], len(names),
                        " ".join(names)), script], check=False)


def kernel_only(setup, cpus):
    """--kernel: the two floor targets alone, in a minute or two."""
    n = cpus["count"]
    which = [("c-serial", "c", "serial", 1)] + [
        (name, "c", system, n) for name, system in
        (("openmp", "openmp"), ("taskfarm-threads", "threads"),
         ("taskfarm-procs", "procs"))]
    kernel = kernel_ratio(setup)
    times, crcs, floors, cpu = workload_rounds(setup, which)
    if len(crcs) != 1:
        sys.exit("compare: the systems disagree on the results")
    floor = floor_of(setup, floors, n)
    rows = summarize(times)
    for r in rows:
        r["cpu_median_s"] = statistics.median(cpu[(r["system"],
                                                    r["n_jobs"])])
    floor_pct = 100 * floor["floor_seconds_all_cpus"] / best(rows, TASKFARM)
    doc = {"machine": machine(cpus), "values": list(setup.values),
           "rounds": setup.rounds, "results": rows, "floor": floor,
           "kernel": kernel, "taskfarm_best_percent_of_floor": floor_pct,
           "targets": kernel_targets(kernel, floor_pct)}
    with open(os.path.join(setup.out, "kernel.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("%s, %d CPUs, %d rounds, medians:" % (doc["machine"]["date"], n,
                                               setup.rounds))
    for r in rows:
        pct = 100 * floor["floor_seconds_one_cpu"] / min(r["n_jobs"], n) \
            / r["median_s"]
        print("  %-17s n_jobs=%-3d %.3f s (%.3f-%.3f): %.1f%% of the floor; "
              "CPU time %.3f s"
              % (r["system"], r["n_jobs"], r["median_s"], r["min_s"],
                 r["max_s"], pct, r["cpu_median_s"]))
    print("  floor: %.4f ns/limb (median of %d rounds, %.4f-%.4f) = %.3f s "
          "on one CPU" % (floor["ns_per_limb"], len(floors), min(floors),
                          max(floors), floor["floor_seconds_one_cpu"]))
    print("  bench_fib kernel: %.3f of the floor (median of %d passes, "
          "%.3f-%.3f; best chunks %.3f); the loop on mpn_add_n beside it: "
          "%.3f (%.3f-%.3f; best chunks %.3f)" % (
              kernel["ratio_median"], kernel["passes"], kernel["ratio_min"],
              kernel["ratio_max"], kernel["ratio_best_chunks"],
              kernel["mpn_loop_ratio_median"], kernel["mpn_loop_ratio_min"],
              kernel["mpn_loop_ratio_max"],
              kernel["mpn_loop_ratio_best_chunks"]))
    for t in doc["targets"]:
        print("  %s: %.3f (%s %g): %s" % (t["name"], t["value"], t["op"],
                                         t["limit"],
                                         "met" if t["met"] else "MISSED"))
    print("wrote %s/kernel.json" % setup.out)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    quick = "--quick" in argv
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv \
        else 0
    setup = Setup(argv[1], quick, rounds)
    check_tools(setup)
    os.makedirs(setup.out, exist_ok=True)
    cpus = detect_cpus(setup)
    if "--kernel" in argv:
        return kernel_only(setup, cpus)
    kernel = kernel_ratio(setup)
    times, crcs, floors, _ = workload_rounds(setup)
    if len(crcs) != 1:
        sys.exit("compare: the systems disagree on the results (CRC-32 %s); "
                 "no times reported" % ", ".join(sorted(crcs)))
    overhead, startup, rss = side_measures(setup)
    floor = floor_of(setup, floors, cpus["count"])
    exchange = call(setup, "mpi", ["exchange", "mpi", str(MPI_RANKS),
                                   "200000"]) if have_mpi() else None
    rows = summarize(times)
    ratios = ratios_of(rows, cpus)
    floor_pct = 100 * floor["floor_seconds_all_cpus"] / best(rows, TASKFARM)
    doc = {"machine": machine(cpus), "values": list(setup.values),
           "algo": "loop", "rounds": setup.rounds, "n_jobs": setup.jobs,
           "crc32": crcs.pop(), "results": rows, "ratios": ratios,
           "overhead_per_task_s": overhead, "startup_s": startup,
           "rss_tasks": setup.rss_n, "peak_rss_over_baseline_bytes": rss,
           "floor": floor, "kernel": kernel,
           "taskfarm_best_percent_of_floor": floor_pct,
           "mpi_batch_round_trip_s": exchange["round_trip_s"]
           if exchange else None,
           "targets": targets_of(ratios, overhead, rss, floor_pct, kernel)}
    with open(os.path.join(setup.out, "compare.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    write_markdown(os.path.join(setup.out, "compare.md"), doc)
    write_plot(setup, doc)
    with open(os.path.join(setup.out, "compare.md")) as f:
        print(f.read())
    print("wrote %s/compare.json, compare.md, compare.png" % setup.out)


if __name__ == "__main__":
    main(sys.argv)
