/*
 * backend_serial.c - the reference backend: one worker, the caller's own
 * thread. A job is computed when the core waits for it, through the same
 * run loop, scheduler and delivery as the parallel backends, so that its
 * results define what they must produce.
 */
#include "internal.h"

#include <stdlib.h>

typedef struct serial {
    tf__job job;
    int queued;
    tf__hooks hooks;
} serial;

/* The one worker is the caller's thread: its hooks run there. */
static int serial_start(void **state, int n, tf__run *r)
{
    (void)n;
    serial *s = calloc(1, sizeof(serial));
    if (s == NULL)
        return TF_ENOMEM;
    s->hooks = r->hooks;
    int rc = tf__hook_start(&s->hooks, 0);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static void serial_stop(void *state)
{
    serial *s = state;
    if (s != NULL)
        tf__hook_stop(&s->hooks, 0);
    free(s);
}

static int serial_send(void *state, int w, const tf__job *job, tf__run *r)
{
    (void)w;
    (void)r;
    serial *s = state;
    s->job = *job;
    s->queued = 1;
    return 0;
}

static int serial_wait(void *state, double timeout, tf__run *r, tf__event *ev)
{
    (void)timeout;
    serial *s = state;
    if (!s->queued)
        return 0;
    s->queued = 0;
    const tf__exec how = {r->task, r->user, r->end_at_failure, NULL, NULL,
                          s->job.in, 0};
    tf__batch *b = tf__batch_take(&r->spare);
    if (b == NULL || tf__batch_exec(b, s->job.start, s->job.count, &how) != 0) {
        tf__batch_free(b);
        *ev = (tf__event){.kind = TF__EV_FAILED, .rc = TF_ENOMEM};
        return 0;
    }
    *ev = (tf__event){.kind = TF__EV_BATCH, .batch = b};
    return 0;
}

static int serial_workers(const tf_options *o)
{
    (void)o;
    return 1;
}

const tf__transport tf__serial_transport = {
    .depth = 1, .workers = serial_workers, .start = serial_start,
    .stop = serial_stop, .send = serial_send, .wait = serial_wait};
