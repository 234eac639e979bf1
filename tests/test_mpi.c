/*
 * test_mpi.c - the MPI backend against the task model, on however many
 * ranks mpirun starts (CTest runs it on 1, 2, 3 and 4): results identical
 * to the serial backend for varied N (N = 0, N below the world size),
 * index order, each index once as completed, variable sizes, a failing
 * task reported on rank 0, the same return code and report on every rank,
 * a wrong n_jobs and a time limit refused, SIGTERM on rank 0 mid-run
 * (every rank returns TF_EINTR, promptly; the journal completes the
 * rerun), and progress reported on rank 0 only. The pool calls: task
 * inputs written on rank 0 reach the right task on every rank (0 bytes to
 * over 1 MiB, new inputs on a reused farm), tf_out_worker is the rank and
 * covers every rank, the start hook runs once per rank and its failure on
 * one rank fails the run on all, error text travels from the ranks,
 * tf_farm_cancel on rank 0 stops every rank (refused elsewhere), and 1 MiB
 * inputs keep rank 0's memory bounded. A broken result message from a
 * rank (too long, too short) is dropped, and that rank gets no more work.
 *
 * A plain SPMD program, not cmocka: every rank runs every check, the
 * failures are summed over the ranks, and rank 0 prints the closing line.
 */
#include "taskfarm.h"
#include "testkit.h"
#include "wire.h"

#include <mpi.h>
#include <sys/resource.h>
#include <signal.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rank, world;
static int passed, failed;

static void check(int ok, const char *what, size_t n)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    fprintf(stderr, "rank %d: FAIL: %s (N = %zu)\n", rank, what, n);
}

typedef struct probe {
    size_t n, next, delivered, errors, big_every;
    size_t fail_every;
    unsigned char *seen;
    int ordered, bad;
    uint64_t digest;
} probe;

static size_t size_of(const probe *p, size_t i)
{
    if (p->big_every != 0 && i % p->big_every == 3)
        return (size_t)1 << 20;
    return (size_t)(mix(i) % 40);
}

static int task(void *user, size_t i, tf_out *out)
{
    const probe *p = user;
    if (p->fail_every != 0 && i % p->fail_every == 7)
        return 9;
    size_t len = size_of(p, i);
    unsigned char *d = tf_out_extend(out, len);
    for (size_t k = 0; k < len; k++)
        d[k] = (unsigned char)mix(i * 7 + k);
    return 0;
}

static int on_result(void *user, size_t i, const void *data, size_t len)
{
    probe *p = user;
    const unsigned char *d = data;
    if (len != size_of(p, i) || i >= p->n)
        p->bad = 1;
    for (size_t k = 0; k < len && !p->bad; k++)
        p->bad |= d[k] != (unsigned char)mix(i * 7 + k);
    if (p->ordered && i < p->next)
        p->bad = 1;
    if (!p->ordered && p->seen[i]++)
        p->bad = 1;
    p->next = i + 1;
    p->delivered++;
    p->digest += mix(i + len * 0x9e3779b97f4a7c15ULL);
    return 0;
}

static int on_error(void *user, const tf_task_error *e)
{
    probe *p = user;
    p->errors++;
    p->bad |= e->kind != TF_FAIL_ERROR || e->code != 9 || e->index % 100 != 7;
    return 0;
}

/* Runs N tasks on `backend`; returns the code, fills *p and *rep. */
static int run(tf_backend backend, size_t n, size_t batch, tf_order order,
               probe *p, tf_report *rep, size_t fail_every, size_t big_every)
{
    memset(p, 0, sizeof(*p));
    p->n = n;
    p->ordered = order == TF_ORDER_INDEX;
    p->fail_every = fail_every;
    p->big_every = big_every;
    p->seen = calloc(n > 0 ? n : 1, 1);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = backend;
    o.batch_size = batch;
    o.order = order;
    int rc = tf_map(&o, n, task, on_result, on_error, p, rep);
    free(p->seen);
    return rc;
}

/* Every rank must have returned rc; rank 0 compares with the serial run. */
static void same_as_serial(size_t n, size_t batch, tf_order order)
{
    probe mp, ser;
    tf_report mrep, srep;
    int rc = run(TF_BACKEND_MPI, n, batch, order, &mp, &mrep, 0, 0);
    check(rc == 0, "mpi run returns 0 on every rank", n);
    check(mrep.n_ok == n && mrep.n_failed == 0, "report on every rank", n);
    if (rank != 0) {
        check(mp.delivered == 0, "callbacks only on rank 0", n);
        return;
    }
    run(TF_BACKEND_SERIAL, n, 0, TF_ORDER_INDEX, &ser, &srep, 0, 0);
    check(!mp.bad, "results, order, each index once", n);
    check(mp.delivered == n, "every result delivered", n);
    check(mp.digest == ser.digest, "same results as serial", n);
}

static void failing_tasks(void)
{
    probe p;
    tf_report rep;
    size_t n = 1000;
    int rc = run(TF_BACKEND_MPI, n, 0, TF_ORDER_INDEX, &p, &rep, 100, 0);
    check(rc == TF_ETASKS, "a failing task gives TF_ETASKS on every rank", n);
    check(rep.n_failed == 10 && rep.n_ok == 990, "failures counted", n);
    check(rep.has_error && rep.first_error.index == 7,
          "first failure named on every rank", n);
    if (rank == 0)
        check(p.errors == 10 && p.delivered == 990 && !p.bad,
              "errors reported on rank 0, the rest delivered", n);
}

static void big_results(void)
{
    probe p;
    tf_report rep;
    size_t n = 60;
    int rc = run(TF_BACKEND_MPI, n, 0, TF_ORDER_INDEX, &p, &rep, 0, 10);
    check(rc == 0 && rep.n_ok == n, "1 MiB results travel", n);
    if (rank == 0)
        check(!p.bad && p.delivered == n, "1 MiB results intact", n);
}

/* Journal on rank 0 only; a second run replays everything, and no rank
 * waits for work that never comes. */
static void journaled(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/tf_mpi_journal_%d", world);
    if (rank == 0)
        unlink(path);
    MPI_Barrier(MPI_COMM_WORLD);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.journal = path;
    o.journal_key = "mpi";
    o.journal_key_len = 3;
    for (int round = 0; round < 2; round++) {
        probe p;
        memset(&p, 0, sizeof p);
        p.n = 500;
        p.ordered = 1;
        p.seen = calloc(p.n, 1);
        tf_report rep;
        int rc = tf_map(&o, p.n, task, on_result, on_error, &p, &rep);
        check(rc == 0 && rep.n_ok == p.n, "journaled run on every rank", p.n);
        check(rep.n_replayed == (round == 0 ? 0 : p.n),
              "second run replays all, the same on every rank", p.n);
        if (rank == 0)
            check(!p.bad && p.delivered == p.n, "journaled results", p.n);
        free(p.seen);
    }
    if (rank == 0)
        unlink(path);
}

/* A journal refused on rank 0 (here: made by another run) is refused on
 * every rank, and no rank waits for work that never comes. */
static void journal_refused(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/tf_mpi_refused_%d", world);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.journal = path;
    o.journal_key = "first";
    o.journal_key_len = 5;
    if (rank == 0)
        unlink(path);
    MPI_Barrier(MPI_COMM_WORLD);
    probe p;
    memset(&p, 0, sizeof p);
    p.n = 50;
    p.ordered = 1;
    p.seen = calloc(p.n, 1);
    tf_report rep;
    check(tf_map(&o, p.n, task, on_result, on_error, &p, &rep) == 0,
          "a journal of its own", p.n);
    o.journal_key = "other";
    int rc = tf_map(&o, p.n, task, on_result, on_error, &p, &rep);
    check(rc == TF_EJOURNAL && rep.journal_problem == TF_JOURNAL_OTHER_KEY,
          "another run's journal refused on every rank", p.n);
    free(p.seen);
    if (rank == 0)
        unlink(path);
}

static void wrong_world(void)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.n_jobs = world + 1;
    tf_farm *farm = NULL;
    check(tf_farm_create(&farm, &o) == TF_EWORLD && farm == NULL,
          "n_jobs other than the world size refused", 0);
    o.n_jobs = -1;
    check(tf_farm_create(&farm, &o) == 0 && tf_farm_workers(farm) == world,
          "n_jobs -1 is the world size", 0);
    tf_farm_destroy(farm);
}

/* ---- SIGTERM on rank 0 in the middle of a run ------------------------ */

typedef struct stopper {
    size_t delivered, raise_at;
    double raised_at;
    unsigned char *seen;   /* delivered before the signal */
    int bad;
} stopper;

static int spin_task(void *user, size_t i, tf_out *out)
{
    const stopper *s = user;
    if (s->seen != NULL && s->seen[i])
        return 99; /* delivered before: the rerun must replay it */
    spin_for(200e-6);
    uint64_t v = mix(i);
    return tf_out_append(out, &v, sizeof v);
}

static int stopping_result(void *user, size_t i, const void *data, size_t len)
{
    stopper *s = user;
    uint64_t v;
    memcpy(&v, data, sizeof v);
    if (len != sizeof v || v != mix(i))
        s->bad = 1;
    if (s->seen != NULL)
        s->seen[i] = 1;
    if (++s->delivered == s->raise_at) {
        s->raised_at = now();
        raise(SIGTERM);
    }
    return 0;
}

static void interrupted(tf_order order, int journaled)
{
    const size_t n = 4000;
    char path[64];
    snprintf(path, sizeof path, "/tmp/tf_mpi_sig_%d", world);
    if (rank == 0)
        unlink(path);
    MPI_Barrier(MPI_COMM_WORLD);
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.order = order;
    if (journaled) {
        o.journal = path;
        o.journal_key = "sig";
        o.journal_key_len = 3;
    }
    unsigned char *seen = calloc(n, 1);
    stopper s = {0, 300, 0, seen, 0};
    tf_report rep;
    int rc = tf_map(&o, n, spin_task, stopping_result, NULL, &s, &rep);
    double took = now() - s.raised_at;
    check(rc == TF_EINTR && rep.signal == SIGTERM,
          "SIGTERM on rank 0: TF_EINTR on every rank", n);
    if (rank == 0)
        check(!s.bad && took < 1.0 && rep.n_ok == s.delivered,
              "returned within 1 s of the signal, delivered intact", n);
    if (journaled) {
        MPI_Bcast(seen, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
        stopper again = {0, 0, 0, NULL, 0};
        again.seen = seen;
        rc = tf_map(&o, n, spin_task, stopping_result, NULL, &again, &rep);
        check(rc == 0 && rep.n_ok == n && !again.bad,
              "the rerun completes from the journal", n);
    }
    free(seen);
    if (rank == 0)
        unlink(path);
}

/* ---- what only rank 0 does, and what MPI cannot do -------------------- */

static void count_progress(void *user, size_t done, size_t total,
                           double elapsed)
{
    (void)done;
    (void)total;
    (void)elapsed;
    ++*(int *)user;
}

static void progress_and_limits(void)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    int calls = 0;
    o.on_progress = count_progress;
    o.progress_user = &calls;
    probe p;
    memset(&p, 0, sizeof p);
    p.n = 300;
    p.ordered = 1;
    p.seen = calloc(p.n, 1);
    tf_map(&o, p.n, task, on_result, on_error, &p, NULL);
    free(p.seen);
    check(rank == 0 ? calls >= 1 : calls == 0, "progress on rank 0 only",
          p.n);
    o = (tf_options)TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.task_timeout = 1;
    tf_farm *farm = NULL;
    check(tf_farm_create(&farm, &o) == TF_EINVAL && farm == NULL,
          "a time limit is refused: a rank cannot be killed", 0);
}

/* ---- the pool calls ---------------------------------------------------- */

static int map_with_inputs(const tf_options *o, const tf_run_options *ro,
                           size_t n, tf_task_fn fn, tf_report *rep)
{
    tf_farm *farm = NULL;
    int rc = tf_farm_create(&farm, o);
    if (rc == 0)
        rc = tf_farm_run_with(farm, ro, n, fn, NULL, NULL, NULL, rep);
    tf_farm_destroy(farm);
    return rc;
}

typedef struct feed {
    uint64_t salt;
    size_t next, bad, inputs;
} feed;

static size_t feed_len(const feed *f, size_t i)
{
    if (i % 50 == 1)
        return ((size_t)1 << 20) + 3;
    return (size_t)(mix(i ^ f->salt) % 64);
}

static uint64_t fnv(const unsigned char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t k = 0; k < len; k++)
        h = (h ^ p[k]) * 1099511628211ULL;
    return h;
}

static unsigned char feed_byte(const feed *f, size_t i, size_t k)
{
    return (unsigned char)mix(i * 7919 + k + f->salt);
}

static int feed_input(void *user, size_t i, tf_out *in)
{
    feed *f = user;
    size_t len = feed_len(f, i);
    unsigned char *p = tf_out_extend(in, len);
    if (p == NULL && len > 0)
        return 1;
    for (size_t k = 0; k < len; k++)
        p[k] = feed_byte(f, i, k);
    f->inputs++;
    return 0;
}

static int feed_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    uint64_t e[3] = {i, tf_in_len(out), fnv(tf_in_data(out), tf_in_len(out))};
    return tf_out_append(out, e, sizeof e);
}

static int feed_result(void *user, size_t i, const void *data, size_t len)
{
    feed *f = user;
    uint64_t e[3];
    size_t want = feed_len(f, i);
    unsigned char *buf = malloc(want + 1);
    for (size_t k = 0; k < want; k++)
        buf[k] = feed_byte(f, i, k);
    memcpy(e, data, len < sizeof e ? len : sizeof e);
    if (len != sizeof e || i != f->next || e[0] != i || e[1] != want ||
        e[2] != fnv(buf, want))
        f->bad++;
    free(buf);
    f->next++;
    return 0;
}

static void pool_inputs(void)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    tf_farm *farm = NULL;
    check(tf_farm_create(&farm, &o) == 0, "farm for inputs", 0);
    for (uint64_t salt = 1; salt <= 2; salt++) {
        size_t n = 150 * (size_t)salt;
        feed f = {salt * 1000, 0, 0, 0};
        tf_run_options ro = TF_RUN_OPTIONS_INIT;
        ro.on_input = feed_input;
        int rc = tf_farm_run_with(farm, &ro, n, feed_task, feed_result, NULL,
                                  &f, NULL);
        check(rc == 0, "inputs: the run succeeds on every rank", n);
        if (rank == 0)
            check(f.bad == 0 && f.next == n && f.inputs >= n,
                  "inputs: each task got its own input", n);
        else
            check(f.inputs == 0, "inputs: written on rank 0 only", n);
    }
    tf_farm_destroy(farm);
}

/* 400 inputs of 1 MiB (400 MiB) to quick tasks: rank 0's peak RSS grows
 * by far less, as inputs count in the farm's bound on memory. */
#define MIB ((size_t)1 << 20)

static int mib_input(void *user, size_t i, tf_out *in)
{
    (void)user;
    unsigned char *p = tf_out_extend(in, MIB);
    if (p == NULL)
        return 1;
    memset(p, (int)(i & 0xff), MIB);
    return 0;
}

static int mib_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    const unsigned char *p = tf_in_data(out);
    if (tf_in_len(out) != MIB || p[0] != (unsigned char)(i & 0xff) ||
        p[MIB - 1] != (unsigned char)(i & 0xff))
        return 1;
    return tf_out_append(out, &i, sizeof i);
}

static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void pool_inputs_memory(void)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.on_input = mib_input;
    tf_report rep;
    long before = peak_kib();
    int rc = map_with_inputs(&o, &ro, 400, mib_task, &rep);
    long grew = peak_kib() - before;
    check(rc == 0 && rep.n_ok == 400, "1 MiB inputs: every task got its own",
          400);
    if (rank == 0)
        check(grew < 128 * 1024, "1 MiB inputs: rank 0's memory bounded",
              400);
}

static int starts, stops, hook_rank_ok = 1, fail_on_rank = -1;

static int count_start(void *user, int w)
{
    (void)user;
    starts++;
    hook_rank_ok &= w == rank;
    return w == fail_on_rank ? -1 : 0;
}

static int count_stop(void *user, int w)
{
    (void)user;
    stops++;
    hook_rank_ok &= w == rank;
    return 0;
}

static int rank_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    (void)i;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
    int w = tf_out_worker(out);
    return tf_out_append(out, &w, sizeof w);
}

static int note_rank(void *user, size_t i, const void *data, size_t len)
{
    (void)i;
    int *seen = user, w;
    memcpy(&w, data, sizeof w < len ? sizeof w : len);
    if (len == sizeof w && w >= 0 && w < world && w < 64)
        seen[w]++;
    else
        seen[63] = -1000000;
    return 0;
}

static void pool_workers_and_hooks(void)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.batch_size = 1;
    o.on_worker_start = count_start;
    o.on_worker_stop = count_stop;
    tf_farm *farm = NULL;
    starts = stops = 0;
    check(tf_farm_create(&farm, &o) == 0, "farm with hooks", 0);
    int seen[64] = {0};
    for (int k = 0; k < 2; k++)
        check(tf_farm_run(farm, 40 * (size_t)world, rank_task, note_rank,
                          NULL, seen, NULL) == 0,
              "hooks: runs succeed", 0);
    check(starts == 1 && stops == 0, "start hook once per rank", 0);
    tf_farm_destroy(farm);
    check(stops == 1 && hook_rank_ok, "stop hook once, with the rank", 0);
    if (rank == 0) {
        int all = seen[63] >= 0;
        for (int w = 0; w < world && w < 63; w++)
            all &= seen[w] > 0;
        check(all, "tf_out_worker is the rank, every rank seen", 0);
    }
    /* A failing start hook on the last rank fails the run on all. */
    fail_on_rank = world - 1;
    check(tf_farm_create(&farm, &o) == 0, "farm with a failing hook", 0);
    check(tf_farm_run(farm, 10, rank_task, NULL, NULL, NULL, NULL) ==
              TF_EWORKER,
          "a failing start hook: TF_EWORKER on every rank", 0);
    check(tf_farm_run(farm, 10, rank_task, NULL, NULL, NULL, NULL) ==
              TF_EWORKER,
          "and the farm stays refused", 0);
    tf_farm_destroy(farm);
    fail_on_rank = -1;
}

static int speaking_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    if (i % 10 != 3)
        return tf_out_append(out, &i, sizeof i);
    char msg[300];
    int n = snprintf(msg, sizeof msg, "task %zu on rank %d: ", i, rank);
    memset(msg + n, 'z', sizeof msg - (size_t)n - 1);
    msg[sizeof msg - 1] = '\0';
    tf_out_error(out, i == 3 ? msg : "short");
    return 2;
}

static int hear(void *user, const tf_task_error *e)
{
    int *bad = user;
    const char *want = e->index == 3 ? "task 3 on rank " : "short";
    if (strncmp(e->message, want, strlen(want)) != 0 ||
        strlen(e->message) != (e->index == 3 ? 127 : 5))
        (*bad)++;
    return 0;
}

static void pool_error_text(void)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.batch_size = 2;
    int bad = 0;
    tf_report rep;
    int rc = tf_map(&o, 100, speaking_task, NULL, hear, &bad, &rep);
    check(rc == TF_ETASKS && bad == 0, "error text from the ranks", 100);
    check(rep.has_error && strncmp(rep.first_error.message, "task 3 on rank ",
                                   15) == 0 &&
              strlen(rep.first_error.message) == 127,
          "first_error.message on every rank", 100);
}

static tf_farm *cancel_farm;

static int cancel_at_100(void *user, size_t i, const void *data, size_t len)
{
    (void)data;
    (void)len;
    (*(size_t *)user)++;
    if (i == 100)
        tf_farm_cancel(cancel_farm);
    return 0;
}

static void pool_cancel(void)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.batch_size = 4;
    check(tf_farm_create(&cancel_farm, &o) == 0, "farm for cancel", 0);
    int rc = tf_farm_cancel(cancel_farm);
    check(rc == (rank == 0 ? 0 : TF_EINVAL),
          "tf_farm_cancel: rank 0 only", 0);
    size_t got = 0;
    rc = tf_farm_run(cancel_farm, 100, rank_task, cancel_at_100, NULL, &got,
                     NULL);
    check(rc == 0, "a cancel between runs changes nothing", 0);
    got = 0;
    tf_report rep;
    rc = tf_farm_run(cancel_farm, 100000, rank_task, cancel_at_100, NULL,
                     &got, &rep);
    check(rc == TF_ECANCELED, "tf_farm_cancel: TF_ECANCELED on every rank",
          0);
    check(rep.n_ok < 100000 && (rank != 0 || rep.n_ok == got),
          "cancelled: what was delivered is reported", 0);
    tf_farm_destroy(cancel_farm);
}

/* ---- a broken result message ---------------------------------------- */

/* Through MPI's profiling interface, rank 1 sends its first result of a
 * run broken in place of the real one (the one send from a worker rank
 * to rank 0 with a derived datatype: the result, wire.h). Rank 0 must
 * drop it and give rank 1 no more work: it computes at most the one job
 * already in its inbox, and the run completes on the other ranks. */
enum { WHOLE, OVERSIZED, TINY };
static int breaking, broke, after_broken;

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
              int tag, MPI_Comm comm, MPI_Request *req)
{
    if (breaking == WHOLE || broke || rank != 1 || dest != 0 ||
        type == MPI_BYTE)
        return PMPI_Isend(buf, count, type, dest, tag, comm, req);
    int size = 0, len = 0;
    MPI_Pack_size(count, type, comm, &size);
    unsigned char *msg = calloc((size_t)size + 8, 1);
    MPI_Pack(buf, count, type, msg, size, &len, comm);
    if (breaking == OVERSIZED) { /* 8 stray bytes before the header */
        size_t h = sizeof(tf__wire_result);
        memmove(msg + len - h + 8, msg + len - h, h);
        memset(msg + len - h, 0, 8);
        len += 8;
    } else {
        len = 4;
    }
    int rc = PMPI_Send(msg, len, MPI_BYTE, dest, tag, comm);
    free(msg);
    broke = 1;
    *req = MPI_REQUEST_NULL;
    return rc;
}

static int broken_task(void *user, size_t i, tf_out *out)
{
    (void)user;
    after_broken += broke;
    uint64_t v = mix(i);
    memcpy(tf_out_extend(out, sizeof v), &v, sizeof v);
    return 0;
}

static int broken_result(void *user, size_t i, const void *data, size_t len)
{
    size_t *good = user;
    uint64_t v = mix(i);
    *good += len == sizeof v && memcmp(data, &v, sizeof v) == 0;
    return 0;
}

static void broken_message(int how)
{
    size_t n = 2000, good = 0;
    tf_options o = TF_OPTIONS_INIT;
    o.backend = TF_BACKEND_MPI;
    o.batch_size = 1;
    tf_report rep;
    breaking = how;
    broke = after_broken = 0;
    int rc = tf_map(&o, n, broken_task, broken_result, NULL, &good, &rep);
    breaking = WHOLE;
    check(rc == 0 && rep.n_ok == n, "broken message: the run completes", n);
    check(rank != 0 || good == n, "broken message: every result right", n);
    if (rank == 1)
        check(broke && after_broken <= 1,
              "broken message: that rank gets no more work", n);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    static const size_t sizes[] = {0, 1, 2, 3, 5, 1000, 20000};
    static const size_t batches[] = {0, 1, 7};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); s++)
        for (size_t b = 0; b < 3; b++)
            same_as_serial(sizes[s], batches[b], TF_ORDER_INDEX);
    same_as_serial(5000, 0, TF_ORDER_COMPLETED);
    failing_tasks();
    big_results();
    journaled();
    journal_refused();
    wrong_world();
    for (int order = 0; order < 2; order++)
        for (int j = 0; j < 2; j++)
            interrupted((tf_order)order, j);
    progress_and_limits();
    pool_inputs();
    pool_inputs_memory();
    pool_workers_and_hooks();
    pool_error_text();
    pool_cancel();
    if (world > 1) {
        broken_message(OVERSIZED);
        broken_message(TINY);
    }
    int local[2] = {passed, failed}, total[2];
    MPI_Reduce(local, total, 2, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("mpi on %d ranks: %d passed, %d failed\n", world, total[0],
               total[1]);
    int any = failed;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any != 0;
}
