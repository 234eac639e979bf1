/*
 * fibonacci_mpi.c - the multi-node example: the same map over the values,
 * on every rank of an MPI job, so one run can use the cores of many nodes.
 *
 *     srun --mpi=pmix build/bin/fibonacci_mpi        (under Slurm)
 *     mpirun -n 4 build/bin/fibonacci_mpi            (anywhere)
 *
 * SPMD: every rank runs this same program and makes the same tf_map()
 * call; rank 0 hands out batches, computes when idle, receives the results
 * and prints the table, as the other parallel examples do. The sweep is
 * over the world size the job was started with, so it reports one run.
 */
#include "sweep.h"

#include <mpi.h>
#include <stdio.h>

static int run_mpi(sweep_run *run)
{
    tf_options opts;
    sweep_farm_options(run, &opts);   /* backend "mpi", n_jobs = ranks */
    opts.on_progress = NULL;          /* one table, no bar per rank */
    tf_report rep;
    int rc = tf_map(&opts, run->n, fib_job_task, fib_job_store, NULL,
                    &run->job, &rep);
    return rc == 0 ? 0 : sweep_farm_failed(run, rc, &rep);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char world[16];
    snprintf(world, sizeof world, "%d", size);
    static const char *const backends[] = {"mpi", NULL};
    const sweep_program prog = {
        .name = "fibonacci_mpi",
        .what = "The multi-node example: one worker per MPI rank; n_jobs is "
                "the world size.",
        .backends = backends,
        .default_backends = "mpi",
        .run = run_mpi,
        .default_jobs = world,
        .cpus_count = size,
        .cpus_source = "the MPI world size",
        .silent_rank = rank != 0,
    };
    int rc = sweep_main(&prog, argc, argv);
    MPI_Finalize();
    return rc;
}
