/*
 * internal.h - what the core files of libtaskfarm share; not installed.
 *
 * Every backend does the same three things with the same pieces:
 *   1. take a range of task indices from the scheduler (sched.c),
 *   2. compute it into a tf__batch with tf__batch_exec() (batch.c),
 *   3. hand the finished batch to the delivery (deliver.c), which calls the
 *      user's callbacks in the caller's thread, in index order or not.
 * Backends differ only in where step 2 runs and how batches travel.
 */
#ifndef TF_INTERNAL_H
#define TF_INTERNAL_H

#include "taskfarm.h"

#include <stdatomic.h>
#include <stddef.h>

#if defined(__GNUC__)
#define TF__HIDDEN __attribute__((visibility("hidden")))
#else
#define TF__HIDDEN
#endif

/* ---- batch.c: a contiguous range of task results ----------------------- */

/* One task inside a batch. fail == 0 means success. A failed task's bytes
 * are its message (tf_out_error), at most TF__MSG_MAX of them. */
#define TF__MSG_MAX 127
typedef struct tf__slot {
    size_t off, len;   /* its bytes in the batch's data */
    int fail;          /* 0 or a tf_fail_kind */
    int code;          /* see tf_task_error.code */
    int attempts;      /* >= 1 once computed */
} tf__slot;

typedef struct tf__batch {
    size_t start, count;      /* tasks start..start+count-1 */
    tf__slot *slots;
    size_t slots_cap;
    unsigned char *data;
    size_t len, cap;
    size_t done;              /* tasks computed so far (tf__batch_step) */
    double seconds;           /* compute time of the whole batch */
    int worker;               /* which worker computed it (transports) */
    int status;               /* 0, or why the worker computed nothing:
                                 TF_ENOMEM, TF_EWORKER (its start hook) */
    struct tf__batch *next;   /* free lists; the pending heap's sibling */
    struct tf__batch *child;  /* the pending heap (deliver.c) */
} tf__batch;

struct tf__exec;

struct tf_out {
    tf__batch *batch;
    size_t base;              /* where the current task's bytes begin */
    const struct tf__exec *how;  /* its input and worker; NULL: an input */
    size_t index;             /* the task */
    size_t msg_len;           /* tf_out_error's message, not terminated */
    char msg[TF__MSG_MAX];
};

/* The worker hooks of tf_options, which every transport runs in its
 * workers: tf__hook_start is 0 or TF_EWORKER. */
typedef struct tf__hooks {
    int (*start)(void *user, int worker);
    int (*stop)(void *user, int worker);
    void *user;
} tf__hooks;

TF__HIDDEN int tf__hook_start(const tf__hooks *h, int worker);
TF__HIDDEN void tf__hook_stop(const tf__hooks *h, int worker);

TF__HIDDEN tf__batch *tf__batch_new(void);
TF__HIDDEN void tf__batch_free(tf__batch *b);
TF__HIDDEN void tf__batch_free_list(tf__batch *list);
/* A free list of batches kept for reuse: take one (a new one when the list
 * is empty; NULL only when out of memory), or give back a whole list. */
TF__HIDDEN tf__batch *tf__batch_take(tf__batch **spare);
TF__HIDDEN void tf__batch_give(tf__batch **spare, tf__batch *list);
/* Empties b and sizes it for count tasks from start. 0 or TF_ENOMEM. */
TF__HIDDEN int tf__batch_reset(tf__batch *b, size_t start, size_t count);
/* Grows the data area to hold at least cap bytes. 0 or TF_ENOMEM. */
TF__HIDDEN int tf__batch_reserve(tf__batch *b, size_t cap);
/* How a batch is computed. `before`, when set, runs before each task (the
 * process backend records which task its worker is on). */
typedef struct tf__exec {
    tf_task_fn task;
    void *user;
    int end_at_failure;       /* end the batch just after a failed task */
    void (*before)(void *ctx, size_t index);
    void *ctx;
    const tf__batch *in;      /* the tasks' inputs (one slot each), or NULL */
    int worker;               /* tf_out_worker() */
} tf__exec;

/* Computes tasks start..start+count-1 into b. With end_at_failure the batch
 * ends just after its first failed task (b->count shrinks). Sets
 * b->seconds. Returns 0 or TF_ENOMEM (b is then unusable). */
TF__HIDDEN int tf__batch_exec(tf__batch *b, size_t start, size_t count,
                              const tf__exec *how);
/* The same, one task at a time, for a worker that must look up between
 * tasks (MPI's rank 0): begin (0 or TF_ENOMEM), then step until it returns
 * 1 (the batch is complete). */
TF__HIDDEN int tf__batch_begin(tf__batch *b, size_t start, size_t count);
TF__HIDDEN int tf__batch_step(tf__batch *b, const tf__exec *how);
/* A batch of one task that failed without running to completion. */
TF__HIDDEN int tf__batch_set_failed(tf__batch *b, size_t index, int kind,
                                    int code, int attempts);

/* ---- sched.c: which tasks go next, and how many at once ---------------- */

typedef struct tf__range {
    size_t start, count;
} tf__range;

typedef struct tf__sched {
    size_t n_tasks, next;     /* fresh tasks: next..n_tasks-1 */
    size_t fixed;             /* fixed batch size, 0 = automatic */
    int workers;
    int stopped;
    double target_s;          /* wanted compute time per batch */
    double grown_s;           /* the same at thousands of workers, */
    size_t hold_bytes;        /* while a batch holds at most this (0: any) */
    double floor_s;           /* the shortest batch the tail rule makes */
    double task_s;            /* smoothed seconds per task (0 = unknown) */
    double task_bytes;        /* smoothed result bytes per task */
    size_t last;              /* last automatic size handed out */
    int seen;                 /* a batch has been observed */
    tf__range *redo;          /* ranges to compute (again), lowest first, */
    size_t redo_head;         /* from redo[redo_head] */
    size_t n_redo, redo_cap;
    size_t redo_tasks;        /* their total */
} tf__sched;

TF__HIDDEN void tf__sched_init(tf__sched *s, size_t n_tasks, size_t fixed,
                               int workers, double target_s);
TF__HIDDEN void tf__sched_release(tf__sched *s);
/* The next range to compute; count == 0 means nothing is left (or the
 * scheduler was stopped). */
TF__HIDDEN tf__range tf__sched_next(tf__sched *s);
/* Where the next range would start (n_tasks when nothing is left). */
TF__HIDDEN size_t tf__sched_peek(const tf__sched *s);
/* The same, at most `cap` tasks. */
TF__HIDDEN tf__range tf__sched_next_capped(tf__sched *s, size_t cap);
/* What one batch may hold so that a batch per worker in flight fits in
 * what may wait for delivery (run.c's back-pressure limit / (workers x
 * depth)): the growth of batches with the workers stops there. */
TF__HIDDEN void tf__sched_hold(tf__sched *s, size_t bytes);
/* Feeds the automatic batch size with a finished batch. */
TF__HIDDEN void tf__sched_observe(tf__sched *s, size_t count, double seconds,
                                  size_t bytes);
/* Queues a range to compute (again): a crashed batch's survivors, or what
 * a resumed run still has to do. Handed out lowest first, in batches sized
 * like fresh work. 0 or TF_ENOMEM. */
TF__HIDDEN int tf__sched_requeue(tf__sched *s, size_t start, size_t count);
TF__HIDDEN void tf__sched_stop(tf__sched *s);
TF__HIDDEN int tf__sched_done(const tf__sched *s);

/* ---- journal.c: finished results on disk, for resume ------------------- */

typedef struct tf__journal tf__journal;

typedef struct tf__journal_status {
    int problem;              /* tf_journal_problem */
    uint64_t offset;
    int sys_errno;
    uint64_t truncated;       /* bytes of a torn tail cut at open */
} tf__journal_status;

/* Opens or creates the journal of a run of n_tasks named by key. 0, or
 * TF_EJOURNAL / TF_ENOMEM / TF_EINVAL with *st saying why. */
TF__HIDDEN int tf__journal_open(tf__journal **out, const char *path,
                                size_t n_tasks, const void *key,
                                size_t key_len, const tf_options *o,
                                tf__journal_status *st);
/* 1 if task `index` was finished by an earlier run (and can be replayed). */
TF__HIDDEN int tf__journal_has(const tf__journal *j, size_t index);
/* Its result, valid until the next call. 0 or TF_EJOURNAL. */
TF__HIDDEN int tf__journal_read(tf__journal *j, size_t index,
                                const void **data, size_t *len);
/* Appends a batch's successful results. 0 or TF_EJOURNAL / TF_ENOMEM. */
TF__HIDDEN int tf__journal_append(tf__journal *j, const tf__batch *b,
                                  tf__journal_status *st);
/* Its file descriptor: a forked worker must close it, or it would keep the
 * journal (and its lock) after its parent is gone. */
TF__HIDDEN int tf__journal_fd(const tf__journal *j);
/* Closes; NULL is fine. With `sync`, fdatasync first: 0, or -1 if it
 * failed. */
TF__HIDDEN int tf__journal_close(tf__journal *j, int sync);

/* ---- deliver.c: the user's callbacks, in the caller's thread ----------- */

typedef struct tf__deliver {
    size_t n_tasks;
    size_t next;              /* index order: the next index to deliver */
    tf__batch *pending;       /* index order: finished, waiting: a heap by
                                 start, the lowest at the root */
    size_t pending_bytes;     /* their results and slots */
    int ordered, stop_on_error;
    int status;               /* 0, or why delivery stopped */
    tf_result_fn on_result;
    tf_error_fn on_error;
    void *user;
    tf_report *report;
    tf_progress_fn on_progress;
    void *progress_user;
    double progress_every, t0, last_progress;
    tf__journal *journal;     /* NULL without one */
    tf__journal_status *journal_status;
    int replayed;             /* as completed: old results delivered */
    /* Asked between two callbacks: non-zero (a TF_E code) ends delivery
     * there, so that a slow consumer cannot delay a stop. NULL = never. */
    int (*should_stop)(void *ctx);
    void *stop_ctx;
} tf__deliver;

TF__HIDDEN void tf__deliver_init(tf__deliver *d, size_t n_tasks,
                                 const tf_options *o, tf_result_fn on_result,
                                 tf_error_fn on_error, void *user,
                                 tf_report *report);
/* Takes a finished batch. Delivers what is now deliverable and moves every
 * batch it is done with onto *spent (for reuse or freeing by the caller).
 * Returns d->status: 0 to go on, TF_ESTOPPED or TF_ECANCELED to stop. */
TF__HIDDEN int tf__deliver_batch(tf__deliver *d, tf__batch *b,
                                 tf__batch **spent);
/* Moves every batch still pending onto *spent. */
TF__HIDDEN void tf__deliver_drain(tf__deliver *d, tf__batch **spent);
/* The last progress call of a run. */
TF__HIDDEN void tf__deliver_finish(tf__deliver *d);
/* Delivers results an earlier run left in the journal: in index order, those
 * up to the first task still to compute (all of them, as completed).
 * Returns d->status. Called before the backend runs and after it. */
TF__HIDDEN int tf__deliver_replay(tf__deliver *d);

/* ---- run.c: the one run loop, and the transports it drives ------------ */

/* A range handed to one worker. attempt is 1 for a first try, k for the
 * k-th try of a single retried task. `in`, with an input callback, holds
 * the tasks' inputs (one slot per task, same start and count); the core
 * owns it and keeps it until the job is answered or lost, so a transport
 * may send it from there, or a thread read it, without a copy. */
typedef struct tf__job {
    size_t start, count;
    int attempt;
    tf__batch *in;
} tf__job;

typedef enum {
    TF__EV_NONE = 0,   /* the wait timed out */
    TF__EV_BATCH,      /* the worker's oldest job finished: `batch` */
    TF__EV_LOST,       /* the worker is gone (already reaped): fail, code */
    TF__EV_FAILED      /* its oldest job could not be computed: rc */
} tf__event_kind;

typedef struct tf__event {
    tf__event_kind kind;
    int worker;
    tf__batch *batch;  /* EV_BATCH; the core owns it from here */
    int fail, code;    /* EV_LOST: a tf_fail_kind and its code */
    int rc;            /* EV_FAILED: a TF_E code */
} tf__event;

typedef struct tf__run tf__run;

/* A backend is a transport: it starts and stops workers and moves jobs and
 * batches; the core (run.c) decides everything else. Each worker holds at
 * most `depth` jobs and answers them in the order they were sent. */
typedef struct tf__transport {
    int depth;                /* jobs queued per worker, 1 or 2 (1 with
                                 more workers than CPUs) */
    int can_kill;             /* a busy worker can be killed: time limits */
    /* The number of workers these options give, or a TF_E code; NULL for
     * the CPU-based default (tf_resolve_jobs). */
    int (*workers)(const tf_options *o);
    /* Starts n workers at the farm's first run. 0 or a TF_E code, with
     * r->sys_errno set for TF_ESYS. */
    int (*start)(void **state, int n, tf__run *r);
    void (*stop)(void *state);
    /* Each run's start: replace workers that died between runs. May be
     * NULL. 0 or a TF_E code. */
    int (*begin)(void *state, tf__run *r);
    /* Queues a job on worker w: 0 or a TF_E code. A worker found dead here
     * is reported by the next wait(), as any lost worker. */
    int (*send)(void *state, int w, const tf__job *job, tf__run *r);
    /* The next event, waiting at most `timeout` seconds (EV_NONE then).
     * 0 or a TF_E code for a failure of the transport itself. */
    int (*wait)(void *state, double timeout, tf__run *r, tf__event *ev);
    /* The task worker w is on and since when (tf__now): 1 while it runs,
     * 2 when its batch is done and being sent (index: the batch's last
     * task, which takes the blame if the worker is lost now), 0 between
     * batches. NULL where the core cannot tell (no time limits). */
    int (*started)(void *state, int w, size_t *index, double *since);
    /* Kills worker w and waits for it; its jobs are lost. (can_kill) */
    void (*kill)(void *state, int w);
    /* Replaces a dead worker w. NULL: a dead worker stays dead. */
    int (*revive)(void *state, int w, tf__run *r);
    /* The most tasks worker w takes at once; NULL = no limit. */
    size_t (*cap)(const void *state, int w);
    /* SPMD (MPI): every process runs the farm. `delivers` says whether
     * this one runs the core (the callbacks and the journal); the others
     * `serve` jobs until the core is done; `finish` runs on every process
     * at the end and makes them all return the same code and report. */
    int (*delivers)(void);
    int (*serve)(void *state, tf__run *r);
    int (*finish)(void *state, tf__run *r, int rc);
} tf__transport;

typedef struct tf__loop tf__loop;

/* One run, as the core and its transport see it. */
struct tf__run {
    size_t n_tasks;
    tf_task_fn task;
    void *user;
    const tf_options *opts;   /* the farm's, defaults already resolved */
    int n_workers;
    int cpus;                 /* the CPUs the farm found at create */
    int end_at_failure;       /* a batch ends just after a failed task */
    int journal_fd;           /* a forked worker must close it; or -1 */
    tf__sched sched;
    tf__deliver deliver;
    tf_report *report;
    tf__batch *spare;         /* batches for reuse; the core's thread only */
    int sys_errno;            /* set with a TF_ESYS failure */
    int watch_signals;        /* catch SIGINT/SIGTERM */
    int interrupted;          /* the signal that stopped the run, or 0 */
    int early_rc;             /* refused before it ran (SPMD: say so) */
    tf_input_fn on_input;     /* NULL: the tasks have no inputs */
    atomic_int *cancel;       /* set by tf_farm_cancel(), or NULL */
    tf__hooks hooks;          /* the farm's worker hooks */
    tf__loop *loop;           /* run.c's own bookkeeping */
};

/* Runs what the scheduler holds on the transport's workers until every job
 * has come back or the run stopped. Starts the workers on first use
 * (*state NULL). 0 or a TF_E code for a failure of the farm itself; task
 * failures and stops live in the delivery's status. */
TF__HIDDEN int tf__run_loop(const tf__transport *t, void **state,
                            tf__run *r);
/* What the run loop holds per worker, in bytes (its queue and its place
 * in the ready ring), for the memory bound per rank. */
TF__HIDDEN size_t tf__run_bytes_per_worker(void);
/* The oldest job worker w has not answered, or NULL: what a transport
 * checks an incoming batch against. */
TF__HIDDEN const tf__job *tf__run_head(const tf__run *r, int w);
/* Stops the run if SIGINT/SIGTERM arrived (and the run watches for them),
 * or tf_farm_cancel() was called. Returns 0, or TF_EINTR / TF_ECANCELED
 * when it stopped the run. */
TF__HIDDEN int tf__run_check_signal(tf__run *r);

/* tf_farm_create() on a transport of the caller's (o checked, not NULL):
 * what the coordinator's tests and benchmark use to play a world of fake
 * workers against the real run loop. */
TF__HIDDEN int tf__farm_create_on(tf_farm **out, const tf_options *o,
                                  const tf__transport *t);

TF__HIDDEN extern const tf__transport tf__serial_transport;
TF__HIDDEN extern const tf__transport tf__threads_transport;
TF__HIDDEN extern const tf__transport tf__procs_transport;
/* The MPI transport, or NULL when the library was built without MPI
 * (backend_mpi.c or backend_mpi_none.c, chosen by CMake). */
TF__HIDDEN const tf__transport *tf__mpi_transport(void);
/* What rank 0's MPI transport keeps per rank, in bytes (backend_mpi.c
 * only: the memory bound per rank). */
TF__HIDDEN size_t tf__mpi_bytes_per_rank(void);

/* ---- signals.c: SIGINT/SIGTERM during a run ---------------------------- */
TF__HIDDEN void tf__signals_begin(void);
/* Restores the caller's handlers; if a signal arrived and the caller had a
 * handler of its own, raises it again so that handler runs once. */
TF__HIDDEN void tf__signals_end(void);
TF__HIDDEN int tf__signals_caught(void);   /* the signal number, or 0 */

/* ---- clock.c: the library's one clock --------------------------------- */
TF__HIDDEN double tf__now(void);   /* monotonic seconds */

#endif /* TF_INTERNAL_H */
