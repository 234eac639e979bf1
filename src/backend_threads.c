/*
 * backend_threads.c - pthreads workers in the caller's process.
 *
 * DESIGN
 *   - A transport for the core's run loop (run.c): the pool is created at
 *     the farm's first run and kept until tf_farm_destroy().
 *   - Each worker has a mailbox of up to two jobs, each with the batch to
 *     fill (taken from the run's free list by the caller's thread, so the
 *     list needs no lock). Two, so that a worker finds its next job ready
 *     when it finishes one, while the caller's thread is delivering.
 *   - A worker computes the oldest job of its mailbox without the lock,
 *     then appends the batch to `finished` (first in, first out) and wakes
 *     the caller's thread, which waits on `done_cv` with a time-out so that
 *     it notices signals and stops. Workers never call the result or error
 *     callbacks.
 *   - Workers block all signals, so a signal to the process lands in the
 *     caller's thread. A running task cannot be interrupted: after a stop
 *     the core waits for the jobs already given out (a batch is about
 *     2 ms of work unless batch_size says otherwise).
 *   - Shutdown (destroy): workers finish what their mailbox holds, see
 *     `shutdown`, run the stop hook and leave; the caller joins them.
 *   - Each thread runs the start hook before it waits for its first job;
 *     if the hook fails, the thread computes nothing and answers every job
 *     with a batch that says so (status TF_EWORKER), which stops the run.
 *   - A job's inputs are read in place, from the core's batch.
 *
 * Lock invariants (pool->lock): mailboxes, finished, shutdown.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

typedef struct mail {
    tf__job job;
    tf__batch *batch;
    const tf__run *run;
} mail;

typedef struct mailbox {
    mail m[2];
    int n;
    pthread_cond_t cv;          /* a job arrived, or shutdown */
} mailbox;

typedef struct pool pool;

typedef struct worker_arg {
    pool *p;
    int w;
} worker_arg;

struct pool {
    tf__hooks hooks;
    pthread_mutex_t lock;
    pthread_cond_t done_cv;     /* the caller: a batch finished */
    pthread_t *threads;
    worker_arg *args;
    mailbox *box;
    int n;                      /* threads running */
    int shutdown;
    tf__batch *finished, *finished_tail;
};

static void finish(pool *p, tf__batch *b)
{
    b->next = NULL;
    if (p->finished_tail != NULL)
        p->finished_tail->next = b;
    else
        p->finished = b;
    p->finished_tail = b;
    pthread_cond_signal(&p->done_cv);
}

static void compute(const mail *m, tf__batch *b, int w, int hook_rc)
{
    const tf__run *r = m->run;
    const tf__exec how = {r->task, r->user, r->end_at_failure, NULL, NULL,
                          m->job.in, w};
    if (hook_rc != 0) {
        tf__batch_reset(b, m->job.start, 0);
        b->status = hook_rc;
    } else if (tf__batch_exec(b, m->job.start, m->job.count, &how) != 0) {
        b->count = 0;
        b->status = TF_ENOMEM;
    }
}

static void *worker_main(void *arg)
{
    pool *p = ((worker_arg *)arg)->p;
    int w = ((worker_arg *)arg)->w;
    mailbox *box = &p->box[w];
    int hook_rc = tf__hook_start(&p->hooks, w);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->shutdown && box->n == 0)
            pthread_cond_wait(&box->cv, &p->lock);
        if (box->n == 0)
            break;
        mail m = box->m[0];
        pthread_mutex_unlock(&p->lock);
        compute(&m, m.batch, w, hook_rc);
        m.batch->worker = w;
        pthread_mutex_lock(&p->lock);
        box->m[0] = box->m[1];
        box->n--;
        finish(p, m.batch);
    }
    pthread_mutex_unlock(&p->lock);
    if (hook_rc == 0)
        tf__hook_stop(&p->hooks, w);
    return NULL;
}

static void pool_free(pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->shutdown = 1;
    for (int i = 0; i < p->n; i++)
        pthread_cond_signal(&p->box[i].cv);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    tf__batch_free_list(p->finished);
    if (p->box != NULL)
        for (int i = 0; i < p->n; i++)
            pthread_cond_destroy(&p->box[i].cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p->args);
    free(p->box);
    free(p);
}

static int spawn_all(pool *p, int n)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = 0;
    for (; p->n < n; p->n++) {
        pthread_cond_init(&p->box[p->n].cv, NULL);
        p->args[p->n] = (worker_arg){p, p->n};
        err = pthread_create(&p->threads[p->n], NULL, worker_main,
                             &p->args[p->n]);
        if (err != 0) {
            pthread_cond_destroy(&p->box[p->n].cv);
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

static int threads_start(void **state, int n, tf__run *r)
{
    pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return TF_ENOMEM;
    p->threads = calloc((size_t)n, sizeof(*p->threads));
    p->args = calloc((size_t)n, sizeof(*p->args));
    p->box = calloc((size_t)n, sizeof(*p->box));
    p->hooks = r->hooks;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (p->threads == NULL || p->args == NULL || p->box == NULL) {
        pool_free(p);
        return TF_ENOMEM;
    }
    int err = spawn_all(p, n);
    if (err != 0) {
        pool_free(p); /* a half-built pool unwinds through its own free */
        r->sys_errno = err;
        return TF_ESYS;
    }
    *state = p;
    return 0;
}

static void threads_stop(void *state)
{
    if (state != NULL)
        pool_free(state);
}

static int threads_send(void *state, int w, const tf__job *job, tf__run *r)
{
    pool *p = state;
    tf__batch *b = tf__batch_take(&r->spare);
    if (b == NULL)
        return TF_ENOMEM;
    pthread_mutex_lock(&p->lock);
    mailbox *box = &p->box[w];
    box->m[box->n++] = (mail){*job, b, r};
    pthread_cond_signal(&box->cv);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void deadline_in(struct timespec *until, double seconds)
{
    clock_gettime(CLOCK_REALTIME, until);
    long ns = until->tv_nsec + (long)(seconds * 1e9);
    until->tv_sec += ns / 1000000000L;
    until->tv_nsec = ns % 1000000000L;
}

static int threads_wait(void *state, double timeout, tf__run *r,
                        tf__event *ev)
{
    (void)r;
    pool *p = state;
    struct timespec until;
    deadline_in(&until, timeout);
    pthread_mutex_lock(&p->lock);
    int err = 0;
    while (p->finished == NULL && err != ETIMEDOUT)
        err = pthread_cond_timedwait(&p->done_cv, &p->lock, &until);
    tf__batch *b = p->finished;
    if (b != NULL) {
        p->finished = b->next;
        if (p->finished == NULL)
            p->finished_tail = NULL;
        b->next = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (b == NULL)
        return 0;
    if (b->status != 0) {
        *ev = (tf__event){.kind = TF__EV_FAILED, .worker = b->worker,
                          .rc = b->status};
        tf__batch_free(b);
        return 0;
    }
    *ev = (tf__event){.kind = TF__EV_BATCH, .worker = b->worker, .batch = b};
    return 0;
}

const tf__transport tf__threads_transport = {
    .depth = 2, .start = threads_start, .stop = threads_stop,
    .send = threads_send, .wait = threads_wait};
