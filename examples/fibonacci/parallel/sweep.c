/*
 * sweep.c - the shared command line and n_jobs sweep of the parallel
 * Fibonacci examples (see sweep.h).
 */
#include "sweep.h"
#include "timing.h"

#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_VALUES 1000000UL

typedef struct options {
    unsigned long lo, hi;
    int jobs[SWEEP_MAX_JOBS];
    int n_jobs;
    int repeat;                /* rounds; every row is timed this often */
    fib_algo algo;
    const char *json;
    const char *journal;
    const char *output;
    const char *backends[SWEEP_MAX_BACKENDS];
    int n_backends;
    char backend_text[256];
} options;

/* One configuration of the sweep (backend NULL: the serial baseline),
 * with a sample per round. */
typedef struct row {
    const char *backend;
    int n_jobs;
    double samples[SWEEP_MAX_REPEAT];
    int n_samples;
    fib_timing t;              /* of the samples */
    double speedup;            /* serial median / this median */
    int noise;                 /* speedup beyond the CPUs: not a result */
} row;

static const char *cpus_source(const sweep_program *p, const tf_cpus *cpus)
{
    return p->cpus_count > 0 ? p->cpus_source
                             : tf_cpus_source_name(cpus->source);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- parsing ---------------------------------------------------------- */

static int usage_error(const sweep_program *p, const char *fmt,
                       const char *arg)
{
    if (p->silent_rank)
        return 2;
    fprintf(stderr, "%s: ", p->name);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    return 2;
}

static int parse_ulong(const char *s, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > FIB_MAX_N + 1)
        return -1;
    *out = (unsigned long)v;
    return 0;
}

static int parse_values(const char *arg, options *o)
{
    char lo[32], hi[32];
    const char *colon = arg != NULL ? strchr(arg, ':') : NULL;
    if (colon == NULL || (size_t)(colon - arg) >= sizeof lo ||
        strlen(colon + 1) >= sizeof hi)
        return -1;
    memcpy(lo, arg, (size_t)(colon - arg));
    lo[colon - arg] = '\0';
    strcpy(hi, colon + 1);
    if (parse_ulong(lo, &o->lo) != 0 || parse_ulong(hi, &o->hi) != 0 ||
        o->lo >= o->hi || o->hi - o->lo > MAX_VALUES)
        return -1;
    return 0;
}

/* One --jobs item: a count, 'all', or joblib's negative form (-1 = all
 * CPUs, -2 = all but one: CPUs + 1 + n). 0 and -1 (unparseable). */
static int parse_job(const char *t, int cpus, int *out)
{
    unsigned long v;
    if (strcmp(t, "all") == 0) {
        *out = cpus;
        return 0;
    }
    if (t[0] == '-') {
        if (parse_ulong(t + 1, &v) != 0 || v < 1 || v > (unsigned long)cpus)
            return -1;
        *out = cpus + 1 - (int)v;
        return 0;
    }
    if (parse_ulong(t, &v) != 0 || v < 1 || v > TF_MAX_JOBS)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_jobs(const char *arg, options *o, int cpus)
{
    char buf[256];
    if (arg == NULL || strlen(arg) >= sizeof buf)
        return -1;
    strcpy(buf, arg);
    o->n_jobs = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (o->n_jobs == SWEEP_MAX_JOBS ||
            parse_job(t, cpus, &o->jobs[o->n_jobs]) != 0)
            return -1;
        o->n_jobs++;
    }
    return o->n_jobs > 0 && arg[strlen(arg) - 1] != ',' ? 0 : -1;
}

static int parse_repeat(const char *arg, options *o)
{
    unsigned long v;
    if (parse_ulong(arg, &v) != 0 || v < 1 || v > SWEEP_MAX_REPEAT)
        return -1;
    o->repeat = (int)v;
    return 0;
}

static int allowed(const sweep_program *p, const char *name)
{
    for (const char *const *b = p->backends; *b != NULL; b++)
        if (strcmp(*b, name) == 0)
            return 1;
    return 0;
}

static int parse_backends(const sweep_program *p, const char *arg,
                          options *o)
{
    if (arg == NULL || strlen(arg) >= sizeof o->backend_text)
        return -1;
    strcpy(o->backend_text, arg);
    o->n_backends = 0;
    for (char *save, *t = strtok_r(o->backend_text, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (!allowed(p, t) || o->n_backends == SWEEP_MAX_BACKENDS)
            return -1;
        o->backends[o->n_backends++] = t;
    }
    return o->n_backends > 0 ? 0 : -1;
}

static void print_help(const sweep_program *p)
{
    printf("usage: %s [--values LO:HI] [--jobs LIST] [--repeat N] "
           "[--algo NAME]%s [--json FILE]\n\n%s\n\n",
           p->name, p->backends[1] != NULL ? " [--backend LIST]" : "",
           p->what);
    printf("  --values LO:HI   fib(n) for LO <= n < HI (default 5000:10000)\n"
           "  --jobs LIST      worker counts, e.g. 1,2,4,all; -1 = all CPUs, "
           "-2 = all but one\n"
           "                   (default 1,2,4,8,16,32)\n"
           "  --repeat N       time everything, the serial run included, N "
           "times in\n"
           "                   interleaved rounds; report medians and the "
           "spread (default 1)\n"
           "  --algo NAME      loop, doubling or gmp (default loop)\n");
    if (p->backends[1] != NULL) {
        printf("  --backend LIST   any of:");
        for (const char *const *b = p->backends; *b != NULL; b++)
            printf(" %s", *b);
        printf(" (default %s)\n", p->default_backends);
    }
    printf("  --json FILE      also write the figures as JSON\n");
    if (p->resumable)
        printf("  --journal FILE   keep finished values in FILE; the same "
               "command resumes\n");
    printf("  --output FILE    the values in decimal, one a line, in order\n"
           "With --journal or --output: one run (one --backend, one --jobs), "
           "no serial baseline.\n"
           "A row faster than its CPUs allow (by more than %.0f%%) is "
           "marked noise, not a result.\n",
           FIB_NOISE_TOLERANCE * 100);
}

/* One option and its value. Returns 0, 1 for --help, or 2. */
static int parse_one(const sweep_program *p, const char *opt,
                     const char *val, options *o, int cpus)
{
    if (val == NULL)
        return usage_error(p, "option '%s' needs a value", opt);
    if (strcmp(opt, "--values") == 0) {
        if (parse_values(val, o) != 0)
            return usage_error(p, "bad --values '%s': expected LO:HI with "
                                  "LO < HI <= 1000001", val);
    } else if (strcmp(opt, "--jobs") == 0) {
        if (parse_jobs(val, o, cpus) != 0)
            return usage_error(p, "bad --jobs '%s': expected a comma list "
                                  "of numbers from 1 to 1024, 'all', or -N "
                                  "(all CPUs + 1 - N, at least 1)", val);
    } else if (strcmp(opt, "--repeat") == 0) {
        if (parse_repeat(val, o) != 0)
            return usage_error(p, "bad --repeat '%s': expected a number "
                                  "from 1 to 100", val);
    } else if (strcmp(opt, "--algo") == 0) {
        if (fib_algo_parse(val, &o->algo) != 0)
            return usage_error(p, "unknown --algo '%s': expected loop, "
                                  "doubling or gmp", val);
    } else if (strcmp(opt, "--backend") == 0) {
        if (parse_backends(p, val, o) != 0)
            return usage_error(p, "bad --backend '%s'", val);
    } else if (strcmp(opt, "--json") == 0) {
        o->json = val;
    } else if (strcmp(opt, "--journal") == 0 && p->resumable) {
        o->journal = val;
    } else if (strcmp(opt, "--output") == 0) {
        o->output = val;
    } else {
        return usage_error(p, "unknown option '%s'", opt);
    }
    return 0;
}

static int parse(const sweep_program *p, int argc, char **argv, options *o,
                 int cpus)
{
    memset(o, 0, sizeof(*o));
    o->lo = 5000;
    o->hi = 10000;
    o->repeat = 1;
    parse_jobs(p->default_jobs != NULL ? p->default_jobs : "1,2,4,8,16,32", o,
               cpus);
    parse_backends(p, p->default_backends, o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (!p->silent_rank)
                print_help(p);
            return 1;
        }
        int rc = parse_one(p, argv[i], i + 1 < argc ? argv[i + 1] : NULL, o,
                           cpus);
        if (rc != 0)
            return rc;
        i++;
    }
    if ((o->journal != NULL || o->output != NULL) &&
        (o->n_backends != 1 || o->n_jobs != 1 || o->repeat != 1))
        return usage_error(p, "%s runs once: give one --backend and one "
                              "--jobs value (e.g. --jobs all), no --repeat",
                           o->journal != NULL ? "--journal" : "--output");
    return 0;
}

/* 0 when `path` can be made: not a directory, in a directory we may write
 * (both outputs are written beside it, then renamed over it); else errno.
 * Asked before any work, so a typo costs nothing; and without creating
 * anything, so every rank of an SPMD program gets the same answer. */
static int can_write(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return EISDIR;
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return ENAMETOOLONG;
    return access(dirname(dir), W_OK | X_OK) == 0 ? 0 : errno;
}

static int check_outputs(const sweep_program *p, const options *o)
{
    const char *opts[] = {"--json", "--output"};
    const char *paths[] = {o->json, o->output};
    for (int i = 0; i < 2; i++) {
        int err = paths[i] != NULL ? can_write(paths[i]) : 0;
        if (err != 0) {
            if (!p->silent_rank)
                fprintf(stderr, "%s: %s: cannot write %s: %s\n", p->name,
                        opts[i], paths[i], strerror(err));
            return 2;
        }
    }
    return 0;
}

/* ---- output ----------------------------------------------------------- */

static void print_table_head(const options *o)
{
    printf("%-8s %6s %9s%s %8s %10s\n", "backend", "n_jobs", "seconds",
           o->repeat > 1 ? "      min-max   " : "", "speedup", "efficiency");
}

static void print_serial(const row *serial, const options *o)
{
    const fib_timing *t = &serial->t;
    printf("Serial execution time: %.3f s", t->median);
    if (o->repeat > 1)
        printf(" (median of %d runs, %.3f-%.3f s: a spread of %.1f%%)",
               serial->n_samples, t->min, t->max,
               100 * (t->max - t->min) / t->median);
    printf("\n");
}

static void print_row(const row *r, const options *o, int cpus)
{
    printf("%-8s %6d %9.3f", r->backend, r->n_jobs, r->t.median);
    if (o->repeat > 1)
        printf("  %6.3f-%-6.3f ", r->t.min, r->t.max);
    if (r->noise)
        printf(" %8s %10s", "noise!", "-");
    else
        printf(" %8.2f %10.2f", r->speedup, r->speedup / r->n_jobs);
    printf("%s\n", r->n_jobs > cpus ? "  * more workers than CPUs" : "");
    fflush(stdout);
}

static void print_noise_note(const row *rows, int n_rows)
{
    int noisy = 0;
    for (int k = 1; k < n_rows; k++)
        noisy += rows[k].noise;
    if (noisy > 0)
        printf("noise!: %d row%s faster than %s workers and CPUs allow "
               "(a speedup over min(n_jobs, CPUs) by more than %.0f%%): the "
               "machine was busy; rerun. Not a result.\n",
               noisy, noisy == 1 ? "" : "s", noisy == 1 ? "its" : "their",
               FIB_NOISE_TOLERANCE * 100);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* "seconds" (the median), "min", "max" and every sample. */
static void json_timing(FILE *f, const row *r)
{
    fprintf(f, "\"seconds\": %.6f, \"min\": %.6f, \"max\": %.6f, "
               "\"samples\": [",
            r->t.median, r->t.min, r->t.max);
    for (int i = 0; i < r->n_samples; i++)
        fprintf(f, "%s%.6f", i ? ", " : "", r->samples[i]);
    fprintf(f, "]");
}

static void json_body(FILE *f, const sweep_program *p, const options *o,
                      const tf_cpus *cpus, const row *rows, int n_rows)
{
    fprintf(f, "{\"program\": ");
    json_string(f, p->name);
    fprintf(f, ", \"cpus\": {\"count\": %d, \"source\": ", cpus->count);
    json_string(f, cpus_source(p, cpus));
    fprintf(f, "}, \"values\": [%lu, %lu], \"algo\": \"%s\", "
               "\"repeat\": %d, \"serial_seconds\": %.6f, \"serial\": {",
            o->lo, o->hi, fib_algo_name(o->algo), o->repeat,
            rows[0].t.median);
    json_timing(f, &rows[0]);
    fprintf(f, ", \"spread\": %.4f}, \"runs\": [",
            (rows[0].t.max - rows[0].t.min) / rows[0].t.median);
    for (int i = 1; i < n_rows; i++) {
        const row *r = &rows[i];
        fprintf(f, "%s\n  {\"backend\": \"%s\", \"n_jobs\": %d, ",
                i > 1 ? "," : "", r->backend, r->n_jobs);
        json_timing(f, r);
        fprintf(f, ", \"speedup\": %.4f, \"efficiency\": %.4f, "
                   "\"verified\": true, \"noise\": %s}",
                r->speedup, r->speedup / r->n_jobs,
                r->noise ? "true" : "false");
    }
    fprintf(f, "\n]}\n");
}

/* Written to a temporary file and renamed: never half a file. */
static int write_json(const sweep_program *p, const options *o,
                      const tf_cpus *cpus, const row *rows, int n_rows)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", o->json, (int)getpid()) >=
        (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot write %s: %s\n", p->name, o->json,
                strerror(errno));
        return -1;
    }
    json_body(f, p, o, cpus, rows, n_rows);
    if (fclose(f) != 0 || rename(tmp, o->json) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", p->name, o->json,
                strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* ---- progress --------------------------------------------------------- */

static void draw_progress(void *user, size_t done, size_t total,
                          double elapsed)
{
    (void)user;
    char line[160];
    tf_progress_format(line, sizeof line, done, total, elapsed);
    fprintf(stderr, "\r%s\033[K", line);
    if (done == total)
        fprintf(stderr, "\r\033[K");
}

void sweep_farm_options(const sweep_run *run, tf_options *o)
{
    tf_options d = TF_OPTIONS_INIT;
    *o = d;
    tf_backend_parse(run->backend, &o->backend);
    o->n_jobs = run->n_jobs;
    if (run->progress)
        o->on_progress = draw_progress;
    if (run->journal != NULL) {
        o->journal = run->journal;
        o->journal_key = run->key;
        o->journal_key_len = strlen(run->key);
    }
}

/* "killed by signal 9 (Killed)", "exit status 3", ...: what the user
 * needs to know which value failed and why (a worker that the job's memory
 * cgroup killed shows up as signal 9). */
static void describe_failure(const tf_task_error *e, char *buf, size_t size)
{
    switch (e->kind) {
    case TF_FAIL_SIGNAL:
        snprintf(buf, size, "its worker was killed by signal %d (%s)",
                 e->code, strsignal(e->code));
        break;
    case TF_FAIL_EXIT:
        snprintf(buf, size, "its worker exited with status %d", e->code);
        break;
    case TF_FAIL_TIMEOUT:
        snprintf(buf, size, "it ran past the task time limit");
        break;
    case TF_FAIL_LOST:
        snprintf(buf, size, "its worker broke its connection and was killed");
        break;
    default:
        snprintf(buf, size, "code %d", e->code);
    }
}

int sweep_farm_failed(sweep_run *run, int rc, const tf_report *rep)
{
    if (rc == TF_EINTR)
        run->interrupted = rep->signal;
    if (rc == TF_EJOURNAL) {
        snprintf(run->error, sizeof run->error, "journal %s: %s%s%s",
                 run->journal, tf_journal_problem_text(rep->journal_problem),
                 rep->sys_errno ? ": " : "",
                 rep->sys_errno ? strerror(rep->sys_errno) : "");
        return -1;
    }
    if (rc == TF_ETASKS && rep->has_error) {
        char why[96];
        describe_failure(&rep->first_error, why, sizeof why);
        snprintf(run->error, sizeof run->error,
                 "%zu of %zu values failed; first: fib(%lu), %s",
                 rep->n_failed, rep->n_tasks,
                 run->job.lo + (unsigned long)rep->first_error.index, why);
    } else
        snprintf(run->error, sizeof run->error, "%s", tf_strerror(rc));
    return -1;
}

/* ---- the sweep -------------------------------------------------------- */

static int serial_baseline(const fib_job *job, fib_results *res,
                           double *seconds)
{
    double t0 = now();
    for (size_t i = 0; i < res->n; i++)
        if (fib_job_bytes(job, i, &res->data[i], &res->len[i]) != 0)
            return -1;
    *seconds = now() - t0;
    return 0;
}

static int exit_for_signal(const sweep_program *p, int signo)
{
    fprintf(stderr, "%s: stopped by signal %d\n", p->name, signo);
    return 128 + signo;
}

/* One more sample of the serial baseline. The first run's results are the
 * reference every other run is checked against, later serial runs
 * included. 0 or 1. */
static int time_serial(const sweep_program *p, const fib_job *job,
                       fib_results *ref, int round, row *r)
{
    fib_results again, *res = round == 0 ? ref : &again;
    double t;
    if ((round > 0 && fib_results_init(&again, ref->n) != 0) ||
        serial_baseline(job, res, &t) != 0) {
        fprintf(stderr, "%s: out of memory\n", p->name);
        if (round > 0)
            fib_results_release(&again);
        return 1;
    }
    size_t bad = round > 0 ? fib_results_compare(ref, &again) : SIZE_MAX;
    if (round > 0)
        fib_results_release(&again);
    r->samples[r->n_samples++] = t;
    if (bad != SIZE_MAX) {
        fprintf(stderr, "%s: serial run %d: fib(%lu) differs from the "
                        "first\n",
                p->name, round + 1, job->lo + (unsigned long)bad);
        return 1;
    }
    return 0;
}

/* One more sample of one backend at one n_jobs; returns 0, 1 (failed or
 * wrong) or 128+signal. */
static int run_one(const sweep_program *p, sweep_run *run,
                   const fib_results *serial, row *out)
{
    fib_results res;
    if (fib_results_init(&res, run->n) != 0)
        return 1;
    run->job.results = &res;
    double t0 = now();
    int rc = p->run(run);
    out->samples[out->n_samples++] = now() - t0;
    size_t bad = rc == 0 ? fib_results_compare(serial, &res) : 0;
    fib_results_release(&res);
    if (run->interrupted)
        return exit_for_signal(p, run->interrupted);
    if (rc != 0) {
        fprintf(stderr, "%s: %s with %d workers failed: %s\n", p->name,
                run->backend, run->n_jobs, run->error);
        return 1;
    }
    if (bad != SIZE_MAX) {
        fprintf(stderr, "%s: %s with %d workers: fib(%lu) differs from the "
                        "serial result\n",
                p->name, run->backend, run->n_jobs,
                run->job.lo + (unsigned long)bad);
        return 1;
    }
    return 0;
}

static void summarize(row *r, const row *serial, int cpus)
{
    fib_timing_summarize(r->samples, r->n_samples, &r->t);
    r->speedup = serial->t.median / r->t.median;
    r->noise = fib_timing_is_noise(r->speedup, r->n_jobs, cpus);
}

/* One round: the serial baseline, then every backend at every n_jobs. The
 * last round prints each row as soon as its last sample is in, so the
 * table grows as it runs. */
static int one_round(const sweep_program *p, const options *o,
                     const tf_cpus *cpus, fib_results *ref, row *rows,
                     int n_rows, int round)
{
    fib_job job = {o->lo, o->algo, NULL};
    int last = round == o->repeat - 1;
    if (o->repeat > 1 && isatty(2))
        fprintf(stderr, "\rround %d of %d\033[K", round + 1, o->repeat);
    int rc = time_serial(p, &job, ref, round, &rows[0]);
    if (rc == 0 && last) {
        summarize(&rows[0], &rows[0], cpus->count);
        if (isatty(2))
            fprintf(stderr, "\r\033[K");
        print_serial(&rows[0], o);
        print_table_head(o);
    }
    for (int k = 1; k < n_rows && rc == 0; k++) {
        sweep_run run = {.backend = rows[k].backend,
                         .n_jobs = rows[k].n_jobs,
                         .job = job,
                         .n = ref->n,
                         .progress = isatty(2)};
        rc = run_one(p, &run, ref, &rows[k]);
        if (rc == 0 && last) {
            summarize(&rows[k], &rows[0], cpus->count);
            print_row(&rows[k], o, cpus->count);
        }
    }
    return rc;
}

static void print_header(const sweep_program *p, const options *o,
                         const tf_cpus *cpus)
{
    printf("%s: fib(n) for n = %lu..%lu (%lu values), algorithm %s\n",
           p->name, o->lo, o->hi - 1, o->hi - o->lo, fib_algo_name(o->algo));
    printf("CPUs: %d, from %s\n", cpus->count, cpus_source(p, cpus));
    if (o->repeat > 1)
        printf("Every row timed %d times in interleaved rounds (serial, then "
               "each backend and n_jobs, again): medians, min-max.\n",
               o->repeat);
}

static void warn_oversubscribed(const options *o, const tf_cpus *cpus)
{
    int most = 0;
    for (int j = 0; j < o->n_jobs; j++)
        most = o->jobs[j] > most ? o->jobs[j] : most;
    if (most > cpus->count)
        printf("Warning: n_jobs up to %d, but this job has %d CPU%s: more "
               "workers than CPUs cannot run faster (rows marked *).\n",
               most, cpus->count, cpus->count == 1 ? "" : "s");
}

/* rows[0] is the serial baseline, then every backend x n_jobs. */
static row *make_rows(const options *o, int *n_rows)
{
    *n_rows = 1 + o->n_backends * o->n_jobs;
    row *rows = calloc((size_t)*n_rows, sizeof(*rows));
    for (int b = 0, k = 1; rows != NULL && b < o->n_backends; b++)
        for (int j = 0; j < o->n_jobs; j++, k++) {
            rows[k].backend = o->backends[b];
            rows[k].n_jobs = o->jobs[j];
        }
    return rows;
}

static int sweep(const sweep_program *p, const options *o,
                 const tf_cpus *cpus)
{
    fib_results ref;
    int n_rows, rc = 0;
    print_header(p, o, cpus);
    warn_oversubscribed(o, cpus);
    fflush(stdout);
    row *rows = make_rows(o, &n_rows);
    if (rows == NULL || fib_results_init(&ref, o->hi - o->lo) != 0) {
        fprintf(stderr, "%s: out of memory\n", p->name);
        free(rows);
        return 1;
    }
    for (int round = 0; round < o->repeat && rc == 0; round++)
        rc = one_round(p, o, cpus, &ref, rows, n_rows, round);
    fib_results_release(&ref);
    if (rc == 0) {
        print_noise_note(rows, n_rows);
        printf("All results verified against the serial run.\n");
    }
    if (rc == 0 && o->json != NULL &&
        write_json(p, o, cpus, rows, n_rows) != 0)
        rc = 1;
    free(rows);
    return rc;
}

/* ---- one run, resumable: --journal / --output -------------------------- */

/* Written to a temporary file (O_EXCL, mode 0600) and renamed: a reader
 * sees the old file or the whole new one, never half. */
static int write_output(const sweep_program *p, const char *path,
                        const fib_results *res)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return -1;
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok = f != NULL;
    for (size_t i = 0; ok && i < res->n; i++)
        ok = fib_results_print(res, i, f) == 0;
    mode_t mask = umask(0);
    umask(mask);
    ok = ok && fflush(f) == 0 && fchmod(fd, 0666 & ~mask) == 0 &&
         fsync(fd) == 0;
    ok = (f != NULL ? fclose(f) == 0 : 0) && ok && rename(tmp, path) == 0;
    if (!ok) {
        fprintf(stderr, "%s: cannot write %s: %s\n", p->name, path,
                strerror(errno));
        if (fd >= 0)
            unlink(tmp);
    }
    return ok ? 0 : -1;
}

/* The command that resumes: this program with the same arguments. */
static void print_resume(const sweep_program *p, int argc, char **argv)
{
    fprintf(stderr, "%s: resume with the same command:", p->name);
    for (int i = 0; i < argc; i++)
        fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\n");
}

static int stopped(const sweep_program *p, const sweep_run *run, int argc,
                   char **argv)
{
    const tf_report *rep = &run->report;
    fprintf(stderr, "%s: stopped by signal %d: %zu of %zu values done%s%s; "
                    "%zu remain\n",
            p->name, run->interrupted, rep->n_ok, rep->n_tasks,
            run->journal ? ", kept in " : "", run->journal ? run->journal : "",
            rep->n_tasks - rep->n_ok);
    if (run->journal != NULL)
        print_resume(p, argc, argv);
    return 128 + run->interrupted;
}

static int produce(const sweep_program *p, const options *o,
                   const tf_cpus *cpus, int argc, char **argv)
{
    fib_results res;
    char key[128];
    snprintf(key, sizeof key, "fibonacci values=%lu:%lu algo=%s", o->lo,
             o->hi, fib_algo_name(o->algo));
    print_header(p, o, cpus);
    if (fib_results_init(&res, o->hi - o->lo) != 0)
        return 1;
    sweep_run run = {.backend = o->backends[0], .n_jobs = o->jobs[0],
                     .job = {o->lo, o->algo, &res}, .n = res.n,
                     .progress = isatty(2), .journal = o->journal,
                     .key = key};
    double t0 = now();
    int rc = p->run(&run);
    double t = now() - t0;
    if (rc != 0) {
        fib_results_release(&res);
        if (run.interrupted)
            return stopped(p, &run, argc, argv);
        fprintf(stderr, "%s: %s\n", p->name, run.error);
        return 1;
    }
    printf("%zu values in %.3f s with %s, n_jobs %d: %zu computed, %zu "
           "from the journal\n",
           res.n, t, run.backend, run.n_jobs,
           run.report.n_ok - run.report.n_replayed, run.report.n_replayed);
    if (o->output != NULL && write_output(p, o->output, &res) != 0)
        rc = 1;
    fib_results_release(&res);
    return rc;
}

/* A rank other than 0 of an SPMD program: the same runs, in the same order
 * and as many rounds, with nothing printed and nothing kept (results
 * arrive on rank 0; the serial baseline is rank 0's alone). */
static int take_part(const sweep_program *p, const options *o)
{
    int rc = 0;
    int per_round = o->n_backends * o->n_jobs;
    for (int k = 0; k < o->repeat * per_round; k++) {
        int b = k % per_round / o->n_jobs, j = k % o->n_jobs;
        sweep_run run = {.backend = o->backends[b],
                         .n_jobs = o->jobs[j],
                         .job = {o->lo, o->algo, NULL},
                         .n = o->hi - o->lo};
        rc |= p->run(&run) != 0;
    }
    return rc;
}

int sweep_main(const sweep_program *prog, int argc, char **argv)
{
    tf_cpus cpus;
    tf_cpus_detect(&cpus);
    if (prog->cpus_count > 0)
        cpus.count = prog->cpus_count;
    options o;
    int rc = parse(prog, argc, argv, &o, cpus.count);
    if (rc == 0)
        rc = check_outputs(prog, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (prog->silent_rank)
        return take_part(prog, &o);
    if (o.journal != NULL || o.output != NULL)
        return produce(prog, &o, &cpus, argc, argv);
    return sweep(prog, &o, &cpus);
}
