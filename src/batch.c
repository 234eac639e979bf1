/*
 * batch.c - a batch: the results of a contiguous range of tasks, stored as
 * one byte area plus one slot per task, and the tf_out calls that task
 * callbacks use to fill it.
 *
 * One layout for every backend: the process and MPI backends send a batch
 * as it is (slots, then bytes), so a result is copied once per hop at most.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

tf__batch *tf__batch_new(void)
{
    return calloc(1, sizeof(tf__batch));
}

void tf__batch_free(tf__batch *b)
{
    if (b == NULL)
        return;
    free(b->slots);
    free(b->data);
    free(b);
}

void tf__batch_free_list(tf__batch *list)
{
    while (list != NULL) {
        tf__batch *next = list->next;
        tf__batch_free(list);
        list = next;
    }
}

tf__batch *tf__batch_take(tf__batch **spare)
{
    tf__batch *b = *spare;
    if (b == NULL)
        return tf__batch_new();
    *spare = b->next;
    b->next = NULL;
    return b;
}

void tf__batch_give(tf__batch **spare, tf__batch *list)
{
    while (list != NULL) {
        tf__batch *next = list->next;
        list->next = *spare;
        *spare = list;
        list = next;
    }
}

int tf__batch_reset(tf__batch *b, size_t start, size_t count)
{
    if (count > b->slots_cap) {
        tf__slot *s = realloc(b->slots, count * sizeof(*s));
        if (s == NULL)
            return TF_ENOMEM;
        b->slots = s;
        b->slots_cap = count;
    }
    b->start = start;
    b->count = count;
    b->len = 0;
    b->seconds = 0;
    b->status = 0;
    b->next = NULL;
    return 0;
}

int tf__batch_reserve(tf__batch *b, size_t cap)
{
    if (cap <= b->cap)
        return 0;
    size_t want = b->cap ? b->cap : 256;
    while (want < cap) {
        if (want > SIZE_MAX / 2)
            return TF_ENOMEM;
        want *= 2;
    }
    unsigned char *d = realloc(b->data, want);
    if (d == NULL)
        return TF_ENOMEM;
    b->data = d;
    b->cap = want;
    return 0;
}

int tf__batch_begin(tf__batch *b, size_t start, size_t count)
{
    if (tf__batch_reset(b, start, count) != 0)
        return TF_ENOMEM;
    b->done = 0;
    return 0;
}

/* A failed task: its partial bytes are dropped; its message, if it left
 * one, takes their place. */
static void record_failure(tf__batch *b, tf__slot *s, const tf_out *out,
                           int rc)
{
    b->len = out->base;
    s->len = 0;
    if (out->msg_len > 0 && tf__batch_reserve(b, b->len + out->msg_len) == 0) {
        memcpy(b->data + b->len, out->msg, out->msg_len);
        b->len += out->msg_len;
        s->len = out->msg_len;
    }
    s->fail = TF_FAIL_ERROR;
    s->code = rc;
}

/* Computes the batch's next task; 1 when the batch is complete. */
static int next_task(tf__batch *b, const tf__exec *how)
{
    size_t i = b->done++;
    size_t index = b->start + i;
    tf__slot *s = &b->slots[i];
    tf_out out; /* field by field: its message buffer needs no zeroing */
    out.batch = b;
    out.base = b->len;
    out.how = how;
    out.index = index;
    out.msg_len = 0;
    if (how->before != NULL)
        how->before(how->ctx, index);
    int rc = how->task(how->user, index, &out);
    s->off = out.base;
    s->attempts = 1;
    if (rc == 0) {
        s->len = b->len - out.base;
        s->fail = 0;
        s->code = 0;
    } else {
        record_failure(b, s, &out, rc);
        if (how->end_at_failure)
            b->count = b->done;
    }
    return b->done == b->count;
}

int tf__batch_step(tf__batch *b, const tf__exec *how)
{
    double t0 = tf__now();
    int complete = next_task(b, how);
    b->seconds += tf__now() - t0;
    return complete;
}

/* The clock is read per batch, not per task: it costs as much as a
 * trivial task. */
int tf__batch_exec(tf__batch *b, size_t start, size_t count,
                   const tf__exec *how)
{
    if (tf__batch_begin(b, start, count) != 0)
        return TF_ENOMEM;
    double t0 = tf__now();
    while (b->done < b->count)
        next_task(b, how);
    b->seconds = tf__now() - t0;
    return 0;
}

int tf__batch_set_failed(tf__batch *b, size_t index, int kind, int code,
                         int attempts)
{
    if (tf__batch_reset(b, index, 1) != 0)
        return TF_ENOMEM;
    b->slots[0] = (tf__slot){0, 0, kind, code, attempts};
    return 0;
}

/* ---- tf_out: the public face of a batch, for the task callback -------- */

void *tf_out_extend(tf_out *out, size_t len)
{
    tf__batch *b = out->batch;
    if (len > SIZE_MAX - b->len)
        return NULL;
    if (tf__batch_reserve(b, b->len + len) != 0)
        return NULL;
    void *p = b->data + b->len;
    b->len += len;
    return p;
}

int tf_out_append(tf_out *out, const void *data, size_t len)
{
    void *p = tf_out_extend(out, len);
    if (p == NULL)
        return TF_ENOMEM;
    if (len > 0)
        memcpy(p, data, len);
    return 0;
}

void tf_out_truncate(tf_out *out, size_t len)
{
    if (len < out->batch->len - out->base)
        out->batch->len = out->base + len;
}

size_t tf_out_len(const tf_out *out)
{
    return out->batch->len - out->base;
}

/* The task's input slot, looked up when asked for (most tasks have none,
 * and their set-up should not pay for it), or NULL. */
static const tf__slot *input_slot(const tf_out *out)
{
    const tf__batch *in = out->how != NULL ? out->how->in : NULL;
    if (in == NULL || out->index < in->start ||
        out->index - in->start >= in->count)
        return NULL;
    return &in->slots[out->index - in->start];
}

const void *tf_in_data(const tf_out *out)
{
    static const unsigned char none[1];
    const tf__slot *s = input_slot(out);
    return s != NULL && s->len > 0 ? out->how->in->data + s->off : none;
}

size_t tf_in_len(const tf_out *out)
{
    const tf__slot *s = input_slot(out);
    return s != NULL ? s->len : 0;
}

int tf_out_worker(const tf_out *out)
{
    return out->how != NULL ? out->how->worker : -1;
}

/* The longest prefix of s, at most max bytes, that does not end inside a
 * UTF-8 character. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

int tf_out_error(tf_out *out, const char *message)
{
    if (out == NULL || message == NULL)
        return TF_EINVAL;
    out->msg_len = utf8_cut(message, TF__MSG_MAX);
    memcpy(out->msg, message, out->msg_len);
    return 0;
}

/* ---- the worker hooks, in whatever a worker is ------------------------ */

int tf__hook_start(const tf__hooks *h, int worker)
{
    if (h->start == NULL)
        return 0;
    return h->start(h->user, worker) == 0 ? 0 : TF_EWORKER;
}

void tf__hook_stop(const tf__hooks *h, int worker)
{
    if (h->stop != NULL)
        h->stop(h->user, worker);
}
