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
 * Inside the loop, carries wait (carry-save). When lane l adds its two
 * chunks, the carry out of the top limb belongs to lane l+1; instead of
 * settling it at once, lane l keeps it in a carry word of its own (0, 1
 * or 2), and lane l+1 takes it in at the *next* addition, which receives
 * the carry words of both operands from lane l-1 through one warp shuffle
 * (__shfl_up_sync). The number is then
 *
 *     sum over lanes l of  chunk[l] * B^l  +  carry[l] * B^(l+1),
 *     B = 2^(32K),
 *
 * and one addition costs K limb additions and one shuffle: no lane ever
 * waits for another lane's carry.
 *
 * At the end, the carries are settled once, in three steps:
 *
 *   1. every lane takes in the carry word of the lane below
 *      (fw_lane_carry), which leaves a carry of 0 or 1 for the lane above
 *      (GENERATE) and notes whether its chunk is now all ones, so that a
 *      carry coming in would pass straight through (PROPAGATE);
 *   2. the warp votes: __ballot_sync() gathers each flag from the 32
 *      lanes into one 32-bit mask, bit l from lane l, and one integer
 *      addition of those masks tells every lane whether a carry comes in
 *      (fw_carries: carry-lookahead, the trick hardware adders use);
 *   3. every lane that receives a carry adds it (fw_lane_carry again).
 *
 * The CPU emulation runs the same functions for each of the 32 lanes in
 * turn, and builds the shuffles and the masks the warp would.
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
 * n = 11,798), K = 32 up to n = 47,198. A value must fit in one warp's
 * registers; the kernel is compiled once per K. */
#define FW_K_SMALL 8
#define FW_K_LARGE 32

/* x += y + carry_in on one lane's chunk of k limbs, carry_in from 0 to 4
 * (the carry words of both operands). Returns the carry out, 0 to 2: the
 * sum is below 2 B + 4. */
FW_HD uint32_t fw_lane_add(uint32_t *x, const uint32_t *y, int k,
                           uint32_t carry_in)
{
    uint32_t carry = carry_in;
    FW_UNROLL
    for (int i = 0; i < k; i++) {
        uint64_t s = (uint64_t)x[i] + y[i] + carry;
        x[i] = (uint32_t)s;
        carry = (uint32_t)(s >> 32);
    }
    return carry;
}

/* x += carry_in (0 to 2) on one lane's chunk. Returns the carry out, 0 or
 * 1 (GENERATE); *all_ones is 1 when the chunk is now 2^(32k) - 1
 * (PROPAGATE). Both never hold at once: a chunk that a carry left is
 * below 2. */
FW_HD uint32_t fw_lane_carry(uint32_t *x, uint32_t carry_in, int k,
                             uint32_t *all_ones)
{
    uint32_t ones = 0xffffffffu;
    FW_UNROLL
    for (int i = 0; i < k; i++) {
        uint64_t s = (uint64_t)x[i] + carry_in;
        x[i] = (uint32_t)s;
        carry_in = (uint32_t)(s >> 32);
        ones &= x[i];
    }
    *all_ones = ones == 0xffffffffu;
    return carry_in;
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

/* The start of the tutorial's loop for fib(n), on lane `lane`'s chunks:
 * a = fib(0) = 0 and b = fib(1) = 1, or for odd n one step further, a =
 * fib(1) = 1 and b = fib(2) = 1 (in lane 0's lowest limb). The loop then
 * makes two steps a round, so that a and b never move: after i rounds
 * a = fib(2i + (n & 1)), and after n / 2 rounds a = fib(n). */
FW_HD void fw_lane_init(uint32_t *a, uint32_t *b, int lane, int k,
                        unsigned long n)
{
    FW_UNROLL
    for (int i = 0; i < k; i++) {
        a[i] = 0;
        b[i] = 0;
    }
    a[0] = lane == 0 && (n & 1);
    b[0] = lane == 0;
}

/* The smallest K (FW_K_SMALL or FW_K_LARGE) whose 32 * K limbs hold every
 * number the loop makes for positions up to max_n, or 0 when none does.
 * The loop computes fib(n + 1) too, and fib(m) < phi^m < 2^(0.69425 m).
 * Then no carry ever leaves lane 31: the carry-save form of a number is a
 * sum of terms that are never negative, so a carry word in lane 31 would
 * make it 2^(1024K) or more. */
int fw_limbs_per_lane(unsigned long max_n);

/* The largest position a warp of FW_K_LARGE holds. */
unsigned long fw_max_n(void);

/* ---- the CPU emulation of one warp (fib_warp.c) ------------------------ */

/* A number as the warp holds it: 32 * k limbs (lane l's chunk at
 * limb + l*k) and one carry word per lane. */
typedef struct fw_number {
    uint32_t *limb;
    uint32_t carry[FW_LANES];
} fw_number;

/* x += y, carry-save: one shuffle, then every lane's fw_lane_add. */
void fw_emu_add(fw_number *x, const fw_number *y, int k);

/* Settles x's carries (steps 1 to 3 above); x->carry is all zero after. */
void fw_emu_settle(fw_number *x, int k);

/* fib(n) as the kernel computes it, into out (32 * k limbs, least
 * significant first). n must be at most what k holds. */
void fw_emu_fib(unsigned long n, int k, uint32_t *out);

#endif /* FIB_WARP_H */
