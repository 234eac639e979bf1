/*
 * wire.h - the messages that carry jobs and batches between processes: one
 * codec for the process backend (a socket per worker) and the MPI backend.
 * Not installed.
 *
 * A job goes down as one tf__wire_job, then, when it has inputs, `count`
 * tf__slot and `in_len` bytes of inputs (the core's input batch as it is).
 * A finished batch comes back as a tf__wire_result, then `count` tf__slot,
 * then `len` bytes of results: the batch's own layout, so a result is
 * copied once per hop at most. Over MPI the three are one message, in the
 * order bytes, slots, header, so that rank 0 receives it straight into a
 * batch's data buffer and finds the header at its end. A failed task's bytes are its message (at
 * most TF__MSG_MAX). A worker whose start hook failed answers its first
 * job with a header alone: status TF_EWORKER, count 0.
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
    int32_t has_in;           /* inputs follow */
    int32_t reserved;
    uint64_t in_len;
} tf__wire_job;

/* Worker -> parent, before the slots and the bytes. */
typedef struct tf__wire_result {
    uint32_t magic;
    int32_t status;           /* 0, or TF_EWORKER (then count 0, len 0) */
    uint64_t start, count, len;
    double seconds;
} tf__wire_result;

TF__HIDDEN void tf__wire_job_of(tf__wire_job *m, const tf__job *job,
                                const tf__run *r);
TF__HIDDEN void tf__wire_result_of(tf__wire_result *h, const tf__batch *b);
/* The header of a worker whose start hook failed, answering `job`. */
TF__HIDDEN void tf__wire_result_failed(tf__wire_result *h,
                                       const tf__wire_job *job, int status);
/* 0 when the input slots that follow job `m` describe exactly its in_len
 * bytes, one task each, else -1 (a worker checks what its parent sent). */
TF__HIDDEN int tf__wire_check_inputs(const tf__wire_job *m,
                                     const tf__slot *slots);
/* 0 when the header can answer `job` (NULL: no job was sent), 1 when it
 * says the worker's start hook failed (nothing follows), else -1. */
TF__HIDDEN int tf__wire_check_header(const tf__wire_result *h,
                                     const tf__job *job);
/* The size of the one MPI message that carries the result of a header
 * that passed tf__wire_check_header (no overflow: count and len bounded). */
TF__HIDDEN uint64_t tf__wire_result_size(const tf__wire_result *h);
/* 0 when the slots describe exactly h->len bytes of results of tasks that
 * a worker can report (success, or a task error ending a cut batch). */
TF__HIDDEN int tf__wire_check_slots(const tf__wire_result *h,
                                    const tf__slot *slots,
                                    const tf__job *job, int end_at_failure);

#endif /* TF_WIRE_H */
