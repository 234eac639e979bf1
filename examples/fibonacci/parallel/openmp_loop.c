/*
 * openmp_loop.c - the loop a C programmer writes by hand (see
 * openmp_loop.h).
 *
 * schedule(dynamic): values cost ~n^2 each, so a static split would give
 * the thread with the largest n the most work; dynamic hands out one value
 * at a time to whichever thread is free.
 */
#include "openmp_loop.h"

#include <omp.h>
#include <stdio.h>

static int run_openmp(sweep_run *run)
{
    fib_results *res = run->job.results;
    long n = (long)run->n;
    int failed = 0;
#pragma omp parallel for schedule(dynamic) num_threads(run->n_jobs) \
    reduction(| : failed)
    for (long i = 0; i < n; i++)
        failed |= fib_job_bytes(&run->job, (size_t)i, &res->data[i],
                                &res->len[i]) != 0;
    if (failed)
        snprintf(run->error, sizeof run->error, "out of memory");
    return failed ? -1 : 0;
}

sweep_runner fib_openmp_runner(void)
{
    return run_openmp;
}
