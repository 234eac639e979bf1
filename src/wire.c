/*
 * wire.c - building and checking the messages of wire.h.
 */
#include "wire.h"

#include <math.h>

void tf__wire_job_of(tf__wire_job *m, const tf__job *job, const tf__run *r)
{
    *m = (tf__wire_job){job->start, job->count, r->end_at_failure,
                        job->attempt, r->task, r->user, job->in != NULL, 0,
                        job->in != NULL ? job->in->len : 0};
}

void tf__wire_result_of(tf__wire_result *h, const tf__batch *b)
{
    *h = (tf__wire_result){TF__WIRE_MAGIC, 0, b->start, b->count, b->len,
                           b->seconds};
}

void tf__wire_result_failed(tf__wire_result *h, const tf__wire_job *job,
                            int status)
{
    *h = (tf__wire_result){TF__WIRE_MAGIC, status, job->start, 0, 0, 0.0};
}

int tf__wire_check_inputs(const tf__wire_job *m, const tf__slot *slots)
{
    uint64_t off = 0;
    for (uint64_t i = 0; i < m->count; i++) {
        if (slots[i].off != off || slots[i].len > m->in_len - off)
            return -1;
        off += slots[i].len;
    }
    return off == m->in_len ? 0 : -1;
}

int tf__wire_check_header(const tf__wire_result *h, const tf__job *job)
{
    if (job == NULL || h->magic != TF__WIRE_MAGIC)
        return -1;
    if (h->status != 0)
        return h->status == TF_EWORKER && h->start == job->start &&
               h->count == 0 && h->len == 0 && h->seconds == 0 ? 1 : -1;
    if (h->start != job->start || h->count == 0 || h->count > job->count)
        return -1;
    if (h->len > TF__WIRE_MAX_LEN || !isfinite(h->seconds) || h->seconds < 0)
        return -1;
    return 0;
}

uint64_t tf__wire_result_size(const tf__wire_result *h)
{
    return h->len + h->count * sizeof(tf__slot) + sizeof *h;
}

static int slot_ok(const tf__slot *s, uint64_t off)
{
    if (s->off != off || s->attempts != 1)
        return 0;
    if (s->fail == 0)
        return s->code == 0;
    return s->fail == TF_FAIL_ERROR && s->len <= TF__MSG_MAX && s->code != 0;
}

int tf__wire_check_slots(const tf__wire_result *h, const tf__slot *slots,
                         const tf__job *job, int end_at_failure)
{
    uint64_t off = 0;
    for (uint64_t i = 0; i < h->count; i++) {
        const tf__slot *s = &slots[i];
        if (!slot_ok(s, off) || s->len > h->len - off)
            return -1;
        /* A batch cut at a failure ends with that failure, and only then. */
        int last = i + 1 == h->count;
        if (s->fail != 0 && end_at_failure && !last)
            return -1;
        off += s->len;
    }
    if (off != h->len)
        return -1;
    if (h->count < job->count &&
        !(end_at_failure && slots[h->count - 1].fail != 0))
        return -1;
    return 0;
}
