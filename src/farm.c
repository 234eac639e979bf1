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

/* Compute time a batch should take when its size is automatic: long enough
 * that a lock or a pipe message per batch costs well under 1% of it, short
 * enough that the last batches still balance. With many workers the
 * scheduler makes it longer (sched.c: W x 0.5 ms x (1 + W / 2048)), for
 * the coordinator. */
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

/* Every backend: its name and its transport (NULL: not built). */
typedef struct backend_entry {
    const char *name;
    const tf__transport *transport;
} backend_entry;

static backend_entry backend_entry_of(tf_backend b)
{
    switch (b) {
    case TF_BACKEND_AUTO:
        return (backend_entry){"auto", &tf__threads_transport};
    case TF_BACKEND_SERIAL:
        return (backend_entry){"serial", &tf__serial_transport};
    case TF_BACKEND_THREADS:
        return (backend_entry){"threads", &tf__threads_transport};
    case TF_BACKEND_PROCS:
        return (backend_entry){"procs", &tf__procs_transport};
    case TF_BACKEND_MPI:
        return (backend_entry){"mpi", tf__mpi_transport()};
    }
    return (backend_entry){NULL, NULL};
}

#define N_BACKENDS 5

const char *tf_backend_name(tf_backend backend)
{
    const char *name = backend_entry_of(backend).name;
    return name != NULL ? name : "unknown";
}

int tf_backend_parse(const char *name, tf_backend *out)
{
    if (name == NULL || out == NULL)
        return TF_EINVAL;
    for (int i = 0; i < N_BACKENDS; i++) {
        if (strcmp(name, backend_entry_of((tf_backend)i).name) == 0) {
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

struct tf_farm {
    tf_options opts;          /* the caller's, with defaults resolved */
    tf_cpus cpus;             /* what this machine, job or step allows */
    int n_workers;
    int running;
    int delivers;             /* this process runs the callbacks (MPI) */
    int broken;               /* a worker's start hook failed */
    /* tf_farm_cancel(): `cancel` is only set while `active`, so that a
     * cancel between runs leaves the next run alone. Atomic (lock-free),
     * so both are safe from a signal handler and any thread. */
    atomic_int active, cancel;
    const tf__transport *t;
    void *state;              /* the transport's, once started */
    tf__batch *spare;         /* batches kept from run to run */
};

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
        o->journal_sync_every < 0 || o->queue_depth < 0 ||
        (o->journal_key == NULL && o->journal_key_len > 0))
        return TF_EINVAL;
    return 0;
}

/* Options that need a worker the library can kill (processes): refused
 * elsewhere rather than silently ignored. */
static int check_limits(const tf_options *o, const tf__transport *t)
{
    if (!t->can_kill && (o->task_timeout > 0 || o->grace_seconds != 0))
        return TF_EINVAL;
    return 0;
}

/* Every default, decided once, here. */
static void resolve_defaults(tf_options *o)
{
    if (o->progress_interval == 0)
        o->progress_interval = 0.2;
    if (o->journal_sync_interval == 0)
        o->journal_sync_interval = 1.0;
    if (o->grace_seconds == 0)
        o->grace_seconds = 3.0; /* below Slurm's default KillWait (30 s) */
    else if (o->grace_seconds < 0)
        o->grace_seconds = 0;
}

static int count_workers(const tf__transport *t, const tf_options *o,
                         const tf_cpus *cpus)
{
    if (t->workers != NULL)
        return t->workers(o);
    return tf_resolve_jobs(o->n_jobs, cpus->count);
}

int tf_farm_create(tf_farm **out, const tf_options *opts)
{
    static const tf_options defaults = TF_OPTIONS_INIT;
    if (out == NULL)
        return TF_EINVAL;
    *out = NULL;
    const tf_options *o = opts != NULL ? opts : &defaults;
    if ((unsigned)o->backend >= N_BACKENDS)
        return TF_EINVAL;
    return tf__farm_create_on(out, o, backend_entry_of(o->backend).transport);
}

int tf__farm_create_on(tf_farm **out, const tf_options *o,
                       const tf__transport *t)
{
    *out = NULL;
    int rc = check_options(o);
    if (rc != 0)
        return rc;
    if (t == NULL)
        return TF_ENOTBUILT;
    if ((rc = check_limits(o, t)) != 0)
        return rc;
    tf_cpus cpus;
    tf_cpus_detect(&cpus);
    int workers = count_workers(t, o, &cpus);
    if (workers < 0)
        return workers;
    tf_farm *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return TF_ENOMEM;
    f->opts = *o;
    f->cpus = cpus;
    resolve_defaults(&f->opts);
    f->n_workers = workers;
    f->t = t;
    f->delivers = t->delivers == NULL || t->delivers();
    atomic_init(&f->active, 0);
    atomic_init(&f->cancel, 0);
    *out = f;
    return 0;
}

void tf_farm_destroy(tf_farm *farm)
{
    if (farm == NULL)
        return;
    if (farm->state != NULL)
        farm->t->stop(farm->state);
    tf__batch_free_list(farm->spare);
    free(farm);
}

int tf_farm_workers(const tf_farm *farm)
{
    return farm != NULL ? farm->n_workers : TF_EINVAL;
}

int tf_farm_cpus(const tf_farm *farm, tf_cpus *out)
{
    if (farm == NULL || out == NULL)
        return TF_EINVAL;
    *out = farm->cpus;
    return 0;
}

int tf_farm_cancel(tf_farm *farm)
{
    if (farm == NULL || !farm->delivers)
        return TF_EINVAL;
    if (atomic_load(&farm->active))
        atomic_store(&farm->cancel, 1);
    return 0;
}

static void report_begin(tf_report *rep, size_t n_tasks, int workers)
{
    memset(rep, 0, sizeof(*rep));
    rep->n_tasks = n_tasks;
    rep->n_workers = workers;
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

static int delivers_here(const tf_farm *farm)
{
    return farm->delivers;
}

/* Opens the run's journal, if it has one; only the tasks it does not hold
 * go to the scheduler. On failure nothing has run. */
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

/* Syncs a journal that a rerun will read (its run did not deliver every
 * result: stopped, or with failed tasks to run again), and closes it; a
 * failed sync fails a run that had not failed already. */
static void close_journal(tf__run *r, tf__journal *journal,
                          tf__journal_status *st, int rc)
{
    int rerun_reads_it = r->report->n_ok != r->n_tasks;
    if (tf__journal_close(journal, rerun_reads_it) != 0 && rc == 0 &&
        r->deliver.status == 0) {
        st->problem = TF_JOURNAL_IO;
        st->sys_errno = errno;
        r->deliver.status = TF_EJOURNAL;
    }
}

/* Replays, runs the loop for what is left, replays what follows. */
static int drive(tf_farm *farm, tf__run *r)
{
    int rc = 0;
    if (tf__deliver_replay(&r->deliver) != 0)
        tf__sched_stop(&r->sched);
    /* An SPMD backend runs even with nothing left here: the other ranks
     * wait in it for this one to say so. */
    if (!tf__sched_done(&r->sched) || farm->t->delivers != NULL)
        rc = tf__run_loop(farm->t, &farm->state, r);
    if (rc == 0 && r->interrupted == 0)
        tf__deliver_replay(&r->deliver);
    return rc;
}

/* The farm's options with this run's in their place. */
static int run_options(const tf_farm *farm, const tf_run_options *ro,
                       tf_options *o)
{
    *o = farm->opts;
    if (ro == NULL)
        return 0;
    if ((ro->journal_key == NULL && ro->journal_key_len > 0) ||
        (ro->no_journal != 0 && ro->no_journal != 1) ||
        (unsigned)ro->order > TF_RUN_ORDER_COMPLETED)
        return TF_EINVAL;
    if (ro->journal != NULL)
        o->journal = ro->journal;
    if (ro->journal_key != NULL) {
        o->journal_key = ro->journal_key;
        o->journal_key_len = ro->journal_key_len;
    }
    if (ro->no_journal)
        o->journal = NULL;
    if (ro->order != TF_RUN_ORDER_FARM)
        o->order = ro->order == TF_RUN_ORDER_INDEX ? TF_ORDER_INDEX
                                                   : TF_ORDER_COMPLETED;
    return 0;
}

static void run_init(tf__run *r, tf_farm *farm, const tf_options *o,
                     size_t n_tasks, tf_task_fn task, void *user,
                     tf_report *rep)
{
    *r = (tf__run){.n_tasks = n_tasks, .task = task, .user = user,
                   .opts = o, .n_workers = farm->n_workers,
                   .cpus = farm->cpus.count,
                   .end_at_failure = o->stop_on_error || o->retries > 0,
                   .journal_fd = -1, .report = rep, .spare = farm->spare,
                   .watch_signals = !o->keep_signals,
                   .cancel = &farm->cancel,
                   .hooks = {o->on_worker_start, o->on_worker_stop,
                             o->worker_user}};
    tf__sched_init(&r->sched, n_tasks, o->batch_size, farm->n_workers,
                   TARGET_BATCH_SECONDS);
}

/* A run refused on the process that owns the journal: with an SPMD
 * backend the others are waiting for it, so they are told, and every
 * process returns the same code and report. Nothing runs. */
static int refuse_everywhere(tf_farm *farm, tf__run *r, int rc)
{
    if (farm->t->finish == NULL)
        return rc;
    tf__sched_stop(&r->sched);
    r->early_rc = rc;
    tf__deliver_init(&r->deliver, r->n_tasks, r->opts, NULL, NULL, NULL,
                     r->report);
    return tf__run_loop(farm->t, &farm->state, r);
}

/* Marks the farm running, for tf_farm_cancel(): a cancel from before
 * this point is forgotten. */
static void begin_active(tf_farm *farm)
{
    farm->running = 1;
    atomic_store(&farm->cancel, 0);
    atomic_store(&farm->active, 1);
}

static void end_active(tf_farm *farm)
{
    atomic_store(&farm->active, 0);
    atomic_store(&farm->cancel, 0);
    farm->running = 0;
}

int tf_farm_run(tf_farm *farm, size_t n_tasks, tf_task_fn task,
                tf_result_fn on_result, tf_error_fn on_error, void *user,
                tf_report *report)
{
    return tf_farm_run_with(farm, NULL, n_tasks, task, on_result, on_error,
                            user, report);
}

int tf_farm_run_with(tf_farm *farm, const tf_run_options *run,
                     size_t n_tasks, tf_task_fn task, tf_result_fn on_result,
                     tf_error_fn on_error, void *user, tf_report *report)
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
    if (farm->broken)
        return TF_EWORKER;
    tf_options o;
    int rc = run_options(farm, run, &o);
    if (rc != 0)
        return rc;

    double t0 = tf__now();
    tf__run r;
    run_init(&r, farm, &o, n_tasks, task, user, rep);
    r.on_input = run != NULL ? run->on_input : NULL;
    tf__journal *journal;
    tf__journal_status jst = {0};
    rc = open_journal(farm, &r, &journal, &jst);
    if (rc != 0) {
        tf__journal_close(journal, 0);
        tf__sched_release(&r.sched);
        report_journal(rep, &jst);
        return refuse_everywhere(farm, &r, rc);
    }
    tf__deliver_init(&r.deliver, n_tasks, &o, on_result, on_error, user, rep);
    r.deliver.journal = journal;
    r.deliver.journal_status = &jst;
    r.journal_fd = tf__journal_fd(journal);
    begin_active(farm);
    if (r.watch_signals)
        tf__signals_begin();
    rc = drive(farm, &r);
    if (rc == TF_EWORKER)
        farm->broken = 1;
    if (rc == 0 && n_tasks > 0 && delivers_here(farm))
        tf__deliver_finish(&r.deliver);
    close_journal(&r, journal, &jst, rc);
    farm->spare = r.spare;
    end_active(farm);
    tf__sched_release(&r.sched);

    rep->n_not_run = n_tasks - rep->n_ok - rep->n_failed;
    rep->sys_errno = r.sys_errno;
    rep->signal = r.interrupted;
    if (delivers_here(farm)) /* elsewhere the journal is rank 0's, and so */
        report_journal(rep, &jst);  /* is the report broadcast to them */
    rep->seconds = tf__now() - t0;
    rc = run_result(&r, rc);
    /* Last: the caller's own handler may run now (and may not return). */
    if (r.watch_signals)
        tf__signals_end();
    return rc;
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
