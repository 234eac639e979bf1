/*
 * sweep.h - the command line and the n_jobs sweep that the parallel
 * Fibonacci examples share.
 *
 * Each program supplies a runner ("compute every value with this backend
 * and this many workers"); the sweep parses the options, detects the CPUs,
 * times the serial baseline and each backend at each n_jobs, in --repeat
 * interleaved rounds, checks every result against the serial one, prints
 * the table (medians, min-max, speedups from medians; a row faster than
 * min(n_jobs, CPUs) allows is marked noise, timing.h) and writes JSON with
 * every sample.
 *
 *   --values LO:HI     fib(n) for LO <= n < HI        (default 5000:10000)
 *   --jobs LIST        worker counts, e.g. 1,2,4,all; -1 = all CPUs, -2 =
 *                      all but one (joblib's)      (default 1,2,4,8,16,32)
 *   --repeat N         rounds, 1..100                  (default 1)
 *   --algo NAME        loop | doubling | gmp           (default loop)
 *   --backend LIST     where the program has several
 *   --json FILE        also write the figures as JSON
 *   --journal FILE     (resumable programs) keep finished values in FILE;
 *                      a rerun with the same values skips them
 *   --output FILE      write the values in decimal, one a line, in order,
 *                      atomically (a temporary file, then rename)
 *
 * With --journal or --output the program runs once, with one backend and
 * one --jobs value, without the serial baseline: the production mode.
 *
 * Exit status: 0 all verified; 1 a mismatch or a failed run; 2 bad usage,
 * a --json or --output path that cannot be written (checked before any
 * work); 130 or 143 when SIGINT or SIGTERM stopped it.
 */
#ifndef SWEEP_H
#define SWEEP_H

#include "fib_task.h"

#define SWEEP_MAX_JOBS 32
#define SWEEP_MAX_BACKENDS 8
#define SWEEP_MAX_REPEAT 100    /* = FIB_TIMING_MAX_SAMPLES */

typedef struct sweep_run {
    const char *backend;
    int n_jobs;
    fib_job job;               /* what to compute; job.results to fill */
    size_t n;                  /* values */
    int progress;              /* draw a progress bar on stderr */
    const char *journal;       /* --journal, or NULL */
    const char *key;           /* names the run in the journal */
    char error[320];           /* why it failed */
    int interrupted;           /* the signal that stopped it, or 0 */
    tf_report report;          /* of the run (taskfarm runners) */
} sweep_run;

/* Computes every value; 0, or -1 with run->error set. */
typedef int (*sweep_runner)(sweep_run *run);

typedef struct sweep_program {
    const char *name;
    const char *what;               /* one line for --help */
    const char *const *backends;    /* accepted names, NULL-terminated */
    const char *default_backends;   /* e.g. "threads" */
    sweep_runner run;
    /* For SPMD programs (MPI). All zero/NULL otherwise. */
    const char *default_jobs;       /* NULL = "1,2,4,8,16,32" */
    int cpus_count;                 /* > 0: report this instead of the */
    const char *cpus_source;        /*   detected CPUs, from this source */
    int silent_rank;                /* not rank 0: take part in the runs,
                                       print and check nothing */
    int resumable;                  /* accepts --journal */
} sweep_program;

int sweep_main(const sweep_program *prog, int argc, char **argv);

/* For runners built on taskfarm: options with the progress bar wired. */
void sweep_farm_options(const sweep_run *run, tf_options *o);
/* Turns a taskfarm failure into run->error / run->interrupted; returns -1. */
int sweep_farm_failed(sweep_run *run, int rc, const tf_report *rep);

#endif /* SWEEP_H */
