/*
 * test_sched.c - dispatch order and the automatic batch size.
 */
#include "internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Hands out everything, checking that ranges tile 0..n-1 in order. */
static size_t drain(tf__sched *s, double task_s, size_t *largest)
{
    size_t expect = s->next, batches = 0;
    *largest = 0;
    for (;;) {
        tf__range r = tf__sched_next(s);
        if (r.count == 0)
            break;
        assert_int_equal(r.start, expect);
        expect += r.count;
        batches++;
        if (r.count > *largest)
            *largest = r.count;
        tf__sched_observe(s, r.count, task_s * (double)r.count, 8 * r.count);
    }
    assert_int_equal(expect, s->n_tasks);
    assert_true(tf__sched_done(s));
    return batches;
}

static void test_fixed_size(void **state)
{
    (void)state;
    tf__sched s;
    tf__sched_init(&s, 100, 7, 4, 0.002);
    size_t largest;
    assert_int_equal(drain(&s, 1e-6, &largest), 15);   /* 14 x 7, then 2 */
    assert_int_equal(largest, 7);
    tf__sched_release(&s);
}

static void test_auto_grows_for_quick_tasks(void **state)
{
    (void)state;
    tf__sched s;
    tf__sched_init(&s, 100000, 0, 2, 0.002);
    tf__range first = tf__sched_next(&s);
    assert_int_equal(first.count, 1);   /* nothing measured yet */
    tf__sched_observe(&s, 1, 1e-8, 8);
    size_t largest;
    size_t batches = drain(&s, 1e-8, &largest);
    /* Per-task overhead is per batch: 100000 tasks in few batches. */
    assert_true(batches < 200);
    assert_true(largest > 1000);
    tf__sched_release(&s);
}

static void test_auto_stays_small_for_slow_tasks(void **state)
{
    (void)state;
    tf__sched s;
    tf__sched_init(&s, 1000, 0, 2, 0.002);
    size_t largest;
    drain(&s, 0.01, &largest);   /* 10 ms a task: more than the target */
    assert_int_equal(largest, 1);
    tf__sched_release(&s);
}

static void test_auto_shrinks_when_tasks_slow_down(void **state)
{
    (void)state;
    tf__sched s;
    tf__sched_init(&s, 1000000, 0, 2, 0.002);
    for (int i = 0; i < 20; i++) {
        tf__range r = tf__sched_next(&s);
        tf__sched_observe(&s, r.count, 1e-7 * (double)r.count, 0);
    }
    assert_true(tf__sched_next(&s).count > 100);
    for (int i = 0; i < 10; i++)
        tf__sched_observe(&s, 1, 0.05, 0);   /* tasks became slow */
    assert_int_equal(tf__sched_next(&s).count, 1);
    tf__sched_release(&s);
}

static void test_tail_balances(void **state)
{
    (void)state;
    tf__sched s;
    tf__sched_init(&s, 1000, 0, 4, 0.002);
    tf__range r;
    while ((r = tf__sched_next(&s)).count != 0) {
        size_t remaining_before = s.n_tasks - r.start;
        /* No batch takes more than an eighth of what was left. */
        assert_true(r.count <= (remaining_before / 8 > 0 ? remaining_before / 8
                                                         : 1));
        tf__sched_observe(&s, r.count, 1e-9 * (double)r.count, 0);
    }
    tf__sched_release(&s);
}

static void test_result_bytes_bound_batches(void **state)
{
    (void)state;
    tf__sched s;
    tf__sched_init(&s, 10000000, 0, 1, 0.002);
    for (int i = 0; i < 40; i++) {
        tf__range r = tf__sched_next(&s);
        tf__sched_observe(&s, r.count, 1e-9 * (double)r.count,
                          (1 << 16) * r.count);   /* 64 KiB a task */
    }
    assert_true(tf__sched_next(&s).count <= 16);   /* about 1 MiB a batch */
    tf__sched_release(&s);
}

/* The steady batch time per worker (seconds) with W workers and 10 ms
 * tasks of 8 bytes, in a run long enough that the tail rule stays out;
 * hold: tf__sched_hold's bound, 0 for none. */
static double steady_per_worker(int workers, size_t hold)
{
    tf__sched s;
    tf__sched_init(&s, (size_t)1 << 40, 0, workers, 0.002);
    tf__sched_hold(&s, hold);
    size_t count = 0;
    for (int i = 0; i < 40; i++) {
        count = tf__sched_next(&s).count;
        tf__sched_observe(&s, count, 10e-3 * (double)count, 8 * count);
    }
    tf__sched_release(&s);
    return (double)count * 10e-3 / workers;
}

/* Rank 0 handles every batch, and the end of a run costs it about W
 * batches per doubling of the batch, whatever the run's length: past a
 * few thousand workers the batch time per worker grows with W too, and
 * at 64 workers it stays at about 0.5 ms. */
static void test_batch_time_grows_with_workers(void **state)
{
    (void)state;
    double few = steady_per_worker(64, 0);
    double many = steady_per_worker(4096, 0);
    print_message("batch time per worker: %.3f ms (64), %.3f ms (4096)\n",
                  few * 1e3, many * 1e3);
    assert_true(few >= 0.4e-3 && few <= 0.6e-3);
    assert_true(many >= 0.95e-3);
    assert_true(steady_per_worker(16384, 0) > 2 * many);
}

/* Growing stops where a batch per worker in flight would no longer fit
 * in what may wait for delivery (16,384 workers: 256 MiB / W = 16 KiB a
 * batch), since bigger ones would stall dispatch in index order; what
 * is left is the linear rule, W x 0.5 ms. */
static void test_growth_stops_at_what_may_wait(void **state)
{
    (void)state;
    double held = steady_per_worker(16384, (size_t)16 << 10);
    assert_true(held >= 0.45e-3 && held <= 0.55e-3);
    /* A looser bound lets it grow as far as it allows. */
    double loose = steady_per_worker(4096, (size_t)64 << 10);
    assert_true(loose >= 0.95e-3);
}

/* Past 256 workers the end of a run shrinks batches to remaining / 2W,
 * but not below W x 50 µs of compute (at most 0.4 s): short enough for
 * the tail, long enough that the end does not bring rank 0 a batch from
 * each worker faster than it takes them. */
static void test_tail_floor_at_thousands_of_workers(void **state)
{
    (void)state;
    tf__sched s;
    size_t n = (size_t)4096 * 100000;
    tf__sched_init(&s, n, 0, 4096, 0.002);
    tf__range r;
    size_t last = 0, largest = 0;
    while ((r = tf__sched_next(&s)).count != 0) {
        size_t remaining = n - r.start, share = remaining / (2 * 4096);
        assert_true(r.count <= (share > 20 ? share : 20));
        if (largest >= 400) /* past the first round's ramp */
            assert_true(r.count >= (remaining < 20 ? remaining : 20));
        if (r.count > largest)
            largest = r.count;
        last = r.count;
        tf__sched_observe(&s, r.count, 10e-3 * (double)r.count, 8 * r.count);
    }
    assert_true(last <= 20);
    tf__sched_release(&s);
    /* At 65,536 workers the floor stays at 0.4 s: 40 tasks of 10 ms. */
    tf__sched_init(&s, (size_t)65536 * 1000, 0, 65536, 0.002);
    for (int i = 0; i < 20; i++) { /* the ramp: past 40 a batch */
        size_t k = tf__sched_next(&s).count;
        tf__sched_observe(&s, k, 10e-3 * (double)k, 8 * k);
    }
    s.next = s.n_tasks - 65536; /* the end: remaining / 2W is 0 */
    assert_int_equal(tf__sched_next(&s).count, 40);
    tf__sched_release(&s);
}

static void test_requeue_lowest_first_and_stop(void **state)
{
    (void)state;
    tf__sched s;
    tf__sched_init(&s, 100, 10, 2, 0.002);
    tf__sched_next(&s);
    tf__sched_next(&s);
    tf__sched_next(&s);
    assert_int_equal(tf__sched_requeue(&s, 20, 5), 0);
    assert_int_equal(tf__sched_requeue(&s, 3, 2), 0);
    assert_int_equal(tf__sched_requeue(&s, 11, 1), 0);
    assert_int_equal(tf__sched_requeue(&s, 50, 0), 0); /* empty: ignored */
    tf__range r = tf__sched_next(&s);
    assert_int_equal(r.start, 3);
    assert_int_equal(r.count, 2);
    assert_int_equal(tf__sched_next(&s).start, 11);
    r = tf__sched_next(&s);
    assert_int_equal(r.start, 20);
    assert_int_equal(r.count, 5);
    assert_int_equal(tf__sched_next(&s).start, 30);
    tf__sched_stop(&s);
    assert_int_equal(tf__sched_next(&s).count, 0);
    assert_true(tf__sched_done(&s));
    tf__sched_release(&s);
}

/* A long range to redo (what a resumed run still has to do) is handed out
 * in batches, like fresh work, not in one piece. */
static void test_redo_ranges_are_batched(void **state)
{
    (void)state;
    tf__sched s;
    tf__sched_init(&s, 1000, 10, 2, 0.002);
    s.next = s.n_tasks; /* nothing fresh: all of it comes back as ranges */
    assert_int_equal(tf__sched_requeue(&s, 0, 100), 0);
    assert_int_equal(tf__sched_requeue(&s, 500, 25), 0);
    size_t expect = 0, total = 0;
    tf__range r;
    while ((r = tf__sched_next(&s)).count != 0) {
        assert_true(r.count <= 10);
        if (expect == 100)
            expect = 500;
        assert_int_equal(r.start, expect);
        expect += r.count;
        total += r.count;
    }
    assert_int_equal(total, 125);
    assert_true(tf__sched_done(&s));
    assert_int_equal(tf__sched_next_capped(&s, 1).count, 0);
    tf__sched_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_size),
        cmocka_unit_test(test_auto_grows_for_quick_tasks),
        cmocka_unit_test(test_auto_stays_small_for_slow_tasks),
        cmocka_unit_test(test_auto_shrinks_when_tasks_slow_down),
        cmocka_unit_test(test_tail_balances),
        cmocka_unit_test(test_result_bytes_bound_batches),
        cmocka_unit_test(test_batch_time_grows_with_workers),
        cmocka_unit_test(test_growth_stops_at_what_may_wait),
        cmocka_unit_test(test_tail_floor_at_thousands_of_workers),
        cmocka_unit_test(test_requeue_lowest_first_and_stop),
        cmocka_unit_test(test_redo_ranges_are_batched),
    };
    return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
