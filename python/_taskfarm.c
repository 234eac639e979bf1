/*
 * _taskfarm.c - the CPython extension under the `taskfarm` package: one
 * type, Farm, that holds a libtaskfarm farm of forked worker processes,
 * and a few functions (cpus, version, progress_format).
 *
 * DESIGN
 *   - The bytes are the contract. The Python layer (taskfarm/_core.py)
 *     turns calls into input bytes (pickles) and result bytes back into
 *     values; this file only moves bytes between it and the engine. Each
 *     farm has one `worker` callable, fixed when the farm is made (before
 *     any fork), that a worker process calls with a task's input bytes and
 *     that returns its result bytes: so any function and any data can go
 *     to one set of workers, run after run, inside the inputs.
 *   - The GIL. Farm.run releases it for the whole engine run; the input,
 *     result, error and progress callbacks run in the caller's thread and
 *     take it back only while they call Python.
 *   - Forks. The engine forks workers inside a run, while this thread has
 *     released the GIL. In the child the start hook makes this thread's
 *     state current again and calls PyOS_AfterFork_Child(), which rebuilds
 *     the GIL and the interpreter's locks for the one thread that exists
 *     now and runs os.register_at_fork's child hooks, as os.fork() does.
 *     That is only safe when no other thread of the caller was running
 *     Python at the fork: the Python layer warns (RuntimeWarning) when the
 *     process has other threads, as Python 3.12's os.fork does.
 *   - In a worker the run's `user` pointer is not usable (the worker is a
 *     fork made at the farm's first run and later runs' memory is not in
 *     it), so the task callback reads the farm from the one piece of
 *     per-process state here, `child`, set by the start hook: a worker
 *     process belongs to exactly one farm.
 *   - Errors. A Python exception in a callback cancels the run and is
 *     raised by Farm.run when the run has returned. A signal (SIGINT,
 *     SIGTERM) ends the run with TF_EINTR: Python's own handlers run then
 *     (PyErr_CheckSignals), and if none raised, SIGINT raises
 *     KeyboardInterrupt and SIGTERM taskfarm.Terminated.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "taskfarm.h"

static PyObject *Terminated;   /* taskfarm.Terminated */
static PyObject *JournalError; /* taskfarm.JournalError */

typedef struct {
    PyObject_HEAD
    tf_farm *farm;
    PyObject *worker;        /* worker(memoryview) -> bytes, in workers */
    PyObject *init;          /* init() once per worker, or None */
    PyThreadState *fork_ts;  /* the state of the thread whose run forks */
    struct run_ctx *cur;     /* the run in progress, for its progress */
    int running;
    /* The process that made the farm: a forked worker holds a copy of
     * every farm object of its parent, whose workers are not its own. */
    pid_t owner;
    /* The caller's CPUs, which an unpinned worker gets back: the engine
     * pins worker i to CPU i when there are enough. */
    int unpin;
    cpu_set_t cpus;
} FarmObject;

/* The worker side: the farm this process works for, and its thread state
 * while the engine (not Python) runs. Set once, by the start hook. */
static struct {
    FarmObject *farm;
    PyThreadState *ts;
} child;

/* ------------------------------------------------------------------------ */
/* In the worker process                                                    */
/* ------------------------------------------------------------------------ */

static int worker_start(void *user, int worker)
{
    (void)worker;
    FarmObject *f = user;
    child.farm = f;
    if (f->unpin)
        (void)sched_setaffinity(0, sizeof f->cpus, &f->cpus); /* best effort */
    PyThreadState_Swap(f->fork_ts);
    PyOS_AfterFork_Child(); /* now holds the GIL */
    int rc = 0;
    if (f->init != Py_None) {
        PyObject *r = PyObject_CallNoArgs(f->init);
        if (r == NULL) {
            PyErr_Print(); /* the worker's stderr: the caller sees why */
            rc = 1;
        }
        Py_XDECREF(r);
    }
    child.ts = PyEval_SaveThread();
    return rc;
}

/* Says why a task failed in its 127 bytes, from the pending exception. */
static void task_error_message(tf_out *out)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *s = value != NULL ? PyObject_Str(value) : NULL;
    const char *text = s != NULL ? PyUnicode_AsUTF8(s) : NULL;
    tf_out_error(out, text != NULL ? text : "the worker function failed");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static int worker_task(void *user, size_t index, tf_out *out)
{
    (void)user;
    (void)index;
    PyEval_RestoreThread(child.ts);
    int rc = 0;
    PyObject *in = PyMemoryView_FromMemory((char *)tf_in_data(out),
                                           (Py_ssize_t)tf_in_len(out),
                                           PyBUF_READ);
    PyObject *r = in != NULL ? PyObject_CallOneArg(child.farm->worker, in)
                             : NULL;
    if (r != NULL && PyBytes_Check(r)) {
        if (tf_out_append(out, PyBytes_AS_STRING(r),
                          (size_t)PyBytes_GET_SIZE(r)) != 0) {
            tf_out_error(out, "out of memory for the result");
            rc = 1;
        }
    } else {
        if (r != NULL)
            PyErr_SetString(PyExc_TypeError, "worker must return bytes");
        task_error_message(out);
        rc = 1;
    }
    Py_XDECREF(r);
    if (in != NULL) {
        PyObject *done = PyObject_CallMethod(in, "release", NULL);
        if (done == NULL)
            PyErr_Clear(); /* a view still exported: freed with `in` */
        Py_XDECREF(done);
        Py_DECREF(in);
    }
    child.ts = PyEval_SaveThread();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* In the caller: one run                                                   */
/* ------------------------------------------------------------------------ */

typedef struct run_ctx {
    PyThreadState *ts;
    PyObject *get_input, *on_result, *on_error, *on_progress;
    PyObject *exc_type, *exc_value, *exc_tb; /* a callback's exception */
} run_ctx;

static void enter(run_ctx *c)
{
    PyEval_RestoreThread(c->ts);
}

static void leave(run_ctx *c)
{
    c->ts = PyEval_SaveThread();
}

/* A callback's result: 0 to go on, 1 to stop the run (its return value
 * is true, or it raised: the first exception is kept for the caller). */
static int verdict(run_ctx *c, PyObject *r)
{
    if (r == NULL) {
        if (c->exc_type == NULL)
            PyErr_Fetch(&c->exc_type, &c->exc_value, &c->exc_tb);
        else
            PyErr_Clear();
        return 1;
    }
    int stop = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (stop < 0)
        return verdict(c, NULL);
    return stop;
}

static int run_input(void *user, size_t index, tf_out *in)
{
    run_ctx *c = user;
    enter(c);
    PyObject *r = PyObject_CallFunction(c->get_input, "n", (Py_ssize_t)index);
    int rc = 0;
    if (r != NULL && !PyBytes_Check(r)) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "get_input must return bytes");
        r = NULL;
    }
    if (r == NULL) {
        rc = verdict(c, NULL);
    } else {
        if (tf_out_append(in, PyBytes_AS_STRING(r),
                          (size_t)PyBytes_GET_SIZE(r)) != 0) {
            PyErr_NoMemory();
            rc = verdict(c, NULL);
        }
        Py_DECREF(r);
    }
    leave(c);
    return rc;
}

static int run_result(void *user, size_t index, const void *data, size_t len)
{
    run_ctx *c = user;
    enter(c);
    PyObject *r = PyObject_CallFunction(c->on_result, "ny#", (Py_ssize_t)index,
                                        (const char *)data, (Py_ssize_t)len);
    int rc = verdict(c, r);
    leave(c);
    return rc;
}

static int run_error(void *user, const tf_task_error *e)
{
    run_ctx *c = user;
    enter(c);
    PyObject *r = PyObject_CallFunction(c->on_error, "niiis", (Py_ssize_t)e->index,
                                        (int)e->kind, e->code, e->attempts,
                                        e->message);
    int rc = verdict(c, r);
    leave(c);
    return rc;
}

static void run_progress(void *user, size_t done, size_t total, double elapsed)
{
    run_ctx *c = user;
    enter(c);
    PyObject *r = PyObject_CallFunction(c->on_progress, "nnd", (Py_ssize_t)done,
                                        (Py_ssize_t)total, elapsed);
    if (r == NULL)
        PyErr_Clear(); /* progress is advisory */
    Py_XDECREF(r);
    leave(c);
}

static PyObject *report_dict(const tf_report *r)
{
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:n,s:n,s:i,s:i,s:d}",
                         "n_tasks", (Py_ssize_t)r->n_tasks,
                         "n_ok", (Py_ssize_t)r->n_ok,
                         "n_replayed", (Py_ssize_t)r->n_replayed,
                         "n_failed", (Py_ssize_t)r->n_failed,
                         "n_retried", (Py_ssize_t)r->n_retried,
                         "n_not_run", (Py_ssize_t)r->n_not_run,
                         "n_workers", r->n_workers, "signal", r->signal,
                         "seconds", r->seconds);
}

/* After a run that a signal ended: Python's handlers first (a user's
 * SIGTERM handler, the default SIGINT one), then ours. */
static PyObject *raise_for_signal(int signo)
{
    if (PyErr_CheckSignals() != 0)
        return NULL;
    if (signo == SIGINT)
        PyErr_SetNone(PyExc_KeyboardInterrupt);
    else
        PyErr_Format(Terminated, "taskfarm: the run was stopped by signal %d "
                     "(%s); the workers are gone", signo, strsignal(signo));
    return NULL;
}

/* A refused journal: which file, why, and for an I/O problem the system's
 * word (the problem's text says "see the system error"). */
static PyObject *raise_journal(const tf_report *rep, PyObject *jpath)
{
    const char *path = jpath != NULL ? PyBytes_AS_STRING(jpath) : "?";
    const char *why = tf_journal_problem_text(rep->journal_problem);
    if (rep->journal_problem == TF_JOURNAL_IO && rep->sys_errno != 0)
        PyErr_Format(JournalError, "taskfarm: the journal %s cannot be used: "
                     "%s: %s", path, why, strerror(rep->sys_errno));
    else
        PyErr_Format(JournalError, "taskfarm: the journal %s cannot be used: "
                     "%s", path, why);
    return NULL;
}

static PyObject *finish_run(run_ctx *c, int rc, const tf_report *rep,
                            PyObject *jpath)
{
    if (c->exc_type != NULL) {
        PyErr_Restore(c->exc_type, c->exc_value, c->exc_tb);
        return NULL;
    }
    if (rc == TF_EINTR)
        return raise_for_signal(rep->signal);
    if (rc == TF_EJOURNAL)
        return raise_journal(rep, jpath);
    if (rc == TF_ENOMEM)
        return PyErr_NoMemory();
    if (rc == TF_ESYS) {
        errno = rep->sys_errno;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (rc != 0 && rc != TF_ETASKS && rc != TF_ECANCELED && rc != TF_ESTOPPED) {
        PyErr_Format(PyExc_RuntimeError, "taskfarm: %s", tf_strerror(rc));
        return NULL;
    }
    PyObject *d = report_dict(rep);
    return d != NULL ? Py_BuildValue("iN", rc, d) : NULL;
}

static PyObject *Farm_run(FarmObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"n_tasks", "get_input", "on_result", "on_error",
                            "ordered", "journal", "key", "progress", NULL};
    Py_ssize_t n;
    run_ctx c = {0};
    int ordered = 1;
    PyObject *journal = Py_None, *progress = Py_None;
    Py_buffer key = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "nOOO|pOy*O", names, &n,
                                     &c.get_input, &c.on_result, &c.on_error,
                                     &ordered, &journal, &key, &progress))
        return NULL;
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.on_input = run_input;
    ro.order = ordered ? TF_RUN_ORDER_INDEX : TF_RUN_ORDER_COMPLETED;
    PyObject *jpath = NULL;
    if (journal != Py_None) {
        if (!PyUnicode_FSConverter(journal, &jpath))
            goto fail;
        ro.journal = PyBytes_AS_STRING(jpath);
        ro.journal_key = key.buf;
        ro.journal_key_len = (size_t)key.len;
    }
    if (self->farm == NULL || self->running || n < 0) {
        PyErr_SetString(PyExc_RuntimeError, self->farm == NULL
                        ? "taskfarm: the pool is closed"
                        : n < 0 ? "taskfarm: negative task count"
                                : "taskfarm: the pool is already running "
                                  "(a call from a callback or another thread)");
        goto fail;
    }
    if (progress != Py_None)
        c.on_progress = progress;
    tf_report rep;
    self->running = 1;
    self->fork_ts = PyThreadState_Get();
    self->cur = &c;
    c.ts = PyEval_SaveThread();
    int rc = tf_farm_run_with(self->farm, &ro, (size_t)n, worker_task,
                              run_result, run_error, &c, &rep);
    PyEval_RestoreThread(c.ts);
    self->cur = NULL;
    self->running = 0;
    PyObject *r = finish_run(&c, rc, &rep, jpath);
    Py_XDECREF(jpath);
    PyBuffer_Release(&key);
    return r;
fail:
    Py_XDECREF(jpath);
    PyBuffer_Release(&key);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The Farm type                                                            */
/* ------------------------------------------------------------------------ */

/* The engine's progress callback is a farm option, but the Python callable
 * belongs to the run: it is found through the run's context. */
static void farm_progress(void *user, size_t done, size_t total, double elapsed)
{
    FarmObject *f = user;
    if (f->cur != NULL && f->cur->on_progress != NULL)
        run_progress(f->cur, done, total, elapsed);
}

static void close_farm(FarmObject *self)
{
    tf_farm *farm = self->farm;
    self->farm = NULL;
    /* A copy in a worker (a Pool its task drops, or that the GC finds
     * there) only forgets: destroying would kill the parent's workers. */
    if (farm != NULL && self->owner == getpid()) {
        Py_BEGIN_ALLOW_THREADS
        tf_farm_destroy(farm);
        Py_END_ALLOW_THREADS
    }
}

static int Farm_init(FarmObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"worker", "n_jobs", "timeout", "retries", "grace",
                            "init", "progress_interval", "pinned", NULL};
    PyObject *worker, *init = Py_None;
    int n_jobs = 0, retries = 0, pinned = 1;
    double timeout = 0.0, grace = 0.0, interval = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|ididOdp", names, &worker,
                                     &n_jobs, &timeout, &retries, &grace,
                                     &init, &interval, &pinned))
        return -1;
    if (self->farm != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Farm already initialised");
        return -1;
    }
    self->unpin = !pinned &&
                  sched_getaffinity(0, sizeof self->cpus, &self->cpus) == 0;
    Py_INCREF(worker);
    Py_XSETREF(self->worker, worker);
    Py_INCREF(init);
    Py_XSETREF(self->init, init);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_PROCS;
    o.n_jobs = n_jobs;
    o.task_timeout = timeout;
    o.retries = retries;
    o.grace_seconds = grace;
    o.on_worker_start = worker_start;
    o.worker_user = self;
    o.order = TF_ORDER_COMPLETED;
    o.batch_size = 1; /* the Python layer cuts the chunks, and times them */
    o.on_progress = farm_progress;
    o.progress_user = self;
    o.progress_interval = interval;
    int rc = tf_farm_create(&self->farm, &o);
    self->owner = getpid();
    if (rc != 0) {
        self->farm = NULL;
        /* PyErr_Format knows no %g: the message is made by snprintf. */
        char msg[256];
        snprintf(msg, sizeof msg, "taskfarm: cannot make the pool (n_jobs=%d, "
                 "timeout=%g, retries=%d): %s", n_jobs, timeout, retries,
                 tf_strerror(rc));
        PyErr_SetString(PyExc_ValueError, msg);
        return -1;
    }
    return 0;
}

static void Farm_dealloc(FarmObject *self)
{
    close_farm(self);
    Py_XDECREF(self->worker);
    Py_XDECREF(self->init);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Farm_close(FarmObject *self, PyObject *unused)
{
    (void)unused;
    if (self->running) {
        PyErr_SetString(PyExc_RuntimeError, "taskfarm: the pool is running");
        return NULL;
    }
    close_farm(self);
    Py_RETURN_NONE;
}

static PyObject *Farm_cancel(FarmObject *self, PyObject *unused)
{
    (void)unused;
    if (self->farm != NULL)
        tf_farm_cancel(self->farm);
    Py_RETURN_NONE;
}

static PyObject *Farm_workers(FarmObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromLong(self->farm != NULL ? tf_farm_workers(self->farm) : 0);
}

static PyObject *Farm_closed(FarmObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->farm == NULL);
}

static PyMethodDef Farm_methods[] = {
    {"run", (PyCFunction)(void (*)(void))Farm_run, METH_VARARGS | METH_KEYWORDS,
     "run(n_tasks, get_input, on_result, on_error, ordered=True, journal=None,"
     " key=b'', progress=None) -> (rc, report)"},
    {"close", (PyCFunction)Farm_close, METH_NOARGS,
     "Stop and reap the workers."},
    {"cancel", (PyCFunction)Farm_cancel, METH_NOARGS,
     "Ask the run in progress to stop (any thread)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Farm_getset[] = {
    {"workers", (getter)Farm_workers, NULL, "number of worker processes", NULL},
    {"closed", (getter)Farm_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject FarmType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "taskfarm._taskfarm.Farm",
    .tp_basicsize = sizeof(FarmObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Farm(worker, n_jobs=0, timeout=0.0, retries=0, grace=0.0, "
              "init=None, progress_interval=0.0, pinned=True): forked worker "
              "processes that call worker(bytes) -> bytes; pinned=False gives "
              "them the caller's CPUs back",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Farm_init,
    .tp_dealloc = (destructor)Farm_dealloc,
    .tp_methods = Farm_methods,
    .tp_getset = Farm_getset,
};

/* ------------------------------------------------------------------------ */
/* delayed(f): joblib's call recorder, in C                                 */
/* ------------------------------------------------------------------------ */

/* Parallel users write delayed(f)(x) once per task, so its cost is a
 * per-task cost: in C, called by vectorcall (the interpreter packs no
 * argument tuple), and what it returns is one object, a Call, not
 * joblib's tuple of a function, an argument tuple and a dict: a Call is
 * that triple for everything joblib code does with it (unpack, index,
 * len, iterate, compare with a tuple, repr; it pickles as the tuple
 * itself), but it makes the argument tuple and the dict only when they are
 * asked for, once (a change to the dict stays), and take_delayed reads the
 * arguments without making either. Three allocations and three frees per
 * task became one. What it is not: a tuple (isinstance(c, tuple) is
 * false; tuple(c) is the triple). */
typedef struct {
    PyObject_VAR_HEAD      /* ob_size: positional arguments + keywords */
    PyObject *function;
    PyObject *kwnames;     /* the keywords' names (the call site's), or NULL */
    PyObject *args;        /* the argument tuple, once asked for */
    PyObject *kwargs;      /* the keyword dict, once asked for */
    PyObject *argv[1];     /* the positional arguments, then keyword values */
} CallObject;

static PyTypeObject CallType;

static Py_ssize_t call_nargs(const CallObject *c)
{
    return Py_SIZE(c) - (c->kwnames != NULL ? PyTuple_GET_SIZE(c->kwnames) : 0);
}

/* The argument tuple (borrowed), made on first use. */
static PyObject *call_args(CallObject *c)
{
    if (c->args == NULL) {
        Py_ssize_t n = call_nargs(c);
        PyObject *t = PyTuple_New(n);
        if (t == NULL)
            return NULL;
        for (Py_ssize_t i = 0; i < n; i++)
            PyTuple_SET_ITEM(t, i, Py_NewRef(c->argv[i]));
        c->args = t;
    }
    return c->args;
}

/* The keyword dict (borrowed), made on first use. */
static PyObject *call_kwargs(CallObject *c)
{
    if (c->kwargs == NULL) {
        PyObject *d = PyDict_New();
        Py_ssize_t nargs = call_nargs(c);
        for (Py_ssize_t i = 0; d != NULL && i < Py_SIZE(c) - nargs; i++)
            if (PyDict_SetItem(d, PyTuple_GET_ITEM(c->kwnames, i),
                               c->argv[nargs + i]) != 0)
                Py_CLEAR(d);
        c->kwargs = d;
    }
    return c->kwargs;
}

/* (function, args, kwargs), a new tuple. */
static PyObject *call_tuple(CallObject *c)
{
    PyObject *a = call_args(c), *k = a != NULL ? call_kwargs(c) : NULL;
    return k != NULL ? PyTuple_Pack(3, c->function, a, k) : NULL;
}

static Py_ssize_t Call_len(PyObject *self)
{
    (void)self;
    return 3;
}

static PyObject *Call_item(PyObject *self, Py_ssize_t i)
{
    CallObject *c = (CallObject *)self;
    PyObject *r = i == 0   ? c->function
                  : i == 1 ? call_args(c)
                  : i == 2 ? call_kwargs(c)
                           : NULL;
    if (r == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_IndexError, "tuple index out of range");
    return Py_XNewRef(r);
}

static PyObject *Call_subscript(PyObject *self, PyObject *key)
{
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return NULL;
        return Call_item(self, i < 0 ? i + 3 : i);
    }
    PyObject *t = call_tuple((CallObject *)self); /* slices: the tuple's */
    PyObject *r = t != NULL ? PyObject_GetItem(t, key) : NULL;
    Py_XDECREF(t);
    return r;
}

static PyObject *Call_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyTuple_Check(other) && !Py_IS_TYPE(other, &CallType))
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *a = call_tuple((CallObject *)self);
    PyObject *b = Py_IS_TYPE(other, &CallType)
                      ? call_tuple((CallObject *)other) : Py_NewRef(other);
    PyObject *r = a != NULL && b != NULL ? PyObject_RichCompare(a, b, op)
                                         : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return r;
}

static PyObject *Call_repr(PyObject *self)
{
    PyObject *t = call_tuple((CallObject *)self);
    PyObject *r = t != NULL ? PyObject_Repr(t) : NULL;
    Py_XDECREF(t);
    return r;
}

static PyObject *Call_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *t = call_tuple((CallObject *)self);
    return t != NULL ? Py_BuildValue("(O(N))", &PyTuple_Type, t) : NULL;
}

static int Call_traverse(PyObject *self, visitproc visit, void *arg)
{
    CallObject *c = (CallObject *)self;
    Py_VISIT(c->function);
    Py_VISIT(c->kwnames);
    Py_VISIT(c->args);
    Py_VISIT(c->kwargs);
    for (Py_ssize_t i = 0; i < Py_SIZE(c); i++)
        Py_VISIT(c->argv[i]);
    return 0;
}

static int Call_clear(PyObject *self)
{
    CallObject *c = (CallObject *)self;
    Py_CLEAR(c->function);
    Py_CLEAR(c->kwnames);
    Py_CLEAR(c->args);
    Py_CLEAR(c->kwargs);
    for (Py_ssize_t i = 0; i < Py_SIZE(c); i++)
        Py_CLEAR(c->argv[i]);
    return 0;
}

/* Calls of one argument, delayed(f)(x), the usual kind, are kept for
 * reuse when freed, as CPython keeps tuples: a generator of them then
 * allocates and frees nothing, since each is freed (by take_delayed)
 * before the next is made. */
#define CALL_FREE_MAX 64
static CallObject *call_free[CALL_FREE_MAX];
static int n_call_free;

static void Call_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    Call_clear(self);
    if (Py_SIZE(self) == 1 && n_call_free < CALL_FREE_MAX) {
        call_free[n_call_free++] = (CallObject *)self; /* untracked, cleared */
        return;
    }
    Py_TYPE(self)->tp_free(self);
}

static PySequenceMethods Call_as_sequence = {
    .sq_length = Call_len,
    .sq_item = Call_item,
};

static PyMappingMethods Call_as_mapping = {
    .mp_length = Call_len,
    .mp_subscript = Call_subscript,
};

static PyMethodDef Call_methods[] = {
    {"__reduce__", Call_reduce, METH_NOARGS, "pickles as (f, args, kwargs)"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject CallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "taskfarm._taskfarm.Call",
    .tp_basicsize = offsetof(CallObject, argv),
    .tp_itemsize = sizeof(PyObject *),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "delayed(f)(*args, **kwargs): (f, args, kwargs) as joblib's, "
              "its tuple and dict made when asked for",
    .tp_dealloc = Call_dealloc,
    .tp_traverse = Call_traverse,
    .tp_clear = Call_clear,
    .tp_as_sequence = &Call_as_sequence,
    .tp_as_mapping = &Call_as_mapping,
    .tp_richcompare = Call_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_repr = Call_repr,
    .tp_methods = Call_methods,
};

typedef struct {
    PyObject_HEAD
    PyObject *function;
    vectorcallfunc vectorcall;
} DelayedObject;

static PyObject *Delayed_vectorcall(PyObject *callable, PyObject *const *argv,
                                    size_t nargsf, PyObject *kwnames)
{
    DelayedObject *self = (DelayedObject *)callable;
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf) + nkw;
    CallObject *c;
    if (n == 1 && n_call_free > 0) {
        c = call_free[--n_call_free];
        (void)PyObject_InitVar((PyVarObject *)c, &CallType, 1);
    } else {
        c = PyObject_GC_NewVar(CallObject, &CallType, n);
        if (c == NULL)
            return NULL;
    }
    c->function = Py_NewRef(self->function);
    c->kwnames = nkw > 0 ? Py_NewRef(kwnames) : NULL;
    c->args = c->kwargs = NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        c->argv[i] = Py_NewRef(argv[i]);
    PyObject_GC_Track(c);
    return (PyObject *)c;
}

static void Delayed_dealloc(DelayedObject *self)
{
    Py_XDECREF(self->function);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Delayed_getattro(DelayedObject *self, PyObject *name)
{
    PyObject *r = PyObject_GenericGetAttr((PyObject *)self, name);
    if (r != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return r;
    PyErr_Clear(); /* __name__, __doc__ ...: the function's */
    return PyObject_GetAttr(self->function, name);
}

static PyObject *Delayed_repr(DelayedObject *self)
{
    return PyUnicode_FromFormat("delayed(%R)", self->function);
}

static PyTypeObject DelayedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "taskfarm._taskfarm.Delayed",
    .tp_basicsize = sizeof(DelayedObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "delayed(f): calling it returns (f, args, kwargs), a Call",
    .tp_vectorcall_offset = offsetof(DelayedObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = (destructor)Delayed_dealloc,
    .tp_getattro = (getattrofunc)Delayed_getattro,
    .tp_repr = (reprfunc)Delayed_repr,
};

/* The last delayed(f) made: a generator asks for the same f each time. */
static DelayedObject *last_delayed;

static PyObject *mod_delayed(PyObject *m, PyObject *function)
{
    (void)m;
    if (last_delayed == NULL || last_delayed->function != function) {
        DelayedObject *d = PyObject_New(DelayedObject, &DelayedType);
        if (d == NULL)
            return NULL;
        Py_INCREF(function);
        d->function = function;
        d->vectorcall = Delayed_vectorcall;
        Py_XSETREF(last_delayed, d);
    }
    Py_INCREF(last_delayed);
    return (PyObject *)last_delayed;
}

/* take_delayed(iterable) -> (function, mode, items): Parallel's input,
 * consumed here at C speed. Delayed calls of one function without keywords
 * (the usual `delayed(f)(x) for x in ...`) become a plain map of f, items
 * [x, ...] (mode 0), or a starmap, items [args, ...] (mode 1), and each
 * call (a Call, or a tuple (f, args, kwargs)) is dropped as soon as it is
 * read: nothing of it is kept but x, so its memory is reused by the next
 * one. Anything else gives (None, 2, [call, ...]), the items as they
 * came. The cyclic GC is
 * paused meanwhile: the items kept would otherwise trigger it hundreds of
 * times for nothing. */
enum { TAKE_CALL = 0, TAKE_STAR = 1, TAKE_MIXED = 2 };

/* A delayed call without keywords, read without making anything: a Call,
 * or a tuple (f, args, {}) with args a tuple. */
typedef struct {
    PyObject *fn;
    PyObject *const *argv;
    Py_ssize_t nargs;
    PyObject *item;
} plain;

static int plain_call(PyObject *item, plain *p)
{
    p->item = item;
    if (Py_IS_TYPE(item, &CallType)) {
        CallObject *c = (CallObject *)item;
        if (c->kwnames != NULL ||
            (c->kwargs != NULL && PyDict_GET_SIZE(c->kwargs) != 0))
            return 0;
        p->fn = c->function;
        p->argv = c->argv;
        p->nargs = Py_SIZE(c);
        return 1;
    }
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 3)
        return 0;
    PyObject *a = PyTuple_GET_ITEM(item, 1), *kw = PyTuple_GET_ITEM(item, 2);
    if (!PyTuple_Check(a))
        return 0;
    if (!PyDict_CheckExact(kw) || PyDict_GET_SIZE(kw) != 0)
        return 0;
    p->fn = PyTuple_GET_ITEM(item, 0);
    p->argv = &PyTuple_GET_ITEM(a, 0);
    p->nargs = PyTuple_GET_SIZE(a);
    return 1;
}

/* Its argument tuple (borrowed). */
static PyObject *plain_args(const plain *p)
{
    return Py_IS_TYPE(p->item, &CallType) ? call_args((CallObject *)p->item)
                                          : PyTuple_GET_ITEM(p->item, 1);
}

/* The kept items of function fn in `mode` back as triples (fn, args, {}),
 * or as 1-tuples (x,) for TAKE_STAR. */
static int take_widen(PyObject *items, PyObject *fn, int mode, int to)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *e = PyList_GET_ITEM(items, i);
        PyObject *args = mode == TAKE_CALL ? PyTuple_Pack(1, e) : e;
        if (args == NULL)
            return -1;
        if (mode != TAKE_CALL)
            Py_INCREF(args);
        PyObject *w = args;
        if (to == TAKE_MIXED) {
            PyObject *kw = PyDict_New();
            w = kw != NULL ? PyTuple_Pack(3, fn, args, kw) : NULL;
            Py_XDECREF(kw);
            Py_DECREF(args);
            if (w == NULL)
                return -1;
        }
        PyList_SET_ITEM(items, i, w); /* steals w, e released below */
        Py_DECREF(e);
    }
    return 0;
}

static int take_one(PyObject *items, PyObject *item, PyObject **first,
                    int *mode)
{
    plain p;
    if (*mode != TAKE_MIXED && plain_call(item, &p) &&
        (*first == NULL || p.fn == *first)) {
        if (*first == NULL)
            *first = Py_NewRef(p.fn);
        if (*mode == TAKE_CALL && p.nargs == 1)
            return PyList_Append(items, p.argv[0]);
        PyObject *args = plain_args(&p);
        if (args == NULL)
            return -1;
        if (*mode == TAKE_CALL) {
            if (take_widen(items, *first, TAKE_CALL, TAKE_STAR) != 0)
                return -1;
            *mode = TAKE_STAR;
        }
        return PyList_Append(items, args);
    }
    if (*mode != TAKE_MIXED) {
        if (*first != NULL &&
            take_widen(items, *first, *mode, TAKE_MIXED) != 0)
            return -1;
        *mode = TAKE_MIXED;
    }
    return PyList_Append(items, item);
}

static PyObject *mod_take_delayed(PyObject *m, PyObject *iterable)
{
    (void)m;
    PyObject *it = PyObject_GetIter(iterable);
    if (it == NULL)
        return NULL;
    PyObject *items = PyList_New(0), *first = NULL, *item;
    int mode = TAKE_CALL, gc_was = PyGC_Disable();
    while (items != NULL && (item = PyIter_Next(it)) != NULL) {
        int rc = take_one(items, item, &first, &mode);
        Py_DECREF(item);
        if (rc != 0)
            Py_CLEAR(items);
    }
    if (gc_was)
        PyGC_Enable();
    Py_DECREF(it);
    if (items == NULL || PyErr_Occurred()) {
        Py_XDECREF(items);
        Py_XDECREF(first);
        return NULL;
    }
    if (first == NULL || mode == TAKE_MIXED) {
        Py_XDECREF(first);
        first = Py_NewRef(Py_None);
        mode = TAKE_MIXED;
    }
    return Py_BuildValue("NiN", first, mode, items);
}

/* ------------------------------------------------------------------------ */
/* Module functions                                                         */
/* ------------------------------------------------------------------------ */

static PyObject *mod_cpus(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    tf_cpus c;
    tf_cpus_detect(&c);
    return Py_BuildValue("is", c.count, tf_cpus_source_name(c.source));
}

static PyObject *mod_version(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyUnicode_FromString(tf_version_string());
}

static PyObject *mod_progress_format(PyObject *m, PyObject *args)
{
    (void)m;
    Py_ssize_t done, total;
    double elapsed;
    if (!PyArg_ParseTuple(args, "nnd", &done, &total, &elapsed))
        return NULL;
    char buf[160];
    tf_progress_format(buf, sizeof buf, (size_t)done, (size_t)total, elapsed);
    return PyUnicode_FromString(buf);
}

static PyObject *mod_resolve_jobs(PyObject *m, PyObject *args)
{
    (void)m;
    int n_jobs;
    if (!PyArg_ParseTuple(args, "i", &n_jobs))
        return NULL;
    tf_cpus c;
    tf_cpus_detect(&c);
    int w = tf_resolve_jobs(n_jobs == 0 ? -1 : n_jobs, c.count);
    if (w < 0) {
        PyErr_Format(PyExc_ValueError, "taskfarm: n_jobs=%d with %d CPUs: %s",
                     n_jobs, c.count, tf_strerror(w));
        return NULL;
    }
    return PyLong_FromLong(w);
}

/* call_each(call, items, values, marks, slot, mark): appends call(x) to
 * values for items[len(values):], and before item j stores mark + j in
 * the int64 marks[slot] (a mapping the workers share with the caller):
 * if the worker dies, the caller knows the item. In C, the store costs
 * nothing next to the call; a raised exception propagates, values then
 * holds the items done before it. */
static PyObject *mod_call_each(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *call, *items, *values, *marks;
    Py_ssize_t slot;
    long long mark;
    if (!PyArg_ParseTuple(args, "OO!O!OnL", &call, &PyList_Type, &items,
                          &PyList_Type, &values, &marks, &slot, &mark))
        return NULL;
    Py_buffer b;
    if (PyObject_GetBuffer(marks, &b, PyBUF_WRITABLE) != 0)
        return NULL;
    if (slot < 0 || (size_t)(slot + 1) * sizeof(int64_t) > (size_t)b.len) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_IndexError, "call_each: slot out of range");
        return NULL;
    }
    volatile int64_t *at = (int64_t *)b.buf + slot;
    PyObject *rc = Py_None;
    for (Py_ssize_t j = PyList_GET_SIZE(values); j < PyList_GET_SIZE(items);
         j++) {
        *at = (int64_t)(mark + j);
        PyObject *x = PyList_GET_ITEM(items, j);
        Py_INCREF(x); /* the call may change the list */
        PyObject *r = PyObject_CallOneArg(call, x);
        Py_DECREF(x);
        if (r == NULL || PyList_Append(values, r) != 0) {
            Py_XDECREF(r);
            rc = NULL;
            break;
        }
        Py_DECREF(r);
    }
    PyBuffer_Release(&b);
    Py_XINCREF(rc);
    return rc;
}

static PyMethodDef mod_methods[] = {
    {"call_each", mod_call_each, METH_VARARGS,
     "call_each(call, items, values, marks, slot, mark): values += "
     "[call(x) ...], noting each item's place in marks[slot]"},
    {"take_delayed", mod_take_delayed, METH_O,
     "take_delayed(iterable) -> (function, mode, items): delayed calls of "
     "one function as a map (0) or starmap (1) of it, else (None, 2, list)"},
    {"delayed", mod_delayed, METH_O,
     "delayed(f)(*args, **kwargs) -> (f, args, kwargs), as joblib's"},
    {"cpus", mod_cpus, METH_NOARGS,
     "cpus() -> (count, source): the CPUs this process may use, and which "
     "limit decided it (Slurm, cgroup, affinity mask...)."},
    {"version", mod_version, METH_NOARGS, "libtaskfarm's version string"},
    {"progress_format", mod_progress_format, METH_VARARGS,
     "progress_format(done, total, elapsed) -> one-line progress bar"},
    {"resolve_jobs", mod_resolve_jobs, METH_VARARGS,
     "resolve_jobs(n_jobs) -> workers (negative: CPUs + 1 + n_jobs)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_taskfarm",
                                    "libtaskfarm for Python (see taskfarm)",
                                    -1, mod_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__taskfarm(void)
{
    if (PyType_Ready(&FarmType) < 0 || PyType_Ready(&DelayedType) < 0 ||
        PyType_Ready(&CallType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Terminated = PyErr_NewExceptionWithDoc(
        "taskfarm.Terminated",
        "The run was stopped by SIGTERM (Slurm's time limit, scancel): the "
        "workers are reaped; a run with a journal resumes where it stopped.",
        PyExc_BaseException, NULL);
    JournalError = PyErr_NewExceptionWithDoc(
        "taskfarm.JournalError",
        "The journal file belongs to another call, another version, or is "
        "damaged or in use.", PyExc_RuntimeError, NULL);
    if (Terminated == NULL || JournalError == NULL ||
        PyModule_AddObjectRef(m, "Farm", (PyObject *)&FarmType) < 0 ||
        PyModule_AddObjectRef(m, "Terminated", Terminated) < 0 ||
        PyModule_AddObjectRef(m, "JournalError", JournalError) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
