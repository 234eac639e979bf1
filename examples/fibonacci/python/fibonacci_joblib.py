"""fibonacci_joblib.py - the tutorial's joblib program, with one import
changed:

    from joblib import Parallel, delayed   ->   from taskfarm import Parallel, delayed

Times the serial map, then `Parallel(n_jobs=n_jobs)(delayed(fib)(n) for n
in my_values)` for each n_jobs. What changes: n_jobs=-1 means the CPUs of
the Slurm allocation (not of the node), workers start in milliseconds, a
crash or a time-out is reported for its value and the rest delivered.
"""
import sys
import time

from taskfarm import Parallel, delayed
from fibonacci import fib
from sweep import parse, serial, verified

if __name__ == "__main__":
    my_values, jobs = parse(sys.argv, "fibonacci_joblib.py")
    reference = serial(my_values)
    ok = True
    for n_jobs in jobs:
        start = time.time()
        results = Parallel(n_jobs=n_jobs)(delayed(fib)(n) for n in my_values)
        print(f"Execution time with {n_jobs} processes: "
              f"{time.time() - start:.3f} seconds")
        ok = ok and results == reference
    sys.exit(verified(ok))
