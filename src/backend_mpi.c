/*
 * backend_mpi.c - one worker per MPI rank, for runs that span nodes.
 *
 * DESIGN
 *   - SPMD: every rank creates the farm and calls each run with the same
 *     arguments. The farm talks on its own duplicate of MPI_COMM_WORLD, so
 *     its messages never meet the caller's. All MPI calls happen in the
 *     thread that calls tf_farm_run (MPI_THREAD_FUNNELED is enough).
 *   - Rank 0 runs the core's run loop (run.c) with this file as its
 *     transport: the scheduler, the delivery, the journal and the result
 *     and error callbacks live there. The other ranks `serve`: receive a
 *     job, compute it, send the batch back (wire.h), until STOP.
 *   - The core's workers 0..size-2 are ranks 1..size-1; its last worker is
 *     rank 0 itself, which computes one task at a time, and only when no
 *     result is waiting, so it never delays the others by more than one
 *     task. With few ranks that adds a worker; with many, results arrive
 *     often and rank 0 stays a coordinator.
 *   - Each worker rank holds two jobs: one it computes and one waiting in
 *     its inbox, so it never waits for rank 0 to answer; results go back
 *     with non-blocking sends from two buffers in turn. A result is one
 *     message (bytes, slots, header: wire.h), sent from the batch where
 *     it lies through a derived datatype, and received by rank 0 into the
 *     data buffer of the batch it becomes: each message costs rank 0 a
 *     probe and a receive, the most of its time per batch over TCP. A
 *     job is one message too: its header, then its inputs' slots and
 *     bytes when it has them, sent without blocking from two buffers per
 *     rank in turn (a large one is only taken when the rank has finished
 *     its current job, and rank 0 must not wait for that). The rank reads
 *     the inputs in place, from the message.
 *   - Worker hooks: every rank runs the start hook at the farm's first
 *     run, with its rank; if any rank's fails, every rank returns
 *     TF_EWORKER from that run (an all-reduce decides). The stop hook runs
 *     at tf_farm_destroy().
 *   - Rank 0 never blocks in a receive while it waits: it probes, computes
 *     its own task or sleeps briefly, and returns to the core at least
 *     every wait time-out, so that a signal is seen within about 50 ms.
 *   - Every incoming result is received in full (MPI cannot take part of
 *     a message), then its header is checked against the job that rank
 *     was sent, its size against the header, its slots against both; a
 *     malformed one is thrown away, and that rank is given no more work.
 *   - The end: rank 0 sends every worker STOP, then broadcasts the run's
 *     outcome (return code and report), so that every rank returns the
 *     same. A stopped run (first failure, cancel, signal) drains what is
 *     outstanding first: running tasks cannot be interrupted.
 *   - A rank that dies takes the MPI job with it; MPI cannot survive it.
 *     The journal makes the rerun pick up: only rank 0 opens it, and every
 *     rank runs even when the journal already holds everything, so that
 *     the others hear STOP.
 */
#include "wire.h"

#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG_JOB 1
#define TAG_RESULT 2
#define IDLE_SLEEP_NS 50000   /* between two probes with nothing to do */

/* Rank 0's state for one other rank: its last two job messages, which
 * must stay alive until sent. A job without inputs is its header alone,
 * kept here; one with inputs is one message of its own (`big`), freed
 * once sent. Nothing else is kept per rank, so that 65,536 ranks cost
 * rank 0 what tf__mpi_bytes_per_rank() says (with the run loop's share,
 * at most 256 bytes a rank: test_coord asserts it). */
typedef struct rank_out {
    MPI_Request req[2];
    unsigned char *big[2];
    tf__wire_job head[2];
    unsigned char next;       /* the slot the next job takes */
} rank_out;

typedef struct mpi_state {
    MPI_Comm comm;
    int rank, size;
    tf__batch *local[2];      /* rank 0's own jobs; the first computing */
    const tf__batch *local_in[2];  /* and their inputs (the core's) */
    int n_local;
    rank_out *out;            /* rank 0: one per rank */
    unsigned char *inbox;     /* a worker rank: the job being computed */
    size_t inbox_cap;
    tf__hooks hooks;
} mpi_state;

/* What rank 0 broadcasts at the end of a run. */
typedef struct outcome {
    int rc, status, interrupted, sys_errno;
    tf_report report;
} outcome;

static int rank_of(const mpi_state *m, int w)
{
    return (w + 1) % m->size;
}

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
    return size > TF_MAX_RANKS ? TF_ERANGE : size;
}

size_t tf__mpi_bytes_per_rank(void)
{
    return sizeof(rank_out);
}

/* Waits for every job message still on its way, and frees them. */
static void wait_jobs(mpi_state *m)
{
    for (int to = 0; to < m->size; to++)
        for (int i = 0; i < 2; i++) {
            if (m->out[to].req[i] != MPI_REQUEST_NULL)
                MPI_Wait(&m->out[to].req[i], MPI_STATUS_IGNORE);
            free(m->out[to].big[i]);
            m->out[to].big[i] = NULL;
        }
}

static void free_state(mpi_state *m)
{
    int done = 0;
    MPI_Finalized(&done);
    if (m->out != NULL && !done)
        wait_jobs(m);
    if (m->out != NULL)
        for (int to = 0; to < m->size; to++)
            for (int i = 0; i < 2; i++)
                free(m->out[to].big[i]);
    if (!done)
        MPI_Comm_free(&m->comm);
    for (int i = 0; i < m->n_local; i++)
        tf__batch_free(m->local[i]);
    free(m->out);
    free(m->inbox);
    free(m);
}

/* Every rank's start hook; any failure fails the run on every rank. */
static int start_hooks(mpi_state *m)
{
    int mine = tf__hook_start(&m->hooks, m->rank), worst = 0;
    MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MIN, m->comm);
    if (worst != 0 && mine == 0)
        tf__hook_stop(&m->hooks, m->rank); /* it will never run a task */
    return worst;
}

static int mpi_start(void **state, int n, tf__run *r)
{
    (void)n;
    mpi_state *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return TF_ENOMEM;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &m->comm) != MPI_SUCCESS) {
        free(m);
        return TF_ESYS;
    }
    /* A malformed message must come back as an error code, not abort. */
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
    m->hooks = r->hooks;
    /* Only rank 0 sends jobs: the others keep no state per rank. */
    m->out = m->rank == 0 ? calloc((size_t)m->size, sizeof(*m->out)) : NULL;
    int rc = m->rank != 0 || m->out != NULL ? 0 : TF_ENOMEM;
    for (int to = 0; m->out != NULL && to < m->size; to++)
        m->out[to].req[0] = m->out[to].req[1] = MPI_REQUEST_NULL;
    int hooks = start_hooks(m); /* collective: every rank gets here */
    if (rc == 0)
        rc = hooks;
    if (rc != 0) {
        free_state(m);
        return rc;
    }
    *state = m;
    return 0;
}

static void mpi_stop(void *state)
{
    mpi_state *m = state;
    if (m == NULL)
        return;
    tf__hook_stop(&m->hooks, m->rank);
    free_state(m);
}

/* ---- rank 0: the transport ------------------------------------------- */

static size_t mpi_cap(const void *state, int w)
{
    const mpi_state *m = state;
    return rank_of(m, w) == 0 && m->size > 1 ? 1 : SIZE_MAX;
}

/* A job with inputs as one message: header, slots, bytes. */
static int pack_big(unsigned char **out, const tf__wire_job *head,
                    const tf__job *job, size_t *len)
{
    size_t slots = job->count * sizeof(tf__slot), bytes = job->in->len;
    *len = sizeof *head + slots + bytes;
    if (*len > INT_MAX)
        return TF_ERANGE; /* MPI counts are int */
    unsigned char *buf = malloc(*len);
    if (buf == NULL)
        return TF_ENOMEM;
    memcpy(buf, head, sizeof *head);
    memcpy(buf + sizeof *head, job->in->slots, slots);
    if (bytes > 0)
        memcpy(buf + sizeof *head + slots, job->in->data, bytes);
    *out = buf;
    return 0;
}

/* Two slots per rank in turn: the older one's send is complete once its
 * job has been answered, which it was before a third job goes out. So a
 * header's request is freed at once (MPI_Request_free, no progress call
 * on rank 0), and only a job with inputs keeps one, to free its buffer. */
static int send_job(mpi_state *m, int to, const tf__job *job, tf__run *r)
{
    rank_out *o = &m->out[to];
    int i = o->next;
    o->next ^= 1;
    if (o->req[i] != MPI_REQUEST_NULL)
        MPI_Wait(&o->req[i], MPI_STATUS_IGNORE);
    free(o->big[i]);
    o->big[i] = NULL;
    tf__wire_job_of(&o->head[i], job, r);
    void *msg = &o->head[i];
    size_t len = sizeof o->head[i];
    if (job->in != NULL) {
        int rc = pack_big(&o->big[i], &o->head[i], job, &len);
        if (rc != 0)
            return rc;
        msg = o->big[i];
    }
    if (MPI_Isend(msg, (int)len, MPI_BYTE, to, TAG_JOB, m->comm,
                  &o->req[i]) != MPI_SUCCESS)
        return TF_ESYS;
    if (o->big[i] == NULL)
        MPI_Request_free(&o->req[i]);
    return 0;
}

static int mpi_send(void *state, int w, const tf__job *job, tf__run *r)
{
    mpi_state *m = state;
    int to = rank_of(m, w);
    if (to == 0) {
        tf__batch *b = tf__batch_take(&r->spare);
        if (b == NULL || tf__batch_begin(b, job->start, job->count) != 0) {
            tf__batch_free(b);
            return TF_ENOMEM;
        }
        m->local_in[m->n_local] = job->in;
        m->local[m->n_local++] = b;
        return 0;
    }
    return send_job(m, to, job, r);
}

/* Receives a probed message and throws it away, whatever its size. */
static void discard(MPI_Message *msg, int count)
{
    void *buf = count > 0 ? malloc((size_t)count) : NULL;
    MPI_Mrecv(buf, buf != NULL ? count : 0, MPI_BYTE, msg, MPI_STATUS_IGNORE);
    free(buf);
}

/* A result message, received into a batch's own data buffer: its bytes
 * come first, where the batch wants them, then the slots (copied out),
 * then the header. 0, -1 (malformed, dropped) or TF_ENOMEM (dropped). */
static int recv_result(MPI_Message *msg, int count, const tf__job *job,
                       tf__run *r, tf__batch **out)
{
    tf__wire_result h;
    if (job == NULL || count < (int)sizeof h) {
        discard(msg, count);
        return -1;
    }
    tf__batch *b = tf__batch_take(&r->spare);
    if (b == NULL || tf__batch_reserve(b, (size_t)count) != 0) {
        tf__batch_free(b);
        discard(msg, count);
        return TF_ENOMEM;
    }
    if (MPI_Mrecv(b->data, count, MPI_BYTE, msg, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS) {
        tf__batch_give(&r->spare, b);
        return -1;
    }
    memcpy(&h, b->data + count - sizeof h, sizeof h);
    if (tf__wire_check_header(&h, job) != 0 ||
        tf__wire_result_size(&h) != (uint64_t)count) {
        tf__batch_give(&r->spare, b);
        return -1;
    }
    if (tf__batch_reset(b, h.start, h.count) != 0) {
        tf__batch_give(&r->spare, b);
        return TF_ENOMEM;
    }
    memcpy(b->slots, b->data + h.len, h.count * sizeof(tf__slot));
    if (tf__wire_check_slots(&h, b->slots, job, r->end_at_failure) != 0) {
        tf__batch_give(&r->spare, b);
        return -1;
    }
    b->len = h.len;
    b->seconds = h.seconds;
    *out = b;
    return 0;
}

static void receive(MPI_Message *msg, const MPI_Status *st, tf__run *r,
                    tf__event *ev)
{
    int w = st->MPI_SOURCE - 1, count = 0;
    tf__batch *b = NULL;
    MPI_Get_count(st, MPI_BYTE, &count);
    int rc = recv_result(msg, count, tf__run_head(r, w), r, &b);
    if (rc == 0)
        *ev = (tf__event){.kind = TF__EV_BATCH, .worker = w, .batch = b};
    else if (rc == TF_ENOMEM)
        *ev = (tf__event){.kind = TF__EV_FAILED, .worker = w, .rc = rc};
    else /* a broken rank: no more work for it (MPI cannot replace it) */
        *ev = (tf__event){.kind = TF__EV_LOST, .worker = w,
                          .fail = TF_FAIL_LOST};
}

/* One task of rank 0's own job; 1 when that job is complete (in ev). */
static int step_local(mpi_state *m, tf__run *r, tf__event *ev)
{
    const tf__exec how = {r->task, r->user, r->end_at_failure, NULL, NULL,
                          m->local_in[0], 0};
    if (!tf__batch_step(m->local[0], &how))
        return 0;
    *ev = (tf__event){.kind = TF__EV_BATCH, .worker = m->size - 1,
                      .batch = m->local[0]};
    m->local[0] = m->local[1];
    m->local_in[0] = m->local_in[1];
    m->n_local--;
    return 1;
}

static int mpi_wait(void *state, double timeout, tf__run *r, tf__event *ev)
{
    mpi_state *m = state;
    double until = tf__now() + timeout;
    for (;;) {
        int waiting = 0;
        MPI_Message msg;
        MPI_Status st;
        if (m->size > 1)
            MPI_Improbe(MPI_ANY_SOURCE, TAG_RESULT, m->comm, &waiting, &msg,
                        &st);
        if (waiting) {
            receive(&msg, &st, r, ev);
            return 0;
        }
        if (m->n_local > 0) {
            if (step_local(m, r, ev))
                return 0;
            continue;
        }
        if (tf__now() >= until)
            return 0;
        nanosleep(&(struct timespec){0, IDLE_SLEEP_NS}, NULL);
    }
}

/* ---- the other ranks -------------------------------------------------- */

/* A result on its way to rank 0: the batch and its header, which must
 * stay alive until the send completes. */
typedef struct outbox {
    tf__batch *batch;
    tf__wire_result h;
    MPI_Request req;
} outbox;

static void wait_sent(outbox *o)
{
    if (o->req != MPI_REQUEST_NULL)
        MPI_Wait(&o->req, MPI_STATUS_IGNORE);
}

/* One message, bytes then slots then header, sent from where they lie
 * (a datatype of three blocks at absolute addresses), non-blocking: a
 * result above Open MPI's eager limit is sent only when rank 0 takes it,
 * and rank 0 may be computing a task of its own. */
static void send_result(mpi_state *m, outbox *o)
{
    const tf__batch *b = o->batch;
    size_t slots = b->count * sizeof(tf__slot);
    if (slots + sizeof o->h > INT_MAX || b->len > INT_MAX - slots - sizeof o->h)
        MPI_Abort(m->comm, 75); /* one batch over 2 GiB: MPI counts are int */
    tf__wire_result_of(&o->h, b);
    int len[3] = {(int)b->len, (int)slots, (int)sizeof o->h};
    MPI_Aint at[3];
    MPI_Datatype types[3] = {MPI_BYTE, MPI_BYTE, MPI_BYTE}, whole;
    MPI_Get_address(b->data, &at[0]);
    MPI_Get_address(b->slots, &at[1]);
    MPI_Get_address(&o->h, &at[2]);
    if (MPI_Type_create_struct(3, len, at, types, &whole) != MPI_SUCCESS ||
        MPI_Type_commit(&whole) != MPI_SUCCESS ||
        MPI_Isend(MPI_BOTTOM, 1, whole, 0, TAG_RESULT, m->comm, &o->req) !=
            MPI_SUCCESS)
        MPI_Abort(m->comm, 75);
    MPI_Type_free(&whole); /* kept by MPI until the send completes */
}

/* The next job message from rank 0, whatever its size, into the inbox. */
static void recv_job(mpi_state *m, tf__wire_job *job, tf__batch *in)
{
    MPI_Message msg;
    MPI_Status st;
    int count = 0;
    if (MPI_Mprobe(0, TAG_JOB, m->comm, &msg, &st) != MPI_SUCCESS)
        MPI_Abort(m->comm, 76);
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (count < (int)sizeof *job)
        MPI_Abort(m->comm, 76);
    if ((size_t)count > m->inbox_cap) {
        free(m->inbox);
        m->inbox = malloc((size_t)count);
        m->inbox_cap = m->inbox != NULL ? (size_t)count : 0;
        if (m->inbox == NULL)
            MPI_Abort(m->comm, 71);
    }
    if (MPI_Mrecv(m->inbox, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS)
        MPI_Abort(m->comm, 76);
    memcpy(job, m->inbox, sizeof *job);
    if (!job->has_in)
        return;
    /* A view of the inputs, in place: the message holds the slots (8-byte
     * aligned after the header) and then the bytes. */
    size_t slots = job->count * sizeof(tf__slot);
    if (job->count > TF_MAX_TASKS ||
        (uint64_t)count != sizeof *job + slots + job->in_len)
        MPI_Abort(m->comm, 76);
    *in = (tf__batch){.start = job->start, .count = job->count,
                      .slots = (tf__slot *)(void *)(m->inbox + sizeof *job),
                      .data = m->inbox + sizeof *job + slots,
                      .len = job->in_len};
    if (tf__wire_check_inputs(job, in->slots) != 0)
        MPI_Abort(m->comm, 76);
}

/* Computes jobs until STOP, into two buffers in turn: while one result
 * travels, the next job (already queued by rank 0) is computed. */
static int mpi_serve(void *state, tf__run *r)
{
    mpi_state *m = state;
    outbox box[2] = {{.batch = tf__batch_take(&r->spare),
                      .req = MPI_REQUEST_NULL},
                     {.batch = tf__batch_take(&r->spare),
                      .req = MPI_REQUEST_NULL}};
    if (box[0].batch == NULL || box[1].batch == NULL)
        MPI_Abort(m->comm, 71);
    for (int cur = 0;; cur ^= 1) {
        tf__wire_job job;
        tf__batch in;
        recv_job(m, &job, &in);
        if (job.count == 0)
            break;
        tf__exec how = {r->task, r->user, r->end_at_failure, NULL, NULL,
                        job.has_in ? &in : NULL, m->rank};
        wait_sent(&box[cur]);
        if (tf__batch_exec(box[cur].batch, job.start, job.count, &how) != 0)
            MPI_Abort(m->comm, 71); /* out of memory on a worker rank */
        send_result(m, &box[cur]);
    }
    for (int i = 0; i < 2; i++) {
        wait_sent(&box[i]);
        tf__batch_give(&r->spare, box[i].batch);
    }
    return 0;
}

/* ---- the end of a run, on every rank ---------------------------------- */

static int mpi_finish(void *state, tf__run *r, int rc)
{
    mpi_state *m = state;
    outcome o;
    memset(&o, 0, sizeof o);
    if (m->rank == 0) {
        tf__wire_job stop = {0};
        for (int to = 1; to < m->size; to++)
            MPI_Send(&stop, (int)sizeof stop, MPI_BYTE, to, TAG_JOB, m->comm);
        wait_jobs(m);
        o = (outcome){rc, r->deliver.status, r->interrupted, r->sys_errno,
                      *r->report};
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

static const tf__transport mpi_transport = {
    .depth = 2, .workers = mpi_workers, .start = mpi_start,
    .stop = mpi_stop, .send = mpi_send, .wait = mpi_wait, .cap = mpi_cap,
    .delivers = mpi_delivers, .serve = mpi_serve, .finish = mpi_finish};

const tf__transport *tf__mpi_transport(void)
{
    return &mpi_transport;
}
