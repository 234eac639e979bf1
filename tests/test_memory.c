/*
 * test_memory.c - memory stays bounded whatever N is: peak RSS of the
 * calling process, from getrusage in a child process per case, at most
 * BOUND_MIB above its baseline, for every order x {no journal, journal,
 * resumed run} x {one slow task among 1,000,000 tasks of 100 bytes, a
 * result callback slower than the workers over 200,000 tasks of 1 KiB};
 * and with twice the tasks the peak grows by no more than the journal's
 * index (8 bytes per task) and a little slack.
 *
 * Without arguments it runs the matrix on the backend TF_TEST_BACKEND
 * names. With arguments it runs one case in this process and prints its
 * peak (the MPI build runs under mpirun this way, rank 0 measuring):
 *     test_memory LOAD ORDER JOURNAL [N] [make-journal]
 * LOAD: slow-task | slow-consumer; ORDER: index | completed;
 * JOURNAL: none | journal | resumed (PATH from TF_TEST_JOURNAL).
 *
 * Not run under the sanitizers: their shadow memory breaks any RSS bound.
 */
#define _GNU_SOURCE
#include "taskfarm.h"
#include "testkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef TF_TEST_MPI
#include <mpi.h>
#endif

#define BOUND_MIB 32
#define SLOW_SECONDS 2

typedef enum { SLOW_TASK, SLOW_CONSUMER } load;
typedef enum { NO_JOURNAL, JOURNAL, RESUMED } journaling;

typedef struct spec {
    tf_backend backend;
    load load;
    tf_order order;
    journaling journal;
    size_t n;              /* 0 = the load's default */
    const char *path;      /* the journal */
} spec;

static const char *const load_names[] = {"slow-task", "slow-consumer"};
static const char *const journal_names[] = {"none", "journal", "resumed"};

static size_t tasks_of(const spec *s)
{
    if (s->n != 0)
        return s->n;
    return s->load == SLOW_TASK ? 1000000 : 200000;
}

static size_t result_len(const spec *s)
{
    return s->load == SLOW_TASK ? 100 : 1024;
}

/* ---- the run ----------------------------------------------------------- */

typedef struct job {
    const spec *s;
    size_t n, slow_at;     /* slow_at = n: no slow task */
    size_t cancel_at;      /* the result callback stops here; 0 = never */
    size_t delivered;
    int bad;
} job;

static int task(void *user, size_t i, tf_out *out)
{
    const job *j = user;
    if (i == j->slow_at)
        nanosleep(&(struct timespec){SLOW_SECONDS, 0}, NULL);
    size_t len = result_len(j->s);
    unsigned char *p = tf_out_extend(out, len);
    if (p == NULL)
        return -1;
    memset(p, (int)(mix(i) & 0xff), len);
    return 0;
}

static int result(void *user, size_t i, const void *data, size_t len)
{
    job *j = user;
    const unsigned char *p = data;
    if (len != result_len(j->s) || p[0] != (unsigned char)(mix(i) & 0xff))
        j->bad = 1;
    if (j->s->load == SLOW_CONSUMER) {
        spin_for(20e-6);
    }
    return ++j->delivered == j->cancel_at;
}

static tf_options options_of(const spec *s)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = s->backend;
    o.n_jobs = s->backend == TF_BACKEND_MPI ? 0 : 2;
    o.order = s->order;
    if (s->journal != NO_JOURNAL) {
        o.journal = s->path;
        o.journal_key = "memory";
        o.journal_key_len = 6;
    }
    return o;
}

/* A resumed run needs a journal that holds about half the tasks: made by
 * a run cancelled half way, without the slow task. */
static int make_half_journal(const spec *s)
{
    spec half = *s;
    half.backend = TF_BACKEND_THREADS;
    half.journal = JOURNAL;
    size_t n = tasks_of(s);
    job j = {&half, n, n, n / 2, 0, 0};
    tf_options o = options_of(&half);
    int rc = tf_map(&o, n, task, result, NULL, &j, NULL);
    return rc == TF_ECANCELED && !j.bad ? 0 : 1;
}

static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Runs the measured case here; returns its peak above baseline, in KiB,
 * or -1 when the run itself went wrong. */
static long run_case(const spec *s)
{
    size_t n = tasks_of(s);
    job j = {s, n, s->load == SLOW_TASK ? 3 * n / 4 : n, 0, 0, 0};
    tf_options o = options_of(s);
    tf_report rep;
    long base = peak_kib();
    int rc = tf_map(&o, n, task, result, NULL, &j, &rep);
    long peak = peak_kib();
    if (rc != 0 || j.bad || rep.n_ok != n)
        return -1;
    if (s->journal == RESUMED && rep.n_replayed < n / 2)
        return -1;
    return peak - base;
}

/* ---- the matrix, one child per case ------------------------------------ */

/* The half journal of a resumed case is made by a child of its own, so
 * that its peak is not the measured child's baseline. */
static int half_journal_in_child(const spec *s)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(make_half_journal(s));
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                   WEXITSTATUS(status) == 0
               ? 0
               : -1;
}

static long in_child(const spec *s)
{
    unlink(s->path);
    if (s->journal == RESUMED && half_journal_in_child(s) != 0)
        return -1;
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        long kib = run_case(s);
        if (write(fd[1], &kib, sizeof kib) != sizeof kib)
            _exit(3);
        _exit(0);
    }
    close(fd[1]);
    long kib = -1;
    if (read(fd[0], &kib, sizeof kib) != sizeof kib)
        kib = -1;
    close(fd[0]);
    waitpid(pid, NULL, 0);
    unlink(s->path);
    return kib;
}

static int check(const spec *s, long kib)
{
    int ok = kib >= 0 && kib <= BOUND_MIB * 1024L;
    printf("%-8s %-13s %-9s %-7s n=%-8zu peak +%6.1f MiB  %s\n",
           tf_backend_name(s->backend), load_names[s->load],
           s->order == TF_ORDER_INDEX ? "index" : "completed",
           journal_names[s->journal], tasks_of(s), kib / 1024.0,
           ok ? "ok" : "OVER THE BOUND (or the run failed)");
    fflush(stdout);
    return ok;
}

/* Twice the tasks: the peak may grow by the journal's index only. */
static int check_growth(spec s)
{
    s.load = SLOW_TASK;
    s.order = TF_ORDER_INDEX;
    s.journal = JOURNAL;
    s.n = 500000;
    long one = in_child(&s);
    s.n = 1000000;
    long two = in_child(&s);
    long allowed = (long)(8 * 500000 / 1024) + 4 * 1024;
    int ok = one >= 0 && two >= 0 && two - one <= allowed;
    printf("%-8s growth from 500,000 to 1,000,000 tasks: +%.1f MiB "
           "(allowed %.1f)  %s\n", tf_backend_name(s.backend),
           (two - one) / 1024.0, allowed / 1024.0, ok ? "ok" : "TOO MUCH");
    return ok;
}

static int matrix(tf_backend backend, const char *path)
{
    int ok = 1;
    for (int l = 0; l < 2; l++)
        for (int order = 0; order < 2; order++)
            for (int jn = 0; jn < 3; jn++) {
                spec s = {backend, (load)l, (tf_order)order, (journaling)jn, 0,
                          path};
                ok &= check(&s, in_child(&s));
            }
    spec s = {backend, SLOW_TASK, TF_ORDER_INDEX, JOURNAL, 0, path};
    ok &= check_growth(s);
    return ok ? 0 : 1;
}

/* ---- one case from the command line ------------------------------------ */

static int parse(int argc, char **argv, spec *s, int *make)
{
    s->load = strcmp(argv[1], "slow-consumer") == 0 ? SLOW_CONSUMER : SLOW_TASK;
    s->order = strcmp(argv[2], "completed") == 0 ? TF_ORDER_COMPLETED
                                                 : TF_ORDER_INDEX;
    s->journal = NO_JOURNAL;
    for (int k = 0; k < 3; k++)
        if (strcmp(argv[3], journal_names[k]) == 0)
            s->journal = (journaling)k;
    s->n = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
    *make = argc > 5 && strcmp(argv[5], "make-journal") == 0;
    return 0;
}

/* Under MPI only rank 0 touches the journal (the test removes it first)
 * and reports. */
static int one_case(int argc, char **argv, spec *s, int rank)
{
    int make = 0;
    parse(argc, argv, s, &make);
    if (make) {
        unlink(s->path);
        return make_half_journal(s);
    }
    if (s->journal == JOURNAL && s->backend != TF_BACKEND_MPI)
        unlink(s->path);
    long kib = run_case(s);
    if (rank != 0)
        return kib < 0;
    return check(s, kib) ? 0 : 1;
}

int main(int argc, char **argv)
{
    char path[64];
    const char *given = getenv("TF_TEST_JOURNAL");
    snprintf(path, sizeof path, "/tmp/tf_memory_%d.journal", getpid());
    spec s = {TF_BACKEND_THREADS, SLOW_TASK, TF_ORDER_INDEX, NO_JOURNAL, 0,
              given != NULL ? given : path};
    s.backend = backend_from_env(s.backend);
    if (argc == 1)
        return matrix(s.backend, s.path);
    if (argc < 4) {
        fprintf(stderr, "usage: test_memory [LOAD ORDER JOURNAL [N] "
                        "[make-journal]]\n");
        return 2;
    }
#ifdef TF_TEST_MPI
    int rank = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    s.backend = TF_BACKEND_MPI;
    int rc = one_case(argc, argv, &s, rank);
    MPI_Finalize();
    return rc;
#else
    return one_case(argc, argv, &s, 0);
#endif
}
