/*
 * test_farm.c - the task model every backend honours: results equal to the
 * serial backend's, delivery order, variable sizes, per-task failures,
 * cancellation, reuse, and every error a caller can reach.
 *
 * The backend under test comes from TF_TEST_BACKEND (default "threads"), so
 * CTest runs this same file once per backend.
 */
#include "taskfarm.h"
#include "testkit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static tf_backend backend_under_test = TF_BACKEND_THREADS;

/* ---- a deterministic task with variable-size results ------------------ */

static size_t result_len(size_t i)
{
    return (size_t)(mix(i) % 48);
}

static unsigned char result_byte(size_t i, size_t k)
{
    return (unsigned char)(mix(i * 131 + k) & 0xff);
}

typedef struct check {
    size_t n;
    size_t next;            /* index order: next expected */
    unsigned char *seen;    /* as completed: exactly once */
    size_t delivered;
    size_t errors;
    size_t fail_every;      /* tasks with i % fail_every == fail_at fail */
    size_t fail_at;
    size_t cancel_at;       /* result callback cancels here; SIZE_MAX never */
    int ordered;
    int bad;                /* wrong content, order or duplicate */
    uint64_t sum;           /* order-independent digest of all results */
    size_t *sizes;          /* explicit sizes, or NULL for result_len */
    unsigned sleep_us;
} check;

static int fails(const check *c, size_t i)
{
    return c->fail_every != 0 && i % c->fail_every == c->fail_at;
}

static int task(void *user, size_t i, tf_out *out)
{
    const check *c = user;
    if (c->sleep_us > 0) {
        struct timespec ts = {0, (long)c->sleep_us * 1000L};
        nanosleep(&ts, NULL);
    }
    if (fails(c, i))
        return 42;
    size_t len = c->sizes != NULL ? c->sizes[i] : result_len(i);
    unsigned char *p = tf_out_extend(out, len);
    if (p == NULL && len > 0)
        return -1;
    for (size_t k = 0; k < len; k++)
        p[k] = result_byte(i, k);
    return 0;
}

static int on_result(void *user, size_t i, const void *data, size_t len)
{
    check *c = user;
    const unsigned char *p = data;
    size_t want = c->sizes != NULL ? c->sizes[i] : result_len(i);
    if (i >= c->n || len != want || fails(c, i))
        c->bad = 1;
    for (size_t k = 0; k < len && !c->bad; k++)
        if (p[k] != result_byte(i, k))
            c->bad = 1;
    if (c->ordered) {
        while (c->next < i && fails(c, c->next))
            c->next++;
        if (i != c->next)
            c->bad = 1;
        c->next = i + 1;
    } else if (c->seen[i]++) {
        c->bad = 1;
    }
    if (data == NULL) /* promised never NULL, even for 0 bytes */
        c->bad = 1;
    c->delivered++;
    c->sum += mix(i ^ (uint64_t)len << 40);
    return c->delivered == c->cancel_at ? 1 : 0;
}

static int on_error(void *user, const tf_task_error *err)
{
    check *c = user;
    if (!fails(c, err->index) || err->kind != TF_FAIL_ERROR || err->code != 42)
        c->bad = 1;
    c->errors++;
    return 0;
}

static void check_init(check *c, size_t n, int ordered)
{
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->ordered = ordered;
    c->cancel_at = SIZE_MAX;
    c->seen = calloc(n > 0 ? n : 1, 1);
    assert_non_null(c->seen);
}

static tf_options opts_for(tf_backend b, int jobs, size_t batch, tf_order o)
{
    tf_options opts = TF_OPTIONS_INIT;
    opts.backend = b;
    opts.n_jobs = jobs;
    opts.batch_size = batch;
    opts.order = o;
    return opts;
}

/* Runs the check on a backend; returns the run's code. */
static int run_check(check *c, const tf_options *opts, tf_report *rep)
{
    return tf_map(opts, c->n, task, on_result, on_error, c, rep);
}

/* ---- equality with the serial backend --------------------------------- */

static void test_matches_serial_sweep(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 1000, 100000};
    static const size_t batches[] = {1, 7, 0};
    for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
        size_t n = sizes[si];
        check ref;
        check_init(&ref, n, 1);
        tf_options so = opts_for(TF_BACKEND_SERIAL, 1, 0, TF_ORDER_INDEX);
        assert_int_equal(run_check(&ref, &so, NULL), 0);
        assert_int_equal(ref.delivered, n);
        for (int jobs = 1; jobs <= 8; jobs++) {
            for (size_t bi = 0; bi < 3; bi++) {
                check c;
                check_init(&c, n, 1);
                tf_options o = opts_for(backend_under_test, jobs, batches[bi],
                                        TF_ORDER_INDEX);
                tf_report rep;
                assert_int_equal(run_check(&c, &o, &rep), 0);
                assert_false(c.bad);
                assert_int_equal(c.delivered, n);
                assert_true(c.sum == ref.sum);
                assert_int_equal(rep.n_ok, n);
                assert_int_equal(rep.n_failed, 0);
                assert_int_equal(rep.n_not_run, 0);
                free(c.seen);
            }
        }
        free(ref.seen);
    }
}

static void test_as_completed_each_once(void **state)
{
    (void)state;
    for (int jobs = 1; jobs <= 8; jobs *= 2) {
        check c;
        check_init(&c, 20000, 0);
        tf_options o = opts_for(backend_under_test, jobs, 0,
                                TF_ORDER_COMPLETED);
        assert_int_equal(run_check(&c, &o, NULL), 0);
        assert_false(c.bad);
        assert_int_equal(c.delivered, 20000);
        for (size_t i = 0; i < c.n; i++)
            assert_int_equal(c.seen[i], 1);
        free(c.seen);
    }
}

static void test_variable_sizes_round_trip(void **state)
{
    (void)state;
    static const size_t pick[] = {0, 1, 4095, 65536, 1 << 20, 3};
    size_t n = 40;
    size_t sizes[40];
    for (size_t i = 0; i < n; i++)
        sizes[i] = pick[i % 6];
    check c;
    check_init(&c, n, 1);
    c.sizes = sizes;
    tf_options o = opts_for(backend_under_test, 3, 0, TF_ORDER_INDEX);
    assert_int_equal(run_check(&c, &o, NULL), 0);
    assert_false(c.bad);
    assert_int_equal(c.delivered, n);
    free(c.seen);
}

/* ---- failures --------------------------------------------------------- */

static void test_failing_tasks_keep_going(void **state)
{
    (void)state;
    check c;
    check_init(&c, 1000, 1);
    c.fail_every = 100;
    c.fail_at = 7;
    tf_options o = opts_for(backend_under_test, 4, 0, TF_ORDER_INDEX);
    tf_report rep;
    assert_int_equal(run_check(&c, &o, &rep), TF_ETASKS);
    assert_false(c.bad);
    assert_int_equal(c.errors, 10);
    assert_int_equal(c.delivered, 990);
    assert_int_equal(rep.n_ok, 990);
    assert_int_equal(rep.n_failed, 10);
    assert_int_equal(rep.n_not_run, 0);
    assert_true(rep.has_error);
    assert_int_equal(rep.first_error.index, 7);
    assert_int_equal(rep.first_error.code, 42);
    assert_int_equal(rep.first_error.kind, TF_FAIL_ERROR);
    free(c.seen);
}

static void test_stop_at_first_failure(void **state)
{
    (void)state;
    check c;
    check_init(&c, 1000, 1);
    c.fail_every = 1000;
    c.fail_at = 500;
    tf_options o = opts_for(backend_under_test, 4, 0, TF_ORDER_INDEX);
    o.stop_on_error = 1;
    tf_report rep;
    assert_int_equal(run_check(&c, &o, &rep), TF_ESTOPPED);
    assert_false(c.bad);
    assert_int_equal(c.delivered, 500);   /* 0..499, in order */
    assert_int_equal(c.errors, 1);
    assert_int_equal(rep.n_ok, 500);
    assert_int_equal(rep.n_failed, 1);
    assert_int_equal(rep.n_not_run, 499);
    assert_int_equal(rep.first_error.index, 500);
    free(c.seen);
}

/* ---- cancellation, reuse, destroy with work pending ------------------- */

static void reset_counts(check *c, size_t n, size_t cancel_at)
{
    c->n = n;
    c->next = 0;
    c->delivered = 0;
    c->errors = 0;
    c->bad = 0;
    c->sum = 0;
    c->cancel_at = cancel_at;
}

/* One farm, several runs. The task reads the same check object each time:
 * the process backend's workers see memory as it was when they were forked,
 * so what the task reads must not change between runs (only the counters
 * that the callbacks use in the caller may). */
static void test_cancel_then_reuse_then_destroy(void **state)
{
    (void)state;
    tf_options o = opts_for(backend_under_test, 4, 0, TF_ORDER_INDEX);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    check c;
    check_init(&c, 100000, 1);
    c.sleep_us = 200;
    reset_counts(&c, 100000, 10);
    tf_report rep;
    assert_int_equal(tf_farm_run(farm, c.n, task, on_result, on_error, &c,
                                 &rep),
                     TF_ECANCELED);
    assert_int_equal(c.delivered, 10);
    assert_int_equal(rep.n_ok, 10);
    assert_true(rep.n_not_run > 0);

    reset_counts(&c, 2000, SIZE_MAX);
    assert_int_equal(tf_farm_run(farm, c.n, task, on_result, on_error, &c,
                                 NULL),
                     0);
    assert_int_equal(c.delivered, 2000);
    assert_false(c.bad);

    /* Cancel with a million tasks still queued, then destroy at once. */
    reset_counts(&c, 1000000, 1);
    assert_int_equal(tf_farm_run(farm, c.n, task, on_result, NULL, &c, NULL),
                     TF_ECANCELED);
    free(c.seen);
    tf_farm_destroy(farm);
    tf_farm_destroy(NULL);
}

static void test_destroy_unused_farm(void **state)
{
    (void)state;
    tf_options o = opts_for(backend_under_test, 8, 0, TF_ORDER_INDEX);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    int want = backend_under_test == TF_BACKEND_SERIAL ? 1 : 8;
    assert_int_equal(tf_farm_workers(farm), want);
    tf_farm_destroy(farm);
}

static int error_cancels(void *user, const tf_task_error *err)
{
    (void)err;
    ((check *)user)->errors++;
    return 1;
}

static void test_error_callback_cancels(void **state)
{
    (void)state;
    check c;
    check_init(&c, 1000, 1);
    c.fail_every = 1000;
    c.fail_at = 3;
    tf_options o = opts_for(backend_under_test, 2, 0, TF_ORDER_INDEX);
    assert_int_equal(tf_map(&o, c.n, task, on_result, error_cancels, &c, NULL),
                     TF_ECANCELED);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.delivered, 3);
    free(c.seen);
}

/* ---- every error path a caller can reach ------------------------------ */

static int counting_task(void *user, size_t i, tf_out *out)
{
    (void)i;
    (void)out;
    (*(int *)user)++;
    return 0;
}

static int counting_result(void *user, size_t i, const void *d, size_t n)
{
    (void)i;
    (void)d;
    (void)n;
    (*(int *)user)++;
    return 0;
}

static void expect_create_fails(tf_options o, int code)
{
    tf_farm *farm = (tf_farm *)&o; /* must be reset to NULL */
    assert_int_equal(tf_farm_create(&farm, &o), code);
    assert_null(farm);
    int calls = 0;
    tf_report rep;
    assert_int_equal(tf_map(&o, 10, counting_task, counting_result, NULL,
                            &calls, &rep),
                     code);
    assert_int_equal(calls, 0);
    assert_int_equal(rep.n_ok, 0);
}

static void test_invalid_options(void **state)
{
    (void)state;
    tf_options o = TF_OPTIONS_INIT;
    o.backend = (tf_backend)99;
    expect_create_fails(o, TF_EINVAL);
    o = (tf_options)TF_OPTIONS_INIT;
    o.order = (tf_order)5;
    expect_create_fails(o, TF_EINVAL);
    o = (tf_options)TF_OPTIONS_INIT;
    o.stop_on_error = 2;
    expect_create_fails(o, TF_EINVAL);
    o = (tf_options)TF_OPTIONS_INIT;
    o.task_timeout = -1;
    expect_create_fails(o, TF_EINVAL);
    o.task_timeout = 0.0 / 0.0;
    expect_create_fails(o, TF_EINVAL);
    o = (tf_options)TF_OPTIONS_INIT;
    o.retries = -1;
    expect_create_fails(o, TF_ERANGE);
    o = (tf_options)TF_OPTIONS_INIT;
    o.n_jobs = TF_MAX_JOBS + 1;
    expect_create_fails(o, TF_ERANGE);
    o.n_jobs = -100000;
    expect_create_fails(o, TF_ERANGE);
    o = (tf_options)TF_OPTIONS_INIT;
    o.batch_size = TF_MAX_TASKS + 1;
    expect_create_fails(o, TF_ERANGE);
    assert_int_equal(tf_farm_create(NULL, NULL), TF_EINVAL);
}

static void test_invalid_run_arguments(void **state)
{
    (void)state;
    int calls = 0;
    tf_report rep;
    assert_int_equal(tf_farm_run(NULL, 1, counting_task, NULL, NULL, &calls,
                                 &rep),
                     TF_EINVAL);
    tf_options o = opts_for(backend_under_test, 2, 0, TF_ORDER_INDEX);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    assert_int_equal(tf_farm_run(farm, 1, NULL, counting_result, NULL, &calls,
                                 &rep),
                     TF_EINVAL);
    assert_int_equal(tf_farm_run(farm, TF_MAX_TASKS + 1, counting_task,
                                 counting_result, NULL, &calls, &rep),
                     TF_ERANGE);
    assert_int_equal(calls, 0);
    assert_int_equal(tf_farm_run(farm, 0, counting_task, counting_result, NULL,
                                 &calls, &rep),
                     0);
    assert_int_equal(calls, 0);
    assert_int_equal(rep.n_tasks, 0);
    tf_farm_destroy(farm);
}

typedef struct reentry {
    tf_farm *farm;
    int inner_rc;
} reentry;

static int reenter(void *user, size_t i, const void *d, size_t n)
{
    (void)i;
    (void)d;
    (void)n;
    reentry *r = user;
    int calls = 0;
    r->inner_rc = tf_farm_run(r->farm, 1, counting_task, NULL, NULL, &calls,
                              NULL);
    return 0;
}

static int nop_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    (void)i;
    (void)out;
    return 0;
}

static void test_run_from_callback_is_busy(void **state)
{
    (void)state;
    tf_options o = opts_for(backend_under_test, 2, 0, TF_ORDER_INDEX);
    reentry r = {NULL, 0};
    assert_int_equal(tf_farm_create(&r.farm, &o), 0);
    assert_int_equal(tf_farm_run(r.farm, 3, nop_task, reenter, NULL, &r, NULL),
                     0);
    assert_int_equal(r.inner_rc, TF_EBUSY);
    tf_farm_destroy(r.farm);
}

static int huge_output(void *user, size_t i, tf_out *out)
{
    (void)user;
    (void)i;
    if (tf_out_append(out, "x", 1) != 0)
        return 1;
    if (tf_out_extend(out, SIZE_MAX) != NULL)
        return 2;
    if (tf_out_append(out, "y", 1) != 0 || tf_out_len(out) != 2)
        return 3;
    tf_out_truncate(out, 1);
    tf_out_truncate(out, 5); /* longer than the result: no-op */
    return tf_out_len(out) == 1 ? 0 : 4;
}

static void test_out_of_memory_in_task_is_reported(void **state)
{
    (void)state;
    tf_options o = opts_for(backend_under_test, 2, 0, TF_ORDER_INDEX);
    tf_report rep;
    assert_int_equal(tf_map(&o, 4, huge_output, NULL, NULL, NULL, &rep), 0);
    assert_int_equal(rep.n_ok, 4);
}

static void test_names_and_codes(void **state)
{
    (void)state;
    for (int code = 0; code >= TF_ERR_LAST; code--)
        assert_non_null(tf_strerror(code));
    assert_string_equal(tf_strerror(1234), "unknown error");
    assert_string_equal(tf_strerror(TF_ETASKS), "one or more tasks failed");
    tf_backend b;
    assert_int_equal(tf_backend_parse("procs", &b), 0);
    assert_int_equal(b, TF_BACKEND_PROCS);
    assert_int_equal(tf_backend_parse("thread", &b), TF_EINVAL);
    assert_int_equal(tf_backend_parse(NULL, &b), TF_EINVAL);
    assert_string_equal(tf_backend_name(TF_BACKEND_THREADS), "threads");
    assert_string_equal(tf_backend_name((tf_backend)77), "unknown");
}

static void test_resolve_jobs(void **state)
{
    (void)state;
    assert_int_equal(tf_resolve_jobs(3, 8), 3);
    assert_int_equal(tf_resolve_jobs(32, 2), 32);   /* oversubscribe: ok */
    assert_int_equal(tf_resolve_jobs(0, 8), 8);
    assert_int_equal(tf_resolve_jobs(-1, 8), 8);
    assert_int_equal(tf_resolve_jobs(-2, 8), 7);
    assert_int_equal(tf_resolve_jobs(-8, 8), 1);
    assert_int_equal(tf_resolve_jobs(-9, 8), TF_ERANGE);
    assert_int_equal(tf_resolve_jobs(TF_MAX_JOBS + 1, 8), TF_ERANGE);
    assert_int_equal(tf_resolve_jobs(1, 0), TF_EINVAL);
}

/* The progress bar's text: the bar, the figures, and no overflow for an
 * ETA too far to say (UBSan runs this). */
static void test_progress_format(void **state)
{
    (void)state;
    char buf[128];
    tf_progress_format(buf, sizeof buf, 2250, 5000, 1.875);
    assert_non_null(strstr(buf, " 45%"));
    assert_non_null(strstr(buf, "2250/5000"));
    assert_non_null(strstr(buf, "1200/s"));
    assert_non_null(strstr(buf, "ETA 2.3 s"));
    tf_progress_format(buf, sizeof buf, 1, (size_t)1 << 40, 1e6);
    assert_non_null(strstr(buf, "ETA --"));
    tf_progress_format(buf, sizeof buf, 5, 5, 1);
    assert_non_null(strstr(buf, "100%"));
    assert_int_equal(tf_progress_format(NULL, 0, 1, 2, 1), 0);
}

/* ---- options a backend cannot honour, and retries everywhere --------- */

/* A time limit or a grace period needs a worker that can be killed:
 * processes. Elsewhere they are refused, not silently ignored. */
static void test_kill_options_need_processes(void **state)
{
    (void)state;
    int want = backend_under_test == TF_BACKEND_PROCS ? 0 : TF_EINVAL;
    tf_options o = opts_for(backend_under_test, 2, 0, TF_ORDER_INDEX);
    o.task_timeout = 1;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), want);
    tf_farm_destroy(farm);
    farm = NULL;
    o.task_timeout = 0;
    o.grace_seconds = 1;
    assert_int_equal(tf_farm_create(&farm, &o), want);
    tf_farm_destroy(farm);
    farm = NULL;
    o.grace_seconds = 0;
    o.retries = 2; /* retries of a returned error work everywhere */
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    tf_farm_destroy(farm);
}

/* Tasks that fail on their first attempt only. The attempts are counted
 * in files, which every backend's workers see. */
typedef struct flaky {
    check c;
    char dir[64];
    size_t retried;       /* on_retry calls */
    tf_task_error last;
} flaky;

static int first_try(const flaky *f, size_t i)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%zu", f->dir, i);
    FILE *file = fopen(path, "wx");
    if (file == NULL)
        return 0;
    fclose(file);
    return 1;
}

static int flaky_task(void *user, size_t i, tf_out *out)
{
    flaky *f = user;
    if (i % 50 == 3 && first_try(f, i))
        return 21;
    return task(&f->c, i, out);
}

static int flaky_result(void *user, size_t i, const void *data, size_t len)
{
    return on_result(&((flaky *)user)->c, i, data, len);
}

static int note_retry(void *user, const tf_task_error *err)
{
    flaky *f = user;
    f->retried++;
    f->last = *err;
    return 0;
}

static void test_retry_returned_error(void **state)
{
    (void)state;
    flaky f = {0};
    check_init(&f.c, 1000, 1);
    snprintf(f.dir, sizeof f.dir, "/tmp/tf_flaky_XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    tf_options o = opts_for(backend_under_test, 2, 0, TF_ORDER_INDEX);
    o.retries = 1;
    o.on_retry = note_retry;
    o.retry_user = &f;
    tf_report rep;
    int rc = tf_map(&o, 1000, flaky_task, flaky_result, NULL, &f, &rep);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rc, 0);
    assert_false(f.c.bad);
    assert_int_equal(f.c.delivered, 1000);
    assert_int_equal(rep.n_retried, 20);
    assert_int_equal(rep.n_failed, 0);
    assert_int_equal(f.retried, 20);
    assert_int_equal(f.last.kind, TF_FAIL_ERROR);
    assert_int_equal(f.last.code, 21);
    assert_int_equal(f.last.attempts, 1);
    free(f.c.seen);
}

/* ---- how many jobs a worker holds -------------------------------------- */

#define DEPTH_TASKS 8

/* Task 0 is long; the others are instant. Each result is its worker. */
static int worker_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    if (i == 0) {
        struct timespec ts = {0, 600 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int w = tf_out_worker(out);
    return tf_out_append(out, &w, sizeof w);
}

static int note_worker(void *user, size_t i, const void *data, size_t len)
{
    int *ran_on = user;
    assert_int_equal(len, sizeof(int));
    memcpy(&ran_on[i], data, sizeof(int));
    return 0;
}

/* How many tasks ran on task 0's worker, behind it, with two workers on
 * two CPUs (TASKFARM_NUM_JOBS=2 whatever this machine has). */
static int queued_behind_long_task(int queue_depth)
{
    tf_options o = opts_for(backend_under_test, 2, 1, TF_ORDER_INDEX);
    o.queue_depth = queue_depth;
    int ran_on[DEPTH_TASKS];
    setenv("TASKFARM_NUM_JOBS", "2", 1);
    int rc = tf_map(&o, DEPTH_TASKS, worker_task, note_worker, NULL, ran_on,
                    NULL);
    unsetenv("TASKFARM_NUM_JOBS");
    assert_int_equal(rc, 0);
    int behind = 0;
    for (int i = 1; i < DEPTH_TASKS; i++)
        behind += ran_on[i] == ran_on[0];
    return behind;
}

/* queue_depth 1: no job waits behind a long task while the other worker
 * is free (the taskfarm command's case); the default queues one there. */
static void test_queue_depth_one(void **state)
{
    (void)state;
    if (backend_under_test == TF_BACKEND_SERIAL)
        skip(); /* one worker: every task is behind every other */
    assert_int_equal(queued_behind_long_task(1), 0);
    assert_true(queued_behind_long_task(0) >= 1);
    tf_options o = opts_for(backend_under_test, 2, 0, TF_ORDER_INDEX);
    o.queue_depth = -1;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), TF_EINVAL);
}

/* libtaskfarm has no MPI backend, and its error says what to link. */
static void test_mpi_not_built_names_the_library(void **state)
{
    (void)state;
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), TF_ENOTBUILT);
    assert_null(farm);
    assert_int_equal(tf_map(&o, 4, nop_task, NULL, NULL, NULL, NULL),
                     TF_ENOTBUILT);
    assert_non_null(strstr(tf_strerror(TF_ENOTBUILT), "libtaskfarm_mpi"));
}

/* The library reports the version its header was made with. */
static void test_version(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", TF_VERSION_MAJOR,
             TF_VERSION_MINOR, TF_VERSION_PATCH);
    assert_string_equal(tf_version_string(), want);
    assert_string_equal(TF_VERSION_STRING, want);
    assert_int_equal(tf_version(), TF_VERSION);
}

int main(void)
{
    backend_under_test = backend_from_env(backend_under_test);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_serial_sweep),
        cmocka_unit_test(test_as_completed_each_once),
        cmocka_unit_test(test_variable_sizes_round_trip),
        cmocka_unit_test(test_failing_tasks_keep_going),
        cmocka_unit_test(test_stop_at_first_failure),
        cmocka_unit_test(test_cancel_then_reuse_then_destroy),
        cmocka_unit_test(test_destroy_unused_farm),
        cmocka_unit_test(test_error_callback_cancels),
        cmocka_unit_test(test_invalid_options),
        cmocka_unit_test(test_invalid_run_arguments),
        cmocka_unit_test(test_run_from_callback_is_busy),
        cmocka_unit_test(test_out_of_memory_in_task_is_reported),
        cmocka_unit_test(test_names_and_codes),
        cmocka_unit_test(test_resolve_jobs),
        cmocka_unit_test(test_kill_options_need_processes),
        cmocka_unit_test(test_progress_format),
        cmocka_unit_test(test_retry_returned_error),
        cmocka_unit_test(test_queue_depth_one),
        cmocka_unit_test(test_mpi_not_built_names_the_library),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests_name(tf_backend_name(backend_under_test),
                                       tests, NULL, NULL);
}
