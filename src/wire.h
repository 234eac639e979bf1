/*
 * wire.h - the messages that carry jobs and batches between processes: one
 * codec for the process backend (a socket per worker) and the MPI backend.
 * Not installed.
 *
 * A job goes down as one tf__wire_job. A finished batch comes back as a
 * tf__wire_result, then `count` tf__slot, then `len` bytes of results: the
 * batch's own layout, so a result is copied once per hop at most.
 *
 * Nothing that arrives is trusted. The receiver checks the header against
 * the job it sent before it allocates anything, and the slots before the
 * batch is used: a message that fails a check means the worker is broken
 * (a task wrote on the socket, memory was corrupted), and the worker is
 * handled as lost, never read out of bounds.
 */
#ifndef TF_WIRE_H
#define TF_WIRE_H

#include "internal.h"

#include <stdint.h>

#define TF__WIRE_MAGIC 0x31576674u   /* "tfW1" */
/* More result bytes than this in one batch is a broken message. */
#define TF__WIRE_MAX_LEN ((uint64_t)1 << 40)

/* Parent -> worker. The pointers are only meaningful to a forked worker
 * (the process backend); an MPI rank uses its own task and user. */
typedef struct tf__wire_job {
    uint64_t start, count;
    int32_t end_at_failure;
    int32_t attempt;
    tf_task_fn task;
    void *user;
} tf__wire_job;

/* Worker -> parent, before the slots and the bytes. */
typedef struct tf__wire_result {
    uint32_t magic;
    uint32_t reserved;
    uint64_t start, count, len;
    double seconds;
} tf__wire_result;

TF__HIDDEN void tf__wire_job_of(tf__wire_job *m, const tf__job *job,
                                const tf__run *r);
TF__HIDDEN void tf__wire_result_of(tf__wire_result *h, const tf__batch *b);
/* 0 when the header can answer `job` (NULL: no job was sent), else -1. */
TF__HIDDEN int tf__wire_check_header(const tf__wire_result *h,
                                     const tf__job *job);
/* 0 when the slots describe exactly h->len bytes of results of tasks that
 * a worker can report (success, or a task error ending a cut batch). */
TF__HIDDEN int tf__wire_check_slots(const tf__wire_result *h,
                                    const tf__slot *slots,
                                    const tf__job *job, int end_at_failure);

#endif /* TF_WIRE_H */
