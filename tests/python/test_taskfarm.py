"""Tests of the taskfarm Python module (python/), run by CTest (label
python) with Debian's pytest: PYTHONPATH holds build/python."""
import ctypes
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pytest

import taskfarm
from taskfarm import Parallel, Pool, delayed

HERE = os.path.dirname(os.path.abspath(__file__))


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def sized(n):
    return b"x" * n


def square(x):
    return x * x


def fails_on_3(x):
    if x == 3:
        raise ValueError("three is bad")
    return x


def crash(x):
    """Tasks 5, 7, 9 kill their worker three ways; 11 runs too long."""
    if x == 5:
        ctypes.string_at(0)
    if x == 7:
        os._exit(3)
    if x == 9:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 11:
        time.sleep(60)
    return x * 10


def sleepy(t):
    time.sleep(t)
    return t


def run_child(code, timeout=60, **kw):
    """Runs code in a fresh interpreter with this PYTHONPATH."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout,
                          **kw)


# -------------------------------------------------------------- equality --

@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64, 1000, 5000])
def test_map_equals_serial_map_for_many_lengths(n):
    values = list(range(n))
    assert taskfarm.map(square, values, 2) == list(map(square, values))
    assert list(taskfarm.imap(square, values, 2)) == list(map(square, values))


def test_result_sizes_from_0_bytes_to_10_MB():
    sizes = [0, 1, 100, 65536, 1 << 20, 10 << 20, 0, 3]
    got = taskfarm.map(sized, sizes, 2)
    assert [len(r) for r in got] == sizes
    assert got == [sized(s) for s in sizes]
    assert list(taskfarm.imap(sized, sizes, 2)) == got


def test_more_workers_than_cpus_and_chunk_sizes():
    values = list(range(300))
    want = [fib(v) for v in values]
    for n_jobs in (1, 3, 8):
        for chunksize in (None, 1, 7, 1000):
            assert taskfarm.map(fib, values, n_jobs,
                                chunksize=chunksize) == want


# ------------------------------------------------------------------ order --

def test_ordered_and_as_completed():
    delays = [0.6] + [0.01] * 11
    assert list(taskfarm.imap(sleepy, delays, 2)) == delays
    done = list(taskfarm.imap(sleepy, delays, 2, ordered=False))
    assert sorted(done) == sorted(delays)
    # the slow first task comes late (the one queued behind it later still)
    assert done.index(0.6) >= 8
    assert taskfarm.map(sleepy, delays, 2, ordered=False).index(0.6) >= 8


# ------------------------------------------------------------- failures --

def test_exception_comes_back_with_the_workers_traceback():
    with pytest.raises(ValueError, match="three is bad") as info:
        taskfarm.map(fails_on_3, range(8), 2)
    e = info.value
    assert e.task_index == 3
    assert "fails_on_3" in e.remote_traceback
    assert 'raise ValueError("three is bad")' in e.remote_traceback
    assert any("task 3" in note for note in e.__notes__)


def test_errors_collect_puts_the_exception_in_its_place():
    got = taskfarm.map(fails_on_3, range(6), 2, errors="collect")
    assert got[:3] == [0, 1, 2] and got[4:] == [4, 5]
    assert isinstance(got[3], ValueError)


def test_raise_gives_the_lowest_index_after_the_others_finished(tmp_path):
    out = tmp_path / "done"

    def mark(x):
        if x in (2, 6):
            raise KeyError(x)
        with open(out, "a") as f:
            f.write("%d\n" % x)
        return x
    with pytest.raises(KeyError) as info:
        taskfarm.map(mark, range(10), 2, chunksize=1)
    assert info.value.task_index == 2
    assert sorted(map(int, out.read_text().split())) == [0, 1, 3, 4, 5, 7, 8, 9]


def test_crashes_and_timeout_are_reported_and_the_rest_delivered():
    t0 = time.monotonic()
    got = taskfarm.map(crash, range(14), 2, timeout=2, errors="collect")
    assert time.monotonic() - t0 < 30
    for i, r in enumerate(got):
        if i == 5:
            assert isinstance(r, taskfarm.WorkerDied)
            assert (r.index, r.signal) == (5, signal.SIGSEGV)
        elif i == 7:
            assert isinstance(r, taskfarm.WorkerDied)
            assert (r.index, r.exitcode) == (7, 3)
        elif i == 9:
            assert (r.index, r.signal) == (9, signal.SIGKILL)
        elif i == 11:
            assert isinstance(r, taskfarm.TaskTimeout) and r.index == 11
        else:
            assert r == i * 10


def test_a_crash_in_a_chunk_is_blamed_on_its_item_only():
    values = [x for x in range(200) if x not in (9, 11)]
    got = taskfarm.map(crash, values, 2, chunksize=50, errors="collect")
    assert [i for i, r in enumerate(got)
            if isinstance(r, taskfarm.WorkerDied)] == [5, 7]
    assert all(r == v * 10 for r, v in zip(got, values)
               if not isinstance(r, Exception))


def killed_once(arg):
    """Notes each run of item x in a file of its own; item 4 SIGKILLs its
    worker on its first run only (an OOM kill, an external kill -9)."""
    d, x = arg
    with open(os.path.join(d, "ran.%d" % x), "a") as f:
        f.write("x\n")
    if x == 4 and not os.path.exists(os.path.join(d, "killed")):
        open(os.path.join(d, "killed"), "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return x * 10


def test_a_worker_killed_once_mid_chunk_raises_for_that_item(tmp_path):
    d = str(tmp_path)
    got = taskfarm.map(killed_once, [(d, x) for x in range(10)], 2,
                       chunksize=10, errors="collect")
    assert isinstance(got[4], taskfarm.WorkerDied)
    assert (got[4].index, got[4].signal) == (4, signal.SIGKILL)
    assert [r for i, r in enumerate(got) if i != 4] == [
        x * 10 for x in range(10) if x != 4]
    runs = [len(open(os.path.join(d, "ran.%d" % x)).readlines())
            for x in range(10)]
    assert runs[4] == 1          # not run again: it was reported
    assert runs[5:] == [1] * 5   # after it: never started, run once
    assert all(1 <= r <= 2 for r in runs[:4])  # before it: maybe twice


def test_pool_survives_a_dead_worker():
    with Pool(2) as p:
        with pytest.raises(taskfarm.WorkerDied):
            p.map(crash, [1, 7, 2])
        assert p.map(square, range(5)) == [0, 1, 4, 9, 16]


def test_retries_run_a_failed_task_again(tmp_path):
    flag = tmp_path / "flag"

    def flaky(x):
        if x == 1 and not flag.exists():
            flag.write_text("x")
            os._exit(9)
        return x
    assert taskfarm.map(flaky, range(4), 2, retries=1) == [0, 1, 2, 3]


def test_unpicklable_argument_and_result_name_the_index():
    with pytest.raises(taskfarm.PicklingError, match="argument of task 2"):
        taskfarm.map(square, [1, 2, threading.Lock(), 4], 2)

    def lock_at_1(x):
        return threading.Lock() if x == 1 else x
    got = taskfarm.map(lock_at_1, range(3), 2, errors="collect")
    assert got[0] == 0 and got[2] == 2
    assert isinstance(got[1], taskfarm.PicklingError)
    assert "result of task 1" in str(got[1])


# ---------------------------------------------------------------- signals --

SIGNAL_CHILD = """
import os, sys, time, taskfarm
pids = sys.argv[1]
def slow(x):
    with open(pids, "a") as f:
        f.write("%d\\n" % os.getpid())
    time.sleep(0.2)
    return x
print("start", flush=True)
try:
    taskfarm.map(slow, range(400), 2, chunksize=1)
except BaseException as e:
    print(type(e).__name__, flush=True)
    raise
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signo,name", [(signal.SIGTERM, "Terminated"),
                                        (signal.SIGINT, "KeyboardInterrupt")])
def test_signal_mid_run_raises_promptly_and_reaps_the_workers(tmp_path,
                                                              signo, name):
    pids = tmp_path / "pids"
    p = subprocess.Popen([sys.executable, "-c", SIGNAL_CHILD, str(pids)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "start\n"
    deadline = time.monotonic() + 20
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    t0 = time.monotonic()
    p.send_signal(signo)
    out, err = p.communicate(timeout=20)
    assert time.monotonic() - t0 < 5
    assert out.split()[-1] == name, err
    assert p.returncode != 0
    workers = set(map(int, pids.read_text().split()))
    assert workers and not any(alive(w) for w in workers)


# ---------------------------------------------------------------- journal --

JOURNAL_CHILD = """
import os, sys, time, taskfarm
journal, marks = sys.argv[1], sys.argv[2]
def fib(n):
    with open(marks, "a") as f:
        f.write("%d\\n" % n)
    time.sleep(0.02)
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
r = taskfarm.map(fib, range(300), 2, journal=journal, chunksize=1)
print(sum(r) % 1000003)
"""


def test_journal_resume_after_kill_9_of_the_interpreter(tmp_path):
    journal, marks = tmp_path / "fib.journal", tmp_path / "marks"
    args = [sys.executable, "-c", JOURNAL_CHILD, str(journal), str(marks)]
    p = subprocess.Popen(args, stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if marks.exists() and len(marks.read_text().split()) >= 60:
            break
        time.sleep(0.02)
    p.kill()
    p.wait()
    before = len(marks.read_text().split())
    assert before < 300
    marks.unlink()
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    want = sum(fib(n) for n in range(300)) % 1000003
    assert int(r.stdout) == want
    rerun = len(marks.read_text().split())
    assert rerun <= 300 - before + 4  # what was journaled was not redone
    # a third run replays everything from the journal
    marks.unlink()
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert int(r.stdout) == want and not marks.exists()


def test_journal_of_another_call_is_refused(tmp_path):
    j = str(tmp_path / "j")
    assert taskfarm.map(square, range(10), 2, journal=j) == [
        x * x for x in range(10)]
    with pytest.raises(taskfarm.JournalError):
        taskfarm.map(square, range(1, 11), 2, journal=j)
    assert taskfarm.map(square, range(10), 2, journal=j) == [
        x * x for x in range(10)]


def test_imap_journal_over_an_iterator_needs_a_key(tmp_path):
    with pytest.raises(ValueError, match="key"):
        list(taskfarm.imap(square, iter(range(5)), 2,
                           journal=str(tmp_path / "j")))
    got = list(taskfarm.imap(square, iter(range(50)), 2, key="squares",
                             journal=str(tmp_path / "j")))
    assert got == [x * x for x in range(50)]


# --------------------------------------------------------------- drop-ins --

def test_joblib_drop_in_on_the_tutorials_code():
    joblib = pytest.importorskip("joblib")
    my_values = range(5000, 5100)
    ours = Parallel(n_jobs=8)(delayed(fib)(n) for n in my_values)
    theirs = joblib.Parallel(n_jobs=2)(joblib.delayed(fib)(n)
                                       for n in my_values)
    assert ours == theirs == [fib(n) for n in my_values]
    gen = Parallel(n_jobs=2, return_as="generator")(
        delayed(fib)(n) for n in my_values)
    assert list(gen) == ours
    assert sorted(Parallel(n_jobs=-1, return_as="generator_unordered",
                           batch_size=3)(delayed(fib)(n) for n in my_values)
                  ) == sorted(ours)
    mixed = [delayed(square)(3), delayed(pow)(2, 5), delayed(fib)(10),
             delayed(sorted)([3, 1], reverse=True)]
    assert Parallel(n_jobs=2)(mixed) == [9, 32, 55, [3, 1]]
    with Parallel(n_jobs=2) as parallel:
        assert parallel(delayed(square)(i) for i in range(5)) == [
            0, 1, 4, 9, 16]
        assert parallel(delayed(pow)(2, i) for i in range(3)) == [1, 2, 4]


def test_parallel_raises_the_first_failure_at_once():
    t0 = time.monotonic()
    tasks = [delayed(fails_on_3)(3)] + [delayed(sleepy)(0.3)] * 60
    with pytest.raises(ValueError):
        Parallel(n_jobs=2, batch_size=1)(tasks)
    assert time.monotonic() - t0 < 5  # not the 9 s the rest would take


def add(*args, k=0):
    return sum(args) + k


def test_delayed_gives_what_joblib_code_does_with_its_triple():
    joblib = pytest.importorskip("joblib")
    call = delayed(add)(1, 2, k=3)
    f, args, kwargs = call  # unpacked, as joblib's BatchedCalls does
    assert (f, args, kwargs) == (add, (1, 2), {"k": 3})
    assert type(args) is tuple and type(kwargs) is dict
    assert call == (add, (1, 2), {"k": 3}) and (add, (1, 2), {"k": 3}) == call
    assert call != (add, (1,), {}) and call == delayed(add)(1, 2, k=3)
    assert len(call) == 3 and list(call) == [add, (1, 2), {"k": 3}]
    assert call[0] is add and call[-1] == {"k": 3} and call[:2] == (add,
                                                                  (1, 2))
    assert tuple(call) == (add, (1, 2), {"k": 3})
    assert repr(call) == repr((add, (1, 2), {"k": 3}))
    with pytest.raises(IndexError):
        call[3]
    with pytest.raises(TypeError):
        hash(call)  # as the tuple: its dict is not hashable
    # the same tuple and dict each time they are asked for, as a tuple's
    assert call[1] is call[1] and call[2] is call[2]
    one, two = delayed(add)(1), delayed(add)(2)
    assert one == (add, (1,), {}) and one[2] is not two[2]
    one[2]["k"] = 10  # a change stays, and is what runs
    assert one == (add, (1,), {"k": 10}) and delayed(add)(1)[2] == {}
    assert Parallel(n_jobs=2)([one, two, one]) == [11, 2, 11]
    assert Parallel(n_jobs=2)(iter([delayed(add)(1), one])) == [1, 11]
    back = pickle.loads(pickle.dumps(delayed(add)(4, k=1)))
    assert back == (add, (4,), {"k": 1}) and type(back) is tuple
    assert delayed(add).__name__ == "add"  # joblib reads the function's
    # taskfarm's delayed in joblib's own Parallel, and joblib's in ours
    assert joblib.Parallel(n_jobs=2)(delayed(add)(i, k=1) for i in range(5)
                                     ) == [1, 2, 3, 4, 5]
    assert joblib.Parallel(n_jobs=1)(delayed(add)(i) for i in range(3)
                                     ) == [0, 1, 2]
    assert Parallel(n_jobs=2)(joblib.delayed(add)(i, k=1) for i in range(5)
                              ) == [1, 2, 3, 4, 5]


def test_a_delayed_call_in_a_reference_cycle_is_collected():
    import gc
    import weakref

    class Box:
        pass
    box = Box()
    box.call = delayed(add)(box, k=box)
    gone = weakref.ref(box)
    del box
    gc.collect()
    assert gone() is None


def test_a_kept_delayed_call_costs_less_than_a_tuple_and_a_dict():
    # a list of the caller's calls, as Parallel([...]) is given: joblib's
    # triple is three objects (about 220 bytes), a delayed call one
    import tracemalloc
    n = 100000
    tracemalloc.start()
    try:
        calls = [delayed(abs)(i % 200) for i in range(n)]
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert size / n < 120, "%.0f bytes per call" % (size / n)
    assert Parallel(n_jobs=2)(calls) == [i % 200 for i in range(n)]


def test_parallel_takes_any_mix_of_delayed_calls_in_order():
    # one function, one argument, until more arguments, other functions,
    # keywords and lists for tuples turn up
    calls = ([delayed(add)(i) for i in range(40)] +
             [delayed(add)(i, 1) for i in range(40)] +
             [delayed(square)(i) for i in range(40)] +
             [delayed(add)(i, k=2) for i in range(40)] +
             [[add, [i, 3], {}] for i in range(40)] + [(square, (5,), {})])
    want = ([i for i in range(40)] + [i + 1 for i in range(40)] +
            [i * i for i in range(40)] + [i + 2 for i in range(40)] +
            [i + 3 for i in range(40)] + [25])
    assert Parallel(n_jobs=2)(iter(calls)) == want
    assert Parallel(n_jobs=2)(c for c in calls[40:80]) == want[40:80]
    assert Parallel(n_jobs=2)(iter(calls[:40] + calls[80:120])) == (
        want[:40] + want[80:120])
    assert list(Parallel(n_jobs=2, return_as="generator")(iter(calls))) == want


def test_parallel_raises_what_the_callers_generator_raises():
    def calls():
        yield from (delayed(square)(i) for i in range(100))
        raise KeyError("the generator broke")
    with pytest.raises(KeyError, match="the generator broke"):
        Parallel(n_jobs=2)(calls())
    with Parallel(n_jobs=2) as parallel:  # the pool still works after it
        with pytest.raises(KeyError):
            parallel(calls())
        assert parallel(delayed(square)(i) for i in range(3)) == [0, 1, 4]


def test_parallel_keeps_no_delayed_call_while_it_reads_them():
    # delayed(f)(x) is a tuple, an argument tuple and a dict: about 250
    # bytes that Parallel must not keep for each of the caller's calls.
    import tracemalloc
    n = 200000
    with Parallel(n_jobs=1) as parallel:
        parallel(delayed(abs)(i) for i in range(10))  # the workers exist
        tracemalloc.start()
        try:
            got = parallel(delayed(abs)(i % 200) for i in range(n))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert got == [i % 200 for i in range(n)]
    assert peak / n < 100, "%.0f bytes per task" % (peak / n)


def test_workers_may_run_on_every_cpu_of_the_caller():
    # not one CPU each, as the engine pins them: a pinned worker that
    # shares its CPU with another process cannot move to an idle one
    mine = os.sched_getaffinity(0)
    got = Parallel(n_jobs=2)(delayed(os.sched_getaffinity)(0)
                             for _ in range(8))
    assert got == [mine] * 8
    with Pool(min(2, len(mine))) as p:
        assert p.map(os.sched_getaffinity, [0] * 4) == [mine] * 4


@pytest.mark.parametrize("n,k,workers", [(2000, 125, 2), (100000, 1024, 2),
                                         (7, 1, 2), (5000, 156, 4),
                                         (33, 2, 1)])
def test_the_last_chunks_of_a_run_are_small(n, k, workers):
    from taskfarm._core import _tapered_starts
    starts = _tapered_starts(n, k, workers)
    sizes = [b - a for a, b in zip(starts, starts[1:])]
    assert starts[0] == 0 and starts[-1] == n and min(sizes) >= 1
    assert max(sizes) <= k and sizes == sorted(sizes, reverse=True)[
        :len(sizes) - 1] + sizes[-1:]  # non-increasing but the remainder
    if k >= 16:  # a queued last chunk is at most k / 16 items, not k
        assert max(sizes[-2 * workers:]) <= k // 16 + 1
    assert len(sizes) <= 2 * -(-n // k) + 2  # at most about twice as many


@pytest.mark.parametrize("n", [1, 15, 16, 17, 250, 1999, 2000, 4097])
def test_tapered_chunks_deliver_every_item_in_place(n):
    values = list(range(n))
    assert taskfarm.map(square, values, 2) == [x * x for x in values]
    assert sorted(taskfarm.map(square, values, 2, ordered=False)) == sorted(
        x * x for x in values)
    assert Parallel(n_jobs=2)(delayed(square)(x) for x in values) == [
        x * x for x in values]


def test_pool_drop_in_on_the_tutorials_code():
    import multiprocessing
    my_values = range(5000, 5100)
    with Pool(2) as p:
        ours = p.map(fib, my_values)
    with multiprocessing.get_context("fork").Pool(2) as p:
        theirs = p.map(fib, my_values)
    assert ours == theirs


def test_one_pool_two_functions_and_data_sets():
    with Pool(2) as p:
        assert p.map(square, range(20)) == [x * x for x in range(20)]
        words = ["a", "bb", "ccc"]
        assert p.map(len, words) == [1, 2, 3]
        assert p.starmap(pow, [(2, 5), (3, 2)]) == [32, 9]
        assert list(p.imap(fib, range(10))) == [fib(i) for i in range(10)]
        assert sorted(p.imap_unordered(square, range(9))) == [
            x * x for x in range(9)]
        assert p.apply(pow, (2, 10)) == 1024
        assert p.map_async(square, [3]).get() == [9]


def test_pool_initializer_runs_in_each_worker(tmp_path):
    def init(path):
        global INIT_PATH
        INIT_PATH = path

    def where(x):
        return INIT_PATH
    with Pool(2, initializer=init, initargs=(str(tmp_path),)) as p:
        assert p.map(where, range(4)) == [str(tmp_path)] * 4


# ------------------------------------------------------------------ memory --

def test_imap_over_a_million_results_stays_within_64_MiB():
    r = run_child("""
        import resource, taskfarm
        def inc(x):
            return x + 1
        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sum(taskfarm.imap(inc, range(1000), 2))  # warm-up: imports, forks
        base = peak()
        total = sum(taskfarm.imap(inc, iter(range(1000000)), 2))
        print(total, (peak() - base) // 1024)
        """, timeout=120)
    assert r.returncode == 0, r.stderr
    total, grew_mib = map(int, r.stdout.split())
    assert total == sum(range(1, 1000001))
    assert grew_mib < 64


# ------------------------------------------------------------- the rest --

def test_gil_is_released_while_the_engine_waits():
    with Pool(2) as p:
        p.map(square, range(4))  # the workers are forked before the thread
        ticks = []
        stop = threading.Event()

        def tick():
            while not stop.is_set():
                ticks.append(1)
                time.sleep(0.01)
        t = threading.Thread(target=tick)
        t.start()
        try:
            p.map(sleepy, [0.5, 0.5])
        finally:
            stop.set()
            t.join()
    assert len(ticks) >= 20


def test_threads_at_the_fork_give_a_runtime_warning():
    r = run_child("""
        import threading, warnings, taskfarm
        warnings.simplefilter("error")
        def square(x):
            return x * x
        assert taskfarm.map(square, range(4), 2) == [0, 1, 4, 9]
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()
        try:
            taskfarm.map(square, range(4), 2)
        except RuntimeWarning as w:
            print(w)
        stop.set()
        """)
    assert r.returncode == 0, r.stderr
    assert "1 other thread" in r.stdout


def test_lambdas_and_local_functions_reach_fresh_workers():
    offset = 5
    assert taskfarm.map(lambda x: x + offset, range(4), 2) == [5, 6, 7, 8]
    assert Parallel(n_jobs=2)(delayed(lambda x: -x)(i)
                              for i in range(3)) == [0, -1, -2]
    neg = lambda x: -x  # noqa: E731: the same lambda in every segment
    assert list(Parallel(n_jobs=2, return_as="generator")(
        delayed(neg)(i) for i in range(3000))) == [-i for i in range(3000)]
    with Pool(2) as p:
        assert p.map(lambda x: x * 2, [1, 2]) == [2, 4]  # forks here
        with pytest.raises(taskfarm.PicklingError, match="module level"):
            p.map(lambda x: x * 3, [1, 2])


def test_what_tasks_print_reaches_a_redirected_stdout():
    r = run_child("""
        import taskfarm
        def say(x):
            print("task", x)
            return x
        assert taskfarm.map(say, range(20), 2, chunksize=3) == list(range(20))
        """, env={k: v for k, v in os.environ.items()
                  if k != "PYTHONUNBUFFERED"})  # block-buffered, as in Slurm
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split("\n")[:-1]) == sorted(
        "task %d" % i for i in range(20))


def test_cpus_reads_the_allocation():
    n, source = taskfarm.cpus()
    assert n >= 1 and source
    r = run_child("import taskfarm; print(taskfarm.cpus())",
                  env=dict(os.environ, TASKFARM_NUM_JOBS="1"))
    assert r.stdout.strip() == "(1, 'TASKFARM_NUM_JOBS')"


def test_module_version():
    r = subprocess.run([sys.executable, "-m", "taskfarm", "--version"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert r.stdout.strip() == "taskfarm " + taskfarm.__version__


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        taskfarm.map(square, range(3), 5000)
    with pytest.raises(ValueError):
        taskfarm.map(square, range(3), 2, errors="ignore")
    with pytest.raises(ValueError):
        Parallel(n_jobs=0)
    with pytest.raises(ValueError):
        Pool(0)


def test_a_bad_n_jobs_gets_a_readable_message():
    for n_jobs in (-100, 10 ** 6):
        with pytest.raises(ValueError) as e:
            taskfarm.map(square, range(3), n_jobs)
        text = str(e.value)
        assert "n_jobs=%d" % n_jobs in text and "timeout=0," in text, text
        assert "%" not in text, text


CALLER = os.getpid()


def _refuse_in_the_caller():
    if os.getpid() == CALLER:
        raise ValueError("not here")
    return NotInTheCaller()


class NotInTheCaller:
    """Pickles in a worker; its unpickling fails in the caller."""

    def __reduce__(self):
        return (_refuse_in_the_caller, ())


def not_in_the_caller_at_3(x):
    return NotInTheCaller() if x == 3 else x


def test_a_result_that_cannot_be_unpickled_names_its_index():
    got = taskfarm.map(not_in_the_caller_at_3, range(6), 2, chunksize=1,
                       errors="collect")
    assert [got[i] for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]
    assert isinstance(got[3], taskfarm.PicklingError), got[3]
    assert got[3].index == 3 and "task 3" in str(got[3])
    assert "not here" in str(got[3])
    with pytest.raises(taskfarm.PicklingError, match="task 3"):
        taskfarm.map(not_in_the_caller_at_3, range(6), 2)


IMAP_SIGTERM_CHILD = """
import os, signal, taskfarm
got = 0
try:
    for r in taskfarm.imap(abs, range(100000), 2):
        got += 1
        if got == 50:  # in the caller's loop, between two engine runs
            os.kill(os.getpid(), signal.SIGTERM)
except taskfarm.Terminated:
    print("Terminated", got, signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
"""


def test_sigterm_in_the_loop_over_imap_raises_terminated():
    r = run_child(IMAP_SIGTERM_CHILD)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert r.stdout.split() == ["Terminated", "50", "True"]


def test_one_pool_shared_by_two_threads_serves_both():
    got, errors = {}, []

    def use(k):
        try:
            got[k] = p.map(sleepy, [0.01 * k] * 40)
        except Exception as e:
            errors.append(e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with Pool(2) as p:
            p.map(square, [1])
            threads = [threading.Thread(target=use, args=(k,)) for k in (1, 2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    assert errors == []
    assert got == {1: [0.01] * 40, 2: [0.02] * 40}


def slow_fail_at_1_fast_fail_at_5(x):
    if x == 1:
        time.sleep(0.5)
        raise KeyError(1)
    if x == 5:
        raise KeyError(5)
    return x


def test_unordered_raise_gives_the_lowest_index_too():
    with pytest.raises(KeyError) as info:
        taskfarm.map(slow_fail_at_1_fast_fail_at_5, range(8), 2,
                     ordered=False, chunksize=1)
    assert info.value.task_index == 1


def test_a_journal_that_cannot_be_opened_says_why_and_where(tmp_path):
    path = str(tmp_path / "no-such-dir" / "fib.journal")
    with pytest.raises(taskfarm.JournalError) as e:
        taskfarm.map(square, range(3), 2, journal=path)
    assert path in str(e.value) and os.strerror(2) in str(e.value)


def cube(x):
    return x ** 3


def test_parallel_journal_of_another_function_is_refused(tmp_path):
    journal = str(tmp_path / "p.journal")
    assert Parallel(2, journal=journal)(delayed(square)(i)
                                        for i in range(5)) == [0, 1, 4, 9, 16]
    before = open(journal, "rb").read()
    with pytest.raises(taskfarm.JournalError):
        Parallel(2, journal=journal)(delayed(cube)(i) for i in range(5))
    assert open(journal, "rb").read() == before
    assert Parallel(2, journal=journal)(delayed(square)(i)
                                        for i in range(5)) == [0, 1, 4, 9, 16]


def test_journal_of_another_partial_is_refused(tmp_path):
    import functools
    journal = str(tmp_path / "partial.journal")
    assert taskfarm.map(functools.partial(pow, 2), range(4), 2,
                        journal=journal) == [1, 2, 4, 8]
    with pytest.raises(taskfarm.JournalError):
        taskfarm.map(functools.partial(pow, 3), range(4), 2, journal=journal)


def sleeps_at_5(x):
    if x == 5:
        time.sleep(10)
    return x


def test_imap_with_a_timeout_and_a_chunksize_loses_no_item():
    got = list(taskfarm.imap(sleeps_at_5, range(12), 2, timeout=1,
                             chunksize=4, errors="collect"))
    assert len(got) == 12
    assert isinstance(got[5], taskfarm.TaskTimeout) and got[5].index == 5
    assert [got[i] for i in range(12) if i != 5] == [
        i for i in range(12) if i != 5]


def getpid(x):
    return os.getpid()


OTHER_POOL = None


def terminate_the_other_pool(x):
    OTHER_POOL.terminate()  # as its copy's __del__ would, in this worker
    return x


def test_a_pool_copied_into_a_worker_leaves_the_original_alone():
    global OTHER_POOL
    with Pool(2) as OTHER_POOL:
        before = set(OTHER_POOL.map(getpid, range(20), chunksize=1))
        assert taskfarm.map(terminate_the_other_pool, range(2), 2) == [0, 1]
        after = set(OTHER_POOL.map(getpid, range(20), chunksize=1))
    OTHER_POOL = None
    assert after == before


def test_journal_of_another_lambda_or_closure_is_refused(tmp_path):
    # Lambdas do not pickle: their qualified name alone made one key for
    # every lambda of a script, and the second call's results were the
    # first's, replayed from the journal.
    j = str(tmp_path / "lambda.journal")
    assert taskfarm.map(lambda x: x + 1, range(5), 2, journal=j) == [
        1, 2, 3, 4, 5]
    with pytest.raises(taskfarm.JournalError):
        taskfarm.map(lambda x: x * 10, range(5), 2, journal=j)
    with pytest.raises(taskfarm.JournalError):
        Parallel(2, journal=j)(delayed(lambda x: x - 1)(i) for i in range(5))

    def adder(k):
        return lambda x: x + k
    j2 = str(tmp_path / "closure.journal")
    assert taskfarm.map(adder(1), range(3), 2, journal=j2) == [1, 2, 3]
    with pytest.raises(taskfarm.JournalError):
        taskfarm.map(adder(100), range(3), 2, journal=j2)
    assert taskfarm.map(adder(1), range(3), 2, journal=j2) == [1, 2, 3]


LAMBDA_CHILD = """
import sys, taskfarm
marks = sys.argv[2]
def mark(x):
    with open(marks, "a") as f:
        f.write("%d\\n" % x)
    return x
def make():
    k = {"a", "b", "c", "d"}  # in the closure: a set of strings
    return lambda x: mark(x) * 2 if "a" in {"a", "b", "c"} and "b" in k else 0
print(sum(taskfarm.map(make(), range(20), 2, journal=sys.argv[1])))
"""


def test_journal_key_of_a_lambda_is_the_same_in_every_interpreter(tmp_path):
    # The key must not depend on the process: a set's order (a frozenset
    # constant in the code, one in the closure) follows string hashes,
    # which PYTHONHASHSEED changes.
    journal, marks = tmp_path / "l.journal", tmp_path / "marks"
    outs = []
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-c", LAMBDA_CHILD, str(journal),
                            str(marks)], capture_output=True, text=True,
                           timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs == ["380\n"] * 3
    assert len(marks.read_text().split()) == 20  # computed once, replayed
