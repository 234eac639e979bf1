/*
 * procs_worker.c - the worker process of the process backend.
 *
 * DESIGN
 *   - A worker is a fork of the caller. Between fork and its loop it only
 *     makes async-signal-safe calls (close, sigaction, sigprocmask, an
 *     assignment to environ): another thread of the caller may have held a
 *     lock at the fork, and the child must not touch one before it settles.
 *   - Every signal gets its default disposition, as after exec: a handler
 *     inherited from the caller (a test framework's, a runtime's) must not
 *     turn a crash into a longjmp back into the caller's code, in a copy of
 *     the caller. Then SIGINT and SIGTERM are ignored: Ctrl-C and Slurm
 *     signal the whole process group, and the parent decides when its
 *     workers stop (it kills them). SIGPIPE stays default, so a worker whose
 *     parent is gone dies on its next write instead of computing for no one.
 *   - When the parent has no more workers than CPUs, each worker stays on
 *     a CPU of its own (the parent chose it from the affinity mask): no
 *     migrations, warm caches, as a pinned thread pool has.
 *   - Then the start hook (tf_options.on_worker_start), once. If it fails
 *     the worker computes nothing: it answers its first job with a header
 *     that says so, and exits.
 *   - Loop: read a job (and its inputs, when it has them), compute the
 *     batch (recording each task's index and
 *     start time in its shared slot), write the batch back, repeat. The
 *     parent may queue the next job while this one computes. End of file
 *     on the socket means the parent is done: the stop hook runs, then
 *     _exit(0), never exit(), so none of the caller's atexit handlers or
 *     stdio buffers run twice.
 */
#define _GNU_SOURCE
#include "procs.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void)
{
    return (uint64_t)(tf__now() * 1e9);
}

/* Blocking read of exactly len bytes: 0, or -1 at end of file or error. */
static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void settle(const tf__worker_setup *s)
{
    for (size_t i = 0; i < s->n_close; i++)
        if (s->close_fds[i] >= 0)
            close(s->close_fds[i]);
    struct sigaction sa = {0};
    sa.sa_handler = SIG_DFL;
    for (int signo = 1; signo < NSIG; signo++)
        sigaction(signo, &sa, NULL); /* fails harmlessly for KILL, STOP */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (s->cpu != NULL)
        sched_setaffinity(0, sizeof(*s->cpu), s->cpu);
    if (s->env != NULL)
        environ = s->env;
}

/* started_ns goes to 0 while the index changes, so that the parent never
 * pairs one task's start with the next task's index. */
static void before_task(void *ctx, size_t index)
{
    tf__worker_slot *slot = ctx;
    atomic_store_explicit(&slot->started_ns, 0, memory_order_release);
    atomic_store_explicit(&slot->index, index, memory_order_release);
    atomic_store_explicit(&slot->sending, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->started_ns, now_ns(), memory_order_release);
}

/* Sends the whole batch: header, slots, bytes; short writes resumed. */
static int send_batch(int fd, const tf__batch *b)
{
    tf__wire_result h;
    tf__wire_result_of(&h, b);
    struct iovec iov[3] = {{&h, sizeof h},
                           {b->slots, b->count * sizeof(tf__slot)},
                           {b->data, b->len}};
    struct iovec *v = iov;
    int n = 3;
    while (n > 0) {
        ssize_t done = writev(fd, v, n);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return -1;
        while (n > 0 && (size_t)done >= v->iov_len) {
            done -= (ssize_t)v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + done;
            v->iov_len -= (size_t)done;
        }
    }
    return 0;
}

/* The start hook failed: say so to the first job, then leave. */
static void refuse(int fd, int status)
{
    tf__wire_job job;
    tf__wire_result h;
    if (read_full(fd, &job, sizeof job) == 0) {
        tf__wire_result_failed(&h, &job, status);
        struct iovec one = {&h, sizeof h};
        while (writev(fd, &one, 1) < 0 && errno == EINTR)
            ;
    }
    _exit(0);
}

/* The inputs that follow a job that has them, into `in`: 0, or -1 at end
 * of file or when they do not describe the job's tasks. */
static int read_inputs(int fd, const tf__wire_job *job, tf__batch *in)
{
    if (job->count == 0 || job->count > TF_MAX_TASKS ||
        job->in_len > TF__WIRE_MAX_LEN ||
        tf__batch_reset(in, job->start, job->count) != 0 ||
        tf__batch_reserve(in, job->in_len) != 0)
        return -1;
    if (read_full(fd, in->slots, job->count * sizeof(tf__slot)) != 0 ||
        tf__wire_check_inputs(job, in->slots) != 0 ||
        read_full(fd, in->data, job->in_len) != 0)
        return -1;
    in->len = job->in_len;
    return 0;
}

void tf__worker_main(const tf__worker_setup *s)
{
    int fd = s->fd;
    tf__worker_slot *slot = s->slot;
    settle(s);
    int hook_rc = tf__hook_start(s->hooks, s->worker);
    if (hook_rc != 0)
        refuse(fd, hook_rc);
    tf__batch *b = tf__batch_new(), *in = tf__batch_new();
    if (b == NULL || in == NULL)
        _exit(70);
    for (;;) {
        tf__wire_job job;
        if (read_full(fd, &job, sizeof job) != 0) {
            tf__hook_stop(s->hooks, s->worker);
            _exit(0);
        }
        if (job.has_in && read_inputs(fd, &job, in) != 0)
            _exit(72); /* the parent is gone, or memory ran out */
        tf__exec how = {job.task, job.user, job.end_at_failure, before_task,
                        slot, job.has_in ? in : NULL, s->worker};
        if (tf__batch_exec(b, job.start, job.count, &how) != 0)
            _exit(71); /* out of memory: the parent reports it as an exit */
        /* Until the batch is sent, its last task stays on record: if the
         * socket is gone (a task closed it), that task takes the blame,
         * rather than the job going round again for ever. */
        atomic_store_explicit(&slot->sending, 1, memory_order_release);
        if (send_batch(fd, b) != 0)
            _exit(0);
        atomic_store_explicit(&slot->started_ns, 0, memory_order_release);
    }
}
