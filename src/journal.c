/*
 * journal.c - an append-only checkpoint of finished results, for resume.
 *
 * DESIGN
 *   - File: a header naming the run (magic, format version, N, the caller's
 *     run key, and a CRC of all that), then one record per finished task:
 *
 *         u32 magic  u32 crc32(index, len, bytes)  u64 index  u64 len  bytes
 *
 *     little-endian as the machine writes it (a journal stays on the
 *     cluster that made it).
 *   - Results are appended when a batch arrives in the caller's thread,
 *     before any of it is delivered: a result the caller has seen is in
 *     the journal, and a batch that finished but waits behind a slower one
 *     (index order) is not lost when the job is killed.
 *   - Durability: every batch is written with writev(), so a killed
 *     process loses nothing written; fdatasync() follows every
 *     sync_interval seconds (default 1) and/or sync_every records, for a
 *     crashed machine, and once more when a run ends without delivering
 *     every task, the case where a rerun will read the journal. (A run that
 *     delivered everything skips that last sync: its caller has all the
 *     results; measured, it was the largest part of the journal's cost.)
 *   - Reopening checks the header (another N, key or version is refused,
 *     never overwritten), then reads every record. A record that fails its
 *     check with no valid record after it is a torn tail (killed mid-write):
 *     the file is cut back to the last good record. One followed by valid
 *     records is damage in the middle: refused, with its offset.
 *   - An exclusive flock() keeps two runs from writing one journal.
 *   - Memory: one offset per task (8 bytes x N) to replay records by index.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#define HEADER_MAGIC "TFJRNL\r\n"
#define FORMAT_VERSION 1u
#define RECORD_MAGIC 0x5246544au /* "JTFR" */
#define MAX_KEY (64u << 10)
#define IOV_BATCH 512
/* Marks an offset written by this run: its task is done, but its result
 * was delivered from memory, so it is not replayed. */
#define WRITTEN_NOW ((uint64_t)1 << 63)

typedef struct head {
    char magic[8];
    uint32_t version;
    uint32_t key_len;
    uint64_t n_tasks;
    uint32_t crc;          /* of the fields above and the key */
    uint32_t reserved;
} head;

typedef struct rec {
    uint32_t magic;
    uint32_t crc;          /* of index, len and the bytes */
    uint64_t index;
    uint64_t len;
} rec;

struct tf__journal {
    int fd;
    size_t n_tasks;
    uint64_t *offset;      /* per task: where its record starts; 0 = none */
    uint64_t end;          /* where the next record goes */
    unsigned char *buf;    /* replay buffer */
    size_t buf_cap;
    rec *recs;             /* headers of the batch being written */
    size_t recs_cap;
    double sync_interval;
    int sync_every;
    double last_sync;
    size_t unsynced;
};

/* ---- small helpers ---------------------------------------------------- */

static int fail(tf__journal_status *st, int problem, uint64_t at, int err)
{
    st->problem = problem;
    st->offset = at;
    st->sys_errno = err;
    return TF_EJOURNAL;
}

static uint32_t head_crc(const head *h, const void *key)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)h, offsetof(head, crc));
    /* Not for an empty key: given a NULL buffer zlib returns its initial
     * value, so a key-less journal's CRC would change on reopen. */
    if (h->key_len > 0)
        c = crc32(c, (const Bytef *)key, h->key_len);
    return (uint32_t)c;
}

static uint32_t rec_crc(const rec *r, const void *data)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)&r->index, sizeof r->index + sizeof r->len);
    /* Not for an empty result: zlib's crc32 given a NULL buffer (a batch of
     * empty results has no data area) returns the initial value, not c. */
    if (r->len > 0)
        c = crc32_z(c, (const Bytef *)data, (z_size_t)r->len);
    return (uint32_t)c;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t at)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        at += (uint64_t)n;
    }
    return 0;
}

static int grow(unsigned char **buf, size_t *cap, size_t want)
{
    if (want <= *cap)
        return 0;
    unsigned char *b = realloc(*buf, want);
    if (b == NULL)
        return -1;
    *buf = b;
    *cap = want;
    return 0;
}

/* ---- the header ------------------------------------------------------- */

/* fdatasync, again if a signal interrupted it. */
static int sync_data(int fd)
{
    int rc;
    do
        rc = fdatasync(fd);
    while (rc != 0 && errno == EINTR);
    return rc;
}

/* pwritev at the journal's end until everything is written: short writes
 * resumed, EINTR retried; a write of nothing (a full disk that does not say
 * so) fails with ENOSPC instead of spinning. */
static int write_iov(tf__journal *j, struct iovec *iov, int n, size_t bytes)
{
    while (bytes > 0) {
        ssize_t done = pwritev(j->fd, iov, n, (off_t)j->end);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0) {
            if (done == 0)
                errno = ENOSPC;
            return -1;
        }
        j->end += (uint64_t)done;
        bytes -= (size_t)done;
        size_t skip = (size_t)done;
        while (n > 0 && skip >= iov->iov_len) {
            skip -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + skip;
            iov->iov_len -= skip;
        }
    }
    return 0;
}

static void make_head(head *h, size_t n_tasks, const void *key,
                      size_t key_len)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, HEADER_MAGIC, sizeof h->magic);
    h->version = FORMAT_VERSION;
    h->key_len = (uint32_t)key_len;
    h->n_tasks = n_tasks;
    h->crc = head_crc(h, key);
}

static int write_head(tf__journal *j, const void *key, size_t key_len,
                      tf__journal_status *st)
{
    head h;
    make_head(&h, j->n_tasks, key, key_len);
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)key, key_len}};
    j->end = 0;
    if (ftruncate(j->fd, 0) != 0 || write_iov(j, iov, 2, sizeof h + key_len) ||
        sync_data(j->fd) != 0)
        return fail(st, TF_JOURNAL_IO, 0, errno);
    return 0;
}

/* 1 if the file, shorter than this run's header and key, holds their start:
 * the last run began the journal and was killed before it finished. */
static int torn_head(tf__journal *j, const void *key, size_t key_len,
                     uint64_t size)
{
    head want;
    make_head(&want, j->n_tasks, key, key_len);
    size_t hsize = sizeof want + key_len;
    if (size >= hsize)
        return 0;
    unsigned char *expect = malloc(hsize), *have = malloc(hsize);
    int torn = expect != NULL && have != NULL;
    if (torn) {
        memcpy(expect, &want, sizeof want);
        memcpy(expect + sizeof want, key, key_len);
        torn = pread_full(j->fd, have, (size_t)size, 0) == 0 &&
               memcmp(have, expect, (size_t)size) == 0;
    }
    free(expect);
    free(have);
    return torn;
}

/* Magic, version, the header's own CRC (a flipped bit is damage, not
 * another run), then the run: N and key. */
static int check_head(tf__journal *j, const void *key, size_t key_len,
                      uint64_t size, tf__journal_status *st)
{
    head got;
    if (torn_head(j, key, key_len, size))
        return write_head(j, key, key_len, st);
    if (size < sizeof got)
        return fail(st, TF_JOURNAL_NOT_JOURNAL, 0, 0);
    if (pread_full(j->fd, &got, sizeof got, 0) != 0)
        return fail(st, TF_JOURNAL_IO, 0, errno);
    if (memcmp(got.magic, HEADER_MAGIC, sizeof got.magic) != 0)
        return fail(st, TF_JOURNAL_NOT_JOURNAL, 0, 0);
    if (got.version != FORMAT_VERSION)
        return fail(st, TF_JOURNAL_OTHER_VERSION, 0, 0);
    if (got.key_len > MAX_KEY || size < sizeof got + got.key_len)
        return fail(st, TF_JOURNAL_DAMAGED, 0, 0);
    unsigned char *stored = malloc((size_t)got.key_len + 1);
    if (stored == NULL)
        return TF_ENOMEM;
    int rc = 0;
    if (pread_full(j->fd, stored, got.key_len, sizeof got) != 0)
        rc = fail(st, TF_JOURNAL_IO, 0, errno);
    else if (head_crc(&got, stored) != got.crc)
        rc = fail(st, TF_JOURNAL_DAMAGED, 0, 0);
    else if (got.n_tasks != j->n_tasks)
        rc = fail(st, TF_JOURNAL_OTHER_N, 0, 0);
    else if (got.key_len != key_len ||
             (key_len > 0 && memcmp(stored, key, key_len) != 0))
        rc = fail(st, TF_JOURNAL_OTHER_KEY, 0, 0);
    free(stored);
    j->end = sizeof got + got.key_len;
    return rc;
}

/* ---- the records ------------------------------------------------------ */

/* 1 if a valid record starts at `at` (and fits before `size`). */
static int valid_at(tf__journal *j, uint64_t at, uint64_t size, rec *out)
{
    rec r;
    if (size - at < sizeof r || pread_full(j->fd, &r, sizeof r, at) != 0)
        return 0;
    if (r.magic != RECORD_MAGIC || r.index >= j->n_tasks ||
        r.len > size - at - sizeof r || r.len > UINT_MAX)
        return 0;
    if (grow(&j->buf, &j->buf_cap, (size_t)r.len + 1) != 0 ||
        pread_full(j->fd, j->buf, (size_t)r.len, at + sizeof r) != 0 ||
        rec_crc(&r, j->buf) != r.crc)
        return 0;
    *out = r;
    return 1;
}

/* After a bad record at `bad`: any valid record later means damage in the
 * middle; none means the tail was torn. */
static int later_record(tf__journal *j, uint64_t bad, uint64_t size)
{
    rec r;
    uint32_t magic = RECORD_MAGIC;
    unsigned char window[4096 + 3];
    for (uint64_t at = bad + 1; at + sizeof r <= size;) {
        size_t n = size - at < sizeof window ? (size_t)(size - at)
                                             : sizeof window;
        if (pread_full(j->fd, window, n, at) != 0)
            return 0;
        for (size_t i = 0; i + 4 <= n; i++)
            if (memcmp(window + i, &magic, 4) == 0 &&
                valid_at(j, at + i, size, &r))
                return 1;
        at += n > 3 ? n - 3 : n;
    }
    return 0;
}

static int read_records(tf__journal *j, uint64_t size, tf__journal_status *st)
{
    uint64_t at = j->end;
    rec r;
    while (at < size) {
        if (!valid_at(j, at, size, &r)) {
            if (later_record(j, at, size))
                return fail(st, TF_JOURNAL_DAMAGED, at, 0);
            if (ftruncate(j->fd, (off_t)at) != 0) /* a torn tail */
                return fail(st, TF_JOURNAL_IO, at, errno);
            st->truncated = size - at;
            break;
        }
        if (j->offset[r.index] == 0)
            j->offset[r.index] = at;
        at += sizeof r + r.len;
    }
    j->end = at;
    return 0;
}

/* ---- open, replay, append, close -------------------------------------- */

static int open_file(const char *path, tf__journal *j, tf__journal_status *st,
                     int *fresh)
{
    *fresh = 0;
    j->fd = open(path, O_RDWR | O_CLOEXEC);
    if (j->fd < 0 && errno == ENOENT) {
        j->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        *fresh = 1;
    }
    if (j->fd < 0)
        return fail(st, TF_JOURNAL_IO, 0, errno);
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0)
        return fail(st, errno == EWOULDBLOCK ? TF_JOURNAL_IN_USE
                                             : TF_JOURNAL_IO,
                    0, errno == EWOULDBLOCK ? 0 : errno);
    return 0;
}

int tf__journal_open(tf__journal **out, const char *path, size_t n_tasks,
                     const void *key, size_t key_len, const tf_options *o,
                     tf__journal_status *st)
{
    memset(st, 0, sizeof(*st));
    *out = NULL;
    if (key_len > MAX_KEY || (key == NULL && key_len > 0))
        return TF_EINVAL;
    tf__journal *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return TF_ENOMEM;
    j->fd = -1;
    j->n_tasks = n_tasks;
    j->sync_interval = o->journal_sync_interval; /* resolved by the farm */
    j->sync_every = o->journal_sync_every;
    j->last_sync = tf__now();
    j->offset = calloc(n_tasks > 0 ? n_tasks : 1, sizeof(*j->offset));
    int fresh, rc = j->offset == NULL ? TF_ENOMEM
                                      : open_file(path, j, st, &fresh);
    struct stat sb;
    if (rc == 0 && fstat(j->fd, &sb) != 0)
        rc = fail(st, TF_JOURNAL_IO, 0, errno);
    if (rc == 0 && (fresh || sb.st_size == 0))
        rc = write_head(j, key, key_len, st);
    else if (rc == 0)
        rc = check_head(j, key, key_len, (uint64_t)sb.st_size, st);
    if (rc == 0 && !fresh && sb.st_size > 0)
        rc = read_records(j, (uint64_t)sb.st_size, st);
    if (rc != 0) {
        tf__journal_close(j, 0);
        return rc;
    }
    *out = j;
    return 0;
}

int tf__journal_fd(const tf__journal *j)
{
    return j != NULL ? j->fd : -1;
}

int tf__journal_has(const tf__journal *j, size_t index)
{
    return index < j->n_tasks && j->offset[index] != 0 &&
           !(j->offset[index] & WRITTEN_NOW);
}

int tf__journal_read(tf__journal *j, size_t index, const void **data,
                     size_t *len)
{
    rec r;
    if (pread_full(j->fd, &r, sizeof r, j->offset[index]) != 0 ||
        grow(&j->buf, &j->buf_cap, (size_t)r.len + 1) != 0 ||
        pread_full(j->fd, j->buf, (size_t)r.len,
                   j->offset[index] + sizeof r) != 0)
        return TF_EJOURNAL;
    *data = j->buf;
    *len = (size_t)r.len;
    return 0;
}

static int maybe_sync(tf__journal *j, int force)
{
    double now = tf__now();
    int due = force ||
              (j->sync_every > 0 && j->unsynced >= (size_t)j->sync_every) ||
              (j->sync_interval > 0 && now - j->last_sync >= j->sync_interval);
    if (!due || j->unsynced == 0)
        return 0;
    if (sync_data(j->fd) != 0)
        return -1;
    j->unsynced = 0;
    j->last_sync = now;
    return 0;
}

int tf__journal_append(tf__journal *j, const tf__batch *b,
                       tf__journal_status *st)
{
    if (b->count > j->recs_cap) {
        rec *r = realloc(j->recs, b->count * sizeof(*r));
        if (r == NULL)
            return TF_ENOMEM;
        j->recs = r;
        j->recs_cap = b->count;
    }
    struct iovec iov[2 * IOV_BATCH];
    int n = 0;
    size_t bytes = 0;
    for (size_t i = 0; i < b->count; i++) {
        const tf__slot *s = &b->slots[i];
        if (s->fail != 0 || j->offset[b->start + i] != 0)
            continue;
        rec *r = &j->recs[i];
        *r = (rec){RECORD_MAGIC, 0, b->start + i, s->len};
        r->crc = rec_crc(r, b->data + s->off);
        iov[n++] = (struct iovec){r, sizeof *r};
        iov[n++] = (struct iovec){b->data + s->off, s->len};
        bytes += sizeof *r + s->len;
        j->offset[b->start + i] = (j->end + bytes - sizeof *r - s->len) |
                                  WRITTEN_NOW;
        j->unsynced++;
        if (n == 2 * IOV_BATCH || i + 1 == b->count) {
            if (write_iov(j, iov, n, bytes) != 0)
                return fail(st, TF_JOURNAL_IO, j->end, errno);
            n = 0;
            bytes = 0;
        }
    }
    if (n > 0 && write_iov(j, iov, n, bytes) != 0)
        return fail(st, TF_JOURNAL_IO, j->end, errno);
    return maybe_sync(j, 0) == 0 ? 0 : fail(st, TF_JOURNAL_IO, j->end, errno);
}

int tf__journal_close(tf__journal *j, int sync)
{
    if (j == NULL)
        return 0;
    int rc = 0;
    if (j->fd >= 0) {
        rc = sync ? maybe_sync(j, 1) : 0;
        close(j->fd); /* releases the lock */
    }
    free(j->offset);
    free(j->buf);
    free(j->recs);
    free(j);
    return rc;
}
