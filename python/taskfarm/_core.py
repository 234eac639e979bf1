"""taskfarm._core - map and imap on libtaskfarm's process workers.

How a call travels. The items are cut into chunks; one chunk is one engine
task, whose input is pickle((function, mode, items, retries, mark))
(protocol 5)
and whose result is pickle((values, failures)), failures None unless an
item raised (then {position: the exception, its type, text and traceback}).
So any
function and data reach the same forked workers, call after call, and the
per-task cost of the C engine is paid per chunk. A worker notes which item
of its chunk it is on in the farm's marks, a small shared anonymous mmap
made before the fork (one store per item); when it dies the death is
blamed on that item (WorkerDied) and the chunk's other items are run
again, one per task: those before it had finished, but their results died
with the worker, so they may run twice; those after it had not started.
Where the mark is not there (the worker died after its items, or the mark
was lost), the whole chunk is run again one item per task, and a death
there is blamed on its item. With a timeout every item is a task of its
own (the engine times tasks, not items).

map() does one engine run over all the chunks. imap() does one run per
segment of chunks, pulled lazily from the iterable, and yields between
them: memory stays bounded by a segment whatever the length. A segment
has 16 chunks per worker, whose size adapts to the items' cost (about
20 ms of work each, at most 1024 items) unless chunksize= fixes it.
"""
import gc
import functools
import hashlib
import itertools
import mmap
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import types
import warnings

from . import _taskfarm as _c

Terminated = _c.Terminated
JournalError = _c.JournalError

PROTOCOL = 5
# tf_fail_kind
_FAIL_ERROR, _FAIL_SIGNAL, _FAIL_EXIT, _FAIL_TIMEOUT, _FAIL_LOST = 1, 2, 3, 4, 5
_MODE_CALL, _MODE_STAR, _MODE_DELAYED = 0, 1, 2
_MAX_CHUNK = 1024
# The marks: chunk c of a run writes slot c % _MARK_SLOTS, as the run's
# number (23 bits), the chunk's (24) and the item's (16, _MAX_CHUNK fits);
# a run's chunks in flight are a few per worker, so they do not share one.
_MARK_SLOTS = 1 << 14
_TARGET_CHUNK_SECONDS = 0.02


class WorkerDied(Exception):
    """The worker process running task `index` died: of `signal` (a
    segfault, the OOM killer, SIGKILL), or by exiting with `exitcode`
    (os._exit). The other tasks were delivered; those of its chunk
    (map's chunksize) that had finished before it were run again, as their
    results died with the worker, so they may have run twice."""

    def __init__(self, index, signal=None, exitcode=None):
        super().__init__(index, signal, exitcode)
        self.index, self.signal, self.exitcode = index, signal, exitcode

    def __str__(self):
        if self.signal:
            import signal as _s
            try:
                name = _s.Signals(self.signal).name
            except ValueError:
                name = "signal %d" % self.signal
            return "task %d: its worker process died of %s (%d)" % (
                self.index, name, self.signal)
        if self.exitcode is not None:
            return "task %d: its worker process exited with status %d" % (
                self.index, self.exitcode)
        return "task %d: its worker process was lost" % self.index


class TaskTimeout(Exception):
    """Task `index` ran past its time limit (`seconds`) and was killed."""

    def __init__(self, index, seconds):
        super().__init__(index, seconds)
        self.index, self.seconds = index, seconds

    def __str__(self):
        return "task %d: over its time limit of %g s" % (self.index,
                                                         self.seconds)


class RemoteError(Exception):
    """A task raised an exception that could not travel back as itself
    (it could not be pickled or unpickled): its type, text and traceback."""


class PicklingError(pickle.PicklingError):
    """An argument or a result of task `index` cannot be pickled."""

    def __init__(self, message, index):
        super().__init__(message)
        self.index = index


# --------------------------------------------------------------------------
# The worker side: runs in the forked processes.
# --------------------------------------------------------------------------

def _pack_exception(e):
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    try:
        blob = pickle.dumps(e, PROTOCOL)
    except Exception:
        blob = None
    return (blob, type(e).__qualname__, str(e), tb)


# Functions that cannot be pickled (lambdas, local functions) reach the
# workers by the fork itself: registered here before a farm's workers are
# forked, they are in every worker's copy of this dict, and a _ByFork
# token names them in the chunks.
_BY_FORK = {}


class _ByFork:
    __slots__ = ("token",)

    def __init__(self, token):
        self.token = token

    def __reduce__(self):
        return (_ByFork, (self.token,))


def _resolve(fn):
    return _BY_FORK[fn.token] if type(fn) is _ByFork else fn


def _delayed_call(x):
    f, args, kwargs = x
    return _resolve(f)(*args, **kwargs)


def _caller(fn, mode):
    """The one-argument callable that computes an item."""
    if mode == _MODE_CALL:
        return fn
    if mode == _MODE_STAR:
        return lambda x: fn(*x)
    return _delayed_call


def _compute(call, items, retries, marks, slot, mark):
    """(values, errors): values[j] for item j (None where it failed) and
    errors {j: packed exception}, or None when nothing failed. The loop
    is call_each's, in C, until an item raises: most chunks never do.
    Before item j, marks[slot] = mark + j: if the worker dies, the caller
    knows the item; mark + n once all are done."""
    items = items if type(items) is list else list(items)
    values, errors, n = [], None, len(items)
    while len(values) < n:
        try:
            _c.call_each(call, items, values, marks, slot, mark)
        except BaseException as e:
            j = len(values)
            for _ in range(retries):
                try:
                    values.append(call(items[j]))
                    break
                except BaseException as again:
                    e = again
            else:
                values.append(None)
                errors = errors or {}
                errors[j] = _pack_exception(e)
    marks[slot] = mark + n
    return values, errors


def _flush():
    """What the tasks printed, out now: a worker ends with _exit(), which
    would drop Python's buffers (block-buffered in a Slurm output file)."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def _work(marks, data):
    """The farm's worker: a chunk's input bytes in, its result bytes out."""
    if len(data) == 0:
        return b""  # a slot past the end of an iterator
    fn, mode, items, retries, (slot, mark) = pickle.loads(data)
    values, errors = _compute(_caller(_resolve(fn), mode), items, retries,
                              marks, slot, mark)
    _flush()
    try:
        return pickle.dumps((values, errors), PROTOCOL)
    except Exception:
        pass
    errors = errors or {}
    for j, v in enumerate(values):
        try:
            pickle.dumps(v, PROTOCOL)
        except Exception as e:
            values[j] = None
            errors[j] = ("unpicklable", type(e).__qualname__, str(e), "")
    return pickle.dumps((values, errors), PROTOCOL)


def _worker_init(initializer, initargs):
    if initializer is None:
        return None
    return lambda: initializer(*initargs)


# --------------------------------------------------------------------------
# The caller's side.
# --------------------------------------------------------------------------

def _exception_for(index, packed):
    blob, tname, text, tb = packed
    if blob == "unpicklable":
        return PicklingError("taskfarm: the result of task %d cannot be "
                             "pickled: %s: %s" % (index, tname, text), index)
    exc = None
    if blob is not None:
        try:
            exc = pickle.loads(blob)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RemoteError("%s: %s" % (tname, text))
    exc.task_index = index
    exc.remote_traceback = tb
    exc.add_note("\n[taskfarm] raised by task %d, in a worker process:\n%s"
                 % (index, tb.rstrip()))
    return exc


def _failure(index, kind, code, timeout, message):
    if kind == _FAIL_SIGNAL:
        return WorkerDied(index, signal=code)
    if kind == _FAIL_EXIT:
        return WorkerDied(index, exitcode=code)
    if kind == _FAIL_TIMEOUT:
        return TaskTimeout(index, timeout)
    if kind == _FAIL_LOST:
        return WorkerDied(index)
    return RuntimeError("taskfarm: task %d failed in its worker: %s"
                        % (index, message))


def _other_threads():
    try:
        return len(os.listdir("/proc/self/task")) - 1
    except OSError:
        return threading.active_count() - 1


def _warn_threads(stacklevel):
    n = _other_threads()
    if n > 0:
        warnings.warn(
            "taskfarm: this process has %d other thread(s) while it forks "
            "its workers; a thread that held a lock at the fork may leave "
            "the workers deadlocked (see os.fork in Python 3.12)" % n,
            RuntimeWarning, stacklevel=stacklevel)


class Farm:
    """One set of forked workers with fixed options, for many calls.

    The workers may run on every CPU the caller may (pinned=False), as
    Pool's and joblib's do, not each on one CPU as the engine pins them
    when there are enough: a pinned worker that shares its CPU with any
    other process (the caller itself, another job on the node) cannot move
    to an idle one, and its chunk ends the run late while another worker
    idles; the gap between the workers' ends, measured in bench/README.md,
    was several times larger pinned."""

    def __init__(self, n_jobs=-1, timeout=None, retries=0, grace=None,
                 initializer=None, initargs=(), pinned=False):
        if n_jobs is None:
            n_jobs = -1
        self.timeout = float(timeout or 0.0)
        self.retries = int(retries)
        if grace is None:
            grace = -1.0  # stop at once; the journal asks for 3 s
        # Made before the fork, so the workers share it (MAP_SHARED).
        self._marks_map = mmap.mmap(-1, 8 * _MARK_SLOTS)
        self.marks = memoryview(self._marks_map).cast("q")
        self._runs = 0
        self._c = _c.Farm(functools.partial(_work, self.marks), int(n_jobs),
                          self.timeout, self.retries,
                          float(grace), _worker_init(initializer, initargs),
                          pinned=pinned)
        self.started = False
        self.cpus = _c.cpus()[0]
        self._by_id = {}
        # Calls from other threads take turns, as on multiprocessing's
        # Pool; a call from a callback (this thread) is refused in C.
        self._turn = threading.RLock()

    def by_fork(self, fn):
        """fn itself if it pickles; else, before the workers are forked, a
        token that they resolve in their copy of _BY_FORK."""
        if type(fn) is _ByFork:
            return fn
        if id(fn) in self._by_id:
            return _ByFork(self._by_id[id(fn)])
        try:
            pickle.dumps(fn, PROTOCOL)
            return fn
        except Exception as e:
            if self.started:
                raise PicklingError(
                    "taskfarm: the function %r cannot be pickled (%s: %s) and "
                    "this pool's workers were forked before it existed: "
                    "define it at module level" % (fn, type(e).__name__, e),
                    0) from e
        token = len(_BY_FORK) and max(_BY_FORK) + 1
        _BY_FORK[token] = fn
        self._by_id[id(fn)] = token  # fn lives as long as its entry
        return _ByFork(token)

    def by_fork_items(self, items):
        """The delayed items (f, args, kwargs) with by_fork(f)."""
        seen = {}
        out = []
        for f, a, k in items:
            g = seen.get(id(f))
            if g is None:
                g = seen[id(f)] = (f, self.by_fork(f))
            out.append((g[1], a, k))
        return out

    def new_run(self):
        """The next run's number, for its marks."""
        self._runs = (self._runs + 1) & 0x7FFFFF
        return self._runs

    @property
    def workers(self):
        return self._c.workers

    def close(self):
        self._c.close()
        for t in self._by_id.values():
            _BY_FORK.pop(t, None)
        self._by_id = {}

    def run(self, n, get_input, on_result, on_error, ordered, journal=None,
            key=b"", progress=None):
        if not self.started:
            _warn_threads(5)
            self.started = True
        with self._turn:
            return self._c.run(n, get_input, on_result, on_error, ordered,
                               journal, key, progress)


def _mark_of(run, c):
    """Chunk c's slot in the marks, and its mark for item 0."""
    return c % _MARK_SLOTS, (run << 40) | ((c & 0xFFFFFF) << 16)


def _pickle_chunk(fn, mode, items, retries, first, mark):
    try:
        return pickle.dumps((fn, mode, items, retries, mark), PROTOCOL)
    except Exception:
        pass
    try:
        pickle.dumps(fn, PROTOCOL)
    except Exception as e:
        raise PicklingError("taskfarm: the function %r cannot be pickled: "
                            "%s: %s" % (fn, type(e).__name__, e),
                            first) from e
    for j, x in enumerate(items):
        try:
            pickle.dumps(x, PROTOCOL)
        except Exception as e:
            raise PicklingError("taskfarm: the argument of task %d cannot "
                                "be pickled: %s: %s" % (first + j,
                                                        type(e).__name__, e),
                                first + j) from e
    raise PicklingError("taskfarm: the arguments of tasks %d.. cannot be "
                        "pickled" % first, first)


def _auto_chunk(n, workers, cpus):
    """About 8 chunks per worker that has a CPU: more workers than CPUs
    only take turns, and smaller chunks would only cost more round trips
    through a parent that has to share the CPUs with them."""
    return max(1, min(_MAX_CHUNK, n // (min(workers, cpus) * 8)))


def _tapered_starts(n, k, workers):
    """Chunk starts for n items: chunks of k, then, over the last
    2 x workers x k items, each a (2 x workers)th of what is left, down to
    k / 16. Each worker holds a running and a queued chunk, and the queued
    one is not taken back when another worker runs dry: with even chunks
    the run ended with one worker idle for up to a chunk (a worker slowed
    by other load, or by tasks that cost more towards the end); small last
    chunks bound that wait, for about 5 x workers more chunks (10 more of
    98 for 100,000 items on 2)."""
    starts, lo, least = [0], 0, max(1, k // 16)
    while lo < n:
        lo = min(n, lo + max(least, min(k, -(-(n - lo) // (2 * workers)))))
        starts.append(lo)
    return starts


class _Progress:
    def __init__(self, n_items, n_chunks):
        self.scale = n_items / max(1, n_chunks)
        self.n_items = n_items

    def __call__(self, done, total, elapsed):
        d = min(self.n_items, int(done * self.scale))
        line = _c.progress_format(d, self.n_items, elapsed)
        sys.stderr.write("\r" + line + ("\n" if done == total else ""))
        sys.stderr.flush()


class _Run:
    """One engine run over chunks of known items. Each chunk's outcome goes
    to on_values(position, values, failures), failures {position: exception}
    or None (a true return stops the run); the chunks whose worker died are
    blamed on the item their mark names, and their other items run again
    one per task (all of them where there is no mark). index_of(position)
    is the caller's index of an item, for errors. The chunks hold k items
    each, or start where `starts` says (the last entry: len(items))."""

    def __init__(self, farm, fn, mode, items, k, index_of, stop_first,
                 on_values, starts=None):
        self.farm, self.fn, self.mode, self.items, self.k = (farm, fn, mode,
                                                             items, k)
        self.starts = starts
        self.index_of = index_of
        self.n_chunks = ((len(items) + k - 1) // k if starts is None
                         else len(starts) - 1)
        self.stop_first = stop_first
        self.on_values = on_values
        self.failed = None      # (position, exception) that stopped the run
        self.redo = []          # positions of items to run again
        self.number = farm.new_run()

    def _span(self, c):
        """Chunk c's items: positions lo..hi-1."""
        if self.starts is not None:
            return self.starts[c], self.starts[c + 1]
        lo = c * self.k
        return lo, min(lo + self.k, len(self.items))

    def get_input(self, c):
        lo, hi = self._span(c)
        return _pickle_chunk(self.fn, self.mode, self.items[lo:hi],
                             self.farm.retries, self.index_of(lo),
                             _mark_of(self.number, c))

    def _deliver(self, lo, values, failures):
        stop = bool(self.on_values(lo, values, failures))
        if failures and self.stop_first:
            pos = min(failures)
            self.failed = (pos, failures[pos])
            stop = True
        return stop

    def _unpickling_failed(self, c, e):
        """The chunk's results pickled in the worker but do not unpickle
        here: each of its items gets a PicklingError naming the chunk."""
        lo, hi = self._span(c)
        n = hi - lo
        first, last = self.index_of(lo), self.index_of(lo + n - 1)
        what = ("the result of task %d" % first if n == 1 else
                "the results of tasks %d..%d (one chunk)" % (first, last))
        failures = {}
        for p in range(lo, lo + n):
            exc = PicklingError("taskfarm: %s cannot be unpickled here: "
                                "%s: %s" % (what, type(e).__name__, e),
                                self.index_of(p))
            exc.__cause__ = e
            failures[p] = exc
        return self._deliver(lo, list(failures.values()), failures)

    def on_result(self, c, data):
        lo = self.starts[c] if self.starts is not None else c * self.k
        try:
            values, errors = pickle.loads(data)
        except Exception as e:
            return self._unpickling_failed(c, e)
        failures = None
        if errors:
            failures = {lo + j: _exception_for(self.index_of(lo + j), p)
                        for j, p in errors.items()}
            for pos, exc in failures.items():
                values[pos - lo] = exc
        return self._deliver(lo, values, failures)

    def _died_at(self, c, n):
        """The item of chunk c (n items) its dead worker was on, or None
        where its mark is not there."""
        slot, mark = _mark_of(self.number, c)
        j = self.farm.marks[slot] - mark
        return j if 0 <= j < n else None

    def on_error(self, c, kind, code, attempts, message):
        lo, hi = self._span(c)
        n = hi - lo
        if n > 1 and kind != _FAIL_TIMEOUT:
            j = self._died_at(c, n)
            self.redo.extend(p for p in range(lo, lo + n)
                             if j is None or p != lo + j)
            if j is None:
                return False
            lo += j
        exc = _failure(self.index_of(lo), kind, code, self.farm.timeout,
                       message)
        return self._deliver(lo, [exc], {lo: exc})

    def run(self, journal=None, key=b"", progress=False):
        prog = _Progress(len(self.items), self.n_chunks) if progress else None
        rc, report = self.farm.run(self.n_chunks, self.get_input,
                                   self.on_result, self.on_error, False,
                                   journal, key, prog)
        if self.failed is None and self.redo:
            self._run_again()
        return rc, report

    def _run_again(self):
        """The items of the chunks whose worker died, one task each, so
        that a death is blamed on the item that caused it."""
        positions = sorted(self.redo)

        def on_values(i, values, failures):
            p = positions[i]
            return self.on_values(p, values, failures and {
                p: failures[i]})
        sub = _Run(self.farm, self.fn, self.mode,
                   [self.items[p] for p in positions], 1,
                   lambda i: self.index_of(positions[i]), self.stop_first,
                   on_values)
        sub.run()
        if sub.failed is not None:
            self.failed = (positions[sub.failed[0]], sub.failed[1])


def _code_digest(code, h):
    """What a function's code computes, into hash h: its bytecode, the
    names and constants it uses, nested code (lambdas, comprehensions)
    likewise; not its file or line numbers, so that an edit elsewhere in
    the script keeps a journal usable."""
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _code_digest(c, h)
        else:
            h.update(_value_key(c))


def _value_key(v):
    """v as bytes that are the same in every interpreter: a set's order
    follows its items' hashes, which for strings change from one process
    to the next (PYTHONHASHSEED), so its items are sorted first."""
    if isinstance(v, (set, frozenset)):
        return b"set" + b"\0".join(sorted(_value_key(x) for x in v))
    try:
        return pickle.dumps(v, PROTOCOL)
    except Exception:
        return repr(v).encode()


def _function_key(fn):
    """What names the function in a journal's key: its pickle (for a
    module-level function its qualified name; a partial or a bound
    method holds its arguments or object too), or its qualified name
    where it does not pickle (a lambda, a local function); and for a
    Python function, what its code computes, its defaults and the values
    its closure holds. Two lambdas of one script are two keys, and so is
    a function whose code changed: a journal of another computation is
    refused, never replayed. (The globals a function reads are not in
    the key: give key= when they decide the results.)"""
    if fn is None:
        return b"delayed"
    fn = _resolve(fn)
    try:
        name = pickle.dumps(fn, PROTOCOL)
    except Exception:
        name = (getattr(fn, "__module__", "?") + "." + getattr(
            fn, "__qualname__", type(fn).__qualname__)).encode()
    inner = fn.func if isinstance(fn, functools.partial) else fn
    inner = getattr(inner, "__func__", inner)  # a bound method's function
    if not isinstance(inner, types.FunctionType):
        return name
    h = hashlib.sha256(name)
    _code_digest(inner.__code__, h)
    h.update(_value_key((inner.__defaults__, inner.__kwdefaults__)))
    for cell in inner.__closure__ or ():
        try:
            h.update(_value_key(cell.cell_contents))
        except ValueError:  # an empty cell
            h.update(b"\0")
    return h.digest()


def _journal_key(fn, mode, items, k, key):
    """The journal's key: the caller's, or the function's qualified name
    and a hash of the inputs' pickles (and the chunk size, which decides
    what one journaled task holds)."""
    h = hashlib.sha256()
    h.update(b"taskfarm-py 2\0")
    h.update(str(k).encode() + b"\0")
    if key is not None:
        h.update(key if isinstance(key, bytes) else str(key).encode())
        return h.digest()
    h.update(_function_key(fn) + b"\0")
    for c in range(0, len(items), k):
        h.update(pickle.dumps(items[c:c + k], PROTOCOL))
    return h.digest()


def _materialize(iterable):
    """list(iterable) without the cyclic GC, which a generator of 100,000
    new objects, all kept, would otherwise run hundreds of times for
    nothing."""
    was = gc.isenabled()
    gc.disable()
    try:
        return list(iterable)
    finally:
        if was:
            gc.enable()


def run_list(farm, fn, mode, items, *, ordered=True, journal=None, key=None,
             progress=False, errors="raise", chunksize=None, stop_first=False):
    """The whole call as one run: results in item order (ordered) or in
    completion order."""
    if errors not in ("raise", "collect"):
        raise ValueError("errors must be 'raise' or 'collect'")
    fn, mode, items = _take(fn, mode, items)
    n = len(items)
    if n == 0:
        return []
    starts = None
    if farm.timeout:
        k = 1
    elif chunksize:
        k = int(chunksize)
    elif journal:  # not from the workers: a rerun may have others
        k = max(1, min(_MAX_CHUNK, n // 1024))
    else:
        k = _auto_chunk(n, farm.workers, farm.cpus)
        starts = _tapered_starts(n, k, min(farm.workers, farm.cpus))
    fn, mode, items = _travelling(farm, fn, mode, items)
    results = [None] * n if ordered else []
    failed = []  # (the task's index, its place in results)

    def on_values(lo, values, failures):
        if ordered:
            results[lo:lo + len(values)] = values
            if failures:
                failed.extend((p, p) for p in failures)
        else:
            if failures:
                failed.extend((p, len(results) + p - lo) for p in failures)
            results.extend(values)
        return False

    run = _Run(farm, fn, mode, items, k, lambda p: p, stop_first, on_values,
               starts)
    jkey = _journal_key(fn, mode, items, k, key) if journal else b""
    run.run(journal=journal, key=jkey, progress=progress)
    if run.failed is not None:
        raise run.failed[1]
    if errors == "raise" and failed:
        raise results[min(failed)[1]]  # the lowest index, in either order
    return results


def _take(fn, mode, iterable):
    """(fn, mode, items) with the items in a list. Delayed calls are read
    in C (take_delayed): those that all call one function without keywords
    (Parallel's usual `delayed(f)(x) for x in ...`) become a plain map of
    f, whose chunks pickle and run as cheaply as Pool's, and each (f, args,
    kwargs) triple is dropped as soon as it is read."""
    if mode == _MODE_DELAYED:
        return _c.take_delayed(iterable)
    return fn, mode, (iterable if isinstance(iterable, list)
                      else _materialize(iterable))


def _travelling(farm, fn, mode, items):
    """(fn, mode, items) in a form that reaches the workers: functions that
    do not pickle go by the fork (by_fork)."""
    if mode == _MODE_DELAYED:
        return None, mode, farm.by_fork_items(items)
    return farm.by_fork(fn), mode, items


def _terminated(signo, frame):
    raise Terminated("taskfarm: the run was stopped by signal %d (%s); the "
                     "workers are gone" % (signo, signal.strsignal(signo)))


def run_iter(*args, **kw):
    """_run_iter, with SIGTERM raising Terminated while the caller's loop
    runs too: between two engine runs (which catch it themselves) the
    default action would kill the interpreter, skipping its finally
    blocks. Only a default SIGTERM of the main thread is replaced, and it
    comes back when the generator ends or is dropped."""
    own = (threading.current_thread() is threading.main_thread()
           and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
    if own:
        signal.signal(signal.SIGTERM, _terminated)
    try:
        yield from _run_iter(*args, **kw)
    finally:
        if own and signal.getsignal(signal.SIGTERM) is _terminated:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_iter(farm, fn, mode, iterable, *, ordered=True, journal=None,
              key=None, progress=False, errors="raise", chunksize=None,
              stop_first=False):
    """Yields results segment by segment, pulling the items lazily."""
    if errors not in ("raise", "collect"):
        raise ValueError("errors must be 'raise' or 'collect'")
    if journal is not None and key is None:
        if not isinstance(iterable, (list, tuple, range)):
            raise ValueError("taskfarm.imap with a journal over an iterator "
                             "needs key= (the inputs are not known ahead)")
        key = _journal_key(fn, mode, list(iterable), 1, None)
    it = iter(iterable)
    # The engine times tasks, not items: with a timeout, one item a task
    # whatever chunksize says (as run_list), or a chunk over its time would
    # be one TaskTimeout for all its items.
    fixed = 1 if farm.timeout else chunksize or (
        1 if journal is not None else None)
    k = fixed or 1
    seg_chunks = 1024 if journal is not None else 16 * farm.workers
    base = 0
    for seg in itertools.count():
        seg_fn, seg_mode, items = _take(fn, mode, itertools.islice(
            it, k * seg_chunks))
        if not items:
            return
        seg_fn, seg_mode, items = _travelling(farm, seg_fn, seg_mode, items)
        out = []

        def on_values(lo, values, failures, out=out):
            out.append((lo, values, failures))
            return False

        t0 = time.monotonic()
        run = _Run(farm, seg_fn, seg_mode, items, k,
                   lambda p, b=base: b + p, stop_first, on_values)
        jpath = "%s.%d" % (journal, seg) if journal is not None else None
        jkey = (_journal_key(None, mode, [], k, key) + b"%d" % seg
                if journal is not None else b"")
        run.run(journal=jpath, key=jkey, progress=progress)
        elapsed = time.monotonic() - t0
        if ordered:
            out.sort(key=lambda r: r[0])
        for lo, values, failures in out:
            if failures and errors == "raise":
                first = min(failures)
                yield from values[:first - lo]
                raise failures[first]
            yield from values
        if run.failed is not None:
            raise run.failed[1]
        base += len(items)
        if fixed is None:
            per_item = elapsed * min(farm.workers, farm.cpus) / len(items)
            k = max(1, min(_MAX_CHUNK, int(_TARGET_CHUNK_SECONDS /
                                           max(per_item, 1e-9))))
