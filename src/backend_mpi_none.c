/*
 * backend_mpi_none.c - built instead of backend_mpi.c when CMake finds no
 * MPI: asking for the MPI backend then fails with TF_ENOTBUILT.
 */
#include "internal.h"

const tf__transport *tf__mpi_transport(void)
{
    return NULL;
}
