/*
 * fib_pair_mpn.c - the pair of additions on GMP's mpn layer (see
 * fib_pair.h): the build's choice where there is no one-pass version.
 */
#include "fib_pair.h"

mp_size_t fib_add_pair(mp_limb_t *a, mp_limb_t *b, mp_size_t size)
{
    return fib_pair_mpn(a, b, size);
}

mp_size_t fib_add_pairs(mp_limb_t *a, mp_limb_t *b, mp_size_t size,
                        unsigned long pairs)
{
    for (unsigned long i = 0; i < pairs; i++)
        size = fib_pair_mpn(a, b, size);
    return size;
}
