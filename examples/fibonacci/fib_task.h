/*
 * fib_task.h - Fibonacci numbers as taskfarm tasks, and a store for their
 * results. A result is fib(n) as GMP exports it: bytes, most significant
 * first (fib(0) is empty). Binary, not decimal: the comparison the examples
 * need is exact equality, and decimal is made only when printed.
 */
#ifndef FIB_TASK_H
#define FIB_TASK_H

#include "fib.h"
#include "taskfarm.h"

#include <stddef.h>
#include <stdio.h>

typedef struct fib_results fib_results;

/* Task i of a job computes fib(lo + i); results land in `results`. One
 * struct, because taskfarm passes one `user` pointer to every callback. */
typedef struct fib_job {
    unsigned long lo;
    fib_algo algo;
    fib_results *results;
} fib_job;

/* A tf_task_fn; `user` is a const fib_job *. */
int fib_job_task(void *user, size_t i, tf_out *out);

/* A tf_result_fn; `user` is a fib_job *: copies the result into
 * job->results. */
int fib_job_store(void *user, size_t i, const void *data, size_t len);

/* The same bytes, in memory the caller frees. 0 or -1 (out of memory). */
int fib_job_bytes(const fib_job *job, size_t i, unsigned char **data,
                  size_t *len);

/* One result per task. */
struct fib_results {
    size_t n;
    unsigned char **data;
    size_t *len;
};

int fib_results_init(fib_results *r, size_t n);   /* 0 or -1 */
void fib_results_release(fib_results *r);
/* Copies a result in. 0, or -1 out of memory or out of range. */
int fib_results_set(fib_results *r, size_t i, const void *data, size_t len);
/* Index of the first result that differs, or SIZE_MAX when all match. */
size_t fib_results_compare(const fib_results *a, const fib_results *b);
/* Writes result i in decimal, with a newline. 0 or -1. */
int fib_results_print(const fib_results *r, size_t i, FILE *out);

#endif /* FIB_TASK_H */
