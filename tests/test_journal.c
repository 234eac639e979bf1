/*
 * test_journal.c - resume: a rerun replays what the journal holds and
 * computes the rest, in index order; and every way a journal can be wrong
 * gives the documented behaviour: a torn tail (cut at every byte of the
 * last record) is cut back, damage in the middle, another run's journal
 * (N, key), a file that is no journal, an empty file, a directory, a
 * read-only file, a full disk, and a journal in use are refused or
 * reported, never a crash and never a silent overwrite.
 *
 * With TF_FUZZ_SEEDS set to a directory, every journal made here is also
 * copied there: the seeds of the fuzzer (tests/fuzz).
 */
#define _GNU_SOURCE
#include "taskfarm.h"
#include "testkit.h"

#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static tf_backend backend_under_test = TF_BACKEND_PROCS;
static char dir[64];
static int seed_count;

/* ---- a deterministic task, and a caller that checks everything -------- */

/* From 0 bytes: empty results are records too. */
static size_t len_of(size_t i)
{
    return (size_t)(mix(i) % 61);
}

static int task(void *user, size_t i, tf_out *out)
{
    (void)user;
    size_t len = len_of(i);
    unsigned char *p = tf_out_extend(out, len);
    for (size_t k = 0; k < len; k++)
        p[k] = (unsigned char)mix(i * 31 + k);
    return 0;
}

typedef struct seen {
    size_t n, next, delivered, cancel_at;
    int ordered, bad;
    unsigned char *hits;
} seen;

static int on_result(void *user, size_t i, const void *data, size_t len)
{
    seen *s = user;
    const unsigned char *d = data;
    if (i >= s->n || len != len_of(i) || (s->ordered && i != s->next))
        s->bad = 1;
    for (size_t k = 0; k < len && !s->bad; k++)
        s->bad |= d[k] != (unsigned char)mix(i * 31 + k);
    if (i < s->n && s->hits[i]++)
        s->bad = 1;
    s->next = i + 1;
    s->delivered++;
    return s->delivered == s->cancel_at;
}

static const char key[] = "test_journal run key";

static int run_with(const char *path, size_t n, const char *k, tf_order order,
                    size_t cancel_at, tf_report *rep, seen *s)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->ordered = order == TF_ORDER_INDEX;
    s->cancel_at = cancel_at;
    s->hits = calloc(n + 1, 1);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend_under_test;
    o.n_jobs = 2;
    o.order = order;
    o.journal = path;
    o.journal_key = k;
    o.journal_key_len = k != NULL ? strlen(k) : 0;
    int rc = tf_map(&o, n, task, on_result, NULL, s, rep);
    free(s->hits);
    return rc;
}

static int run(const char *path, size_t n, tf_report *rep, seen *s)
{
    return run_with(path, n, key, TF_ORDER_INDEX, 0, rep, s);
}

/* ---- files ------------------------------------------------------------ */

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static size_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (size_t)sb.st_size;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    *len = file_size(path);
    unsigned char *buf = malloc(*len + 1);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void spill(const char *path, const unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static void seed(const char *path)
{
    const char *seeds = getenv("TF_FUZZ_SEEDS");
    if (seeds == NULL || access(path, R_OK) != 0)
        return;
    size_t len;
    unsigned char *buf = slurp(path, &len);
    char out[512];
    snprintf(out, sizeof out, "%s/%s-%d", seeds,
             tf_backend_name(backend_under_test), seed_count++);
    spill(out, buf, len);
    free(buf);
}

/* A complete journal of n tasks at `path`. */
static void make_journal(const char *path, size_t n)
{
    tf_report rep;
    seen s;
    unlink(path);
    assert_int_equal(run(path, n, &rep, &s), 0);
    assert_int_equal(rep.n_replayed, 0);
    seed(path);
}

/* Where each record starts, walking the documented format: a 32-byte
 * header and the key, then records of a 24-byte header (magic, crc,
 * index, length) and the bytes. Returns how many. */
static size_t record_starts(const unsigned char *buf, size_t len,
                            size_t *starts, size_t max)
{
    size_t at = 32 + strlen(key), n = 0;
    while (at + 24 <= len && n < max) {
        uint64_t rlen;
        memcpy(&rlen, buf + at + 16, sizeof rlen);
        starts[n++] = at;
        at += 24 + (size_t)rlen;
    }
    assert_int_equal(at, len);
    return n;
}

/* ---- resume ----------------------------------------------------------- */

static void expect_resumes(tf_order order)
{
    char path[128];
    path_of(path, sizeof path, "resume.journal");
    unlink(path);
    tf_report rep;
    seen s;
    assert_int_equal(run_with(path, 3000, key, order, 1000, &rep, &s),
                     TF_ECANCELED);
    assert_false(s.bad);
    size_t first = s.delivered;
    seed(path);

    assert_int_equal(run_with(path, 3000, key, order, 0, &rep, &s), 0);
    assert_false(s.bad);
    assert_int_equal(s.delivered, 3000);        /* each index once */
    assert_int_equal(rep.n_ok, 3000);
    assert_true(rep.n_replayed >= first);       /* nothing delivered lost */

    assert_int_equal(run_with(path, 3000, key, order, 0, &rep, &s), 0);
    assert_int_equal(rep.n_replayed, 3000);     /* all from the journal */
    assert_false(s.bad);
}

static void test_resume_in_index_order(void **state)
{
    (void)state;
    expect_resumes(TF_ORDER_INDEX);
}

static void test_resume_as_completed(void **state)
{
    (void)state;
    expect_resumes(TF_ORDER_COMPLETED);
}

/* ---- a torn tail, cut at every byte of the last record ---------------- */

static void test_torn_tail_every_offset(void **state)
{
    (void)state;
    char path[128], work[128];
    path_of(path, sizeof path, "torn.journal");
    path_of(work, sizeof work, "torn-work.journal");
    const size_t n = 20;
    make_journal(path, n);
    size_t len, starts[64];
    unsigned char *whole = slurp(path, &len);
    assert_int_equal(record_starts(whole, len, starts, 64), n);
    size_t last = starts[n - 1];
    for (size_t cut = last; cut < len; cut++) {
        spill(work, whole, cut);
        tf_report rep;
        seen s;
        assert_int_equal(run(work, n, &rep, &s), 0);
        assert_false(s.bad);
        assert_int_equal(s.delivered, n);
        assert_int_equal(rep.n_replayed, n - 1);     /* the last is redone */
        assert_int_equal(rep.journal_truncated, cut - last);
        assert_int_equal(file_size(work), len);      /* and written again */
        if (cut % 5 == 0)
            seed(work);
    }
    free(whole);
}

/* ---- damage in the middle, and journals of other runs ----------------- */

/* The run must be refused with `problem`, no callback run, file untouched. */
static void expect_refused(const char *path, size_t n, const char *k,
                           tf_journal_problem problem)
{
    size_t before_len, after_len;
    unsigned char *before = slurp(path, &before_len);
    tf_report rep;
    seen s;
    assert_int_equal(run_with(path, n, k, TF_ORDER_INDEX, 0, &rep, &s),
                     TF_EJOURNAL);
    assert_int_equal(rep.journal_problem, problem);
    assert_int_equal(s.delivered, 0);
    assert_int_equal(rep.n_ok, 0);
    unsigned char *after = slurp(path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    assert_string_not_equal(tf_journal_problem_text(problem),
                            "unknown journal problem");
    seed(path);
    free(before);
    free(after);
}

static void flip(const char *path, size_t at)
{
    size_t len;
    unsigned char *buf = slurp(path, &len);
    buf[at] ^= 0x10;
    spill(path, buf, len);
    free(buf);
}

static void test_damage_in_the_middle(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "damaged.journal");
    size_t len, starts[64];
    for (int where = 0; where < 3; where++) {
        make_journal(path, 20);
        unsigned char *buf = slurp(path, &len);
        record_starts(buf, len, starts, 64);
        free(buf);
        size_t hit = where == 0 ? starts[3] + 24     /* its bytes */
                     : where == 1 ? starts[3] + 9    /* its index */
                                  : starts[3];       /* its magic */
        flip(path, hit);
        expect_refused(path, 20, key, TF_JOURNAL_DAMAGED);
        tf_report rep;
        seen s;
        run(path, 20, &rep, &s);
        assert_int_equal(rep.journal_offset, starts[3]);
    }
    make_journal(path, 20);
    flip(path, 17); /* inside the header's N: its CRC no longer holds */
    expect_refused(path, 20, key, TF_JOURNAL_DAMAGED);
}

static void test_other_runs_refused(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "other.journal");
    make_journal(path, 50);
    expect_refused(path, 51, key, TF_JOURNAL_OTHER_N);
    expect_refused(path, 50, "another key", TF_JOURNAL_OTHER_KEY);
    expect_refused(path, 50, "test_journal run kez", TF_JOURNAL_OTHER_KEY);
    flip(path, 9); /* the format version */
    expect_refused(path, 50, key, TF_JOURNAL_OTHER_VERSION);
    const char text[] = "these are my notes, not a journal\n";
    spill(path, (const unsigned char *)text, sizeof text - 1);
    expect_refused(path, 50, key, TF_JOURNAL_NOT_JOURNAL);
}

/* A journal without a key (NULL, 0) resumes like any other. It was refused
 * as damaged: its header's CRC was taken over a NULL key. */
static void test_no_key_resumes(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "nokey.journal");
    unlink(path);
    tf_report rep;
    seen s;
    assert_int_equal(run_with(path, 100, NULL, TF_ORDER_INDEX, 30, &rep, &s),
                     TF_ECANCELED);
    assert_int_equal(run_with(path, 100, NULL, TF_ORDER_INDEX, 0, &rep, &s), 0);
    assert_false(s.bad);
    assert_int_equal(s.delivered, 100);
    assert_true(rep.n_replayed >= 30);
    unlink(path);
}

/* ---- empty, torn header, directory, read-only, full disk, in use ------ */

static void test_empty_and_torn_header_start_afresh(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "empty.journal");
    for (size_t keep = 0; keep < 32 + sizeof key - 1; keep += 5) {
        make_journal(path, 30);
        size_t len;
        unsigned char *buf = slurp(path, &len);
        spill(path, buf, keep); /* killed while writing the header */
        free(buf);
        tf_report rep;
        seen s;
        assert_int_equal(run(path, 30, &rep, &s), 0);
        assert_int_equal(rep.n_replayed, 0);
        assert_int_equal(s.delivered, 30);
        assert_int_equal(run(path, 30, &rep, &s), 0);
        assert_int_equal(rep.n_replayed, 30);
    }
}

static void test_directory_in_place_of_the_file(void **state)
{
    (void)state;
    tf_report rep;
    seen s;
    assert_int_equal(run(dir, 10, &rep, &s), TF_EJOURNAL);
    assert_int_equal(rep.journal_problem, TF_JOURNAL_IO);
    assert_int_equal(rep.sys_errno, EISDIR);
    assert_int_equal(s.delivered, 0);
    char missing[160];
    path_of(missing, sizeof missing, "no/such/dir/x.journal");
    assert_int_equal(run(missing, 10, &rep, &s), TF_EJOURNAL);
    assert_int_equal(rep.sys_errno, ENOENT);
}

/* Runs `body` in a child; returns its exit status. */
static int in_child(void (*body)(const char *), const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        body(path);
        _exit(99);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void read_only_body(const char *path)
{
    if (geteuid() == 0 && setuid(65534) != 0) /* root ignores modes */
        _exit(3);
    tf_report rep;
    seen s;
    int rc = run(path, 10, &rep, &s);
    _exit(rc == TF_EJOURNAL && rep.journal_problem == TF_JOURNAL_IO &&
                  rep.sys_errno == EACCES && s.delivered == 0
              ? 0
              : 1);
}

static void test_read_only_file(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "readonly.journal");
    make_journal(path, 10);
    chmod(dir, 0755);
    chmod(path, 0444);
    assert_int_equal(in_child(read_only_body, path), 0);
    chmod(path, 0600);
}

static void full_disk_body(const char *path)
{
    signal(SIGXFSZ, SIG_IGN); /* so that the write fails with EFBIG */
    struct rlimit lim = {4096, 4096};
    setrlimit(RLIMIT_FSIZE, &lim);
    tf_report rep;
    seen s;
    int rc = run(path, 2000, &rep, &s);
    _exit(rc == TF_EJOURNAL && rep.journal_problem == TF_JOURNAL_IO &&
                  rep.sys_errno == EFBIG
              ? 0
              : 1);
}

static void test_full_disk_keeps_what_was_written(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "full.journal");
    unlink(path);
    assert_int_equal(in_child(full_disk_body, path), 0);
    assert_true(file_size(path) <= 4096);
    seed(path);
    tf_report rep;
    seen s;
    assert_int_equal(run(path, 2000, &rep, &s), 0); /* readable, resumes */
    assert_false(s.bad);
    assert_int_equal(s.delivered, 2000);
    assert_true(rep.n_replayed > 0);
}

typedef struct nested {
    const char *path;
    int inner_rc;
    tf_journal_problem inner_problem;
} nested;

static int open_again(void *user, size_t i, const void *d, size_t len)
{
    (void)d;
    (void)len;
    nested *n = user;
    if (i == 0) {
        tf_report rep;
        seen s;
        n->inner_rc = run(n->path, 5, &rep, &s);
        n->inner_problem = rep.journal_problem;
    }
    return 0;
}

static void test_in_use_by_another_run(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "busy.journal");
    unlink(path);
    nested n = {path, 0, 0};
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_SERIAL;
    o.journal = path;
    o.journal_key = key;
    o.journal_key_len = strlen(key);
    assert_int_equal(tf_map(&o, 5, task, open_again, NULL, &n, NULL), 0);
    assert_int_equal(n.inner_rc, TF_EJOURNAL);
    assert_int_equal(n.inner_problem, TF_JOURNAL_IN_USE);
}

static void test_durability_options(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "sync.journal");
    unlink(path);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend_under_test;
    o.journal = path;
    o.journal_key = key;
    o.journal_key_len = strlen(key);
    o.journal_sync_every = 1; /* fdatasync after every record */
    seen s = {.n = 100, .ordered = 1, .hits = calloc(101, 1)};
    tf_report rep;
    assert_int_equal(tf_map(&o, 100, task, on_result, NULL, &s, &rep), 0);
    assert_false(s.bad);
    free(s.hits);
    o.journal_sync_every = -1;
    assert_int_equal(tf_farm_create(NULL, &o), TF_EINVAL);
    tf_farm *farm = NULL;
    assert_int_equal(tf_farm_create(&farm, &o), TF_EINVAL);
    o.journal_sync_every = 0;
    o.journal_key = NULL; /* a length without bytes */
    assert_int_equal(tf_farm_create(&farm, &o), TF_EINVAL);
}

/* ---- SIGKILL loses at most what was in flight ------------------------- */

#define KILL_N 3000
#define KILL_BATCH 4
#define KILL_WORKERS 2

typedef struct logged {
    int log_fd; /* every finished task appends its index (O_APPEND) */
} logged;

static int logged_task(void *user, size_t i, tf_out *out)
{
    const logged *l = user;
    volatile uint64_t spin = 0; /* volatile: the loop is the work */
    for (int k = 0; k < 20000; k++) /* ~50 us */
        spin += (uint64_t)k * i;
    if (spin == UINT64_MAX)
        return 2; /* never: reads the result */
    uint64_t v = i;
    if (write(l->log_fd, &v, sizeof v) != (ssize_t)sizeof v)
        return 1;
    return task(NULL, i, out);
}

static tf_options kill_options(const char *path)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend_under_test;
    o.n_jobs = KILL_WORKERS;
    o.batch_size = KILL_BATCH;
    o.journal = path;
    o.journal_key = key;
    o.journal_key_len = strlen(key);
    return o;
}

/* A child in its own process group runs the journaled farm; the whole
 * group is killed at once, workers included, as Slurm kills a job. */
static void run_and_kill(const char *path, const char *log, long delay_us)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        logged l = {open(log, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600)};
        tf_options o = kill_options(path);
        tf_map(&o, KILL_N, logged_task, NULL, NULL, &l, NULL);
        _exit(0);
    }
    setpgid(pid, pid);
    usleep((useconds_t)delay_us);
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    usleep(20000); /* the group's other processes are gone too */
}

/* Lost work = tasks that finished before the kill but are not in the
 * journal. It must fit in what was in flight. (Checked by forcing the
 * bound to 0: rounds lost 1 to 4 tasks, so the test can fail.) */
static void test_sigkill_loses_only_in_flight(void **state)
{
    (void)state;
    if (backend_under_test == TF_BACKEND_SERIAL)
        skip(); /* one task at a time: covered by the other backends */
    char path[128], log[128];
    path_of(path, sizeof path, "killed.journal");
    path_of(log, sizeof log, "finished.log");
    /* procs: each worker holds two jobs (one finished in its socket, one
     * computing), plus one batch the parent has read and not yet written;
     * threads: the same two per worker, finished or computing, waiting for
     * the caller's thread. */
    size_t bound = (2 * KILL_WORKERS + 1) * KILL_BATCH;
    srand(7);
    for (int round = 0; round < 10; round++) {
        unlink(path);
        run_and_kill(path, log, 20000 + rand() % 120000);
        size_t finished = file_size(log) / sizeof(uint64_t);
        tf_report rep;
        seen s;
        assert_int_equal(run(path, KILL_N, &rep, &s), 0);
        assert_false(s.bad);
        assert_int_equal(s.delivered, KILL_N);
        assert_true(rep.n_replayed <= finished);
        size_t lost = finished - rep.n_replayed;
        if (lost > bound)
            fail_msg("round %d: %zu tasks finished before the kill but not "
                     "in the journal (bound %zu)",
                     round, lost, bound);
        seed(path);
    }
}

/* Only the parent is killed, as `kill -9 PID` does: its workers are left
 * in the middle of slow tasks. They must not hold the journal (its lock):
 * a rerun started at once resumes. */
static int slow_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    usleep(300000);
    return task(NULL, i, out);
}

static void test_orphaned_workers_release_the_journal(void **state)
{
    (void)state;
    if (backend_under_test != TF_BACKEND_PROCS)
        skip(); /* only the process backend forks */
    char path[128];
    path_of(path, sizeof path, "orphans.journal");
    unlink(path);
    pid_t pid = fork();
    if (pid == 0) {
        tf_options o = kill_options(path);
        o.batch_size = 1;
        tf_map(&o, 40, slow_task, NULL, NULL, NULL, NULL);
        _exit(0);
    }
    usleep(450000); /* a few tasks done, two in flight */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    tf_report rep;
    seen s;
    assert_int_equal(run(path, 40, &rep, &s), 0);
    assert_int_equal(s.delivered, 40);
    assert_false(s.bad);
    usleep(400000); /* let the orphans finish and die before the next test */
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tf_journal_XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

int main(void)
{
    backend_under_test = backend_from_env(backend_under_test);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_in_index_order),
        cmocka_unit_test(test_resume_as_completed),
        cmocka_unit_test(test_torn_tail_every_offset),
        cmocka_unit_test(test_damage_in_the_middle),
        cmocka_unit_test(test_other_runs_refused),
        cmocka_unit_test(test_no_key_resumes),
        cmocka_unit_test(test_empty_and_torn_header_start_afresh),
        cmocka_unit_test(test_directory_in_place_of_the_file),
        cmocka_unit_test(test_read_only_file),
        cmocka_unit_test(test_full_disk_keeps_what_was_written),
        cmocka_unit_test(test_in_use_by_another_run),
        cmocka_unit_test(test_durability_options),
        cmocka_unit_test(test_sigkill_loses_only_in_flight),
        cmocka_unit_test(test_orphaned_workers_release_the_journal),
    };
    return cmocka_run_group_tests_name("journal", tests, setup_dir,
                                       remove_dir);
}
