/*
 * fakeworld.h - a world of fake workers played against the real run loop
 * (run.c, sched.c, deliver.c): what the coordinator's test and its
 * benchmark (bench/bench_coord.c) use to reach 65,536 workers on a
 * 2-CPU machine. Internal: links the static library.
 *
 * The fake is a transport. Its workers compute their jobs in the caller's
 * thread with the run's own task callback (tf__batch_exec), but in
 * virtual time: a task takes `task_s` virtual seconds, so the automatic
 * batch size sees the workload the model asks for. The coordinator is a
 * single server in the same virtual time: each event costs it the thread
 * CPU time the real core spent on it (measured with
 * CLOCK_THREAD_CPUTIME_ID, from the end of one wait to the start of the
 * next: delivery, scheduling and dispatch), plus a modelled transport cost
 * (`batch_s` + `result_s` per task: what MPI adds per batch, measured
 * apart). From that come rank 0's busy fraction and the run's tail as a
 * real coordinator would see them, at any number of workers.
 *
 * The configuration travels in tf_options.worker_user (the fake has no
 * worker hooks), so there is no global state.
 */
#ifndef TF_FAKEWORLD_H
#define TF_FAKEWORLD_H

#include "internal.h"

typedef struct fw_config {
    int workers;              /* the fake world's size */
    double task_s;            /* virtual seconds per task */
    double jitter;            /* each task takes task_s * (1 +- jitter) */
    double batch_s;           /* modelled transport cost per batch */
    double result_s;          /* and per task of a batch */
    int timed;                /* 0: no CPU clocks (a test that only counts) */
    /* Filled by the run: */
    size_t batches, tasks, max_batch;
    double busy_s;            /* coordinator's virtual busy time */
    double core_cpu_s;        /* of which the real core's CPU time */
    double end_s;             /* virtual time of the last result handled */
    double first_idle_s;      /* first worker left idle for good; < 0 never */
    size_t own_bytes;         /* what the fake itself allocated */
    size_t heap_peak;         /* heap in use, sampled (mallinfo2) */
} fw_config;

/* The fake's transport: use with tf__farm_create_on() and options whose
 * worker_user points at a fw_config (n_jobs is ignored). */
const tf__transport *fw_transport(void);

/* The cost of one CLOCK_THREAD_CPUTIME_ID reading on this machine, which
 * the fake subtracts from each measured event. */
double fw_clock_cost(void);

/* The heap in use now (mallinfo2), in bytes. */
size_t fw_heap_in_use(void);

#endif /* TF_FAKEWORLD_H */
