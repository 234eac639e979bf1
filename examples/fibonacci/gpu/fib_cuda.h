/*
 * fib_cuda.h - the GPU side of fibonacci_cuda, as plain C: open the
 * device, hand it the positions, time the run. The kernel is in
 * fibonacci_cuda.cu; the command line, the checks against GMP and the CPU
 * comparison are in fibonacci_cuda_main.c.
 */
#ifndef FIB_CUDA_H
#define FIB_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* fib_gpu_create()'s return when this machine has no GPU, or no driver new
 * enough for the CUDA runtime the program was built with: a skip, not an
 * error (77 is also the exit status a skipped test uses). */
#define FIB_GPU_NODEV 77

typedef struct fib_gpu fib_gpu;

typedef struct fib_gpu_info {
    char name[256];          /* e.g. "NVIDIA H200" */
    int sms;                 /* streaming multiprocessors */
    int major, minor;        /* compute capability */
    int driver, runtime;     /* CUDA versions, e.g. 13000 */
    double context_seconds;  /* creating the CUDA context, once per process */
} fib_gpu_info;

/* Seconds for each part of one run (fib_gpu_run). */
typedef struct fib_gpu_times {
    double h2d;      /* the positions, host to device (events) */
    double kernel;   /* the kernel (events) */
    double d2h;      /* the values, device to host (events) */
    double whole;    /* the call, as the host's clock sees it */
} fib_gpu_times;

/* Opens device 0 and creates its context. 0; FIB_GPU_NODEV with err
 * saying why; -1 on any other CUDA error. */
int fib_gpu_create(fib_gpu **out, fib_gpu_info *info, char *err,
                   size_t err_len);

/* Gets ready for `count` positions, longest first, each at most what
 * `k` limbs per lane hold (fw_limbs_per_lane): device memory, a pinned
 * host buffer for the values, and one empty launch that loads the
 * kernel. The seconds those took go to *setup_seconds. 0 or -1. */
int fib_gpu_prepare(fib_gpu *g, const uint32_t *n, size_t count, int k,
                    double *setup_seconds, char *err, size_t err_len);

/* One run: positions in, one launch for all of them, values out. 0 or -1. */
int fib_gpu_run(fib_gpu *g, fib_gpu_times *t, char *err, size_t err_len);

/* Value i of the last run (in the order given to fib_gpu_prepare): 32 * k
 * limbs, least significant first. Valid until the next call. */
const uint32_t *fib_gpu_value(const fib_gpu *g, size_t i);

/* Launch shape of the last run, for the report. */
void fib_gpu_shape(const fib_gpu *g, int *blocks, int *threads_per_block);

void fib_gpu_destroy(fib_gpu *g);   /* NULL is fine */

#ifdef __cplusplus
}
#endif

#endif /* FIB_CUDA_H */
