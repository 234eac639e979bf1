/*
 * prog.c - the program the install test builds every way a user would
 * (pkg-config, CMake, module load): squares 0..N-1 on the farm and sums
 * them in the result callback, then says which versions it sees and what
 * asking for the MPI backend gives.
 */
#include <stdio.h>
#include <stdlib.h>
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
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000;
    printf("header %s library %s\n", TF_VERSION_STRING, tf_version_string());
    tf_options opts = TF_OPTIONS_INIT;
    opts.n_jobs = 2;
    long long sum = 0;
    int rc = tf_map(&opts, n, square, add, NULL, &sum, NULL);
    if (rc != 0) {
        fprintf(stderr, "prog: %s\n", tf_strerror(rc));
        return 1;
    }
    printf("sum %lld\n", sum);
    opts.backend = TF_BACKEND_MPI;
    rc = tf_map(&opts, n, square, add, NULL, &sum, NULL);
    printf("mpi: %s\n", rc == 0 ? "built in" : tf_strerror(rc));
    return 0;
}
