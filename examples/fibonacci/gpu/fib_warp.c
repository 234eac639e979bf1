/*
 * fib_warp.c - the warp's big-integer addition emulated on the CPU, lane
 * after lane, with the functions the GPU kernel runs (fib_warp.h). Slow
 * (the 32 lanes take turns), but it runs anywhere, so the tests check the
 * kernel's carry logic against GMP on machines without a GPU.
 */
#include "fib_warp.h"

#include <stdlib.h>
#include <string.h>

/* fib(m) < 2^(m * 69425 / 100000): log2 of the golden ratio is 0.694242,
 * rounded up. Whole numbers, so the bound is the same on every machine. */
static int holds(unsigned long max_n, int k)
{
    unsigned long long bits = (unsigned long long)FW_LANES * (unsigned)k * 32;
    return ((unsigned long long)max_n + 1) * 69425 <= bits * 100000;
}

int fw_limbs_per_lane(unsigned long max_n)
{
    if (holds(max_n, FW_K_SMALL))
        return FW_K_SMALL;
    if (holds(max_n, FW_K_LARGE))
        return FW_K_LARGE;
    return 0;
}

unsigned long fw_max_n(void)
{
    unsigned long bits = (unsigned long)FW_LANES * FW_K_LARGE * 32;
    return (unsigned long)((unsigned long long)bits * 100000 / 69425) - 1;
}

/* What __shfl_up_sync(mask, word, 1) gives each lane: lane l gets lane
 * l-1's word; lane 0, which has no lane below, is given 0 by the kernel. */
static void shuffle_up(const uint32_t *word, uint32_t *got)
{
    got[0] = 0;
    for (int lane = 1; lane < FW_LANES; lane++)
        got[lane] = word[lane - 1];
}

void fw_emu_add(fw_number *x, const fw_number *y, int k)
{
    uint32_t both[FW_LANES], in[FW_LANES];
    for (int lane = 0; lane < FW_LANES; lane++)
        both[lane] = x->carry[lane] + y->carry[lane];
    shuffle_up(both, in);
    for (int lane = 0; lane < FW_LANES; lane++)
        x->carry[lane] = fw_lane_add(x->limb + lane * k, y->limb + lane * k,
                                     k, in[lane]);
}

void fw_emu_settle(fw_number *x, int k)
{
    /* Step 1 on every lane, and the vote: bit l of each mask from lane l. */
    uint32_t in[FW_LANES], generate = 0, propagate = 0, ones;
    shuffle_up(x->carry, in);
    for (int lane = 0; lane < FW_LANES; lane++) {
        uint32_t g = fw_lane_carry(x->limb + lane * k, in[lane], k, &ones);
        generate |= g << lane;
        propagate |= ones << lane;
    }
    /* Step 2, once for the warp; step 3 on every lane. */
    uint32_t carries = fw_carries(generate, propagate);
    for (int lane = 0; lane < FW_LANES; lane++) {
        fw_lane_carry(x->limb + lane * k, (carries >> lane) & 1u, k, &ones);
        x->carry[lane] = 0;
    }
}

void fw_emu_fib(unsigned long n, int k, uint32_t *out)
{
    size_t limbs = (size_t)FW_LANES * (size_t)k;
    fw_number a = {malloc(limbs * sizeof(uint32_t)), {0}};
    fw_number b = {malloc(limbs * sizeof(uint32_t)), {0}};
    if (a.limb == NULL || b.limb == NULL)
        abort();   /* what GMP does too when memory runs out */
    for (int lane = 0; lane < FW_LANES; lane++)
        fw_lane_init(a.limb + lane * k, b.limb + lane * k, lane, k, n);
    for (unsigned long i = 0; i < n / 2; i++) {   /* the kernel's loop */
        fw_emu_add(&a, &b, k);
        fw_emu_add(&b, &a, k);
    }
    fw_emu_settle(&a, k);
    memcpy(out, a.limb, limbs * sizeof(*out));
    free(a.limb);
    free(b.limb);
}
