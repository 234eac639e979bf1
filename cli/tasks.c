/*
 * tasks.c - the library's callbacks for the command farm.
 *
 * DESIGN
 *   - The task (a worker thread, or an MPI rank) builds the command from
 *     the input that travelled with it (tf_in_data), runs it (spawn.c),
 *     retries it here (so that a retry is another spawn, with its own
 *     time-out), and returns the result record (record.c) as its bytes.
 *   - What counts as a failed task for the library: without a journal,
 *     nothing: every record is delivered (ordered, bounded, spilled past
 *     1 MiB) and the delivery counts failures. With a journal a failed
 *     command must not be journaled (a resume runs it again), so the task
 *     fails; its record travels to the error callback by pointer (one
 *     process: the record is ours to free there) or, across MPI ranks, as
 *     a short text (status only: a failed task's output is not shown).
 *   - Delivery (result and error callbacks) runs in the thread that called
 *     the run: output, joblog, failure messages, the progress bar.
 */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TASK_FAILED = 1, TASK_SKIPPED = 2, TASK_BROKEN = 3 };

int app_input(void *user, size_t index, tf_out *in)
{
    app *a = user;
    char tmp[32];
    const char *s = cli_input(&a->in, index, tmp);
    return tf_out_append(in, s, strlen(s) + 1);
}

static int run_attempts(app *a, char **argv, const cli_task_ctx *t,
                        size_t index, cli_result *r)
{
    for (int attempt = 0;; attempt++) {
        if (cli_spawn(&a->spawn, argv, t, index, r) != 0)
            return -1;
        if (cli_result_ok(r) || r->kind == RUN_SKIPPED ||
            attempt >= a->o.retries || a->stop)
            return 0;
        cli_result_release(r);
    }
}

/* A failed task with a journal: its record to the error callback. */
static int fail_with(app *a, tf_out *out, cli_result *r)
{
    char msg[128];
    if (a->world == 1) {
        cli_result *keep = malloc(sizeof(*keep));
        if (keep == NULL)
            return TASK_BROKEN;
        *keep = *r;
        snprintf(msg, sizeof(msg), "@%p", (void *)keep);
    } else {
        snprintf(msg, sizeof(msg), "=%d %d %.3f %.3f %d %.60s", (int)r->kind,
                 r->code, r->start, r->runtime, r->slot, r->host);
        cli_result_release(r);
    }
    tf_out_error(out, msg);
    return TASK_FAILED;
}

int app_task(void *user, size_t index, tf_out *out)
{
    app *a = user;
    cli_task_ctx t = {tf_in_data(out), index + 1, tf_out_worker(out) + 1};
    if (tf_in_len(out) == 0)
        t.input = "";
    char **argv = cli_build_argv(&a->o, a->has_repl, &t);
    cli_result r;
    if (argv == NULL || run_attempts(a, argv, &t, index, &r) != 0) {
        cli_argv_free(argv);
        tf_out_error(out, "cannot start the command (out of memory, or no "
                          "more processes or descriptors)");
        return TASK_BROKEN;
    }
    cli_argv_free(argv);
    if (a->world > 1)
        gethostname(r.host, sizeof(r.host) - 1);
    if (r.kind == RUN_SKIPPED)
        return TASK_SKIPPED;
    int ok = cli_result_ok(&r);
    if (!ok && a->o.stop_on_error)
        a->no_new = 1;
    if (!ok && a->journaling)
        return fail_with(a, out, &r);
    int rc = cli_record_put(out, &r) == 0 ? 0 : TASK_BROKEN;
    r.out.fd = r.err.fd = -1;       /* the record carries them now */
    cli_result_release(&r);
    return rc;
}

/* ---- delivery ----------------------------------------------------------- */

static void clear_bar(app *a)
{
    if (a->bar_drawn) {
        cli_write_all(2, "\r\033[K", 4);
        a->bar_drawn = 0;
    }
}

static void report_failure(app *a, size_t seq, const char *input,
                           const cli_result *r)
{
    switch (r->kind) {
    case RUN_EXITED:
        fprintf(stderr, "taskfarm: task %zu (%s) exited with status %d\n",
                seq, input, r->code);
        break;
    case RUN_SIGNALED:
        fprintf(stderr, "taskfarm: task %zu (%s) was killed by signal %d "
                "(%s)\n", seq, input, r->code, strsignal(r->code));
        break;
    case RUN_TIMEOUT:
        fprintf(stderr, "taskfarm: task %zu (%s) timed out after %g s and "
                "was killed\n", seq, input, a->o.timeout);
        break;
    case RUN_NOT_STARTED:
        fprintf(stderr, "taskfarm: task %zu (%s) could not start its "
                "command\n", seq, input);
        break;
    case RUN_SKIPPED:
        break;
    }
}

/* One finished task, from a record or an error. */
static int deliver(app *a, size_t index, const cli_result *r)
{
    char tmp[32];
    const char *input = cli_input(&a->in, index, tmp);
    char *cmdline = NULL;
    if (a->o.joblog != NULL) {
        cli_task_ctx t = {input, index + 1, r->slot};
        char **argv = cli_build_argv(&a->o, a->has_repl, &t);
        cmdline = argv ? cli_argv_text(argv, a->o.shell) : NULL;
        cli_argv_free(argv);
    }
    clear_bar(a);
    int rc = cli_output_task(a->out, index + 1, input,
                             cmdline ? cmdline : "", r);
    free(cmdline);
    a->n_delivered++;
    if (!cli_result_ok(r)) {
        a->n_failed++;
        report_failure(a, index + 1, input, r);
        if (a->o.stop_on_error && a->world > 1)
            tf_farm_cancel(a->farm);
    }
    if (rc != 0)
        a->internal_error = 1;
    return rc;
}

int app_result(void *user, size_t index, const void *data, size_t len)
{
    app *a = user;
    cli_result r;
    if (cli_record_get(data, len, &r) != 0) {
        fprintf(stderr, "taskfarm: task %zu: a malformed result record "
                        "(a journal from another build?)\n", index + 1);
        a->internal_error = 1;
        return 1;
    }
    int rc = deliver(a, index, &r);
    if (r.out.fd >= 0)
        close(r.out.fd);
    if (r.err.fd >= 0)
        close(r.err.fd);
    return rc;
}

static int deliver_text(app *a, const tf_task_error *err)
{
    cli_result r;
    memset(&r, 0, sizeof(r));
    r.out.fd = r.err.fd = -1;
    int kind;
    if (sscanf(err->message, "=%d %d %lf %lf %d %63s", &kind, &r.code,
               &r.start, &r.runtime, &r.slot, r.host) < 5)
        return -1;
    r.kind = (run_kind)kind;
    return deliver(a, err->index, &r);
}

int app_error(void *user, const tf_task_error *err)
{
    app *a = user;
    if (err->kind == TF_FAIL_ERROR && err->code == TASK_SKIPPED) {
        a->n_skipped++;
        return 0;
    }
    if (err->kind == TF_FAIL_ERROR && err->code == TASK_FAILED &&
        err->message[0] == '@') {
        void *p = NULL;
        sscanf(err->message + 1, "%p", &p);
        cli_result *r = p;
        int rc = deliver(a, err->index, r);
        cli_result_release(r);
        free(r);
        return rc;
    }
    if (err->kind == TF_FAIL_ERROR && err->code == TASK_FAILED &&
        deliver_text(a, err) == 0)
        return 0;
    clear_bar(a);
    fprintf(stderr, "taskfarm: task %zu failed: %s\n", err->index + 1,
            err->message[0] ? err->message : "taskfarm's worker was lost");
    a->n_failed++;
    a->internal_error = 1;
    return 0;
}

void app_progress(void *user, size_t done, size_t total, double elapsed)
{
    app *a = user;
    if (!a->bar)
        return;
    char line[256];
    line[0] = '\r';
    int n = tf_progress_format(line + 1, sizeof(line) - 8, done, total,
                               elapsed);
    if (n < 0)
        return;
    size_t len = strlen(line);
    memcpy(line + len, "\033[K", 3);
    cli_write_all(2, line, len + 3);
    a->bar_drawn = 1;
}
