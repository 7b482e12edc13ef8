/*
 * sort — siglog_sort: the records of several cursors in exact (timestamp,
 * stream name, partition, offset) order whatever order they arrived in,
 * in bounded memory: an external merge sort.
 *
 * Open reads every cursor to its end. Each record kept is encoded into an
 * arena and indexed; when arena and index would pass memory_bytes, the
 * index is sorted and the records are written in that order to a spill
 * file (a sorted run), and the arena starts again. Then: with no spill,
 * the one sorted run in memory is handed out as it is; else the rest is
 * spilled too, runs are merged FAN_IN at a time into longer runs until at
 * most FAN_IN remain, and those are merged while records are handed out,
 * each read through a buffer of its share of the budget.
 *
 * Spill files never outlive the process: they are made with O_TMPFILE in
 * spill_dir, so they have no name and the kernel frees them however the
 * process ends, SIGKILL included. On a file system without O_TMPFILE a
 * named file "siglog-spill-PID-N" is unlinked right after it is created;
 * one left by a process killed in between is removed by the next sort
 * that finds its PID gone (sort_clean_stale).
 *
 * Spill files hold records in this process's native layout (sort_head,
 * key, value, headers): they are never read by anything else.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytebuf.h"
#include "error.h"
#include "record_batch.h"

#define SORT_MEMORY_DEFAULT (256ull << 20)
#define SORT_MEMORY_MIN (1ull << 20)
#define FAN_IN 64
#define SPILL_PREFIX "siglog-spill-"

/* The order: timestamp, stream name (as its rank among the cursors'
 * stream names), partition, offset, and the cursor's index last (two
 * cursors on one partition). */
typedef struct sort_key {
    int64_t ts;
    uint32_t rank, partition;
    uint64_t offset;
    uint32_t src;
    uint32_t unused; /* zero: spill files hold no uninitialised bytes */
} sort_key;

typedef struct sort_head {
    sort_key k;
    uint32_t schema_version, flags;
    uint32_t key_len, header_count;
    uint64_t value_len, headers_bytes; /* headers: (u32 key_len, u32 value_len, key, value) each */
} sort_head;

typedef struct sort_entry {
    sort_key k;
    size_t pos; /* of its sort_head in the arena */
} sort_entry;

typedef struct run_reader {
    int fd;
    uint64_t pos;      /* next byte of the file to read */
    bytebuf buf;       /* buf.data[start..len) is read but not consumed */
    size_t start, cap; /* cap: the buffer's share of the budget */
    const uint8_t *rec; /* the current record (into buf), or NULL at the end */
} run_reader;

struct siglog_sort {
    siglog_sort_options o;
    char *spill_dir;
    siglog_cursor *const *cursors;
    size_t ncursors;
    uint32_t *rank; /* of each cursor's stream name */
    bytebuf arena;
    sort_entry *idx;
    size_t n, cap;
    size_t next; /* in-memory: the next entry to hand out */
    int *runs;   /* spill file descriptors */
    size_t nruns;
    uint64_t spills;
    run_reader *readers; /* the final merge */
    size_t *heap, heap_n;
    size_t pending; /* reader whose record was handed out last, or SIZE_MAX */
    siglog_record rec;
    siglog_header hdr[SIGLOG_HEADERS_MAX];
};

#define CMP(x, y) ((x) < (y) ? -1 : (x) > (y))

static int key_cmp(const sort_key *a, const sort_key *b)
{
    if (a->ts != b->ts)
        return CMP(a->ts, b->ts);
    if (a->rank != b->rank)
        return CMP(a->rank, b->rank);
    if (a->partition != b->partition)
        return CMP(a->partition, b->partition);
    if (a->offset != b->offset)
        return CMP(a->offset, b->offset);
    return CMP(a->src, b->src);
}

static int entry_cmp(const void *pa, const void *pb)
{
    return key_cmp(&((const sort_entry *)pa)->k, &((const sort_entry *)pb)->k);
}

static size_t record_bytes(const sort_head *h)
{
    return sizeof *h + h->key_len + (size_t)h->value_len + (size_t)h->headers_bytes;
}

/* A record as siglog_record, its pointers into the encoding at p. */
static void decode(siglog_sort *s, const uint8_t *p)
{
    sort_head h;
    memcpy(&h, p, sizeof h);
    p += sizeof h;
    siglog_record *r = &s->rec;
    *r = (siglog_record){ .offset = h.k.offset, .timestamp_us = h.k.ts, .partition = h.k.partition,
                          .schema_version = h.schema_version, .flags = h.flags, .header_count = h.header_count,
                          .key = h.key_len ? p : NULL, .key_len = h.key_len, .value = p + h.key_len,
                          .value_len = h.value_len, .headers = h.header_count ? s->hdr : NULL };
    p += h.key_len + h.value_len;
    for (uint32_t i = 0; i < h.header_count; i++) {
        uint32_t kl, vl;
        memcpy(&kl, p, 4);
        memcpy(&vl, p + 4, 4);
        s->hdr[i] = (siglog_header){ .key = p + 8, .key_len = kl, .value = p + 8 + kl, .value_len = vl };
        p += 8 + (size_t)kl + vl;
    }
}

/* ---- spill files ---- */

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Files "siglog-spill-PID-..." in dir whose PID no longer runs: left by
 * a sort killed between creating and unlinking one. Only regular files
 * of this user are removed; nothing is followed. */
static void sort_clean_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, SPILL_PREFIX, strlen(SPILL_PREFIX)) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + strlen(SPILL_PREFIX), &end, 10);
        struct stat st;
        if (pid <= 0 || *end != '-' || (kill((pid_t)pid, 0) == 0 || errno != ESRCH) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* A new spill file with no name left in the directory. */
static int spill_open(siglog_sort *s, int *out)
{
    int fd = open(s->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
        char path[4096];
        snprintf(path, sizeof path, "%s/" SPILL_PREFIX "%ld-%" PRIu64, s->spill_dir, (long)getpid(), s->spills);
        fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
            unlink(path);
    }
    if (fd < 0)
        return sl_err_errno(-errno, "creating a spill file in %s", s->spill_dir);
    s->spills++;
    *out = fd;
    return 0;
}

static int runs_push(siglog_sort *s, int fd)
{
    int *grown = realloc(s->runs, (s->nruns + 1) * sizeof *grown);
    if (!grown) {
        close(fd);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    s->runs = grown;
    s->runs[s->nruns++] = fd;
    return 0;
}

/* Write buffered output to fd once it holds `at_least` bytes. */
static int out_flush(bytebuf *out, int fd, size_t at_least, const char *dir)
{
    if (out->len < at_least || out->len == 0)
        return 0;
    int rc = write_all(fd, out->data, out->len);
    out->len = 0;
    return rc ? sl_err_errno(rc, "writing a spill file in %s", dir) : 0;
}

/* The sorted in-memory records to a new run. */
static int spill_memory(siglog_sort *s)
{
    qsort(s->idx, s->n, sizeof *s->idx, entry_cmp);
    int fd, rc = spill_open(s, &fd);
    if (rc)
        return rc;
    bytebuf out = { 0 };
    for (size_t i = 0; i < s->n && !rc; i++) {
        sort_head h;
        memcpy(&h, s->arena.data + s->idx[i].pos, sizeof h);
        rc = sl_bytebuf_append(&out, s->arena.data + s->idx[i].pos, record_bytes(&h));
        if (!rc)
            rc = out_flush(&out, fd, 1 << 20, s->spill_dir);
    }
    if (!rc)
        rc = out_flush(&out, fd, 0, s->spill_dir);
    sl_bytebuf_free(&out);
    s->arena.len = 0;
    s->n = 0;
    if (rc) {
        close(fd);
        return rc;
    }
    return runs_push(s, fd);
}

/* ---- reading runs ---- */

/* Make `need` unconsumed bytes available in r->buf. */
static int reader_fill(run_reader *r, size_t need, const char *dir)
{
    size_t have = r->buf.len - r->start;
    if (have >= need)
        return 0;
    if (have) /* data may still be NULL when nothing was read */
        memmove(r->buf.data, r->buf.data + r->start, have);
    r->buf.len = have;
    r->start = 0;
    size_t want = need > r->cap ? need : r->cap;
    if (sl_bytebuf_reserve(&r->buf, want - have))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    while (r->buf.len < need) {
        ssize_t got = pread(r->fd, r->buf.data + r->buf.len, want - r->buf.len, (off_t)r->pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return sl_err_errno(-errno, "reading a spill file in %s", dir);
        if (got == 0)
            return sl_err_set(SIGLOG_EIO, "a spill file in %s ends inside a record", dir);
        r->buf.len += (size_t)got;
        r->pos += (uint64_t)got;
    }
    return 0;
}

/* Move to the reader's next record (r->rec NULL at the end). */
static int reader_next(run_reader *r, const char *dir)
{
    if (r->rec) {
        sort_head h;
        memcpy(&h, r->rec, sizeof h);
        r->start += record_bytes(&h);
        r->rec = NULL;
    }
    if (r->buf.len == r->start) {
        /* At the end of what was read: is there more in the file? */
        struct stat st;
        if (fstat(r->fd, &st) != 0)
            return sl_err_errno(-errno, "reading a spill file in %s", dir);
        if (r->pos >= (uint64_t)st.st_size)
            return 0;
    }
    int rc = reader_fill(r, sizeof(sort_head), dir);
    sort_head h;
    if (!rc) {
        memcpy(&h, r->buf.data + r->start, sizeof h);
        rc = reader_fill(r, record_bytes(&h), dir);
    }
    if (!rc)
        r->rec = r->buf.data + r->start;
    return rc;
}

static int reader_less(const run_reader *rd, size_t a, size_t b)
{
    sort_key ka, kb;
    memcpy(&ka, rd[a].rec, sizeof ka);
    memcpy(&kb, rd[b].rec, sizeof kb);
    return key_cmp(&ka, &kb) < 0;
}

static void heap_down(size_t *heap, size_t n, const run_reader *rd, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < n && reader_less(rd, heap[l], heap[best]))
            best = l;
        if (l + 1 < n && reader_less(rd, heap[l + 1], heap[best]))
            best = l + 1;
        if (best == i)
            return;
        size_t t = heap[i];
        heap[i] = heap[best];
        heap[best] = t;
        i = best;
    }
}

/* Readers over fds[0..n), each positioned on its first record, and a heap
 * of those that have one. */
static int merge_start(const siglog_sort *s, const int *fds, size_t n, run_reader **readers, size_t **heap,
                       size_t *heap_n)
{
    *readers = calloc(n, sizeof **readers);
    *heap = calloc(n, sizeof **heap);
    *heap_n = 0;
    if (!*readers || !*heap)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    size_t share = (size_t)(s->o.memory_bytes / (n + 1));
    for (size_t i = 0; i < n; i++) {
        (*readers)[i] = (run_reader){ .fd = fds[i], .cap = share < 65536 ? 65536 : share };
        int rc = reader_next(&(*readers)[i], s->spill_dir);
        if (rc)
            return rc;
        if ((*readers)[i].rec)
            (*heap)[(*heap_n)++] = i;
    }
    for (size_t i = *heap_n / 2; i-- > 0;)
        heap_down(*heap, *heap_n, *readers, i);
    return 0;
}

/* Advance the heap's top reader and restore the heap. */
static int merge_advance(run_reader *rd, size_t *heap, size_t *heap_n, const char *dir)
{
    int rc = reader_next(&rd[heap[0]], dir);
    if (rc)
        return rc;
    if (!rd[heap[0]].rec)
        heap[0] = heap[--*heap_n];
    heap_down(heap, *heap_n, rd, 0);
    return 0;
}

static void readers_free(run_reader *rd, size_t n)
{
    for (size_t i = 0; rd && i < n; i++)
        sl_bytebuf_free(&rd[i].buf);
    free(rd);
}

/* Merge runs[0..n) into one new run that replaces them. */
static int merge_runs(siglog_sort *s, size_t n)
{
    run_reader *rd = NULL;
    size_t *heap = NULL, heap_n;
    bytebuf out = { 0 };
    int fd = -1;
    int rc = merge_start(s, s->runs, n, &rd, &heap, &heap_n);
    if (!rc)
        rc = spill_open(s, &fd);
    while (!rc && heap_n) {
        sort_head h;
        memcpy(&h, rd[heap[0]].rec, sizeof h);
        rc = sl_bytebuf_append(&out, rd[heap[0]].rec, record_bytes(&h));
        if (!rc)
            rc = out_flush(&out, fd, 1 << 20, s->spill_dir);
        if (!rc)
            rc = merge_advance(rd, heap, &heap_n, s->spill_dir);
    }
    if (!rc)
        rc = out_flush(&out, fd, 0, s->spill_dir);
    sl_bytebuf_free(&out);
    readers_free(rd, n);
    free(heap);
    if (rc) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        close(s->runs[i]);
    memmove(s->runs, s->runs + n, (s->nruns - n) * sizeof *s->runs);
    s->nruns -= n;
    return runs_push(s, fd);
}

/* ---- reading the input ---- */

static size_t headers_bytes(const siglog_record *r)
{
    size_t n = 0;
    for (uint32_t i = 0; i < r->header_count; i++)
        n += 8 + (size_t)r->headers[i].key_len + r->headers[i].value_len;
    return n;
}

static int add_record(siglog_sort *s, const siglog_record *r, uint32_t src)
{
    sort_head h = { .k = { .ts = r->timestamp_us, .rank = s->rank[src], .partition = r->partition,
                           .offset = r->offset, .src = src },
                    .schema_version = r->schema_version, .flags = r->flags, .key_len = (uint32_t)r->key_len,
                    .header_count = r->header_count, .value_len = r->value_len, .headers_bytes = headers_bytes(r) };
    size_t bytes = record_bytes(&h);
    if (s->n && s->arena.len + bytes + (s->n + 1) * sizeof *s->idx > s->o.memory_bytes) {
        int rc = spill_memory(s);
        if (rc)
            return rc;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        sort_entry *grown = realloc(s->idx, cap * sizeof *grown);
        if (!grown)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        s->idx = grown;
        s->cap = cap;
    }
    if (sl_bytebuf_reserve(&s->arena, bytes))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    s->idx[s->n++] = (sort_entry){ .k = h.k, .pos = s->arena.len };
    sl_bytebuf_append(&s->arena, &h, sizeof h);
    sl_bytebuf_append(&s->arena, r->key, r->key_len);
    sl_bytebuf_append(&s->arena, r->value, r->value_len);
    for (uint32_t i = 0; i < r->header_count; i++) {
        uint32_t lens[2] = { r->headers[i].key_len, r->headers[i].value_len };
        sl_bytebuf_append(&s->arena, lens, sizeof lens);
        sl_bytebuf_append(&s->arena, r->headers[i].key, lens[0]);
        sl_bytebuf_append(&s->arena, r->headers[i].value, lens[1]);
    }
    return 0;
}

static const char *cursor_stream_name(const siglog_cursor *c)
{
    return siglog_stream_name(siglog_cursor_stream(c));
}

/* Read every cursor to its end into memory and runs. */
static int read_all(siglog_sort *s)
{
    for (size_t i = 0; i < s->ncursors; i++) {
        const siglog_record *r;
        int rc;
        while ((rc = siglog_cursor_next(s->cursors[i], &r)) == 1)
            if ((!s->o.keep || s->o.keep(s->o.keep_ctx, r)) && (rc = add_record(s, r, (uint32_t)i)) != 0)
                return rc;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* After reading: with runs, merge them down to at most FAN_IN and start
 * the final merge; without, sort the memory. */
static int prepare_output(siglog_sort *s)
{
    if (s->nruns == 0) {
        qsort(s->idx, s->n, sizeof *s->idx, entry_cmp);
        return 0;
    }
    int rc = s->n ? spill_memory(s) : 0;
    while (!rc && s->nruns > FAN_IN)
        rc = merge_runs(s, FAN_IN);
    if (!rc)
        rc = merge_start(s, s->runs, s->nruns, &s->readers, &s->heap, &s->heap_n);
    /* The arena is not needed any more: give its memory to the readers. */
    sl_bytebuf_free(&s->arena);
    return rc;
}

SIGLOG_API void siglog_sort_options_default(siglog_sort_options *o)
{
    memset(o, 0, sizeof *o);
    o->memory_bytes = SORT_MEMORY_DEFAULT;
}

SIGLOG_API int siglog_sort_open(siglog_sort **out, siglog_cursor *const *cursors, size_t n,
                                const siglog_sort_options *o)
{
    sl_err_clear();
    if (!out || (n && !cursors))
        return sl_err_set(SIGLOG_EINVAL, "siglog_sort_open: out and cursors are required");
    *out = NULL;
    siglog_sort *s = calloc(1, sizeof *s);
    if (!s)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (o)
        s->o = *o;
    else
        siglog_sort_options_default(&s->o);
    if (s->o.memory_bytes < SORT_MEMORY_MIN)
        s->o.memory_bytes = SORT_MEMORY_MIN;
    const char *dir = s->o.spill_dir;
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    s->spill_dir = strdup(dir && *dir ? dir : "/tmp");
    s->cursors = cursors;
    s->ncursors = n;
    s->rank = calloc(n ? n : 1, sizeof *s->rank);
    s->pending = SIZE_MAX;
    int rc = !s->spill_dir || !s->rank ? sl_err_set(SIGLOG_ENOMEM, "out of memory") : 0;
    for (size_t i = 0; !rc && i < n; i++)
        for (size_t j = 0; j < n; j++)
            s->rank[i] += strcmp(cursor_stream_name(cursors[j]), cursor_stream_name(cursors[i])) < 0;
    if (!rc)
        sort_clean_stale(s->spill_dir);
    if (!rc)
        rc = read_all(s);
    if (!rc)
        rc = prepare_output(s);
    if (rc) {
        siglog_sort_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

SIGLOG_API int siglog_sort_next(siglog_sort *s, const siglog_record **rec, size_t *cursor_index)
{
    sl_err_clear();
    if (!s || !rec)
        return sl_err_set(SIGLOG_EINVAL, "siglog_sort_next: sort and rec are required");
    const uint8_t *p;
    if (!s->readers) {
        if (s->next == s->n)
            return 0;
        p = s->arena.data + s->idx[s->next++].pos;
    } else {
        if (s->pending != SIZE_MAX) {
            s->pending = SIZE_MAX;
            int rc = merge_advance(s->readers, s->heap, &s->heap_n, s->spill_dir);
            if (rc)
                return rc;
        }
        if (!s->heap_n)
            return 0;
        s->pending = s->heap[0];
        p = s->readers[s->heap[0]].rec;
    }
    decode(s, p);
    if (cursor_index) {
        sort_key k;
        memcpy(&k, p, sizeof k);
        *cursor_index = k.src;
    }
    *rec = &s->rec;
    return 1;
}

/* Hand the record the last siglog_sort_next returned out again on the
 * next call: in memory its index entry is stepped back over; in the merge
 * its reader has not moved on yet (that happens at the next call, as the
 * record is pending), so the pending mark is dropped and the record stays
 * at the heap's top. */
static void sort_unread(siglog_sort *s)
{
    if (!s->readers)
        s->next--;
    else
        s->pending = SIZE_MAX;
}

static int sort_source_next(void *ctx, const siglog_record **r, size_t *idx)
{
    return siglog_sort_next(ctx, r, idx);
}

static void sort_source_unread(void *ctx)
{
    sort_unread(ctx);
}

SIGLOG_API int siglog_sort_next_batch(siglog_sort *s, siglog_record *recs, size_t *cursor_index, size_t max,
                                      void *buf, size_t buf_len, size_t *buf_used)
{
    sl_err_clear();
    if (!s || !recs || !max || !buf)
        return sl_err_set(SIGLOG_EINVAL, "siglog_sort_next_batch: sort, records, max and buffer are required");
    if (max > INT_MAX)
        max = INT_MAX; /* the count is returned as an int */
    const record_source src = { s, sort_source_next, sort_source_unread, "siglog_sort_next_batch" };
    size_t used, n;
    int rc = sl_record_batch_fill(&src, recs, cursor_index, max, buf, buf_len, &used, &n);
    if (buf_used)
        *buf_used = used;
    return rc < 0 ? rc : (int)n;
}

SIGLOG_API uint64_t siglog_sort_spill_files(const siglog_sort *s)
{
    return s->spills;
}

SIGLOG_API void siglog_sort_close(siglog_sort *s)
{
    if (!s)
        return;
    readers_free(s->readers, s->nruns);
    for (size_t i = 0; i < s->nruns; i++)
        close(s->runs[i]);
    free(s->runs);
    free(s->heap);
    free(s->idx);
    free(s->rank);
    free(s->spill_dir);
    sl_bytebuf_free(&s->arena);
    free(s);
}
