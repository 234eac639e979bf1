/*
 * fibonacci_cuda.cu - the tutorial's Fibonacci loop on an NVIDIA GPU: the
 * kernel, and the little host code that feeds it (fib_cuda.h).
 *
 * The work is the tutorial's: fib(n) by n big-integer additions,
 * (a, b) <- (b, a + b). GMP does not run on a GPU, so the addition is ours
 * (fib_warp.h): one warp of 32 threads holds one number, each lane K limbs
 * of it in registers. In the loop each lane hands its carry to the next
 * lane with one shuffle per addition (carry-save); at the end the warp
 * settles the carries once, with two votes.
 *
 * DESIGN
 *   - One warp per value. The values are independent, so thousands of
 *     them keep every SM busy at once; that is when a GPU pays.
 *   - All values in one launch. A launch costs microseconds; one per value
 *     would cost more than the work.
 *   - Uneven cost, balanced. fib(9999) needs twice the additions of
 *     fib(5000). The host sorts the positions longest first, and each warp
 *     takes the next one from a counter in device memory (atomicAdd): a
 *     work queue, so a warp that finishes early takes more, and the last
 *     values to start are the cheapest (longest processing time first).
 *   - The grid holds only as many warps as the GPU runs at once
 *     (cudaOccupancyMaxActiveBlocksPerMultiprocessor); the queue does the
 *     rest.
 *   - Carries wait (carry-save): an addition is K limb additions and one
 *     shuffle per lane, and the warp settles the carries once, at the end,
 *     with two votes (fib_warp.h).
 *   - Memory traffic is tiny: one position in per value, the value out once
 *     at the end. Everything in between lives in registers.
 */
#include "fib_cuda.h"
#include "fib_warp.h"

#include <cuda_runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FULL_WARP 0xffffffffu
#define THREADS_PER_BLOCK 128   /* 4 warps */

/* ---- the kernel ------------------------------------------------------- */

/* x += y, carry-save: this lane takes in the carry words that both
 * operands left in the lane below, and returns x's new carry word. */
template <int K>
__device__ __forceinline__ uint32_t warp_add(uint32_t *x, uint32_t cx,
                                             const uint32_t *y, uint32_t cy,
                                             int lane)
{
    uint32_t in = __shfl_up_sync(FULL_WARP, cx + cy, 1);
    return fw_lane_add(x, y, K, lane == 0 ? 0 : in);
}

/* Settles x's carry words once: take in the word from below, vote, and
 * add the carries the lookahead hands out (fib_warp.h, steps 1 to 3). */
template <int K>
__device__ __forceinline__ void warp_settle(uint32_t *x, uint32_t cx,
                                            int lane)
{
    uint32_t in = __shfl_up_sync(FULL_WARP, cx, 1), all_ones;
    uint32_t generate = fw_lane_carry(x, lane == 0 ? 0 : in, K, &all_ones);
    uint32_t g = __ballot_sync(FULL_WARP, generate);
    uint32_t p = __ballot_sync(FULL_WARP, all_ones);
    fw_lane_carry(x, (fw_carries(g, p) >> lane) & 1u, K, &all_ones);
}

/* n[0..count-1] are the positions, longest first; value v goes to
 * out + v * 32 * K. *next is the queue: the index of the next value. */
template <int K>
__global__ void __launch_bounds__(THREADS_PER_BLOCK)
fib_kernel(const uint32_t *__restrict__ n, unsigned count,
           uint32_t *__restrict__ out, unsigned *next)
{
    const int lane = threadIdx.x % FW_LANES;
    for (;;) {
        /* Lane 0 takes a value from the queue; a shuffle tells the others. */
        unsigned v = 0;
        if (lane == 0)
            v = atomicAdd(next, 1u);
        v = __shfl_sync(FULL_WARP, v, 0);
        if (v >= count)
            return;   /* the whole warp together: v is the same in all */

        const uint32_t m = n[v];
        uint32_t a[K], b[K], ca = 0, cb = 0;   /* this lane's chunks */
        fw_lane_init(a, b, lane, K, m);
        for (uint32_t i = 0; i < m / 2; i++) {   /* a = fib(m) at the end */
            ca = warp_add<K>(a, ca, b, cb, lane);
            cb = warp_add<K>(b, cb, a, ca, lane);
        }
        warp_settle<K>(a, ca, lane);
        uint32_t *dst = out + (size_t)v * FW_LANES * K + lane * K;
#pragma unroll
        for (int i = 0; i < K; i++)
            dst[i] = a[i];
    }
}

/* ---- the host side ---------------------------------------------------- */

struct fib_gpu {
    size_t count;
    int k;
    int blocks;
    uint32_t *h_n, *d_n;             /* the positions; host copies are */
    uint32_t *h_out, *d_out;         /* pinned: faster transfers */
    unsigned *d_next;
    cudaEvent_t ev[4];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int failed(cudaError_t e, const char *what, char *err, size_t len)
{
    snprintf(err, len, "%s: %s", what, cudaGetErrorString(e));
    return -1;
}

#define CHECK(call)                                                         \
    do {                                                                    \
        cudaError_t e_ = (call);                                            \
        if (e_ != cudaSuccess)                                              \
            return failed(e_, #call, err, err_len);                         \
    } while (0)

static void launch(const fib_gpu *g, unsigned count, cudaStream_t s)
{
    if (g->k == FW_K_SMALL)
        fib_kernel<FW_K_SMALL><<<g->blocks, THREADS_PER_BLOCK, 0, s>>>(
            g->d_n, count, g->d_out, g->d_next);
    else
        fib_kernel<FW_K_LARGE><<<g->blocks, THREADS_PER_BLOCK, 0, s>>>(
            g->d_n, count, g->d_out, g->d_next);
}

/* No GPU, or a driver older than this runtime: the machine cannot run the
 * program at all, which a test reports as skipped. */
static int no_device(cudaError_t e)
{
    return e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
           e == cudaErrorSystemDriverMismatch;
}

extern "C" int fib_gpu_create(fib_gpu **out, fib_gpu_info *info, char *err,
                              size_t err_len)
{
    *out = NULL;
    int devices = 0;
    double t0 = now();
    cudaError_t e = cudaGetDeviceCount(&devices);
    if (no_device(e) || (e == cudaSuccess && devices == 0)) {
        int runtime = 0;
        cudaRuntimeGetVersion(&runtime);
        snprintf(err, err_len, "no usable CUDA device: %s (this program "
                 "needs an NVIDIA GPU and a driver for CUDA %d.%d or newer)",
                 e == cudaSuccess ? "none found" : cudaGetErrorString(e),
                 runtime / 1000, runtime % 1000 / 10);
        return FIB_GPU_NODEV;
    }
    CHECK(e);
    CHECK(cudaSetDevice(0));
    CHECK(cudaFree(0));   /* the context exists from here */
    info->context_seconds = now() - t0;

    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    snprintf(info->name, sizeof info->name, "%s", prop.name);
    info->sms = prop.multiProcessorCount;
    info->major = prop.major;
    info->minor = prop.minor;
    CHECK(cudaDriverGetVersion(&info->driver));
    CHECK(cudaRuntimeGetVersion(&info->runtime));

    fib_gpu *g = (fib_gpu *)calloc(1, sizeof(*g));
    if (g == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    *out = g;
    for (int i = 0; i < 4; i++)
        CHECK(cudaEventCreate(&g->ev[i]));
    return 0;
}

/* Enough blocks to fill every SM, no more than the values need. */
static int grid_size(const fib_gpu *g, int sms, char *err, size_t err_len)
{
    int per_sm = 0;
    if (g->k == FW_K_SMALL)
        CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
            &per_sm, fib_kernel<FW_K_SMALL>, THREADS_PER_BLOCK, 0));
    else
        CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
            &per_sm, fib_kernel<FW_K_LARGE>, THREADS_PER_BLOCK, 0));
    size_t warps_per_block = THREADS_PER_BLOCK / FW_LANES;
    size_t needed = (g->count + warps_per_block - 1) / warps_per_block;
    size_t full = (size_t)(per_sm > 0 ? per_sm : 1) * (size_t)sms;
    return (int)(needed < full ? (needed > 0 ? needed : 1) : full);
}

extern "C" int fib_gpu_prepare(fib_gpu *g, const uint32_t *n, size_t count,
                               int k, double *setup_seconds, char *err,
                               size_t err_len)
{
    double t0 = now();
    size_t limbs = count * FW_LANES * (size_t)k;
    int sms = 0;
    g->count = count;
    g->k = k;
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    g->blocks = grid_size(g, sms, err, err_len);
    if (g->blocks < 0)
        return -1;
    CHECK(cudaMalloc((void **)&g->d_n, count * sizeof(*n)));
    CHECK(cudaMalloc((void **)&g->d_out, limbs * sizeof(uint32_t)));
    CHECK(cudaMalloc((void **)&g->d_next, sizeof(unsigned)));
    CHECK(cudaMallocHost((void **)&g->h_n, count * sizeof(*n)));
    CHECK(cudaMallocHost((void **)&g->h_out, limbs * sizeof(uint32_t)));
    memcpy(g->h_n, n, count * sizeof(*n));
    /* An empty launch (no values) loads the kernel, so that the runs time
     * the work and not the loading; it also finds a GPU the program was
     * not compiled for. */
    CHECK(cudaMemset(g->d_next, 0, sizeof(unsigned)));
    launch(g, 0, 0);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    *setup_seconds = now() - t0;
    return 0;
}

/* The positions are copied in again on every run, so the run's transfers
 * are all the transfers the work needs. */
extern "C" int fib_gpu_run(fib_gpu *g, fib_gpu_times *t, char *err,
                           size_t err_len)
{
    size_t limbs = g->count * FW_LANES * (size_t)g->k;
    float ms[3];
    double t0 = now();
    CHECK(cudaEventRecord(g->ev[0], 0));
    CHECK(cudaMemcpyAsync(g->d_n, g->h_n, g->count * sizeof(*g->h_n),
                          cudaMemcpyHostToDevice, 0));
    CHECK(cudaMemsetAsync(g->d_next, 0, sizeof(unsigned), 0));
    CHECK(cudaEventRecord(g->ev[1], 0));
    launch(g, (unsigned)g->count, 0);
    CHECK(cudaGetLastError());
    CHECK(cudaEventRecord(g->ev[2], 0));
    CHECK(cudaMemcpyAsync(g->h_out, g->d_out, limbs * sizeof(uint32_t),
                          cudaMemcpyDeviceToHost, 0));
    CHECK(cudaEventRecord(g->ev[3], 0));
    CHECK(cudaEventSynchronize(g->ev[3]));
    t->whole = now() - t0;
    for (int i = 0; i < 3; i++)
        CHECK(cudaEventElapsedTime(&ms[i], g->ev[i], g->ev[i + 1]));
    t->h2d = ms[0] * 1e-3;
    t->kernel = ms[1] * 1e-3;
    t->d2h = ms[2] * 1e-3;
    return 0;
}

extern "C" const uint32_t *fib_gpu_value(const fib_gpu *g, size_t i)
{
    return g->h_out + i * FW_LANES * (size_t)g->k;
}

extern "C" void fib_gpu_shape(const fib_gpu *g, int *blocks,
                              int *threads_per_block)
{
    *blocks = g->blocks;
    *threads_per_block = THREADS_PER_BLOCK;
}

extern "C" void fib_gpu_destroy(fib_gpu *g)
{
    if (g == NULL)
        return;
    cudaFree(g->d_n);
    cudaFree(g->d_out);
    cudaFree(g->d_next);
    cudaFreeHost(g->h_n);
    cudaFreeHost(g->h_out);
    for (int i = 0; i < 4; i++)
        if (g->ev[i] != NULL)
            cudaEventDestroy(g->ev[i]);
    free(g);
}
