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
#include <stdlib.h>
#include <string.h>

/* The values this rank computed, over all its runs (one thread a rank). */
static unsigned long computed;

static int counted_task(void *user, size_t i, tf_out *out)
{
    computed++;
    return fib_job_task(user, i, out);
}

static int run_mpi(sweep_run *run)
{
    tf_options opts;
    sweep_farm_options(run, &opts);   /* backend "mpi", n_jobs = ranks */
    opts.on_progress = NULL;          /* one table, no bar per rank */
    tf_report rep;
    int rc = tf_map(&opts, run->n, counted_task, fib_job_store, NULL,
                    &run->job, &rep);
    run->report = rep;                /* "N computed, M from the journal" */
    return rc == 0 ? 0 : sweep_farm_failed(run, rc, &rep);
}

/* Where the work went: rank 0 prints each node (its processor name), its
 * ranks and the values they computed, in rank order, e.g.
 * "Values computed per node: node1 2123 (1 rank), node2 2877 (1 rank)".
 * Nothing when no value was computed (--help, bad input, all replayed).
 * Each rank is compared with the nodes seen so far only: ranks x nodes. */
static void print_placement(int rank, int size)
{
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(name, &len);
    char *names = NULL;
    unsigned long *counts = NULL;
    int *node_of = NULL, *ranks = NULL;
    if (rank == 0) {
        names = malloc((size_t)size * MPI_MAX_PROCESSOR_NAME);
        counts = malloc((size_t)size * sizeof *counts);
        node_of = malloc((size_t)size * sizeof *node_of);
        ranks = calloc((size_t)size, sizeof *ranks);
        if (!names || !counts || !node_of || !ranks) {
            fprintf(stderr, "fibonacci_mpi: out of memory\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names,
               MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Gather(&computed, 1, MPI_UNSIGNED_LONG, counts, 1, MPI_UNSIGNED_LONG,
               0, MPI_COMM_WORLD);
    if (rank != 0)
        return;
    /* node_of[k]: the first rank of the k-th node; counts[k] its values. */
    int n_nodes = 0;
    unsigned long total = 0;
    for (int r = 0; r < size; r++) {
        const char *node = names + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        int k = 0;
        while (k < n_nodes &&
               strcmp(node, names + (size_t)node_of[k] * MPI_MAX_PROCESSOR_NAME))
            k++;
        total += counts[r];
        if (k == n_nodes)
            node_of[n_nodes++] = r;
        else
            counts[node_of[k]] += counts[r];
        ranks[k]++;
    }
    if (total > 0) {
        printf("Values computed per node:");
        for (int k = 0; k < n_nodes; k++)
            printf("%s %s %lu (%d rank%s)", k ? "," : "",
                   names + (size_t)node_of[k] * MPI_MAX_PROCESSOR_NAME,
                   counts[node_of[k]], ranks[k], ranks[k] == 1 ? "" : "s");
        printf("\n");
    }
    free(names);
    free(counts);
    free(node_of);
    free(ranks);
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
        .resumable = 1,
    };
    int rc = sweep_main(&prog, argc, argv);
    print_placement(rank, size);
    MPI_Finalize();
    return rc;
}
