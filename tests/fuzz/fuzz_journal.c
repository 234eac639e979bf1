/*
 * fuzz_journal.c - libFuzzer target for the journal reader.
 *
 * Each input is written as a journal file and opened as the tests open
 * theirs (same key; N from the test runs, and N as the file's header
 * claims it), then every record it accepts is read back. Whatever the
 * bytes, opening must end in 0 or TF_EJOURNAL, never a crash, a hang or a
 * read out of bounds (AddressSanitizer). Seeds: the journals that
 * test_journal writes (TF_FUZZ_SEEDS). Run with `make fuzz`.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char key[] = "test_journal run key";

static void try_open(const char *path, size_t n)
{
    tf_options o = TF_OPTIONS_INIT;
    tf__journal *j = NULL;
    tf__journal_status st;
    int rc = tf__journal_open(&j, path, n, key, strlen(key), &o, &st);
    if (rc != 0 && rc != TF_EJOURNAL && rc != TF_ENOMEM)
        abort();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const void *data;
        size_t len;
        if (tf__journal_has(j, i) && tf__journal_read(j, i, &data, &len) != 0)
            abort(); /* accepted at open, unreadable now */
    }
    tf__journal_close(j, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/tf_fuzz_%d.journal", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    static const size_t sizes[] = {10, 20, 30, 50, 2000, 3000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        try_open(path, sizes[i]);
        /* opening may have cut a torn tail: start again from the input */
        f = fopen(path, "wb");
        if (f == NULL)
            return 0;
        fwrite(data, 1, size, f);
        fclose(f);
    }
    uint64_t claimed;
    if (size >= 24) {
        memcpy(&claimed, data + 16, sizeof claimed);
        if (claimed > 0 && claimed <= (1u << 16))
            try_open(path, (size_t)claimed);
    }
    unlink(path);
    return 0;
}
