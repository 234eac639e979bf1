/*
 * sched.c - dynamic dispatch and the automatic batch size.
 *
 * Workers ask for work when they are free, so uneven tasks balance by
 * themselves. What remains is the batch size: one task per request makes
 * the per-request cost (a lock, a pipe message) dominate quick tasks; big
 * batches leave workers idle at the end. The automatic size:
 *
 *   - starts at 1, and at most doubles per batch while tasks look quick, so
 *     a first slow task never drags a huge batch behind it;
 *   - aims at target_s of compute per batch from a smoothed per-task time,
 *     so it shrinks at once when tasks become slow; target_s grows with
 *     the workers (W x PER_WORKER_S), so that the one thread that handles
 *     every batch (the caller's; MPI's rank 0) stays a small load at
 *     thousands of workers, and faster than W past GROW_WORKERS (grown_s),
 *     as far as a batch per worker in flight fits under the back-pressure
 *     limit (hold_bytes);
 *   - never exceeds remaining / (2 * workers), so the last batches are
 *     small and every worker finishes at about the same time (past 256
 *     workers, not below W x FLOOR_PER_WORKER_S of compute, at most
 *     FLOOR_MAX_S);
 *   - keeps a batch's results near 1 MiB from a smoothed size per task, so
 *     memory stays bounded by what is in flight.
 *
 * Not thread-safe: the threads backend calls it under its lock, the others
 * from one thread.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES_CAP ((double)(1 << 20))
#define SMOOTHING 0.3   /* weight of the newest observation */
/* Batch time per worker: with W workers a batch aims at W x this, so the
 * coordinator (rank 0), which handles every batch, gets W batches per
 * W x PER_WORKER_S seconds, whatever W: c / PER_WORKER_S of its time for
 * a cost c per batch (22 µs over TCP here: 4.4%; 1-5 µs over shared
 * memory). Below 4 workers the 2 ms target of farm.c decides. */
#define PER_WORKER_S 500e-6
/* The end of a run shrinks batches so that workers finish together, but
 * past FLOOR_FROM_WORKERS workers not below W x this, or they would again
 * bring rank 0 a batch each faster than it can take them (a batch per
 * worker per W x this: one per 50 µs; at 48 µs a batch over TCP between
 * nodes, 25 µs overloaded rank 0 at 4,096 fake workers and made the run
 * 0.26 s longer, bench/README.md, bench_coord). Fewer workers than 256
 * take a whole round of batches of one task each in a few ms, so balance
 * wins there. */
#define FLOOR_PER_WORKER_S 50e-6
#define FLOOR_FROM_WORKERS 256
/* The tail is about twice the floor: past 8,192 workers the floor stays
 * at this (what 16,384 had before, at 25 µs a worker), so that the tail
 * stays under 2% of a one-minute run. */
#define FLOOR_MAX_S 0.4
/* The end of a run costs rank 0 about 2W x (ln(target / floor) + 1)
 * batches whatever the run's length, so as W grows the end takes a
 * larger share of a run's batches: at 4,096 workers, 10 ms tasks and
 * 48 µs a batch (TCP between two namespace nodes) rank 0 was 13.9% busy
 * by the model, 9.6% of it the batches of W x 0.5 ms. So the batch time
 * per worker grows with W too, PER_WORKER_S x (1 + W / GROW_WORKERS):
 * 64 workers are unchanged (0.52 ms, 3 tasks of 10 ms), 4,096 get
 * 1.5 ms. bench/README.md, bench_coord. */
#define GROW_WORKERS 2048.0
/* A batch's results are held in a tf__batch whose data and slots grow by
 * doubling: up to twice (bytes + a slot) a task. */
#define HELD_PER_TASK(b) (2 * ((b) + (double)sizeof(tf__slot)))

void tf__sched_init(tf__sched *s, size_t n_tasks, size_t fixed, int workers,
                    double target_s)
{
    memset(s, 0, sizeof(*s));
    s->n_tasks = n_tasks;
    s->fixed = fixed;
    s->workers = workers > 0 ? workers : 1;
    double w = (double)s->workers, base = w * PER_WORKER_S;
    s->target_s = base > target_s ? base : target_s;
    s->grown_s = base * (1 + w / GROW_WORKERS);
    s->floor_s = s->workers > FLOOR_FROM_WORKERS ? w * FLOOR_PER_WORKER_S : 0;
    if (s->floor_s > FLOOR_MAX_S)
        s->floor_s = FLOOR_MAX_S;
}

void tf__sched_hold(tf__sched *s, size_t bytes)
{
    s->hold_bytes = bytes;
}

void tf__sched_release(tf__sched *s)
{
    free(s->redo);
    s->redo = NULL;
    s->n_redo = s->redo_cap = s->redo_tasks = s->redo_head = 0;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Tasks per batch by time (s->task_s > 0): the target, or the grown one
 * as far as a batch per worker in flight fits in what may wait (bigger
 * batches would stall dispatch behind the slowest one). */
static double by_time(const tf__sched *s)
{
    double base = s->target_s / s->task_s, grown = s->grown_s / s->task_s;
    if (s->hold_bytes > 0) {
        double fits = (double)s->hold_bytes / HELD_PER_TASK(s->task_bytes);
        grown = grown < fits ? grown : fits;
    }
    return grown > base ? grown : base;
}

static size_t auto_size(tf__sched *s, size_t remaining)
{
    /* Until a batch has come back nothing is known of the tasks: the
     * first round is single tasks. Doubling per batch handed out would
     * give the W-th worker 2^W tasks, unseen (at thousands of workers,
     * batches of seconds that the whole run then waits for). */
    size_t want = s->last == 0 || !s->seen ? 1 : s->last * 2;
    if (s->task_s > 0) {
        double t = by_time(s);
        if (t < (double)want)
            want = t < 1 ? 1 : (size_t)t;
    }
    if (s->task_bytes > 0) {
        double by_bytes = BATCH_BYTES_CAP / s->task_bytes;
        if (by_bytes < (double)want)
            want = by_bytes < 1 ? 1 : (size_t)by_bytes;
    }
    size_t tail = remaining / (2 * (size_t)s->workers);
    if (s->task_s > 0 && (double)tail * s->task_s < s->floor_s)
        tail = (size_t)(s->floor_s / s->task_s);
    want = min_size(want, tail > 0 ? tail : 1);
    s->last = want;
    return want;
}

static size_t batch_size(tf__sched *s)
{
    size_t remaining = s->n_tasks - s->next + s->redo_tasks;
    return s->fixed ? s->fixed : auto_size(s, remaining);
}

/* The front of the lowest range to redo. The ranges live at
 * redo[redo_head..redo_head + n_redo): taking the front is O(1), so a
 * resumed run with a million holes is not quadratic. */
static tf__range take_redo(tf__sched *s, size_t want)
{
    tf__range *front = &s->redo[s->redo_head];
    tf__range r = {front->start, min_size(front->count, want)};
    front->start += r.count;
    front->count -= r.count;
    s->redo_tasks -= r.count;
    if (front->count == 0) {
        s->redo_head++;
        s->n_redo--;
        if (s->n_redo == 0)
            s->redo_head = 0;
    }
    return r;
}

tf__range tf__sched_next_capped(tf__sched *s, size_t cap)
{
    tf__range r = {0, 0};
    if (s->stopped || cap == 0 || (s->n_redo == 0 && s->next == s->n_tasks))
        return r;
    size_t want = min_size(batch_size(s), cap);
    if (s->n_redo > 0)
        return take_redo(s, want);
    r.start = s->next;
    r.count = min_size(want, s->n_tasks - s->next);
    s->next += r.count;
    return r;
}

size_t tf__sched_peek(const tf__sched *s)
{
    if (s->n_redo > 0)
        return s->redo[s->redo_head].start;
    return s->next;
}

tf__range tf__sched_next(tf__sched *s)
{
    return tf__sched_next_capped(s, SIZE_MAX);
}

void tf__sched_observe(tf__sched *s, size_t count, double seconds,
                       size_t bytes)
{
    if (count == 0)
        return;
    s->seen = 1;
    double per_task = seconds / (double)count;
    double per_bytes = (double)bytes / (double)count;
    if (s->task_s == 0 && s->task_bytes == 0) {
        s->task_s = per_task;
        s->task_bytes = per_bytes;
        return;
    }
    s->task_s += SMOOTHING * (per_task - s->task_s);
    s->task_bytes += SMOOTHING * (per_bytes - s->task_bytes);
}

int tf__sched_requeue(tf__sched *s, size_t start, size_t count)
{
    if (count == 0)
        return 0;
    if (s->redo_head + s->n_redo == s->redo_cap && s->redo_head > 0) {
        memmove(s->redo, s->redo + s->redo_head, s->n_redo * sizeof(*s->redo));
        s->redo_head = 0;
    }
    if (s->n_redo == s->redo_cap) {
        size_t cap = s->redo_cap ? s->redo_cap * 2 : 8;
        tf__range *r = realloc(s->redo, cap * sizeof(*r));
        if (r == NULL)
            return TF_ENOMEM;
        s->redo = r;
        s->redo_cap = cap;
    }
    /* Keep the lowest start first: in index order, it unblocks delivery.
     * Ranges mostly come in increasing order, so this rarely moves any. */
    tf__range *live = s->redo + s->redo_head;
    size_t i = s->n_redo;
    while (i > 0 && live[i - 1].start > start) {
        live[i] = live[i - 1];
        i--;
    }
    live[i] = (tf__range){start, count};
    s->n_redo++;
    s->redo_tasks += count;
    return 0;
}

void tf__sched_stop(tf__sched *s)
{
    s->stopped = 1;
}

int tf__sched_done(const tf__sched *s)
{
    return s->stopped || (s->n_redo == 0 && s->next == s->n_tasks);
}
