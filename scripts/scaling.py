#!/usr/bin/env python3
"""scaling.py - merge the demo's runs into one JSON, the plot's data, and
the lesson line.

usage: scaling.py DEMO_DIR
Reads farm.json, openmp.json (optional), doubling.json, gmp.json there;
writes scaling.json and scaling.dat, and prints the lesson.
"""
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def main(out):
    farm = load(os.path.join(out, "farm.json"))
    runs = list(farm["runs"])
    omp_path = os.path.join(out, "openmp.json")
    if os.path.exists(omp_path):
        runs += load(omp_path)["runs"]
    doubling = load(os.path.join(out, "doubling.json"))["serial_seconds"]
    gmp = load(os.path.join(out, "gmp.json"))["serial_seconds"]
    best = min(runs, key=lambda r: r["seconds"])
    merged = dict(farm, runs=runs, program="make demo",
                  lesson={"best_parallel_loop": best,
                          "serial_doubling_seconds": doubling,
                          "serial_gmp_seconds": gmp})
    with open(os.path.join(out, "scaling.json"), "w") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")
    backends = sorted({r["backend"] for r in runs},
                      key=[r["backend"] for r in runs].index)
    with open(os.path.join(out, "scaling.dat"), "w") as f:
        for b in backends:
            f.write("# %s\n" % b)
            for r in runs:
                if r["backend"] == b:
                    f.write("%d %.6f\n" % (r["n_jobs"], r["speedup"]))
            f.write("\n\n")
    print("backends=%s" % ",".join(backends))
    print("cpus=%d" % farm["cpus"]["count"])
    print("LESSON: the best parallel time of the tutorial's loop algorithm, "
          "%.3f s (%s, %d workers), is %.0fx the serial doubling algorithm "
          "(%.4f s on one core); GMP's mpz_fib_ui takes %.4f s. "
          "A better algorithm beats more cores."
          % (best["seconds"], best["backend"], best["n_jobs"],
             best["seconds"] / doubling, doubling, gmp))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scaling.py DEMO_DIR")
    main(sys.argv[1])
