/*
 * farm.c - the farm handle, option checks, and the run that every backend
 * drives: set up the scheduler and the delivery, let the backend work, then
 * turn what happened into one return code and a report.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Compute time a batch should take when its size is automatic: long enough
 * that a lock or a pipe message per batch costs well under 1% of it, short
 * enough that the last batches still balance. */
#define TARGET_BATCH_SECONDS 0.002
#define MAX_RETRIES 100

const char *tf_strerror(int code)
{
    switch (code) {
    case TF_OK:
        return "success";
#define TF__ERR_CASE(name, val, msg) \
    case TF_##name:                  \
        return msg;
        TF_ERRNO_MAP(TF__ERR_CASE)
#undef TF__ERR_CASE
    default:
        return "unknown error";
    }
}

static const char *const backend_names[] = {"auto", "serial", "threads",
                                            "procs", "mpi"};
#define N_BACKENDS (sizeof(backend_names) / sizeof(backend_names[0]))

const char *tf_backend_name(tf_backend backend)
{
    if ((unsigned)backend >= N_BACKENDS)
        return "unknown";
    return backend_names[backend];
}

int tf_backend_parse(const char *name, tf_backend *out)
{
    if (name == NULL || out == NULL)
        return TF_EINVAL;
    for (size_t i = 0; i < N_BACKENDS; i++) {
        if (strcmp(name, backend_names[i]) == 0) {
            *out = (tf_backend)i;
            return 0;
        }
    }
    return TF_EINVAL;
}

int tf_resolve_jobs(int n_jobs, int cpus)
{
    if (cpus < 1)
        return TF_EINVAL;
    long n;
    if (n_jobs > 0)
        n = n_jobs;
    else if (n_jobs == 0)
        n = cpus;
    else
        n = (long)cpus + 1 + n_jobs; /* joblib: -1 = all, -2 = all but one */
    if (n < 1 || n > TF_MAX_JOBS)
        return TF_ERANGE;
    return (int)n;
}

double tf__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const tf__backend_ops *backend_ops(tf_backend b)
{
    switch (b) {
    case TF_BACKEND_SERIAL:
        return &tf__serial_ops;
    case TF_BACKEND_AUTO:
    case TF_BACKEND_THREADS:
        return &tf__threads_ops;
    case TF_BACKEND_PROCS:
        return &tf__procs_ops;
    case TF_BACKEND_MPI:
        return tf__mpi_backend();
    }
    return NULL;
}

static int check_options(const tf_options *o)
{
    if ((unsigned)o->backend >= N_BACKENDS)
        return TF_EINVAL;
    if (o->order != TF_ORDER_INDEX && o->order != TF_ORDER_COMPLETED)
        return TF_EINVAL;
    if (o->stop_on_error != 0 && o->stop_on_error != 1)
        return TF_EINVAL;
    if (o->keep_signals != 0 && o->keep_signals != 1)
        return TF_EINVAL;
    if (!(o->task_timeout >= 0) || isinf(o->task_timeout))
        return TF_EINVAL;
    if (o->retries < 0 || o->retries > MAX_RETRIES)
        return TF_ERANGE;
    if (o->batch_size > TF_MAX_TASKS)
        return TF_ERANGE;
    if (!(o->progress_interval >= 0) || isinf(o->progress_interval))
        return TF_EINVAL;
    return 0;
}

static int count_workers(const tf__backend_ops *ops, const tf_options *o)
{
    if (ops->workers != NULL)
        return ops->workers(o);
    if (o->backend == TF_BACKEND_SERIAL)
        return 1;
    tf_cpus cpus;
    tf_cpus_detect(&cpus);
    return tf_resolve_jobs(o->n_jobs, cpus.count);
}

int tf_farm_create(tf_farm **out, const tf_options *opts)
{
    static const tf_options defaults = TF_OPTIONS_INIT;
    if (out == NULL)
        return TF_EINVAL;
    *out = NULL;
    const tf_options *o = opts != NULL ? opts : &defaults;
    int rc = check_options(o);
    if (rc != 0)
        return rc;
    const tf__backend_ops *ops = backend_ops(o->backend);
    if (ops == NULL)
        return TF_ENOTBUILT;
    int workers = count_workers(ops, o);
    if (workers < 0)
        return workers;
    tf_farm *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return TF_ENOMEM;
    f->opts = *o;
    f->n_workers = workers;
    f->ops = ops;
    *out = f;
    return 0;
}

void tf_farm_destroy(tf_farm *farm)
{
    if (farm == NULL)
        return;
    if (farm->started)
        farm->ops->stop(farm);
    free(farm);
}

int tf_farm_workers(const tf_farm *farm)
{
    return farm != NULL ? farm->n_workers : TF_EINVAL;
}

size_t tf__run_pending_limit(const tf__run *r, int workers)
{
    (void)r;
    return 2 * (size_t)workers + 4;
}

int tf__run_must_wait(const tf__run *r, int workers)
{
    size_t limit = ((size_t)2 * (size_t)workers + 4) << 20;
    return r->deliver.ordered && r->sched.n_redo == 0 &&
           r->deliver.pending_bytes >= limit;
}

static void report_begin(tf_report *rep, size_t n_tasks, int workers)
{
    memset(rep, 0, sizeof(*rep));
    rep->n_tasks = n_tasks;
    rep->n_workers = workers;
}

int tf__run_check_signal(tf__run *r)
{
    int signo = r->watch_signals ? tf__signals_caught() : 0;
    if (signo == 0)
        return 0;
    r->interrupted = signo;
    tf__sched_stop(&r->sched);
    return 1;
}

static int run_result(const tf__run *r, int backend_rc)
{
    if (backend_rc != 0)
        return backend_rc;
    if (r->interrupted != 0)
        return TF_EINTR;
    if (r->deliver.status != 0)
        return r->deliver.status;
    return r->report->n_failed > 0 ? TF_ETASKS : 0;
}

static int start_workers(tf_farm *farm)
{
    if (farm->started)
        return 0;
    farm->sys_errno = 0;
    int rc = farm->ops->start(farm);
    if (rc == 0)
        farm->started = 1;
    return rc;
}

int tf_farm_run(tf_farm *farm, size_t n_tasks, tf_task_fn task,
                tf_result_fn on_result, tf_error_fn on_error, void *user,
                tf_report *report)
{
    tf_report scratch;
    tf_report *rep = report != NULL ? report : &scratch;
    report_begin(rep, n_tasks, farm != NULL ? farm->n_workers : 0);
    if (farm == NULL || task == NULL)
        return TF_EINVAL;
    if (n_tasks > TF_MAX_TASKS)
        return TF_ERANGE;
    if (farm->running)
        return TF_EBUSY;

    double t0 = tf__now();
    tf__run r = {.n_tasks = n_tasks, .task = task, .user = user,
                 .opts = &farm->opts, .report = rep,
                 .watch_signals = !farm->opts.keep_signals};
    tf__sched_init(&r.sched, n_tasks, farm->opts.batch_size, farm->n_workers,
                   TARGET_BATCH_SECONDS);
    tf__deliver_init(&r.deliver, n_tasks, &farm->opts, on_result, on_error,
                     user, rep);
    farm->running = 1;
    if (r.watch_signals)
        tf__signals_begin();
    int rc = start_workers(farm);
    if (rc != 0)
        r.sys_errno = farm->sys_errno;
    else if (n_tasks > 0)
        rc = farm->ops->run(farm, &r);
    if (r.watch_signals)
        tf__signals_end();
    if (rc == 0 && n_tasks > 0)
        tf__deliver_finish(&r.deliver);
    farm->running = 0;
    tf__sched_release(&r.sched);

    rep->n_not_run = n_tasks - rep->n_ok - rep->n_failed;
    rep->sys_errno = r.sys_errno;
    rep->signal = r.interrupted;
    rep->seconds = tf__now() - t0;
    return run_result(&r, rc);
}

int tf_map(const tf_options *opts, size_t n_tasks, tf_task_fn task,
           tf_result_fn on_result, tf_error_fn on_error, void *user,
           tf_report *report)
{
    tf_farm *farm = NULL;
    int rc = tf_farm_create(&farm, opts);
    if (rc != 0) {
        if (report != NULL)
            report_begin(report, n_tasks, 0);
        return rc;
    }
    rc = tf_farm_run(farm, n_tasks, task, on_result, on_error, user, report);
    tf_farm_destroy(farm);
    return rc;
}
