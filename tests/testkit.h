/*
 * testkit.h - what several test files share: a fixed, well-mixed hash that
 * makes deterministic result sizes and bytes from a task's index, so that
 * every backend's results can be checked without keeping a copy.
 */
#ifndef TF_TESTKIT_H
#define TF_TESTKIT_H

#include <stdint.h>

/* The finalizer of MurmurHash3: every input bit moves every output bit. */
static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

#endif /* TF_TESTKIT_H */
