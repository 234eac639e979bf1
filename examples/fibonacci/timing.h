/*
 * timing.h - what the examples make of repeated timings: the median and
 * the spread of a configuration's samples, and the rule that says a row
 * is noise rather than a result.
 */
#ifndef TIMING_H
#define TIMING_H

/* A speedup may exceed what the CPUs allow by this much before its row is
 * called noise: scheduling and clock jitter of a few percent are normal,
 * a 2.5x speedup on 2 CPUs is a slow serial baseline. */
#define FIB_NOISE_TOLERANCE 0.05

typedef struct fib_timing {
    double median; /* of the samples; the mean of the middle two if even */
    double min, max;
} fib_timing;

#define FIB_TIMING_MAX_SAMPLES 100

/* Summarizes 1 <= n <= FIB_TIMING_MAX_SAMPLES samples (left as they are). */
void fib_timing_summarize(const double *samples, int n, fib_timing *out);

/* 1 when a median speedup with n_jobs workers on `cpus` CPUs is more than
 * FIB_NOISE_TOLERANCE above min(n_jobs, cpus), the most any run can gain:
 * the machine was busy during the baseline, so the row proves nothing. */
int fib_timing_is_noise(double speedup, int n_jobs, int cpus);

#endif /* TIMING_H */
