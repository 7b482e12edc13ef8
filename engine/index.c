/*
 * index — sparse offset and time indexes of a segment, as fixed-size entries
 * in a preallocated, memory-mapped file. The byte layout and validity rules
 * are specified in format-spec/FORMAT.md, section "Index files".
 *
 *   +---------------- 64-byte header ----------------+--- capacity slots ---+
 *   | magic ver kind entry_bytes capacity base  rsv  | entry | entry | 0 0 0 |
 *   | header_checksum (XXH3-64 of bytes 0..55)        |                      |
 *   +------------------------------------------------+----------------------+
 *
 * Invariants:
 *   - the file is created at its full size (header + capacity slots, sparse
 *     and zero) and never shrinks in place, so a mapping of that length
 *     stays valid for as long as it exists;
 *   - stored entries occupy slots 0..count-1 and have rel_offset > 0,
 *     strictly increasing; every later slot is zero. So "slot i is in use"
 *     is a monotone predicate and the count is found by binary search;
 *   - a writer fills an entry's other fields first and publishes it by a
 *     release store of its rel_offset; readers load rel_offset with acquire
 *     and look at the other fields only when it is nonzero. A reader sharing
 *     the file (another process, or a cursor in this one) therefore sees
 *     whole entries only, and counts them live instead of trusting the count
 *     it found at open.
 */
#include "index.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"

/* Header field positions. */
enum {
    IXH_MAGIC = 0,
    IXH_VERSION = 4,
    IXH_KIND = 6,
    IXH_ENTRY_BYTES = 8,
    IXH_CAPACITY = 12,
    IXH_BASE_OFFSET = 16,
    IXH_RESERVED = 24,
    IXH_CHECKSUM = 56,
};

/* Entry field positions: the rel_offset of each kind is 4-byte aligned so
 * that it can be stored and loaded atomically. */
enum {
    OIX_REL = 0,
    OIX_POSITION = 4,
    TIX_TIMESTAMP = 0,
    TIX_REL = 8,
    TIX_CHECK = 12,
};

struct index_file {
    const siglog_io *io;
    int fd;
    int kind;
    int writable;
    uint32_t entry_bytes;
    uint32_t rel_at;      /* position of rel_offset inside an entry */
    uint32_t capacity;
    uint32_t count;       /* writer's count; accessed atomically */
    uint64_t base_offset;
    uint8_t *map;
    size_t map_len;
    char path[];
};

static uint32_t kind_entry_bytes(int kind)
{
    return kind == INDEX_KIND_OFFSET ? INDEX_OFFSET_ENTRY_BYTES : INDEX_TIME_ENTRY_BYTES;
}

static uint8_t *slot(const index_file *ix, uint32_t i)
{
    return ix->map + INDEX_HEADER_BYTES + (size_t)i * ix->entry_bytes;
}

static uint32_t slot_rel(const index_file *ix, uint32_t i)
{
    const uint32_t *p = (const uint32_t *)(const void *)(slot(ix, i) + ix->rel_at);
    return le32toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void slot_publish_rel(index_file *ix, uint32_t i, uint32_t rel)
{
    uint32_t *p = (uint32_t *)(void *)(slot(ix, i) + ix->rel_at);
    __atomic_store_n(p, htole32(rel), __ATOMIC_RELEASE);
}

/* First unused slot: slots in use form a prefix (see the invariants). */
static uint32_t find_count(const index_file *ix)
{
    uint32_t lo = 0, hi = ix->capacity;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (slot_rel(ix, mid) != 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void header_encode(uint8_t h[INDEX_HEADER_BYTES], int kind, uint32_t capacity, uint64_t base_offset)
{
    memset(h, 0, INDEX_HEADER_BYTES);
    put_le32(h + IXH_MAGIC, INDEX_MAGIC);
    put_le16(h + IXH_VERSION, INDEX_FORMAT_VERSION);
    put_le16(h + IXH_KIND, (uint16_t)kind);
    put_le32(h + IXH_ENTRY_BYTES, kind_entry_bytes(kind));
    put_le32(h + IXH_CAPACITY, capacity);
    put_le64(h + IXH_BASE_OFFSET, base_offset);
    put_le64(h + IXH_CHECKSUM, XXH3_64bits(h, IXH_CHECKSUM));
}

/* Validate a header read from ix->path against what the caller expects;
 * on success set capacity. */
static int header_check(index_file *ix, const uint8_t h[INDEX_HEADER_BYTES], uint64_t file_bytes)
{
    uint32_t magic = get_le32(h + IXH_MAGIC);
    if (magic != INDEX_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: not an index file (magic 0x%08x, expected 0x%08x)", ix->path, magic,
                       INDEX_MAGIC);
    uint64_t sum = XXH3_64bits(h, IXH_CHECKSUM);
    if (get_le64(h + IXH_CHECKSUM) != sum)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: index header checksum mismatch", ix->path);
    uint16_t version = get_le16(h + IXH_VERSION);
    if (version == 1)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: index format version 1 has no entry checks (rebuilt by a writer)",
                       ix->path);
    if (version != INDEX_FORMAT_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "%s: index format version %u, this build reads version %u", ix->path,
                       version, INDEX_FORMAT_VERSION);
    uint16_t kind = get_le16(h + IXH_KIND);
    if (kind != ix->kind)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: index kind %u, expected %d", ix->path, kind, ix->kind);
    uint32_t entry_bytes = get_le32(h + IXH_ENTRY_BYTES);
    if (entry_bytes != ix->entry_bytes)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: entry size %u, expected %u", ix->path, entry_bytes, ix->entry_bytes);
    uint64_t base = get_le64(h + IXH_BASE_OFFSET);
    if (base != ix->base_offset)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: base offset %llu, expected %llu", ix->path, (unsigned long long)base,
                       (unsigned long long)ix->base_offset);
    if (!bytes_all_zero(h + IXH_RESERVED, IXH_CHECKSUM - IXH_RESERVED))
        return sl_err_set(SIGLOG_ECORRUPT, "%s: reserved header bytes are not zero", ix->path);
    uint32_t capacity = get_le32(h + IXH_CAPACITY);
    if (capacity > INDEX_CAPACITY_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: capacity %u exceeds the limit %u", ix->path, capacity,
                       INDEX_CAPACITY_MAX);
    uint64_t need = INDEX_HEADER_BYTES + (uint64_t)capacity * entry_bytes;
    if (file_bytes < need)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: file is %llu bytes, its header needs %llu", ix->path,
                       (unsigned long long)file_bytes, (unsigned long long)need);
    ix->capacity = capacity;
    return 0;
}

/* Check the stored entries against the ordering rules. Writers also check
 * that every slot after the first unused one is zero, because they will
 * fill those slots and a stray nonzero one would become visible as an
 * entry. (The first unused slot itself may hold the payload of an entry
 * that a crash left unpublished; sl_index_open clears it.) */
static int entries_check(const index_file *ix)
{
    for (uint32_t i = 0; i < ix->count; i++) {
        const uint8_t *e = slot(ix, i);
        uint32_t rel = slot_rel(ix, i);
        uint32_t prev_rel = i ? slot_rel(ix, i - 1) : 0;
        if (rel <= prev_rel)
            return sl_err_set(SIGLOG_ECORRUPT, "%s: entry %u: relative offset %u does not follow %u", ix->path, i, rel,
                           prev_rel);
        if (ix->kind == INDEX_KIND_OFFSET) {
            uint32_t pos = get_le32(e + OIX_POSITION);
            uint32_t prev_pos = i ? get_le32(slot(ix, i - 1) + OIX_POSITION) : 0;
            if (pos <= prev_pos)
                return sl_err_set(SIGLOG_ECORRUPT, "%s: entry %u: position %u does not follow %u", ix->path, i, pos,
                               prev_pos);
        } else {
            if (i && (int64_t)get_le64(e + TIX_TIMESTAMP) < (int64_t)get_le64(slot(ix, i - 1) + TIX_TIMESTAMP))
                return sl_err_set(SIGLOG_ECORRUPT, "%s: entry %u: timestamp decreases", ix->path, i);
        }
    }
    if (ix->writable) {
        size_t used = ((size_t)ix->count + 1) * ix->entry_bytes;
        size_t all = (size_t)ix->capacity * ix->entry_bytes;
        if (used < all && !bytes_all_zero(slot(ix, 0) + used, all - used))
            return sl_err_set(SIGLOG_ECORRUPT, "%s: nonzero bytes after entry %u", ix->path, ix->count);
    }
    return 0;
}

/* Give a new (empty) file its full size and header. The zeros are
 * written, not left as a hole: a sparse file's pages are allocated at the
 * first fault of a mapping, and on a full tmpfs that fault is a SIGBUS, in
 * the writer and in any reader of the index. Written, a full disk is an
 * ENOSPC here, where it can be reported. */
static int file_init(index_file *ix, uint32_t capacity)
{
    if (capacity > INDEX_CAPACITY_MAX)
        return sl_err_set(SIGLOG_EINVAL, "%s: capacity %u exceeds the limit %u", ix->path, capacity, INDEX_CAPACITY_MAX);
    uint64_t bytes = INDEX_HEADER_BYTES + (uint64_t)capacity * ix->entry_bytes;
    static const uint8_t zeros[65536];
    for (uint64_t off = INDEX_HEADER_BYTES; off < bytes;) {
        size_t n = bytes - off < sizeof zeros ? (size_t)(bytes - off) : sizeof zeros;
        int rc = sl_io_write_all(ix->io, ix->fd, zeros, n, off);
        if (rc < 0)
            return sl_err_errno(rc, "write of %s (%llu bytes)", ix->path, (unsigned long long)bytes);
        off += n;
    }
    int rc;
    uint8_t h[INDEX_HEADER_BYTES];
    header_encode(h, ix->kind, capacity, ix->base_offset);
    rc = sl_io_write_all(ix->io, ix->fd, h, sizeof h, 0);
    if (rc < 0)
        return sl_err_errno(rc, "write of %s header", ix->path);
    return 0;
}

int sl_index_open(const siglog_io *io, const char *path, int kind, uint64_t base_offset, uint32_t capacity,
               unsigned flags, uint32_t mode, index_file **out)
{
    *out = NULL;
    if (kind != INDEX_KIND_OFFSET && kind != INDEX_KIND_TIME)
        return sl_err_set(SIGLOG_EINVAL, "%s: unknown index kind %d", path, kind);
    size_t plen = strlen(path) + 1;
    index_file *ix = calloc(1, sizeof *ix + plen);
    if (!ix)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory opening %s", path);
    memcpy(ix->path, path, plen);
    ix->io = io;
    ix->kind = kind;
    ix->writable = (flags & IO_WRITE) != 0;
    ix->entry_bytes = kind_entry_bytes(kind);
    ix->rel_at = kind == INDEX_KIND_OFFSET ? OIX_REL : TIX_REL;
    ix->base_offset = base_offset;
    ix->fd = (flags & IO_EXCL) ? sl_io_create_temp(io, path, flags, mode) : io->open_file(io, path, flags, mode);
    if (ix->fd < 0) {
        int rc = sl_err_errno(ix->fd, "open of %s", path);
        free(ix);
        return rc;
    }

    uint64_t size = 0;
    int rc = io->file_size(io, ix->fd, &size);
    if (rc < 0) {
        rc = sl_err_errno(rc, "size of %s", path);
        goto fail;
    }
    if (size == 0 && (flags & IO_CREATE)) {
        if ((rc = file_init(ix, capacity)) != 0)
            goto fail;
        size = INDEX_HEADER_BYTES + (uint64_t)capacity * ix->entry_bytes;
    }
    uint8_t h[INDEX_HEADER_BYTES];
    ssize_t got = sl_io_read_full(io, ix->fd, h, sizeof h, 0);
    if (got < 0) {
        rc = sl_err_errno((int)got, "read of %s header", path);
        goto fail;
    }
    if (got < INDEX_HEADER_BYTES) {
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: file is %zd bytes, shorter than an index header", path, got);
        goto fail;
    }
    if ((rc = header_check(ix, h, size)) != 0)
        goto fail;

    ix->map_len = INDEX_HEADER_BYTES + (size_t)ix->capacity * ix->entry_bytes;
    void *map = NULL;
    rc = io->mmap_file(io, ix->fd, ix->map_len, ix->writable, &map);
    if (rc < 0) {
        rc = sl_err_errno(rc, "mmap of %s", path);
        goto fail;
    }
    ix->map = map;
    ix->count = find_count(ix);
    if ((rc = entries_check(ix)) != 0)
        goto fail;
    if (ix->writable && ix->count < ix->capacity)
        memset(slot(ix, ix->count), 0, ix->entry_bytes);
    if (!ix->writable) {
        /* A reader only needs the mapping, which outlives the descriptor:
         * cursors keep many segments open, one descriptor each. */
        io->close_file(io, ix->fd);
        ix->fd = -1;
    }
    *out = ix;
    return 0;

fail:
    sl_index_close(ix);
    return rc;
}

void sl_index_close(index_file *ix)
{
    if (!ix)
        return;
    if (ix->map)
        ix->io->munmap_file(ix->io, ix->map, ix->map_len);
    if (ix->fd >= 0)
        ix->io->close_file(ix->io, ix->fd);
    free(ix);
}

uint32_t sl_index_count(const index_file *ix)
{
    if (ix->writable)
        return __atomic_load_n(&ix->count, __ATOMIC_ACQUIRE);
    return find_count(ix);
}

uint32_t sl_index_capacity(const index_file *ix)
{
    return ix->capacity;
}

uint64_t sl_index_file_bytes(const index_file *ix)
{
    return ix->map_len;
}

/* Common checks before filling slot `count`; 0 when the entry may go in. */
static int add_check(const index_file *ix, uint32_t rel_offset)
{
    if (!ix->writable)
        return sl_err_set(SIGLOG_ERDONLY, "%s: index is open read-only", ix->path);
    if (ix->count == ix->capacity)
        return sl_err_set(SIGLOG_ELIMIT, "%s: index is full (%u entries)", ix->path, ix->capacity);
    uint32_t last = ix->count ? slot_rel(ix, ix->count - 1) : 0;
    if (rel_offset <= last)
        return sl_err_set(SIGLOG_EINVAL, "%s: relative offset %u does not follow %u", ix->path, rel_offset, last);
    return 0;
}

static void publish(index_file *ix, uint32_t rel_offset)
{
    slot_publish_rel(ix, ix->count, rel_offset);
    __atomic_store_n(&ix->count, ix->count + 1, __ATOMIC_RELEASE);
}

int sl_index_add_offset(index_file *ix, uint32_t rel_offset, uint32_t position)
{
    if (ix->kind != INDEX_KIND_OFFSET)
        return sl_err_set(SIGLOG_EINVAL, "%s: not an offset index", ix->path);
    int rc = add_check(ix, rel_offset);
    if (rc)
        return rc;
    uint32_t last_pos = ix->count ? get_le32(slot(ix, ix->count - 1) + OIX_POSITION) : 0;
    if (position <= last_pos)
        return sl_err_set(SIGLOG_EINVAL, "%s: position %u does not follow %u", ix->path, position, last_pos);
    put_le32(slot(ix, ix->count) + OIX_POSITION, position);
    publish(ix, rel_offset);
    return 0;
}

uint32_t sl_index_time_check(int64_t prefix_max_ts, uint32_t rel_offset, uint64_t body_checksum)
{
    uint8_t b[20];
    put_le64(b, (uint64_t)prefix_max_ts);
    put_le32(b + 8, rel_offset);
    put_le64(b + 12, body_checksum);
    return (uint32_t)XXH3_64bits(b, sizeof b);
}

int sl_index_add_time(index_file *ix, int64_t prefix_max_ts, uint32_t rel_offset, uint64_t body_checksum)
{
    if (ix->kind != INDEX_KIND_TIME)
        return sl_err_set(SIGLOG_EINVAL, "%s: not a time index", ix->path);
    int rc = add_check(ix, rel_offset);
    if (rc)
        return rc;
    if (ix->count && prefix_max_ts < (int64_t)get_le64(slot(ix, ix->count - 1) + TIX_TIMESTAMP))
        return sl_err_set(SIGLOG_EINVAL, "%s: timestamp %lld decreases", ix->path, (long long)prefix_max_ts);
    put_le64(slot(ix, ix->count) + TIX_TIMESTAMP, (uint64_t)prefix_max_ts);
    put_le32(slot(ix, ix->count) + TIX_CHECK, sl_index_time_check(prefix_max_ts, rel_offset, body_checksum));
    publish(ix, rel_offset);
    return 0;
}

void sl_index_entry_offset(const index_file *ix, uint32_t i, uint32_t *rel, uint32_t *position)
{
    *rel = slot_rel(ix, i);
    *position = get_le32(slot(ix, i) + OIX_POSITION);
}

void sl_index_entry_time(const index_file *ix, uint32_t i, int64_t *ts, uint32_t *rel)
{
    *rel = slot_rel(ix, i);
    *ts = (int64_t)get_le64(slot(ix, i) + TIX_TIMESTAMP);
}

int sl_index_entry_time_matches(const index_file *ix, uint32_t i, uint64_t body_checksum)
{
    int64_t ts;
    uint32_t rel;
    sl_index_entry_time(ix, i, &ts, &rel);
    return get_le32(slot(ix, i) + TIX_CHECK) == sl_index_time_check(ts, rel, body_checksum);
}

uint32_t sl_index_lookup_offset(const index_file *ix, uint32_t rel, uint32_t *rel_found, uint32_t *position)
{
    /* Count entries with rel_offset <= rel; the answer is the last of them. */
    uint32_t lo = 0, hi = sl_index_count(ix);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (slot_rel(ix, mid) <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) {
        *rel_found = 0;
        *position = 0;
        return 0;
    }
    sl_index_entry_offset(ix, lo - 1, rel_found, position);
    return lo;
}

uint32_t sl_index_lookup_time(const index_file *ix, int64_t ts, uint32_t *rel_found)
{
    /* Count entries with prefix_max_ts < ts: a prefix, as timestamps never
     * decrease. An entry is read only after its rel_offset was seen set. */
    uint32_t lo = 0, hi = sl_index_count(ix);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t t;
        uint32_t r;
        sl_index_entry_time(ix, mid, &t, &r);
        if (t < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    *rel_found = lo ? slot_rel(ix, lo - 1) : 0;
    return lo;
}

void sl_index_truncate(index_file *ix, uint32_t keep)
{
    if (!ix->writable)
        return;
    /* Unpublish from the top down, so that the slots in use stay a prefix
     * at every moment for a reader counting them. */
    while (ix->count > keep) {
        uint32_t i = ix->count - 1;
        slot_publish_rel(ix, i, 0);
        memset(slot(ix, i), 0, ix->entry_bytes);
        __atomic_store_n(&ix->count, i, __ATOMIC_RELEASE);
    }
}

int sl_index_sync(index_file *ix)
{
    if (ix->writable) {
        int rc = ix->io->msync_file(ix->io, ix->map, ix->map_len);
        if (rc < 0)
            return sl_err_errno(rc, "msync of %s", ix->path);
    }
    int rc = ix->io->fsync(ix->io, ix->fd);
    if (rc < 0)
        return sl_err_errno(rc, "fsync of %s", ix->path);
    return 0;
}

int sl_index_seal(index_file *ix)
{
    if (!ix->writable)
        return sl_index_sync(ix);
    int rc = ix->io->msync_file(ix->io, ix->map, ix->map_len);
    if (rc < 0)
        return sl_err_errno(rc, "msync of %s", ix->path);
    /* Readers of this handle (the writer's own locate calls) count the
     * entries from the mapping once it is read-only: publish none after. */
    void *ro = NULL;
    rc = ix->io->mmap_file(ix->io, ix->fd, ix->map_len, 0, &ro);
    if (rc < 0)
        return sl_err_errno(rc, "mmap of %s", ix->path);
    ix->io->munmap_file(ix->io, ix->map, ix->map_len);
    ix->map = ro;
    ix->writable = 0;
    rc = ix->io->fsync(ix->io, ix->fd);
    if (rc < 0)
        return sl_err_errno(rc, "fsync of %s", ix->path);
    return 0;
}
