/*
 * fib.h - exact Fibonacci numbers on GMP, three ways.
 *
 *   loop      the tutorial's algorithm: n big-integer additions, ~n^2 work
 *   doubling  fast doubling: O(log n) multiplications, far faster
 *   gmp       GMP's own mpz_fib_ui, the reference the tests compare with
 */
#ifndef FIB_H
#define FIB_H

#include <gmp.h>

typedef enum { FIB_LOOP = 0, FIB_DOUBLING, FIB_GMP } fib_algo;

/* The largest position the example programs accept: fib(1000000) has
 * 208,988 digits and takes seconds with the loop algorithm. */
#define FIB_MAX_N 1000000UL

void fib_loop(mpz_t out, unsigned long n);
void fib_doubling(mpz_t out, unsigned long n);
void fib_gmp(mpz_t out, unsigned long n);
void fib_compute(mpz_t out, unsigned long n, fib_algo algo);

/* "loop", "doubling", "gmp"; NULL for an unknown algo. */
const char *fib_algo_name(fib_algo algo);
/* 0 and *out set, or -1 for an unknown name. */
int fib_algo_parse(const char *name, fib_algo *out);

/* Parses a position: decimal digits only, 0..FIB_MAX_N. 0 or -1. */
int fib_parse_position(const char *text, unsigned long *out);

#endif /* FIB_H */
