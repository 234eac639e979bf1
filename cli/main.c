/*
 * main.c - `taskfarm`: run a program you already have over many inputs on
 * all the CPUs of a job (see taskfarm(1) and README.md).
 *
 * The steps: parse the command line, read every input, decide the slots
 * from the CPUs (tf_cpus_detect), then one run of a threads farm (or, under
 * mpirun/srun with several ranks, an MPI farm) whose tasks spawn the
 * command (tasks.c). SIGINT/SIGTERM are ours (keep_signals): the handler
 * stops new work and cancels the run; running commands get --grace
 * seconds and reach the journal. Exit status as GNU parallel's.
 */
#define _GNU_SOURCE
#include "app.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static app *g_app;          /* for the signal handler only */

static void on_signal(int signo)
{
    if (g_app == NULL)
        return;
    if (g_app->signo == 0)
        g_app->signo = signo;
    g_app->stop = 1;
    if (g_app->farm != NULL)
        tf_farm_cancel(g_app->farm);
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* -j N, +N, -N, N% against the CPU count; -1 after a message. */
static int parse_jobs(const char *s, int cpus)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    int ok = errno == 0 && end != s;
    long jobs = v;
    if (ok && *end == '%' && end[1] == '\0' && s[0] != '+' && s[0] != '-')
        jobs = cpus * v / 100 > 0 ? cpus * v / 100 : 1;
    else if (ok && *end == '\0' && (s[0] == '+' || s[0] == '-'))
        jobs = cpus + v > 0 ? cpus + v : 1;     /* as GNU parallel: >= 1 */
    else if (!(ok && *end == '\0'))
        ok = 0;
    if (ok && jobs == 0 && s[0] != '+' && s[0] != '-' && *end != '%') {
        fprintf(stderr, "taskfarm: -j 0 (as many as possible) is refused: a "
                        "job wants its CPUs, not more; give a number\n");
        return -1;
    }
    if (!ok || jobs < 1 || jobs > TF_MAX_JOBS) {
        fprintf(stderr, "taskfarm: -j wants N, +N, -N or N%% giving 1 to %d "
                        "slots: '%s'\n", TF_MAX_JOBS, s);
        return -1;
    }
    return (int)jobs;
}

static int decide_slots(app *a, tf_cpus *cpus)
{
    tf_cpus_detect(cpus);
    if (a->o.jobs != NULL)
        return parse_jobs(a->o.jobs, cpus->count);
    if (a->o.cpus_per_task > 0) {
        int n = cpus->count / a->o.cpus_per_task;
        return n > 0 ? n : 1;
    }
    return cpus->count;
}

/* OMP_NUM_THREADS and the BLAS ones = CPUs per slot, unless set. */
static char **thread_env(int per_slot)
{
    static const char *const names[] = {"OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"};
    char **env = calloc(4, sizeof(char *));
    int k = 0;
    for (int i = 0; env != NULL && i < 3; i++) {
        if (getenv(names[i]) != NULL)
            continue;
        char buf[64];
        snprintf(buf, sizeof(buf), "%s=%d", names[i], per_slot);
        env[k++] = strdup(buf);
    }
    return env;
}

static void cpu_list(cli_spawn_cfg *cfg)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return;
    cfg->cpu_list = malloc(CPU_SETSIZE * sizeof(int));
    if (cfg->cpu_list == NULL)
        return;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cfg->cpu_list[cfg->n_cpu_list++] = c;
}

static int dry_run(app *a)
{
    char tmp[32];
    for (size_t i = 0; i < a->in.n; i++) {
        cli_task_ctx t = {cli_input(&a->in, i, tmp), i + 1,
                          (int)(i % (size_t)a->spawn.pin) + 1};
        char **argv = cli_build_argv(&a->o, a->has_repl, &t);
        char *text = argv ? cli_argv_text(argv, a->o.shell) : NULL;
        cli_argv_free(argv);
        if (text == NULL)
            return 255;
        printf("%s\n", text);
        free(text);
    }
    return 0;
}

/* The journal's key: what makes two runs the same (N is checked too). */
static char *journal_key(const app *a, size_t *len)
{
    char digest[33];
    cli_inputs_digest(&a->in, digest);
    char head[128];
    size_t at = (size_t)snprintf(head, sizeof(head), "taskfarm 1 shell=%d "
                                 "inputs=%s colsep=", a->o.shell, digest);
    size_t n = at + 1;
    for (int k = 0; k < a->o.n_cmd; k++)
        n += strlen(a->o.cmd[k]) + 1;
    if (a->o.colsep)
        n += strlen(a->o.colsep);
    char *key = malloc(n);
    if (key == NULL)
        return NULL;
    memcpy(key, head, at);
    if (a->o.colsep) {
        memcpy(key + at, a->o.colsep, strlen(a->o.colsep));
        at += strlen(a->o.colsep);
    }
    for (int k = 0; k < a->o.n_cmd; k++) {
        key[at++] = '\0';
        memcpy(key + at, a->o.cmd[k], strlen(a->o.cmd[k]));
        at += strlen(a->o.cmd[k]);
    }
    *len = at;
    return key;
}

static int exit_status(app *a, int rc, const tf_report *rep)
{
    if (a->signo != 0)
        return 128 + a->signo;
    if (rc == TF_EJOURNAL) {
        /* An I/O problem's text points at the system error: give it. */
        int io = rep->journal_problem == TF_JOURNAL_IO && rep->sys_errno;
        fprintf(stderr, "taskfarm: --journal %s: %s%s%s\n", a->o.journal,
                tf_journal_problem_text(rep->journal_problem),
                io ? ": " : "", io ? strerror(rep->sys_errno) : "");
        return 255;
    }
    if (rc != 0 && rc != TF_ETASKS && rc != TF_ESTOPPED &&
        rc != TF_ECANCELED) {
        fprintf(stderr, "taskfarm: %s\n", tf_strerror(rc));
        return 255;
    }
    if (a->internal_error)
        return 255;
    return a->n_failed > 100 ? 101 : (int)a->n_failed;
}

static int make_farm(app *a, int slots)
{
    tf_options fo = TF_OPTIONS_INIT;
    fo.backend = a->world > 1 ? TF_BACKEND_MPI : TF_BACKEND_THREADS;
    fo.n_jobs = a->world > 1 ? a->world : slots;
    fo.batch_size = 1;          /* commands take milliseconds: balance */
    fo.keep_signals = 1;
    fo.on_progress = app_progress;
    fo.progress_user = a;
    /* A command takes milliseconds to hours: a job queued behind a long
     * one would wait while another slot idles. */
    fo.queue_depth = 1;
    int rc = tf_farm_create(&a->farm, &fo);
    if (rc != 0)
        fprintf(stderr, "taskfarm: cannot start the farm: %s\n",
                tf_strerror(rc));
    return rc;
}

static int run(app *a)
{
    size_t key_len = 0;
    /* Only rank 0 opens the journal, and only it has the inputs. */
    char *key = !a->journaling ? NULL
                : a->rank == 0 ? journal_key(a, &key_len)
                               : strdup("rank");
    if (key != NULL && a->rank != 0)
        key_len = 4;
    if (a->journaling && (key == NULL || key_len > 65536)) {
        fprintf(stderr, "taskfarm: --journal: the command is too long to "
                        "key the journal (64 KiB at most)\n");
        free(key);
        return 255;
    }
    tf_run_options ro = TF_RUN_OPTIONS_INIT;
    ro.journal = a->o.journal;
    ro.journal_key = key;
    ro.journal_key_len = key_len;
    ro.no_journal = !a->journaling;
    ro.order = a->o.order_completed ? TF_RUN_ORDER_COMPLETED
                                    : TF_RUN_ORDER_INDEX;
    ro.on_input = app_input;
    tf_report rep;
    catch_signals();
    int rc = tf_farm_run_with(a->farm, &ro, a->in.n, app_task, app_result,
                              app_error, a, &rep);
    if (a->bar_drawn)
        cli_write_all(2, "\n", 1);
    if (a->o.verbose && a->rank == 0)
        fprintf(stderr, "taskfarm: %zu tasks: %zu from the journal, %zu run, "
                "%zu failed, %zu not run, in %.1f s\n", rep.n_tasks,
                rep.n_replayed, a->n_delivered - rep.n_replayed, a->n_failed,
                a->in.n - a->n_delivered, rep.seconds);
    free(key);
    return exit_status(a, rc, &rep);
}

static int setup(app *a, int argc, char **argv, tf_cpus *cpus, int *slots)
{
    int rc = cli_parse(argc, argv, &a->o);
    if (rc != 0)
        return rc < 0 ? 255 : 0;
    /* Under MPI only rank 0 reads (stdin reaches rank 0 only). */
    int ok = a->rank != 0 || cli_inputs_read(&a->o, &a->in) == 0;
    if (cli_mpi_share_count(&a->in.n, ok) != 0)
        return 255;
    a->has_repl = cli_has_replacement(a->o.cmd, a->o.n_cmd,
                                      a->o.colsep != NULL);
    *slots = decide_slots(a, cpus);
    if (*slots < 0)
        return 255;
    return -1;
}

static void configure_spawn(app *a, const tf_cpus *cpus, int slots)
{
    if (a->world > 1)
        slots = 1;              /* a rank runs one command at a time */
    int per_slot = a->o.cpus_per_task > 0 ? a->o.cpus_per_task
                                          : (cpus->count / slots > 0
                                                 ? cpus->count / slots : 1);
    a->spawn.timeout = a->o.timeout;
    a->spawn.grace = a->o.grace;
    a->spawn.spill = a->journaling || a->world > 1 ? 0 : (size_t)1 << 20;
    a->spawn.env_extra = thread_env(per_slot);
    a->spawn.stop = &a->stop;
    a->spawn.no_new = &a->no_new;
    a->spawn.pin = a->o.cpus_per_task;
    if (a->o.cpus_per_task > 0)
        cpu_list(&a->spawn);
}

/* -v: what the run has; with --cpus-per-task, whether slots share CPUs
 * (more slots x K than CPUs in the mask: the pinning wraps around). */
static void say_slots(const app *a, const tf_cpus *cpus, int slots)
{
    int k = a->o.cpus_per_task, n = a->spawn.n_cpu_list;
    int each = k < n ? k : n;   /* the pinning wraps around the mask */
    char pin[160] = "";
    if (k > 0 && (long)slots * k <= n)
        snprintf(pin, sizeof(pin), ", each pinned to its own %d CPU%s", k,
                 k > 1 ? "s" : "");
    else if (k > 0)
        snprintf(pin, sizeof(pin), ", each pinned to %d CPU%s, shared "
                 "(%d slots x %d > %d CPUs)", each, each > 1 ? "s" : "",
                 slots, k, n);
    fprintf(stderr, "taskfarm: %zu tasks on %d slots (%d CPUs, from %s)%s%s\n",
            a->in.n, a->world > 1 ? a->world : slots, cpus->count,
            tf_cpus_source_name(cpus->source),
            a->world > 1 ? ", one per MPI rank" : "", pin);
}

int main(int argc, char **argv)
{
    static app a;
    cli_spawn_prepare();
    a.world = cli_mpi_init(&argc, &argv, &a.rank);
    tf_cpus cpus;
    int slots = 1;
    int rc = setup(&a, argc, argv, &cpus, &slots);
    if (rc >= 0) {
        cli_mpi_finalize();
        return rc;
    }
    a.journaling = a.o.journal != NULL;
    configure_spawn(&a, &cpus, slots);
    if (a.o.dry_run) {
        a.spawn.pin = slots;
        rc = a.rank == 0 ? dry_run(&a) : 0;
        cli_mpi_finalize();
        return rc;
    }
    if (a.o.verbose && a.rank == 0)
        say_slots(&a, &cpus, slots);
    a.bar = a.o.progress && a.rank == 0 && isatty(2);
    if (a.rank == 0 && cli_output_open(&a.out, &a.o, a.journaling) != 0)
        a.internal_error = 1;
    /* Every rank must create the farm: MPI decides together. */
    if (cli_mpi_share_count(&a.in.n, !a.internal_error) != 0 ||
        make_farm(&a, slots) != 0) {
        cli_mpi_finalize();
        return 255;
    }
    g_app = &a;
    rc = run(&a);
    tf_farm_destroy(a.farm);
    a.farm = NULL;
    cli_output_close(a.out);
    cli_inputs_release(&a.in);
    cli_mpi_finalize();
    return rc;
}
