"""fibonacci_multiproc.py - the tutorial's process-pool program, with one
import changed:

    from multiprocessing import Pool   ->   from taskfarm import Pool

Times the serial map, then `with Pool(n_jobs) as p: p.map(fib, my_values)`
for each n_jobs. What changes: a worker that crashes raises
taskfarm.WorkerDied for its value instead of hanging the pool for ever.
"""
import sys
import time

from taskfarm import Pool
from fibonacci import fib
from sweep import parse, serial, verified

if __name__ == "__main__":
    my_values, jobs = parse(sys.argv, "fibonacci_multiproc.py")
    reference = serial(my_values)
    ok = True
    for n_jobs in jobs:
        start = time.time()
        with Pool(n_jobs) as p:
            results = p.map(fib, my_values)
        print(f"Execution time with {n_jobs} processes: "
              f"{time.time() - start:.3f} seconds")
        ok = ok and results == reference
    sys.exit(verified(ok))
