/*
 * testkit.h - what several test files share: a fixed, well-mixed hash that
 * makes deterministic result sizes and bytes from a task's index, so that
 * every backend's results can be checked without keeping a copy.
 */
#ifndef TF_TESTKIT_H
#define TF_TESTKIT_H

#include "taskfarm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The finalizer of MurmurHash3: every input bit moves every output bit. */
static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* Monotonic seconds. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keeps this CPU busy for `seconds`: a task of a known cost, which a
 * sleep is not (it gives the CPU away, and wakes late). */
static inline void spin_for(double seconds)
{
    double until = now() + seconds;
    while (now() < until)
        ;
}

/* The backend that TF_TEST_BACKEND names (CTest runs one test file once
 * per backend), or `fallback` when it is unset; a name it does not know
 * ends the program with status 2. */
static inline tf_backend backend_from_env(tf_backend fallback)
{
    const char *name = getenv("TF_TEST_BACKEND");
    tf_backend b = fallback;
    if (name != NULL && tf_backend_parse(name, &b) != 0) {
        fprintf(stderr, "unknown TF_TEST_BACKEND '%s'\n", name);
        exit(2);
    }
    return b;
}

#endif /* TF_TESTKIT_H */
