/*
 * farm.c - the farm handle, option checks, and the run that every backend
 * drives: set up the scheduler and the delivery, let the backend work, then
 * turn what happened into one return code and a report.
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Compute time a batch should take when its size is automatic: long enough
 * that a lock or a pipe message per batch costs well under 1% of it, short
 * enough that the last batches still balance. */
#define TARGET_BATCH_SECONDS 0.002
#define MAX_RETRIES 100

const char *tf_journal_problem_text(tf_journal_problem problem)
{
    switch (problem) {
    case TF_JOURNAL_OK:
        return "no problem";
    case TF_JOURNAL_IO:
        return "the journal could not be opened, read or written "
               "(see the system error)";
    case TF_JOURNAL_NOT_JOURNAL:
        return "the file is not a taskfarm journal: use another path";
    case TF_JOURNAL_OTHER_VERSION:
        return "the journal was written by another version of taskfarm: "
               "delete it or use another path";
    case TF_JOURNAL_OTHER_N:
        return "the journal belongs to a run with another number of tasks: "
               "delete it or use another path";
    case TF_JOURNAL_OTHER_KEY:
        return "the journal belongs to another run (other arguments): "
               "delete it or use another path";
    case TF_JOURNAL_DAMAGED:
        return "the journal is damaged before its end (not a torn last "
               "record): delete it, or keep it aside and use another path";
    case TF_JOURNAL_IN_USE:
        return "another run is using the journal: wait for it, or use "
               "another path";
    }
    return "unknown journal problem";
}

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
    if (isnan(o->journal_sync_interval) || isnan(o->grace_seconds) ||
        o->journal_sync_every < 0 ||
        (o->journal_key == NULL && o->journal_key_len > 0))
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
    f->journal_fd = -1;
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

/* Opens the run's journal, if it has one; only the tasks it does not hold
 * go to the scheduler. On failure nothing has run. */
static int delivers_here(const tf_farm *farm)
{
    return farm->ops->delivers == NULL || farm->ops->delivers();
}

static int open_journal(const tf_farm *farm, tf__run *r, tf__journal **j,
                        tf__journal_status *st)
{
    const tf_options *o = r->opts;
    *j = NULL;
    if (o->journal == NULL || !delivers_here(farm))
        return 0;
    int rc = tf__journal_open(j, o->journal, r->n_tasks, o->journal_key,
                              o->journal_key_len, o, st);
    if (rc != 0)
        return rc;
    r->sched.next = r->n_tasks;
    size_t start = 0;
    for (size_t i = 0; i <= r->n_tasks && rc == 0; i++) {
        if (i < r->n_tasks && !tf__journal_has(*j, i))
            continue;
        rc = tf__sched_requeue(&r->sched, start, i - start);
        start = i + 1;
    }
    return rc;
}

static void report_journal(tf_report *rep, const tf__journal_status *st)
{
    rep->journal_problem = (tf_journal_problem)st->problem;
    rep->journal_offset = st->offset;
    rep->journal_truncated = st->truncated;
    if (st->sys_errno != 0)
        rep->sys_errno = st->sys_errno;
}

/* Syncs only a journal that a rerun will read (its run did not deliver
 * every task), and closes it; a failed sync fails a run that had not
 * failed already. */
static void close_journal(tf__run *r, tf__journal *journal,
                          tf__journal_status *st, int rc)
{
    const tf_report *rep = r->report;
    int complete = rep->n_ok + rep->n_failed == r->n_tasks;
    if (tf__journal_close(journal, !complete) != 0 && rc == 0 &&
        r->deliver.status == 0) {
        st->problem = TF_JOURNAL_IO;
        st->sys_errno = errno;
        r->deliver.status = TF_EJOURNAL;
    }
}

/* Replays, runs the backend for what is left, replays what follows. */
static int drive(tf_farm *farm, tf__run *r)
{
    int rc = start_workers(farm);
    if (rc != 0) {
        r->sys_errno = farm->sys_errno;
        return rc;
    }
    if (tf__deliver_replay(&r->deliver) != 0)
        tf__sched_stop(&r->sched);
    /* An SPMD backend runs even with nothing left here: the other ranks
     * wait in it for this one to say so. */
    if (!tf__sched_done(&r->sched) || farm->ops->delivers != NULL)
        rc = farm->ops->run(farm, r);
    if (rc == 0 && r->interrupted == 0)
        tf__deliver_replay(&r->deliver);
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
    tf__journal *journal;
    tf__journal_status jst = {0};
    int rc = open_journal(farm, &r, &journal, &jst);
    if (rc != 0) {
        tf__journal_close(journal, 0);
        tf__sched_release(&r.sched);
        report_journal(rep, &jst);
        return rc;
    }
    tf__deliver_init(&r.deliver, n_tasks, &farm->opts, on_result, on_error,
                     user, rep);
    r.deliver.journal = journal;
    r.deliver.journal_status = &jst;
    farm->journal_fd = tf__journal_fd(journal);
    farm->running = 1;
    if (r.watch_signals)
        tf__signals_begin();
    rc = drive(farm, &r);
    if (r.watch_signals)
        tf__signals_end();
    if (rc == 0 && n_tasks > 0)
        tf__deliver_finish(&r.deliver);
    close_journal(&r, journal, &jst, rc);
    farm->journal_fd = -1;
    farm->running = 0;
    tf__sched_release(&r.sched);

    rep->n_not_run = n_tasks - rep->n_ok - rep->n_failed;
    rep->sys_errno = r.sys_errno;
    rep->signal = r.interrupted;
    report_journal(rep, &jst);
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
