/*
 * backend_procs.c - forked worker processes: crash isolation, time limits,
 * retries.
 *
 * DESIGN
 *   - Workers are forked at the farm's first run and reused by later runs
 *     (procs_worker.c is their side). Each has one socketpair: jobs go down,
 *     finished batches come up; send() uses MSG_NOSIGNAL, so a dead worker
 *     can never raise SIGPIPE in the caller. Each also has a slot in shared
 *     memory where it records the task it is on and since when.
 *   - Everything on this side runs in the caller's thread, in one poll()
 *     loop: dispatch ranges to idle workers, collect finished batches,
 *     deliver them (in index order by default), repeat. The scheduler and
 *     the delivery are the same as the threads backend's.
 *   - A worker that dies (any signal, any exit, out of memory) shows up as
 *     end of file on its socket. Its slot names the task it was on: that
 *     task is reported with the signal or exit status; the batch's other
 *     tasks go back to the scheduler; the worker is reaped and replaced.
 *     Nothing waits on a dead worker, so a run never hangs.
 *   - Time limit: a task running longer than task_timeout has its worker
 *     killed (SIGKILL), and is handled like a crash, reported as a timeout.
 *   - Retries: a task that failed (error, crash or timeout) with attempts
 *     left is queued again and given to a freshly forked worker; the
 *     others in its batch go back to the scheduler.
 *   - Stopping (first failure, callback cancel): no more dispatch; busy
 *     workers are killed at once rather than waited for, so a cancel is
 *     immediate; dead workers are forked again on the next run. SIGINT or
 *     SIGTERM (Slurm's time limit) also stops dispatch, but busy workers
 *     get grace_seconds to finish, so that their results reach the journal
 *     before Slurm's SIGKILL.
 *   - Destroy kills and reaps every worker: no zombies, no descriptors left.
 *   - A new worker closes its siblings' sockets and the run's journal: a
 *     worker orphaned by a killed parent must not keep the journal's lock
 *     from the rerun. (The caller's other descriptors stay open: a task
 *     may use them.)
 */
#define _GNU_SOURCE
#include "procs.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define POLL_MS_MAX 50   /* how often the loop looks at signals and clocks */

typedef struct worker {
    pid_t pid;          /* 0 = not running */
    int fd;             /* the parent's end of the socketpair, or -1 */
    tf__range job;      /* what it computes; count 0 = idle */
    int attempt;        /* attempt number of a retried task, else 0 */
    int fresh;          /* forked and not given any work yet */
} worker;

typedef struct retry {
    size_t index;
    int attempt;
} retry;

typedef struct procs {
    const tf_farm *farm;      /* for the journal a new worker must close */
    worker *w;
    int n;
    tf__worker_slot *slots;   /* shared with the workers */
    char **env;               /* the workers' environment */
    int *close_fds;           /* scratch: what a new child must close */
    struct pollfd *pfd;
    int *pfd_worker;
    tf__batch *spare;
    retry *retries;
    size_t n_retries, retries_cap;
} procs;

/* ---- the workers' environment ----------------------------------------- */

static const char *const thread_vars[] = {"OMP_NUM_THREADS",
                                          "OPENBLAS_NUM_THREADS",
                                          "MKL_NUM_THREADS"};
#define N_THREAD_VARS (sizeof(thread_vars) / sizeof(*thread_vars))

static void free_env(char **env)
{
    if (env == NULL)
        return;
    for (size_t i = 0; env[i] != NULL; i++)
        free(env[i]);
    free(env);
}

/* A copy of environ plus NAME=threads for each nested-threading variable
 * the user did not set, so that n workers x their threads fit the CPUs. */
static char **build_env(int threads)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + N_THREAD_VARS + 1, sizeof(*env));
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (; k < n; k++)
        if ((env[k] = strdup(environ[k])) == NULL)
            goto fail;
    for (size_t v = 0; v < N_THREAD_VARS; v++) {
        if (getenv(thread_vars[v]) != NULL)
            continue;
        size_t len = strlen(thread_vars[v]) + 16;
        if ((env[k] = malloc(len)) == NULL)
            goto fail;
        snprintf(env[k++], len, "%s=%d", thread_vars[v], threads);
    }
    return env;
fail:
    free_env(env);
    return NULL;
}

/* ---- one worker's life ------------------------------------------------ */

static int spawn(procs *p, int i)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return TF_ESYS;
    size_t n_close = 0;
    for (int j = 0; j < p->n; j++)
        if (j != i && p->w[j].fd >= 0)
            p->close_fds[n_close++] = p->w[j].fd;
    p->close_fds[n_close++] = sv[0];
    if (p->farm->journal_fd >= 0)
        p->close_fds[n_close++] = p->farm->journal_fd;
    atomic_store(&p->slots[i].started_ns, 0);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        errno = e;
        return TF_ESYS;
    }
    if (pid == 0)
        tf__worker_main(sv[1], sv[1], &p->slots[i], p->env, p->close_fds,
                        n_close);
    close(sv[1]);
    p->w[i] = (worker){pid, sv[0], {0, 0}, 0, 1};
    return 0;
}

/* Waits for a worker that is gone or going; returns its wait status. */
static int reap(worker *w)
{
    int status = 0;
    if (w->fd >= 0)
        close(w->fd);
    while (w->pid > 0 && waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
        ;
    w->pid = 0;
    w->fd = -1;
    w->job.count = 0;
    w->attempt = 0;
    return status;
}

static int kill_worker(worker *w)
{
    if (w->pid > 0)
        kill(w->pid, SIGKILL);
    return reap(w);
}

static int revive(procs *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->w[i].pid == 0 && spawn(p, i) != 0)
            return TF_ESYS;
    return 0;
}

/* ---- batches and retries ---------------------------------------------- */

/* Queues another attempt at `index` after attempt `attempt - 1` failed
 * with (kind, code), and tells the caller. */
static int push_retry(procs *p, const tf__run *r, size_t index, int attempt,
                      int kind, int code)
{
    if (r->opts->on_retry != NULL) {
        tf_task_error failed = {index, (tf_fail_kind)kind, code, attempt - 1};
        r->opts->on_retry(r->opts->retry_user, &failed);
    }
    if (p->n_retries == p->retries_cap) {
        size_t cap = p->retries_cap ? 2 * p->retries_cap : 8;
        retry *grown = realloc(p->retries, cap * sizeof(*grown));
        if (grown == NULL)
            return TF_ENOMEM;
        p->retries = grown;
        p->retries_cap = cap;
    }
    p->retries[p->n_retries++] = (retry){index, attempt};
    return 0;
}

/* Hands a batch to the delivery, or recycles it when it is empty. */
static void deliver(procs *p, tf__run *r, tf__batch *b)
{
    tf__batch *spent = NULL;
    if (b->count == 0) {
        tf__batch_give(&p->spare, b);
        return;
    }
    if (tf__deliver_batch(&r->deliver, b, &spent) != 0)
        tf__sched_stop(&r->sched);
    tf__batch_give(&p->spare, spent);
}

static int requeue_around(tf__run *r, tf__range job, size_t index)
{
    size_t end = job.start + job.count;
    if (tf__sched_requeue(&r->sched, job.start, index - job.start) != 0 ||
        tf__sched_requeue(&r->sched, index + 1, end - index - 1) != 0)
        return TF_ENOMEM;
    return 0;
}

/* Task `index` failed for good or gets another attempt. */
static int task_failed(procs *p, tf__run *r, size_t index, int kind, int code,
                       int attempt)
{
    if (attempt < 1 + r->opts->retries)
        return push_retry(p, r, index, attempt + 1, kind, code);
    tf__batch *b = tf__batch_take(&p->spare);
    if (b == NULL || tf__batch_set_failed(b, index, kind, code, attempt) != 0) {
        tf__batch_free(b);
        return TF_ENOMEM;
    }
    deliver(p, r, b);
    return 0;
}

/* ---- a worker that died or overstayed --------------------------------- */

static int worker_lost(procs *p, tf__run *r, int i, int timed_out)
{
    worker *w = &p->w[i];
    tf__range job = w->job;
    int attempt = w->attempt > 0 ? w->attempt : 1;
    size_t index = atomic_load(&p->slots[i].index);
    int status = timed_out ? kill_worker(w) : reap(w);
    int rc = 0;
    if (job.count > 0) {
        if (index < job.start || index >= job.start + job.count)
            index = job.start;
        int kind = TF_FAIL_EXIT, code = 0;
        if (timed_out) {
            kind = TF_FAIL_TIMEOUT;
            code = (int)(r->opts->task_timeout + 0.999);
        } else if (WIFSIGNALED(status)) {
            kind = TF_FAIL_SIGNAL;
            code = WTERMSIG(status);
        } else if (WIFEXITED(status)) {
            code = WEXITSTATUS(status);
        }
        rc = requeue_around(r, job, index);
        if (rc == 0)
            rc = task_failed(p, r, index, kind, code, attempt);
    }
    if (rc == 0 && spawn(p, i) != 0) {
        r->sys_errno = errno;
        rc = TF_ESYS;
    }
    return rc;
}

/* ---- a finished batch ------------------------------------------------- */

static int receive(procs *p, int i, tf__batch **out)
{
    worker *w = &p->w[i];
    tf__result_msg m;
    *out = NULL;
    if (tf__read_full(w->fd, &m, sizeof m) != 0)
        return 1; /* the worker is gone */
    tf__batch *b = tf__batch_take(&p->spare);
    if (b == NULL || tf__batch_reset(b, m.start, m.count) != 0 ||
        tf__batch_reserve(b, m.len) != 0) {
        tf__batch_free(b);
        return TF_ENOMEM;
    }
    if (tf__read_full(w->fd, b->slots, m.count * sizeof(tf__slot)) != 0 ||
        tf__read_full(w->fd, b->data, m.len) != 0) {
        tf__batch_give(&p->spare, b);
        return 1;
    }
    b->len = m.len;
    b->seconds = m.seconds;
    *out = b;
    return 0;
}

static int finish_batch(procs *p, tf__run *r, int i, tf__batch *b)
{
    worker *w = &p->w[i];
    tf__range job = w->job;
    int attempt = w->attempt;
    w->job.count = 0;
    w->attempt = 0;
    tf__sched_observe(&r->sched, b->count, b->seconds, b->len);
    if (attempt > 1)
        b->slots[0].attempts = attempt;
    /* Cut short at a failure: the tasks after it go back to the scheduler. */
    size_t got_end = b->start + b->count;
    int rc = tf__sched_requeue(&r->sched, got_end,
                               job.start + job.count - got_end);
    tf__slot *last = b->count > 0 ? &b->slots[b->count - 1] : NULL;
    if (rc == 0 && last != NULL && last->fail != 0 &&
        last->attempts < 1 + r->opts->retries) {
        rc = push_retry(p, r, got_end - 1, last->attempts + 1, last->fail,
                        last->code);
        b->count--;
        kill_worker(w); /* the retry goes to a fresh worker */
        if (rc == 0 && spawn(p, i) != 0) {
            r->sys_errno = errno;
            rc = TF_ESYS;
        }
    }
    deliver(p, r, b);
    return rc;
}

static int collect(procs *p, tf__run *r, int i)
{
    tf__batch *b;
    int rc = receive(p, i, &b);
    if (rc == 1)
        return worker_lost(p, r, i, 0);
    if (rc != 0)
        return rc;
    if (p->w[i].job.count == 0) { /* nothing was asked: protocol error */
        tf__batch_give(&p->spare, b);
        return worker_lost(p, r, i, 0);
    }
    return finish_batch(p, r, i, b);
}

/* ---- dispatch --------------------------------------------------------- */

static int send_job(procs *p, tf__run *r, int i, tf__range job, int attempt)
{
    worker *w = &p->w[i];
    int end_at_failure = r->opts->stop_on_error || r->opts->retries > 0;
    tf__job_msg m = {job.start, job.count, r->task, r->user, end_at_failure,
                     0};
    atomic_store(&p->slots[i].index, job.start);
    atomic_store(&p->slots[i].started_ns, 0);
    w->job = job;
    w->attempt = attempt;
    w->fresh = 0;
    const char *c = (const char *)&m;
    size_t left = sizeof m;
    while (left > 0) {
        ssize_t n = send(w->fd, c, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return worker_lost(p, r, i, 0);
        c += n;
        left -= (size_t)n;
    }
    return 0;
}


static int dispatch_one(procs *p, tf__run *r, int i)
{
    if (p->n_retries > 0 && p->w[i].fresh) {
        retry t = p->retries[--p->n_retries];
        return send_job(p, r, i, (tf__range){t.index, 1}, t.attempt);
    }
    if (p->n_retries > 0 || tf__run_must_wait(r, p->n))
        return 0; /* keep fresh workers for retries; let delivery catch up */
    tf__range job = tf__sched_next(&r->sched);
    return job.count > 0 ? send_job(p, r, i, job, 0) : 0;
}

static int dispatch(procs *p, tf__run *r)
{
    if (r->sched.stopped)
        return 0;
    for (int i = 0; i < p->n; i++) {
        if (p->w[i].pid == 0 || p->w[i].job.count > 0)
            continue;
        int rc = dispatch_one(p, r, i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- waiting ---------------------------------------------------------- */

static int busy_count(const procs *p)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        n += p->w[i].job.count > 0;
    return n;
}

static int readable_now(int fd)
{
    struct pollfd one = {fd, POLLIN, 0};
    return poll(&one, 1, 0) > 0;
}

/* Milliseconds until the earliest time limit, at most POLL_MS_MAX. */
static int poll_timeout(const procs *p, const tf__run *r)
{
    double limit = r->opts->task_timeout;
    int ms = POLL_MS_MAX;
    if (limit <= 0)
        return ms;
    uint64_t now = tf__now_ns();
    for (int i = 0; i < p->n; i++) {
        uint64_t t0 = atomic_load(&p->slots[i].started_ns);
        if (p->w[i].job.count == 0 || t0 == 0)
            continue;
        double left_ms = (double)t0 / 1e6 + limit * 1e3 - (double)now / 1e6;
        if (left_ms < ms)
            ms = left_ms < 1 ? 1 : (int)left_ms;
    }
    return ms;
}

static int check_timeouts(procs *p, tf__run *r)
{
    if (r->opts->task_timeout <= 0)
        return 0;
    uint64_t now = tf__now_ns();
    uint64_t limit = (uint64_t)(r->opts->task_timeout * 1e9);
    for (int i = 0; i < p->n; i++) {
        worker *w = &p->w[i];
        uint64_t t0 = atomic_load(&p->slots[i].started_ns);
        if (w->job.count == 0 || t0 == 0 || now - t0 <= limit ||
            readable_now(w->fd))
            continue;
        int rc = worker_lost(p, r, i, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int wait_and_collect(procs *p, tf__run *r)
{
    int n = 0;
    for (int i = 0; i < p->n; i++) {
        if (p->w[i].pid == 0)
            continue;
        p->pfd[n] = (struct pollfd){p->w[i].fd, POLLIN, 0};
        p->pfd_worker[n++] = i;
    }
    int ready = poll(p->pfd, (nfds_t)n, poll_timeout(p, r));
    if (ready < 0 && errno != EINTR) {
        r->sys_errno = errno;
        return TF_ESYS;
    }
    for (int k = 0; k < n && ready > 0; k++) {
        if (p->pfd[k].revents == 0)
            continue;
        int i = p->pfd_worker[k];
        /* An idle worker has nothing to say: readable means it died. */
        int rc = p->w[i].job.count > 0 ? collect(p, r, i)
                                       : worker_lost(p, r, i, 0);
        if (rc != 0)
            return rc;
    }
    return check_timeouts(p, r);
}

static void stop_busy(procs *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->w[i].job.count > 0)
            kill_worker(&p->w[i]);
}

/* ---- the backend ------------------------------------------------------ */

static void procs_free(procs *p)
{
    /* Signal every worker, then reap them: they die in parallel. */
    for (int i = 0; i < p->n; i++)
        if (p->w[i].pid > 0)
            kill(p->w[i].pid, SIGKILL);
    for (int i = 0; i < p->n; i++)
        reap(&p->w[i]);
    if (p->slots != NULL)
        munmap(p->slots, (size_t)p->n * sizeof(*p->slots));
    free_env(p->env);
    tf__batch_free_list(p->spare);
    free(p->retries);
    free(p->close_fds);
    free(p->pfd);
    free(p->pfd_worker);
    free(p->w);
    free(p);
}

static int procs_alloc(procs *p, int n)
{
    p->n = n;
    p->w = calloc((size_t)n, sizeof(*p->w));
    p->close_fds = calloc((size_t)n + 2, sizeof(*p->close_fds));
    p->pfd = calloc((size_t)n, sizeof(*p->pfd));
    p->pfd_worker = calloc((size_t)n, sizeof(*p->pfd_worker));
    if (p->w == NULL || p->close_fds == NULL || p->pfd == NULL ||
        p->pfd_worker == NULL)
        return TF_ENOMEM;
    for (int i = 0; i < n; i++)
        p->w[i].fd = -1;
    void *m = mmap(NULL, (size_t)n * sizeof(*p->slots), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return TF_ENOMEM;
    p->slots = m;
    tf_cpus cpus;
    tf_cpus_detect(&cpus);
    int threads = cpus.count / n > 1 ? cpus.count / n : 1;
    p->env = build_env(threads);
    return p->env != NULL ? 0 : TF_ENOMEM;
}

static int procs_start(tf_farm *farm)
{
    procs *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return TF_ENOMEM;
    p->farm = farm;
    int rc = procs_alloc(p, farm->n_workers);
    if (rc == 0 && revive(p) != 0) {
        farm->sys_errno = errno;
        rc = TF_ESYS;
    }
    if (rc != 0) {
        procs_free(p); /* a half-built farm unwinds through its own free */
        return rc;
    }
    farm->state = p;
    return 0;
}

static double grace_seconds(const tf_options *o)
{
    if (o->grace_seconds < 0)
        return 0;
    return o->grace_seconds > 0 ? o->grace_seconds : 3.0;
}

static int procs_run(tf_farm *farm, tf__run *r)
{
    procs *p = farm->state;
    p->n_retries = 0;
    int rc = revive(p);
    if (rc != 0)
        r->sys_errno = errno;
    double grace_end = -1;
    while (rc == 0) {
        tf__run_check_signal(r);
        if (r->interrupted != 0 && grace_end < 0)
            grace_end = tf__now() + grace_seconds(r->opts);
        /* A stop kills busy workers at once; a signal lets them finish
         * (and their results reach the journal) until the grace ends. */
        if (r->sched.stopped && (r->interrupted == 0 || tf__now() >= grace_end))
            stop_busy(p);
        rc = dispatch(p, r);
        if (rc != 0 || busy_count(p) == 0)
            break;
        rc = wait_and_collect(p, r);
    }
    if (rc != 0)
        stop_busy(p);
    tf__batch *rest = NULL;
    tf__deliver_drain(&r->deliver, &rest);
    tf__batch_give(&p->spare, rest);
    return rc;
}

static void procs_stop(tf_farm *farm)
{
    if (farm->state != NULL)
        procs_free(farm->state);
    farm->state = NULL;
}

const tf__backend_ops tf__procs_ops = {
    .start = procs_start, .run = procs_run, .stop = procs_stop};
