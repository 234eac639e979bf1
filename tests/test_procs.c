/*
 * test_procs.c - what only the process backend promises: a task that kills
 * its worker is reported and the rest finish; time limits; retries on a
 * fresh worker; the workers' environment; the parent signalled mid-run;
 * a task that closes its descriptors or writes garbage on its worker's
 * socket; workers that die between runs; and never a zombie or a leaked
 * descriptor.
 */
#define _GNU_SOURCE
#include "taskfarm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gmp.h>
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire.h"

/* ---- process bookkeeping from /proc ----------------------------------- */

/* Children of this process (zombies included). */
static int count_children(void)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *close_paren = strrchr(buf, ')');
        int ppid = 0;
        if (close_paren != NULL &&
            sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == getpid())
            n++;
    }
    closedir(d);
    return n;
}

/* A live (not zombie) child of this process, or 0. */
static int first_child(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (found == 0 && (e = readdir(d)) != NULL) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *cp = strrchr(buf, ')');
        int ppid = 0;
        char st = 0;
        if (cp != NULL && sscanf(cp + 2, "%c %d", &st, &ppid) == 2 &&
            ppid == getpid() && st != 'Z')
            found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* ---- tasks that fail in every way ------------------------------------- */

typedef enum {
    DIE_NONE, DIE_SEGV, DIE_ABORT, DIE_EXIT, DIE_SIGKILL, DIE_OOM, DIE_SLEEP,
    DIE_ERROR
} death;

typedef struct victim {
    size_t every;         /* tasks with i % every == at die */
    size_t at;
    death how;
    int once;             /* die only on the first attempt */
    char marks[64];       /* directory for the once-markers */
    /* caller side */
    size_t delivered, next;
    int bad;
    size_t errors;
    tf_task_error last_error;
    size_t kill_at;       /* on_result kills a worker here; 0 = never */
} victim;

static int first_attempt(const victim *v, size_t i)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%zu", v->marks, i);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static void run_out_of_memory(void)
{
    struct rlimit lim = {64 << 20, 64 << 20};
    setrlimit(RLIMIT_AS, &lim);
    mpz_t big;
    mpz_init_set_ui(big, 1);
    mpz_mul_2exp(big, big, (mp_bitcnt_t)1 << 33); /* 1 GiB: GMP aborts */
    mpz_clear(big);
}

static int die(death how)
{
    switch (how) {
    case DIE_SEGV:
        raise(SIGSEGV);
        break;
    case DIE_ABORT:
        abort();
    case DIE_EXIT:
        _exit(3);
    case DIE_SIGKILL:
        kill(getpid(), SIGKILL);
        break;
    case DIE_OOM:
        run_out_of_memory();
        break;
    case DIE_SLEEP:
        sleep(30);
        break;
    case DIE_ERROR:
        return 17;
    case DIE_NONE:
        break;
    }
    return 0;
}

static int victim_task(void *user, size_t i, tf_out *out)
{
    const victim *v = user;
    if (v->every != 0 && i % v->every == v->at &&
        (!v->once || first_attempt(v, i))) {
        int rc = die(v->how);
        if (rc != 0)
            return rc;
    }
    uint64_t value = (uint64_t)i * 2654435761u;
    return tf_out_append(out, &value, sizeof value);
}

static int victim_result(void *user, size_t i, const void *data, size_t len)
{
    victim *v = user;
    uint64_t value;
    if (len != sizeof value || i < v->next)
        v->bad = 1;
    memcpy(&value, data, sizeof value);
    if (value != (uint64_t)i * 2654435761u)
        v->bad = 1;
    v->next = i + 1;
    v->delivered++;
    if (v->kill_at != 0 && v->delivered == v->kill_at) {
        int pid = first_child();
        if (pid > 0)
            kill(pid, SIGKILL);
    }
    return 0;
}

static int victim_error(void *user, const tf_task_error *err)
{
    victim *v = user;
    v->errors++;
    v->last_error = *err;
    if (err->index < v->next)
        v->bad = 1;
    v->next = err->index + 1;
    return 0;
}

static tf_options procs_opts(int jobs)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_PROCS;
    o.n_jobs = jobs;
    return o;
}

static void make_marks(victim *v)
{
    snprintf(v->marks, sizeof v->marks, "/tmp/tf_marks_XXXXXX");
    assert_non_null(mkdtemp(v->marks));
}

static void remove_marks(victim *v)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", v->marks);
    assert_int_equal(system(cmd), 0);
}

/* One crashing task among 200: reported with its index and cause, the
 * other 199 delivered, the farm still usable, nothing left behind. */
static void expect_crash(death how, tf_fail_kind kind, int code)
{
    int fds = count_fds();
    victim v = {.every = 200, .at = 57, .how = how};
    tf_options o = procs_opts(2);
    tf_farm *farm;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    tf_report rep;
    assert_int_equal(tf_farm_run(farm, 200, victim_task, victim_result,
                                 victim_error, &v, &rep),
                     TF_ETASKS);
    assert_false(v.bad);
    assert_int_equal(v.delivered, 199);
    assert_int_equal(v.errors, 1);
    assert_int_equal(v.last_error.index, 57);
    assert_int_equal(v.last_error.kind, kind);
    assert_int_equal(v.last_error.code, code);
    assert_int_equal(rep.n_failed, 1);
    assert_int_equal(rep.first_error.index, 57);

    /* The farm goes on with a replaced worker. Only caller-side counters
     * change: workers read `v` as it was when they were forked. */
    v.delivered = v.next = v.errors = 0;
    assert_int_equal(tf_farm_run(farm, 50, victim_task, victim_result, NULL,
                                 &v, NULL),
                     0);
    assert_false(v.bad);
    assert_int_equal(v.delivered, 50);
    tf_farm_destroy(farm);
    assert_int_equal(count_children(), 0);
    assert_int_equal(count_fds(), fds);
}

static void test_segfault(void **state)
{
    (void)state;
    expect_crash(DIE_SEGV, TF_FAIL_SIGNAL, SIGSEGV);
}

static void test_abort(void **state)
{
    (void)state;
    expect_crash(DIE_ABORT, TF_FAIL_SIGNAL, SIGABRT);
}

static void test_exit(void **state)
{
    (void)state;
    expect_crash(DIE_EXIT, TF_FAIL_EXIT, 3);
}

static void test_sigkill(void **state)
{
    (void)state;
    expect_crash(DIE_SIGKILL, TF_FAIL_SIGNAL, SIGKILL);
}

static void test_out_of_memory(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    /* An address-space limit leaves AddressSanitizer no room for its shadow
     * memory, so the worker dies in ASan's own mmap instead of in GMP. */
    skip();
#endif
    expect_crash(DIE_OOM, TF_FAIL_SIGNAL, SIGABRT);
}

static void test_error_return(void **state)
{
    (void)state;
    expect_crash(DIE_ERROR, TF_FAIL_ERROR, 17);
}

static void test_many_crashes_in_order(void **state)
{
    (void)state;
    victim v = {.every = 10, .at = 3, .how = DIE_SEGV};
    tf_options o = procs_opts(3);
    tf_report rep;
    assert_int_equal(tf_map(&o, 500, victim_task, victim_result, victim_error,
                            &v, &rep),
                     TF_ETASKS);
    assert_false(v.bad);
    assert_int_equal(v.errors, 50);
    assert_int_equal(v.delivered, 450);
    assert_int_equal(rep.n_ok + rep.n_failed, 500);
    assert_int_equal(count_children(), 0);
}

static void test_stop_at_first_crash(void **state)
{
    (void)state;
    victim v = {.every = 1000, .at = 300, .how = DIE_ABORT};
    tf_options o = procs_opts(2);
    o.stop_on_error = 1;
    tf_report rep;
    assert_int_equal(tf_map(&o, 1000, victim_task, victim_result, victim_error,
                            &v, &rep),
                     TF_ESTOPPED);
    assert_int_equal(v.delivered, 300);
    assert_int_equal(rep.n_failed, 1);
    assert_int_equal(rep.n_not_run, 699);
    assert_int_equal(count_children(), 0);
}

static void test_killed_from_outside(void **state)
{
    (void)state;
    victim v = {.kill_at = 50};
    tf_options o = procs_opts(2);
    o.batch_size = 1;
    tf_report rep;
    int rc = tf_map(&o, 3000, victim_task, victim_result, victim_error, &v,
                    &rep);
    /* The killed worker was either idle (nothing lost) or on a task, which is
     * then reported as killed by SIGKILL. */
    assert_true(rc == 0 || rc == TF_ETASKS);
    assert_false(v.bad);
    assert_int_equal(rep.n_ok + rep.n_failed, 3000);
    assert_true(rep.n_failed <= 1);
    if (rep.n_failed == 1) {
        assert_int_equal(rep.first_error.kind, TF_FAIL_SIGNAL);
        assert_int_equal(rep.first_error.code, SIGKILL);
    }
    assert_int_equal(count_children(), 0);
}

/* ---- time limits and retries ------------------------------------------ */

static void test_timeout(void **state)
{
    (void)state;
    victim v = {.every = 100, .at = 42, .how = DIE_SLEEP};
    tf_options o = procs_opts(2);
    o.task_timeout = 0.3;
    tf_report rep;
    assert_int_equal(tf_map(&o, 100, victim_task, victim_result, victim_error,
                            &v, &rep),
                     TF_ETASKS);
    assert_int_equal(v.errors, 1);
    assert_int_equal(v.last_error.index, 42);
    assert_int_equal(v.last_error.kind, TF_FAIL_TIMEOUT);
    assert_int_equal(v.delivered, 99);
    assert_true(rep.seconds < 25); /* it did not wait out the 30 s sleep */
    assert_int_equal(count_children(), 0);
}

/* A time limit too large for any integer clock: no overflow (UBSan runs
 * this), and the run is as without a limit. */
static void test_huge_timeout(void **state)
{
    (void)state;
    victim v = {0};
    tf_options o = procs_opts(2);
    o.task_timeout = 1e300;
    assert_int_equal(tf_map(&o, 100, victim_task, victim_result, NULL, &v,
                            NULL), 0);
    assert_int_equal(v.delivered, 100);
    assert_false(v.bad);
}

static int note_retry(void *user, const tf_task_error *err)
{
    *(tf_task_error *)user = *err;
    return 0;
}

static void expect_retry_succeeds(death how, tf_fail_kind kind, int code)
{
    victim v = {.every = 100, .at = 10, .how = how, .once = 1};
    make_marks(&v);
    tf_options o = procs_opts(2);
    o.retries = 2;
    tf_task_error retried = {0};
    o.on_retry = note_retry;
    o.retry_user = &retried;
    tf_report rep;
    assert_int_equal(tf_map(&o, 100, victim_task, victim_result, victim_error,
                            &v, &rep),
                     0);
    assert_false(v.bad);
    assert_int_equal(v.delivered, 100);
    assert_int_equal(rep.n_retried, 1);
    assert_int_equal(rep.n_failed, 0);
    /* The caller was told which task needed a retry, and why. */
    assert_int_equal(retried.index, 10);
    assert_int_equal(retried.kind, kind);
    assert_int_equal(retried.code, code);
    assert_int_equal(retried.attempts, 1);
    remove_marks(&v);
}

static void test_retry_after_crash(void **state)
{
    (void)state;
    expect_retry_succeeds(DIE_SEGV, TF_FAIL_SIGNAL, SIGSEGV);
}

static void test_retry_after_error(void **state)
{
    (void)state;
    expect_retry_succeeds(DIE_ERROR, TF_FAIL_ERROR, 17);
}

static void test_retries_exhausted(void **state)
{
    (void)state;
    victim v = {.every = 100, .at = 10, .how = DIE_EXIT};
    tf_options o = procs_opts(2);
    o.retries = 2;
    tf_report rep;
    assert_int_equal(tf_map(&o, 100, victim_task, victim_result, victim_error,
                            &v, &rep),
                     TF_ETASKS);
    assert_int_equal(v.errors, 1);
    assert_int_equal(v.last_error.attempts, 3);
    assert_int_equal(v.last_error.kind, TF_FAIL_EXIT);
    assert_int_equal(v.delivered, 99);
}

/* ---- the workers' environment ----------------------------------------- */

typedef struct env_probe {
    const char *name;
    char value[32];
} env_probe;

static int probe_task(void *user, size_t i, tf_out *out)
{
    (void)i;
    const char *v = getenv(((const env_probe *)user)->name);
    if (v == NULL)
        v = "(unset)";
    return tf_out_append(out, v, strlen(v));
}

static int probe_result(void *user, size_t i, const void *data, size_t len)
{
    (void)i;
    env_probe *p = user;
    snprintf(p->value, sizeof p->value, "%.*s", (int)len, (const char *)data);
    return 0;
}

static const char *in_worker(const char *name, int jobs, env_probe *p)
{
    p->name = name;
    p->value[0] = '\0';
    tf_options o = procs_opts(jobs);
    assert_int_equal(tf_map(&o, 1, probe_task, probe_result, NULL, p, NULL),
                     0);
    return p->value;
}

static void test_worker_environment(void **state)
{
    (void)state;
    env_probe p;
    tf_cpus cpus;
    tf_cpus_detect(&cpus);
    unsetenv("OMP_NUM_THREADS");
    unsetenv("OPENBLAS_NUM_THREADS");
    unsetenv("MKL_NUM_THREADS");
    char want[32];
    snprintf(want, sizeof want, "%d", cpus.count);
    assert_string_equal(in_worker("OMP_NUM_THREADS", 1, &p), want);
    assert_string_equal(in_worker("MKL_NUM_THREADS", 1, &p), want);
    assert_string_equal(in_worker("OPENBLAS_NUM_THREADS", 64, &p), "1");
    setenv("OMP_NUM_THREADS", "7", 1); /* the user's choice wins */
    assert_string_equal(in_worker("OMP_NUM_THREADS", 2, &p), "7");
    unsetenv("OMP_NUM_THREADS");
    assert_null(getenv("OPENBLAS_NUM_THREADS")); /* caller's untouched */
}

/* ---- the parent signalled mid-run ------------------------------------- */

static void *send_later(void *arg)
{
    int signo = *(int *)arg;
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), signo);
    return NULL;
}

static int slow_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t value = (uint64_t)i * 2654435761u;
    return tf_out_append(out, &value, sizeof value);
}

static void expect_interrupted(int signo)
{
    int fds = count_fds();
    victim v = {0};
    tf_options o = procs_opts(2);
    pthread_t t;
    pthread_create(&t, NULL, send_later, &signo);
    tf_report rep;
    int rc = tf_map(&o, 100000, slow_task, victim_result, NULL, &v, &rep);
    pthread_join(t, NULL);
    assert_int_equal(rc, TF_EINTR);
    assert_int_equal(rep.signal, signo);
    assert_true(v.delivered > 0);          /* delivered before the signal */
    assert_int_equal(rep.n_ok, v.delivered);
    assert_false(v.bad);
    assert_true(rep.n_not_run > 0);
    assert_int_equal(count_children(), 0); /* every worker reaped */
    assert_int_equal(count_fds(), fds);    /* no descriptor left open */
    struct sigaction now;
    sigaction(signo, NULL, &now);
    assert_true(now.sa_handler == SIG_DFL); /* the caller's handler is back */
}

static void test_sigterm_mid_run(void **state)
{
    (void)state;
    expect_interrupted(SIGTERM);
}

static void test_sigint_mid_run(void **state)
{
    (void)state;
    expect_interrupted(SIGINT);
}

static void test_start_failure_unwinds(void **state)
{
    (void)state;
    struct rlimit old, tight;
    getrlimit(RLIMIT_NOFILE, &old);
    tight = old;
    tight.rlim_cur = (rlim_t)count_fds() + 4; /* room for two workers only */
    setrlimit(RLIMIT_NOFILE, &tight);
    tf_options o = procs_opts(50);
    tf_report rep;
    int rc = tf_map(&o, 10, slow_task, NULL, NULL, NULL, &rep);
    setrlimit(RLIMIT_NOFILE, &old);
    assert_int_equal(rc, TF_ESYS);
    assert_int_equal(rep.sys_errno, EMFILE);
    assert_int_equal(rep.n_ok, 0);
    assert_int_equal(count_children(), 0);
}

/* ---- a worker that loses its connection or breaks the protocol ------- */

/* A task that closes every descriptor it inherited (as a daemonising
 * helper does) and then takes its time: its worker can no longer answer.
 * The run must not wait for it, and must not call it a clean exit. */
static int closes_its_fds(void *user, size_t i, tf_out *out)
{
    (void)user;
    if (i == 5) {
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        sleep(4);
        _exit(0);
    }
    return tf_out_append(out, &i, sizeof i);
}

static void expect_lost_at_once(double timeout)
{
    victim v = {0};
    tf_options o = procs_opts(2);
    o.task_timeout = timeout;
    o.order = TF_ORDER_COMPLETED;
    tf_report rep;
    int rc = tf_map(&o, 50, closes_its_fds, NULL, victim_error, &v, &rep);
    assert_int_equal(rc, TF_ETASKS);
    assert_int_equal(v.errors, 1);
    assert_int_equal(v.last_error.index, 5);
    assert_int_equal(v.last_error.kind, TF_FAIL_LOST);
    assert_int_equal(rep.n_ok, 49);
    assert_true(rep.seconds < 2.0); /* not the task's 4 s */
    assert_int_equal(count_children(), 0);
}

/* The same task, returning at once: its worker cannot send the batch.
 * The batch's last task takes the blame (batch_size 1: task 5), once, and
 * the job does not go round for ever. */
static int closes_its_fds_and_returns(void *user, size_t i, tf_out *out)
{
    (void)user;
    if (i == 5)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    return tf_out_append(out, &i, sizeof i);
}

static void test_task_closes_its_descriptors(void **state)
{
    (void)state;
    expect_lost_at_once(1.0); /* with a time limit */
    expect_lost_at_once(0);   /* and without one */
    victim v = {0};
    tf_options o = procs_opts(2);
    o.batch_size = 1;
    tf_report rep;
    int rc = tf_map(&o, 20, closes_its_fds_and_returns, NULL, victim_error, &v,
                    &rep);
    assert_int_equal(rc, TF_ETASKS);
    assert_int_equal(v.errors, 1);
    assert_int_equal(v.last_error.index, 5);
    assert_int_equal(rep.n_ok, 19);
    assert_true(rep.seconds < 5.0);
}

static int kill_idle_workers(void);

/* A task that forks a child which keeps the worker's socket open: when the
 * worker then dies (mid-run, or killed between runs), the death is seen at
 * once, not when the child lets go of the socket. */
static int forks_then_crashes(void *user, size_t i, tf_out *out)
{
    (void)user;
    if (i == 0 && fork() == 0) {
        sleep(3); /* holds every descriptor of its parent, the socket too */
        _exit(0);
    }
    if (i == 5 && *(const int *)user)
        abort();
    return tf_out_append(out, &i, sizeof i);
}

static void test_descendant_holds_the_socket(void **state)
{
    (void)state;
    int crash = 1;
    tf_options o = procs_opts(2);
    o.batch_size = 1;
    tf_report rep;
    int rc = tf_map(&o, 20, forks_then_crashes, NULL, NULL, &crash, &rep);
    assert_int_equal(rc, TF_ETASKS);
    assert_int_equal(rep.first_error.index, 5);
    assert_int_equal(rep.first_error.kind, TF_FAIL_SIGNAL);
    assert_int_equal(rep.first_error.code, SIGABRT);
    assert_true(rep.seconds < 2.0);
    /* Between runs: an idle worker killed while its child holds on. */
    crash = 0;
    tf_farm *farm;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    assert_int_equal(tf_farm_run(farm, 20, forks_then_crashes, NULL, NULL,
                                 &crash, NULL), 0);
    assert_true(kill_idle_workers() >= 2);
    assert_int_equal(tf_farm_run(farm, 20, victim_task, NULL, NULL,
                                 &(victim){0}, &rep), 0);
    assert_true(rep.seconds < 2.0);
    tf_farm_destroy(farm);
}

/* Messages a broken worker might send, written by a task straight onto
 * its worker's socket (batch_size 1, so the job is exactly {i, 1}). */
typedef enum {
    BAD_MAGIC, BAD_START, BAD_COUNT, HUGE_LEN, BAD_SLOT_OFFSET,
    BAD_SLOT_LEN, BAD_SLOT_KIND, TRUNCATED, N_BAD
} bad_message;

static int worker_socket(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
            return fd;
    }
    return -1;
}

static void write_bad(int fd, bad_message kind, size_t i)
{
    tf__wire_result h = {TF__WIRE_MAGIC, 0, i, 1, 8, 0.001};
    tf__slot slot = {0, 8, 0, 0, 1};
    char data[8] = {0};
    switch (kind) {
    case BAD_MAGIC: h.magic ^= 1; break;
    case BAD_START: h.start = i + 1; break;
    case BAD_COUNT: h.count = 1000; break;
    case HUGE_LEN: h.len = (uint64_t)1 << 50; break;
    case BAD_SLOT_OFFSET: slot.off = 1u << 30; break;
    case BAD_SLOT_LEN: slot.len = 9; break;
    case BAD_SLOT_KIND: slot.fail = 99; break;
    default: break;
    }
    if (write(fd, &h, sizeof h) != (ssize_t)sizeof h)
        _exit(9);
    if (kind == TRUNCATED) {
        close(fd); /* half a message, then nothing */
        sleep(10);
    }
    if (write(fd, &slot, sizeof slot) < 0 || write(fd, data, 8) < 0)
        _exit(9);
}

static int breaks_protocol(void *user, size_t i, tf_out *out)
{
    const bad_message *kind = user;
    if (i == 7) {
        write_bad(worker_socket(), *kind, i);
        sleep(10); /* the parent must not wait for this */
    }
    return tf_out_append(out, &i, sizeof i);
}

static void test_malformed_messages(void **state)
{
    (void)state;
    int fds = count_fds();
    tf_options o = procs_opts(2);
    o.batch_size = 1;
    tf_farm *farm;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    for (bad_message kind = 0; kind < N_BAD; kind++) {
        tf_report rep;
        int rc = tf_farm_run(farm, 30, breaks_protocol, NULL, NULL, &kind,
                             &rep);
        if (rc != TF_ETASKS || rep.n_ok != 29 ||
            rep.first_error.index != 7 ||
            rep.first_error.kind != TF_FAIL_LOST || rep.seconds > 5)
            fail_msg("message %d: rc %d, %zu ok, error %zu kind %d, %.1f s",
                     (int)kind, rc, rep.n_ok, rep.first_error.index,
                     (int)rep.first_error.kind, rep.seconds);
    }
    tf_farm_destroy(farm);
    assert_int_equal(count_children(), 0);
    assert_int_equal(count_fds(), fds);
}

/* Workers killed while idle between two runs (the OOM killer, an
 * administrator): the next run replaces them before giving them work, and
 * nothing is blamed on a task that never ran. */
static char proc_state(int pid)
{
    char path[64], st = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%*d %*s %c", &st) != 1)
        st = 0;
    fclose(f);
    return st;
}

/* SIGKILLs every child and waits until each is a zombie (killed, not
 * reaped: what the farm finds when its next run begins). */
static int kill_idle_workers(void)
{
    int n = 0;
    for (int pid; n < 64 && (pid = first_child()) > 0; n++) {
        kill(pid, SIGKILL);
        for (int k = 0; k < 2000 && proc_state(pid) != 'Z'; k++)
            usleep(1000);
    }
    return n;
}

static void test_idle_workers_killed_between_runs(void **state)
{
    (void)state;
    int fds = count_fds();
    victim v = {0};
    tf_options o = procs_opts(2);
    tf_farm *farm;
    assert_int_equal(tf_farm_create(&farm, &o), 0);
    assert_int_equal(tf_farm_run(farm, 100, victim_task, victim_result, NULL,
                                 &v, NULL), 0);
    assert_int_equal(kill_idle_workers(), 2);
    v = (victim){0};
    tf_report rep;
    int rc = tf_farm_run(farm, 100, victim_task, victim_result, victim_error,
                         &v, &rep);
    assert_int_equal(rc, 0);
    assert_int_equal(rep.n_failed, 0);
    assert_int_equal(rep.n_ok, 100);
    assert_int_equal(v.delivered, 100);
    assert_false(v.bad);
    tf_farm_destroy(farm);
    assert_int_equal(count_children(), 0);
    assert_int_equal(count_fds(), fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segfault),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_exit),
        cmocka_unit_test(test_sigkill),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_error_return),
        cmocka_unit_test(test_many_crashes_in_order),
        cmocka_unit_test(test_stop_at_first_crash),
        cmocka_unit_test(test_killed_from_outside),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_huge_timeout),
        cmocka_unit_test(test_retry_after_crash),
        cmocka_unit_test(test_retry_after_error),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_worker_environment),
        cmocka_unit_test(test_sigterm_mid_run),
        cmocka_unit_test(test_sigint_mid_run),
        cmocka_unit_test(test_start_failure_unwinds),
        cmocka_unit_test(test_task_closes_its_descriptors),
        cmocka_unit_test(test_malformed_messages),
        cmocka_unit_test(test_idle_workers_killed_between_runs),
        cmocka_unit_test(test_descendant_holds_the_socket),
    };
    return cmocka_run_group_tests_name("procs", tests, NULL, NULL);
}
