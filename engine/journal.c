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
    int rc = io_write_all(j->io, j->fd, slot, sizeof slot, off);
    if (rc < 0)
        return err_errno(rc, "writing journal header of %s", j->path);
    return 0;
}

/* Build a zero-filled journal beside the real one and rename it in, so the
 * real path only ever names a complete, preallocated file. */
static int journal_create(journal *j, const char *store_dir, uint64_t bytes, uint32_t mode)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", j->path) < 0)
        return err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int fd = io_create_temp(j->io, tmp, IO_WRITE, mode);
    if (fd < 0) {
        rc = err_errno(fd, "creating %s", tmp);
        goto out;
    }
    enum { CHUNK = 1 << 20 };
    uint8_t *zeros = calloc(1, CHUNK);
    if (!zeros) {
        rc = err_set(SIGLOG_ENOMEM, "out of memory");
        goto close_out;
    }
    for (uint64_t off = 0; off < bytes && !rc; off += CHUNK) {
        size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;
        int w = io_write_all(j->io, fd, zeros, n, off);
        if (w < 0)
            rc = err_errno(w, "zero-filling %s", tmp);
    }
    free(zeros);
    if (!rc) {
        uint8_t slot[SLOT_USED_BYTES];
        slot_encode(slot, 1, j->store_id);
        int w = io_write_all(j->io, fd, slot, sizeof slot, JOURNAL_SLOT_BYTES);
        if (w < 0)
            rc = err_errno(w, "writing journal header of %s", tmp);
    }
    if (!rc) {
        int s = j->io->fsync(j->io, fd);
        if (s < 0)
            rc = err_errno(s, "fsync of %s failed", tmp);
    }
close_out:
    j->io->close_file(j->io, fd);
    if (!rc) {
        int r = j->io->rename(j->io, tmp, j->path);
        if (r < 0)
            rc = err_errno(r, "renaming %s to %s", tmp, j->path);
    }
    if (!rc) {
        int r = j->io->sync_dir(j->io, store_dir);
        if (r < 0)
            rc = err_errno(r, "fsync of directory %s failed", store_dir);
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
    j->path = path_join(store_dir, STORE_JOURNAL_FILE);
    j->entry_headers = malloc(ENTRIES_PER_WRITE * JOURNAL_ENTRY_HEADER_BYTES);
    if (!j->path || !j->entry_headers) {
        journal_close(j);
        return NULL;
    }
    return j;
}

/* With j->fd open: its size and the newer valid header slot's generation. */
static int journal_load(journal *j)
{
    int s = j->io->file_size(j->io, j->fd, &j->file_bytes);
    if (s < 0)
        return err_errno(s, "size of %s", j->path);
    if (j->file_bytes < JOURNAL_DATA_START + JOURNAL_ENTRY_HEADER_BYTES)
        return err_set(SIGLOG_ECORRUPT, "%s: journal is %llu bytes, shorter than its header", j->path,
                       (unsigned long long)j->file_bytes);
    uint8_t slots[2][SLOT_USED_BYTES];
    uint64_t gen[2] = {0, 0};
    int ok[2];
    for (int i = 0; i < 2; i++) {
        ssize_t r = io_read_full(j->io, j->fd, slots[i], SLOT_USED_BYTES, (uint64_t)i * JOURNAL_SLOT_BYTES);
        if (r < 0)
            return err_errno((int)r, "reading journal header of %s", j->path);
        ok[i] = r == SLOT_USED_BYTES && slot_decode(slots[i], j->store_id, &gen[i]) && gen[i] % 2 == (uint64_t)i;
    }
    if (!ok[0] && !ok[1])
        return err_set(SIGLOG_ECORRUPT, "%s: neither journal header slot is valid for store %016llx", j->path,
                       (unsigned long long)j->store_id);
    j->generation = ok[0] && (!ok[1] || gen[0] > gen[1]) ? gen[0] : gen[1];
    j->write_pos = JOURNAL_DATA_START;
    return 0;
}

int journal_open(const siglog_io *io, const char *store_dir, uint64_t bytes, uint64_t store_id, uint32_t mode,
                 journal **out)
{
    *out = NULL;
    if (bytes < JOURNAL_BYTES_MIN)
        bytes = JOURNAL_BYTES_MIN;
    journal *j = journal_alloc(io, store_dir, store_id);
    if (!j)
        return err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int is_dir = 0;
    uint64_t size = 0;
    int st = io->stat_path(io, j->path, &is_dir, &size);
    if (st == -ENOENT) {
        rc = journal_create(j, store_dir, bytes, mode);
        if (rc)
            goto fail;
    } else if (st < 0) {
        rc = err_errno(st, "stat of %s", j->path);
        goto fail;
    }
    j->fd = io->open_file(io, j->path, IO_WRITE, mode);
    if (j->fd < 0) {
        rc = err_errno(j->fd, "opening %s", j->path);
        goto fail;
    }
    if ((rc = journal_load(j)) != 0)
        goto fail;
    *out = j;
    return 0;
fail:
    journal_close(j);
    return rc;
}

int journal_open_read(const siglog_io *io, const char *store_dir, uint64_t store_id, journal **out)
{
    *out = NULL;
    journal *j = journal_alloc(io, store_dir, store_id);
    if (!j)
        return err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    j->fd = io->open_file(io, j->path, IO_READ, 0);
    if (j->fd == -ENOENT) {
        journal_close(j); /* no writer ever opened the store */
        return 0;
    }
    if (j->fd < 0)
        rc = err_errno(j->fd, "opening %s", j->path);
    else
        rc = journal_load(j);
    if (rc) {
        journal_close(j);
        return rc;
    }
    *out = j;
    return 0;
}

int journal_check(const siglog_io *io, const char *store_dir, uint64_t store_id)
{
    char *path = path_join(store_dir, STORE_JOURNAL_FILE);
    if (!path)
        return err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int fd = io->open_file(io, path, IO_READ, 0);
    if (fd < 0) {
        /* A store that never had a writer open has no journal yet. */
        rc = fd == -ENOENT ? 0 : err_errno(fd, "open of %s", path);
        free(path);
        return rc;
    }
    int valid = 0;
    for (int i = 0; i < 2; i++) {
        uint8_t slot[SLOT_USED_BYTES];
        uint64_t gen;
        ssize_t r = io_read_full(io, fd, slot, sizeof slot, (uint64_t)i * JOURNAL_SLOT_BYTES);
        valid |= r == SLOT_USED_BYTES && slot_decode(slot, store_id, &gen) && gen % 2 == (uint64_t)i;
    }
    if (!valid)
        rc = err_set(SIGLOG_ECORRUPT, "%s: neither journal header slot is valid for store %016llx", path,
                     (unsigned long long)store_id);
    io->close_file(io, fd);
    free(path);
    return rc;
}

void journal_close(journal *j)
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
        if (len - pos < BATCH_HEADER_BYTES || batch_header_decode(p + pos, &h) != 0)
            return 0;
        if (h.body_len > len - pos - BATCH_HEADER_BYTES)
            return 0;
        if (batch_body_check(&h, p + pos + BATCH_HEADER_BYTES) != 0)
            return 0;
        int v = batch_records_valid(&h, p + pos + BATCH_HEADER_BYTES, scratch);
        if (v <= 0)
            return v;
        pos += BATCH_HEADER_BYTES + h.body_len;
    }
    return len > 0;
}

int journal_replay(journal *j, journal_replay_fn fn, void *ctx)
{
    bytebuf buf = {0}, decoded = {0};
    uint64_t pos = JOURNAL_DATA_START;
    int rc = 0;
    for (;;) {
        uint8_t h[JOURNAL_ENTRY_HEADER_BYTES];
        if (j->file_bytes - pos < sizeof h)
            break;
        ssize_t r = io_read_full(j->io, j->fd, h, sizeof h, pos);
        if (r < 0) {
            rc = err_errno((int)r, "reading %s at byte %llu", j->path, (unsigned long long)pos);
            break;
        }
        if ((size_t)r < sizeof h || get_le32(h) != JOURNAL_ENTRY_MAGIC || get_le64(h + 24) != XXH3_64bits(h, 24) ||
            get_le64(h + 16) != j->generation)
            break;
        uint32_t len = get_le32(h + 12);
        if (len == 0 || len > j->file_bytes - pos - sizeof h)
            break;
        buf.len = 0;
        if ((rc = bytebuf_reserve(&buf, len)) != 0)
            break;
        r = io_read_full(j->io, j->fd, buf.data, len, pos + sizeof h);
        if (r < 0) {
            rc = err_errno((int)r, "reading %s at byte %llu", j->path, (unsigned long long)(pos + sizeof h));
            break;
        }
        if ((size_t)r < len)
            break;
        int valid = payload_valid(buf.data, len, &decoded);
        if (valid < 0) {
            rc = valid; /* out of memory: not the end of the journal */
            break;
        }
        if (!valid)
            break;
        rc = fn(ctx, get_le32(h + 4), get_le32(h + 8), buf.data, len);
        if (rc)
            break;
        pos += sizeof h + len;
    }
    bytebuf_free(&buf);
    bytebuf_free(&decoded);
    j->write_pos = pos;
    return rc;
}

uint64_t journal_space_left(const journal *j)
{
    return j->file_bytes - j->write_pos;
}

uint64_t journal_capacity(const journal *j)
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

int journal_write(journal *j, const journal_entry *entries, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += journal_entry_bytes(entries[i].len);
    if (total > journal_space_left(j))
        return err_set(SIGLOG_ELIMIT, "%s: commit of %llu bytes does not fit in %llu free journal bytes", j->path,
                       (unsigned long long)total, (unsigned long long)journal_space_left(j));
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
        int rc = io_writev_all(j->io, j->fd, iov, (int)(2 * m), j->write_pos);
        if (rc < 0)
            return err_errno(rc, "writing %llu bytes to %s at byte %llu", (unsigned long long)bytes, j->path,
                             (unsigned long long)j->write_pos);
        j->write_pos += bytes;
    }
    return 0;
}

int journal_sync(journal *j)
{
    int rc = j->io->fdatasync(j->io, j->fd);
    if (rc < 0)
        return err_errno(rc, "fdatasync of %s failed", j->path);
    return 0;
}

int journal_reset(journal *j)
{
    int rc = write_slot(j, j->generation + 1);
    if (rc)
        return rc;
    if ((rc = journal_sync(j)) != 0)
        return rc;
    j->generation++;
    j->write_pos = JOURNAL_DATA_START;
    return 0;
}

uint64_t journal_generation(const journal *j)
{
    return j->generation;
}

int journal_is_empty(const journal *j)
{
    return j->write_pos == JOURNAL_DATA_START;
}
