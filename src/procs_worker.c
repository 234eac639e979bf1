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
 *   - Loop: read a job, compute the batch (recording each task's index and
 *     start time in its shared slot), write the batch back, repeat. End of
 *     file on the job pipe means the parent is done: _exit(0), never exit(),
 *     so none of the caller's atexit handlers or stdio buffers run twice.
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

uint64_t tf__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int tf__read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tf__write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void settle(char **env, const int *close_fds, size_t n_close)
{
    for (size_t i = 0; i < n_close; i++)
        if (close_fds[i] >= 0)
            close(close_fds[i]);
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
    if (env != NULL)
        environ = env;
}

static void before_task(void *ctx, size_t index)
{
    tf__worker_slot *slot = ctx;
    atomic_store_explicit(&slot->index, index, memory_order_relaxed);
    atomic_store_explicit(&slot->started_ns, tf__now_ns(),
                          memory_order_release);
}

static int send_batch(int fd, const tf__batch *b)
{
    tf__result_msg m = {b->start, b->count, b->len, b->seconds};
    struct iovec iov[3] = {{&m, sizeof m},
                           {b->slots, b->count * sizeof(tf__slot)},
                           {b->data, b->len}};
    size_t total = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;
    ssize_t n;
    do
        n = writev(fd, iov, 3);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n == total)
        return 0;
    /* A short write (results over the pipe's size): send the rest. */
    size_t done = (size_t)n;
    for (int i = 0; i < 3; i++) {
        if (done >= iov[i].iov_len) {
            done -= iov[i].iov_len;
            continue;
        }
        if (tf__write_full(fd, (char *)iov[i].iov_base + done,
                           iov[i].iov_len - done) != 0)
            return -1;
        done = 0;
    }
    return 0;
}

void tf__worker_main(int job_fd, int result_fd, tf__worker_slot *slot,
                     char **env, const int *close_fds, size_t n_close)
{
    settle(env, close_fds, n_close);
    tf__batch *b = tf__batch_new();
    if (b == NULL)
        _exit(70);
    for (;;) {
        tf__job_msg job;
        if (tf__read_full(job_fd, &job, sizeof job) != 0)
            _exit(0);
        tf__exec how = {job.task, job.user, job.end_at_failure, before_task,
                        slot};
        if (tf__batch_exec(b, job.start, job.count, &how) != 0)
            _exit(71); /* out of memory: the parent reports it as an exit */
        atomic_store_explicit(&slot->started_ns, 0, memory_order_release);
        if (send_batch(result_fd, b) != 0)
            _exit(0);
    }
}
