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

static const tf__job job = {10, 3, 1, NULL};

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
    m = good(); m.h.status = 1;              assert_false(accepted(&m, 0));
    m = good(); m.h.status = TF_EWORKER;     assert_false(accepted(&m, 0));
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
    /* A failed task has a non-zero code, and its bytes are its message:
     * at most TF__MSG_MAX of them. */
    m = good(); m.s[1].fail = TF_FAIL_ERROR; assert_false(accepted(&m, 0));
    m.s[1].code = 7;                         assert_true(accepted(&m, 0));
    m = good(); m.s[0].fail = TF_FAIL_ERROR; m.s[0].code = 7;
    assert_true(accepted(&m, 0)); /* a 3-byte message */
    m = good(); m.s[0].fail = TF_FAIL_ERROR; m.s[0].code = 7;
    m.s[0].len = TF__MSG_MAX + 1; m.s[1].off = m.s[2].off = TF__MSG_MAX + 1;
    m.h.len = TF__MSG_MAX + 6;
    assert_false(accepted(&m, 0));
    m.s[0].len = TF__MSG_MAX; m.s[1].off = m.s[2].off = TF__MSG_MAX;
    m.h.len = TF__MSG_MAX + 5;
    assert_true(accepted(&m, 0));
}

/* A worker whose start hook failed: a header alone, which says so. */
static void test_hook_failure_header(void **state)
{
    (void)state;
    tf__wire_job j = {10, 3, 0, 1, NULL, NULL, 0, 0, 0};
    tf__wire_result h;
    tf__wire_result_failed(&h, &j, TF_EWORKER);
    assert_int_equal(tf__wire_check_header(&h, &job), 1);
    h.count = 1;
    assert_int_equal(tf__wire_check_header(&h, &job), -1);
    tf__wire_result_failed(&h, &j, TF_ENOMEM);
    assert_int_equal(tf__wire_check_header(&h, &job), -1);
}

/* What a worker checks of the inputs its parent sent. */
static void test_input_slots(void **state)
{
    (void)state;
    tf__wire_job j = {10, 3, 0, 1, NULL, NULL, 1, 0, 8};
    tf__slot s[3] = {{0, 3, 0, 0, 1}, {3, 0, 0, 0, 1}, {3, 5, 0, 0, 1}};
    assert_int_equal(tf__wire_check_inputs(&j, s), 0);
    s[2].len = 6;
    assert_int_equal(tf__wire_check_inputs(&j, s), -1);
    s[2].len = SIZE_MAX;
    assert_int_equal(tf__wire_check_inputs(&j, s), -1);
    s[2].len = 5;
    s[1].off = 2;
    assert_int_equal(tf__wire_check_inputs(&j, s), -1);
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
        cmocka_unit_test(test_hook_failure_header),
        cmocka_unit_test(test_input_slots),
        cmocka_unit_test(test_bad_slots_refused),
        cmocka_unit_test(test_cut_batches),
    };
    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
