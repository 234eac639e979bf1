/*
 * test_wire.c - the codec of the messages between processes (wire.h):
 * a well-formed batch passes; every field a broken worker could get wrong
 * is refused: magic, start, count, length, each slot's offset, length,
 * kind, code and attempts, a cut batch that does not end at a failure.
 */
#include "wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* A batch of three tasks with 3, 0 and 5 bytes. */
typedef struct message {
    tf__wire_result h;
    tf__slot s[3];
} message;

static message good(void)
{
    message m = {{TF__WIRE_MAGIC, 0, 10, 3, 8, 0.5},
                 {{0, 3, 0, 0, 1}, {3, 0, 0, 0, 1}, {3, 5, 0, 0, 1}}};
    return m;
}

static const tf__job job = {10, 3, 1};

static int accepted(const message *m, int end_at_failure)
{
    return tf__wire_check_header(&m->h, &job) == 0 &&
           tf__wire_check_slots(&m->h, m->s, &job, end_at_failure) == 0;
}

static void test_well_formed_passes(void **state)
{
    (void)state;
    message m = good();
    assert_true(accepted(&m, 0));
    assert_true(accepted(&m, 1));
}

static void test_bad_headers_refused(void **state)
{
    (void)state;
    message m;
    m = good(); m.h.magic = 0;               assert_false(accepted(&m, 0));
    m = good(); m.h.reserved = 1;            assert_false(accepted(&m, 0));
    m = good(); m.h.start = 11;              assert_false(accepted(&m, 0));
    m = good(); m.h.count = 0;               assert_false(accepted(&m, 0));
    m = good(); m.h.count = 4;               assert_false(accepted(&m, 0));
    m = good(); m.h.count = UINT64_MAX;      assert_false(accepted(&m, 0));
    m = good(); m.h.len = TF__WIRE_MAX_LEN + 1; assert_false(accepted(&m, 0));
    m = good(); m.h.seconds = -1;            assert_false(accepted(&m, 0));
    m = good(); m.h.seconds = 1.0 / 0.0;     assert_false(accepted(&m, 0));
    m = good(); /* no job was sent to this worker */
    assert_int_equal(tf__wire_check_header(&m.h, NULL), -1);
}

static void test_bad_slots_refused(void **state)
{
    (void)state;
    message m;
    m = good(); m.s[1].off = 2;              assert_false(accepted(&m, 0));
    m = good(); m.s[2].len = 6;              assert_false(accepted(&m, 0));
    m = good(); m.s[2].len = SIZE_MAX;       assert_false(accepted(&m, 0));
    m = good(); m.h.len = 9;                 assert_false(accepted(&m, 0));
    m = good(); m.s[0].fail = 99;            assert_false(accepted(&m, 0));
    m = good(); m.s[0].fail = TF_FAIL_SIGNAL; assert_false(accepted(&m, 0));
    m = good(); m.s[0].code = 5;             assert_false(accepted(&m, 0));
    m = good(); m.s[1].attempts = 0;         assert_false(accepted(&m, 0));
    /* A failed task carries no bytes and a non-zero code. */
    m = good(); m.s[1].fail = TF_FAIL_ERROR; assert_false(accepted(&m, 0));
    m.s[1].code = 7;                         assert_true(accepted(&m, 0));
    m = good(); m.s[0].fail = TF_FAIL_ERROR; m.s[0].code = 7;
    assert_false(accepted(&m, 0)); /* it had 3 bytes */
}

static void test_cut_batches(void **state)
{
    (void)state;
    /* Cut after a failure: fine when batches end at failures. */
    message m = good();
    m.h.count = 2;
    m.h.len = 3;
    m.s[1].fail = TF_FAIL_ERROR;
    m.s[1].code = 4;
    assert_true(accepted(&m, 1));
    assert_false(accepted(&m, 0));
    /* Cut without a failure, or a failure before the end of a cut batch. */
    m = good();
    m.h.count = 2;
    m.h.len = 3;
    assert_false(accepted(&m, 1));
    m = good();
    m.s[0] = (tf__slot){0, 0, TF_FAIL_ERROR, 4, 1};
    m.s[1] = (tf__slot){0, 0, 0, 0, 1};
    m.s[2] = (tf__slot){0, 8, 0, 0, 1};
    assert_false(accepted(&m, 1));
    assert_true(accepted(&m, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed_passes),
        cmocka_unit_test(test_bad_headers_refused),
        cmocka_unit_test(test_bad_slots_refused),
        cmocka_unit_test(test_cut_batches),
    };
    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
