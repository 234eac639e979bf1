/*
 * deliver.c - hands finished batches to the user's callbacks.
 *
 * DESIGN
 *   - Runs only in the thread that called tf_farm_run(): callbacks are never
 *     concurrent, so the user needs no locks.
 *   - Index order: batches arrive in any order and wait in a heap by start
 *     (a pairing heap through the batches' own next and child links: no
 *     allocation, O(1) to add, O(log n) amortized to take the lowest)
 *     until the one at `next` arrives. With thousands of workers, as many
 *     batches wait behind the slowest one, and a sorted list made each
 *     arrival cost a walk past all of them. Batches partition 0..N-1 (a
 *     backend that splits a batch, after a crash, still covers every index
 *     once), so `next` always advances to N.
 *   - As completed: each batch is delivered on arrival.
 *   - After a stop (first failure with stop_on_error, a callback that
 *     returned non-zero, or should_stop: a signal) nothing more is
 *     delivered; later batches are only journaled and recycled. The stop
 *     is asked before every callback, so a slow consumer cannot delay it.
 *   - With a journal, a batch is appended to it the moment it arrives,
 *     before any of it is delivered, and also when it must wait behind a
 *     slower batch: a job killed now loses only what was still computing.
 *     Results of an earlier run are read back from the journal when `next`
 *     reaches them, so index order holds across old and new results (as
 *     completed: all old ones first).
 */
#include "internal.h"

#include <string.h>

void tf__deliver_init(tf__deliver *d, size_t n_tasks, const tf_options *o,
                      tf_result_fn on_result, tf_error_fn on_error, void *user,
                      tf_report *report)
{
    memset(d, 0, sizeof(*d));
    d->n_tasks = n_tasks;
    d->ordered = o->order == TF_ORDER_INDEX;
    d->stop_on_error = o->stop_on_error;
    d->on_result = on_result;
    d->on_error = on_error;
    d->user = user;
    d->report = report;
    d->on_progress = o->on_progress;
    d->progress_user = o->progress_user;
    d->progress_every = o->progress_interval; /* resolved by the farm */
    d->t0 = d->last_progress = tf__now();
}

static void progress(tf__deliver *d, int last)
{
    if (d->on_progress == NULL)
        return;
    double now = tf__now();
    if (!last && now - d->last_progress < d->progress_every)
        return;
    d->last_progress = now;
    d->on_progress(d->progress_user, d->report->n_ok + d->report->n_failed,
                   d->n_tasks, now - d->t0);
}

void tf__deliver_finish(tf__deliver *d)
{
    progress(d, 1);
}

/* A failed slot's bytes are its message. */
static int deliver_failure(tf__deliver *d, size_t index, const tf__batch *b,
                           const tf__slot *s)
{
    tf_report *rep = d->report;
    tf_task_error err = {index, (tf_fail_kind)s->fail, s->code, s->attempts,
                         {0}};
    size_t n = s->len < sizeof err.message ? s->len : sizeof err.message - 1;
    if (n > 0)
        memcpy(err.message, b->data + s->off, n);
    rep->n_failed++;
    if (!rep->has_error || index < rep->first_error.index) {
        rep->first_error = err;
        rep->has_error = 1;
    }
    if (d->on_error != NULL && d->on_error(d->user, &err) != 0)
        return TF_ECANCELED;
    return d->stop_on_error ? TF_ESTOPPED : 0;
}

static int deliver_one(tf__deliver *d, const tf__batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        int stop = d->should_stop != NULL ? d->should_stop(d->stop_ctx) : 0;
        if (stop != 0)
            return stop;
        const tf__slot *s = &b->slots[i];
        size_t index = b->start + i;
        if (s->attempts > 1)
            d->report->n_retried++;
        if (s->fail != 0) {
            int rc = deliver_failure(d, index, b, s);
            if (rc != 0)
                return rc;
            continue;
        }
        d->report->n_ok++;
        /* Never NULL, even for an empty result in a batch with no bytes. */
        static const unsigned char empty[1];
        const unsigned char *data = b->data != NULL ? b->data + s->off : empty;
        if (d->on_result != NULL &&
            d->on_result(d->user, index, data, s->len) != 0)
            return TF_ECANCELED;
    }
    return 0;
}

/* What a waiting batch really holds: its allocations and their overhead,
 * not only its results, or many one-task batches (MPI's rank 0) would be
 * counted at a fraction of their memory. */
static size_t footprint(const tf__batch *b)
{
    return sizeof(*b) + b->cap + b->slots_cap * sizeof(tf__slot) + 48;
}

static void push(tf__batch **list, tf__batch *b)
{
    b->next = *list;
    *list = b;
}

static int replay_one(tf__deliver *d, size_t index)
{
    int stop = d->should_stop != NULL ? d->should_stop(d->stop_ctx) : 0;
    if (stop != 0)
        return stop;
    const void *data;
    size_t len;
    if (tf__journal_read(d->journal, index, &data, &len) != 0) {
        d->journal_status->problem = TF_JOURNAL_IO;
        return TF_EJOURNAL;
    }
    d->report->n_ok++;
    d->report->n_replayed++;
    if (d->on_result != NULL && d->on_result(d->user, index, data, len) != 0)
        return TF_ECANCELED;
    return 0;
}

/* ---- the pending heap ------------------------------------------------- */

/* Two heaps (roots without siblings) as one: the higher start becomes the
 * first child of the lower. */
static tf__batch *meld(tf__batch *a, tf__batch *b)
{
    if (a == NULL)
        return b;
    if (b == NULL)
        return a;
    if (b->start < a->start) {
        tf__batch *t = a;
        a = b;
        b = t;
    }
    b->next = a->child;
    a->child = b;
    return a;
}

/* The heap without its root: the root's children melded in pairs left to
 * right, then the pairs right to left (the two-pass pairing). */
static tf__batch *pop_lowest(tf__batch *root)
{
    tf__batch *pairs = NULL, *c = root->child;
    while (c != NULL) {
        tf__batch *a = c, *b = c->next;
        c = b != NULL ? b->next : NULL;
        a->next = NULL;
        if (b != NULL)
            b->next = NULL;
        tf__batch *m = meld(a, b);
        m->next = pairs; /* a stack: the second pass goes right to left */
        pairs = m;
    }
    tf__batch *heap = NULL;
    while (pairs != NULL) {
        tf__batch *m = pairs;
        pairs = m->next;
        m->next = NULL;
        heap = meld(heap, m);
    }
    root->child = root->next = NULL;
    return heap;
}

static int replayable(const tf__deliver *d, size_t index)
{
    return d->journal != NULL && index < d->n_tasks &&
           tf__journal_has(d->journal, index);
}

/* Index order: deliver what `next` has reached, old results and new. */
static void advance(tf__deliver *d, tf__batch **spent)
{
    while (d->status == 0) {
        if (replayable(d, d->next)) {
            d->status = replay_one(d, d->next++);
            continue;
        }
        tf__batch *head = d->pending;
        if (head == NULL || head->start != d->next)
            break;
        d->pending = pop_lowest(head);
        d->pending_bytes -= footprint(head);
        d->next += head->count;
        d->status = deliver_one(d, head);
        push(spent, head);
    }
}

int tf__deliver_replay(tf__deliver *d)
{
    if (d->journal == NULL || d->status != 0)
        return d->status;
    if (d->ordered) {
        /* Before the run nothing is pending, and after it everything
         * computed has been delivered: only old results can move. */
        tf__batch *spent = NULL;
        advance(d, &spent);
    } else if (!d->replayed) {
        for (size_t i = 0; i < d->n_tasks && d->status == 0; i++)
            if (replayable(d, i))
                d->status = replay_one(d, i);
    }
    d->replayed = 1;
    progress(d, 0);
    return d->status;
}

static void insert_sorted(tf__deliver *d, tf__batch *b)
{
    b->next = b->child = NULL;
    d->pending = meld(d->pending, b);
    d->pending_bytes += footprint(b);
}

static void journal_batch(tf__deliver *d, const tf__batch *b)
{
    if (d->journal == NULL || d->status == TF_EJOURNAL)
        return;
    int rc = tf__journal_append(d->journal, b, d->journal_status);
    if (rc != 0)
        d->status = rc;
}

int tf__deliver_batch(tf__deliver *d, tf__batch *b, tf__batch **spent)
{
    journal_batch(d, b);
    if (d->status != 0) {
        push(spent, b);
        return d->status;
    }
    if (!d->ordered) {
        d->status = deliver_one(d, b);
        push(spent, b);
        progress(d, 0);
        return d->status;
    }
    insert_sorted(d, b);
    advance(d, spent);
    progress(d, 0);
    return d->status;
}

void tf__deliver_drain(tf__deliver *d, tf__batch **spent)
{
    while (d->pending != NULL) {
        tf__batch *b = d->pending;
        d->pending = pop_lowest(b);
        push(spent, b);
    }
    d->pending_bytes = 0;
}
