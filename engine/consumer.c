/*
 * consumer — see consumer.h. streams/NAME/consumers, little-endian:
 *   header: 0 u32 magic "SGCN", 4 u16 version, 6..7 reserved, 8 u32 count,
 *           12..15 reserved
 *   entry:  0 u8 name length, 1 u8 flags, 2..3 reserved, 4 u32 partitions,
 *           8 i64 committed_us, 16 name, then partitions x u64 next offset
 *   trailer: u64 XXH3-64 of every byte before it
 */
#include "consumer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "names.h"

/* The largest file a reader accepts: every consumer with every partition. */
#define CONSUMERS_FILE_MAX \
    (CONSUMERS_HEADER_BYTES + 8 + (size_t)CONSUMERS_MAX * (CONSUMER_ENTRY_FIXED + SIGLOG_NAME_MAX + 8 * 4096))
#define CONSUMERS_LOCK_WAIT_US 10000000

void sl_consumer_set_free(consumer_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].next);
    free(s->e);
    s->e = NULL;
    s->n = 0;
}

int sl_consumers_encode(const consumer_set *s, uint8_t **out, size_t *len)
{
    size_t n = CONSUMERS_HEADER_BYTES + 8;
    for (size_t i = 0; i < s->n; i++)
        n += CONSUMER_ENTRY_FIXED + strlen(s->e[i].name) + 8 * (size_t)s->e[i].partitions;
    uint8_t *b = calloc(1, n);
    if (!b)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    put_le32(b, CONSUMERS_MAGIC);
    put_le16(b + 4, CONSUMERS_VERSION);
    put_le32(b + 8, (uint32_t)s->n);
    uint8_t *p = b + CONSUMERS_HEADER_BYTES;
    for (size_t i = 0; i < s->n; i++) {
        const consumer_entry *e = &s->e[i];
        size_t nl = strlen(e->name);
        p[0] = (uint8_t)nl;
        p[1] = (uint8_t)e->flags;
        put_le32(p + 4, e->partitions);
        put_le64(p + 8, (uint64_t)e->committed_us);
        memcpy(p + CONSUMER_ENTRY_FIXED, e->name, nl);
        p += CONSUMER_ENTRY_FIXED + nl;
        for (uint32_t k = 0; k < e->partitions; k++, p += 8)
            put_le64(p, e->next[k]);
    }
    put_le64(p, XXH3_64bits(b, n - 8));
    *out = b;
    *len = n;
    return 0;
}

static int bad(consumer_set *out, const char *what)
{
    sl_consumer_set_free(out);
    return sl_err_set(SIGLOG_ECORRUPT, "%s", what);
}

int sl_consumers_decode(const uint8_t *buf, size_t len, consumer_set *out)
{
    memset(out, 0, sizeof *out);
    if (len < CONSUMERS_HEADER_BYTES + 8 || len > CONSUMERS_FILE_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "consumers file of %zu bytes", len);
    if (get_le32(buf) != CONSUMERS_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not a consumers file (bad magic)");
    if (get_le64(buf + len - 8) != XXH3_64bits(buf, len - 8))
        return sl_err_set(SIGLOG_ECORRUPT, "consumers file checksum mismatch");
    if (get_le16(buf + 4) != CONSUMERS_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "consumers file version %u, this build reads %d", get_le16(buf + 4),
                       CONSUMERS_VERSION);
    if (get_le16(buf + 6) || get_le32(buf + 12))
        return sl_err_set(SIGLOG_ECORRUPT, "consumers file: reserved header bytes are not zero");
    uint32_t count = get_le32(buf + 8);
    if (count > CONSUMERS_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "consumers file: %u consumers, at most %d", count, CONSUMERS_MAX);
    out->e = calloc(count ? count : 1, sizeof *out->e);
    if (!out->e)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    const uint8_t *p = buf + CONSUMERS_HEADER_BYTES, *end = buf + len - 8;
    for (uint32_t i = 0; i < count; i++) {
        if ((size_t)(end - p) < CONSUMER_ENTRY_FIXED)
            return bad(out, "consumers file: an entry is cut short");
        consumer_entry *e = &out->e[out->n];
        size_t nl = p[0];
        e->flags = p[1];
        e->partitions = get_le32(p + 4);
        e->committed_us = (int64_t)get_le64(p + 8);
        if (e->flags & ~CONSUMER_HOLD || get_le16(p + 2))
            return bad(out, "consumers file: unknown flags or reserved bytes not zero");
        if (e->partitions < 1 || e->partitions > 4096)
            return bad(out, "consumers file: a partition count outside 1..4096");
        if (nl < 1 || nl > SIGLOG_NAME_MAX || (size_t)(end - p) < CONSUMER_ENTRY_FIXED + nl + 8 * (size_t)e->partitions)
            return bad(out, "consumers file: an entry is cut short or its name length is wrong");
        memcpy(e->name, p + CONSUMER_ENTRY_FIXED, nl);
        e->name[nl] = '\0';
        if (memchr(e->name, 0, nl) || sl_name_validate_stream(e->name) != 0)
            return bad(out, "consumers file: a consumer name is not valid");
        if (out->n && strcmp(out->e[out->n - 1].name, e->name) >= 0)
            return bad(out, "consumers file: names are not sorted and distinct");
        if (!(e->next = malloc(8 * (size_t)e->partitions)))
            return bad(out, "out of memory");
        out->n++;
        p += CONSUMER_ENTRY_FIXED + nl;
        for (uint32_t k = 0; k < e->partitions; k++, p += 8)
            e->next[k] = get_le64(p);
    }
    if (p != end)
        return bad(out, "consumers file: bytes after the last entry");
    return 0;
}

int sl_consumers_load(const siglog_io *io, const char *stream_dir, consumer_set *out)
{
    memset(out, 0, sizeof *out);
    char *path = sl_path_join(stream_dir, CONSUMERS_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    int rc = 0;
    int r = sl_io_read_file(io, path, CONSUMERS_FILE_MAX, &data, &len);
    if (r == -ENOENT)
        rc = 0; /* nobody committed yet */
    else if (r == -EFBIG)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: too large for a consumers file", path);
    else if (r < 0)
        rc = sl_err_errno(r, "reading %s", path);
    else if ((rc = sl_consumers_decode(data, len, out)) != 0)
        rc = sl_err_set(rc, "%s: %s", path, siglog_errdetail());
    free(data);
    free(path);
    return rc;
}

/* An exclusive flock on consumers.lock: the descriptor, or a SIGLOG code. */
static int lock_consumers(const siglog_io *io, const char *stream_dir, uint32_t file_mode)
{
    char *path = sl_path_join(stream_dir, CONSUMERS_LOCK_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int fd = io->open_file(io, path, IO_WRITE | IO_CREATE | IO_LOCK, file_mode);
    int rc = fd < 0 ? sl_err_errno(fd, "opening %s", path) : fd;
    int l = fd < 0 ? 0 : io->lock_file(io, fd, 0);
    for (int64_t waited = 0; (l == -EWOULDBLOCK || l == -EAGAIN) && waited < CONSUMERS_LOCK_WAIT_US;
         waited += 1000) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        l = io->lock_file(io, fd, 0);
    }
    if (fd >= 0 && l < 0) {
        io->close_file(io, fd);
        rc = sl_err_errno(l, "locking %s", path);
    }
    free(path);
    return rc;
}

static consumer_entry *find(consumer_set *s, const char *name, size_t *at)
{
    size_t i = 0;
    while (i < s->n && strcmp(s->e[i].name, name) < 0)
        i++;
    *at = i;
    return i < s->n && strcmp(s->e[i].name, name) == 0 ? &s->e[i] : NULL;
}

/* The set with c applied; *old_copy keeps the consumer as it was. */
static int apply(consumer_set *s, const consumer_change *c, consumer_entry *old_copy, int *existed,
                 consumer_entry **changed)
{
    size_t at;
    consumer_entry *e = find(s, c->name, &at);
    *existed = e != NULL;
    *changed = NULL;
    if (e) {
        *old_copy = *e;
        if (!(old_copy->next = malloc(8 * (size_t)e->partitions)))
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        memcpy(old_copy->next, e->next, 8 * (size_t)e->partitions);
    }
    if (c->del) {
        if (!e)
            return sl_err_set(SIGLOG_ENOENT, "no consumer '%s'", c->name);
        free(e->next);
        memmove(e, e + 1, (s->n - at - 1) * sizeof *e);
        s->n--;
        return 0;
    }
    if (!e) {
        if (s->n >= CONSUMERS_MAX)
            return sl_err_set(SIGLOG_EINVAL, "a stream has at most %d consumers", CONSUMERS_MAX);
        consumer_entry *t = realloc(s->e, (s->n + 1) * sizeof *t);
        if (!t)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        s->e = t;
        memmove(t + at + 1, t + at, (s->n - at) * sizeof *t);
        e = &t[at];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", c->name);
        s->n++;
    }
    /* A stream's partition count is fixed; an entry written for fewer is
     * widened with nothing committed. */
    if (e->partitions != c->partitions) {
        uint64_t *next = calloc(c->partitions, 8);
        if (!next)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < e->partitions && k < c->partitions; k++)
            next[k] = e->next[k];
        free(e->next);
        e->next = next;
        e->partitions = c->partitions;
    }
    e->next[c->partition] = c->next_offset;
    e->flags |= c->flags;
    e->committed_us = c->now_us;
    *changed = e;
    return 0;
}

int sl_consumers_change(const siglog_io *io, const char *stream_dir, uint32_t file_mode, const consumer_change *c,
                     consumer_before_fn before, void *ctx)
{
    int lock = lock_consumers(io, stream_dir, file_mode);
    if (lock < 0)
        return lock;
    char *path = sl_path_join(stream_dir, CONSUMERS_FILE);
    consumer_set s;
    consumer_entry old = {0};
    int existed = 0;
    consumer_entry *changed = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = path ? sl_consumers_load(io, stream_dir, &s) : sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (rc)
        goto out;
    if (!(rc = apply(&s, c, &old, &existed, &changed)) && (!before || !(rc = before(ctx, existed ? &old : NULL, changed))) &&
        !(rc = sl_consumers_encode(&s, &bytes, &len))) {
        int r = sl_io_replace_file(io, stream_dir, path, bytes, len, file_mode);
        if (r < 0)
            rc = sl_err_errno(r, "writing %s", path);
    }
    sl_consumer_set_free(&s);
out:
    free(old.next);
    free(bytes);
    free(path);
    io->close_file(io, lock);
    return rc;
}
