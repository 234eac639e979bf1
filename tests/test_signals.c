/*
 * test_signals.c - SIGTERM and SIGINT at a random moment, on the backend
 * that TF_TEST_BACKEND names: the run returns TF_EINTR with the signal
 * within a bound, also when the result callback is the bottleneck; the
 * journal holds every delivered result and a rerun completes it with the
 * same results; and the contract with the caller's own handlers.
 *
 * Each case runs in a child process, which the parent signals: the time
 * from kill() to the child's exit bounds the time to return.
 */
#define _GNU_SOURCE
#include "taskfarm.h"
#include "testkit.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define N_TASKS 6000
#define TASK_US 200        /* each task */
#define CONSUMER_US 100    /* each result callback: slower than 2 workers */
#define RETURN_BOUND 1.0   /* seconds from the signal to the return */

static tf_backend backend_under_test = TF_BACKEND_THREADS;

static uint64_t value_of(size_t i)
{
    return mix(i + 1);
}

static int busy_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    spin_for(TASK_US * 1e-6);
    uint64_t v = value_of(i);
    return tf_out_append(out, &v, sizeof v);
}

/* ---- the child: a run that logs what it delivers ---------------------- */

typedef struct logger {
    int ready_fd;         /* one byte at the first result: the run is on */
    int fd;               /* delivered indices, appended */
    int consumer_us;
    int bad;
    size_t delivered;
} logger;

static int logging_result(void *user, size_t i, const void *data, size_t len)
{
    logger *l = user;
    uint64_t v;
    memcpy(&v, data, sizeof v);
    if (len != sizeof v || v != value_of(i))
        l->bad = 1;
    uint64_t idx = i;
    if (l->fd >= 0 && write(l->fd, &idx, sizeof idx) != sizeof idx)
        l->bad = 1;
    if (l->ready_fd >= 0) {
        if (write(l->ready_fd, "", 1) != 1)
            l->bad = 1;
        close(l->ready_fd);
        l->ready_fd = -1;
    }
    l->delivered++;
    spin_for(l->consumer_us * 1e-6);
    return 0;
}

typedef struct outcome {
    int rc, signal, bad;
    size_t n_ok, delivered;
} outcome;

typedef struct scenario {
    tf_order order;
    const char *journal;  /* NULL = none */
    const char *log;
    int signo;
} scenario;

static tf_options options_of(const scenario *s)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend_under_test;
    o.n_jobs = 2;
    o.order = s->order;
    o.journal = s->journal;
    o.journal_key = "signals";
    o.journal_key_len = 7;
    return o;
}

static void child_run(const scenario *s, int status_fd, int ready_fd)
{
    logger l = {ready_fd, open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600),
                CONSUMER_US, 0, 0};
    tf_options o = options_of(s);
    tf_report rep;
    int rc = tf_map(&o, N_TASKS, busy_task, logging_result, NULL, &l, &rep);
    outcome out = {rc, rep.signal, l.bad, rep.n_ok, l.delivered};
    if (write(status_fd, &out, sizeof out) != sizeof out)
        _exit(3);
    _exit(0);
}

/* ---- the parent -------------------------------------------------------- */

static size_t read_log(const char *path, unsigned char *seen)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint64_t idx;
    size_t n = 0;
    while (fread(&idx, sizeof idx, 1, f) == 1) {
        assert_true(idx < N_TASKS);
        seen[idx] = 1;
        n++;
    }
    fclose(f);
    return n;
}

/* The rerun: every task delivered once with its value, the ones the
 * killed run delivered replayed from the journal, not computed again. */
typedef struct rerun {
    const unsigned char *before;
    size_t next;
    int bad;
} rerun;

static int rerun_task(void *user, size_t i, tf_out *out)
{
    const rerun *r = user;
    if (r->before[i])
        return 99; /* delivered before: it must come from the journal */
    return busy_task(NULL, i, out);
}

static int rerun_result(void *user, size_t i, const void *data, size_t len)
{
    rerun *r = user;
    uint64_t v;
    memcpy(&v, data, sizeof v);
    if (len != sizeof v || v != value_of(i))
        r->bad = 1;
    r->next++;
    return 0;
}

static void expect_rerun_completes(const scenario *s, const unsigned char *seen)
{
    rerun r = {seen, 0, 0};
    tf_options o = options_of(s);
    tf_report rep;
    int rc = tf_map(&o, N_TASKS, rerun_task, rerun_result, NULL, &r, &rep);
    assert_int_equal(rc, 0);
    assert_false(r.bad);
    assert_int_equal(r.next, N_TASKS);
    assert_int_equal(rep.n_ok, N_TASKS);
}

static void run_scenario(scenario *s, unsigned seed)
{
    char journal[64], log[64];
    snprintf(journal, sizeof journal, "/tmp/tf_sig_%d.journal", getpid());
    snprintf(log, sizeof log, "/tmp/tf_sig_%d.log", getpid());
    unlink(journal);
    if (s->journal != NULL)
        s->journal = journal;
    s->log = log;
    int pipefd[2], ready[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        close(ready[0]);
        child_run(s, pipefd[1], ready[1]);
    }
    close(pipefd[1]);
    close(ready[1]);
    /* The random moment counts from the run's first result: a child still
     * starting (slow under a sanitizer) has no handler yet. */
    char byte;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    srand(seed);
    usleep((useconds_t)(50000 + rand() % 350000));
    double t0 = now();
    kill(pid, s->signo);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    double waited = now() - t0;
    outcome out;
    assert_int_equal(read(pipefd[0], &out, sizeof out), sizeof out);
    close(pipefd[0]);
    if (out.rc != TF_EINTR || out.signal != s->signo || waited > RETURN_BOUND)
        fail_msg("seed %u: rc %d, signal %d, returned %.3f s after it", seed,
                 out.rc, out.signal, waited);
    assert_false(out.bad);
    assert_int_equal(out.n_ok, out.delivered);
    assert_true(out.delivered < N_TASKS);
    unsigned char *seen = calloc(N_TASKS, 1);
    assert_int_equal(read_log(log, seen), out.delivered);
    if (s->journal != NULL)
        expect_rerun_completes(s, seen);
    free(seen);
    unlink(journal);
    unlink(log);
}

/* Every order x journal or not x SIGTERM and SIGINT, at random moments. */
static void test_signal_matrix(void **state)
{
    (void)state;
    const int signals[2] = {SIGTERM, SIGINT};
    unsigned seed = 1;
    for (int order = 0; order < 2; order++)
        for (int journaled = 0; journaled < 2; journaled++)
            for (int k = 0; k < 2; k++) {
                scenario s = {(tf_order)order, journaled ? "" : NULL, NULL,
                              signals[k]};
                run_scenario(&s, seed++);
            }
}

/* ---- the caller's own handlers ----------------------------------------- */

static volatile sig_atomic_t handled;

static void count_signal(int signo)
{
    (void)signo;
    handled++;
}

static int raise_at_100(void *user, size_t i, const void *data, size_t len)
{
    (void)user;
    (void)data;
    (void)len;
    if (i == 100)
        raise(SIGTERM);
    return 0;
}

/* With a handler of the caller's: TF_EINTR, then that handler runs once,
 * after the run returned. With keep_signals: the run is not stopped, and
 * the handler ran when the signal came. */
static void child_with_handler(int keep_signals)
{
    struct sigaction sa = {0};
    sa.sa_handler = count_signal;
    sigaction(SIGTERM, &sa, NULL);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend_under_test;
    o.n_jobs = 2;
    o.keep_signals = keep_signals;
    tf_report rep;
    int rc = tf_map(&o, 2000, busy_task, raise_at_100, NULL, NULL, &rep);
    int want_rc = keep_signals ? 0 : TF_EINTR;
    struct sigaction back;
    sigaction(SIGTERM, NULL, &back);
    _exit(rc == want_rc && handled == 1 && back.sa_handler == count_signal
              ? 0
              : 10 + (int)handled);
}

/* A signal the caller ignores stays ignored: the run completes. */
static void child_ignoring(void)
{
    signal(SIGTERM, SIG_IGN);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend_under_test;
    o.n_jobs = 2;
    tf_report rep;
    int rc = tf_map(&o, 2000, busy_task, raise_at_100, NULL, NULL, &rep);
    _exit(rc == 0 && rep.n_ok == 2000 && signal(SIGTERM, SIG_DFL) == SIG_IGN
              ? 0
              : 1);
}

static void expect_child_ok(int keep_signals)
{
    pid_t pid = fork();
    if (pid == 0 && keep_signals < 0)
        child_ignoring();
    if (pid == 0)
        child_with_handler(keep_signals);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_own_handler_runs_once_after(void **state)
{
    (void)state;
    expect_child_ok(0);
}

static void test_keep_signals_leaves_them_alone(void **state)
{
    (void)state;
    expect_child_ok(1);
}

static void test_ignored_signal_stays_ignored(void **state)
{
    (void)state;
    expect_child_ok(-1);
}

/* After TF_EINTR the same farm runs again, completely; after destroy no
 * process and no descriptor is left. */
static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

static int checking_result(void *user, size_t i, const void *data, size_t len)
{
    uint64_t v;
    memcpy(&v, data, sizeof v);
    if (len != sizeof v || v != value_of(i))
        ++*(int *)user;
    return 0;
}

static void test_reuse_after_interrupt(void **state)
{
    (void)state;
    int fds = count_fds();
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend_under_test;
    o.n_jobs = 2;
    tf_farm *farm;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    tf_report rep;
    assert_int_equal(tf_farm_run(farm, 2000, busy_task, raise_at_100, NULL,
                                 NULL, &rep),
                     TF_EINTR);
    assert_int_equal(rep.signal, SIGTERM);
    int bad = 0;
    assert_int_equal(tf_farm_run(farm, 3000, busy_task, checking_result, NULL,
                                 &bad, &rep),
                     0);
    assert_int_equal(rep.n_ok, 3000);
    assert_int_equal(bad, 0);
    tf_farm_destroy(farm);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child at all */
    assert_int_equal(count_fds(), fds);
}

int main(void)
{
    backend_under_test = backend_from_env(backend_under_test);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal_matrix),
        cmocka_unit_test(test_own_handler_runs_once_after),
        cmocka_unit_test(test_keep_signals_leaves_them_alone),
        cmocka_unit_test(test_ignored_signal_stays_ignored),
        cmocka_unit_test(test_reuse_after_interrupt),
    };
    return cmocka_run_group_tests_name(tf_backend_name(backend_under_test),
                                       tests, NULL, NULL);
}
