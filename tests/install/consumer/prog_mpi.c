/*
 * prog_mpi.c - the MPI consumer of the install test: the same sum on the
 * MPI backend (libtaskfarm_mpi), one worker per rank; rank 0 prints it.
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <taskfarm.h>

static int square(void *user, size_t i, tf_out *out)
{
    (void)user;
    long long v = (long long)i * (long long)i;
    return tf_out_append(out, &v, sizeof v);
}

static int add(void *user, size_t i, const void *data, size_t len)
{
    long long v;
    (void)i;
    if (len != sizeof v)
        return 1;
    memcpy(&v, data, sizeof v);
    *(long long *)user += v;
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    tf_options opts = TF_OPTIONS_INIT;
    opts.backend = TF_BACKEND_MPI;
    long long sum = 0;
    int rc = tf_map(&opts, 1000, square, add, NULL, &sum, NULL);
    if (rank == 0) {
        if (rc != 0)
            fprintf(stderr, "prog_mpi: %s\n", tf_strerror(rc));
        else
            printf("sum %lld ranks %d\n", sum, size);
    }
    MPI_Finalize();
    return rc != 0;
}
