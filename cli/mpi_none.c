/*
 * mpi_none.c - the command built without MPI: one process, threads.
 */
#include "cli.h"

int cli_mpi_init(int *argc, char ***argv, int *rank)
{
    (void)argc;
    (void)argv;
    *rank = 0;
    return 1;
}

int cli_mpi_share_count(size_t *n, int ok)
{
    (void)n;
    return ok ? 0 : -1;
}

void cli_mpi_finalize(void)
{
}
