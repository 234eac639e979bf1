/*
 * fib_warp.h - the big-integer addition of the GPU example, one warp per
 * number, written once for the GPU kernel (fibonacci_cuda.cu) and for its
 * CPU emulation (fib_warp.c), so the tests check on any machine the very
 * code the GPU runs.
 *
 * The layout. A number is 32 * K limbs of 32 bits, least significant first.
 * Lane l of the warp holds limbs l*K .. l*K+K-1 (a "chunk") in registers.
 * fib(9999) has 6,942 bits: 217 limbs, so K = 8 (8,192 bits) holds it.
 *
 * One addition x += y takes three steps:
 *
 *   1. every lane adds its two chunks with no carry coming in
 *      (fw_lane_add), and notes two flags: GENERATE (a carry leaves the
 *      chunk) and PROPAGATE (the chunk is now all ones, so a carry coming
 *      in would pass straight through);
 *   2. the warp votes: __ballot_sync() gathers each flag from the 32
 *      lanes into one 32-bit mask, bit l from lane l, and one integer
 *      addition of those masks tells every lane whether a carry comes in
 *      (fw_carries: carry-lookahead, the trick hardware adders use);
 *   3. every lane that receives a carry adds it to its chunk
 *      (fw_lane_carry). A chunk that was all ones wraps to zero, and the
 *      masks already counted the carry it passes on.
 *
 * No lane waits for another lane's carry to ripple: the whole warp settles
 * every carry with one vote. The CPU emulation runs the same functions for
 * each of the 32 lanes in turn and builds the masks the vote would build.
 */
#ifndef FIB_WARP_H
#define FIB_WARP_H

#include <stdint.h>

#ifdef __CUDACC__
#define FW_HD static __host__ __device__ __forceinline__
#else
#define FW_HD static inline
#endif
/* Unrolled, the K limbs of a chunk stay in registers. Only for the GPU
 * pass: the host compilers warn about nvcc's pragma. */
#ifdef __CUDA_ARCH__
#define FW_UNROLL _Pragma("unroll")
#else
#define FW_UNROLL
#endif

#define FW_LANES 32
/* The chunk sizes the program uses: K = 8 for the tutorial's values (up to
 * n = 11,797), K = 32 up to n = 47,196. A value must fit in one warp's
 * registers; the kernel is compiled once per K. */
#define FW_K_SMALL 8
#define FW_K_LARGE 32

/* Step 1: x += y on one lane's chunk of k limbs, no carry in. Returns 1
 * when a carry leaves the chunk (GENERATE); *all_ones is 1 when the chunk
 * is now 2^(32k) - 1 (PROPAGATE). Both never hold at once: the largest
 * sum, 2 (2^(32k) - 1), leaves 2^(32k) - 2 in the chunk. */
FW_HD uint32_t fw_lane_add(uint32_t *x, const uint32_t *y,
                                         int k, uint32_t *all_ones)
{
    uint32_t carry = 0, ones = 0xffffffffu;
    FW_UNROLL
    for (int i = 0; i < k; i++) {
        uint64_t s = (uint64_t)x[i] + y[i] + carry;
        x[i] = (uint32_t)s;
        carry = (uint32_t)(s >> 32);
        ones &= x[i];
    }
    *all_ones = ones == 0xffffffffu;
    return carry;
}

/* Step 2: given the warp's GENERATE and PROPAGATE masks (bit l for lane
 * l), the mask of lanes that receive a carry. Lane l+1 receives one when
 * lane l generates one, or propagates one it received:
 *     c[l+1] = g[l] | (p[l] & c[l]),   c[0] = 0.
 * That recurrence is exactly how carries move through a binary addition
 * A + B, where a bit with a = b = 1 generates and a bit with a ^ b = 1
 * propagates. So take A = G | P and B = G (G and P never share a bit:
 * then A & B = G and A ^ B = P), let the integer adder resolve the whole
 * chain at once, and read the carries back: bit l of (A + B) ^ A ^ B is
 * the carry that came into bit l. A carry out of lane 31 is lost; the
 * program sizes K so that the numbers never need it. */
FW_HD uint32_t fw_carries(uint32_t generate, uint32_t propagate)
{
    uint32_t a = generate | propagate, b = generate;
    return (a + b) ^ a ^ b;
}

/* Step 3: adds carry_in (0 or 1) to one lane's chunk. */
FW_HD void fw_lane_carry(uint32_t *x, uint32_t carry_in, int k)
{
    FW_UNROLL
    for (int i = 0; i < k; i++) {
        uint64_t s = (uint64_t)x[i] + carry_in;
        x[i] = (uint32_t)s;
        carry_in = (uint32_t)(s >> 32);
    }
}

/* The start of the tutorial's loop, on lane `lane`'s chunks: a = fib(0) = 0,
 * b = fib(1) = 1 (in lane 0's lowest limb). */
FW_HD void fw_lane_init(uint32_t *a, uint32_t *b, int lane,
                                      int k)
{
    FW_UNROLL
    for (int i = 0; i < k; i++) {
        a[i] = 0;
        b[i] = 0;
    }
    b[0] = lane == 0;
}

/* The smallest K (FW_K_SMALL or FW_K_LARGE) whose 32 * K limbs hold every
 * number the loop makes for positions up to max_n, or 0 when none does.
 * The loop computes fib(n + 1) too, and fib(m) < phi^m < 2^(0.69425 m). */
int fw_limbs_per_lane(unsigned long max_n);

/* The largest position a warp of FW_K_LARGE holds. */
unsigned long fw_max_n(void);

/* ---- the CPU emulation of one warp (fib_warp.c) ------------------------ */

/* x += y over a whole warp's number (32 * k limbs, lane l's chunk at
 * x + l*k): steps 1 to 3 above, lane after lane. */
void fw_emu_add(uint32_t *x, const uint32_t *y, int k);

/* fib(n) as the kernel computes it, into out (32 * k limbs, least
 * significant first). n must be at most what k holds. */
void fw_emu_fib(unsigned long n, int k, uint32_t *out);

#endif /* FIB_WARP_H */
