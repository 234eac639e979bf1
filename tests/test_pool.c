/*
 * test_pool.c - what a pool user expects, on every backend: task inputs
 * that travel with the tasks (0 bytes to over 1 MiB, the right input to
 * the right task, new inputs on a reused farm, after a worker was
 * replaced, memory bounded with large inputs), worker numbers, the worker
 * hooks (once per worker, a replacement's too, a failing start hook, a
 * replacement's failing hook not tried again),
 * tf_farm_cancel from another thread and from a signal handler (and a
 * cancel between runs that changes nothing), error text across processes
 * (truncated on a UTF-8 boundary), per-run options (two journaled runs of
 * different N on one reused farm, resumed by a second process), and
 * tf_farm_cpus.
 *
 * The backend under test comes from TF_TEST_BACKEND (default "threads"), so
 * CTest runs this same file once per backend.
 */
#include "taskfarm.h"
#include "testkit.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static tf_backend backend_under_test = TF_BACKEND_THREADS;

static int is_procs(void)
{
    return backend_under_test == TF_BACKEND_PROCS;
}

static tf_options opts_for(int jobs)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend_under_test;
    o.n_jobs = jobs;
    return o;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int count_result(void *user, size_t i, const void *d, size_t n);

/* ---- inputs ----------------------------------------------------------- */

typedef struct inputs {
    size_t n;
    uint64_t salt;            /* changes the bytes from run to run */
    size_t big_every;         /* every that many tasks: over 1 MiB */
    size_t big_len;
    size_t next, bad, delivered;
    size_t crash_at;          /* procs: task crashes on its first input */
    size_t *calls;            /* input callback calls per index */
    long task_us;
} inputs;

static size_t input_len(const inputs *in, size_t i)
{
    if (in->big_every != 0 && i % in->big_every == 1)
        return in->big_len;
    return (size_t)(mix(i ^ in->salt) % 64); /* 0 included */
}

static unsigned char input_byte(const inputs *in, size_t i, size_t k)
{
    return (unsigned char)mix(i * 7919 + k + in->salt);
}

static int write_input(void *user, size_t i, tf_out *out)
{
    inputs *in = user;
    size_t len = input_len(in, i);
    unsigned char *p = tf_out_extend(out, len + 1);
    if (p == NULL)
        return 1;
    for (size_t k = 0; k < len; k++)
        p[k] = input_byte(in, i, k);
    /* The last byte says whether the task is to crash (procs only). */
    int crash = in->crash_at == i && (in->calls == NULL || in->calls[i] == 0);
    p[len] = (unsigned char)crash;
    if (in->calls != NULL)
        in->calls[i]++;
    return 0;
}

/* The task's result: its index, its input's length and a digest of the
 * input's bytes as it received them. */
typedef struct echo {
    uint64_t index, len, digest;
} echo;

static uint64_t digest(const unsigned char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t k = 0; k < len; k++)
        h = (h ^ p[k]) * 1099511628211ULL;
    return h;
}

static int echo_task(void *user, size_t i, tf_out *out)
{
    const inputs *in = user;
    if (in->task_us > 0)
        sleep_us(in->task_us);
    const unsigned char *p = tf_in_data(out);
    size_t len = tf_in_len(out);
    if (p == NULL || len == 0)
        return 5;
    if (p[len - 1] == 1)
        raise(SIGKILL);
    echo e = {i, len - 1, digest(p, len - 1)};
    return tf_out_append(out, &e, sizeof e);
}

static int check_echo(void *user, size_t i, const void *data, size_t len)
{
    inputs *in = user;
    echo e;
    size_t want = input_len(in, i);
    unsigned char *buf = malloc(want + 1);
    for (size_t k = 0; k < want; k++)
        buf[k] = input_byte(in, i, k);
    memcpy(&e, data, sizeof e < len ? sizeof e : len);
    if (len != sizeof e || i != in->next || e.index != i || e.len != want ||
        e.digest != digest(buf, want))
        in->bad++;
    free(buf);
    in->next++;
    in->delivered++;
    return 0;
}

static void inputs_init(inputs *in, size_t n, uint64_t salt)
{
    memset(in, 0, sizeof(*in));
    in->n = n;
    in->salt = salt;
    in->crash_at = SIZE_MAX;
}

static int run_inputs(tf_farm *farm, inputs *in, tf_report *rep)
{
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.on_input = write_input;
    ro.order = TF_RUN_ORDER_INDEX;
    return tf_farm_run_with(farm, &ro, in->n, echo_task, check_echo, NULL, in,
                            rep);
}

static void test_inputs_round_trip(void **state)
{
    (void)state;
    tf_options o = opts_for(3);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    inputs in;
    inputs_init(&in, 400, 11);
    in.big_every = 50;
    in.big_len = ((size_t)1 << 20) + 3;
    tf_report rep;
    assert_int_equal(run_inputs(farm, &in, &rep), 0);
    assert_int_equal(in.bad, 0);
    assert_int_equal(in.delivered, 400);
    assert_int_equal(rep.n_ok, 400);
    tf_farm_destroy(farm);
}

/* The same farm (the same forked workers) given new data: only inputs
 * that travel can carry it. */
static void test_inputs_new_data_on_reused_farm(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    for (uint64_t salt = 1; salt <= 3; salt++) {
        inputs in;
        inputs_init(&in, 100 * (size_t)salt, salt * 1000);
        assert_int_equal(run_inputs(farm, &in, NULL), 0);
        assert_int_equal(in.bad, 0);
        assert_int_equal(in.delivered, in.n);
    }
    tf_farm_destroy(farm);
}

/* A worker killed by its task: the replacement gets the rest of the job,
 * and the input callback writes those inputs again. */
static void test_inputs_after_worker_replaced(void **state)
{
    (void)state;
    if (!is_procs())
        skip();
    tf_options o = opts_for(2);
    o.retries = 1;
    o.batch_size = 8;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    inputs in;
    inputs_init(&in, 200, 77);
    in.crash_at = 43;
    in.calls = calloc(in.n, sizeof(*in.calls));
    tf_report rep;
    assert_int_equal(run_inputs(farm, &in, &rep), 0);
    assert_int_equal(in.bad, 0);
    assert_int_equal(in.delivered, 200);
    assert_int_equal(rep.n_retried, 1);
    assert_true(in.calls[43] == 2);
    free(in.calls);
    tf_farm_destroy(farm);
}

/* 1200 tasks x 256 KiB of input (300 MiB), each task quick (it checks
 * its input's ends and a sample), so that automatic batches would grow to
 * hundreds of tasks: the caller's peak RSS, measured in a child process
 * (the engine issue's method), stays far below the run's inputs. */
#define BIG_INPUT ((size_t)256 << 10)

static int cheap_input(void *user, size_t i, tf_out *out)
{
    (void)user;
    unsigned char *p = tf_out_extend(out, BIG_INPUT);
    if (p == NULL)
        return 1;
    memset(p, (int)(i & 0xff), BIG_INPUT);
    memcpy(p, &i, sizeof i);
    return 0;
}

static int cheap_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    const unsigned char *p = tf_in_data(out);
    size_t got;
    memcpy(&got, p, sizeof got);
    if (tf_in_len(out) != BIG_INPUT || got != i ||
        p[BIG_INPUT - 1] != (unsigned char)(i & 0xff) ||
        p[BIG_INPUT / 2] != (unsigned char)(i & 0xff))
        return 1;
    return tf_out_append(out, &i, sizeof i);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_inputs_memory_bounded(void **state)
{
    (void)state;
#ifdef UNDER_SANITIZER
    skip(); /* freed memory sits in the sanitizer's quarantine */
#endif
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tf_options o = opts_for(2);
        tf_farm *farm = NULL;
        tf_run_options ro = TF_RUN_OPTIONS_INIT;
        ro.on_input = cheap_input;
        size_t got = 0;
        long before = max_rss_kib();
        int rc = tf_farm_create(&farm, &o);
        if (rc == 0)
            rc = tf_farm_run_with(farm, &ro, 1200, cheap_task, count_result,
                                  NULL, &got, NULL);
        long grew = max_rss_kib() - before;
        tf_farm_destroy(farm);
        if (rc != 0 || got != 1200)
            _exit(2);
        _exit(grew < 96 * 1024 ? 0 : 3); /* the run's inputs: 300 MiB */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Large inputs and large results at once, two jobs per worker: with
 * processes both directions of a socket are full at the same time, which
 * only a parent that never blocks on a write survives. */
#define BOTH_WAYS ((size_t)600 << 10)

static int echo_whole(void *user, size_t i, tf_out *out)
{
    (void)user;
    const unsigned char *p = tf_in_data(out);
    if (tf_in_len(out) != BOTH_WAYS || p[0] != (unsigned char)i)
        return 1;
    return tf_out_append(out, p, BOTH_WAYS);
}

static int wide_input(void *user, size_t i, tf_out *in)
{
    (void)user;
    unsigned char *p = tf_out_extend(in, BOTH_WAYS);
    if (p == NULL)
        return 1;
    memset(p, (int)(i & 0xff), BOTH_WAYS);
    return 0;
}

static int check_wide(void *user, size_t i, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len != BOTH_WAYS || p[0] != (unsigned char)i ||
        p[BOTH_WAYS - 1] != (unsigned char)i)
        (*(size_t *)user)++;
    return 0;
}

static void test_large_inputs_and_results_together(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    o.batch_size = 1;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.on_input = wide_input;
    size_t bad = 0;
    tf_report rep;
    assert_int_equal(tf_farm_run_with(farm, &ro, 120, echo_whole, check_wide,
                                      NULL, &bad, &rep),
                     0);
    assert_int_equal(bad, 0);
    assert_int_equal(rep.n_ok, 120);
    tf_farm_destroy(farm);
}

static int no_input_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    (void)i;
    return tf_in_data(out) != NULL && tf_in_len(out) == 0 ? 0 : 1;
}

static void test_no_input_callback(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    tf_report rep;
    assert_int_equal(tf_map(&o, 50, no_input_task, NULL, NULL, NULL, &rep), 0);
    assert_int_equal(rep.n_ok, 50);
}

static int refuse_input(void *user, size_t i, tf_out *in)
{
    (void)user;
    (void)in;
    return i == 30 ? 1 : 0;
}

static int count_result(void *user, size_t i, const void *d, size_t n)
{
    (void)i;
    (void)d;
    (void)n;
    (*(size_t *)user)++;
    return 0;
}

static int plain_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    return tf_out_append(out, &i, sizeof i);
}

static void test_input_callback_cancels(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    o.batch_size = 4;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.on_input = refuse_input;
    size_t got = 0;
    tf_report rep;
    assert_int_equal(tf_farm_run_with(farm, &ro, 100, plain_task,
                                      count_result, NULL, &got, &rep),
                     TF_ECANCELED);
    assert_true(got <= 30);
    assert_int_equal(rep.n_ok, got);
    tf_farm_destroy(farm);
}

/* ---- worker numbers ----------------------------------------------------- */

static int worker_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    (void)i;
    sleep_us(1000);
    int w = tf_out_worker(out);
    return tf_out_append(out, &w, sizeof w);
}

static int note_worker(void *user, size_t i, const void *data, size_t len)
{
    (void)i;
    int *seen = user, w;
    if (len != sizeof w)
        return 1;
    memcpy(&w, data, sizeof w);
    if (w < 0 || w >= 64)
        return 1;
    seen[w]++;
    return 0;
}

static void test_worker_numbers_cover_all(void **state)
{
    (void)state;
    tf_options o = opts_for(3);
    o.batch_size = 1;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    int n = tf_farm_workers(farm);
    int seen[64] = {0};
    assert_int_equal(tf_farm_run(farm, 120, worker_task, note_worker, NULL,
                                 seen, NULL),
                     0);
    for (int w = 0; w < 64; w++) {
        if (w < n)
            assert_true(seen[w] > 0);
        else
            assert_int_equal(seen[w], 0);
    }
    tf_farm_destroy(farm);
}

/* ---- worker hooks ------------------------------------------------------ */

/* The hooks write "start W" / "stop W" lines to a file (O_APPEND), so
 * that process workers can be counted too. */
typedef struct hooklog {
    char path[64];
    int fd;
    int fail_worker;          /* its start hook fails; -1 none */
} hooklog;

static void log_line(hooklog *h, const char *what, int w)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%s %d\n", what, w);
    if (write(h->fd, line, (size_t)n) != n)
        abort();
}

static int hook_start(void *user, int w)
{
    hooklog *h = user;
    log_line(h, "start", w);
    return w == h->fail_worker ? -1 : 0;
}

static int hook_stop(void *user, int w)
{
    log_line(user, "stop", w);
    return 0;
}

static void hooklog_open(hooklog *h, int fail_worker)
{
    snprintf(h->path, sizeof h->path, "/tmp/tf_pool_hooks_%d", (int)getpid());
    h->fd = open(h->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    assert_true(h->fd >= 0);
    h->fail_worker = fail_worker;
}

/* How many "what W" lines, per worker number. */
static void hooklog_count(const hooklog *h, const char *what, int *count)
{
    memset(count, 0, 64 * sizeof(*count));
    FILE *f = fopen(h->path, "r");
    assert_non_null(f);
    char word[16];
    int w;
    while (fscanf(f, "%15s %d", word, &w) == 2)
        if (strcmp(word, what) == 0 && w >= 0 && w < 64)
            count[w]++;
    fclose(f);
}

static void hooklog_close(hooklog *h)
{
    close(h->fd);
    unlink(h->path);
}

static void add_hooks(tf_options *o, hooklog *h)
{
    o->on_worker_start = hook_start;
    o->on_worker_stop = hook_stop;
    o->worker_user = h;
}

static int crash_once_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    if (i == 10 && is_procs()) {
        /* The first attempt only: its marker file does not exist yet. */
        char path[64];
        snprintf(path, sizeof path, "/tmp/tf_pool_crash_%d", (int)getppid());
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            close(fd);
            raise(SIGKILL);
        }
    }
    return worker_task(user, i, out);
}

static void test_start_hook_once_per_worker(void **state)
{
    (void)state;
    char marker[64];
    snprintf(marker, sizeof marker, "/tmp/tf_pool_crash_%d", (int)getpid());
    unlink(marker);
    hooklog h;
    hooklog_open(&h, -1);
    tf_options o = opts_for(3);
    o.retries = 1;
    o.batch_size = 2;
    add_hooks(&o, &h);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    int n = tf_farm_workers(farm), seen[64] = {0}, count[64];
    for (int run = 0; run < 2; run++)
        assert_int_equal(tf_farm_run(farm, 60, crash_once_task, note_worker,
                                     NULL, seen, NULL),
                         0);
    hooklog_count(&h, "start", count);
    int replaced = -1;
    for (int w = 0; w < n; w++) {
        if (count[w] == 2 && is_procs() && replaced < 0)
            replaced = w; /* the crashed worker's replacement */
        else
            assert_int_equal(count[w], 1);
    }
    assert_true(is_procs() ? replaced >= 0 : replaced == -1);
    hooklog_count(&h, "stop", count);
    for (int w = 0; w < n; w++)
        assert_int_equal(count[w], 0);
    tf_farm_destroy(farm);
    hooklog_count(&h, "stop", count);
    for (int w = 0; w < n; w++)
        assert_int_equal(count[w], 1);
    char path[64];
    snprintf(path, sizeof path, "/tmp/tf_pool_crash_%d", (int)getpid());
    unlink(path);
    hooklog_close(&h);
}

static void test_start_hook_failure_stops_the_run(void **state)
{
    (void)state;
    hooklog h;
    int failing = backend_under_test == TF_BACKEND_SERIAL ? 0 : 1;
    hooklog_open(&h, failing);
    tf_options o = opts_for(3);
    add_hooks(&o, &h);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    int seen[64] = {0};
    tf_report rep;
    assert_int_equal(tf_farm_run(farm, 500, worker_task, note_worker, NULL,
                                 seen, &rep),
                     TF_EWORKER);
    assert_int_equal(seen[failing], 0);
    assert_true(rep.n_ok < 500);
    /* The farm stays refused. */
    assert_int_equal(tf_farm_run(farm, 5, worker_task, NULL, NULL, NULL,
                                 NULL),
                     TF_EWORKER);
    tf_farm_destroy(farm);
    int count[64];
    hooklog_count(&h, "stop", count);
    assert_int_equal(count[failing], 0);
    assert_string_equal(tf_strerror(TF_EWORKER),
                        "a worker's on_worker_start hook failed");
    hooklog_close(&h);
}

/* A replacement whose start hook fails (the crash left a marker that makes
 * it fail) stops the run; it is not tried again. */
static int hook_fails_after_crash(void *user, int w)
{
    (void)user;
    (void)w;
    char path[64];
    snprintf(path, sizeof path, "/tmp/tf_pool_crash_%d", (int)getppid());
    return access(path, F_OK) == 0 ? -1 : 0;
}

static void test_replacement_hook_failure(void **state)
{
    (void)state;
    if (!is_procs())
        skip();
    char marker[64];
    snprintf(marker, sizeof marker, "/tmp/tf_pool_crash_%d", (int)getpid());
    unlink(marker);
    tf_options o = opts_for(2);
    o.retries = 3;
    o.batch_size = 2;
    o.on_worker_start = hook_fails_after_crash;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    int seen[64] = {0};
    double t0 = now();
    assert_int_equal(tf_farm_run(farm, 200, crash_once_task, note_worker,
                                 NULL, seen, NULL),
                     TF_EWORKER);
    assert_true(now() - t0 < 5.0);
    assert_int_equal(tf_farm_run(farm, 5, worker_task, NULL, NULL, NULL,
                                 NULL),
                     TF_EWORKER);
    tf_farm_destroy(farm);
    unlink(marker);
}

/* ---- cancel ------------------------------------------------------------ */

typedef struct slow {
    long task_us;
    size_t next, bad;
} slow;

static int slow_task(void *user, size_t i, tf_out *out)
{
    const slow *s = user;
    sleep_us(s->task_us);
    return tf_out_append(out, &i, sizeof i);
}

static int ordered_result(void *user, size_t i, const void *data, size_t len)
{
    slow *s = user;
    size_t got;
    memcpy(&got, data, sizeof got < len ? sizeof got : len);
    if (len != sizeof got || got != i || i != s->next)
        s->bad++;
    s->next++;
    return 0;
}

typedef struct canceller {
    tf_farm *farm;
    long after_us;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    sleep_us(c->after_us);
    tf_farm_cancel(c->farm);
    return NULL;
}

/* Procs tasks take 20 s: only killing busy workers can end the run in
 * time. The others' tasks take 2 ms. */
static long cancel_task_us(void)
{
    return is_procs() ? 20000000L : 2000L;
}

static void test_cancel_from_another_thread(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    o.batch_size = 1;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    /* A cancel between runs changes nothing. */
    assert_int_equal(tf_farm_cancel(farm), 0);
    slow s = {0, 0, 0};
    assert_int_equal(tf_farm_run(farm, 40, slow_task, ordered_result, NULL,
                                 &s, NULL),
                     0);
    assert_int_equal(s.next, 40);
    s = (slow){cancel_task_us(), 0, 0};
    canceller c = {farm, 100000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    double t0 = now();
    tf_report rep;
    assert_int_equal(tf_farm_run(farm, 100000, slow_task, ordered_result,
                                 NULL, &s, &rep),
                     TF_ECANCELED);
    double took = now() - t0;
    pthread_join(t, NULL);
    assert_true(took < 2.0);
    assert_int_equal(s.bad, 0);
    assert_int_equal(rep.n_ok, s.next);
    assert_true(rep.n_not_run > 0);
    /* After the run: again nothing for the next one. */
    assert_int_equal(tf_farm_cancel(farm), 0);
    s = (slow){0, 0, 0};
    assert_int_equal(tf_farm_run(farm, 30, slow_task, ordered_result, NULL,
                                 &s, NULL),
                     0);
    assert_int_equal(s.next, 30);
    tf_farm_destroy(farm);
    assert_int_equal(tf_farm_cancel(NULL), TF_EINVAL);
}

static tf_farm *alarm_farm;

static void on_alarm(int signo)
{
    (void)signo;
    tf_farm_cancel(alarm_farm);
}

static void test_cancel_from_signal_handler(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    o.batch_size = 1;
    assert_int_equal(tf_farm_create(&alarm_farm, &o), 0);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    slow s = {cancel_task_us(), 0, 0};
    double t0 = now();
    tf_report rep;
    assert_int_equal(tf_farm_run(alarm_farm, 100000, slow_task,
                                 ordered_result, NULL, &s, &rep),
                     TF_ECANCELED);
    assert_true(now() - t0 < 2.0);
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(s.bad, 0);
    assert_int_equal(rep.n_ok, s.next);
    tf_farm_destroy(alarm_farm);
    alarm_farm = NULL;
}

/* ---- error text -------------------------------------------------------- */

/* 100 two-byte characters: 200 bytes, cut to 126 (not 127: inside one). */
static void long_message(char *buf)
{
    buf[0] = 'x';
    for (int k = 0; k < 100; k++)
        memcpy(buf + 1 + 2 * k, "\xc3\xa9", 2);
    buf[201] = '\0';
}

static int talking_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    if (i % 10 == 3) {
        char msg[64];
        snprintf(msg, sizeof msg, "task %zu: no luck", i);
        tf_out_append(out, "partial", 7); /* dropped with the failure */
        tf_out_error(out, "overwritten");
        tf_out_error(out, msg);
        return 3;
    }
    if (i == 25) {
        char msg[202];
        long_message(msg);
        tf_out_error(out, msg);
        return 4;
    }
    if (i == 27)
        return 5; /* no message */
    tf_out_error(out, "ignored: the task succeeds");
    return tf_out_append(out, &i, sizeof i);
}

typedef struct heard {
    size_t errors, bad;
} heard;

static int hear_error(void *user, const tf_task_error *e)
{
    heard *h = user;
    char want[202];
    h->errors++;
    if (e->index % 10 == 3) {
        snprintf(want, sizeof want, "task %zu: no luck", e->index);
    } else if (e->index == 25) {
        long_message(want);
        want[127] = '\0'; /* 'x' + 63 whole characters = 127 bytes */
        if (strlen(e->message) != 127)
            h->bad++;
    } else {
        want[0] = '\0';
    }
    if (strcmp(e->message, want) != 0)
        h->bad++;
    return 0;
}

static void test_error_text_round_trips(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    heard h = {0, 0};
    tf_report rep;
    assert_int_equal(tf_map(&o, 60, talking_task, NULL, hear_error, &h, &rep),
                     TF_ETASKS);
    assert_int_equal(h.errors, 8);
    assert_int_equal(h.bad, 0);
    assert_string_equal(rep.first_error.message, "task 3: no luck");
    assert_int_equal(tf_out_error(NULL, "x"), TF_EINVAL);
}

/* A cut inside a character: 'xx' then characters of two bytes, 200 in
 * all, leaves 126 bytes, never half a character. */
static int odd_cut_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    (void)i;
    char msg[204];
    long_message(msg);
    msg[0] = 'y';
    memmove(msg + 1, msg, 202);
    tf_out_error(out, msg);
    return 1;
}

static int hear_odd(void *user, const tf_task_error *e)
{
    heard *h = user;
    size_t n = strlen(e->message);
    h->errors++;
    if (n != 126 || (unsigned char)e->message[n - 1] != 0xa9 ||
        memcmp(e->message, "yy", 2) != 0)
        h->bad++;
    return 0;
}

static void test_error_text_cut_on_utf8_boundary(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    heard h = {0, 0};
    assert_int_equal(tf_map(&o, 3, odd_cut_task, NULL, hear_odd, &h, NULL),
                     TF_ETASKS);
    assert_int_equal(h.errors, 3);
    assert_int_equal(h.bad, 0);
}

/* Under retries, the last attempt's message: the input tells the task
 * which attempt it is, from the retries on_retry has heard of (it is told
 * before the retry is dispatched, in the same thread). */
static int attempt_input(void *user, size_t i, tf_out *in)
{
    int *retried = user;
    int attempt = 1 + retried[i];
    return tf_out_append(in, &attempt, sizeof attempt);
}

static int failing_attempts(void *user, size_t i, tf_out *out)
{
    (void)user;
    int attempt;
    memcpy(&attempt, tf_in_data(out), sizeof attempt);
    if (i % 7 != 2)
        return tf_out_append(out, &i, sizeof i);
    char msg[32];
    snprintf(msg, sizeof msg, "attempt %d", attempt);
    tf_out_error(out, msg);
    return 6;
}

typedef struct attempts_heard {
    size_t errors, retries, bad;
} attempts_heard;

static attempts_heard *retry_heard;
static int *retried_of;

static int hear_last(void *user, const tf_task_error *e)
{
    (void)user;
    attempts_heard *h = retry_heard;
    h->errors++;
    if (e->attempts != 3 || strcmp(e->message, "attempt 3") != 0)
        h->bad++;
    return 0;
}

static int hear_retry(void *user, const tf_task_error *e)
{
    (void)user;
    char want[32];
    snprintf(want, sizeof want, "attempt %d", e->attempts);
    retried_of[e->index]++;
    retry_heard->retries++;
    if (strcmp(e->message, want) != 0)
        retry_heard->bad++;
    return 0;
}

static void test_error_text_of_the_last_attempt(void **state)
{
    (void)state;
    int retried[64] = {0};
    attempts_heard told = {0, 0, 0};
    retry_heard = &told;
    retried_of = retried;
    tf_options o = opts_for(2);
    o.retries = 2;
    o.on_retry = hear_retry;
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.on_input = attempt_input;
    tf_report rep;
    assert_int_equal(tf_farm_run_with(farm, &ro, 64, failing_attempts, NULL,
                                      hear_last, retried, &rep),
                     TF_ETASKS);
    assert_int_equal(told.errors, 9); /* 2, 9, ..., 58 */
    assert_int_equal(told.retries, 18);
    assert_int_equal(told.bad, 0);
    assert_string_equal(rep.first_error.message, "attempt 3");
    tf_farm_destroy(farm);
}

/* ---- per-run options: two journals on one reused farm ------------------ */

typedef struct phase {
    size_t n, cancel_at, next, bad;
    tf_farm *farm;
    uint64_t sum;
} phase;

/* The task's value comes in its input: a resumed run writes the inputs of
 * the tasks the journal lacks again. */
static int phase_input(void *user, size_t i, tf_out *in)
{
    const phase *p = user;
    uint64_t x = i + p->n * 1000003;
    return tf_out_append(in, &x, sizeof x);
}

static int phase_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    (void)i;
    uint64_t x;
    if (tf_in_len(out) != sizeof x)
        return 1;
    memcpy(&x, tf_in_data(out), sizeof x);
    uint64_t v = mix(x);
    return tf_out_append(out, &v, sizeof v);
}

static int phase_result(void *user, size_t i, const void *data, size_t len)
{
    phase *p = user;
    uint64_t v;
    memcpy(&v, data, sizeof v < len ? sizeof v : len);
    if (len != sizeof v || i != p->next || v != mix(i + p->n * 1000003))
        p->bad++;
    p->next++;
    p->sum += v;
    if (i == p->cancel_at)
        tf_farm_cancel(p->farm);
    return 0;
}

static int run_phase(tf_farm *farm, const char *journal, phase *p,
                     tf_report *rep)
{
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.journal = journal;
    ro.journal_key = journal;
    ro.journal_key_len = strlen(journal);
    ro.on_input = phase_input;
    p->farm = farm;
    return tf_farm_run_with(farm, &ro, p->n, phase_task, phase_result, NULL,
                            p, rep);
}

static void test_two_journals_on_one_farm(void **state)
{
    (void)state;
    char ja[64], jb[64];
    snprintf(ja, sizeof ja, "/tmp/tf_pool_a_%d.journal", (int)getpid());
    snprintf(jb, sizeof jb, "/tmp/tf_pool_b_%d.journal", (int)getpid());
    unlink(ja);
    unlink(jb);
    tf_options o = opts_for(2);
    o.batch_size = 4;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the first process: A cancelled half way, B whole */
        tf_farm *farm = NULL;
        int ok = tf_farm_create(&farm, &o) == 0;
        phase a = {300, 150, 0, 0, NULL, 0}, b = {200, SIZE_MAX, 0, 0, NULL, 0};
        ok = ok && run_phase(farm, ja, &a, NULL) == TF_ECANCELED &&
             a.bad == 0 && a.next > 150 && a.next < 300;
        ok = ok && run_phase(farm, jb, &b, NULL) == 0 && b.next == 200;
        if (!ok)
            fprintf(stderr, "phase 1: A delivered %zu (bad %zu), B %zu\n",
                    a.next, a.bad, b.next);
        tf_farm_destroy(farm);
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The second process resumes both: A completes, B is replayed whole;
     * every result equals a fresh computation. */
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    phase a = {300, SIZE_MAX, 0, 0, NULL, 0};
    phase b = {200, SIZE_MAX, 0, 0, NULL, 0};
    tf_report ra, rb;
    assert_int_equal(run_phase(farm, ja, &a, &ra), 0);
    assert_int_equal(run_phase(farm, jb, &b, &rb), 0);
    assert_int_equal(a.bad + b.bad, 0);
    assert_int_equal(a.next, 300);
    assert_int_equal(b.next, 200);
    /* What A's first run computed (at least 0..150; more when a batch
     * before 150 was slow and later ones went ahead) is replayed. */
    assert_true(ra.n_replayed >= 151);
    assert_int_equal(ra.n_ok, 300);
    assert_int_equal(rb.n_replayed, 200);
    uint64_t want = 0;
    for (size_t i = 0; i < 300; i++)
        want += mix(i + 300 * 1000003);
    assert_true(a.sum == want);
    /* Without a journal this time, though the farm has none either. */
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.no_journal = 1;
    ro.on_input = phase_input;
    phase c = {50, SIZE_MAX, 0, 0, farm, 0};
    assert_int_equal(tf_farm_run_with(farm, &ro, 50, phase_task, phase_result,
                                      NULL, &c, NULL),
                     0);
    tf_farm_destroy(farm);
    unlink(ja);
    unlink(jb);
}

static void test_run_options_checked(void **state)
{
    (void)state;
    tf_options o = opts_for(2);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.order = (tf_run_order)7;
    assert_int_equal(tf_farm_run_with(farm, &ro, 5, plain_task, NULL, NULL,
                                      NULL, NULL),
                     TF_EINVAL);
    ro = (tf_run_options)TF_RUN_OPTIONS_INIT;
    ro.journal_key_len = 3;
    assert_int_equal(tf_farm_run_with(farm, &ro, 5, plain_task, NULL, NULL,
                                      NULL, NULL),
                     TF_EINVAL);
    ro = (tf_run_options)TF_RUN_OPTIONS_INIT;
    ro.no_journal = 2;
    assert_int_equal(tf_farm_run_with(farm, &ro, 5, plain_task, NULL, NULL,
                                      NULL, NULL),
                     TF_EINVAL);
    /* NULL run options: the farm's own. */
    size_t got = 0;
    assert_int_equal(tf_farm_run_with(farm, NULL, 5, plain_task, count_result,
                                      NULL, &got, NULL),
                     0);
    assert_int_equal(got, 5);
    tf_farm_destroy(farm);
}

/* ---- tf_farm_cpus ------------------------------------------------------- */

static void test_farm_cpus(void **state)
{
    (void)state;
    tf_options o = opts_for(0);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    tf_cpus got, want;
    assert_int_equal(tf_farm_cpus(farm, &got), 0);
    tf_cpus_detect(&want);
    assert_int_equal(got.count, want.count);
    assert_int_equal(got.source, want.source);
    assert_int_equal(tf_farm_cpus(NULL, &got), TF_EINVAL);
    assert_int_equal(tf_farm_cpus(farm, NULL), TF_EINVAL);
    tf_farm_destroy(farm);
}

int main(void)
{
    backend_under_test = backend_from_env(TF_BACKEND_THREADS);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inputs_round_trip),
        cmocka_unit_test(test_inputs_new_data_on_reused_farm),
        cmocka_unit_test(test_inputs_after_worker_replaced),
        cmocka_unit_test(test_inputs_memory_bounded),
        cmocka_unit_test(test_large_inputs_and_results_together),
        cmocka_unit_test(test_no_input_callback),
        cmocka_unit_test(test_input_callback_cancels),
        cmocka_unit_test(test_worker_numbers_cover_all),
        cmocka_unit_test(test_start_hook_once_per_worker),
        cmocka_unit_test(test_start_hook_failure_stops_the_run),
        cmocka_unit_test(test_replacement_hook_failure),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_cancel_from_signal_handler),
        cmocka_unit_test(test_error_text_round_trips),
        cmocka_unit_test(test_error_text_cut_on_utf8_boundary),
        cmocka_unit_test(test_error_text_of_the_last_attempt),
        cmocka_unit_test(test_two_journals_on_one_farm),
        cmocka_unit_test(test_run_options_checked),
        cmocka_unit_test(test_farm_cpus),
    };
    return cmocka_run_group_tests_name(tf_backend_name(backend_under_test),
                                       tests, NULL, NULL);
}
