/*
 * args.c - the command line of `taskfarm`: options first (GNU parallel's
 * names where it has them), then COMMAND [ARG...], then optionally ":::"
 * and the inputs. Every usage error is one line on stderr.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: taskfarm [OPTIONS] COMMAND [ARG...] ::: INPUT...\n"
    "       taskfarm [OPTIONS] -a FILE COMMAND [ARG...]\n"
    "       PRODUCER | taskfarm [OPTIONS] COMMAND [ARG...]\n"
    "       taskfarm [OPTIONS] --range LO:HI COMMAND [ARG...]\n"
    "\n"
    "Runs COMMAND once per input on all the CPUs of the job, its output\n"
    "captured and written whole, in input order.\n"
    "\n"
    "Replacement strings: {} input, {#} sequence number, {%} slot, {.} no\n"
    "extension, {/} basename, {//} dirname, {/.} basename without extension,\n"
    "{1} {2}... columns (--colsep). Without one, the input is appended.\n"
    "\n"
    "  -a, --arg-file FILE    one input per line of FILE\n"
    "      --range LO:HI      the integers LO <= i < HI\n"
    "  -0, --null             inputs are separated by NUL, not newline\n"
    "      --colsep SEP       split each input into {1} {2}... at SEP\n"
    "  -j, --jobs N           N slots; +N/-N: CPUs plus/minus N; N%: percent\n"
    "                         of the CPUs (default: all CPUs of the job)\n"
    "      --cpus-per-task K  CPUs/K slots, each pinned to its own K CPUs\n"
    "      --shell            run COMMAND through /bin/sh -c, inputs quoted\n"
    "      --order ORDER      input (default) or completed\n"
    "      --tag              prefix each output line with the input\n"
    "      --results DIR      write DIR/SEQ/{stdout,stderr,exit} instead\n"
    "      --timeout SEC      kill a task's process group after SEC seconds\n"
    "      --retries N        run a failed task up to N more times\n"
    "      --stop-on-error    start no new task after the first failure\n"
    "      --joblog FILE      GNU parallel's joblog\n"
    "      --journal FILE     resume: a rerun skips the tasks that succeeded\n"
    "      --grace SEC        on SIGTERM/SIGINT, let tasks finish for SEC\n"
    "                         seconds (default 3) before killing them\n"
    "      --progress         a progress bar on stderr (when a terminal)\n"
    "      --dry-run          print the commands, run nothing\n"
    "  -v, --verbose          say how many slots and why\n"
    "  -h, --help             this text;  -V, --version  the version\n"
    "\n"
    "Exit status: 0 all succeeded, 1-100 that many failed, 101 more failed,\n"
    "130/143 interrupted by SIGINT/SIGTERM, 255 usage or taskfarm error.\n"
    "See taskfarm(1).\n";

static int usage_error(const char *what, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "taskfarm: %s: '%s' (see taskfarm --help)\n", what,
                arg);
    else
        fprintf(stderr, "taskfarm: %s (see taskfarm --help)\n", what);
    return -1;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || isinf(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_range(const char *s, cli_opts *o)
{
    char *end;
    errno = 0;
    o->lo = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != ':')
        return -1;
    const char *h = end + 1;
    o->hi = strtoll(h, &end, 10);
    if (errno != 0 || end == h || *end != '\0' || o->hi < o->lo)
        return -1;
    /* HI - LO in unsigned arithmetic: it may not fit in a long long. */
    unsigned long long n = (unsigned long long)o->hi - (unsigned long long)o->lo;
    return n <= TF_MAX_TASKS ? 0 : -2;
}

/* "--name=value" or "--name value": the value, or NULL when missing. */
static const char *value_of(int argc, char **argv, int *i, const char *eq)
{
    if (eq != NULL)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

typedef enum {
    O_JOBS, O_FILE, O_RANGE, O_NULL, O_COLSEP, O_CPT, O_SHELL, O_ORDER,
    O_KEEP, O_TAG, O_RESULTS, O_TIMEOUT, O_RETRIES, O_STOP, O_JOBLOG,
    O_JOURNAL, O_GRACE, O_PROGRESS, O_DRY, O_VERBOSE, O_HELP, O_VERSION
} opt_id;

typedef struct opt_def {
    const char *lng;
    char shrt;
    int takes;
    opt_id id;
} opt_def;

static const opt_def defs[] = {
    {"jobs", 'j', 1, O_JOBS},          {"arg-file", 'a', 1, O_FILE},
    {"range", 0, 1, O_RANGE},          {"null", '0', 0, O_NULL},
    {"colsep", 0, 1, O_COLSEP},        {"cpus-per-task", 0, 1, O_CPT},
    {"shell", 0, 0, O_SHELL},          {"order", 0, 1, O_ORDER},
    {"keep-order", 'k', 0, O_KEEP},    {"tag", 0, 0, O_TAG},
    {"results", 0, 1, O_RESULTS},      {"timeout", 0, 1, O_TIMEOUT},
    {"retries", 0, 1, O_RETRIES},      {"stop-on-error", 0, 0, O_STOP},
    {"joblog", 0, 1, O_JOBLOG},        {"journal", 0, 1, O_JOURNAL},
    {"grace", 0, 1, O_GRACE},          {"progress", 0, 0, O_PROGRESS},
    {"dry-run", 0, 0, O_DRY},          {"verbose", 'v', 0, O_VERBOSE},
    {"help", 'h', 0, O_HELP},          {"version", 'V', 0, O_VERSION},
};

static const opt_def *find_opt(const char *a, const char **eq)
{
    *eq = NULL;
    size_t n = sizeof(defs) / sizeof(defs[0]);
    if (a[1] == '-') {
        const char *name = a + 2;
        const char *e = strchr(name, '=');
        size_t len = e != NULL ? (size_t)(e - name) : strlen(name);
        for (size_t k = 0; k < n; k++)
            if (strlen(defs[k].lng) == len &&
                strncmp(defs[k].lng, name, len) == 0) {
                *eq = defs[k].takes ? e : NULL;
                return e != NULL && !defs[k].takes ? NULL : &defs[k];
            }
        return NULL;
    }
    for (size_t k = 0; k < n; k++)
        if (defs[k].shrt != 0 && a[1] == defs[k].shrt) {
            if (a[2] != '\0' && !defs[k].takes)
                return NULL;
            *eq = a[2] != '\0' ? a + 1 : NULL;  /* -j4: value after one */
            return &defs[k];
        }
    return NULL;
}

static int set_source(cli_opts *o, cli_source s)
{
    if (o->source != SRC_NONE && o->source != s)
        return usage_error("give inputs one way only (:::, -a, --range "
                           "or stdin)", NULL);
    o->source = s;
    return 0;
}

/* Applies one option with its value v. */
static int apply(cli_opts *o, opt_id id, const char *v)
{
    switch (id) {
    case O_JOBS: o->jobs = v; return 0;
    case O_FILE: o->file = v; return set_source(o, SRC_FILE);
    case O_RANGE:
        switch (parse_range(v, o)) {
        case 0: return set_source(o, SRC_RANGE);
        case -2: return usage_error("--range: more tasks than a run can have "
                                    "(2^40)", v);
        default: return usage_error("--range wants LO:HI with LO <= HI", v);
        }
    case O_NULL: o->null_sep = 1; return 0;
    case O_COLSEP:
        if (*v == '\0')
            return usage_error("--colsep wants a non-empty separator", NULL);
        o->colsep = v; return 0;
    case O_CPT:
        if (parse_int(v, 1, TF_MAX_JOBS, &o->cpus_per_task) != 0)
            return usage_error("--cpus-per-task wants a number >= 1", v);
        return 0;
    case O_SHELL: o->shell = 1; return 0;
    case O_ORDER:
        if (strcmp(v, "completed") == 0) o->order_completed = 1;
        else if (strcmp(v, "input") == 0) o->order_completed = 0;
        else return usage_error("--order wants input or completed", v);
        return 0;
    case O_KEEP: o->order_completed = 0; return 0;
    case O_TAG: o->tag = 1; return 0;
    case O_RESULTS: o->results = v; return 0;
    case O_TIMEOUT:
        if (parse_double(v, &o->timeout) != 0 || o->timeout <= 0)
            return usage_error("--timeout wants seconds > 0", v);
        return 0;
    case O_GRACE:
        if (parse_double(v, &o->grace) != 0)
            return usage_error("--grace wants seconds >= 0", v);
        return 0;
    case O_RETRIES:
        if (parse_int(v, 0, 1000000, &o->retries) != 0)
            return usage_error("--retries wants a number >= 0", v);
        return 0;
    case O_STOP: o->stop_on_error = 1; return 0;
    case O_JOBLOG: o->joblog = v; return 0;
    case O_JOURNAL: o->journal = v; return 0;
    case O_PROGRESS: o->progress = 1; return 0;
    case O_DRY: o->dry_run = 1; return 0;
    case O_VERBOSE: o->verbose = 1; return 0;
    case O_HELP: fputs(usage_text, stdout); return 1;
    case O_VERSION:
        printf("taskfarm %s\n", tf_version_string());
        return 1;
    }
    return -1;
}

/* The options before COMMAND; *i ends at COMMAND. */
static int parse_options(int argc, char **argv, int *i, cli_opts *o)
{
    for (; *i < argc; ++*i) {
        const char *a = argv[*i];
        if (strcmp(a, "--") == 0) {
            ++*i;
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0' || strcmp(a, ":::") == 0)
            return 0;
        const char *eq;
        const opt_def *d = find_opt(a, &eq);
        if (d == NULL)
            return usage_error("unknown option", a);
        const char *v = NULL;
        if (d->takes && (v = value_of(argc, argv, i, eq)) == NULL)
            return usage_error("option needs a value", a);
        int rc = apply(o, d->id, v);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int cli_parse(int argc, char **argv, cli_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->grace = 3.0;
    int i = 1;
    int rc = parse_options(argc, argv, &i, o);
    if (rc != 0)
        return rc;
    o->cmd = argv + i;
    int k = i;
    while (k < argc && strcmp(argv[k], ":::") != 0)
        k++;
    o->n_cmd = k - i;
    if (o->n_cmd == 0)
        return usage_error("no command given", NULL);
    if (k < argc) {
        if (set_source(o, SRC_ARGS) != 0)
            return -1;
        o->args = argv + k + 1;
        o->n_args = argc - k - 1;
        argv[k] = NULL;         /* ends the command's argv */
        for (int j = k + 1; j < argc; j++)
            if (strcmp(argv[j], ":::") == 0 || strcmp(argv[j], "::::") == 0)
                return usage_error("one ::: list only (no product of several, "
                                   "as GNU parallel makes): give the "
                                   "combinations as lines with --colsep", NULL);
    }
    if (o->source == SRC_NONE)
        o->source = SRC_STDIN;
    if (o->file != NULL && strcmp(o->file, "-") == 0)
        o->source = SRC_STDIN;
    return 0;
}
