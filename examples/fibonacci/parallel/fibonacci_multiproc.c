/*
 * fibonacci_multiproc.c - the process-pool example, like Python's
 *
 *     with Pool(n_jobs) as p:
 *         results = p.map(fib, my_values)
 *
 * in C: create a pool of forked workers, map fib over the values, destroy
 * the pool. Unlike multiprocessing.Pool, a value whose worker crashes is
 * reported and the pool replaces the worker instead of hanging.
 */
#include "sweep.h"

static int run_pool(sweep_run *run)
{
    tf_options opts;
    sweep_farm_options(run, &opts);   /* backend "procs" */
    tf_farm *pool = NULL;
    int rc = tf_farm_create(&pool, &opts);                   /* Pool(n) */
    tf_report rep = {0};
    if (rc == 0)
        rc = tf_farm_run(pool, run->n, fib_job_task, fib_job_store, NULL,
                         &run->job, &rep);                   /* p.map */
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
