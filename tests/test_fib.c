/*
 * test_fib.c - the three Fibonacci kernels agree, and match known values;
 * the examples' timing summary and noise rule (timing.c).
 */
#include "fib.h"
#include "fib_pair.h"
#include "timing.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void check_fib(unsigned long n, const char *decimal)
{
    mpz_t want, got;
    mpz_init_set_str(want, decimal, 10);
    mpz_init(got);
    for (int a = FIB_LOOP; a <= FIB_GMP; a++) {
        fib_compute(got, n, (fib_algo)a);
        assert_int_equal(mpz_cmp(got, want), 0);
    }
    mpz_clear(want);
    mpz_clear(got);
}

static void test_known_values(void **state)
{
    (void)state;
    check_fib(0, "0");
    check_fib(1, "1");
    check_fib(2, "1");
    check_fib(7, "13");
    check_fib(20, "6765");
    check_fib(100, "354224848179261915075");
}

static void test_all_agree_up_to_3000(void **state)
{
    (void)state;
    mpz_t ref, loop, dbl;
    mpz_inits(ref, loop, dbl, NULL);
    for (unsigned long n = 0; n <= 3000; n++) {
        fib_gmp(ref, n);
        fib_loop(loop, n);
        fib_doubling(dbl, n);
        assert_int_equal(mpz_cmp(ref, loop), 0);
        assert_int_equal(mpz_cmp(ref, dbl), 0);
    }
    mpz_clears(ref, loop, dbl, NULL);
}

static void test_sample_up_to_200000(void **state)
{
    (void)state;
    static const unsigned long sample[] = {4095, 4096, 9999, 10000, 65537,
                                           123457, 200000};
    mpz_t ref, got;
    mpz_inits(ref, got, NULL);
    for (size_t i = 0; i < sizeof(sample) / sizeof(*sample); i++) {
        fib_gmp(ref, sample[i]);
        fib_doubling(got, sample[i]);
        assert_int_equal(mpz_cmp(ref, got), 0);
        fib_loop(got, sample[i]);
        assert_int_equal(mpz_cmp(ref, got), 0);
    }
    /* fib(10000) has 2,090 digits, as the tutorial says. */
    fib_gmp(ref, 10000);
    char *s = mpz_get_str(NULL, 10, ref);
    assert_int_equal(strlen(s), 2090);
    free(s);
    mpz_clears(ref, got, NULL);
}

static mp_limb_t next_limb(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (mp_limb_t)*x;
}

/* The loop kernel's pair of additions (one pass where the CPU has ADX)
 * gives what two mpn_add_n give, on odd and even sizes, with and without
 * carries out of the top limb (all-ones top limbs force them). */
static void test_pair_matches_mpn(void **state)
{
    (void)state;
    enum { MAX = 40 };
    uint64_t x = 88172645463325252ULL;
    for (mp_size_t size = 1; size <= MAX; size++) {
        for (int kind = 0; kind < 3; kind++) {
            mp_limb_t a[MAX + 4] = {0}, b[MAX + 4] = {0};
            mp_limb_t a2[MAX + 4], b2[MAX + 4];
            for (mp_size_t j = 0; j < size; j++) {
                a[j] = kind == 2 ? ~(mp_limb_t)0 : next_limb(&x);
                b[j] = kind >= 1 ? ~(mp_limb_t)0 : next_limb(&x);
            }
            memcpy(a2, a, sizeof a);
            memcpy(b2, b, sizeof b);
            mp_size_t got = fib_add_pair(a, b, size);
            mp_size_t want = fib_pair_mpn(a2, b2, size);
            assert_int_equal(got, want);
            assert_memory_equal(a, a2, sizeof a);
            assert_memory_equal(b, b2, sizeof b);
        }
    }
}

/* The rule that keeps a busy machine's numbers out of the examples'
 * tables: a median speedup above min(n_jobs, CPUs) by more than 5%. */
static void test_noise_rule(void **state)
{
    (void)state;
    assert_false(fib_timing_is_noise(1.00, 1, 2));
    assert_false(fib_timing_is_noise(1.04, 1, 2));   /* jitter */
    assert_true(fib_timing_is_noise(1.06, 1, 2));    /* 1 worker, 1.06x */
    assert_false(fib_timing_is_noise(1.98, 2, 2));
    assert_false(fib_timing_is_noise(2.09, 2, 2));
    assert_true(fib_timing_is_noise(2.11, 2, 2));
    /* The demo that prompted it: OpenMP, 8 and 16 threads on 2 CPUs. */
    assert_true(fib_timing_is_noise(2.56, 8, 2));
    assert_true(fib_timing_is_noise(2.64, 16, 2));
    assert_false(fib_timing_is_noise(1.90, 32, 2));
    /* More CPUs than workers: the workers are the limit. */
    assert_false(fib_timing_is_noise(3.90, 4, 16));
    assert_true(fib_timing_is_noise(4.30, 4, 16));
    assert_false(fib_timing_is_noise(0.50, 4, 16));  /* slow is no noise */
}

static void test_timing_summary(void **state)
{
    (void)state;
    fib_timing t;
    double odd[] = {0.3, 0.1, 0.2};
    fib_timing_summarize(odd, 3, &t);
    assert_true(t.median == 0.2 && t.min == 0.1 && t.max == 0.3);
    assert_true(odd[0] == 0.3 && odd[1] == 0.1);     /* left as they were */
    double even[] = {0.4, 0.1, 0.3, 0.2};
    fib_timing_summarize(even, 4, &t);
    assert_true(t.median > 0.2499 && t.median < 0.2501);
    assert_true(t.min == 0.1 && t.max == 0.4);
    double one[] = {0.7};
    fib_timing_summarize(one, 1, &t);
    assert_true(t.median == 0.7 && t.min == 0.7 && t.max == 0.7);
}

/* Both pair paths, run from (fib(0), fib(1)), give (fib(2k), fib(2k+1))
 * after k pairs: the portable one (fib_pair_mpn, what CPUs without ADX
 * run) pair by pair, and fib_add_pairs in runs of different lengths. */
static void test_pairs_make_fibonacci(void **state)
{
    (void)state;
    enum { PAIRS = 700, LIMBS = 32 };
    mp_limb_t a[LIMBS] = {0}, b[LIMBS] = {0}, a2[LIMBS] = {0},
              b2[LIMBS] = {0};
    b[0] = b2[0] = 1;
    mp_size_t size = 1, size2 = 1;
    mpz_t want;
    mpz_init(want);
    for (unsigned long k = 1, run = 1; k <= PAIRS; k += run, run = run % 7 + 1) {
        for (unsigned long i = 0; i < run; i++)
            size = fib_pair_mpn(a, b, size);
        size2 = fib_add_pairs(a2, b2, size2, run);
        unsigned long n = 2 * (k + run - 1);
        fib_gmp(want, n);
        assert_int_equal(mpn_cmp(a, mpz_limbs_read(want), mpz_size(want)), 0);
        fib_gmp(want, n + 1);
        assert_int_equal(size, (mp_size_t)mpz_size(want));
        assert_int_equal(mpn_cmp(b, mpz_limbs_read(want), size), 0);
        assert_int_equal(size2, size);
        assert_memory_equal(a2, a, sizeof a);
        assert_memory_equal(b2, b, sizeof b);
    }
    mpz_clear(want);
}

static void test_parsing(void **state)
{
    (void)state;
    unsigned long n;
    fib_algo a;
    assert_int_equal(fib_parse_position("0", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fib_parse_position("1000000", &n), 0);
    assert_int_equal(fib_parse_position("1000001", &n), -1);
    assert_int_equal(fib_parse_position("-3", &n), -1);
    assert_int_equal(fib_parse_position("+3", &n), -1);
    assert_int_equal(fib_parse_position("3x", &n), -1);
    assert_int_equal(fib_parse_position("", &n), -1);
    assert_int_equal(fib_parse_position("99999999999999999999999", &n), -1);
    assert_int_equal(fib_algo_parse("doubling", &a), 0);
    assert_int_equal(a, FIB_DOUBLING);
    assert_int_equal(fib_algo_parse("fast", &a), -1);
    assert_string_equal(fib_algo_name(FIB_GMP), "gmp");
    assert_null(fib_algo_name((fib_algo)9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_all_agree_up_to_3000),
        cmocka_unit_test(test_sample_up_to_200000),
        cmocka_unit_test(test_pair_matches_mpn),
        cmocka_unit_test(test_pairs_make_fibonacci),
        cmocka_unit_test(test_noise_rule),
        cmocka_unit_test(test_timing_summary),
        cmocka_unit_test(test_parsing),
    };
    return cmocka_run_group_tests_name("fib", tests, NULL, NULL);
}
