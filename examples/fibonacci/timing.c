/*
 * timing.c - medians, spreads and the noise rule (see timing.h).
 */
#include "timing.h"

#include <stdlib.h>
#include <string.h>

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void fib_timing_summarize(const double *samples, int n, fib_timing *out)
{
    double s[FIB_TIMING_MAX_SAMPLES];
    n = n < FIB_TIMING_MAX_SAMPLES ? n : FIB_TIMING_MAX_SAMPLES;
    memcpy(s, samples, (size_t)n * sizeof(*s));
    qsort(s, (size_t)n, sizeof(*s), by_value);
    out->min = s[0];
    out->max = s[n - 1];
    out->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int fib_timing_is_noise(double speedup, int n_jobs, int cpus)
{
    int most = n_jobs < cpus ? n_jobs : cpus;
    return speedup > (double)most * (1 + FIB_NOISE_TOLERANCE);
}
