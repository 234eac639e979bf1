/*
 * fibonacci_cuda_main.c - the GPU example's program: the tutorial's values
 * on the GPU (fibonacci_cuda.cu), every one checked against GMP's
 * mpz_fib_ui, and the same work timed on the CPU for comparison.
 *
 *   --values LO:HI   fib(n) for LO <= n < HI        (default 5000:10000)
 *   --jobs N|all     workers of the CPU threads run (default all)
 *   --repeat R       GPU runs, each verified; times are their median (5)
 *   --json FILE      also write the figures as JSON
 *   --output FILE    the GPU's values in decimal, one a line, in order
 *   --emulate        run the kernel's logic on the CPU instead, 32 lanes
 *                    in turn (fib_warp.c): slow, needs no GPU
 *
 * Exit status: 0 every value verified; 1 a value differs from GMP's, or a
 * CUDA error; 2 bad usage; 77 no GPU here (a skip, for the tests).
 */
#include "fib_cuda.h"
#include "fib_task.h"
#include "fib_warp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "fibonacci_cuda"
#define MAX_REPEAT 100
#define THREADS_TRIES 3

typedef struct options {
    unsigned long lo, hi;
    int jobs;              /* 0 = all CPUs */
    int repeat;
    const char *json, *output;
    int emulate;
} options;

typedef struct figures {
    tf_cpus cpus;
    int k, blocks, threads_per_block;
    fib_gpu_info info;
    double setup;          /* GPU memory and the kernel's loading */
    fib_gpu_times median;  /* of the GPU runs */
    double emulated;       /* --emulate: the CPU emulation's time */
    double serial_loop, threads_loop, gmp;
    int threads_jobs;
} figures;

/* Where the values to check and print are: the GPU's buffer or the
 * emulation's. */
typedef struct values {
    const fib_gpu *gpu;
    uint32_t *emu;
    size_t limbs;          /* per value */
} values;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The kernel takes the positions longest first (see fibonacci_cuda.cu);
 * for a range that is simply from the top down. */
static unsigned long position(const options *o, size_t v)
{
    return o->hi - 1 - (unsigned long)v;
}

static const uint32_t *value_at(const values *vals, size_t v)
{
    return vals->gpu != NULL ? fib_gpu_value(vals->gpu, v)
                             : vals->emu + v * vals->limbs;
}

/* ---- the command line ------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    return 2;
}

static int parse_number(const char *s, unsigned long max, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = (unsigned long)v;
    return 0;
}

static int parse_values(const char *arg, options *o)
{
    char lo[32];
    const char *colon = strchr(arg, ':');
    if (colon == NULL || (size_t)(colon - arg) >= sizeof lo)
        return -1;
    memcpy(lo, arg, (size_t)(colon - arg));
    lo[colon - arg] = '\0';
    unsigned long top = fw_max_n() + 1;
    if (parse_number(lo, top, &o->lo) != 0 ||
        parse_number(colon + 1, top, &o->hi) != 0 || o->lo >= o->hi)
        return -1;
    return 0;
}

static void print_help(void)
{
    printf("usage: " PROG " [--values LO:HI] [--jobs N|all] [--repeat R] "
           "[--json FILE]\n"
           "       [--output FILE] [--emulate]\n\n"
           "The tutorial's loop algorithm on an NVIDIA GPU, one warp per "
           "value, every\nvalue checked against GMP's mpz_fib_ui, and the "
           "same work timed on the CPU.\n\n"
           "  --values LO:HI   fib(n) for LO <= n < HI (default 5000:10000; "
           "HI <= %lu)\n"
           "  --jobs N|all     workers of the CPU threads run (default all)\n"
           "  --repeat R       GPU runs, each verified; the median is "
           "reported (default 5)\n"
           "  --json FILE      also write the figures as JSON\n"
           "  --output FILE    the GPU's values in decimal, one a line\n"
           "  --emulate        the kernel's logic on the CPU, no GPU needed "
           "(slow)\n"
           "Exit status: 0 verified, 1 mismatch or CUDA error, 2 usage, "
           "77 no GPU.\n",
           fw_max_n() + 1);
}

/* One option; *used is set to the arguments it took. 0, 1 (--help), 2. */
static int parse_one(char **argv, int i, int argc, options *o, int *used)
{
    const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    unsigned long v;
    *used = 2;
    if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0)
        return 1;
    if (strcmp(opt, "--emulate") == 0) {
        o->emulate = 1;
        *used = 1;
        return 0;
    }
    if (val == NULL)
        return usage_error("option '%s' needs a value", opt);
    if (strcmp(opt, "--values") == 0) {
        if (parse_values(val, o) != 0) {
            char why[160];
            snprintf(why, sizeof why, "bad --values '%%s': expected LO:HI "
                     "with LO < HI <= %lu (one value per warp's registers)",
                     fw_max_n() + 1);
            return usage_error(why, val);
        }
    } else if (strcmp(opt, "--jobs") == 0) {
        if (strcmp(val, "all") == 0)
            o->jobs = 0;
        else if (parse_number(val, TF_MAX_JOBS, &v) == 0 && v >= 1)
            o->jobs = (int)v;
        else
            return usage_error("bad --jobs '%s': expected 1 to 1024 or "
                               "'all'", val);
    } else if (strcmp(opt, "--repeat") == 0) {
        if (parse_number(val, MAX_REPEAT, &v) != 0 || v < 1)
            return usage_error("bad --repeat '%s': expected 1 to 100", val);
        o->repeat = (int)v;
    } else if (strcmp(opt, "--json") == 0) {
        o->json = val;
    } else if (strcmp(opt, "--output") == 0) {
        o->output = val;
    } else {
        return usage_error("unknown option '%s'", opt);
    }
    return 0;
}

static int parse(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof(*o));
    o->lo = 5000;
    o->hi = 10000;
    o->repeat = 5;
    for (int i = 1, used; i < argc; i += used) {
        int rc = parse_one(argv, i, argc, o, &used);
        if (rc == 1)
            print_help();
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- checking against GMP --------------------------------------------- */

/* Reference values in the kernel's order, and mpz_fib_ui's time. */
static mpz_t *reference(const options *o, size_t count, double *seconds)
{
    mpz_t *ref = malloc(count * sizeof(*ref));
    if (ref == NULL)
        return NULL;
    double t0 = now();
    for (size_t v = 0; v < count; v++) {
        mpz_init(ref[v]);
        mpz_fib_ui(ref[v], position(o, v));
    }
    *seconds = now() - t0;
    return ref;
}

static void free_reference(mpz_t *ref, size_t count)
{
    for (size_t v = 0; ref != NULL && v < count; v++)
        mpz_clear(ref[v]);
    free(ref);
}

/* Index of the first value that differs from GMP's, or SIZE_MAX. */
static size_t first_wrong(const values *vals, mpz_t *ref, size_t count)
{
    mpz_t got;
    mpz_init(got);
    size_t bad = SIZE_MAX;
    for (size_t v = 0; v < count && bad == SIZE_MAX; v++) {
        mpz_import(got, vals->limbs, -1, sizeof(uint32_t), 0, 0,
                   value_at(vals, v));
        if (mpz_cmp(got, ref[v]) != 0)
            bad = v;
    }
    mpz_clear(got);
    return bad;
}

static int report_wrong(const char *who, const options *o, size_t v)
{
    fprintf(stderr, PROG ": fib(%lu) from the %s differs from GMP's "
                    "mpz_fib_ui\n", position(o, v), who);
    return 1;
}

/* ---- the GPU, or its emulation ----------------------------------------- */

static int median_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof(*x), median_cmp);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

/* The median of each part over the runs. */
static void median_times(const fib_gpu_times *runs, int n, fib_gpu_times *m)
{
    double x[4][MAX_REPEAT];
    for (int i = 0; i < n; i++) {
        x[0][i] = runs[i].h2d;
        x[1][i] = runs[i].kernel;
        x[2][i] = runs[i].d2h;
        x[3][i] = runs[i].whole;
    }
    m->h2d = median(x[0], n);
    m->kernel = median(x[1], n);
    m->d2h = median(x[2], n);
    m->whole = median(x[3], n);
}

static int gpu_failed(const char *err)
{
    fprintf(stderr, PROG ": %s\n", err);
    return 1;
}

/* Opens the GPU, runs the values o->repeat times and checks every run.
 * 0, 1, or FIB_GPU_NODEV. */
static int run_gpu(const options *o, mpz_t *ref, figures *f, values *vals,
                   fib_gpu **g)
{
    char err[320];
    size_t count = o->hi - o->lo;
    int rc = fib_gpu_create(g, &f->info, err, sizeof err);
    if (rc == FIB_GPU_NODEV) {
        fprintf(stderr, PROG ": skipped: %s\n", err);
        return FIB_GPU_NODEV;
    }
    uint32_t *n = malloc(count * sizeof(*n));
    if (rc != 0 || n == NULL) {
        free(n);
        return gpu_failed(rc != 0 ? err : "out of memory");
    }
    for (size_t v = 0; v < count; v++)
        n[v] = (uint32_t)position(o, v);
    rc = fib_gpu_prepare(*g, n, count, f->k, &f->setup, err, sizeof err);
    free(n);
    if (rc != 0)
        return gpu_failed(err);
    fib_gpu_shape(*g, &f->blocks, &f->threads_per_block);
    vals->gpu = *g;
    fib_gpu_times runs[MAX_REPEAT];
    for (int r = 0; r < o->repeat; r++) {
        size_t bad;
        if (fib_gpu_run(*g, &runs[r], err, sizeof err) != 0)
            return gpu_failed(err);
        if ((bad = first_wrong(vals, ref, count)) != SIZE_MAX)
            return report_wrong("GPU", o, bad);
    }
    median_times(runs, o->repeat, &f->median);
    return 0;
}

static int run_emulated(const options *o, mpz_t *ref, figures *f,
                        values *vals)
{
    size_t count = o->hi - o->lo;
    vals->emu = malloc(count * vals->limbs * sizeof(uint32_t));
    if (vals->emu == NULL)
        return gpu_failed("out of memory");
    double t0 = now();
    for (size_t v = 0; v < count; v++)
        fw_emu_fib(position(o, v), f->k, vals->emu + v * vals->limbs);
    f->emulated = now() - t0;
    size_t bad = first_wrong(vals, ref, count);
    return bad == SIZE_MAX ? 0 : report_wrong("emulated kernel", o, bad);
}

/* ---- the CPU runs of the same algorithm -------------------------------- */

/* Results of a CPU run, fib_results in index order (n = lo + i), against
 * the reference (kernel order). */
static int cpu_wrong(const options *o, const fib_results *res, mpz_t *ref)
{
    mpz_t got;
    mpz_init(got);
    size_t count = o->hi - o->lo, bad = SIZE_MAX;
    for (size_t v = 0; v < count && bad == SIZE_MAX; v++) {
        size_t i = position(o, v) - o->lo;
        mpz_import(got, res->len[i], 1, 1, 1, 0, res->data[i]);
        if (mpz_cmp(got, ref[v]) != 0)
            bad = v;
    }
    mpz_clear(got);
    return bad == SIZE_MAX ? 0 : report_wrong("CPU", o, bad);
}

/* The serial loop, as the parallel examples time their baseline. */
static int cpu_serial(const options *o, mpz_t *ref, figures *f)
{
    fib_job job = {o->lo, FIB_LOOP, NULL};
    fib_results res;
    if (fib_results_init(&res, o->hi - o->lo) != 0)
        return gpu_failed("out of memory");
    double t0 = now();
    int rc = 0;
    for (size_t i = 0; i < res.n && rc == 0; i++)
        rc = fib_job_bytes(&job, i, &res.data[i], &res.len[i]);
    f->serial_loop = now() - t0;
    rc = rc != 0 ? gpu_failed("out of memory") : cpu_wrong(o, &res, ref);
    fib_results_release(&res);
    return rc;
}

/* The threads backend on every CPU (or --jobs): the best of a few runs. */
static int cpu_threads(const options *o, mpz_t *ref, figures *f)
{
    f->threads_jobs = o->jobs > 0 ? o->jobs : f->cpus.count;
    f->threads_loop = 0;
    for (int t = 0; t < THREADS_TRIES; t++) {
        fib_results res;
        if (fib_results_init(&res, o->hi - o->lo) != 0)
            return gpu_failed("out of memory");
        fib_job job = {o->lo, FIB_LOOP, &res};
        tf_options opts = TF_OPTIONS_INIT;
        opts.backend = TF_BACKEND_THREADS;
        opts.n_jobs = f->threads_jobs;
        double t0 = now();
        int rc = tf_map(&opts, res.n, fib_job_task, fib_job_store, NULL, &job,
                        NULL);
        double s = now() - t0;
        rc = rc != 0 ? gpu_failed(tf_strerror(rc)) : cpu_wrong(o, &res, ref);
        fib_results_release(&res);
        if (rc != 0)
            return rc;
        if (t == 0 || s < f->threads_loop)
            f->threads_loop = s;
    }
    return 0;
}

/* ---- the report -------------------------------------------------------- */

/* "12.3x faster than" or "2.0x slower than": fast / slow times. */
static void ratio(FILE *out, double ours, double theirs)
{
    if (ours <= theirs)
        fprintf(out, "%.1fx faster than", theirs / ours);
    else
        fprintf(out, "%.1fx slower than", ours / theirs);
}

static void print_gpu(const figures *f)
{
    const fib_gpu_times *m = &f->median;
    printf("GPU: %s, %d SMs, compute capability %d.%d, CUDA driver %d.%d, "
           "runtime %d.%d\n",
           f->info.name, f->info.sms, f->info.major, f->info.minor,
           f->info.driver / 1000, f->info.driver % 1000 / 10,
           f->info.runtime / 1000, f->info.runtime % 1000 / 10);
    printf("Kernel: one warp per value, %d limbs of 32 bits per lane; %d "
           "blocks of %d threads, longest values first\n",
           f->k, f->blocks, f->threads_per_block);
    printf("Once per process: CUDA context %.3f s; memory and kernel load "
           "%.3f s\n", f->info.context_seconds, f->setup);
    printf("GPU run (median): positions in %.3f ms, kernel %.3f ms, values "
           "out %.3f ms; whole run %.3f ms\n",
           m->h2d * 1e3, m->kernel * 1e3, m->d2h * 1e3, m->whole * 1e3);
}

/* What the GPU side took: kernel plus transfers, or the emulation. */
static double device_seconds(const options *o, const figures *f)
{
    if (o->emulate)
        return f->emulated;
    return f->median.h2d + f->median.kernel + f->median.d2h;
}

static void print_report(const options *o, const figures *f, size_t count)
{
    if (o->emulate)
        printf("Emulated: the kernel's logic on one CPU core, 32 lanes in "
               "turn, %d limbs per lane: %.3f s\n", f->k, f->emulated);
    else
        print_gpu(f);
    printf("All %zu values verified against GMP's mpz_fib_ui", count);
    if (!o->emulate)
        printf(", in each of %d runs", o->repeat);
    printf(".\nCPU, the same values:\n");
    printf("  serial loop, 1 core                  %9.4f s\n", f->serial_loop);
    printf("  threads loop, %3d workers, best of %d %9.4f s\n",
           f->threads_jobs, THREADS_TRIES, f->threads_loop);
    printf("  mpz_fib_ui, 1 core                   %9.4f s\n", f->gmp);
    double dev = device_seconds(o, f);
    printf("%s (%.3f ms) is ", o->emulate ? "The emulation"
                                          : "Kernel plus transfers", dev * 1e3);
    ratio(stdout, dev, f->threads_loop);
    printf(" the best threads run of the loop, and ");
    ratio(stdout, dev, f->gmp);
    printf(" mpz_fib_ui on one core.\n");
}

static void json_body(FILE *j, const options *o, const figures *f)
{
    const fib_gpu_times *m = &f->median;
    fprintf(j, "{\"program\": \"" PROG "\", \"values\": [%lu, %lu], "
               "\"algo\": \"loop\", \"emulated\": %s, \"verified\": true,\n",
            o->lo, o->hi, o->emulate ? "true" : "false");
    fprintf(j, " \"cpus\": {\"count\": %d, \"source\": \"%s\"}, "
               "\"limbs_per_lane\": %d,\n",
            f->cpus.count, tf_cpus_source_name(f->cpus.source), f->k);
    if (o->emulate)
        fprintf(j, " \"device\": null, \"gpu\": null, "
                   "\"emulated_seconds\": %.6f,\n", f->emulated);
    else
        fprintf(j, " \"device\": {\"name\": \"%s\", \"sms\": %d, "
                   "\"compute_capability\": \"%d.%d\", \"driver\": %d, "
                   "\"runtime\": %d},\n \"gpu\": {\"repeat\": %d, "
                   "\"blocks\": %d, \"threads_per_block\": %d, "
                   "\"context_seconds\": %.6f, \"setup_seconds\": %.6f, "
                   "\"h2d_seconds\": %.6f, \"kernel_seconds\": %.6f, "
                   "\"d2h_seconds\": %.6f, \"whole_seconds\": %.6f},\n",
                f->info.name, f->info.sms, f->info.major, f->info.minor,
                f->info.driver, f->info.runtime, o->repeat, f->blocks,
                f->threads_per_block, f->info.context_seconds, f->setup,
                m->h2d, m->kernel, m->d2h, m->whole);
    fprintf(j, " \"cpu\": {\"serial_loop_seconds\": %.6f, "
               "\"threads_loop_seconds\": %.6f, \"threads_n_jobs\": %d, "
               "\"mpz_fib_ui_seconds\": %.6f},\n",
            f->serial_loop, f->threads_loop, f->threads_jobs, f->gmp);
    double dev = device_seconds(o, f);
    fprintf(j, " \"speedup_vs_threads\": %.4f, \"speedup_vs_mpz_fib_ui\": "
               "%.4f}\n", f->threads_loop / dev, f->gmp / dev);
}

/* Both files are written whole to a temporary name, then renamed: a
 * reader never sees half a file. */
typedef int (*writer)(FILE *out, const void *a, const void *b);

static int write_atomically(const char *path, writer w, const void *a,
                            const void *b)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >=
        (int)sizeof tmp)
        return -1;
    FILE *out = fopen(tmp, "w");
    int ok = out != NULL && w(out, a, b) == 0;
    ok = (out != NULL && fclose(out) == 0) && ok && rename(tmp, path) == 0;
    if (!ok) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", path,
                strerror(errno));
        remove(tmp);
    }
    return ok ? 0 : -1;
}

static int json_writer(FILE *out, const void *a, const void *b)
{
    json_body(out, a, b);
    return ferror(out) ? -1 : 0;
}

/* In the order of n (the kernel's order is the reverse). */
static int values_writer(FILE *out, const void *a, const void *b)
{
    const options *o = a;
    const values *vals = b;
    size_t count = o->hi - o->lo;
    mpz_t x;
    mpz_init(x);
    int rc = 0;
    for (size_t i = count; i-- > 0 && rc == 0;) {
        mpz_import(x, vals->limbs, -1, sizeof(uint32_t), 0, 0,
                   value_at(vals, i));
        rc = gmp_fprintf(out, "%Zd\n", x) < 0 ? -1 : 0;
    }
    mpz_clear(x);
    return rc;
}

/* ---- main -------------------------------------------------------------- */

static int compute(const options *o, figures *f, values *vals, mpz_t *ref,
                   fib_gpu **g)
{
    int rc = o->emulate ? run_emulated(o, ref, f, vals)
                        : run_gpu(o, ref, f, vals, g);
    if (rc == 0)
        rc = cpu_serial(o, ref, f);
    if (rc == 0)
        rc = cpu_threads(o, ref, f);
    if (rc != 0)
        return rc;
    print_report(o, f, o->hi - o->lo);
    if (o->json != NULL && write_atomically(o->json, json_writer, o, f) != 0)
        return 1;
    if (o->output != NULL &&
        write_atomically(o->output, values_writer, o, vals) != 0)
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    figures f = {0};
    tf_cpus_detect(&f.cpus);
    f.k = fw_limbs_per_lane(o.hi - 1);
    size_t count = o.hi - o.lo;
    printf(PROG ": fib(n) for n = %lu..%lu (%zu values), algorithm loop, "
           "%s\nCPUs: %d, from %s\n", o.lo, o.hi - 1, count,
           o.emulate ? "the kernel emulated on the CPU" : "on the GPU",
           f.cpus.count, tf_cpus_source_name(f.cpus.source));
    fflush(stdout);
    mpz_t *ref = reference(&o, count, &f.gmp);
    if (ref == NULL)
        return gpu_failed("out of memory");
    values vals = {NULL, NULL, (size_t)FW_LANES * (size_t)f.k};
    fib_gpu *g = NULL;
    rc = compute(&o, &f, &vals, ref, &g);
    fib_gpu_destroy(g);
    free(vals.emu);
    free_reference(ref, count);
    return rc;
}
