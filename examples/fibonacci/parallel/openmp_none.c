/*
 * openmp_none.c - the build without OpenMP: no openmp backend (see
 * openmp_loop.h).
 */
#include "openmp_loop.h"

#include <stddef.h>

sweep_runner fib_openmp_runner(void)
{
    return NULL;
}
