/*
 * backend_serial.c - the reference backend: every batch computed inline, in
 * the caller's thread, through the same scheduler and delivery as the
 * parallel backends, so that its results define what they must produce.
 */
#include "internal.h"

static int serial_start(tf_farm *farm)
{
    (void)farm;
    return 0;
}

static int serial_run(tf_farm *farm, tf__run *r)
{
    (void)farm;
    tf__batch *b = tf__batch_new();
    if (b == NULL)
        return TF_ENOMEM;
    const tf__exec how = {r->task, r->user, r->opts->stop_on_error, NULL, NULL};
    int rc = 0;
    for (;;) {
        tf__run_check_signal(r);
        tf__range next = tf__sched_next(&r->sched);
        if (next.count == 0)
            break;
        rc = tf__batch_exec(b, next.start, next.count, &how);
        if (rc != 0)
            break;
        tf__sched_observe(&r->sched, b->count, b->seconds, b->len);
        tf__batch *spent = NULL;
        if (tf__deliver_batch(&r->deliver, b, &spent) != 0)
            tf__sched_stop(&r->sched);
        /* One batch in flight at a time: delivery hands it straight back. */
        b = spent;
    }
    tf__batch_free(b);
    return rc;
}

static void serial_stop(tf_farm *farm)
{
    (void)farm;
}

const tf__backend_ops tf__serial_ops = {
    .start = serial_start, .run = serial_run, .stop = serial_stop};
