/*
 * run.c - the run loop: one piece of code for every backend.
 *
 * DESIGN
 *   - A backend is a transport (internal.h): it starts and stops workers,
 *     queues a job on a worker, waits for the next event (a finished batch,
 *     a lost worker, a time-out) and, for processes, kills a worker. This
 *     file decides everything else, the same way for every backend: which
 *     range goes to which idle worker, how much may wait for delivery,
 *     when to look for signals, time limits, retries, the delivery and the
 *     journal (deliver.c), and the end-of-run drain.
 *   - Everything here runs in the thread that called tf_farm_run(): the
 *     scheduler, the delivery and the batches' free list need no lock.
 *   - Each worker holds at most `depth` jobs, answered in order; the core
 *     keeps that queue, so a lost worker's jobs are known exactly. A
 *     second job hides the hand-over (a worker finds its next job ready);
 *     with more workers than CPUs there is no hand-over to hide, and a
 *     job queued behind a time-sliced worker would only unbalance the
 *     end, so depth is then 1. The caller may lower it (queue_depth 1:
 *     tasks so long that a queued job would wait while a worker idles).
 *   - Back-pressure, one rule in bytes for every order, backend, journal
 *     and resumed run: while the results waiting for delivery hold
 *     `limit` bytes, only the range that delivery waits for may go out.
 *     That range is always in flight, in the retry list or first in the
 *     scheduler (which hands out the lowest requeued range first), so the
 *     rule cannot deadlock. As completed, nothing waits: a batch is
 *     delivered when it arrives, and the core dispatches only between
 *     deliveries, so a slow consumer slows dispatch instead of piling up
 *     results. In flight there are at most workers x depth batches.
 *   - Signals and stops are looked at before every dispatch, at least every
 *     POLL_SECONDS while waiting, and before every callback (deliver.c).
 *     After a stop nothing new is dispatched; a transport that can kill
 *     kills its busy workers at once, or after grace_seconds when a signal
 *     stopped the run (so that their results reach the journal); the others
 *     let running batches finish. Batches that arrive after a stop are
 *     journaled, not delivered.
 *   - A lost worker: its oldest job is blamed only if a task of it had
 *     started there (the transport says which); that task fails (or is
 *     retried), the rest of the job and every later queued job go back to
 *     the scheduler, and the worker is replaced before it gets more work.
 *   - Inputs (an input callback): written here, in the caller's thread,
 *     when a job is dispatched, into a batch of their own that the job
 *     carries until it is answered or lost (a transport sends it from
 *     there; a thread reads it in place). A lost job's inputs are dropped
 *     and written again when its tasks go out again. They count in the
 *     held bytes above, and a job's inputs stop at limit / (workers x
 *     depth) bytes (the rest of its range goes back to the scheduler), so
 *     what is in flight stays bounded too, whatever the batch size.
 *   - tf_farm_cancel() sets an atomic flag that is looked at wherever a
 *     signal is; it stops the run as a callback's cancel does.
 *   - Retries: a failed task with attempts left goes to the retry list and
 *     runs again, alone, on the next idle worker; every backend retries a
 *     task that returned an error; a crash or a time-out can only be
 *     retried where workers are processes.
 */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POLL_SECONDS 0.05       /* the longest wait between two looks */
#define MAX_DEPTH 2
#define HELD_MAX ((size_t)256 << 20)

typedef struct queue {
    tf__job job[MAX_DEPTH];
    unsigned char n;
    unsigned char dead;         /* lost: replace it before giving it work */
    unsigned char listed;       /* in the ready ring */
} queue;

typedef struct retry {
    size_t index;
    int attempt;                /* the attempt it will be */
} retry;

struct tf__loop {
    const tf__transport *t;
    void *st;
    queue *q;
    /* Workers that may take a job (fewer than depth queued, or dead and
     * to be replaced), each at most once, oldest first: a dispatch costs
     * what it hands out, not a look at every worker (65,536 ranks). */
    int *ready;
    int ready_head, ready_n;
    int outstanding;            /* jobs sent and not answered */
    int depth;                  /* jobs queued per worker */
    size_t limit;               /* bytes that may wait for delivery */
    size_t in_bytes;            /* inputs of the jobs in flight */
    size_t in_cap;              /* the most input bytes one job takes */
    double grace_end;           /* < 0 until a signal stops the run */
    retry *retries;
    size_t n_retries, retries_cap;
};

const tf__job *tf__run_head(const tf__run *r, int w)
{
    const queue *q = &r->loop->q[w];
    return q->n > 0 ? &q->job[0] : NULL;
}

int tf__run_check_signal(tf__run *r)
{
    int signo = r->watch_signals ? tf__signals_caught() : 0;
    if (signo != 0) {
        if (r->interrupted == 0)
            r->interrupted = signo;
        tf__sched_stop(&r->sched);
        return TF_EINTR;
    }
    if (r->cancel != NULL &&
        atomic_load_explicit(r->cancel, memory_order_relaxed) != 0) {
        if (r->deliver.status == 0)
            r->deliver.status = TF_ECANCELED;
        tf__sched_stop(&r->sched);
        return TF_ECANCELED;
    }
    return 0;
}

/* ---- the ready ring ---------------------------------------------------- */

static void list_ready(tf__run *r, int w)
{
    tf__loop *L = r->loop;
    if (L->q[w].listed)
        return;
    L->q[w].listed = 1;
    L->ready[(L->ready_head + L->ready_n++) % r->n_workers] = w;
}

static void unlist_first(tf__run *r)
{
    tf__loop *L = r->loop;
    L->q[L->ready[L->ready_head]].listed = 0;
    L->ready_head = (L->ready_head + 1) % r->n_workers;
    L->ready_n--;
}

size_t tf__run_bytes_per_worker(void)
{
    return sizeof(queue) + sizeof(int);
}

/* ---- retries ---------------------------------------------------------- */

static int push_retry(tf__run *r, size_t index, int attempt)
{
    tf__loop *L = r->loop;
    if (L->n_retries == L->retries_cap) {
        size_t cap = L->retries_cap ? 2 * L->retries_cap : 8;
        retry *grown = realloc(L->retries, cap * sizeof(*grown));
        if (grown == NULL)
            return TF_ENOMEM;
        L->retries = grown;
        L->retries_cap = cap;
    }
    L->retries[L->n_retries++] = (retry){index, attempt};
    return 0;
}

/* The retry of the lowest index: in index order, it unblocks delivery. */
static size_t lowest_retry(const tf__loop *L)
{
    size_t k = 0;
    for (size_t i = 1; i < L->n_retries; i++)
        if (L->retries[i].index < L->retries[k].index)
            k = i;
    return k;
}

/* ---- delivery --------------------------------------------------------- */

static void deliver(tf__run *r, tf__batch *b)
{
    tf__batch *spent = NULL;
    if (b->count == 0) {
        tf__batch_give(&r->spare, b);
        return;
    }
    if (tf__deliver_batch(&r->deliver, b, &spent) != 0)
        tf__sched_stop(&r->sched);
    tf__batch_give(&r->spare, spent);
}

/* Task `index` failed on attempt `attempt`: tried again, or reported.
 * `msg` (msg_len bytes) is what the task said, for on_retry. */
static int task_failed(tf__run *r, size_t index, int kind, int code,
                       int attempt, const unsigned char *msg, size_t msg_len)
{
    if (attempt < 1 + r->opts->retries) {
        if (r->opts->on_retry != NULL) {
            tf_task_error e = {index, (tf_fail_kind)kind, code, attempt, {0}};
            if (msg_len >= sizeof e.message)
                msg_len = sizeof e.message - 1;
            if (msg_len > 0)
                memcpy(e.message, msg, msg_len);
            r->opts->on_retry(r->opts->retry_user, &e);
        }
        return push_retry(r, index, attempt + 1);
    }
    tf__batch *b = tf__batch_take(&r->spare);
    if (b == NULL || tf__batch_set_failed(b, index, kind, code, attempt) != 0) {
        tf__batch_free(b);
        return TF_ENOMEM;
    }
    deliver(r, b);
    return 0;
}

/* ---- events ----------------------------------------------------------- */

/* A job is answered or lost: its inputs are done with. */
static void drop_input(tf__run *r, tf__job *j)
{
    if (j->in == NULL)
        return;
    r->loop->in_bytes -= j->in->len;
    tf__batch_give(&r->spare, j->in);
    j->in = NULL;
}

static tf__job pop_job(tf__run *r, int w)
{
    queue *q = &r->loop->q[w];
    tf__job j = q->job[0];
    q->n--;
    memmove(q->job, q->job + 1, (size_t)q->n * sizeof(*q->job));
    drop_input(r, &j);
    list_ready(r, w);
    return j;
}

static int on_batch(tf__run *r, int w, tf__batch *b)
{
    tf__loop *L = r->loop;
    tf__job job = pop_job(r, w);
    L->outstanding--;
    tf__sched_observe(&r->sched, b->count, b->seconds, b->len);
    if (job.attempt > 1)
        b->slots[0].attempts = job.attempt;
    /* Cut short at a failure: the tasks after it go back to the scheduler. */
    size_t got_end = b->start + b->count;
    int rc = tf__sched_requeue(&r->sched, got_end,
                               job.start + job.count - got_end);
    tf__slot *last = &b->slots[b->count - 1];
    if (rc == 0 && last->fail != 0 && last->attempts < 1 + r->opts->retries) {
        rc = task_failed(r, got_end - 1, last->fail, last->code,
                         last->attempts, b->data + last->off, last->len);
        b->len = last->off;
        b->count--;
    }
    deliver(r, b);
    return rc;
}

/* Gives back a job that never ran (or whose blamed task is handled). */
static int requeue_job(tf__run *r, tf__job j)
{
    if (j.attempt > 1)
        return push_retry(r, j.start, j.attempt);
    return tf__sched_requeue(&r->sched, j.start, j.count);
}

static int requeue_around(tf__run *r, tf__job j, size_t index)
{
    size_t end = j.start + j.count;
    if (tf__sched_requeue(&r->sched, j.start, index - j.start) != 0 ||
        tf__sched_requeue(&r->sched, index + 1, end - index - 1) != 0)
        return TF_ENOMEM;
    return 0;
}

/* Worker w is gone, with (kind, code) saying how; `index`, when `started`,
 * is the task it was on. Only that task is blamed. */
static int on_lost(tf__run *r, int w, int kind, int code, int started,
                   size_t index)
{
    tf__loop *L = r->loop;
    queue *q = &L->q[w];
    int rc = 0;
    for (int k = 0; k < q->n && rc == 0; k++) {
        tf__job j = q->job[k];
        if (started && index >= j.start && index < j.start + j.count) {
            rc = requeue_around(r, j, index);
            if (rc == 0)
                rc = task_failed(r, index, kind, code, j.attempt, NULL, 0);
            started = 0;
        } else {
            rc = requeue_job(r, j);
        }
    }
    for (int k = 0; k < q->n; k++)
        drop_input(r, &q->job[k]);
    L->outstanding -= q->n;
    q->n = 0;
    q->dead = 1;
    list_ready(r, w);
    return rc;
}

/* Asks the transport which task w was on, before it is replaced. */
static int lost_worker(tf__run *r, int w, int kind, int code)
{
    const tf__transport *t = r->loop->t;
    size_t index = 0;
    double since = 0;
    int started = t->started != NULL &&
                  t->started(r->loop->st, w, &index, &since) != 0;
    return on_lost(r, w, kind, code, started, index);
}

static int on_event(tf__run *r, const tf__event *ev)
{
    switch (ev->kind) {
    case TF__EV_NONE:
        return 0;
    case TF__EV_BATCH:
        return on_batch(r, ev->worker, ev->batch);
    case TF__EV_LOST:
        return lost_worker(r, ev->worker, ev->fail, ev->code);
    case TF__EV_FAILED:
        pop_job(r, ev->worker);
        r->loop->outstanding--;
        return ev->rc;
    }
    return 0;
}

/* ---- time limits and stops -------------------------------------------- */

static int timeout_code(double limit)
{
    double up = ceil(limit);
    return up < (double)INT_MAX ? (int)up : INT_MAX;
}

static int check_deadlines(tf__run *r)
{
    tf__loop *L = r->loop;
    double limit = r->opts->task_timeout;
    if (limit <= 0 || L->t->started == NULL)
        return 0;
    double now = tf__now();
    for (int w = 0; w < r->n_workers; w++) {
        size_t index;
        double since;
        if (L->q[w].n == 0 || L->t->started(L->st, w, &index, &since) != 1 ||
            now - since <= limit)
            continue;
        L->t->kill(L->st, w);
        int rc = on_lost(r, w, TF_FAIL_TIMEOUT, timeout_code(limit), 1, index);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Seconds to wait: until the earliest time limit, at most POLL_SECONDS. */
static double wait_seconds(const tf__run *r)
{
    const tf__loop *L = r->loop;
    double wait = POLL_SECONDS, limit = r->opts->task_timeout;
    if (limit <= 0 || L->t->started == NULL)
        return wait;
    double now = tf__now();
    for (int w = 0; w < r->n_workers; w++) {
        size_t index;
        double since;
        if (L->q[w].n == 0 || L->t->started(L->st, w, &index, &since) != 1)
            continue;
        double left = since + limit - now;
        if (left < wait)
            wait = left > 0.001 ? left : 0.001;
    }
    return wait;
}

static void kill_busy(tf__run *r)
{
    tf__loop *L = r->loop;
    for (int w = 0; w < r->n_workers; w++) {
        queue *q = &L->q[w];
        if (q->n == 0)
            continue;
        L->t->kill(L->st, w);
        for (int k = 0; k < q->n; k++)
            drop_input(r, &q->job[k]);
        L->outstanding -= q->n;
        q->n = 0;
        q->dead = 1;
        list_ready(r, w);
    }
}

static int stop_status(void *ctx)
{
    return tf__run_check_signal(ctx);
}

/* Looks for a signal; once stopped, kills busy workers where it can:
 * at once, or at the end of the grace period after a signal. */
static void enforce_stop(tf__run *r)
{
    tf__loop *L = r->loop;
    tf__run_check_signal(r);
    if (!r->sched.stopped || !L->t->can_kill || L->outstanding == 0)
        return;
    if (r->interrupted != 0 && L->grace_end < 0)
        L->grace_end = tf__now() + r->opts->grace_seconds;
    if (r->interrupted == 0 || tf__now() >= L->grace_end)
        kill_busy(r);
}

/* ---- dispatch --------------------------------------------------------- */

/* 1 when a range starting at `start` must wait for delivery to catch up. */
static int must_wait(const tf__run *r, size_t start)
{
    const tf__deliver *d = &r->deliver;
    return d->ordered &&
           d->pending_bytes + r->loop->in_bytes >= r->loop->limit &&
           start > d->next;
}

/* The next job for worker w, if one may go now. */
static int next_job(tf__run *r, int w, tf__job *job)
{
    tf__loop *L = r->loop;
    if (L->n_retries > 0) {
        size_t k = lowest_retry(L);
        retry t = L->retries[k];
        if (!must_wait(r, t.index)) {
            L->retries[k] = L->retries[--L->n_retries];
            *job = (tf__job){t.index, 1, t.attempt, NULL};
            return 1;
        }
    }
    if (must_wait(r, tf__sched_peek(&r->sched)))
        return 0;
    size_t cap = L->t->cap != NULL ? L->t->cap(L->st, w) : SIZE_MAX;
    tf__range g = tf__sched_next_capped(&r->sched, cap);
    *job = (tf__job){g.start, g.count, 1, NULL};
    return g.count > 0;
}

static int revive(tf__run *r, int w)
{
    tf__loop *L = r->loop;
    if (L->t->revive == NULL)
        return 1; /* it stays dead; the others go on */
    int rc = L->t->revive(L->st, w, r);
    if (rc == 0)
        L->q[w].dead = 0;
    return rc;
}

/* The input callback cancelled the run: as a result callback would. */
static int input_cancels(tf__run *r, tf__batch *in)
{
    tf__batch_give(&r->spare, in);
    if (r->deliver.status == 0)
        r->deliver.status = TF_ECANCELED;
    tf__sched_stop(&r->sched);
    return 1;
}

/* Writes the inputs of job's tasks, one slot each, up to the per-job cap:
 * the tasks past it go back to the scheduler. 0, 1 (the callback
 * cancelled) or TF_ENOMEM. */
static int make_inputs(tf__run *r, tf__job *job)
{
    tf__loop *L = r->loop;
    tf__batch *in = tf__batch_take(&r->spare);
    if (in == NULL || tf__batch_reset(in, job->start, job->count) != 0) {
        tf__batch_free(in);
        return TF_ENOMEM;
    }
    tf_out out; /* field by field: its message buffer needs no zeroing */
    out.batch = in;
    out.how = NULL;
    out.index = 0;
    size_t k = 0;
    for (; k < job->count && (k == 0 || in->len < L->in_cap); k++) {
        out.base = in->len;
        out.msg_len = 0;
        int rc = r->on_input(r->user, job->start + k, &out);
        if (rc != 0)
            return input_cancels(r, in);
        in->slots[k] = (tf__slot){out.base, in->len - out.base, 0, 0, 1};
    }
    if (k < job->count &&
        tf__sched_requeue(&r->sched, job->start + k, job->count - k) != 0) {
        tf__batch_give(&r->spare, in);
        return TF_ENOMEM;
    }
    job->count = in->count = k;
    job->in = in;
    L->in_bytes += in->len;
    return 0;
}

/* Sends one job to w. 0 (sent or given back), 1 (nothing may go now), or
 * a TF_E code. */
static int send_one(tf__run *r, int w)
{
    tf__loop *L = r->loop;
    queue *q = &L->q[w];
    tf__job job;
    if (!next_job(r, w, &job))
        return 1;
    if (r->on_input != NULL) {
        int rc = make_inputs(r, &job);
        if (rc != 0)
            return rc;
    }
    q->job[q->n++] = job;
    L->outstanding++;
    int rc = L->t->send(L->st, w, &job, r);
    if (rc != 0) { /* it never left: undo, and give the range back */
        q->n--;
        L->outstanding--;
        drop_input(r, &job);
        requeue_job(r, job);
    }
    return rc;
}

/* Fills the ready workers' queues, oldest first; a worker leaves the
 * ring once full (or dead for good). */
static int dispatch(tf__run *r)
{
    tf__loop *L = r->loop;
    while (L->ready_n > 0 && !r->sched.stopped) {
        int w = L->ready[L->ready_head];
        if (L->q[w].dead) {
            if (tf__sched_done(&r->sched) && L->n_retries == 0)
                return 0;
            int rc = revive(r, w);
            if (rc == 1) { /* it stays dead */
                unlist_first(r);
                continue;
            }
            if (rc != 0)
                return rc;
        }
        while (L->q[w].n < L->depth) {
            int rc = send_one(r, w);
            if (rc == 1)
                return 0;
            if (rc != 0)
                return rc;
        }
        unlist_first(r);
    }
    return 0;
}

/* ---- the loop --------------------------------------------------------- */

static int setup(const tf__transport *t, void **state, tf__run *r,
                 tf__loop *L)
{
    memset(L, 0, sizeof(*L));
    L->t = t;
    L->depth = r->n_workers > r->cpus ? 1 : t->depth;
    if (r->opts->queue_depth > 0 && r->opts->queue_depth < L->depth)
        L->depth = r->opts->queue_depth;
    L->grace_end = -1;
    size_t limit = ((size_t)2 * (size_t)r->n_workers + 4) << 20;
    L->limit = limit < HELD_MAX ? limit : HELD_MAX;
    L->in_cap = L->limit / ((size_t)r->n_workers * (size_t)t->depth);
    tf__sched_hold(&r->sched,
                   L->limit / ((size_t)r->n_workers * (size_t)L->depth));
    L->q = calloc((size_t)r->n_workers, sizeof(*L->q));
    L->ready = malloc((size_t)r->n_workers * sizeof(*L->ready));
    if (L->q == NULL || L->ready == NULL) {
        free(L->q);
        free(L->ready);
        L->q = NULL;
        return TF_ENOMEM;
    }
    r->loop = L;
    for (int w = 0; w < r->n_workers; w++)
        list_ready(r, w);
    r->deliver.should_stop = stop_status;
    r->deliver.stop_ctx = r;
    int rc = *state == NULL ? t->start(state, r->n_workers, r) : 0;
    L->st = *state;
    if (rc == 0 && t->begin != NULL)
        rc = t->begin(L->st, r);
    return rc;
}

static void teardown(tf__run *r)
{
    tf__batch *rest = NULL;
    tf__deliver_drain(&r->deliver, &rest);
    tf__batch_give(&r->spare, rest);
    for (int w = 0; w < r->n_workers; w++)
        for (int k = 0; k < r->loop->q[w].n; k++)
            drop_input(r, &r->loop->q[w].job[k]);
    r->deliver.should_stop = NULL;
    free(r->loop->retries);
    free(r->loop->ready);
    free(r->loop->q);
    r->loop = NULL;
}

/* Stops everything after a failure of the farm itself: no more work, and
 * nothing left running that can be killed. */
static void fail_run(tf__run *r)
{
    tf__sched_stop(&r->sched);
    if (r->loop->t->can_kill)
        kill_busy(r);
}

static int drive(tf__run *r)
{
    tf__loop *L = r->loop;
    int rc = 0;
    for (;;) {
        enforce_stop(r);
        if (rc == 0 && (rc = dispatch(r)) != 0)
            fail_run(r);
        if (L->outstanding == 0)
            break;
        tf__event ev = {0};
        int err = L->t->wait(L->st, wait_seconds(r), r, &ev);
        if (err != 0) { /* the transport itself failed */
            rc = rc != 0 ? rc : err;
            fail_run(r);
            if (L->outstanding > 0)
                break; /* they cannot be killed, and nothing will come */
            continue;
        }
        err = on_event(r, &ev);
        if (err == 0)
            err = check_deadlines(r);
        if (err != 0 && rc == 0) {
            rc = err;
            fail_run(r);
        }
    }
    if (r->deliver.status == TF_EINTR && r->interrupted == 0)
        r->interrupted = tf__signals_caught();
    return rc;
}

int tf__run_loop(const tf__transport *t, void **state, tf__run *r)
{
    tf__loop L;
    int rc = setup(t, state, r, &L);
    if (rc == 0 && r->early_rc != 0)
        rc = r->early_rc; /* nothing runs: finish only says so */
    else if (rc == 0 && t->delivers != NULL && !t->delivers())
        rc = t->serve(L.st, r);
    else if (rc == 0)
        rc = drive(r);
    if (L.q != NULL && t->finish != NULL && *state != NULL)
        rc = t->finish(L.st, r, rc);
    if (L.q != NULL)
        teardown(r);
    return rc;
}
