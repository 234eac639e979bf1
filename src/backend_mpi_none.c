/*
 * backend_mpi_none.c - built instead of backend_mpi.c when CMake finds no
 * MPI: asking for the MPI backend then fails with TF_ENOTBUILT.
 */
#include "internal.h"

const tf__backend_ops *tf__mpi_backend(void)
{
    return NULL;
}
