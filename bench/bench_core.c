/*
 * bench_core.c - what libtaskfarm costs, measured side by side in one run.
 *
 *   workload   the tutorial's: fib(n) by the loop algorithm, n = 5000..9999,
 *              on the serial backend, then threads and procs with n_jobs =
 *              CPUs and n_jobs = 32
 *   overhead   100,000 trivial tasks (each writes 8 bytes): wall time per
 *              task of a whole tf_map, farm start and stop included
 *   startup    tf_farm_create + the first run (of one trivial task: an
 *              empty run starts no worker) of a 2-worker farm
 *   journal    the workload on procs with a journal: the default policy
 *              (write each batch, fdatasync every second) and fdatasync
 *              after every record, beside the same run without one
 *   signal     SIGTERM 100 ms into a run of 0.2 ms tasks whose result
 *              callback (0.1 ms each) is the bottleneck: the time from the
 *              kill() to tf_map's return, on each backend
 *
 * Every measurement runs once per round, the rounds interleaved (A B C A B
 * C ...) so that drift on a shared machine hits all alike; the report gives
 * median, min and max, the ratios the issues set targets for, and whether
 * each target was met. Writes JSON to the path given (default
 * build/bench/core.json).
 *
 * usage: bench_core [--rounds N] [--quick] [--json FILE]
 */
#include "fib_task.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_CASES 16
#define MAX_ROUNDS 50
#define TRIVIAL_TASKS 100000

typedef struct bench_case {
    const char *name;
    tf_backend backend;
    int n_jobs;                 /* 0 = CPUs */
    int kind;                   /* WORKLOAD, TRIVIAL, STARTUP */
    int journal;                /* 0 none, 1 default policy, 2 sync each */
    double samples[MAX_ROUNDS];
    double median, min, max;
} bench_case;

enum { WORKLOAD, TRIVIAL, STARTUP, SIGNAL };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int trivial_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    uint64_t v = i;
    return tf_out_append(out, &v, sizeof v);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "bench_core: %s: %s\n", what, tf_strerror(rc));
    exit(1);
}

static tf_options opts_for(const bench_case *c, int cpus)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = c->backend;
    o.n_jobs = c->n_jobs > 0 ? c->n_jobs : cpus;
    return o;
}

/* The tutorial workload, with the examples' own task. Results are checked
 * for count, not kept: keeping them is the caller's cost, not the farm's. */
#define JOURNAL_PATH "/tmp/taskfarm-bench.journal"

static double run_workload(const bench_case *c, int cpus, size_t n)
{
    fib_job job = {5000, FIB_LOOP, NULL};
    tf_options o = opts_for(c, cpus);
    tf_report rep;
    if (c->journal) {
        unlink(JOURNAL_PATH); /* a fresh journal: everything computed */
        o.journal = JOURNAL_PATH;
        o.journal_key = "bench";
        o.journal_key_len = 5;
        o.journal_sync_every = c->journal == 2 ? 1 : 0;
    }
    double t0 = now();
    int rc = tf_map(&o, n, fib_job_task, NULL, NULL, &job, &rep);
    double t = now() - t0;
    if (rc != 0 || rep.n_ok != n || rep.n_replayed != 0)
        fail(c->name, rc != 0 ? rc : TF_ETASKS);
    if (c->journal)
        unlink(JOURNAL_PATH);
    return t;
}

static int check_trivial(void *user, size_t i, const void *data, size_t len)
{
    uint64_t v;
    memcpy(&v, data, sizeof v);
    *(size_t *)user += len == sizeof v && v == i;
    return 0;
}

static double run_trivial(const bench_case *c, int cpus)
{
    tf_options o = opts_for(c, cpus);
    size_t good = 0;
    double t0 = now();
    int rc = tf_map(&o, TRIVIAL_TASKS, trivial_task, check_trivial, NULL,
                    &good, NULL);
    double t = now() - t0;
    if (rc != 0 || good != TRIVIAL_TASKS)
        fail(c->name, rc != 0 ? rc : TF_ETASKS);
    return t / TRIVIAL_TASKS;
}

static double run_startup(const bench_case *c, int cpus)
{
    tf_options o = opts_for(c, cpus);
    tf_farm *farm;
    double t0 = now();
    int rc = tf_farm_create(&farm, &o);
    if (rc == 0)
        rc = tf_farm_run(farm, 1, trivial_task, NULL, NULL, NULL, NULL);
    double t = now() - t0;
    if (rc != 0)
        fail(c->name, rc);
    tf_farm_destroy(farm);
    return t;
}

/* ---- the time from SIGTERM to the return ------------------------------ */

static void spin(double seconds)
{
    double until = now() + seconds;
    while (now() < until)
        ;
}

static int spin_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    spin(200e-6);
    return tf_out_append(out, &i, sizeof i);
}

static int slow_consumer(void *user, size_t i, const void *data, size_t len)
{
    (void)user;
    (void)i;
    (void)data;
    (void)len;
    spin(100e-6);
    return 0;
}

static void *kill_later(void *arg)
{
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    *(double *)arg = now();
    kill(getpid(), SIGTERM);
    return NULL;
}

static double run_signal(const bench_case *c, int cpus)
{
    tf_options o = opts_for(c, cpus);
    double killed = 0;
    pthread_t t;
    pthread_create(&t, NULL, kill_later, &killed);
    tf_report rep;
    int rc = tf_map(&o, 100000, spin_task, slow_consumer, NULL, NULL, &rep);
    double back = now();
    pthread_join(t, NULL);
    if (rc != TF_EINTR || rep.signal != SIGTERM)
        fail(c->name, rc);
    return back - killed;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarize(bench_case *c, int rounds)
{
    double sorted[MAX_ROUNDS];
    memcpy(sorted, c->samples, (size_t)rounds * sizeof(double));
    qsort(sorted, (size_t)rounds, sizeof(double), cmp_double);
    c->min = sorted[0];
    c->max = sorted[rounds - 1];
    c->median = rounds % 2 ? sorted[rounds / 2]
                           : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;
}

/* ---- the report ------------------------------------------------------- */

typedef struct target {
    const char *name;
    double value;
    const char *op;             /* ">=" or "<=" */
    double limit;
    const char *unit;
} target;

static int met(const target *t)
{
    return strcmp(t->op, ">=") == 0 ? t->value >= t->limit
                                    : t->value <= t->limit;
}

static bench_case *find(bench_case *cs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(cs[i].name, name) == 0)
            return &cs[i];
    fprintf(stderr, "bench_core: no case %s\n", name);
    exit(1);
}

static int make_targets(bench_case *cs, int n, int cpus, target *t)
{
    double serial = find(cs, n, "workload/serial")->median;
    double thr = find(cs, n, "workload/threads/cpus")->median;
    double prc = find(cs, n, "workload/procs/cpus")->median;
    double thr32 = find(cs, n, "workload/threads/32")->median;
    double prc32 = find(cs, n, "workload/procs/32")->median;
    int k = 0;
    t[k++] = (target){"threads speedup over serial / CPUs", serial / thr / cpus,
                      ">=", 0.9, ""};
    t[k++] = (target){"procs time / threads time (n_jobs = CPUs)", prc / thr,
                      "<=", 1.03, ""};
    t[k++] = (target){"threads n_jobs=32 / n_jobs=CPUs", thr32 / thr, "<=",
                      1.10, ""};
    t[k++] = (target){"procs n_jobs=32 / n_jobs=CPUs", prc32 / prc, "<=", 1.10,
                      ""};
    t[k++] = (target){"threads per-task overhead (100k trivial tasks)",
                      find(cs, n, "trivial/threads")->median * 1e9, "<=", 100,
                      "ns"};
    t[k++] = (target){"procs per-task overhead (100k trivial tasks)",
                      find(cs, n, "trivial/procs")->median * 1e9, "<=", 1000,
                      "ns"};
    t[k++] = (target){"start a 2-worker process farm",
                      find(cs, n, "startup/procs/2")->median * 1e3, "<=", 2,
                      "ms"};
    t[k++] = (target){"procs with a journal (default policy) / without",
                      find(cs, n, "journal/procs/default")->median / prc,
                      "<=", 1.03, ""};
    const char *sig[] = {"signal/serial", "signal/threads", "signal/procs"};
    for (int i = 0; i < 3; i++)
        t[k++] = (target){sig[i], find(cs, n, sig[i])->median * 1e3, "<=", 100,
                          "ms"};
    return k;
}

static void print_report(bench_case *cs, int n, const target *t, int nt,
                         int rounds, const tf_cpus *cpus)
{
    printf("bench_core: %d rounds, interleaved; %d CPUs (from %s)\n", rounds,
           cpus->count, tf_cpus_source_name(cpus->source));
    printf("%-26s %12s %12s %12s\n", "case", "median", "min", "max");
    for (int i = 0; i < n; i++) {
        double scale = cs[i].kind == TRIVIAL ? 1e9 : 1e3;
        const char *unit = cs[i].kind == TRIVIAL ? "ns/task" : "ms";
        printf("%-26s %9.3f %-2s %9.3f %-2s %9.3f %s\n", cs[i].name,
               cs[i].median * scale, "", cs[i].min * scale, "",
               cs[i].max * scale, unit);
    }
    printf("\ntargets (medians):\n");
    for (int i = 0; i < nt; i++)
        printf("  %-48s %8.3f %-2s  %s %g %s  %s\n", t[i].name, t[i].value,
               t[i].unit, t[i].op, t[i].limit, t[i].unit,
               met(&t[i]) ? "met" : "MISSED");
}

static void write_json(const char *path, bench_case *cs, int n,
                       const target *t, int nt, int rounds,
                       const tf_cpus *cpus)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench_core: cannot write %s: %s\n", path,
                strerror(errno));
        exit(1);
    }
    struct utsname u;
    uname(&u);
    time_t tnow = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&tnow));
    fprintf(f, "{\"machine\": {\"cpus\": %d, \"cpus_source\": \"%s\", "
               "\"system\": \"%s %s %s\", \"date\": \"%s\"},\n"
               " \"rounds\": %d,\n \"results\": [",
            cpus->count, tf_cpus_source_name(cpus->source), u.sysname,
            u.release, u.machine, date, rounds);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\n  {\"case\": \"%s\", \"median_s\": %.9f, "
                   "\"min_s\": %.9f, \"max_s\": %.9f, \"runs\": %d}",
                i ? "," : "", cs[i].name, cs[i].median, cs[i].min, cs[i].max,
                rounds);
    fprintf(f, "\n ],\n \"targets\": [");
    for (int i = 0; i < nt; i++)
        fprintf(f, "%s\n  {\"name\": \"%s\", \"value\": %.6f, \"unit\": \"%s\", "
                   "\"op\": \"%s\", \"limit\": %g, \"met\": %s}",
                i ? "," : "", t[i].name, t[i].value, t[i].unit, t[i].op,
                t[i].limit, met(&t[i]) ? "true" : "false");
    fprintf(f, "\n ]}\n");
    fclose(f);
}

int main(int argc, char **argv)
{
    int rounds = 5;
    size_t n_values = 5000;
    const char *json = "build/bench/core.json";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            rounds = 2, n_values = 500;
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else {
            fprintf(stderr, "usage: bench_core [--rounds N] [--quick] "
                            "[--json FILE]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench_core: --rounds must be 1..%d\n", MAX_ROUNDS);
        return 2;
    }
    tf_cpus cpus;
    tf_cpus_detect(&cpus);
    bench_case cs[] = {
        {"workload/serial", TF_BACKEND_SERIAL, 1, WORKLOAD, 0, {0}, 0, 0, 0},
        {"workload/threads/cpus", TF_BACKEND_THREADS, 0, WORKLOAD, 0, {0}, 0, 0, 0},
        {"workload/procs/cpus", TF_BACKEND_PROCS, 0, WORKLOAD, 0, {0}, 0, 0, 0},
        {"workload/threads/32", TF_BACKEND_THREADS, 32, WORKLOAD, 0, {0}, 0, 0, 0},
        {"workload/procs/32", TF_BACKEND_PROCS, 32, WORKLOAD, 0, {0}, 0, 0, 0},
        {"trivial/threads", TF_BACKEND_THREADS, 0, TRIVIAL, 0, {0}, 0, 0, 0},
        {"trivial/procs", TF_BACKEND_PROCS, 0, TRIVIAL, 0, {0}, 0, 0, 0},
        {"startup/threads/2", TF_BACKEND_THREADS, 2, STARTUP, 0, {0}, 0, 0, 0},
        {"startup/procs/2", TF_BACKEND_PROCS, 2, STARTUP, 0, {0}, 0, 0, 0},
        {"journal/procs/default", TF_BACKEND_PROCS, 0, WORKLOAD, 1, {0}, 0, 0, 0},
        {"journal/procs/sync-each", TF_BACKEND_PROCS, 0, WORKLOAD, 2, {0}, 0, 0, 0},
        {"signal/serial", TF_BACKEND_SERIAL, 1, SIGNAL, 0, {0}, 0, 0, 0},
        {"signal/threads", TF_BACKEND_THREADS, 0, SIGNAL, 0, {0}, 0, 0, 0},
        {"signal/procs", TF_BACKEND_PROCS, 0, SIGNAL, 0, {0}, 0, 0, 0},
    };
    int n = (int)(sizeof cs / sizeof *cs);
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) {
            bench_case *c = &cs[i];
            c->samples[r] = c->kind == WORKLOAD ? run_workload(c, cpus.count,
                                                               n_values)
                            : c->kind == TRIVIAL ? run_trivial(c, cpus.count)
                            : c->kind == SIGNAL  ? run_signal(c, cpus.count)
                                                 : run_startup(c, cpus.count);
        }
        fprintf(stderr, "round %d/%d done\n", r + 1, rounds);
    }
    for (int i = 0; i < n; i++)
        summarize(&cs[i], rounds);
    target t[16];
    int nt = make_targets(cs, n, cpus.count, t);
    print_report(cs, n, t, nt, rounds, &cpus);
    write_json(json, cs, n, t, nt, rounds, &cpus);
    printf("\nwrote %s\n", json);
    return 0;
}
