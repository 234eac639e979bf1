/*
 * oom_farm.c - a farm in which one task runs out of memory, for the Slurm
 * tests in cgroup mode (ConstrainRAMSpace=yes).
 *
 *     oom_farm BACKEND N K
 *
 * runs N tasks on 2 workers of BACKEND (threads or procs). Task K touches
 * memory, 16 MiB at a time, until the job's memory cgroup kills it; every
 * other task returns its own index as text. A cap of 2 GiB keeps a cluster
 * without a memory limit safe: task K then fails with code 2, which the
 * test reports as "no OOM kill". Prints "started", one line per failed task
 * ("task 7: signal 9" for a worker the OOM killer ended), then "delivered D
 * of N"; exits 0 when every task was delivered, 1 when some failed, 2 on
 * bad arguments. Under threads, the kill ends the whole process before it
 * can print anything more: that is what the test shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskfarm.h"

#define CHUNK ((size_t)16 << 20)
#define CAP_CHUNKS 128

typedef struct farm_state {
    size_t n, k;
    size_t delivered;
} farm_state;

/* Keeps every chunk: the memory must stay in use until the kill. */
static int eat_memory(void)
{
    static char *chunks[CAP_CHUNKS];
    for (size_t i = 0; i < CAP_CHUNKS; i++) {
        chunks[i] = malloc(CHUNK);
        if (chunks[i] == NULL)
            return 3;
        memset(chunks[i], (int)(i + 1), CHUNK);
    }
    return 2;
}

static int task(void *user, size_t index, tf_out *out)
{
    const farm_state *st = user;
    if (index == st->k)
        return eat_memory();
    char text[32];
    int len = snprintf(text, sizeof text, "%zu", index);
    return tf_out_append(out, text, (size_t)len);
}

static int on_result(void *user, size_t index, const void *data, size_t len)
{
    farm_state *st = user;
    char want[32];
    int n = snprintf(want, sizeof want, "%zu", index);
    if ((size_t)n == len && memcmp(data, want, len) == 0)
        st->delivered++;
    return 0;
}

static int on_error(void *user, const tf_task_error *err)
{
    (void)user;
    const char *kind = err->kind == TF_FAIL_SIGNAL ? "signal"
                       : err->kind == TF_FAIL_EXIT ? "exit"
                       : err->kind == TF_FAIL_TIMEOUT ? "timeout"
                       : err->kind == TF_FAIL_LOST    ? "lost"
                                                      : "code";
    printf("task %zu: %s %d\n", err->index, kind, err->code);
    return 0;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0')
        return -1;
    *out = (size_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    farm_state st = {0, 0, 0};
    tf_options opts = TF_OPTIONS_INIT;
    if (argc != 4 || tf_backend_parse(argv[1], &opts.backend) != 0 ||
        parse_size(argv[2], &st.n) != 0 || parse_size(argv[3], &st.k) != 0 ||
        st.k >= st.n) {
        fprintf(stderr, "usage: oom_farm threads|procs N K (K < N)\n");
        return 2;
    }
    opts.n_jobs = 2;
    printf("started\n");
    fflush(stdout);
    tf_report rep;
    int rc = tf_map(&opts, st.n, task, on_result, on_error, &st, &rep);
    printf("delivered %zu of %zu\n", st.delivered, st.n);
    if (rc != 0 && rc != TF_ETASKS)
        fprintf(stderr, "oom_farm: %s\n", tf_strerror(rc));
    return rc == 0 ? 0 : 1;
}
