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

void fw_emu_add(uint32_t *x, const uint32_t *y, int k)
{
    /* Step 1 on every lane, and the vote: bit l of each mask from lane l. */
    uint32_t generate = 0, propagate = 0;
    for (int lane = 0; lane < FW_LANES; lane++) {
        uint32_t ones;
        uint32_t g = fw_lane_add(x + lane * k, y + lane * k, k, &ones);
        generate |= g << lane;
        propagate |= ones << lane;
    }
    /* Step 2, once for the warp; step 3 on every lane. */
    uint32_t carries = fw_carries(generate, propagate);
    for (int lane = 0; lane < FW_LANES; lane++)
        fw_lane_carry(x + lane * k, (carries >> lane) & 1u, k);
}

void fw_emu_fib(unsigned long n, int k, uint32_t *out)
{
    size_t limbs = (size_t)FW_LANES * (size_t)k;
    uint32_t *a = malloc(limbs * sizeof(*a));
    uint32_t *b = malloc(limbs * sizeof(*b));
    if (a == NULL || b == NULL)
        abort();   /* what GMP does too when memory runs out */
    for (int lane = 0; lane < FW_LANES; lane++)
        fw_lane_init(a + lane * k, b + lane * k, lane, k);
    /* The kernel's loop, two steps at a time so that no number is ever
     * moved: after m rounds a = fib(2m) and b = fib(2m + 1). */
    for (unsigned long i = 0; i < n / 2; i++) {
        fw_emu_add(a, b, k);
        fw_emu_add(b, a, k);
    }
    memcpy(out, (n & 1) ? b : a, limbs * sizeof(*out));
    free(a);
    free(b);
}
