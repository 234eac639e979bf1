/*
 * fibonacci_farm.c - the joblib-style example: one call maps fib over the
 * values, as Parallel(n_jobs=n)(delayed(fib)(v) for v in my_values) does.
 *
 *     tf_options opts = TF_OPTIONS_INIT;
 *     opts.n_jobs = n;
 *     tf_map(&opts, n_values, fib_job_task, fib_job_store, NULL, &job, &rep);
 *
 * --backend serial|threads|procs picks where the work runs (a comma list
 * runs each); the sweep (sweep.c) times it and checks every result.
 * --backend openmp runs fibonacci_openmp's loop instead, so that
 * `--backend threads,procs,openmp` compares them in the same rounds,
 * against the same serial baseline.
 */
#include "openmp_loop.h"

#include <stdio.h>
#include <string.h>

static int run_farm(sweep_run *run)
{
    if (strcmp(run->backend, "openmp") == 0 && run->journal != NULL) {
        snprintf(run->error, sizeof run->error,
                 "--journal needs a taskfarm backend: serial, threads or "
                 "procs");
        return -1;
    }
    if (strcmp(run->backend, "openmp") == 0)
        return fib_openmp_runner()(run);
    tf_options opts;
    sweep_farm_options(run, &opts);
    tf_report rep;
    int rc = tf_map(&opts, run->n, fib_job_task, fib_job_store, NULL,
                    &run->job, &rep);
    run->report = rep;
    return rc == 0 ? 0 : sweep_farm_failed(run, rc, &rep);
}

int main(int argc, char **argv)
{
    /* openmp only where the build has it. */
    static const char *backends[] = {"serial", "threads", "procs", NULL,
                                     NULL};
    if (fib_openmp_runner() != NULL)
        backends[3] = "openmp";
    const sweep_program prog = {
        .name = "fibonacci_farm",
        .what = "The joblib-style example: tf_map() applies fib to every "
                "value.",
        .backends = backends,
        .default_backends = "threads",
        .run = run_farm,
        .resumable = 1,
    };
    return sweep_main(&prog, argc, argv);
}
