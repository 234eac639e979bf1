/*
 * mpi.c - the command built with MPI: started by mpirun or srun with more
 * than one rank, it runs one SPMD farm over the ranks (TF_BACKEND_MPI).
 * Rank 0 reads the inputs and tells the others how many there are; each
 * task's input travels with it. Started any other way, MPI stays
 * uninitialized and the command is the threads farm.
 */
#include "cli.h"

#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>

static int mpi_started;

/* Whether an MPI launcher started this process (Open MPI, PMIx, PMI). */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL ||
           getenv("PMIX_RANK") != NULL || getenv("PMI_RANK") != NULL ||
           getenv("PMI_SIZE") != NULL;
}

int cli_mpi_init(int *argc, char ***argv, int *rank)
{
    *rank = 0;
    if (!launched())
        return 1;
    int provided, size;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS)
        return 1;
    mpi_started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

int cli_mpi_share_count(size_t *n, int ok)
{
    if (!mpi_started)
        return ok ? 0 : -1;
    uint64_t v[2] = {(uint64_t)ok, (uint64_t)*n};
    MPI_Bcast(v, 2, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    *n = (size_t)v[1];
    return v[0] ? 0 : -1;
}

void cli_mpi_finalize(void)
{
    if (mpi_started)
        MPI_Finalize();
    mpi_started = 0;
}
