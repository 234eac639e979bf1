#!/usr/bin/env python3
"""scaling.py - merge the demo's runs into one JSON, the plot's data, and
the lines the demo prints (how noisy the run was, and the lesson).

usage: scaling.py DEMO_DIR
Reads farm.json (every backend, OpenMP included, timed in the same
interleaved rounds), doubling.json and gmp.json there; writes scaling.json
and scaling.dat (per backend: n_jobs, median speedup, the speedups of the
slowest and fastest run, and 1 on a row marked noise), and prints them.
"""
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def noise_line(farm, runs):
    s = farm["serial"]
    noisy = [r for r in runs if r["noise"]]
    line = ("the serial baseline's %d runs spread over %.1f%% of its median "
            "(%.3f-%.3f s); %d of %d rows marked noise"
            % (len(s["samples"]), 100 * (s["max"] - s["min"]) / s["seconds"],
               s["min"], s["max"], len(noisy), len(runs)))
    if noisy:
        line += (" (%s): the machine was busy, rerun make demo"
                 % ", ".join("%s %d" % (r["backend"], r["n_jobs"])
                             for r in noisy))
    return line + "."


def write_dat(path, runs, serial):
    backends = sorted({r["backend"] for r in runs},
                      key=[r["backend"] for r in runs].index)
    with open(path, "w") as f:
        for b in backends:
            f.write("# %s: n_jobs speedup slowest fastest noise\n" % b)
            for r in runs:
                if r["backend"] == b:
                    f.write("%d %.6f %.6f %.6f %d\n" % (
                        r["n_jobs"], r["speedup"], serial / r["max"],
                        serial / r["min"], 1 if r["noise"] else 0))
            f.write("\n\n")
    return backends


def main(out):
    farm = load(os.path.join(out, "farm.json"))
    runs = farm["runs"]
    doubling = load(os.path.join(out, "doubling.json"))["serial_seconds"]
    gmp = load(os.path.join(out, "gmp.json"))["serial_seconds"]
    results = [r for r in runs if not r["noise"]]
    best = min(results or runs, key=lambda r: r["seconds"])
    merged = dict(farm, program="make demo",
                  lesson={"best_parallel_loop": best,
                          "serial_doubling_seconds": doubling,
                          "serial_gmp_seconds": gmp})
    with open(os.path.join(out, "scaling.json"), "w") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")
    backends = write_dat(os.path.join(out, "scaling.dat"), runs,
                         farm["serial_seconds"])
    print("backends=%s" % ",".join(backends))
    print("cpus=%d" % farm["cpus"]["count"])
    print("NOISE: %s" % noise_line(farm, runs))
    print("LESSON: the best parallel time of the tutorial's loop algorithm, "
          "%.3f s (%s, %d workers; median of %d), is %.0fx the serial "
          "doubling algorithm (%.4f s on one core); GMP's mpz_fib_ui takes "
          "%.4f s. A better algorithm beats more cores."
          % (best["seconds"], best["backend"], best["n_jobs"],
             len(best["samples"]), best["seconds"] / doubling, doubling, gmp))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scaling.py DEMO_DIR")
    main(sys.argv[1])
