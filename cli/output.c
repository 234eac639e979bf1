/*
 * output.c - where one task's result goes, in the thread that called the
 * run: its stdout and stderr written whole to taskfarm's (with --tag, each
 * line prefixed by the input), or to --results DIR/SEQ/; and one joblog
 * line in GNU parallel's format. Output is written with write(2), never
 * through stdio buffers, so a task's bytes leave before the next task's.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cli_output {
    const cli_opts *o;
    FILE *joblog;
};

int cli_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int cli_output_open(cli_output **out, const cli_opts *o, int append_joblog)
{
    cli_output *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    w->o = o;
    if (o->results != NULL && mkdir(o->results, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "taskfarm: cannot create --results %s: %s\n",
                o->results, strerror(errno));
        free(w);
        return -1;
    }
    if (o->joblog != NULL) {
        /* "e": close-on-exec, so the commands do not inherit it. */
        w->joblog = fopen(o->joblog, append_joblog ? "ae" : "we");
        if (w->joblog == NULL) {
            fprintf(stderr, "taskfarm: cannot write --joblog %s: %s\n",
                    o->joblog, strerror(errno));
            free(w);
            return -1;
        }
        if (ftell(w->joblog) == 0)
            fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval"
                  "\tSignal\tCommand\n", w->joblog);
    }
    *out = w;
    return 0;
}

/* Writes a chunk, with --tag's prefix at the start of every line; *bol
 * says whether the chunk starts a line. */
static int put_tagged(int fd, const char *d, size_t n, const char *tag,
                      int *bol)
{
    if (tag == NULL)
        return cli_write_all(fd, d, n);
    size_t tl = strlen(tag);
    while (n > 0) {
        if (*bol && (cli_write_all(fd, tag, tl) != 0 ||
                     cli_write_all(fd, "\t", 1) != 0))
            return -1;
        const char *nl = memchr(d, '\n', n);
        size_t k = nl ? (size_t)(nl - d) + 1 : n;
        if (cli_write_all(fd, d, k) != 0)
            return -1;
        *bol = nl != NULL;
        d += k;
        n -= k;
    }
    return 0;
}

/* A stream, in memory or in its spill file (read back, then closed). */
static int put_stream(int fd, const cli_stream *s, const char *tag)
{
    int bol = 1;
    if (s->fd < 0)
        return put_tagged(fd, s->data, s->len, tag, &bol);
    char buf[65536];
    uint64_t off = 0;
    while (off < s->fd_len) {
        ssize_t k = pread(s->fd, buf, sizeof(buf), (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || put_tagged(fd, buf, (size_t)k, tag, &bol) != 0)
            return -1;
        off += (uint64_t)k;
    }
    return 0;
}

static int exit_value(const cli_result *r)
{
    return r->kind == RUN_EXITED || r->kind == RUN_NOT_STARTED ? r->code
                                                               : 128 + r->code;
}

static int write_file(const char *dir, const char *name, const cli_stream *s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    int rc = put_stream(fd, s, NULL);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

static int put_results(const cli_opts *o, size_t seq, const cli_result *r)
{
    char dir[4096], code[32];
    snprintf(dir, sizeof(dir), "%s/%zu", o->results, seq);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -1;
    int n = snprintf(code, sizeof(code), "%d\n", exit_value(r));
    cli_stream c = {code, (size_t)n, 0, -1, 0};
    if (write_file(dir, "stdout", &r->out) != 0 ||
        write_file(dir, "stderr", &r->err) != 0 ||
        write_file(dir, "exit", &c) != 0)
        return -1;
    return 0;
}

static int put_joblog(FILE *f, size_t seq, const char *cmdline,
                      const cli_result *r)
{
    /* GNU parallel's values: a time-out is Exitval -1 with the signal
     * that ended it. */
    int exitval = r->kind == RUN_EXITED || r->kind == RUN_NOT_STARTED
                      ? r->code : r->kind == RUN_TIMEOUT ? -1 : 0;
    int sig = r->kind == RUN_SIGNALED || r->kind == RUN_TIMEOUT ? r->code : 0;
    fprintf(f, "%zu\t%s\t%.3f\t%10.3f\t0\t0\t%d\t%d\t", seq,
            r->host[0] ? r->host : ":", r->start, r->runtime, exitval, sig);
    for (const char *c = cmdline; *c; c++)     /* as GNU parallel: \n -> \0 */
        fputc(*c == '\n' ? '\0' : *c, f);
    fputc('\n', f);
    return fflush(f) != 0 || ferror(f) ? -1 : 0;
}

int cli_output_task(cli_output *out, size_t seq, const char *input,
                    const char *cmdline, const cli_result *r)
{
    const cli_opts *o = out->o;
    int rc;
    if (o->results != NULL)
        rc = put_results(o, seq, r);
    else
        rc = put_stream(1, &r->out, o->tag ? input : NULL) |
             put_stream(2, &r->err, o->tag ? input : NULL);
    if (rc != 0) {
        fprintf(stderr, "taskfarm: cannot write the output of task %zu: "
                        "%s\n", seq, strerror(errno));
        return -1;
    }
    /* A joblog that cannot be written (a full disk) is taskfarm failing,
     * not something to drop silently. */
    if (out->joblog != NULL && put_joblog(out->joblog, seq, cmdline, r) != 0) {
        fprintf(stderr, "taskfarm: cannot write --joblog %s: %s\n",
                o->joblog, strerror(errno));
        return -1;
    }
    return 0;
}

void cli_output_close(cli_output *out)
{
    if (out == NULL)
        return;
    if (out->joblog != NULL)
        fclose(out->joblog);
    free(out);
}
