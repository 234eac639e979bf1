/*
 * bench_fib.c - the C side of bench/compare.py: runs one system once and
 * prints one JSON object. compare.py interleaves the runs and reports.
 *
 *   bench_fib run SYSTEM N_JOBS LO HI      time of fib(LO..HI-1), and the
 *                                          CRC-32 of the decimal results
 *   bench_fib trivial SYSTEM N_JOBS N      seconds per trivial task
 *   bench_fib startup SYSTEM N_JOBS        start a pool, ready for work
 *   bench_fib rss SYSTEM N_JOBS N BYTES    peak RSS above the baseline of N
 *                                          tasks with BYTES-byte results
 *   bench_fib floor LO HI                  the limb-addition floor
 *   bench_fib kernel LO HI PASSES          the serial loop kernel, and the
 *                                          same loop on mpn_add_n, against
 *                                          the floor, interleaved finely
 *   bench_fib kernel2 LO HI PASSES N_JOBS  the kernel on N_JOBS threads
 *                                          (OpenMP) against the floor run
 *                                          on as many, interleaved
 *
 *   bench_fib latency SYSTEM N_JOBS N      seconds per one-task batch
 *   bench_fib exchange mpi 2 N             (mpirun -n 2) one batch's
 *                                          messages between ranks 0 and 1
 *
 * SYSTEM: serial (a plain C loop, no library), openmp (parallel for,
 * schedule(dynamic)), threads, procs, mpi (taskfarm; mpi under mpirun,
 * where N_JOBS is the world size and rank 0 prints). Timings cover what
 * the Python side's do: creating the pool, mapping, tearing it down.
 */
#include "fib_pair.h"
#include "fib_task.h"

#include <mpi.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

typedef enum { SERIAL, OPENMP, THREADS, PROCS, MPI } sys_kind;

static int rank; /* MPI rank; 0 elsewhere. Only rank 0 prints. */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* This thread's CPU time: what a busy machine's time slices do not
 * inflate (the kernel's chunks are longer than the floor's, so wall time
 * would charge the other processes' slices to the kernel alone). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_fib: %s\n", what);
    exit(2);
}

static sys_kind parse_system(const char *s)
{
    static const char *const names[] = {"serial", "openmp", "threads",
                                        "procs", "mpi"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return (sys_kind)i;
    die("SYSTEM is serial, openmp, threads, procs or mpi");
    return SERIAL;
}

static long parse_long(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        die("bad number");
    return v;
}

static tf_options farm_options(sys_kind k, int n_jobs)
{
    tf_options o = TF_OPTIONS_INIT;
    o.backend = k == PROCS ? TF_BACKEND_PROCS
                : k == MPI ? TF_BACKEND_MPI
                           : TF_BACKEND_THREADS;
    o.n_jobs = n_jobs;
    return o;
}

/* ---- the workload ----------------------------------------------------- */

static void compute(sys_kind k, int n_jobs, fib_job *job, size_t n)
{
    fib_results *res = job->results;
    int failed = 0;
    if (k == SERIAL) {
        for (size_t i = 0; i < n; i++)
            failed |= fib_job_bytes(job, i, &res->data[i], &res->len[i]);
    } else if (k == OPENMP) {
#pragma omp parallel for schedule(dynamic) num_threads(n_jobs) \
    reduction(| : failed)
        for (long i = 0; i < (long)n; i++)
            failed |= fib_job_bytes(job, (size_t)i, &res->data[i],
                                    &res->len[i]);
    }
    if (failed)
        die("out of memory");
    if (k == SERIAL || k == OPENMP)
        return;
    tf_options o = farm_options(k, n_jobs);
    if (tf_map(&o, n, fib_job_task, fib_job_store, NULL, job, NULL) != 0)
        die("tf_map failed");
}

/* The same text Python's "\n".join(str(v)) + "\n" is, CRC-32 as zlib's. */
static unsigned long decimal_crc(const fib_results *r)
{
    unsigned long crc = crc32(0L, Z_NULL, 0);
    mpz_t f;
    mpz_init(f);
    for (size_t i = 0; i < r->n; i++) {
        mpz_import(f, r->len[i], 1, 1, 1, 0, r->data[i]);
        char *s = mpz_get_str(NULL, 10, f);
        crc = crc32(crc, (const Bytef *)s, (uInt)strlen(s));
        crc = crc32(crc, (const Bytef *)"\n", 1);
        free(s);
    }
    mpz_clear(f);
    return crc;
}

/* CPU time of this process and its reaped children (procs workers). */
static double cpu_seconds(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return (double)(self.ru_utime.tv_sec + kids.ru_utime.tv_sec) +
           (double)(self.ru_utime.tv_usec + kids.ru_utime.tv_usec) * 1e-6;
}

/* "cpu_seconds" (user time, every worker's): what the run cost the CPUs
 * whatever else ran beside it; "seconds" is what the user waits. */
static int cmd_run(sys_kind k, int n_jobs, long lo, long hi)
{
    fib_results res;
    size_t n = (size_t)(hi - lo);
    if (fib_results_init(&res, n) != 0)
        die("out of memory");
    fib_job job = {(unsigned long)lo, FIB_LOOP, &res};
    double c0 = cpu_seconds(), t0 = now();
    compute(k, n_jobs, &job, n);
    double t = now() - t0, c = cpu_seconds() - c0;
    if (rank == 0)
        printf("{\"seconds\": %.6f, \"cpu_seconds\": %.6f, \"crc32\": "
               "\"%08lx\", \"count\": %zu}\n",
               t, c, decimal_crc(&res), n);
    fib_results_release(&res);
    return 0;
}

/* ---- trivial tasks, start-up, memory ---------------------------------- */

static int trivial_task(void *user, size_t i, tf_out *out)
{
    size_t bytes = *(const size_t *)user;
    unsigned char *p = tf_out_extend(out, bytes);
    if (p == NULL && bytes > 0)
        return 1;
    memset(p, (int)(i & 0xff), bytes);
    return 0;
}

static int check_result(void *user, size_t i, const void *data, size_t len)
{
    (void)user;
    return len > 0 && ((const unsigned char *)data)[0] != (i & 0xff);
}

static double farm_trivial(sys_kind k, int n_jobs, size_t n, size_t bytes,
                           size_t batch)
{
    tf_options o = farm_options(k, n_jobs);
    o.batch_size = batch;
    double t0 = now();
    if (tf_map(&o, n, trivial_task, check_result, NULL, &bytes, NULL) != 0)
        die("tf_map failed");
    return now() - t0;
}

static int cmd_trivial(sys_kind k, int n_jobs, size_t n)
{
    double t;
    if (k == SERIAL || k == OPENMP) {
        volatile uint64_t *out = malloc(n * sizeof(*out));
        if (out == NULL)
            die("out of memory");
        double t0 = now();
        if (k == SERIAL) {
            for (size_t i = 0; i < n; i++)
                out[i] = (uint64_t)i;
        } else {
#pragma omp parallel for schedule(dynamic) num_threads(n_jobs)
            for (long i = 0; i < (long)n; i++)
                out[i] = (uint64_t)i;
        }
        t = now() - t0;
        free((void *)out);
    } else {
        t = farm_trivial(k, n_jobs, n, 8, 0);
    }
    if (rank == 0)
        printf("{\"per_task_s\": %.12f}\n", t / (double)n);
    return 0;
}

/* One task per batch: what a batch costs the farm (for MPI, rank 0's
 * work per message exchange, the figure that bounds how many ranks it can
 * feed). */
static int cmd_latency(sys_kind k, int n_jobs, size_t n)
{
    if (k != THREADS && k != PROCS && k != MPI)
        die("latency measures taskfarm: threads, procs or mpi");
    double t = farm_trivial(k, n_jobs, n, 8, 1);
    if (rank == 0)
        printf("{\"per_batch_s\": %.12f}\n", t / (double)n);
    return 0;
}

static int cmd_startup(sys_kind k, int n_jobs)
{
    double t0 = now(), t;
    if (k == OPENMP || k == SERIAL) {
        int seen = 0;
#pragma omp parallel num_threads(n_jobs) reduction(+ : seen)
        seen += 1;
        t = now() - t0;
        if (seen != n_jobs)
            die("openmp started too few threads");
    } else {
        tf_options o = farm_options(k, n_jobs);
        tf_farm *farm;
        if (tf_farm_create(&farm, &o) != 0 ||
            tf_farm_run(farm, 0, trivial_task, NULL, NULL, NULL, NULL) != 0)
            die("farm start failed");
        t = now() - t0;
        tf_farm_destroy(farm);
    }
    printf("{\"seconds\": %.9f}\n", t);
    return 0;
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"). */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return v;
}

/* getrusage's ru_maxrss survives execve, so a process started by a big
 * parent inherits the parent's peak; the kernel's own high-water mark can
 * be reset instead (clear_refs 5, Linux 4.0+). */
static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL || fputs("5", f) < 0 || fclose(f) != 0)
        die("cannot reset the RSS high-water mark (/proc/self/clear_refs)");
}

static int cmd_rss(sys_kind k, int n_jobs, size_t n, size_t bytes)
{
    if (k != THREADS && k != PROCS)
        die("rss measures taskfarm: SYSTEM threads or procs");
    reset_peak();
    long base = status_kib("VmRSS");
    double t = farm_trivial(k, n_jobs, n, bytes, 0);
    long peak = status_kib("VmHWM");
    printf("{\"baseline_kib\": %ld, \"peak_kib\": %ld, "
           "\"over_baseline_bytes\": %ld, \"seconds\": %.3f}\n",
           base, peak, (peak - base) * 1024L, t);
    return 0;
}

/* ---- the floor -------------------------------------------------------- */

/* Limb additions the loop algorithm makes for fib(lo..hi-1): step i adds
 * limbs(fib(i+1)) limbs, and fib(k) has about k log2(phi) - log2(sqrt 5)
 * bits. */
static double limb_adds(long lo, long hi)
{
    const double log2phi = 0.69424191363061730, log2sqrt5 = 1.1609640474436813;
    double total = 0, prefix = 0;
    for (long i = 0; i < hi; i++) {
        if (i >= lo)
            total += prefix;
        double bits = (double)(i + 1) * log2phi - log2sqrt5 + 1;
        prefix += bits < 64 ? 1 : (double)(long)((bits + 63) / 64);
    }
    return total;
}

/* mpn_add_n's time per limb at 100 limbs, in place (as the loop adds),
 * the best of `rounds` rounds of `reps` calls, by `clock`. */
static double add_n_ns(int rounds, int reps, double (*clock)(void))
{
    enum { LIMBS = 100 };
    static mp_limb_t a[LIMBS], b[LIMBS];
    memset(b, 0x55, sizeof b);
    double best = 1e9;
    for (int round = 0; round < rounds; round++) {
        double t0 = clock();
        for (int i = 0; i < reps; i++)
            mpn_add_n(a, a, b, LIMBS);
        double ns = (clock() - t0) * 1e9 / ((double)reps * LIMBS);
        best = ns < best ? ns : best;
    }
    return best;
}

static double ns_per_limb(void)
{
    return add_n_ns(5, 2000000, now);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* fib_loop's additions for fib(n), but every one on mpn_add_n (the kernel
 * before the one-pass pair), without the export the task adds: the
 * reference the kernel is measured against in the same chunks. Returns a
 * limb so that nothing is optimized out. */
static mp_limb_t loop_on_mpn(unsigned long n)
{
    size_t cap = (size_t)(0.6943 * (double)n / GMP_NUMB_BITS) + 8;
    mp_limb_t *a = calloc(cap, sizeof(*a)), *b = calloc(cap, sizeof(*b));
    if (a == NULL || b == NULL)
        die("out of memory");
    b[0] = 1;
    mp_size_t size = 1;
    for (unsigned long i = 0; i + 1 < n; i += 2)
        size = fib_pair_mpn(a, b, size);
    mp_limb_t top = a[size - 1] ^ b[0];
    free(a);
    free(b);
    return top;
}

typedef struct kernel_side {
    double floor_t, kernel_t;        /* this pass */
    mp_limb_t sink;                  /* keeps the reference's work */
    double best_floor[20000], best_kernel[20000];
} kernel_side;

/* One chunk of one side: the kernel (the task c-serial runs, or the
 * mpn_add_n reference) between two floor measurements. */
static void kernel_chunk(kernel_side *s, int reference, long lo, long c,
                         long c0, long c1, int first)
{
    fib_job job = {(unsigned long)lo, FIB_LOOP, NULL};
    double ns = add_n_ns(1, 10000, cpu_now), t0 = cpu_now();
    for (long v = c0; v < c1; v++) {
        unsigned char *data;
        size_t len;
        if (reference) {
            s->sink ^= loop_on_mpn((unsigned long)v);
        } else {
            if (fib_job_bytes(&job, (size_t)(v - lo), &data, &len) != 0)
                die("out of memory");
            free(data);
        }
    }
    double t = cpu_now() - t0, ns2 = add_n_ns(1, 10000, cpu_now);
    ns = ns2 < ns ? ns2 : ns;
    double floor_t = limb_adds(c0, c1) * ns * 1e-9;
    s->floor_t += floor_t;
    s->kernel_t += t;
    if (first || floor_t < s->best_floor[c])
        s->best_floor[c] = floor_t;
    if (first || t < s->best_kernel[c])
        s->best_kernel[c] = t;
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The serial kernel as c-serial runs it (fib_job_bytes: the loop, the
 * export, the copy), against the floor, on a machine other people use:
 * in chunks of 50 values (~5 ms), each timed between two ~0.5 ms floor
 * measurements (the better one counts, as the floor's best-of does), so
 * that a busy moment slows both sides of one comparison, all in CPU time
 * (cpu_now). Per pass: the floor's time for the chunks' limb additions
 * over the kernel's; across passes, the median, min and max, and the
 * ratio of the best time of every chunk (interference only ever adds
 * time). The same for the loop on mpn_add_n, chunk by chunk beside it. */
static int cmd_kernel(long lo, long hi, int passes)
{
    enum { CHUNK = 50, MAX_PASSES = 99 };
    long n_chunks = (hi - lo + CHUNK - 1) / CHUNK;
    if (n_chunks > 20000 || passes > MAX_PASSES)
        die("kernel: at most 20000 chunks of 50 values, 99 passes");
    static kernel_side side[2];
    double ratio[2][MAX_PASSES];
    for (int p = 0; p < passes; p++) {
        side[0].floor_t = side[0].kernel_t = 0;
        side[1].floor_t = side[1].kernel_t = 0;
        for (long c = 0; c < n_chunks; c++) {
            long c0 = lo + c * CHUNK, c1 = c0 + CHUNK < hi ? c0 + CHUNK : hi;
            for (int r = 0; r < 2; r++)
                kernel_chunk(&side[r], r, lo, c, c0, c1, p == 0);
        }
        for (int r = 0; r < 2; r++)
            ratio[r][p] = side[r].floor_t / side[r].kernel_t;
    }
    double best[2];
    for (int r = 0; r < 2; r++) {
        double bf = 0, bk = 0;
        for (long c = 0; c < n_chunks; c++) {
            bf += side[r].best_floor[c];
            bk += side[r].best_kernel[c];
        }
        best[r] = bf / bk;
    }
    double m0 = median_of(ratio[0], passes), m1 = median_of(ratio[1], passes);
    printf("{\"passes\": %d, \"ratio_median\": %.4f, \"ratio_min\": %.4f, "
           "\"ratio_max\": %.4f, \"ratio_best_chunks\": %.4f, "
           "\"mpn_loop_ratio_median\": %.4f, \"mpn_loop_ratio_min\": %.4f, "
           "\"mpn_loop_ratio_max\": %.4f, \"mpn_loop_ratio_best_chunks\": "
           "%.4f}\n",
           passes, m0, ratio[0][0], ratio[0][passes - 1], best[0], m1,
           ratio[1][0], ratio[1][passes - 1], best[1]);
    return 0;
}

/* The floor on n_jobs threads at once, each on its own limbs: the
 * machine's speed for additions when every CPU adds. ns per limb per
 * thread, the slowest thread's (a parallel run waits for it). */
static double add_n_ns_parallel(int n_jobs)
{
    double worst = 0;
#pragma omp parallel num_threads(n_jobs) reduction(max : worst)
    {
        enum { LIMBS = 100 };
        mp_limb_t a[LIMBS] = {0}, b[LIMBS];
        memset(b, 0x55, sizeof b);
        double t0 = now();
        for (int i = 0; i < 10000; i++)
            mpn_add_n(a, a, b, LIMBS);
        worst = (now() - t0) * 1e9 / (10000.0 * LIMBS);
    }
    return worst;
}

/* kernel2: the task on n_jobs threads (OpenMP, schedule(dynamic)) in
 * chunks of 250 values (~10 ms on 2 CPUs), each between two floor
 * measurements on as many threads (the better counts), in wall time, as
 * a parallel run is judged. Per pass: the floor's time for the chunks'
 * limb additions spread over n_jobs CPUs, over the kernel's; the median
 * over passes, min, max, and the best time of every chunk. Each chunk
 * ends with its slowest value, which a whole run pays once: a small
 * handicap (a value is ~0.1-0.4 ms). */
static int cmd_kernel2(long lo, long hi, int passes, int n_jobs)
{
    enum { CHUNK = 250, MAX_CHUNKS = 4000, MAX_PASSES = 99 };
    long n_chunks = (hi - lo + CHUNK - 1) / CHUNK;
    if (n_chunks > MAX_CHUNKS || passes > MAX_PASSES)
        die("kernel2: at most 4000 chunks of 250 values, 99 passes");
    static double best_floor[MAX_CHUNKS], best_kernel[MAX_CHUNKS];
    double ratio[MAX_PASSES];
    fib_job job = {(unsigned long)lo, FIB_LOOP, NULL};
    for (int p = 0; p < passes; p++) {
        double fl = 0, kt = 0;
        for (long c = 0; c < n_chunks; c++) {
            long c0 = lo + c * CHUNK, c1 = c0 + CHUNK < hi ? c0 + CHUNK : hi;
            double ns = add_n_ns_parallel(n_jobs), t0 = now();
            int failed = 0;
#pragma omp parallel for schedule(dynamic) num_threads(n_jobs) \
    reduction(| : failed)
            for (long v = c0; v < c1; v++) {
                unsigned char *data;
                size_t len;
                failed |= fib_job_bytes(&job, (size_t)(v - lo), &data, &len);
                free(data);
            }
            double t = now() - t0, ns2 = add_n_ns_parallel(n_jobs);
            if (failed)
                die("out of memory");
            ns = ns2 < ns ? ns2 : ns;
            double floor_t = limb_adds(c0, c1) * ns * 1e-9 / n_jobs;
            fl += floor_t;
            kt += t;
            if (p == 0 || floor_t < best_floor[c])
                best_floor[c] = floor_t;
            if (p == 0 || t < best_kernel[c])
                best_kernel[c] = t;
        }
        ratio[p] = fl / kt;
    }
    double bf = 0, bk = 0;
    for (long c = 0; c < n_chunks; c++) {
        bf += best_floor[c];
        bk += best_kernel[c];
    }
    double m = median_of(ratio, passes);
    printf("{\"passes\": %d, \"n_jobs\": %d, \"ratio_median\": %.4f, "
           "\"ratio_min\": %.4f, \"ratio_max\": %.4f, "
           "\"ratio_best_chunks\": %.4f}\n",
           passes, n_jobs, m, ratio[0], ratio[passes - 1], bf / bk);
    return 0;
}

static int cmd_floor(long lo, long hi)
{
    double adds = limb_adds(lo, hi), ns = ns_per_limb();
    printf("{\"limb_adds\": %.0f, \"ns_per_limb\": %.4f, "
           "\"floor_seconds_one_cpu\": %.6f}\n",
           adds, ns, adds * ns * 1e-9);
    return 0;
}

/* The messages of one batch as the MPI backend sends them (header, slots,
 * data from the worker; the next job from rank 0), back and forth N times:
 * the round trip bounds what rank 0 spends per batch. */
static int cmd_exchange(size_t n)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2)
        die("exchange runs on exactly 2 ranks");
    unsigned char hdr[32] = {0}, slots[40] = {0}, data[8] = {0};
    uint64_t job[2] = {0, 1};
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        if (rank == 0) {
            MPI_Recv(hdr, 32, MPI_BYTE, 1, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Recv(slots, 40, MPI_BYTE, 1, 3, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            MPI_Recv(data, 8, MPI_BYTE, 1, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(job, 2, MPI_UINT64_T, 1, 1, MPI_COMM_WORLD);
        } else {
            MPI_Send(hdr, 32, MPI_BYTE, 0, 2, MPI_COMM_WORLD);
            MPI_Send(slots, 40, MPI_BYTE, 0, 3, MPI_COMM_WORLD);
            MPI_Send(data, 8, MPI_BYTE, 0, 4, MPI_COMM_WORLD);
            MPI_Recv(job, 2, MPI_UINT64_T, 0, 1, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        }
    }
    double t = now() - t0;
    if (rank == 0)
        printf("{\"round_trip_s\": %.12f}\n", t / (double)n);
    return 0;
}

static int dispatch(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "floor") == 0 && argc == 4)
        return cmd_floor(parse_long(argv[2], 0, FIB_MAX_N),
                         parse_long(argv[3], 1, FIB_MAX_N + 1));
    if (argc >= 3 && strcmp(argv[1], "kernel2") == 0 && argc == 6) {
        long lo = parse_long(argv[2], 0, FIB_MAX_N);
        long hi = parse_long(argv[3], lo + 1, FIB_MAX_N + 1);
        return cmd_kernel2(lo, hi, (int)parse_long(argv[4], 1, 99),
                           (int)parse_long(argv[5], 1, 64));
    }
    if (argc >= 3 && strcmp(argv[1], "kernel") == 0 && argc == 5) {
        long lo = parse_long(argv[2], 0, FIB_MAX_N);
        long hi = parse_long(argv[3], lo + 1, FIB_MAX_N + 1);
        return cmd_kernel(lo, hi, (int)parse_long(argv[4], 1, 99));
    }
    if (argc < 4)
        die("usage: bench_fib run|trivial|startup|rss|floor|kernel ... "
            "(see bench_fib.c)");
    sys_kind k = parse_system(argv[2]);
    int n_jobs = (int)parse_long(argv[3], 1, TF_MAX_JOBS);
    if (strcmp(argv[1], "run") == 0 && argc == 6)
        return cmd_run(k, n_jobs, parse_long(argv[4], 0, FIB_MAX_N),
                       parse_long(argv[5], 1, FIB_MAX_N + 1));
    if (strcmp(argv[1], "trivial") == 0 && argc == 5)
        return cmd_trivial(k, n_jobs, (size_t)parse_long(argv[4], 1, 1L << 30));
    if (strcmp(argv[1], "startup") == 0 && argc == 4)
        return cmd_startup(k, n_jobs);
    if (strcmp(argv[1], "rss") == 0 && argc == 6)
        return cmd_rss(k, n_jobs, (size_t)parse_long(argv[4], 1, 1L << 30),
                       (size_t)parse_long(argv[5], 0, 1L << 20));
    if (strcmp(argv[1], "exchange") == 0 && argc == 5 && k == MPI)
        return cmd_exchange((size_t)parse_long(argv[4], 1, 1L << 30));
    if (strcmp(argv[1], "latency") == 0 && argc == 5)
        return cmd_latency(k, n_jobs, (size_t)parse_long(argv[4], 1, 1L << 30));
    die("bad arguments (see bench_fib.c)");
    return 2;
}

int main(int argc, char **argv)
{
    int mpi = argc >= 3 && strcmp(argv[2], "mpi") == 0;
    if (mpi) {
        MPI_Init(&argc, &argv);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    }
    int rc = dispatch(argc, argv);
    if (mpi)
        MPI_Finalize();
    return rc;
}
