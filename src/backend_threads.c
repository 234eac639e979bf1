/*
 * backend_threads.c - pthreads workers in the caller's process.
 *
 * DESIGN
 *   - The pool is created at the farm's first run and kept until
 *     tf_farm_destroy(); each run bumps `generation` to wake the workers.
 *   - Workers pull ranges from the shared scheduler under `lock`, compute a
 *     batch without the lock, and push it onto `finished`. They never call
 *     the result or error callbacks.
 *   - The caller's thread is the collector: it takes `finished` under the
 *     lock, delivers it without the lock (so callbacks may take their time
 *     and never hold up the other workers' bookkeeping), then returns the
 *     spent batches to `spare` for reuse.
 *   - Memory: in index order, a worker waits before taking new work while
 *     `held` (batches finished but not yet delivered) is at the limit. The
 *     batch that blocks delivery is always already being computed or
 *     finished, because ranges are handed out in increasing order, so this
 *     wait cannot deadlock.
 *   - Stopping a run (first failure, callback cancel, out of memory) stops
 *     the scheduler; workers finish the batch in hand and leave; the
 *     collector recycles what they bring back and returns once all `n`
 *     workers have left the run.
 *   - Workers block all signals, so a signal to the process lands in the
 *     caller's thread. The collector wakes every 50 ms to notice one (a
 *     handler cannot signal a condition variable); running tasks cannot be
 *     interrupted, so they finish before the run returns TF_EINTR.
 *
 * Lock invariants (pool->lock): sched, finished, spare, held, left,
 * generation, run, error and shutdown are only touched under it.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

typedef struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work_cv;     /* workers: a new run, room, or shutdown */
    pthread_cond_t done_cv;     /* collector: a finished batch, or all left */
    pthread_t *threads;
    int n;                      /* threads running */
    int shutdown;
    unsigned long generation;
    tf__run *run;               /* NULL between runs */
    tf__batch *finished;        /* waiting for the collector (LIFO) */
    tf__batch *spare;           /* reusable batches */
    size_t held;                /* finished + pending in delivery */
    size_t limit;               /* most `held` in index order */
    int left;                   /* workers done with the current run */
    int error;                  /* a worker's TF_ENOMEM */
} pool;

static int must_wait(pool *p)
{
    return p->run->deliver.ordered && p->held >= p->limit &&
           !p->run->sched.stopped;
}

static void fail(pool *p, int rc)
{
    p->error = rc;
    tf__sched_stop(&p->run->sched);
}

/* A worker's part of one run. Called and returns with the lock held. */
static void work_on_run(pool *p)
{
    tf__run *r = p->run;
    const tf__exec how = {r->task, r->user, r->opts->stop_on_error, NULL, NULL};
    for (;;) {
        while (must_wait(p))
            pthread_cond_wait(&p->work_cv, &p->lock);
        tf__batch *b = tf__batch_take(&p->spare);
        if (b == NULL) {
            fail(p, TF_ENOMEM);
            break;
        }
        tf__range range = tf__sched_next(&r->sched);
        if (range.count == 0) {
            tf__batch_give(&p->spare, b);
            break;
        }
        pthread_mutex_unlock(&p->lock);
        int rc = tf__batch_exec(b, range.start, range.count, &how);
        pthread_mutex_lock(&p->lock);
        if (rc != 0) {
            tf__batch_free(b);
            fail(p, rc);
            break;
        }
        tf__sched_observe(&r->sched, b->count, b->seconds, b->len);
        b->next = p->finished;
        p->finished = b;
        p->held++;
        pthread_cond_signal(&p->done_cv);
    }
    p->left++;
    pthread_cond_signal(&p->done_cv);
}

static void *worker_main(void *arg)
{
    pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->shutdown && (p->run == NULL || p->generation == seen))
            pthread_cond_wait(&p->work_cv, &p->lock);
        if (p->shutdown)
            break;
        seen = p->generation;
        work_on_run(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void pool_free(pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->shutdown = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    tf__batch_free_list(p->spare);
    tf__batch_free_list(p->finished);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}

static int spawn_all(pool *p, int n)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = 0;
    for (; p->n < n; p->n++) {
        err = pthread_create(&p->threads[p->n], NULL, worker_main, p);
        if (err != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

static int threads_start(tf_farm *farm)
{
    pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return TF_ENOMEM;
    p->threads = calloc((size_t)farm->n_workers, sizeof(*p->threads));
    if (p->threads == NULL) {
        free(p);
        return TF_ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    int err = spawn_all(p, farm->n_workers);
    if (err != 0) {
        pool_free(p); /* a half-built pool unwinds through its own free */
        farm->sys_errno = err;
        return TF_ESYS;
    }
    farm->state = p;
    return 0;
}

/* Delivers a list of finished batches outside the lock. Returns the spent
 * ones; stops the scheduler (under the lock, later) through *stop. */
static tf__batch *deliver_list(tf__run *r, tf__batch *list, int *stop)
{
    tf__batch *rev = NULL;   /* oldest first, for "as completed" */
    while (list != NULL) {
        tf__batch *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    tf__batch *spent = NULL;
    while (rev != NULL) {
        tf__batch *next = rev->next;
        if (tf__deliver_batch(&r->deliver, rev, &spent) != 0)
            *stop = 1;
        rev = next;
    }
    return spent;
}

static size_t list_length(const tf__batch *b)
{
    size_t n = 0;
    for (; b != NULL; b = b->next)
        n++;
    return n;
}

static void wait_a_little(pool *p)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 50 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->done_cv, &p->lock, &until);
}

static int threads_run(tf_farm *farm, tf__run *r)
{
    pool *p = farm->state;
    pthread_mutex_lock(&p->lock);
    p->run = r;
    p->generation++;
    p->left = 0;
    p->held = 0;
    p->error = 0;
    /* Batches finished but not delivered, at most: two per worker and a
     * few more. (Counted in batches, not bytes as procs and MPI do: here
     * every batch is a worker's, sized alike.) */
    p->limit = 2 * (size_t)p->n + 4;
    pthread_cond_broadcast(&p->work_cv);
    for (;;) {
        while (p->finished == NULL && p->left < p->n) {
            /* Wake now and then: a signal cannot signal a condition. */
            wait_a_little(p);
            if (tf__run_check_signal(r))
                pthread_cond_broadcast(&p->work_cv);
        }
        if (p->finished == NULL)
            break;   /* every worker left and nothing is waiting */
        tf__batch *list = p->finished;
        p->finished = NULL;
        pthread_mutex_unlock(&p->lock);
        int stop = 0;
        tf__batch *spent = deliver_list(r, list, &stop);
        pthread_mutex_lock(&p->lock);
        if (stop)
            tf__sched_stop(&r->sched);
        p->held -= list_length(spent);
        tf__batch_give(&p->spare, spent);
        pthread_cond_broadcast(&p->work_cv);
    }
    tf__batch *rest = NULL;
    tf__deliver_drain(&r->deliver, &rest);
    tf__batch_give(&p->spare, rest);
    p->run = NULL;
    int rc = p->error;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static void threads_stop(tf_farm *farm)
{
    if (farm->state != NULL)
        pool_free(farm->state);
    farm->state = NULL;
}

const tf__backend_ops tf__threads_ops = {
    .start = threads_start, .run = threads_run, .stop = threads_stop};
