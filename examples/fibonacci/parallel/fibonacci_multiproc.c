/*
 * fibonacci_multiproc.c - the process-pool example, like Python's
 *
 *     with Pool(n_jobs) as p:
 *         results = p.map(fib, my_values)
 *
 * in C: create a pool of forked workers, map fib over the values (in two
 * maps on the same pool, the values travelling with the tasks as inputs),
 * destroy the pool. Unlike multiprocessing.Pool, a value whose worker
 * crashes is reported and the pool replaces the worker instead of hanging.
 */
#include "sweep.h"

#include <string.h>

/* One p.map over the values first..first+n-1 (of the whole range). */
typedef struct part {
    const fib_job *job;
    size_t first;
} part;

/* Each task's input is its n: the values travel with the tasks, as
 * p.map(fib, values) sends them, so a pool forked once can map any values. */
static int value_input(void *user, size_t i, tf_out *in)
{
    const part *p = user;
    unsigned long n = p->job->lo + p->first + i;
    return tf_out_append(in, &n, sizeof n);
}

static int fib_of_input(void *user, size_t i, tf_out *out)
{
    (void)i;
    const part *p = user;
    fib_job one = *p->job;
    memcpy(&one.lo, tf_in_data(out), sizeof one.lo);
    return fib_job_task(&one, 0, out);
}

static int store(void *user, size_t i, const void *data, size_t len)
{
    const part *p = user;
    return fib_job_store((void *)p->job, p->first + i, data, len);
}

static int map(tf_farm *pool, part *p, size_t n, tf_report *rep)
{
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.on_input = value_input;
    return tf_farm_run_with(pool, &ro, n, fib_of_input, store, NULL, p, rep);
}

/* Two maps on one pool, as a program that reuses its Pool would (with a
 * journal, one: the journal names the whole run). */
static int run_pool(sweep_run *run)
{
    tf_options opts;
    sweep_farm_options(run, &opts);   /* backend "procs" */
    tf_farm *pool = NULL;
    int rc = tf_farm_create(&pool, &opts);                   /* Pool(n) */
    tf_report rep = {0};
    size_t half = run->journal != NULL ? run->n : run->n / 2;
    part first = {&run->job, 0}, second = {&run->job, half};
    if (rc == 0)
        rc = map(pool, &first, half, &rep);                  /* p.map */
    if (rc == 0 && half < run->n) {
        size_t done = rep.n_ok;
        rc = map(pool, &second, run->n - half, &rep);        /* again */
        rep.n_ok += done;
        rep.n_tasks = run->n;
    }
    tf_farm_destroy(pool);                                   /* with ... */
    run->report = rep;
    return rc == 0 ? 0 : sweep_farm_failed(run, rc, &rep);
}

int main(int argc, char **argv)
{
    static const char *const backends[] = {"procs", NULL};
    const sweep_program prog = {
        .name = "fibonacci_multiproc",
        .what = "The process-pool example: create a pool of forked workers, "
                "map fib over the values, destroy the pool.",
        .backends = backends,
        .default_backends = "procs",
        .run = run_pool,
        .resumable = 1,
    };
    return sweep_main(&prog, argc, argv);
}
