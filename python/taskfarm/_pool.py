"""taskfarm._pool - multiprocessing.Pool's everyday methods on taskfarm.

    from taskfarm import Pool
    with Pool(n_jobs) as p:
        results = p.map(fib, my_values)

One set of forked workers serves every call of the pool, with any
function and data: they travel pickled with the tasks. Unlike
multiprocessing's, a worker that dies raises WorkerDied for its task (the
others finish) instead of hanging the call, and processes=None means the
CPUs of the allocation (cpus()), not those of the machine.
"""
from ._core import Farm, run_iter, run_list, _MODE_CALL, _MODE_STAR


class AsyncResult:
    """What map_async and apply_async return: here the work is done when
    it is asked for (the caller blocks then), and get() gives it."""

    def __init__(self, thunk, callback=None, error_callback=None):
        try:
            self._value, self._ok = thunk(), True
            if callback is not None:
                callback(self._value)
        except Exception as e:
            self._value, self._ok = e, False
            if error_callback is not None:
                error_callback(e)

    def ready(self):
        return True

    def successful(self):
        return self._ok

    def wait(self, timeout=None):
        return None

    def get(self, timeout=None):
        if self._ok:
            return self._value
        raise self._value


class Pool:
    def __init__(self, processes=None, initializer=None, initargs=(),
                 maxtasksperchild=None, context=None, *, timeout=None,
                 retries=0):
        if processes is not None and processes < 1:
            raise ValueError("Number of processes must be at least 1")
        self._farm = Farm(-1 if processes is None else processes,
                          timeout=timeout, retries=retries,
                          initializer=initializer, initargs=initargs)
        self._closed = False

    @property
    def _processes(self):
        return self._farm.workers

    def _check(self):
        if self._closed:
            raise ValueError("Pool not running")

    def map(self, func, iterable, chunksize=None):
        self._check()
        return run_list(self._farm, func, _MODE_CALL, iterable,
                        chunksize=chunksize)

    def starmap(self, func, iterable, chunksize=None):
        self._check()
        return run_list(self._farm, func, _MODE_STAR, iterable,
                        chunksize=chunksize)

    def imap(self, func, iterable, chunksize=None):
        self._check()
        return run_iter(self._farm, func, _MODE_CALL, iterable,
                        chunksize=chunksize)

    def imap_unordered(self, func, iterable, chunksize=None):
        self._check()
        return run_iter(self._farm, func, _MODE_CALL, iterable, ordered=False,
                        chunksize=chunksize)

    def apply(self, func, args=(), kwds={}):
        self._check()
        return run_list(self._farm, None, 2, [(func, tuple(args),
                                              dict(kwds))])[0]

    def map_async(self, func, iterable, chunksize=None, callback=None,
                  error_callback=None):
        return AsyncResult(lambda: self.map(func, iterable, chunksize),
                           callback, error_callback)

    def starmap_async(self, func, iterable, chunksize=None, callback=None,
                      error_callback=None):
        return AsyncResult(lambda: self.starmap(func, iterable, chunksize),
                           callback, error_callback)

    def apply_async(self, func, args=(), kwds={}, callback=None,
                    error_callback=None):
        return AsyncResult(lambda: self.apply(func, args, kwds), callback,
                           error_callback)

    def close(self):
        self._closed = True

    def terminate(self):
        self._closed = True
        self._farm.close()

    def join(self):
        if not self._closed:
            raise ValueError("Pool is still running")
        self._farm.close()

    def __enter__(self):
        self._check()
        return self

    def __exit__(self, *exc):
        self.terminate()
        return False

    def __del__(self):
        try:
            self._farm.close()
        except Exception:
            pass
