/*
 * fibonacci.c - the tutorial's serial example, in C.
 *
 *   fibonacci            prints fib(7) and fib(20), as the original does
 *   fibonacci 7 20 1000  prints one line per position, in full decimal
 *
 * Every argument is checked before anything is printed, so a bad one leaves
 * stdout empty: exit status 2 and one line on stderr.
 */
#include "fib.h"

#include <stdio.h>
#include <stdlib.h>

static int print_fib(unsigned long n)
{
    mpz_t f;
    mpz_init(f);
    fib_loop(f, n);
    int rc = gmp_printf("Fibonacci number at position %lu is: %Zd\n", n, f);
    mpz_clear(f);
    return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const unsigned long tutorial[] = {7, 20};
    size_t count = argc > 1 ? (size_t)argc - 1 : 2;
    unsigned long *pos = malloc(count * sizeof(*pos));
    if (pos == NULL) {
        fprintf(stderr, "fibonacci: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        if (argc == 1) {
            pos[i] = tutorial[i];
        } else if (fib_parse_position(argv[i + 1], &pos[i]) != 0) {
            fprintf(stderr, "fibonacci: invalid position '%s': expected a "
                            "whole number from 0 to %lu\n",
                    argv[i + 1], FIB_MAX_N);
            free(pos);
            return 2;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = print_fib(pos[i]);
    free(pos);
    if (rc != 0 || fflush(stdout) != 0) {
        perror("fibonacci: writing the output");
        return 1;
    }
    return 0;
}
