"""sweep.py - what the two parallel programs share: their command line
(the tutorial's workload by default) and the serial reference.

    python3 fibonacci_joblib.py [FIRST:LAST] [N_JOBS,N_JOBS,...]

FIRST:LAST defaults to 5000:9999 and N_JOBS to 1,2,4,8,16,32.
"""
import sys
import time

import taskfarm
from fibonacci import fib


def parse(argv, prog):
    try:
        first, last = map(int, (argv[1] if len(argv) > 1
                                else "5000:9999").split(":"))
        jobs = [int(j) for j in (argv[2] if len(argv) > 2
                                 else "1,2,4,8,16,32").split(",")]
        if first < 0 or last < first or min(jobs) < 1 or len(argv) > 3:
            raise ValueError
    except ValueError:
        sys.exit("%s: usage: %s [FIRST:LAST] [N_JOBS,...] (e.g. 5000:9999 "
                 "1,2,4,8)" % (prog, prog))
    n, source = taskfarm.cpus()
    print(f"CPUs: {n}, from {source}")
    return range(first, last + 1), jobs


def serial(my_values):
    start = time.time()
    results = list(map(fib, my_values))
    print(f"Serial execution time: {time.time() - start:.3f} seconds")
    return results


def verified(ok):
    print("All results verified" if ok else "Results DIFFER from the serial map")
    return 0 if ok else 1
