#!/usr/bin/env python3
"""check_json.py FILE [RUNS] - the sweep JSON schema of the parallel
examples: {"cpus": {"count", "source"}, "values": [lo, hi], "algo",
"serial_seconds", "runs": [{"backend", "n_jobs", "seconds", "speedup",
"efficiency", "verified"}]}. Exits 1 with the reason when it does not hold.
"""
import json
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


def main(path, want_runs=None):
    with open(path) as f:
        doc = json.load(f)
    cpus = typed(doc, "cpus", dict)
    if typed(cpus, "count", int) < 1:
        fail("cpus.count < 1")
    typed(cpus, "source", str)
    values = typed(doc, "values", list)
    if len(values) != 2 or not all(isinstance(v, int) for v in values) \
            or values[0] >= values[1]:
        fail("values is %r" % values)
    if typed(doc, "algo", str) not in ("loop", "doubling", "gmp"):
        fail("algo")
    if typed(doc, "serial_seconds", float) <= 0:
        fail("serial_seconds <= 0")
    runs = typed(doc, "runs", list)
    for r in runs:
        typed(r, "backend", str)
        if typed(r, "n_jobs", int) < 1:
            fail("n_jobs < 1")
        for k in ("seconds", "speedup", "efficiency"):
            if typed(r, k, float) <= 0:
                fail("%s <= 0" % k)
        if typed(r, "verified", bool) is not True:
            fail("a run is not verified")
    if want_runs is not None and len(runs) != int(want_runs):
        fail("%d runs, expected %s" % (len(runs), want_runs))


if __name__ == "__main__":
    main(*sys.argv[1:])
