/*
 * fakeworld.c - fake workers in virtual time against the real run loop
 * (see fakeworld.h for the model).
 */
#include "fakeworld.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct fjob {
    size_t start, count;
    const tf__batch *in;
} fjob;

typedef struct fworker {
    fjob job[2];              /* the first is computing */
    int n;
} fworker;

typedef struct fevent {
    double t;                 /* when worker w finishes its first job */
    int w;
} fevent;

typedef struct fw {
    fw_config *c;
    fworker *w;
    fevent *heap;
    int n_heap;
    int *starting;            /* sent a job while idle: start after service */
    int n_starting;
    int n_idle;
    double cnow;              /* the coordinator's virtual clock */
    double extra;             /* transport cost of the event being handled */
    double last_exit, clock_cost, last_f;
    size_t waits;
    uint64_t rng;
} fw;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double fw_clock_cost(void)
{
    double best = 1;
    for (int i = 0; i < 1000; i++) {
        double a = thread_cpu(), b = thread_cpu();
        if (b - a < best)
            best = b - a;
    }
    return best;
}

size_t fw_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* ---- the event heap, earliest first ----------------------------------- */

static void heap_push(fw *f, double t, int w)
{
    int i = f->n_heap++;
    while (i > 0 && f->heap[(i - 1) / 2].t > t) {
        f->heap[i] = f->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    f->heap[i] = (fevent){t, w};
}

static fevent heap_pop(fw *f)
{
    fevent top = f->heap[0], last = f->heap[--f->n_heap];
    int i = 0;
    for (;;) {
        int k = 2 * i + 1;
        if (k >= f->n_heap)
            break;
        if (k + 1 < f->n_heap && f->heap[k + 1].t < f->heap[k].t)
            k++;
        if (f->heap[k].t >= last.t)
            break;
        f->heap[i] = f->heap[k];
        i = k;
    }
    if (f->n_heap > 0)
        f->heap[i] = last;
    return top;
}

/* ---- the transport ---------------------------------------------------- */

static double duration(fw *f, size_t count)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    double u = (double)(f->rng >> 11) / (double)(1ULL << 53) * 2 - 1;
    return (double)count * f->c->task_s * (1 + f->c->jitter * u);
}

static int fw_workers(const tf_options *o)
{
    const fw_config *c = o->worker_user;
    return c != NULL && c->workers > 0 ? c->workers : TF_EINVAL;
}

static int fw_start(void **state, int n, tf__run *r)
{
    fw *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return TF_ENOMEM;
    f->c = r->hooks.user;
    f->w = calloc((size_t)n, sizeof(*f->w));
    f->heap = calloc((size_t)n, sizeof(*f->heap));
    f->starting = calloc((size_t)n, sizeof(*f->starting));
    if (f->w == NULL || f->heap == NULL || f->starting == NULL) {
        free(f->w);
        free(f->heap);
        free(f->starting);
        free(f);
        return TF_ENOMEM;
    }
    f->c->own_bytes = sizeof(*f) + (size_t)n * (sizeof(*f->w) +
                      sizeof(*f->heap) + sizeof(*f->starting));
    f->clock_cost = f->c->timed ? fw_clock_cost() : 0;
    *state = f;
    return 0;
}

static void fw_stop(void *state)
{
    fw *f = state;
    free(f->w);
    free(f->heap);
    free(f->starting);
    free(f);
}

/* Each run starts with every fake worker idle, at virtual time 0. */
static int fw_begin(void *state, tf__run *r)
{
    fw *f = state;
    fw_config *c = f->c;
    c->batches = c->tasks = c->max_batch = 0;
    c->busy_s = c->core_cpu_s = c->end_s = 0;
    c->first_idle_s = -1;
    c->heap_peak = 0;
    f->n_idle = r->n_workers;
    f->cnow = f->extra = f->last_f = 0;
    f->waits = 0;
    f->rng = 0x9e3779b97f4a7c15ULL;
    f->last_exit = c->timed ? thread_cpu() : 0;
    return 0;
}

static int fw_send(void *state, int w, const tf__job *job, tf__run *r)
{
    (void)r;
    fw *f = state;
    fworker *k = &f->w[w];
    k->job[k->n++] = (fjob){job->start, job->count, job->in};
    if (k->n == 1) {
        f->starting[f->n_starting++] = w;
        f->n_idle--;
    }
    return 0;
}

/* The coordinator's work since the last wait, in virtual time. */
static void account(fw *f)
{
    double s = 0;
    if (f->c->timed) {
        s = thread_cpu() - f->last_exit - f->clock_cost;
        if (s < 0)
            s = 0;
    }
    f->c->core_cpu_s += s;
    f->c->busy_s += s + f->extra;
    f->cnow += s + f->extra;
    f->extra = 0;
    f->c->end_s = f->cnow;
}

static void start_sent(fw *f)
{
    for (int i = 0; i < f->n_starting; i++) {
        int w = f->starting[i];
        heap_push(f, f->cnow + duration(f, f->w[w].job[0].count), w);
    }
    f->n_starting = 0;
}

/* Worker w's first job, computed for real, timed virtually. */
static int compute(fw *f, int w, double t, tf__run *r, tf__event *ev)
{
    fworker *k = &f->w[w];
    fjob j = k->job[0];
    k->job[0] = k->job[1];
    k->n--;
    if (k->n > 0)
        heap_push(f, t + duration(f, k->job[0].count), w);
    else
        f->n_idle++;
    const tf__exec how = {r->task, r->user, r->end_at_failure, NULL, NULL,
                          j.in, w};
    tf__batch *b = tf__batch_take(&r->spare);
    if (b == NULL || tf__batch_exec(b, j.start, j.count, &how) != 0) {
        tf__batch_free(b);
        *ev = (tf__event){.kind = TF__EV_FAILED, .worker = w, .rc = TF_ENOMEM};
        return 0;
    }
    b->seconds = (double)j.count * f->c->task_s;
    f->extra = f->c->batch_s + (double)j.count * f->c->result_s;
    f->c->batches++;
    f->c->tasks += j.count;
    if (j.count > f->c->max_batch)
        f->c->max_batch = j.count;
    *ev = (tf__event){.kind = TF__EV_BATCH, .worker = w, .batch = b};
    return 0;
}

static int fw_wait(void *state, double timeout, tf__run *r, tf__event *ev)
{
    (void)timeout;
    fw *f = state;
    fw_config *c = f->c;
    account(f);
    start_sent(f);
    if (c->first_idle_s < 0 && f->waits > 0 && f->n_idle > 0 &&
        tf__sched_done(&r->sched))
        c->first_idle_s = f->last_f;
    if ((f->waits++ & 255) == 0) {
        size_t h = fw_heap_in_use();
        if (h > c->heap_peak)
            c->heap_peak = h;
    }
    int rc = 0;
    if (f->n_heap > 0) {
        fevent e = heap_pop(f);
        if (e.t > f->cnow)
            f->cnow = e.t;
        f->last_f = e.t;
        rc = compute(f, e.w, e.t, r, ev);
    }
    f->last_exit = c->timed ? thread_cpu() : 0;
    return rc;
}

/* After the last event: the coordinator's final service. */
static int fw_finish(void *state, tf__run *r, int rc)
{
    (void)r;
    account(state);
    return rc;
}

static const tf__transport fw_tr = {
    .depth = 2, .workers = fw_workers, .start = fw_start, .stop = fw_stop,
    .begin = fw_begin, .send = fw_send, .wait = fw_wait,
    .finish = fw_finish};

const tf__transport *fw_transport(void)
{
    return &fw_tr;
}
