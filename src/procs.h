/*
 * procs.h - what the two halves of the process backend share: the messages
 * on the pipes and the shared-memory slot of each worker. Not installed.
 */
#ifndef TF_PROCS_H
#define TF_PROCS_H

#include "internal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/* Parent -> worker, on the job pipe. The pointers are valid in the worker
 * because it is a fork of the caller. */
typedef struct tf__job_msg {
    uint64_t start, count;
    tf_task_fn task;
    void *user;
    int32_t end_at_failure;
    int32_t pad;
} tf__job_msg;

/* Worker -> parent, on the result pipe, followed by `count` tf__slot and
 * `len` bytes of results. */
typedef struct tf__result_msg {
    uint64_t start, count, len;
    double seconds;
} tf__result_msg;

/* Written by the worker before each task, read by the parent when the
 * worker dies or overstays: which task it was on, and since when
 * (monotonic nanoseconds; 0 = between batches). One cache line each. */
typedef struct tf__worker_slot {
    _Atomic uint64_t index;
    _Atomic uint64_t started_ns;
    char pad[48];
} tf__worker_slot;

/* The worker's side: never returns. `close_fds` lists the descriptors the
 * child must not keep (its siblings' pipe ends), -1 entries skipped. Only
 * async-signal-safe calls run before the worker loop. */
TF__HIDDEN void tf__worker_main(int job_fd, int result_fd,
                                tf__worker_slot *slot, char **env,
                                const int *close_fds, size_t n_close)
    __attribute__((noreturn));

/* read()/write() that finish the whole length or fail (EINTR retried).
 * Return 0, or -1 with errno set (errno 0 for end of file). */
TF__HIDDEN int tf__read_full(int fd, void *buf, size_t len);
TF__HIDDEN int tf__write_full(int fd, const void *buf, size_t len);

TF__HIDDEN uint64_t tf__now_ns(void);

#endif /* TF_PROCS_H */
