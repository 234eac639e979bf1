/*
 * fibonacci_openmp.c - the multithreaded example the original tutorial
 * promised, in plain OpenMP: the loop a C programmer writes by hand, and
 * the baseline taskfarm is measured against.
 *
 * schedule(dynamic): values cost ~n^2 each, so a static split would give
 * the thread with the largest n the most work; dynamic hands out one value
 * at a time to whichever thread is free.
 */
#include "sweep.h"

#include <omp.h>

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

int main(int argc, char **argv)
{
    static const char *const backends[] = {"openmp", NULL};
    const sweep_program prog = {
        .name = "fibonacci_openmp",
        .what = "The multithreaded example: an OpenMP parallel for, "
                "schedule(dynamic).",
        .backends = backends,
        .default_backends = "openmp",
        .run = run_openmp,
    };
    return sweep_main(&prog, argc, argv);
}
