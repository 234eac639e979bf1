/*
 * fib_task.c - Fibonacci numbers as taskfarm tasks (see fib_task.h).
 */
#include "fib_task.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t byte_size(const mpz_t f)
{
    return mpz_sgn(f) == 0 ? 0 : (mpz_sizeinbase(f, 2) + 7) / 8;
}

int fib_job_task(void *user, size_t i, tf_out *out)
{
    const fib_job *job = user;
    mpz_t f;
    mpz_init(f);
    fib_compute(f, job->lo + i, job->algo);
    size_t size = byte_size(f), count = 0;
    unsigned char *p = tf_out_extend(out, size);
    if (p == NULL && size > 0) {
        mpz_clear(f);
        return TF_ENOMEM;
    }
    if (size > 0)
        mpz_export(p, &count, 1, 1, 1, 0, f);
    tf_out_truncate(out, count);
    mpz_clear(f);
    return 0;
}

int fib_job_bytes(const fib_job *job, size_t i, unsigned char **data,
                  size_t *len)
{
    mpz_t f;
    mpz_init(f);
    fib_compute(f, job->lo + i, job->algo);
    size_t count = 0;
    *data = malloc(byte_size(f) + 1);
    if (*data != NULL && byte_size(f) > 0)
        mpz_export(*data, &count, 1, 1, 1, 0, f);
    *len = count;
    mpz_clear(f);
    return *data != NULL ? 0 : -1;
}

int fib_results_init(fib_results *r, size_t n)
{
    r->n = n;
    r->data = calloc(n > 0 ? n : 1, sizeof(*r->data));
    r->len = calloc(n > 0 ? n : 1, sizeof(*r->len));
    if (r->data == NULL || r->len == NULL) {
        fib_results_release(r);
        return -1;
    }
    return 0;
}

void fib_results_release(fib_results *r)
{
    if (r->data != NULL)
        for (size_t i = 0; i < r->n; i++)
            free(r->data[i]);
    free(r->data);
    free(r->len);
    r->data = NULL;
    r->len = NULL;
    r->n = 0;
}

int fib_job_store(void *user, size_t i, const void *data, size_t len)
{
    const fib_job *job = user;
    return fib_results_set(job->results, i, data, len) == 0 ? 0 : 1;
}

int fib_results_set(fib_results *r, size_t i, const void *data, size_t len)
{
    unsigned char *copy = malloc(len + 1);
    if (copy == NULL || i >= r->n) {
        free(copy);
        return -1;
    }
    if (len > 0)
        memcpy(copy, data, len);
    free(r->data[i]);
    r->data[i] = copy;
    r->len[i] = len;
    return 0;
}

size_t fib_results_compare(const fib_results *a, const fib_results *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->data[i] == NULL || b->data[i] == NULL || a->len[i] != b->len[i] ||
            memcmp(a->data[i], b->data[i], a->len[i]) != 0)
            return i;
    }
    return SIZE_MAX;
}

int fib_results_print(const fib_results *r, size_t i, FILE *out)
{
    mpz_t f;
    mpz_init(f);
    mpz_import(f, r->len[i], 1, 1, 1, 0, r->data[i]);
    int rc = gmp_fprintf(out, "%Zd\n", f) < 0 ? -1 : 0;
    mpz_clear(f);
    return rc;
}
