/*
 * test_fib_warp.c - the GPU kernel's big-integer addition (fib_warp.h),
 * run by its CPU emulation, against GMP: the carry-lookahead on its own,
 * additions built to make carries cross every lane, and fib(n) as the
 * kernel computes it. Runs everywhere: no GPU needed.
 */
#include "fib_warp.h"
#include "testkit.h"

#include <gmp.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_LIMBS (FW_LANES * FW_K_LARGE)

/* The recurrence fw_carries() must satisfy, one lane after the other. */
static uint32_t ripple(uint32_t g, uint32_t p)
{
    uint32_t c = 0, into = 0;
    for (int l = 0; l < FW_LANES; l++) {
        into |= c << l;
        c = ((g >> l) & 1u) | (((p >> l) & 1u) & c);
    }
    return into;
}

static void test_carries_match_the_ripple(void **state)
{
    (void)state;
    /* Long chains: one generating lane, then lanes that propagate. */
    for (int gen = 0; gen < FW_LANES; gen++)
        for (int len = 0; gen + len < FW_LANES; len++) {
            uint32_t g = 1u << gen;
            uint32_t p = (uint32_t)(((1ull << len) - 1) << (gen + 1));
            assert_int_equal(fw_carries(g, p), ripple(g, p));
        }
    /* And well-mixed masks (a lane never both generates and propagates). */
    for (uint64_t i = 0; i < 200000; i++) {
        uint32_t g = (uint32_t)mix(2 * i), p = (uint32_t)mix(2 * i + 1) & ~g;
        assert_int_equal(fw_carries(g, p), ripple(g, p));
    }
}

static void to_mpz(mpz_t out, const uint32_t *x, int k)
{
    mpz_import(out, (size_t)FW_LANES * (size_t)k, -1, sizeof(*x), 0, 0, x);
}

/* x + y with fw_emu_add against mpz_add, modulo 2^(1024 k) (the warp
 * drops a carry out of its top lane). */
static void check_add(const uint32_t *x, const uint32_t *y, int k)
{
    uint32_t sum[MAX_LIMBS];
    size_t limbs = (size_t)FW_LANES * (size_t)k;
    memcpy(sum, x, limbs * sizeof(*x));
    fw_emu_add(sum, y, k);
    mpz_t a, b, got;
    mpz_inits(a, b, got, NULL);
    to_mpz(a, x, k);
    to_mpz(b, y, k);
    mpz_add(a, a, b);
    mpz_tdiv_r_2exp(a, a, limbs * 32);
    to_mpz(got, sum, k);
    assert_int_equal(mpz_cmp(a, got), 0);
    mpz_clears(a, b, got, NULL);
}

static void fill(uint32_t *x, size_t limbs, uint64_t seed)
{
    for (size_t i = 0; i < limbs; i++)
        x[i] = (uint32_t)mix(seed * 1000003 + i);
}

static void test_add_random(void **state)
{
    (void)state;
    static const int ks[] = {1, 2, FW_K_SMALL, FW_K_LARGE};
    uint32_t x[MAX_LIMBS], y[MAX_LIMBS];
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
        for (uint64_t s = 0; s < 300; s++) {
            fill(x, (size_t)FW_LANES * ks[j], 2 * s);
            fill(y, (size_t)FW_LANES * ks[j], 2 * s + 1);
            check_add(x, y, ks[j]);
        }
}

/* x has chunks of all ones above a chosen lane, so that one carry must
 * travel through many lanes: the case random numbers almost never make,
 * and the one a wrong lookahead gets wrong. */
static void test_add_carry_through_every_lane(void **state)
{
    (void)state;
    static const int ks[] = {1, 2, FW_K_SMALL};
    uint32_t x[MAX_LIMBS], y[MAX_LIMBS];
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
        int k = ks[j];
        size_t limbs = (size_t)FW_LANES * k;
        for (int from = 0; from < FW_LANES; from++)
            for (int to = from; to <= FW_LANES; to++) {
                memset(y, 0, sizeof y);
                fill(x, limbs, (uint64_t)(from * 64 + to));
                for (size_t i = (size_t)from * k; i < (size_t)to * k; i++)
                    x[i] = 0xffffffffu;
                /* Lane from-1 generates (or y adds 1 to lane `from`). */
                if (from > 0)
                    x[from * k - 1] = y[from * k - 1] = 0xffffffffu;
                else
                    y[0] = 1;
                check_add(x, y, k);
            }
    }
}

static void check_fib(unsigned long n, int k)
{
    uint32_t got[MAX_LIMBS];
    fw_emu_fib(n, k, got);
    mpz_t want, x;
    mpz_inits(want, x, NULL);
    mpz_fib_ui(want, n);
    to_mpz(x, got, k);
    if (mpz_cmp(x, want) != 0)
        fail_msg("fib(%lu) with %d limbs per lane differs from GMP's", n, k);
    mpz_clears(want, x, NULL);
}

static void test_fib_matches_gmp(void **state)
{
    (void)state;
    /* One limb per lane: carries cross lanes at almost every step. */
    for (unsigned long n = 0; n <= 1400; n++)
        check_fib(n, 1);
    static const unsigned long small[] = {2, 3, 100, 5000, 7777, 9999, 11798};
    for (size_t i = 0; i < sizeof small / sizeof *small; i++)
        check_fib(small[i], FW_K_SMALL);
    check_fib(20000, FW_K_LARGE);
    check_fib(fw_max_n(), FW_K_LARGE);
}

/* The K chosen for a position really holds fib(n + 1), which the loop
 * makes too; one past the limit is refused. */
static void test_limbs_per_lane_hold_the_values(void **state)
{
    (void)state;
    mpz_t f;
    mpz_init(f);
    unsigned long top = fw_max_n();
    assert_int_equal(fw_limbs_per_lane(top + 1), 0);
    assert_int_equal(fw_limbs_per_lane(0), FW_K_SMALL);
    for (unsigned long n = 0; n <= top; n += n < 11700 ? 97 : 1) {
        int k = fw_limbs_per_lane(n);
        assert_true(k == FW_K_SMALL || k == FW_K_LARGE);
        mpz_fib_ui(f, n + 1);
        assert_true(mpz_sizeinbase(f, 2) <= (size_t)FW_LANES * k * 32);
        if (k == FW_K_LARGE)
            assert_true(n + 1 > 11700);   /* the small K is not wasted */
    }
    mpz_clear(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_carries_match_the_ripple),
        cmocka_unit_test(test_add_random),
        cmocka_unit_test(test_add_carry_through_every_lane),
        cmocka_unit_test(test_fib_matches_gmp),
        cmocka_unit_test(test_limbs_per_lane_hold_the_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
