/*
 * test_fib_warp.c - the GPU kernel's big-integer addition (fib_warp.h),
 * run by its CPU emulation, against GMP: the carry-lookahead on its own,
 * the carry-save addition, the settling of carries (with chains built to
 * cross every lane), and fib(n) as the kernel computes it. Runs
 * everywhere: no GPU needed.
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

/* What a number in carry-save form stands for: its chunks, plus each
 * lane's carry word at the place of the lane above. */
static void value(mpz_t out, const fw_number *x, int k)
{
    mpz_t c;
    mpz_init(c);
    to_mpz(out, x->limb, k);
    for (int l = 0; l < FW_LANES; l++) {
        mpz_set_ui(c, x->carry[l]);
        mpz_mul_2exp(c, c, (mp_bitcnt_t)(l + 1) * 32 * (unsigned)k);
        mpz_add(out, out, c);
    }
    mpz_clear(c);
}

static void fill(uint32_t *x, size_t limbs, uint64_t seed)
{
    for (size_t i = 0; i < limbs; i++)
        x[i] = (uint32_t)mix(seed * 1000003 + i);
}

/* Carry words from 0 to 2, as the loop makes them; none in lane 31, which
 * the program never needs (fw_limbs_per_lane). */
static void fill_carries(fw_number *x, uint64_t seed)
{
    for (int l = 0; l < FW_LANES; l++)
        x->carry[l] = l < FW_LANES - 1 ? (uint32_t)(mix(seed + l) % 3) : 0;
}

static const int ks[] = {1, 2, FW_K_SMALL, FW_K_LARGE};

/* fw_emu_add keeps the value exact: x + y, carry words included. */
static void test_add_keeps_the_value(void **state)
{
    (void)state;
    uint32_t xl[MAX_LIMBS], yl[MAX_LIMBS];
    fw_number x = {xl, {0}}, y = {yl, {0}};
    mpz_t want, got;
    mpz_inits(want, got, NULL);
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
        for (uint64_t s = 0; s < 300; s++) {
            int k = ks[j];
            fill(xl, (size_t)FW_LANES * k, 4 * s);
            fill(yl, (size_t)FW_LANES * k, 4 * s + 1);
            /* All ones too, where random limbs would almost never be. */
            if (s % 3 == 0)
                memset(yl, 0xff, (size_t)k * sizeof(*yl) * (s % 31));
            fill_carries(&x, 4 * s + 2);
            fill_carries(&y, 4 * s + 3);
            value(want, &x, k);
            value(got, &y, k);
            mpz_add(want, want, got);
            fw_emu_add(&x, &y, k);
            value(got, &x, k);
            assert_int_equal(mpz_cmp(want, got), 0);
            for (int l = 0; l < FW_LANES; l++)
                assert_true(x.carry[l] <= 2);
        }
    mpz_clears(want, got, NULL);
}

/* Settles x and checks it against its value, modulo 2^(1024 k) (a carry
 * out of lane 31 is dropped; the program never makes one). */
static void check_settle(fw_number *x, int k)
{
    mpz_t want, got;
    mpz_inits(want, got, NULL);
    value(want, x, k);
    mpz_tdiv_r_2exp(want, want, (mp_bitcnt_t)FW_LANES * 32 * (unsigned)k);
    fw_emu_settle(x, k);
    to_mpz(got, x->limb, k);
    assert_int_equal(mpz_cmp(want, got), 0);
    for (int l = 0; l < FW_LANES; l++)
        assert_int_equal(x->carry[l], 0);
    mpz_clears(want, got, NULL);
}

static void test_settle_random(void **state)
{
    (void)state;
    uint32_t xl[MAX_LIMBS];
    fw_number x = {xl, {0}};
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
        for (uint64_t s = 0; s < 300; s++) {
            fill(xl, (size_t)FW_LANES * ks[j], 2 * s);
            fill_carries(&x, 2 * s + 1);
            check_settle(&x, ks[j]);
        }
}

/* Chunks of all ones from lane `from` up to lane `to`, and a carry word
 * coming into lane `from`: one carry must travel through all of them, the
 * case random numbers almost never make, and the one a wrong lookahead
 * gets wrong. */
static void test_settle_carry_through_every_lane(void **state)
{
    (void)state;
    uint32_t xl[MAX_LIMBS];
    fw_number x = {xl, {0}};
    for (size_t j = 0; j < 3; j++) {
        int k = ks[j];
        for (int from = 1; from < FW_LANES; from++)
            for (int to = from; to <= FW_LANES; to++)
                for (uint32_t c = 1; c <= 2; c++) {
                    fill(xl, (size_t)FW_LANES * k, (uint64_t)(from * 64 + to));
                    memset(x.carry, 0, sizeof x.carry);
                    for (size_t i = (size_t)from * k; i < (size_t)to * k; i++)
                        xl[i] = 0xffffffffu;
                    x.carry[from - 1] = c;
                    check_settle(&x, k);
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
        cmocka_unit_test(test_add_keeps_the_value),
        cmocka_unit_test(test_settle_random),
        cmocka_unit_test(test_settle_carry_through_every_lane),
        cmocka_unit_test(test_fib_matches_gmp),
        cmocka_unit_test(test_limbs_per_lane_hold_the_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
