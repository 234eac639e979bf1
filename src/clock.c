/*
 * clock.c - the library's one clock: monotonic seconds, for batch times,
 * time limits, progress and waits. (Never the wall clock: it jumps.)
 */
#include "internal.h"

#include <time.h>

double tf__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
