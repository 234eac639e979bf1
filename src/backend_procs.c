/*
 * backend_procs.c - forked worker processes: crash isolation, time limits.
 *
 * DESIGN
 *   - A transport for the core's run loop (run.c), which owns dispatch,
 *     retries, time limits and delivery; this file moves jobs and batches
 *     and says what happened to a worker.
 *   - Workers are forked at the farm's first run and reused by later runs
 *     (procs_worker.c is their side). Each has one socketpair: jobs go
 *     down, finished batches come up (wire.h); send() uses MSG_NOSIGNAL,
 *     so a dead worker can never raise SIGPIPE in the caller. Each also has
 *     a slot in shared memory where it records the task it is on and since
 *     when: the core's time limits and the blame for a crash read it.
 *   - Everything on this side runs in the caller's thread. The sockets are
 *     read without blocking, a message assembled as its bytes arrive, so a
 *     worker that stalls half-way through a message cannot stall the
 *     others. Jobs are written without blocking too (a job's inputs may be
 *     larger than the socket holds while the worker is still computing its
 *     previous job): what does not fit waits in the worker's outbox and
 *     goes out when poll says the socket is writable. The bytes are sent
 *     from the core's input batch, which lives until the job is answered
 *     or the worker is lost. Every header is checked against the job it
 *     answers before anything is allocated, the slots before the batch is
 *     used: a malformed message is a lost worker (killed, TF_FAIL_LOST).
 *   - A worker that dies (any signal, any exit, out of memory) shows up as
 *     end of file on its socket. It is reaped and its wait status
 *     reported. End of file from a worker that is still alive (a task
 *     closed the descriptors it inherited) means it can no longer answer:
 *     it is killed at once and reported as TF_FAIL_LOST, never waited for.
 *   - Workers that died between runs (the OOM killer, an administrator)
 *     are found and replaced when the next run begins, before they are
 *     given work.
 *   - With no more workers than CPUs in the affinity mask, worker i stays
 *     on the i-th of them.
 *   - Destroy kills and reaps every worker: no zombies, no descriptors left.
 *     With an on_worker_stop hook it closes their sockets instead and
 *     waits for them to run it and exit.
 *   - The start hook runs in the child right after the fork; a child whose
 *     hook failed answers its first job with a header that says so.
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long a worker whose socket closed may take to be seen exiting
 * before it is taken to be alive and killed. */
#define EXIT_WAIT_SECONDS 0.05

/* A message being received: the header, then the slots, then the bytes. */
typedef struct rx {
    tf__wire_result h;
    tf__batch *b;       /* once the header passed its checks */
    size_t got;         /* bytes of the current part */
    int part;           /* 0 header, 1 slots, 2 bytes */
} rx;

/* A job on its way out: its header (a copy), then its inputs' slots and
 * bytes (the core's), `done` bytes of it written so far. */
typedef struct tx {
    tf__wire_job m;
    const void *slots, *data;
    size_t slots_len, data_len, done;
} tx;

typedef struct worker {
    pid_t pid;          /* 0 = not running */
    int fd;             /* the parent's end of the socketpair, or -1 */
    int pidfd;          /* readable when the process ends; -1 = none */
    rx in;
    tx out[2];          /* oldest first */
    int n_out;
} worker;

typedef struct procs {
    worker *w;
    int n;
    tf__hooks hooks;
    tf__worker_slot *slots;   /* shared with the workers */
    char **env;               /* the workers' environment */
    cpu_set_t *cpus;          /* worker i's CPU, or NULL: not pinned */
    int *close_fds;           /* scratch: what a new child must close */
    struct pollfd *pfd;
    int *pfd_worker;
    int next_poll;            /* where the next scan starts: fairness */
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

static int spawn(procs *p, int i, const tf__run *r)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return TF_ESYS;
    size_t n_close = 0;
    for (int j = 0; j < p->n; j++) {
        if (j == i)
            continue;
        if (p->w[j].fd >= 0)
            p->close_fds[n_close++] = p->w[j].fd;
        if (p->w[j].pidfd >= 0)
            p->close_fds[n_close++] = p->w[j].pidfd;
    }
    p->close_fds[n_close++] = sv[0];
    if (r->journal_fd >= 0)
        p->close_fds[n_close++] = r->journal_fd;
    atomic_store(&p->slots[i].started_ns, 0);
    tf__worker_setup setup = {sv[1], i, &p->hooks, &p->slots[i], p->env,
                              p->close_fds, n_close,
                              p->cpus != NULL ? &p->cpus[i] : NULL};
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        errno = e;
        return TF_ESYS;
    }
    if (pid == 0)
        tf__worker_main(&setup);
    close(sv[1]);
    /* A task's own children may keep the socket open after the worker is
     * gone: the process itself is watched too (Linux 5.3+; without it, a
     * death is seen at end of file or at the next run). */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    p->w[i] = (worker){.pid = pid, .fd = sv[0], .pidfd = pidfd};
    return 0;
}

/* Forgets a message half received, and every job not yet written. */
static void drop_message(worker *w)
{
    tf__batch_free(w->in.b);
    w->in = (rx){0};
    w->n_out = 0;
}

static void close_fds(worker *w)
{
    drop_message(w);
    if (w->fd >= 0)
        close(w->fd);
    if (w->pidfd >= 0)
        close(w->pidfd);
    w->fd = w->pidfd = -1;
}

/* Waits for a worker that is gone or going; returns its wait status. */
static int reap(worker *w)
{
    int status = 0;
    close_fds(w);
    while (w->pid > 0 && waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
        ;
    w->pid = 0;
    return status;
}

/* 1 if the worker's process has ended: then it is reaped, and *status is
 * its wait status. */
static int exited(worker *w, int *status)
{
    if (w->pid <= 0 || waitpid(w->pid, status, WNOHANG) != w->pid)
        return 0;
    w->pid = 0;
    close_fds(w);
    return 1;
}

static void status_kind(int status, int *kind, int *code)
{
    *kind = WIFSIGNALED(status) ? TF_FAIL_SIGNAL : TF_FAIL_EXIT;
    *code = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
}

static void kill_worker(worker *w)
{
    if (w->pid > 0)
        kill(w->pid, SIGKILL);
    reap(w);
}

/* A worker whose socket closed: how it ended, or, if it is still alive
 * after EXIT_WAIT_SECONDS, killed and reported as lost. */
static void ended(worker *w, int *kind, int *code)
{
    w->n_out = 0; /* nothing more goes to it */
    int status = 0;
    double give_up = tf__now() + EXIT_WAIT_SECONDS;
    while (!exited(w, &status) && tf__now() < give_up)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    if (w->pid > 0) {
        kill_worker(w);
        *kind = TF_FAIL_LOST;
        *code = 0;
        return;
    }
    status_kind(status, kind, code);
}

/* ---- receiving -------------------------------------------------------- */

/* Where the current part of the message goes, and how long it is. */
static void *part_buffer(rx *in, size_t *len)
{
    switch (in->part) {
    case 0:
        *len = sizeof in->h;
        return &in->h;
    case 1:
        *len = in->h.count * sizeof(tf__slot);
        return in->b->slots;
    default:
        *len = in->h.len;
        return in->b->data;
    }
}

/* The header is complete: check it against the job, make the batch.
 * 0, 2 (the worker's start hook failed: nothing follows) or -1. */
static int accept_header(rx *in, int w, tf__run *r)
{
    const tf__job *job = tf__run_head(r, w);
    int ok = tf__wire_check_header(&in->h, job);
    if (ok != 0)
        return ok == 1 ? 2 : -1;
    tf__batch *b = tf__batch_take(&r->spare);
    if (b == NULL || tf__batch_reset(b, in->h.start, in->h.count) != 0 ||
        tf__batch_reserve(b, in->h.len) != 0) {
        tf__batch_free(b); /* more than memory holds: the worker is lost */
        return -1;
    }
    in->b = b;
    return 0;
}

/* A part is complete: move on. 1 when the whole message is in, 2 when it
 * was a start hook's failure. */
static int next_part(rx *in, int w, tf__run *r)
{
    in->got = 0;
    if (in->part == 0) {
        int ok = accept_header(in, w, r);
        if (ok != 0)
            return ok;
    }
    if (in->part == 1 &&
        tf__wire_check_slots(&in->h, in->b->slots, tf__run_head(r, w),
                             r->end_at_failure) != 0)
        return -1;
    if (in->part++ < 2)
        return 0;
    in->b->len = in->h.len;
    in->b->seconds = in->h.seconds;
    in->b->worker = w;
    return 1;
}

/* Reads what worker w has sent. 1: a batch is complete (in ev); 0: more
 * to come; -1: end of file or an error; -2: a malformed message. */
static int receive(worker *wk, int w, tf__run *r, tf__event *ev)
{
    rx *in = &wk->in;
    for (;;) {
        size_t len;
        char *buf = part_buffer(in, &len);
        if (in->got == len) {
            int done = next_part(in, w, r);
            if (done < 0)
                return -2;
            if (done == 2) {
                *ev = (tf__event){.kind = TF__EV_FAILED, .worker = w,
                                  .rc = TF_EWORKER};
                in->part = 0;
                return 1;
            }
            if (done == 1) {
                *ev = (tf__event){.kind = TF__EV_BATCH, .worker = w,
                                  .batch = in->b};
                in->b = NULL;
                in->part = 0;
                return 1;
            }
            continue;
        }
        ssize_t n = recv(wk->fd, buf + in->got, len - in->got, MSG_DONTWAIT);
        if (n > 0) {
            in->got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
}

/* Worker w is lost: the event that tells the core how. */
static void lost(procs *p, int w, int malformed, tf__run *r, tf__event *ev)
{
    (void)r;
    worker *wk = &p->w[w];
    drop_message(wk);
    int kind = TF_FAIL_LOST, code = 0;
    if (malformed)
        kill_worker(wk);
    else
        ended(wk, &kind, &code);
    *ev = (tf__event){.kind = TF__EV_LOST, .worker = w, .fail = kind,
                      .code = code};
}

/* ---- the transport ---------------------------------------------------- */

/* With a stop hook: end of file tells each worker to run it and exit. */
static void close_and_wait(procs *p)
{
    for (int i = 0; i < p->n; i++) {
        if (p->w[i].fd >= 0)
            close(p->w[i].fd);
        p->w[i].fd = -1;
    }
    for (int i = 0; i < p->n; i++)
        reap(&p->w[i]);
}

static void procs_free(procs *p)
{
    if (p->hooks.stop != NULL && p->w != NULL)
        close_and_wait(p);
    /* Signal every worker, then reap them: they die in parallel. */
    for (int i = 0; i < p->n; i++)
        if (p->w[i].pid > 0)
            kill(p->w[i].pid, SIGKILL);
    for (int i = 0; i < p->n; i++)
        reap(&p->w[i]);
    if (p->slots != NULL)
        munmap(p->slots, (size_t)p->n * sizeof(*p->slots));
    free_env(p->env);
    free(p->cpus);
    free(p->close_fds);
    free(p->pfd);
    free(p->pfd_worker);
    free(p->w);
    free(p);
}

/* One CPU of the affinity mask per worker, when there are enough. */
static cpu_set_t *pin_plan(int n)
{
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) != 0 || CPU_COUNT(&mask) < n)
        return NULL;
    cpu_set_t *plan = calloc((size_t)n, sizeof(*plan));
    if (plan == NULL)
        return NULL;
    int cpu = 0;
    for (int i = 0; i < n; i++, cpu++) {
        while (!CPU_ISSET(cpu, &mask))
            cpu++;
        CPU_ZERO(&plan[i]);
        CPU_SET(cpu, &plan[i]);
    }
    return plan;
}

/* cpus: what the farm found at create. */
static int procs_alloc(procs *p, int n, int cpus)
{
    p->n = n;
    p->w = calloc((size_t)n, sizeof(*p->w));
    p->close_fds = calloc(2 * (size_t)n + 2, sizeof(*p->close_fds));
    p->pfd = calloc(2 * (size_t)n, sizeof(*p->pfd));
    p->pfd_worker = calloc((size_t)n, sizeof(*p->pfd_worker));
    if (p->w == NULL || p->close_fds == NULL || p->pfd == NULL ||
        p->pfd_worker == NULL)
        return TF_ENOMEM;
    for (int i = 0; i < n; i++)
        p->w[i].fd = p->w[i].pidfd = -1;
    void *m = mmap(NULL, (size_t)n * sizeof(*p->slots), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return TF_ENOMEM;
    p->slots = m;
    int threads = cpus / n > 1 ? cpus / n : 1;
    p->env = build_env(threads);
    if (n <= cpus)
        p->cpus = pin_plan(n);
    return p->env != NULL ? 0 : TF_ENOMEM;
}

static int procs_revive(void *state, int w, tf__run *r)
{
    procs *p = state;
    if (p->w[w].pid > 0)
        kill_worker(&p->w[w]);
    if (spawn(p, w, r) != 0) {
        r->sys_errno = errno;
        return TF_ESYS;
    }
    return 0;
}

/* An idle worker has nothing to say: a readable socket means it died (or
 * broke); so does a process that ended while a descendant holds its
 * socket. */
static int idle_and_alive(worker *w)
{
    int status;
    struct pollfd one = {w->fd, POLLIN, 0};
    return w->pid > 0 && !exited(w, &status) && poll(&one, 1, 0) == 0;
}

static int procs_begin(void *state, tf__run *r)
{
    procs *p = state;
    for (int i = 0; i < p->n; i++) {
        if (idle_and_alive(&p->w[i]))
            continue;
        int rc = procs_revive(p, i, r);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int procs_start(void **state, int n, tf__run *r)
{
    procs *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return TF_ENOMEM;
    p->hooks = r->hooks;
    int rc = procs_alloc(p, n, r->cpus);
    for (int i = 0; i < n && rc == 0; i++)
        rc = procs_revive(p, i, r);
    if (rc != 0) {
        procs_free(p); /* a half-built farm unwinds through its own free */
        return rc;
    }
    *state = p;
    return 0;
}

static void procs_stop(void *state)
{
    if (state != NULL)
        procs_free(state);
}

/* The iovecs of what is left of t. */
static int tx_iov(const tx *t, struct iovec *iov)
{
    const void *base[3] = {&t->m, t->slots, t->data};
    size_t len[3] = {sizeof t->m, t->slots_len, t->data_len};
    size_t skip = t->done;
    int n = 0;
    for (int k = 0; k < 3; k++) {
        if (skip >= len[k]) {
            skip -= len[k];
            continue;
        }
        iov[n++] = (struct iovec){(char *)base[k] + skip, len[k] - skip};
        skip = 0;
    }
    return n;
}

/* Writes what the socket takes now. A failed write means the worker is
 * gone: its socket then reads as end of file, and a wait reports it. */
static void flush(worker *wk)
{
    while (wk->n_out > 0) {
        tx *t = &wk->out[0];
        struct iovec iov[3];
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 0};
        mh.msg_iovlen = (size_t)tx_iov(t, iov);
        ssize_t n = mh.msg_iovlen == 0
                        ? 0
                        : sendmsg(wk->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            wk->n_out = 0;
            return;
        }
        t->done += (size_t)n;
        if (t->done == sizeof t->m + t->slots_len + t->data_len) {
            wk->out[0] = wk->out[1];
            wk->n_out--;
        }
    }
}

static int procs_send(void *state, int w, const tf__job *job, tf__run *r)
{
    procs *p = state;
    worker *wk = &p->w[w];
    if (wk->fd < 0)
        return 0;
    tx *t = &wk->out[wk->n_out++];
    *t = (tx){.done = 0};
    tf__wire_job_of(&t->m, job, r);
    if (job->in != NULL) {
        t->slots = job->in->slots;
        t->slots_len = job->count * sizeof(tf__slot);
        t->data = job->in->data;
        t->data_len = job->in->len;
    }
    flush(wk);
    return 0;
}

static int poll_ms(double timeout)
{
    double ms = timeout * 1e3;
    return ms < 1 ? 1 : ms > 1000 ? 1000 : (int)ms;
}

/* Reads every readable worker until one event is complete; then looks
 * for workers whose process ended while their socket stayed open. pfd
 * holds, for the k-th live worker, its socket at 2k and its pidfd at
 * 2k + 1. */
static int scan(procs *p, int n, tf__run *r, tf__event *ev)
{
    for (int k = 0; k < n; k++) {
        int at = (p->next_poll + k) % n;
        short ev_bits = p->pfd[2 * at].revents;
        int w = p->pfd_worker[at];
        if (ev_bits & POLLOUT)
            flush(&p->w[w]);
        if ((ev_bits & ~POLLOUT) == 0)
            continue;
        int got = receive(&p->w[w], w, r, ev);
        if (got == 0)
            continue;
        if (got < 0)
            lost(p, w, got == -2, r, ev);
        p->next_poll = (at + 1) % n;
        return 1;
    }
    for (int k = 0; k < n; k++) {
        int w = p->pfd_worker[k], status;
        if (p->pfd[2 * k + 1].revents == 0 ||
            (p->pfd[2 * k].revents & ~POLLOUT) != 0 ||
            !exited(&p->w[w], &status))
            continue;
        *ev = (tf__event){.kind = TF__EV_LOST, .worker = w};
        status_kind(status, &ev->fail, &ev->code);
        return 1;
    }
    return 0;
}

static int procs_wait(void *state, double timeout, tf__run *r, tf__event *ev)
{
    procs *p = state;
    int n = 0;
    for (int i = 0; i < p->n; i++) {
        if (p->w[i].pid == 0)
            continue;
        short want = p->w[i].n_out > 0 ? POLLIN | POLLOUT : POLLIN;
        p->pfd[2 * n] = (struct pollfd){p->w[i].fd, want, 0};
        p->pfd[2 * n + 1] = (struct pollfd){p->w[i].pidfd, POLLIN, 0};
        p->pfd_worker[n++] = i;
    }
    int ready = poll(p->pfd, (nfds_t)(2 * n), poll_ms(timeout));
    if (ready < 0 && errno != EINTR) {
        r->sys_errno = errno;
        return TF_ESYS;
    }
    if (ready > 0)
        scan(p, n, r, ev);
    return 0;
}

/* The slot is read twice around the index, so that a task's start time is
 * never paired with the next task's index (procs_worker.c writes 0 in
 * between). */
static int procs_started(void *state, int w, size_t *index, double *since)
{
    const tf__worker_slot *slot = &((procs *)state)->slots[w];
    for (;;) {
        uint64_t t0 = atomic_load_explicit(&slot->started_ns,
                                           memory_order_acquire);
        if (t0 == 0)
            return 0;
        uint64_t i = atomic_load_explicit(&slot->index, memory_order_acquire);
        uint32_t sending = atomic_load_explicit(&slot->sending,
                                                memory_order_acquire);
        if (atomic_load_explicit(&slot->started_ns, memory_order_acquire) !=
            t0)
            continue;
        *index = (size_t)i;
        *since = (double)t0 * 1e-9;
        return sending ? 2 : 1;
    }
}

static void procs_kill(void *state, int w)
{
    procs *p = state;
    kill_worker(&p->w[w]);
}

const tf__transport tf__procs_transport = {
    .depth = 2, .can_kill = 1, .start = procs_start, .stop = procs_stop,
    .begin = procs_begin, .send = procs_send, .wait = procs_wait,
    .started = procs_started, .kill = procs_kill, .revive = procs_revive};
