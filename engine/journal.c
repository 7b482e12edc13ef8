#include "journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "batch.h"
#include "bytebuf.h"
#include "codec.h"
#include "error.h"
#include "names.h"

/* Header slot layout (32 bytes used of each 4096-byte slot):
 *   0 u32 magic  4 u16 version  6 u16 reserved  8 u64 generation
 *  16 u64 store_id  24 u64 XXH3-64 of bytes 0..23 */
#define SLOT_USED_BYTES 32
/* Entries go out in groups so a commit never exceeds IOV_MAX iovecs. */
#define ENTRIES_PER_WRITE 256

struct journal {
    const siglog_io *io;
    char *path;
    int fd;
    uint64_t file_bytes;
    uint64_t store_id;
    uint64_t generation;
    uint64_t write_pos;
    uint64_t dirty_end; /* no byte at or past it (below file_bytes) was
                         * written since the last live scrub: the file's
                         * size until one (open cannot tell) */
    uint8_t *entry_headers; /* ENTRIES_PER_WRITE headers, reused */
};

static void slot_encode(uint8_t *p, uint64_t generation, uint64_t store_id)
{
    memset(p, 0, SLOT_USED_BYTES);
    put_le32(p, JOURNAL_HEADER_MAGIC);
    put_le16(p + 4, JOURNAL_FORMAT_VERSION);
    put_le64(p + 8, generation);
    put_le64(p + 16, store_id);
    put_le64(p + 24, XXH3_64bits(p, 24));
}

/* 1 and *generation if the slot is valid for this store, else 0. */
static int slot_decode(const uint8_t *p, uint64_t store_id, uint64_t *generation)
{
    if (get_le32(p) != JOURNAL_HEADER_MAGIC || get_le64(p + 24) != XXH3_64bits(p, 24))
        return 0;
    if (get_le16(p + 4) != JOURNAL_FORMAT_VERSION || get_le16(p + 6) != 0 || get_le64(p + 16) != store_id)
        return 0;
    *generation = get_le64(p + 8);
    return 1;
}

static int write_slot(journal *j, uint64_t generation)
{
    uint8_t slot[SLOT_USED_BYTES];
    slot_encode(slot, generation, j->store_id);
    uint64_t off = (generation % 2) * JOURNAL_SLOT_BYTES;
    int rc = sl_io_write_all(j->io, j->fd, slot, sizeof slot, off);
    if (rc < 0)
        return sl_err_errno(rc, "writing journal header of %s", j->path);
    return 0;
}

/* Build a zero-filled journal beside the real one and rename it in, so the
 * real path only ever names a complete, preallocated file. */
static int journal_create(journal *j, const char *store_dir, uint64_t bytes, uint32_t mode)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", j->path) < 0)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int fd = sl_io_create_temp(j->io, tmp, IO_WRITE, mode);
    if (fd < 0) {
        rc = sl_err_errno(fd, "creating %s", tmp);
        goto out;
    }
    enum { CHUNK = 1 << 20 };
    uint8_t *zeros = calloc(1, CHUNK);
    if (!zeros) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto close_out;
    }
    for (uint64_t off = 0; off < bytes && !rc; off += CHUNK) {
        size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;
        int w = sl_io_write_all(j->io, fd, zeros, n, off);
        if (w < 0)
            rc = sl_err_errno(w, "zero-filling %s", tmp);
    }
    free(zeros);
    if (!rc) {
        uint8_t slot[SLOT_USED_BYTES];
        slot_encode(slot, 1, j->store_id);
        int w = sl_io_write_all(j->io, fd, slot, sizeof slot, JOURNAL_SLOT_BYTES);
        if (w < 0)
            rc = sl_err_errno(w, "writing journal header of %s", tmp);
    }
    if (!rc) {
        int s = j->io->fsync(j->io, fd);
        if (s < 0)
            rc = sl_err_errno(s, "fsync of %s failed", tmp);
    }
close_out:
    j->io->close_file(j->io, fd);
    if (!rc) {
        int r = j->io->rename(j->io, tmp, j->path);
        if (r < 0)
            rc = sl_err_errno(r, "renaming %s to %s", tmp, j->path);
    }
    if (!rc) {
        int r = j->io->sync_dir(j->io, store_dir);
        if (r < 0)
            rc = sl_err_errno(r, "fsync of directory %s failed", store_dir);
    }
    if (rc)
        j->io->unlink(j->io, tmp);
out:
    free(tmp);
    return rc;
}

static journal *journal_alloc(const siglog_io *io, const char *store_dir, uint64_t store_id)
{
    journal *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->io = io;
    j->fd = -1;
    j->store_id = store_id;
    j->path = sl_path_join(store_dir, STORE_JOURNAL_FILE);
    j->entry_headers = malloc(ENTRIES_PER_WRITE * JOURNAL_ENTRY_HEADER_BYTES);
    if (!j->path || !j->entry_headers) {
        sl_journal_close(j);
        return NULL;
    }
    return j;
}

/* With j->fd open: its size and the newer valid header slot's generation. */
static int journal_load(journal *j)
{
    int s = j->io->file_size(j->io, j->fd, &j->file_bytes);
    if (s < 0)
        return sl_err_errno(s, "size of %s", j->path);
    if (j->file_bytes < JOURNAL_DATA_START + JOURNAL_ENTRY_HEADER_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: journal is %llu bytes, shorter than its header", j->path,
                       (unsigned long long)j->file_bytes);
    uint8_t slots[2][SLOT_USED_BYTES];
    uint64_t gen[2] = {0, 0};
    int ok[2];
    for (int i = 0; i < 2; i++) {
        ssize_t r = sl_io_read_full(j->io, j->fd, slots[i], SLOT_USED_BYTES, (uint64_t)i * JOURNAL_SLOT_BYTES);
        if (r < 0)
            return sl_err_errno((int)r, "reading journal header of %s", j->path);
        ok[i] = r == SLOT_USED_BYTES && slot_decode(slots[i], j->store_id, &gen[i]) && gen[i] % 2 == (uint64_t)i;
    }
    if (!ok[0] && !ok[1])
        return sl_err_set(SIGLOG_ECORRUPT, "%s: neither journal header slot is valid for store %016llx", j->path,
                       (unsigned long long)j->store_id);
    j->generation = ok[0] && (!ok[1] || gen[0] > gen[1]) ? gen[0] : gen[1];
    j->write_pos = JOURNAL_DATA_START;
    j->dirty_end = UINT64_MAX;
    return 0;
}

int sl_journal_open(const siglog_io *io, const char *store_dir, uint64_t bytes, uint64_t store_id, uint32_t mode,
                 journal **out)
{
    *out = NULL;
    if (bytes < JOURNAL_BYTES_MIN)
        bytes = JOURNAL_BYTES_MIN;
    journal *j = journal_alloc(io, store_dir, store_id);
    if (!j)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int is_dir = 0;
    uint64_t size = 0;
    int st = io->stat_path(io, j->path, &is_dir, &size);
    if (st == -ENOENT) {
        rc = journal_create(j, store_dir, bytes, mode);
        if (rc)
            goto fail;
    } else if (st < 0) {
        rc = sl_err_errno(st, "stat of %s", j->path);
        goto fail;
    }
    j->fd = io->open_file(io, j->path, IO_WRITE, mode);
    if (j->fd < 0) {
        rc = sl_err_errno(j->fd, "opening %s", j->path);
        goto fail;
    }
    if ((rc = journal_load(j)) != 0)
        goto fail;
    *out = j;
    return 0;
fail:
    sl_journal_close(j);
    return rc;
}

int sl_journal_open_read(const siglog_io *io, const char *store_dir, uint64_t store_id, journal **out)
{
    *out = NULL;
    journal *j = journal_alloc(io, store_dir, store_id);
    if (!j)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    j->fd = io->open_file(io, j->path, IO_READ, 0);
    if (j->fd == -ENOENT) {
        sl_journal_close(j); /* no writer ever opened the store */
        return 0;
    }
    if (j->fd < 0)
        rc = sl_err_errno(j->fd, "opening %s", j->path);
    else
        rc = journal_load(j);
    if (rc) {
        sl_journal_close(j);
        return rc;
    }
    *out = j;
    return 0;
}

int sl_journal_check(const siglog_io *io, const char *store_dir, uint64_t store_id)
{
    char *path = sl_path_join(store_dir, STORE_JOURNAL_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int fd = io->open_file(io, path, IO_READ, 0);
    if (fd < 0) {
        /* A store that never had a writer open has no journal yet. */
        rc = fd == -ENOENT ? 0 : sl_err_errno(fd, "open of %s", path);
        free(path);
        return rc;
    }
    int valid = 0, damaged = -1;
    for (int i = 0; i < 2; i++) {
        uint8_t slot[SLOT_USED_BYTES];
        uint64_t gen;
        ssize_t r = sl_io_read_full(io, fd, slot, sizeof slot, (uint64_t)i * JOURNAL_SLOT_BYTES);
        int ok = r == SLOT_USED_BYTES && slot_decode(slot, store_id, &gen) && gen % 2 == (uint64_t)i;
        valid |= ok;
        /* A slot never written is zeros; one with the magic was written. */
        if (!ok && damaged < 0 && r == SLOT_USED_BYTES && get_le32(slot) == JOURNAL_HEADER_MAGIC)
            damaged = i;
    }
    if (!valid)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: neither journal header slot is valid for store %016llx", path,
                     (unsigned long long)store_id);
    else if (damaged >= 0)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: journal header slot %d (byte %d) is damaged; the other one is in use",
                     path, damaged, damaged * JOURNAL_SLOT_BYTES);
    io->close_file(io, fd);
    free(path);
    return rc;
}

void sl_journal_close(journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        j->io->close_file(j->io, j->fd);
    free(j->path);
    free(j->entry_headers);
    free(j);
}

/* A payload is valid when it is whole valid batches filling it exactly,
 * every record of which decodes: the checksums only prove the bytes are
 * the ones sealed, and replay must not hand on a batch no reader can
 * decode. 1, 0, or SIGLOG_ENOMEM. */
static int payload_valid(const uint8_t *p, size_t len, bytebuf *scratch)
{
    size_t pos = 0;
    while (pos < len) {
        batch_header h;
        if (len - pos < BATCH_HEADER_BYTES || sl_batch_header_decode(p + pos, &h) != 0)
            return 0;
        if (h.body_len > len - pos - BATCH_HEADER_BYTES)
            return 0;
        if (sl_batch_body_check(&h, p + pos + BATCH_HEADER_BYTES) != 0)
            return 0;
        int v = sl_batch_records_valid(&h, p + pos + BATCH_HEADER_BYTES, scratch);
        if (v <= 0)
            return v;
        pos += BATCH_HEADER_BYTES + h.body_len;
    }
    return len > 0;
}

/* Whether an entry header is intact and of the current generation: its
 * stream, partition and length can be believed. */
static int header_current(const journal *j, const uint8_t *h)
{
    return get_le32(h) == JOURNAL_ENTRY_MAGIC && get_le64(h + 24) == XXH3_64bits(h, 24) &&
           get_le64(h + 16) == j->generation;
}

/* Read the entry at pos: 1 when it is a valid entry of the current
 * generation (h holds its header, buf its payload), 0 when not (h holds
 * what could be read, *header_len how much), or an error. */
static int read_entry(journal *j, uint64_t pos, uint8_t h[JOURNAL_ENTRY_HEADER_BYTES], size_t *header_len,
                      bytebuf *buf, bytebuf *scratch)
{
    *header_len = 0;
    if (pos > j->file_bytes || j->file_bytes - pos < JOURNAL_ENTRY_HEADER_BYTES)
        return 0;
    ssize_t r = sl_io_read_full(j->io, j->fd, h, JOURNAL_ENTRY_HEADER_BYTES, pos);
    if (r < 0)
        return sl_err_errno((int)r, "reading %s at byte %llu", j->path, (unsigned long long)pos);
    *header_len = (size_t)r;
    if ((size_t)r < JOURNAL_ENTRY_HEADER_BYTES || !header_current(j, h))
        return 0;
    uint32_t len = get_le32(h + 12);
    if (len == 0 || len > j->file_bytes - pos - JOURNAL_ENTRY_HEADER_BYTES)
        return 0;
    buf->len = 0;
    int rc = sl_bytebuf_reserve(buf, len);
    if (rc)
        return rc;
    r = sl_io_read_full(j->io, j->fd, buf->data, len, pos + JOURNAL_ENTRY_HEADER_BYTES);
    if (r < 0)
        return sl_err_errno((int)r, "reading %s at byte %llu", j->path,
                         (unsigned long long)(pos + JOURNAL_ENTRY_HEADER_BYTES));
    if ((size_t)r < len)
        return 0;
    buf->len = len;
    /* Out of memory is an error, not the end of the journal. */
    return payload_valid(buf->data, len, scratch);
}

/* The first byte position >= from where a valid entry of the current
 * generation starts, or UINT64_MAX: whether what ends the valid entries is
 * a torn end or damage. Reads the rest of the file once, in chunks. */
static int find_next_entry(journal *j, uint64_t from, bytebuf *buf, bytebuf *scratch, uint64_t *next)
{
    enum { CHUNK = 1 << 20 };
    static const uint8_t magic[4] = {'S', 'G', 'J', 'E'}; /* JOURNAL_ENTRY_MAGIC, little-endian */
    *next = UINT64_MAX;
    /* Every read lands at its offset's phase (io.h): base moves by whole
     * chunks, so one shift serves them all. */
    _Static_assert(CHUNK % SL_IO_READ_ALIGN == 0, "chunks keep the phase");
    uint8_t *mem = malloc(CHUNK + JOURNAL_ENTRY_HEADER_BYTES + SL_IO_READ_ALIGN - 1);
    if (!mem)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    uint8_t *chunk = mem + sl_io_read_shift(mem, from);
    int rc = 0;
    for (uint64_t base = from; !rc && base < j->file_bytes && j->file_bytes - base >= JOURNAL_ENTRY_HEADER_BYTES;
         base += CHUNK) {
        /* Overlap the next chunk by a header, so none straddles unseen. */
        uint64_t left = j->file_bytes - base;
        size_t n = left < CHUNK + JOURNAL_ENTRY_HEADER_BYTES ? (size_t)left : CHUNK + JOURNAL_ENTRY_HEADER_BYTES;
        ssize_t r = sl_io_read_full(j->io, j->fd, chunk, n, base);
        if (r < 0) {
            rc = sl_err_errno((int)r, "reading %s at byte %llu", j->path, (unsigned long long)base);
            break;
        }
        size_t limit = (size_t)r < CHUNK ? (size_t)r : CHUNK;
        /* Most of the file is zeros or old entries' bytes: memchr for the
         * magic's first byte skips them several times faster than memmem,
         * whose two-way search this scan, run by every open over the whole
         * journal, spent most of its time in. */
        for (const uint8_t *p = chunk; !rc && (p = memchr(p, magic[0], limit - (size_t)(p - chunk))) != NULL;
             p++) {
            size_t at = (size_t)(p - chunk);
            if ((size_t)r - at < JOURNAL_ENTRY_HEADER_BYTES || memcmp(p, magic, sizeof magic) != 0 ||
                !header_current(j, p))
                continue;
            uint8_t h[JOURNAL_ENTRY_HEADER_BYTES];
            size_t hl;
            int v = read_entry(j, base + at, h, &hl, buf, scratch);
            if (v < 0)
                rc = v;
            else if (v == 1) {
                *next = base + at;
                free(mem);
                return 0;
            }
        }
    }
    free(mem);
    return rc;
}

int sl_journal_replay(journal *j, journal_replay_fn fn, journal_damage_fn damage, void *ctx)
{
    bytebuf buf = {0}, decoded = {0};
    uint64_t pos = JOURNAL_DATA_START;
    int rc = 0;
    for (;;) {
        uint8_t h[JOURNAL_ENTRY_HEADER_BYTES];
        size_t hl;
        int v = read_entry(j, pos, h, &hl, &buf, &decoded);
        if (v < 0) {
            rc = v;
            break;
        }
        if (v == 1) {
            rc = fn(ctx, pos, get_le32(h + 4), get_le32(h + 8), buf.data, buf.len);
            if (rc)
                break;
            pos += JOURNAL_ENTRY_HEADER_BYTES + buf.len;
            continue;
        }
        /* An intact header says where its entry ends; a damaged one does
         * not, and the next entry may start anywhere after it. */
        int known = hl == JOURNAL_ENTRY_HEADER_BYTES && header_current(j, h);
        uint64_t after = known ? pos + JOURNAL_ENTRY_HEADER_BYTES + get_le32(h + 12) : pos + 1;
        uint64_t next;
        if ((rc = find_next_entry(j, after, &buf, &decoded, &next)) != 0)
            break;
        if (next == UINT64_MAX)
            break; /* a torn end: nothing valid follows */
        rc = damage(ctx, j->path, pos, next, known, get_le32(h + 4), get_le32(h + 8));
        if (rc)
            break;
        pos = next;
    }
    sl_bytebuf_free(&buf);
    sl_bytebuf_free(&decoded);
    j->write_pos = pos;
    return rc;
}

int sl_journal_entry_at(journal *j, uint64_t pos, journal_replay_fn fn, void *ctx)
{
    bytebuf buf = {0}, decoded = {0};
    uint8_t h[JOURNAL_ENTRY_HEADER_BYTES];
    size_t hl;
    int rc = read_entry(j, pos, h, &hl, &buf, &decoded);
    if (rc == 0)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: the entry at byte %llu changed while it was read", j->path,
                     (unsigned long long)pos);
    else if (rc == 1)
        rc = fn(ctx, pos, get_le32(h + 4), get_le32(h + 8), buf.data, buf.len);
    sl_bytebuf_free(&buf);
    sl_bytebuf_free(&decoded);
    return rc;
}

uint64_t sl_journal_space_left(const journal *j)
{
    return j->file_bytes - j->write_pos;
}

uint64_t sl_journal_capacity(const journal *j)
{
    return j->file_bytes - JOURNAL_DATA_START;
}

static void entry_header_encode(uint8_t *p, const journal_entry *e, uint64_t generation)
{
    put_le32(p, JOURNAL_ENTRY_MAGIC);
    put_le32(p + 4, e->stream_id);
    put_le32(p + 8, e->partition);
    put_le32(p + 12, (uint32_t)e->len);
    put_le64(p + 16, generation);
    put_le64(p + 24, XXH3_64bits(p, 24));
}

int sl_journal_write(journal *j, const journal_entry *entries, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += journal_entry_bytes(entries[i].len);
    if (total > sl_journal_space_left(j))
        return sl_err_set(SIGLOG_ELIMIT, "%s: commit of %llu bytes does not fit in %llu free journal bytes", j->path,
                       (unsigned long long)total, (unsigned long long)sl_journal_space_left(j));
    struct iovec iov[2 * ENTRIES_PER_WRITE];
    for (size_t first = 0; first < n; first += ENTRIES_PER_WRITE) {
        size_t m = n - first < ENTRIES_PER_WRITE ? n - first : ENTRIES_PER_WRITE;
        uint64_t bytes = 0;
        for (size_t i = 0; i < m; i++) {
            const journal_entry *e = &entries[first + i];
            uint8_t *h = j->entry_headers + i * JOURNAL_ENTRY_HEADER_BYTES;
            entry_header_encode(h, e, j->generation);
            iov[2 * i] = (struct iovec){h, JOURNAL_ENTRY_HEADER_BYTES};
            iov[2 * i + 1] = (struct iovec){(void *)e->payload, e->len};
            bytes += journal_entry_bytes(e->len);
        }
        int rc = sl_io_writev_all(j->io, j->fd, iov, (int)(2 * m), j->write_pos);
        if (rc < 0)
            return sl_err_errno(rc, "writing %llu bytes to %s at byte %llu", (unsigned long long)bytes, j->path,
                             (unsigned long long)j->write_pos);
        j->write_pos += bytes;
        if (j->dirty_end != UINT64_MAX && j->dirty_end < j->write_pos)
            j->dirty_end = j->write_pos;
    }
    return 0;
}

int sl_journal_sync(journal *j)
{
    int rc = j->io->fdatasync(j->io, j->fd);
    if (rc < 0)
        return sl_err_errno(rc, "fdatasync of %s failed", j->path);
    return 0;
}

int sl_journal_reset(journal *j)
{
    int rc = write_slot(j, j->generation + 1);
    if (rc)
        return rc;
    if ((rc = sl_journal_sync(j)) != 0)
        return rc;
    j->generation++;
    j->write_pos = JOURNAL_DATA_START;
    return 0;
}

uint64_t sl_journal_generation(const journal *j)
{
    return j->generation;
}

const char *sl_journal_path(const journal *j)
{
    return j->path;
}

const siglog_io *sl_journal_io(const journal *j)
{
    return j->io;
}

uint64_t sl_journal_dirty_end(const journal *j)
{
    return j->dirty_end;
}

void sl_journal_scrubbed(journal *j)
{
    j->dirty_end = JOURNAL_DATA_START;
}

int sl_journal_is_empty(const journal *j)
{
    return j->write_pos == JOURNAL_DATA_START;
}
