/*
 * backend_mpi.c - one worker per MPI rank, for runs that span nodes.
 *
 * DESIGN
 *   - SPMD: every rank creates the farm and calls each run with the same
 *     arguments. The farm talks on its own duplicate of MPI_COMM_WORLD, so
 *     its messages never meet the caller's. All MPI calls happen in the
 *     thread that calls tf_farm_run (MPI_THREAD_FUNNELED is enough).
 *   - Rank 0 owns the scheduler and the delivery, as the caller's thread
 *     does in the other backends: the result and error callbacks run there,
 *     in index order by default.
 *   - Each worker rank keeps QUEUE_DEPTH batches: one it computes and one
 *     waiting in its inbox, so it never waits for rank 0 to answer.
 *   - Rank 0 computes too, one task at a time, but only when it is idle
 *     enough: every worker's queue is full and no result is waiting. With
 *     few ranks that adds a worker (2 ranks run at the speed of 2
 *     processes); with many, results arrive often and rank 0 stays a pure
 *     coordinator, so it never delays more than one task's time.
 *   - The end: when nothing is left and nothing is outstanding, rank 0 sends
 *     every worker STOP, then broadcasts the run's outcome (return code and
 *     report), so that every rank returns the same. A stopped run (first
 *     failure, cancel, signal) hands out nothing more and drains what is
 *     outstanding first: running tasks cannot be interrupted.
 *   - A rank that dies takes the MPI job with it; MPI cannot survive it.
 *     The journal makes the rerun pick up: only rank 0 opens it (it owns
 *     the scheduler), and every rank runs even when the journal already
 *     holds everything, so that the others hear STOP.
 */
#include "internal.h"

#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_DEPTH 2
#define TAG_JOB 1
#define TAG_HEADER 2
#define TAG_SLOTS 3
#define TAG_DATA 4

typedef struct mpi_state {
    MPI_Comm comm;
    int rank, size;
    int *queued;          /* per rank: batches sent, results not yet back */
    int outstanding;      /* their sum */
    tf__batch *spare;
} mpi_state;

/* Result header: start, count, len, and the compute time's bits. */
typedef struct header {
    uint64_t start, count, len;
    double seconds;
} header;

/* What rank 0 broadcasts at the end of a run. */
typedef struct outcome {
    int rc, status, interrupted, sys_errno;
    tf_report report;
} outcome;

/* ---- the world -------------------------------------------------------- */

static int mpi_workers(const tf_options *o)
{
    int ready = 0, done = 0, size = 0;
    MPI_Initialized(&ready);
    MPI_Finalized(&done);
    if (!ready || done)
        return TF_EWORLD;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (o->n_jobs > 0 && o->n_jobs != size)
        return TF_EWORLD;
    return size > TF_MAX_JOBS ? TF_ERANGE : size;
}

static int mpi_start(tf_farm *farm)
{
    mpi_state *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return TF_ENOMEM;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &m->comm) != MPI_SUCCESS) {
        free(m);
        return TF_ESYS;
    }
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
    m->queued = calloc((size_t)m->size, sizeof(*m->queued));
    if (m->queued == NULL) {
        MPI_Comm_free(&m->comm);
        free(m);
        return TF_ENOMEM;
    }
    farm->state = m;
    return 0;
}

static void mpi_stop(tf_farm *farm)
{
    mpi_state *m = farm->state;
    if (m == NULL)
        return;
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Comm_free(&m->comm);
    tf__batch_free_list(m->spare);
    free(m->queued);
    free(m);
    farm->state = NULL;
}

/* ---- rank 0 ----------------------------------------------------------- */

static void deliver(mpi_state *m, tf__run *r, tf__batch *b)
{
    tf__batch *spent = NULL;
    if (tf__deliver_batch(&r->deliver, b, &spent) != 0)
        tf__sched_stop(&r->sched);
    tf__batch_give(&m->spare, spent);
}


static void send_job(mpi_state *m, int to, tf__range job)
{
    uint64_t msg[2] = {job.start, job.count};
    MPI_Send(msg, 2, MPI_UINT64_T, to, TAG_JOB, m->comm);
    if (job.count > 0) {
        m->queued[to]++;
        m->outstanding++;
    }
}

/* Tops up every worker's queue. */
static void feed(mpi_state *m, tf__run *r)
{
    for (int w = 1; w < m->size; w++) {
        while (m->queued[w] < QUEUE_DEPTH && !tf__run_must_wait(r, m->size)) {
            tf__range job = tf__sched_next(&r->sched);
            if (job.count == 0)
                return;
            send_job(m, w, job);
        }
    }
}

static int receive(mpi_state *m, tf__run *r)
{
    header h;
    MPI_Status st;
    MPI_Recv(&h, (int)sizeof h, MPI_BYTE, MPI_ANY_SOURCE, TAG_HEADER, m->comm,
             &st);
    int from = st.MPI_SOURCE;
    tf__batch *b = tf__batch_take(&m->spare);
    if (b == NULL || tf__batch_reset(b, h.start, h.count) != 0 ||
        tf__batch_reserve(b, h.len) != 0) {
        tf__batch_free(b);
        return TF_ENOMEM;
    }
    MPI_Recv(b->slots, (int)(h.count * sizeof(tf__slot)), MPI_BYTE, from,
             TAG_SLOTS, m->comm, MPI_STATUS_IGNORE);
    MPI_Recv(b->data, (int)h.len, MPI_BYTE, from, TAG_DATA, m->comm,
             MPI_STATUS_IGNORE);
    b->len = h.len;
    b->seconds = h.seconds;
    m->queued[from]--;
    m->outstanding--;
    tf__sched_observe(&r->sched, b->count, b->seconds, b->len);
    deliver(m, r, b);
    return 0;
}

static int idle_enough(const mpi_state *m, const tf__run *r)
{
    if (tf__sched_done(&r->sched) || tf__run_must_wait(r, m->size))
        return 0;
    for (int w = 1; w < m->size; w++)
        if (m->queued[w] < QUEUE_DEPTH)
            return 0;
    int waiting = 0;
    if (m->size > 1)
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_HEADER, m->comm, &waiting,
                   MPI_STATUS_IGNORE);
    return !waiting;
}

/* Rank 0's own share: one task while workers are busy, a whole batch when
 * it is alone. */
static int compute_here(mpi_state *m, tf__run *r)
{
    tf__range job = tf__sched_next_capped(&r->sched,
                                          m->size > 1 ? 1 : SIZE_MAX);
    if (job.count == 0)
        return 0;
    tf__batch *b = tf__batch_take(&m->spare);
    const tf__exec how = {r->task, r->user, r->opts->stop_on_error, NULL,
                          NULL};
    if (b == NULL || tf__batch_exec(b, job.start, job.count, &how) != 0) {
        tf__batch_free(b);
        return TF_ENOMEM;
    }
    tf__sched_observe(&r->sched, b->count, b->seconds, b->len);
    deliver(m, r, b);
    return 0;
}

static int coordinate(mpi_state *m, tf__run *r)
{
    int rc = 0;
    for (;;) {
        tf__run_check_signal(r);
        if (rc == 0)
            feed(m, r);
        if (rc == 0 && idle_enough(m, r)) {
            rc = compute_here(m, r);
            if (rc != 0)
                tf__sched_stop(&r->sched);
            continue;
        }
        if (m->outstanding == 0)
            break;
        int err = receive(m, r);
        if (err != 0 && rc == 0) {
            rc = err;
            tf__sched_stop(&r->sched);
        }
    }
    for (int w = 1; w < m->size; w++)
        send_job(m, w, (tf__range){0, 0}); /* STOP */
    tf__batch *rest = NULL;
    tf__deliver_drain(&r->deliver, &rest);
    tf__batch_give(&m->spare, rest);
    return rc;
}

/* ---- the other ranks -------------------------------------------------- */

/* A result on its way to rank 0: the batch, its header and the three
 * sends, which must all stay alive until the sends complete. */
typedef struct outbox {
    tf__batch *batch;
    header h;
    MPI_Request req[3];
    int busy;
} outbox;

static void wait_sent(outbox *o)
{
    if (o->busy)
        MPI_Waitall(3, o->req, MPI_STATUSES_IGNORE);
    o->busy = 0;
}

/* Non-blocking: a result above Open MPI's eager limit is sent only when
 * rank 0 takes it, and rank 0 may be computing a task of its own. */
static void send_result(mpi_state *m, outbox *o)
{
    const tf__batch *b = o->batch;
    if (b->len > INT_MAX || b->count * sizeof(tf__slot) > INT_MAX)
        MPI_Abort(m->comm, 75); /* one batch over 2 GiB: MPI counts are int */
    o->h = (header){b->start, b->count, b->len, b->seconds};
    MPI_Isend(&o->h, (int)sizeof o->h, MPI_BYTE, 0, TAG_HEADER, m->comm,
              &o->req[0]);
    MPI_Isend(b->slots, (int)(b->count * sizeof(tf__slot)), MPI_BYTE, 0,
              TAG_SLOTS, m->comm, &o->req[1]);
    MPI_Isend(b->data, (int)b->len, MPI_BYTE, 0, TAG_DATA, m->comm,
              &o->req[2]);
    o->busy = 1;
}

/* Computes jobs until STOP, into two buffers in turn: while one result
 * travels, the next job (already queued by rank 0) is computed. */
static int work(mpi_state *m, tf__run *r)
{
    outbox box[2] = {{tf__batch_take(&m->spare), {0}, {0}, 0}, {tf__batch_take(&m->spare), {0}, {0}, 0}};
    const tf__exec how = {r->task, r->user, r->opts->stop_on_error, NULL,
                          NULL};
    if (box[0].batch == NULL || box[1].batch == NULL)
        MPI_Abort(m->comm, 71);
    for (int cur = 0;; cur ^= 1) {
        uint64_t job[2];
        MPI_Recv(job, 2, MPI_UINT64_T, 0, TAG_JOB, m->comm, MPI_STATUS_IGNORE);
        if (job[1] == 0)
            break;
        wait_sent(&box[cur]);
        if (tf__batch_exec(box[cur].batch, job[0], job[1], &how) != 0)
            MPI_Abort(m->comm, 71); /* out of memory on a worker rank */
        send_result(m, &box[cur]);
    }
    for (int i = 0; i < 2; i++) {
        wait_sent(&box[i]);
        tf__batch_give(&m->spare, box[i].batch);
    }
    return 0;
}

/* ---- the run ---------------------------------------------------------- */

static int mpi_run(tf_farm *farm, tf__run *r)
{
    mpi_state *m = farm->state;
    outcome o;
    memset(&o, 0, sizeof o);
    if (m->rank == 0) {
        o.rc = coordinate(m, r);
        o.status = r->deliver.status;
        o.interrupted = r->interrupted;
        o.sys_errno = r->sys_errno;
        o.report = *r->report;
    } else {
        work(m, r);
    }
    MPI_Bcast(&o, (int)sizeof o, MPI_BYTE, 0, m->comm);
    if (m->rank != 0) { /* every rank returns what rank 0 saw */
        r->deliver.status = o.status;
        r->interrupted = o.interrupted;
        r->sys_errno = o.sys_errno;
        *r->report = o.report;
    }
    return o.rc;
}

/* Rank 0 runs the callbacks and owns the journal. */
static int mpi_delivers(void)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank == 0;
}

static const tf__backend_ops mpi_ops = {
    .workers = mpi_workers, .start = mpi_start, .run = mpi_run,
    .stop = mpi_stop, .delivers = mpi_delivers};

const tf__backend_ops *tf__mpi_backend(void)
{
    return &mpi_ops;
}
