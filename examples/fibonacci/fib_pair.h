/*
 * fib_pair.h - two steps of the loop algorithm on raw limbs:
 *
 *     a <- a + b;  b <- b + a      (so (F(k), F(k+1)) becomes (F(k+2), F(k+3)))
 *
 * Both arrays hold `size` limbs (the larger number's length), are zero
 * above it and have room for four more limbs. Returns the new size. Two
 * additions of the two previous numbers, as the tutorial's loop makes,
 * only done in one pass where the CPU allows it (fib_pair_x86.c); the
 * portable version (fib_pair_mpn) is GMP's mpn_add_n twice.
 */
#ifndef FIB_PAIR_H
#define FIB_PAIR_H

#include <gmp.h>

mp_size_t fib_add_pair(mp_limb_t *a, mp_limb_t *b, mp_size_t size);

/* `pairs` pairs in a row (2 x pairs steps); the arrays need room for
 * the final size plus four limbs. One call for the whole loop: a call per
 * pair cost ~3% (fib_add_pair is in another file, so not inlined). */
mp_size_t fib_add_pairs(mp_limb_t *a, mp_limb_t *b, mp_size_t size,
                        unsigned long pairs);

/* The portable pair: one mpn_add_n per addition. A carry out of the top
 * limb extends the sum by one limb (the limb above is zero). The branch,
 * not `size += carry`: predicted, it lets the next addition start before
 * this one's carry is known. */
static inline mp_size_t fib_pair_mpn(mp_limb_t *a, mp_limb_t *b,
                                     mp_size_t size)
{
    mp_limb_t carry = mpn_add_n(a, a, b, size);
    if (carry != 0)
        a[size++] = carry;
    carry = mpn_add_n(b, b, a, size);
    if (carry != 0)
        b[size++] = carry;
    return size;
}

#endif /* FIB_PAIR_H */
