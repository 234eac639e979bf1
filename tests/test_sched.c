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
        cmocka_unit_test(test_requeue_lowest_first_and_stop),
        cmocka_unit_test(test_redo_ranges_are_batched),
    };
    return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
