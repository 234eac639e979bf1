/*
 * fib_pair_x86.c - the pair of additions in one pass over the limbs, on
 * x86-64 CPUs with ADX (Intel Broadwell, AMD Zen and later); others take
 * the mpn_add_n pair (see fib_pair.h).
 *
 * Why: one addition is a carry chain, one limb a cycle at best, and
 * mpn_add_n pays its call and tail on every one of the n steps (the
 * numbers are only ~55 limbs long). The two additions of a pair are two
 * chains, and limb j of the second (b + a') needs only limb j of the first
 * (a' = a + b): ADX gives each chain its own carry flag (adcx uses CF,
 * adox uses OF), so one loop runs both, loading a[j] and b[j] once. Each
 * number is still the sum of the two before it, limb by limb.
 */
#include "fib_pair.h"

#include <cpuid.h>
#include <stdatomic.h>

/* ADX is CPUID leaf 7, EBX bit 19. Asked once per process: CPUID traps to
 * the hypervisor in a virtual machine, which would cost more than a small
 * fib(n). An atomic, because any worker thread may ask first; every
 * thread computes the same answer. */
static int have_adx(void)
{
    static atomic_int known; /* 0 not asked, 1 no, 2 yes */
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k == 0) {
        unsigned eax, ebx = 0, ecx, edx;
        k = __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) &&
                    (ebx & (1u << 19))
                ? 2
                : 1;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k == 2;
}

/* a <- a + b, then b <- b + a, over n limbs, n a multiple of 4 and > 0;
 * *c1 and *c2 are the carries out of the two chains. Four limbs an
 * iteration (two did 3-5% worse: the loop's own instructions); the loop
 * counts with lea and jrcxz, which leave CF and OF alone. */
static void add_pair_adx(mp_limb_t *a, mp_limb_t *b, mp_size_t n,
                         mp_limb_t *c1, mp_limb_t *c2)
{
    mp_limb_t x0, y0, x1, y1;
    unsigned long count = (unsigned long)n;
    __asm__ volatile(
        "xor %k[x0], %k[x0]\n\t" /* CF = OF = 0 */
        ".p2align 4\n"
        "1:\n\t"
        "mov (%[a]), %[x0]\n\t"
        "mov (%[b]), %[y0]\n\t"
        "mov 8(%[a]), %[x1]\n\t"
        "mov 8(%[b]), %[y1]\n\t"
        "adcx %[y0], %[x0]\n\t" /* a'[j] = a[j] + b[j] + CF */
        "mov %[x0], (%[a])\n\t"
        "adox %[x0], %[y0]\n\t" /* b'[j] = b[j] + a'[j] + OF */
        "mov %[y0], (%[b])\n\t"
        "adcx %[y1], %[x1]\n\t"
        "mov %[x1], 8(%[a])\n\t"
        "adox %[x1], %[y1]\n\t"
        "mov %[y1], 8(%[b])\n\t"
        "mov 16(%[a]), %[x0]\n\t"
        "mov 16(%[b]), %[y0]\n\t"
        "mov 24(%[a]), %[x1]\n\t"
        "mov 24(%[b]), %[y1]\n\t"
        "adcx %[y0], %[x0]\n\t"
        "mov %[x0], 16(%[a])\n\t"
        "adox %[x0], %[y0]\n\t"
        "mov %[y0], 16(%[b])\n\t"
        "adcx %[y1], %[x1]\n\t"
        "mov %[x1], 24(%[a])\n\t"
        "adox %[x1], %[y1]\n\t"
        "mov %[y1], 24(%[b])\n\t"
        "lea 32(%[a]), %[a]\n\t"
        "lea 32(%[b]), %[b]\n\t"
        "lea -4(%[n]), %[n]\n\t"
        "jrcxz 2f\n\t"
        "jmp 1b\n"
        "2:\n\t"
        "mov $0, %k[x0]\n\t" /* mov, not xor: keep the carries */
        "mov $0, %k[y0]\n\t"
        "adcx %[x0], %[x0]\n\t"
        "adox %[y0], %[y0]\n"
        : [a] "+r"(a), [b] "+r"(b), [n] "+c"(count), [x0] "=&r"(x0),
          [y0] "=&r"(y0), [x1] "=&r"(x1), [y1] "=&r"(y1)
        :
        : "cc", "memory");
    *c1 = x0;
    *c2 = y0;
}

/* One pair in one pass; see fib_pair.h. */
static inline mp_size_t pair_adx(mp_limb_t *a, mp_limb_t *b, mp_size_t size)
{
    /* A multiple of 4 limbs: the limbs above `size` are zero in both, so
     * adding them costs only time (1.5 limbs on average, which the shorter
     * loop repays), and a carry lands there. */
    mp_size_t whole = (size + 3) & ~(mp_size_t)3;
    mp_limb_t c1, c2;
    add_pair_adx(a, b, whole, &c1, &c2);
    /* Past `whole` both were zero: a' there is c1, b' is a' + c2 (at most
     * 2). Only b, the larger, can have grown, by one limb at most. */
    a[whole] = c1;
    b[whole] = c1 + c2;
    return b[size] != 0 ? size + 1 : size;
}

mp_size_t fib_add_pair(mp_limb_t *a, mp_limb_t *b, mp_size_t size)
{
    return have_adx() ? pair_adx(a, b, size) : fib_pair_mpn(a, b, size);
}

mp_size_t fib_add_pairs(mp_limb_t *a, mp_limb_t *b, mp_size_t size,
                        unsigned long pairs)
{
    if (!have_adx()) {
        for (unsigned long i = 0; i < pairs; i++)
            size = fib_pair_mpn(a, b, size);
        return size;
    }
    for (unsigned long i = 0; i < pairs; i++)
        size = pair_adx(a, b, size);
    return size;
}
