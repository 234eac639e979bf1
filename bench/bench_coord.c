/*
 * bench_coord.c - what rank 0 costs per batch, and what that makes of it
 * at cluster scale. Measures; never fails a build.
 *
 *   bench_coord mpi [--batch-size K] [--tasks N] [--rounds R]
 *       under mpirun: rank 0's own CPU time per batch (its thread's CPU
 *       clock, CLOCK_THREAD_CPUTIME_ID, around tf_farm_run: wall time on
 *       oversubscribed ranks would measure the scheduler), on trivial
 *       tasks (8 bytes each), so that rank 0 is the bottleneck. Rank 0's
 *       own tasks spin 20 µs (counted) so that few run; that, their core cost
 *       (--own-us each, what `mpirun -n 1` gives as cpu_per_batch_us) and
 *       the empty probes are taken out: what is left, over the other
 *       ranks' batches, is remote_us_per_batch.
 *   bench_coord fake [--workers W] [--task-us T] [--minutes M]
 *                    [--batch-us B] [--result-ns R] [--batch-size K]
 *                    [--completed]
 *       W fake workers (tests/fakeworld.c) against the real run loop, in
 *       virtual time: tasks of T µs, a run of M minutes of wall time, MPI
 *       modelled as B µs per batch and R ns per task on top of the core's
 *       measured CPU. Prints rank 0's busy fraction and the run's tail.
 *   bench_coord model [--quick] [--task-us T] [--batch-us B] [--result-ns R]
 *       the table: W = 64, 1,024, 4,096 and 16,384 (--quick: 64 and 1,024,
 *       a 2 s run) at the default automatic batch size. Defaults for fake
 *       and model: T = 10,000, B = 20.5, R = 10 (TCP, as measured here).
 */
#include "fakeworld.h"

#include <mpi.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct args {
    size_t batch_size, tasks;
    int workers, rounds, quick, completed;
    double task_us, minutes, batch_us, result_ns, own_us;
} args;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long maxrss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse(int argc, char **argv, args *a)
{
    /* The model's defaults: 10 ms tasks, and the transport costs that
     * `mpi` measured over TCP (medians, bench/README.md). */
    *a = (args){.tasks = 400000, .workers = 64, .rounds = 3,
                .task_us = 10000, .minutes = 1, .batch_us = 20.5,
                .result_ns = 10};
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(k, "--quick") == 0 || strcmp(k, "--completed") == 0) {
            *(strcmp(k, "--quick") == 0 ? &a->quick : &a->completed) = 1;
            continue;
        }
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(k, "--batch-size") == 0)
            a->batch_size = strtoull(v, NULL, 10);
        else if (strcmp(k, "--tasks") == 0)
            a->tasks = strtoull(v, NULL, 10);
        else if (strcmp(k, "--workers") == 0)
            a->workers = atoi(v);
        else if (strcmp(k, "--rounds") == 0)
            a->rounds = atoi(v);
        else if (strcmp(k, "--task-us") == 0)
            a->task_us = atof(v);
        else if (strcmp(k, "--minutes") == 0)
            a->minutes = atof(v);
        else if (strcmp(k, "--batch-us") == 0)
            a->batch_us = atof(v);
        else if (strcmp(k, "--own-us") == 0)
            a->own_us = atof(v);
        else if (strcmp(k, "--result-ns") == 0)
            a->result_ns = atof(v);
        else
            return -1;
    }
    return a->workers > 0 && a->rounds > 0 && a->task_us > 0 ? 0 : -1;
}

/* ---- the tasks: 8 bytes each, checked in order ------------------------- */

typedef struct counter {
    size_t next, bad, own;
    int spin, any_order;
    double own_cpu;
} counter;

static int task(void *user, size_t i, tf_out *out)
{
    counter *c = user;
    if (c->spin && tf_out_worker(out) == 0) {
        /* MPI: rank 0 computing, one task a batch. It spins 20 µs of its
         * CPU clock, counted, so that the other ranks' batches pile up
         * meanwhile and few of its own run. */
        c->own++;
        double t0 = thread_cpu(), t;
        while ((t = thread_cpu()) - t0 < 20e-6)
            ;
        c->own_cpu += t - t0;
    }
    uint64_t v = i;
    return tf_out_append(out, &v, sizeof v);
}

static int on_result(void *user, size_t i, const void *data, size_t len)
{
    counter *c = user;
    uint64_t v;
    memcpy(&v, data, sizeof v);
    c->bad += len != sizeof v || v != i || (!c->any_order && i != c->next);
    c->next = c->any_order ? c->next + 1 : i + 1;
    return 0;
}

/* ---- mpi ------------------------------------------------------------- */

/* Rank 0 computes a task of its own whenever no result waits, and probes
 * before each: its CPU time is own tasks + probes + batches from the
 * other ranks. The probes are counted here through MPI's profiling
 * interface (PMPI), so that the batches' share can be taken apart. */
static size_t probes, probe_hits;

int MPI_Iprobe(int source, int tag, MPI_Comm comm, int *flag,
               MPI_Status *status)
{
    int rc = PMPI_Iprobe(source, tag, comm, flag, status);
    probes++;
    probe_hits += *flag != 0;
    return rc;
}

/* Rank 0 probes with MPI_Improbe since a result is one message. */
int MPI_Improbe(int source, int tag, MPI_Comm comm, int *flag,
                MPI_Message *message, MPI_Status *status)
{
    int rc = PMPI_Improbe(source, tag, comm, flag, message, status);
    probes++;
    probe_hits += *flag != 0;
    return rc;
}

/* One empty probe's CPU time (nothing is sent while the others wait). */
static double probe_cost(void)
{
    int flag;
    MPI_Status st;
    double c0 = thread_cpu();
    for (int i = 0; i < 20000; i++)
        PMPI_Iprobe(MPI_ANY_SOURCE, 999, MPI_COMM_WORLD, &flag, &st);
    return (thread_cpu() - c0) / 20000;
}

static int run_mpi(const args *a)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.batch_size = a->batch_size;
    tf_farm *farm = NULL;
    int rc = tf_farm_create(&farm, &o);
    if (rc != 0) {
        fprintf(stderr, "bench_coord: %s\n", tf_strerror(rc));
        return 1;
    }
    for (int round = 0; round < a->rounds && rc == 0; round++) {
        counter c = {.spin = size > 1};
        MPI_Barrier(MPI_COMM_WORLD);
        probes = probe_hits = 0;
        double t0 = wall(), c0 = thread_cpu();
        rc = tf_farm_run(farm, a->tasks, task, on_result, NULL, &c, NULL);
        double cpu = thread_cpu() - c0, secs = wall() - t0;
        if (rank != 0) {
            MPI_Barrier(MPI_COMM_WORLD);
            continue;
        }
        double probe_s = probe_cost(); /* connections up, the others idle */
        MPI_Barrier(MPI_COMM_WORLD);
        size_t k = a->batch_size ? a->batch_size : 1;
        double remote = (double)(a->tasks - c.own) / (double)k;
        /* Rank 0's own tasks at the cost one rank alone measures
         * (--own-us, from mpirun -n 1), empty probes at probe_s: the rest
         * is what the other ranks' batches cost it. */
        double rest = cpu - c.own_cpu - (double)c.own * a->own_us * 1e-6 -
                      (double)(probes - probe_hits) * probe_s;
        printf("mpi ranks=%d batch_size=%zu tasks=%zu remote_batches=%.0f "
               "own=%zu probes=%zu hits=%zu probe_us=%.3f cpu_s=%.3f "
               "wall_s=%.3f cpu_per_batch_us=%.3f remote_us_per_batch=%.3f "
               "rank0_maxrss_kib=%ld ok=%d\n",
               size, a->batch_size, a->tasks, remote, c.own, probes,
               probe_hits, probe_s * 1e6, cpu, secs,
               cpu / ((double)c.own + remote) * 1e6,
               remote > 0 ? rest / remote * 1e6 : 0, maxrss_kib(),
               rc == 0 && c.bad == 0 && c.next == a->tasks);
        fflush(stdout);
    }
    tf_farm_destroy(farm);
    return rc == 0 ? 0 : 1;
}

/* ---- fake ------------------------------------------------------------ */

static int run_fake(const args *a, int print)
{
    fw_config c = {.workers = a->workers, .task_s = a->task_us * 1e-6,
                   .jitter = 0.2, .batch_s = a->batch_us * 1e-6,
                   .result_s = a->result_ns * 1e-9, .timed = 1};
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_SERIAL;
    o.batch_size = a->batch_size;
    o.order = a->completed ? TF_ORDER_COMPLETED : TF_ORDER_INDEX;
    o.worker_user = &c;
    size_t n = a->tasks;
    if (a->minutes > 0) /* the run's length on W workers */
        n = (size_t)(a->minutes * 60 / c.task_s * a->workers);
    tf_farm *farm = NULL;
    int rc = tf__farm_create_on(&farm, &o, fw_transport());
    if (rc != 0) {
        fprintf(stderr, "bench_coord: %s\n", tf_strerror(rc));
        return 1;
    }
    counter k = {.any_order = a->completed};
    rc = tf_farm_run(farm, n, task, on_result, NULL, &k, NULL);
    tf_farm_destroy(farm);
    int ok = rc == 0 && k.bad == 0 && k.next == n;
    double tail = c.first_idle_s >= 0 ? c.end_s - c.first_idle_s : 0;
    if (print)
        printf("fake workers=%d task_us=%g tasks=%zu batches=%zu "
               "mean_batch=%.1f max_batch=%zu core_us_per_batch=%.3f "
               "busy=%.2f%% run_s=%.3f tail_s=%.4f tail=%.2f%% ok=%d\n",
               a->workers, a->task_us, n, c.batches,
               (double)c.tasks / (double)c.batches, c.max_batch,
               c.core_cpu_s / (double)c.batches * 1e6,
               100 * c.busy_s / c.end_s, c.end_s, tail,
               100 * tail / c.end_s, ok);
    fflush(stdout);
    return ok ? 0 : 1;
}

static int run_model(const args *a)
{
    static const int full[] = {64, 1024, 4096, 16384};
    int count = a->quick ? 2 : 4, rc = 0;
    for (int i = 0; i < count; i++) {
        args one = *a;
        one.workers = full[i];
        if (a->quick)
            one.minutes = 2.0 / 60;
        rc |= run_fake(&one, 1);
    }
    return rc;
}

int main(int argc, char **argv)
{
    args a;
    if (argc < 2 || parse(argc, argv, &a) != 0) {
        fprintf(stderr, "usage: bench_coord mpi|fake|model [options] "
                        "(see bench/README.md)\n");
        return 2;
    }
    if (strcmp(argv[1], "mpi") == 0) {
        MPI_Init(&argc, &argv);
        int rc = run_mpi(&a);
        MPI_Finalize();
        return rc;
    }
    if (strcmp(argv[1], "fake") == 0)
        return run_fake(&a, 1);
    if (strcmp(argv[1], "model") == 0)
        return run_model(&a);
    fprintf(stderr, "bench_coord: unknown mode '%s'\n", argv[1]);
    return 2;
}
