/*
 * inputs.c - every input is read before the first task starts: N is part
 * of the journal's key, so the list must be whole. They live in one buffer
 * (each NUL-terminated) with an offset per input: 8 bytes per input plus
 * the text; a range stores nothing.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096 / elem;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int add_input(cli_inputs *in, size_t *buf_len, size_t *buf_cap,
                     size_t *off_cap, const char *s, size_t len)
{
    if (grow((void **)&in->buf, buf_cap, *buf_len + len + 1, 1) != 0 ||
        grow((void **)&in->off, off_cap, in->n + 1, sizeof(size_t)) != 0)
        return -1;
    memcpy(in->buf + *buf_len, s, len);
    in->buf[*buf_len + len] = '\0';
    in->off[in->n++] = *buf_len;
    *buf_len += len + 1;
    return 0;
}

static int read_all(int fd, char **data, size_t *len)
{
    size_t cap = 0;
    *data = NULL;
    *len = 0;
    for (;;) {
        if (grow((void **)data, &cap, *len + 65536, 1) != 0)
            return -1;
        ssize_t k = read(fd, *data + *len, cap - *len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            return 0;
        *len += (size_t)k;
    }
}

/* Splits text at sep: a last input without a separator counts; a trailing
 * separator ends the last input (no empty input after it). */
static int split(cli_inputs *in, const char *text, size_t len, char sep)
{
    size_t buf_len = 0, buf_cap = 0, off_cap = 0;
    size_t start = 0;
    for (size_t k = 0; k <= len; k++) {
        if (k < len && text[k] != sep)
            continue;
        if (k == len && start == len)
            break;
        if (add_input(in, &buf_len, &buf_cap, &off_cap, text + start,
                      k - start) != 0)
            return -1;
        start = k + 1;
    }
    return 0;
}

static int read_stream(const cli_opts *o, cli_inputs *in)
{
    int fd = 0;
    const char *name = "standard input";
    if (o->source == SRC_FILE) {
        name = o->file;
        fd = open(o->file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "taskfarm: cannot read inputs from %s: %s\n",
                    o->file, strerror(errno));
            return -1;
        }
    }
    char *text;
    size_t len;
    int rc = read_all(fd, &text, &len);
    int err = errno;
    if (fd != 0)
        close(fd);
    const char *nul = rc == 0 && !o->null_sep ? memchr(text, '\0', len) : NULL;
    if (nul != NULL) {      /* an argument cannot hold it: it would cut */
        size_t line = 1;    /* the input short, and the journal's key */
        for (const char *c = text; c < nul; c++)
            line += *c == '\n';
        fprintf(stderr, "taskfarm: line %zu of %s holds a NUL byte (for "
                        "NUL-separated inputs: -0)\n", line, name);
        free(text);
        return -1;
    }
    if (rc == 0)
        rc = split(in, text, len, o->null_sep ? '\0' : '\n');
    free(text);
    if (rc != 0)
        fprintf(stderr, "taskfarm: cannot read inputs from %s: %s\n", name,
                strerror(err ? err : ENOMEM));
    return rc;
}

int cli_inputs_read(const cli_opts *o, cli_inputs *in)
{
    memset(in, 0, sizeof(*in));
    if (o->source == SRC_RANGE) {
        in->range = 1;
        in->lo = o->lo;
        in->n = (size_t)((unsigned long long)o->hi -
                         (unsigned long long)o->lo);    /* args.c: fits */
        return 0;
    }
    if (o->source == SRC_ARGS) {
        size_t buf_len = 0, buf_cap = 0, off_cap = 0;
        for (int k = 0; k < o->n_args; k++)
            if (add_input(in, &buf_len, &buf_cap, &off_cap, o->args[k],
                          strlen(o->args[k])) != 0) {
                fprintf(stderr, "taskfarm: out of memory\n");
                return -1;
            }
        return 0;
    }
    return read_stream(o, in);
}

const char *cli_input(const cli_inputs *in, size_t i, char tmp[32])
{
    if (in->range) {
        /* lo + i <= HI: no overflow, but i itself may not fit in a
         * long long; the sum in unsigned arithmetic, then back. */
        snprintf(tmp, 32, "%lld",
                 (long long)((unsigned long long)in->lo + (unsigned long long)i));
        return tmp;
    }
    return in->buf + in->off[i];
}

void cli_inputs_release(cli_inputs *in)
{
    free(in->buf);
    free(in->off);
    memset(in, 0, sizeof(*in));
}

/* Two FNV-1a 64-bit hashes with different bases over (length, bytes) of
 * every input: not cryptographic, only a key that changes with the list. */
void cli_inputs_digest(const cli_inputs *in, char hex[33])
{
    uint64_t h[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    char tmp[32];
    for (size_t i = 0; i < in->n; i++) {
        const char *s = cli_input(in, i, tmp);
        size_t len = strlen(s);
        for (int k = 0; k < 2; k++) {
            for (size_t b = 0; b < sizeof(len); b++)
                h[k] = (h[k] ^ ((len >> (8 * b)) & 0xff)) * 0x100000001b3ull;
            for (size_t b = 0; b < len; b++)
                h[k] = (h[k] ^ (unsigned char)s[b]) * 0x100000001b3ull;
        }
    }
    snprintf(hex, 33, "%016llx%016llx", (unsigned long long)h[0],
             (unsigned long long)h[1]);
}
