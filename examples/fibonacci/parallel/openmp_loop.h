/*
 * openmp_loop.h - the hand-written OpenMP loop, shared by the standalone
 * example (fibonacci_openmp) and fibonacci_farm --backend openmp, which
 * measures it in the same rounds as the farm's backends.
 */
#ifndef OPENMP_LOOP_H
#define OPENMP_LOOP_H

#include "sweep.h"

/* The runner, or NULL when the build has no OpenMP (openmp_none.c). */
sweep_runner fib_openmp_runner(void);

#endif /* OPENMP_LOOP_H */
