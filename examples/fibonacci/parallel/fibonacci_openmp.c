/*
 * fibonacci_openmp.c - the multithreaded example the original tutorial
 * promised, in plain OpenMP: the loop a C programmer writes by hand
 * (openmp_loop.c), and the baseline taskfarm is measured against.
 *
 *     #pragma omp parallel for schedule(dynamic) num_threads(n_jobs)
 *     for (long i = 0; i < n; i++)
 *         fib_job_bytes(&job, i, &res->data[i], &res->len[i]);
 */
#include "openmp_loop.h"

int main(int argc, char **argv)
{
    static const char *const backends[] = {"openmp", NULL};
    const sweep_program prog = {
        .name = "fibonacci_openmp",
        .what = "The multithreaded example: an OpenMP parallel for, "
                "schedule(dynamic).",
        .backends = backends,
        .default_backends = "openmp",
        .run = fib_openmp_runner(),
    };
    return sweep_main(&prog, argc, argv);
}
