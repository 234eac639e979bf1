/*
 * record.c - one command's result as the task's result bytes: a fixed
 * header, then stdout and stderr. These bytes are what the library orders,
 * bounds and journals; a resumed run replays them unchanged. A stream that
 * spilled to a temporary file travels as its descriptor instead (only
 * without a journal, in the same process).
 */
#include "cli.h"

#include <string.h>

#define RECORD_MAGIC 0x31524654u    /* "TFR1" */

typedef struct record_hdr {
    uint32_t magic;
    int32_t kind, code;
    int32_t out_fd, err_fd;
    int32_t slot;
    double start, runtime;
    uint64_t out_len, err_len;
    char host[64];
} record_hdr;

int cli_record_put(tf_out *out, const cli_result *r)
{
    record_hdr h;
    memset(&h, 0, sizeof(h));
    h.magic = RECORD_MAGIC;
    h.kind = (int32_t)r->kind;
    h.code = r->code;
    h.out_fd = r->out.fd;
    h.err_fd = r->err.fd;
    h.slot = r->slot;
    h.start = r->start;
    h.runtime = r->runtime;
    h.out_len = r->out.fd >= 0 ? r->out.fd_len : r->out.len;
    h.err_len = r->err.fd >= 0 ? r->err.fd_len : r->err.len;
    memcpy(h.host, r->host, sizeof(h.host));
    h.host[sizeof(h.host) - 1] = '\0';
    if (tf_out_append(out, &h, sizeof(h)) != 0)
        return -1;
    if (r->out.fd < 0 && tf_out_append(out, r->out.data, r->out.len) != 0)
        return -1;
    if (r->err.fd < 0 && tf_out_append(out, r->err.data, r->err.len) != 0)
        return -1;
    return 0;
}

int cli_record_get(const void *data, size_t len, cli_result *r)
{
    record_hdr h;
    memset(r, 0, sizeof(*r));
    r->out.fd = r->err.fd = -1;
    if (len < sizeof(h))
        return -1;
    memcpy(&h, data, sizeof(h));
    size_t need = sizeof(h) + (h.out_fd < 0 ? h.out_len : 0) +
                  (h.err_fd < 0 ? h.err_len : 0);
    if (h.magic != RECORD_MAGIC || need != len)
        return -1;
    const char *p = (const char *)data + sizeof(h);
    r->kind = (run_kind)h.kind;
    r->code = h.code;
    r->slot = h.slot;
    r->start = h.start;
    r->runtime = h.runtime;
    memcpy(r->host, h.host, sizeof(r->host));
    r->host[sizeof(r->host) - 1] = '\0';
    r->out.fd = h.out_fd;
    r->err.fd = h.err_fd;
    if (h.out_fd < 0) {
        r->out.data = (char *)p;
        r->out.len = (size_t)h.out_len;
        p += h.out_len;
    } else {
        r->out.fd_len = h.out_len;
    }
    if (h.err_fd < 0) {
        r->err.data = (char *)p;
        r->err.len = (size_t)h.err_len;
    } else {
        r->err.fd_len = h.err_len;
    }
    return 0;
}
