"""taskfarm._joblib - joblib's Parallel and delayed, on taskfarm's workers.

    from taskfarm import Parallel, delayed
    results = Parallel(n_jobs=8)(delayed(fib)(n) for n in my_values)

runs unchanged. As in joblib: n_jobs=None is 1, -1 all CPUs (here those of
the Slurm allocation or cgroup, cpus()), -2 all but one; the first failure
is raised as soon as it is seen and the remaining tasks are cancelled;
return_as="list", "generator" or "generator_unordered"; batch_size="auto"
or a number of tasks per chunk; verbose > 0 draws a progress bar on stderr;
timeout= is per task (TaskTimeout). `with Parallel(...) as parallel:`
keeps one set of workers for several calls. backend=, prefer=, require=,
pre_dispatch= and the memmapping options are accepted and ignored: the
workers are always forked processes.
"""
from . import _taskfarm
from ._core import Farm, run_iter, run_list, _MODE_DELAYED


def cpu_count(only_physical_cores=False):
    """The CPUs this process may use (Slurm, cgroup, affinity), as
    joblib.cpu_count()."""
    return _taskfarm.cpus()[0]


# delayed(f)(*args, **kwargs) -> (f, args, kwargs), as joblib's; in C, since
# Parallel's callers make one such call per task, and one object (a Call:
# the triple for unpacking, indexing, ==, pickling; not a tuple) that makes
# the argument tuple and the dict only when they are asked for.
delayed = _taskfarm.delayed


class Parallel:
    def __init__(self, n_jobs=None, backend=None, return_as="list", verbose=0,
                 timeout=None, pre_dispatch="2 * n_jobs", batch_size="auto",
                 temp_folder=None, max_nbytes="1M", mmap_mode="r",
                 prefer=None, require=None, retries=0, journal=None,
                 key=None):
        if return_as not in ("list", "generator", "generator_unordered"):
            raise ValueError("return_as must be 'list', 'generator' or "
                             "'generator_unordered', not %r" % (return_as,))
        if batch_size != "auto" and (not isinstance(batch_size, int)
                                     or batch_size < 1):
            raise ValueError("batch_size must be 'auto' or a positive int")
        self.n_jobs = 1 if n_jobs is None else int(n_jobs)
        if self.n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        self.return_as, self.verbose, self.timeout = return_as, verbose, timeout
        self.batch_size = None if batch_size == "auto" else batch_size
        self.retries, self.journal, self.key = retries, journal, key
        self._farm = None

    def _make_farm(self):
        return Farm(self.n_jobs, timeout=self.timeout, retries=self.retries,
                    grace=0.0 if self.journal else None)

    def __enter__(self):
        self._farm = self._make_farm()
        return self

    def __exit__(self, *exc):
        self._farm.close()
        self._farm = None
        return False

    def __call__(self, iterable):
        own = self._farm is None
        farm = self._make_farm() if own else self._farm
        kw = dict(journal=self.journal, key=self.key,
                  progress=self.verbose > 0, chunksize=self.batch_size,
                  stop_first=True)
        if self.return_as == "list":
            try:
                return run_list(farm, None, _MODE_DELAYED, iterable, **kw)
            finally:
                if own:
                    farm.close()
        return self._generate(farm, own, iterable, kw)

    def _generate(self, farm, own, iterable, kw):
        try:
            yield from run_iter(farm, None, _MODE_DELAYED, iterable,
                                ordered=self.return_as == "generator", **kw)
        finally:
            if own:
                farm.close()

    def __repr__(self):
        return "Parallel(n_jobs=%d)" % self.n_jobs
