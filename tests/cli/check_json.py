#!/usr/bin/env python3
"""check_json.py FILE [RUNS [REPEAT]] - the sweep JSON schema of the
parallel examples:

  {"cpus": {"count", "source"}, "values": [lo, hi], "algo", "repeat",
   "serial_seconds", "serial": {"seconds", "min", "max", "samples", "spread"},
   "runs": [{"backend", "n_jobs", "seconds", "min", "max", "samples",
             "speedup", "efficiency", "verified", "noise"}]}

"seconds" is the median of "samples" (one per round), "min" and "max"
their extremes, speedup the serial median over the row's, and "noise" is
true exactly when that speedup beats min(n_jobs, CPUs) by more than 5%.
Exits 1 with the reason when it does not hold.
"""
import json
import statistics
import sys


def fail(why):
    sys.exit("check_json: %s" % why)


def typed(obj, key, kind):
    if key not in obj:
        fail("missing %r" % key)
    value = obj[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        fail("%r is %r, not %s" % (key, value, kind.__name__))
    return value


def close(a, b):
    return abs(a - b) <= 1e-4 + 1e-4 * abs(b)  # the file rounds


def check_timing(obj, where, repeat):
    samples = typed(obj, "samples", list)
    if len(samples) != repeat:
        fail("%s: %d samples, repeat is %d" % (where, len(samples), repeat))
    if not all(isinstance(s, (int, float)) and s > 0 for s in samples):
        fail("%s: samples %r" % (where, samples))
    for key, want in (("seconds", statistics.median(samples)),
                      ("min", min(samples)), ("max", max(samples))):
        if not close(typed(obj, key, float), want):
            fail("%s: %s is %r, the samples say %r" % (where, key, obj[key],
                                                       want))
    return obj["seconds"]


def main(path, want_runs=None, want_repeat=None):
    with open(path) as f:
        doc = json.load(f)
    cpus = typed(doc, "cpus", dict)
    count = typed(cpus, "count", int)
    if count < 1:
        fail("cpus.count < 1")
    typed(cpus, "source", str)
    values = typed(doc, "values", list)
    if len(values) != 2 or not all(isinstance(v, int) for v in values) \
            or values[0] >= values[1]:
        fail("values is %r" % values)
    if typed(doc, "algo", str) not in ("loop", "doubling", "gmp"):
        fail("algo")
    repeat = typed(doc, "repeat", int)
    if want_repeat is not None and repeat != int(want_repeat):
        fail("repeat is %d, expected %s" % (repeat, want_repeat))
    serial = check_timing(typed(doc, "serial", dict), "serial", repeat)
    if not close(typed(doc, "serial_seconds", float), serial):
        fail("serial_seconds is not the serial median")
    runs = typed(doc, "runs", list)
    for r in runs:
        typed(r, "backend", str)
        n_jobs = typed(r, "n_jobs", int)
        if n_jobs < 1:
            fail("n_jobs < 1")
        where = "%s n_jobs=%d" % (r["backend"], n_jobs)
        seconds = check_timing(r, where, repeat)
        speedup = typed(r, "speedup", float)
        # Both times are rounded to the microsecond.
        slack = speedup * (1e-6 / seconds + 1e-6 / serial)
        if abs(speedup - serial / seconds) > 1e-4 + slack:
            fail("%s: speedup is not serial median / median" % where)
        if not close(typed(r, "efficiency", float), speedup / n_jobs):
            fail("%s: efficiency is not speedup / n_jobs" % where)
        if typed(r, "verified", bool) is not True:
            fail("a run is not verified")
        limit = min(n_jobs, count) * 1.05
        if abs(speedup - limit) > 1e-3 and \
                typed(r, "noise", bool) != (speedup > limit):
            fail("%s: noise is %r at speedup %.3f on %d CPUs"
                 % (where, r["noise"], speedup, count))
    if want_runs is not None and len(runs) != int(want_runs):
        fail("%d runs, expected %s" % (len(runs), want_runs))


if __name__ == "__main__":
    main(*sys.argv[1:])
