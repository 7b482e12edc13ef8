/*
 * hwm — see hwm.h for the protocol and format-spec/FORMAT.md, "High-water
 * mark file", for the bytes.
 *
 * The mapping is shared with other processes, so every access to it is an
 * atomic of the field's width (relaxed unless ordering is stated): the
 * compiler must neither tear nor merge them. A reader copies what it reads
 * into a local buffer and decodes that with the pure codec functions,
 * which the fuzz target drives.
 */
#include "hwm.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "batch.h"
#include "codec.h"
#include "error.h"
#include "names.h"
#include "segment.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the hwm file is read with native atomics and futexes: its little-endian layout needs a little-endian host"
#endif

/* Header fields. */
enum {
    HDR_MAGIC = 0,
    HDR_VERSION = 4, /* u16, then u16 reserved */
    HDR_PARTITIONS = 8,
    HDR_CATALOG_CHANGE = 12, /* maintenance's catalog commits */
    HDR_WRITER_ID = 16,
    HDR_WRITER_PID = 24,
    HDR_CHANGE = 28, /* the futex word */
    HDR_RESERVED2 = 32, /* to the end of the header */
};

/* Slot fields. The checksum covers SLOT_WRITER_ID .. SLOT_CHECKSUM - 1. */
enum {
    SLOT_SEQ = 0,
    SLOT_RESERVED = 4,
    SLOT_WRITER_ID = 8,
    SLOT_LOG_START = 16,
    SLOT_NEXT = 24,
    SLOT_ACTIVE_BASE = 32,
    SLOT_ACTIVE_BYTES = 40,
    SLOT_LAST_BATCH = 48,
    SLOT_CHECKSUM = 56,
};

/* A reader gives up on a slot that keeps changing under it (or whose
 * writer died mid-publish, leaving the sequence word odd) after this many
 * tries, and scans instead. */
#define READ_TRIES 8

_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8, "atomics of the field widths");

struct hwm_file {
    const siglog_io *io;
    uint8_t *map;
    size_t len;
    uint32_t partitions;
    char *path;          /* writer: what close unlinks */
    uint64_t writer_id;  /* writer: its own id */
};

static _Atomic uint32_t *at32(const hwm_file *h, size_t off)
{
    return (_Atomic uint32_t *)(void *)(h->map + off);
}

static _Atomic uint64_t *at64(const hwm_file *h, size_t off)
{
    return (_Atomic uint64_t *)(void *)(h->map + off);
}

static size_t slot_off(uint32_t partition)
{
    return HWM_HEADER_BYTES + (size_t)partition * HWM_SLOT_BYTES;
}

size_t sl_hwm_file_bytes(uint32_t partitions)
{
    return slot_off(partitions);
}

/* ---- codec ---- */

int sl_hwm_header_decode(const uint8_t *buf, size_t len, uint32_t partitions, hwm_header *out)
{
    if (len != sl_hwm_file_bytes(partitions) || get_le32(buf + HDR_MAGIC) != HWM_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not a high-water mark file for %u partitions", partitions);
    if (get_le16(buf + HDR_VERSION) != HWM_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "high-water mark file version %u", get_le16(buf + HDR_VERSION));
    if (get_le32(buf + HDR_PARTITIONS) != partitions || get_le16(buf + HDR_VERSION + 2) ||
        !bytes_all_zero(buf + HDR_RESERVED2, HWM_HEADER_BYTES - HDR_RESERVED2))
        return sl_err_set(SIGLOG_ECORRUPT, "high-water mark file header invalid");
    *out = (hwm_header){.partitions = partitions,
                        .change = get_le32(buf + HDR_CHANGE),
                        .catalog_change = get_le32(buf + HDR_CATALOG_CHANGE),
                        .writer_id = get_le64(buf + HDR_WRITER_ID),
                        .writer_pid = get_le32(buf + HDR_WRITER_PID)};
    return 0;
}

static uint64_t slot_checksum(const uint8_t slot[HWM_SLOT_BYTES])
{
    return XXH3_64bits(slot + SLOT_WRITER_ID, SLOT_CHECKSUM - SLOT_WRITER_ID);
}

void sl_hwm_slot_encode(uint8_t slot[HWM_SLOT_BYTES], uint32_t seq, uint64_t writer_id, const hwm_mark *m)
{
    memset(slot, 0, HWM_SLOT_BYTES);
    put_le32(slot + SLOT_SEQ, seq);
    put_le64(slot + SLOT_WRITER_ID, writer_id);
    put_le64(slot + SLOT_LOG_START, m->log_start_offset);
    put_le64(slot + SLOT_NEXT, m->next_offset);
    put_le64(slot + SLOT_ACTIVE_BASE, m->active_base);
    put_le64(slot + SLOT_ACTIVE_BYTES, m->active_bytes);
    put_le64(slot + SLOT_LAST_BATCH, m->last_batch_pos);
    put_le64(slot + SLOT_CHECKSUM, slot_checksum(slot));
}

int sl_hwm_slot_decode(const uint8_t slot[HWM_SLOT_BYTES], uint64_t writer_id, hwm_mark *out)
{
    if (writer_id == 0 || (get_le32(slot + SLOT_SEQ) & 1) || get_le32(slot + SLOT_RESERVED) ||
        get_le64(slot + SLOT_WRITER_ID) != writer_id || get_le64(slot + SLOT_CHECKSUM) != slot_checksum(slot))
        return 0;
    hwm_mark m = {.log_start_offset = get_le64(slot + SLOT_LOG_START),
                  .next_offset = get_le64(slot + SLOT_NEXT),
                  .active_base = get_le64(slot + SLOT_ACTIVE_BASE),
                  .active_bytes = get_le64(slot + SLOT_ACTIVE_BYTES),
                  .last_batch_pos = get_le64(slot + SLOT_LAST_BATCH)};
    if (m.log_start_offset > m.active_base || m.active_base > m.next_offset)
        return 0;
    /* An empty active segment holds no offset; a nonempty one ends with a
     * whole batch that starts inside it. */
    if (m.active_bytes == 0 ? m.next_offset != m.active_base || m.last_batch_pos != 0
                            : m.next_offset == m.active_base || m.last_batch_pos >= m.active_bytes ||
                                  m.active_bytes - m.last_batch_pos < BATCH_HEADER_BYTES)
        return 0;
    *out = m;
    return 1;
}

/* ---- shared pieces ---- */

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
    /* Not FUTEX_PRIVATE_FLAG: the waiters are in other processes. */
    return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

static char *file_path(const char *stream_dir)
{
    return sl_path_join(stream_dir, HWM_FILE);
}

static void hwm_free(hwm_file *h)
{
    if (h->map)
        h->io->munmap_file(h->io, h->map, h->len);
    free(h->path);
    free(h);
}

/* ---- writer ---- */

/* The whole file, written: see open_for_writing. */
static int write_zeros(hwm_file *h, int fd)
{
    void *zeros = calloc(1, h->len);
    if (!zeros)
        return -ENOMEM;
    int r = sl_io_write_all(h->io, fd, zeros, h->len, 0);
    free(zeros);
    return r;
}

/* A file of the right size is reused in place (readers sleeping on it
 * wake when this writer publishes); any other is replaced whole, so a
 * reader's mapping of it never shrinks under the reader (SIGBUS). Either
 * way every byte is written (zeros) before it is mapped: a sparse file's
 * pages are allocated at the first fault, and on a full tmpfs that fault
 * is a SIGBUS, for the writer and for readers of a crashed writer's file. */
static int open_for_writing(hwm_file *h, const char *stream_dir, uint32_t file_mode)
{
    int fd = h->io->open_file(h->io, h->path, IO_WRITE | IO_CREATE, file_mode);
    if (fd < 0)
        return sl_err_errno(fd, "opening %s", h->path);
    uint64_t size = 0;
    int r = h->io->file_size(h->io, fd, &size);
    if (r == 0 && size != h->len) {
        h->io->close_file(h->io, fd);
        char *tmp = sl_path_join(stream_dir, HWM_FILE ".tmp");
        fd = tmp ? sl_io_create_temp(h->io, tmp, IO_WRITE, file_mode) : -ENOMEM;
        r = fd < 0 ? fd : write_zeros(h, fd);
        if (r == 0)
            r = h->io->rename(h->io, tmp, h->path);
        if (r < 0 && tmp)
            h->io->unlink(h->io, tmp);
        free(tmp);
    } else if (r == 0) {
        r = write_zeros(h, fd);
    }
    if (r == 0)
        r = h->io->mmap_file(h->io, fd, h->len, 1, (void **)&h->map);
    if (r < 0)
        h->map = NULL;
    if (fd >= 0)
        h->io->close_file(h->io, fd); /* the mapping stays */
    return r < 0 ? sl_err_errno(r, "preparing %s", h->path) : 0;
}

/* Unique enough to tell this writer's slots from an earlier writer's: the
 * clock and the pid, never 0. */
static uint64_t new_writer_id(const siglog_io *io)
{
    uint64_t id = XXH3_64bits_withSeed(&(int64_t){io->monotonic_us(io)}, sizeof(int64_t),
                                       (uint64_t)io->now_us(io) ^ ((uint64_t)getpid() << 32));
    return id ? id : 1;
}

int sl_hwm_writer_open(const siglog_io *io, const char *stream_dir, uint32_t partitions, uint32_t file_mode,
                    hwm_file **out)
{
    *out = NULL;
    hwm_file *h = calloc(1, sizeof *h);
    if (!h || !(h->path = file_path(stream_dir))) {
        free(h);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    h->io = io;
    h->len = sl_hwm_file_bytes(partitions);
    h->partitions = partitions;
    int rc = open_for_writing(h, stream_dir, file_mode);
    if (rc) {
        hwm_free(h);
        return rc;
    }
    /* No writer while the slots are emptied; the change counters are
     * kept (a reader may sleep on one, maintenance bumps the other at any
     * time) and the sequence words stay even. */
    atomic_store_explicit(at64(h, HDR_WRITER_ID), 0, memory_order_release);
    atomic_store_explicit(at32(h, HDR_MAGIC), HWM_MAGIC, memory_order_relaxed);
    atomic_store_explicit(at32(h, HDR_VERSION), HWM_VERSION, memory_order_relaxed);
    atomic_store_explicit(at32(h, HDR_PARTITIONS), partitions, memory_order_relaxed);
    for (size_t off = HDR_RESERVED2; off < HWM_HEADER_BYTES; off += 4)
        atomic_store_explicit(at32(h, off), 0, memory_order_relaxed);
    for (uint32_t p = 0; p < partitions; p++) {
        size_t s = slot_off(p);
        uint32_t seq = atomic_load_explicit(at32(h, s + SLOT_SEQ), memory_order_relaxed);
        atomic_store_explicit(at32(h, s + SLOT_SEQ), (seq | 1u) + 1u, memory_order_relaxed);
        atomic_store_explicit(at32(h, s + SLOT_RESERVED), 0, memory_order_relaxed);
        for (size_t off = SLOT_WRITER_ID; off < HWM_SLOT_BYTES; off += 8)
            atomic_store_explicit(at64(h, s + off), 0, memory_order_relaxed);
    }
    h->writer_id = new_writer_id(io);
    atomic_store_explicit(at32(h, HDR_WRITER_PID), (uint32_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(at64(h, HDR_WRITER_ID), h->writer_id, memory_order_release);
    *out = h;
    return 0;
}

static void bump_and_wake(hwm_file *h)
{
    atomic_fetch_add_explicit(at32(h, HDR_CHANGE), 1, memory_order_seq_cst);
    futex(at32(h, HDR_CHANGE), FUTEX_WAKE, INT_MAX, NULL);
}

void sl_hwm_publish(hwm_file *h, uint32_t partition, const hwm_mark *m)
{
    if (!h || partition >= h->partitions)
        return;
    uint8_t slot[HWM_SLOT_BYTES];
    size_t s = slot_off(partition);
    uint32_t seq = atomic_load_explicit(at32(h, s + SLOT_SEQ), memory_order_relaxed);
    sl_hwm_slot_encode(slot, seq + 2, h->writer_id, m);
    /* Seqlock write: odd while the fields change. */
    atomic_store_explicit(at32(h, s + SLOT_SEQ), seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (size_t off = SLOT_WRITER_ID; off < HWM_SLOT_BYTES; off += 8)
        atomic_store_explicit(at64(h, s + off), get_le64(slot + off), memory_order_relaxed);
    atomic_store_explicit(at32(h, s + SLOT_SEQ), seq + 2, memory_order_release);
    bump_and_wake(h);
}

void sl_hwm_writer_close(hwm_file *h)
{
    if (!h)
        return;
    atomic_store_explicit(at64(h, HDR_WRITER_ID), 0, memory_order_release);
    bump_and_wake(h);
    /* A hint: nothing to make durable, and nothing of it must outlive the
     * writer lock this writer still holds. */
    h->io->unlink(h->io, h->path);
    hwm_free(h);
}

uint32_t sl_hwm_catalog_change(const hwm_file *h)
{
    return atomic_load_explicit(at32(h, HDR_CATALOG_CHANGE), memory_order_acquire);
}

int sl_hwm_catalog_bump(const siglog_io *io, const char *stream_dir)
{
    char *path = file_path(stream_dir);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int fd = io->open_file(io, path, IO_WRITE, 0);
    int rc = 0;
    if (fd == -ENOENT) {
        /* No writer has the stream open: nothing to tell. */
    } else if (fd < 0) {
        rc = sl_err_errno(fd, "opening %s", path);
    } else {
        uint64_t size = 0;
        uint8_t head[HWM_HEADER_BYTES];
        hwm_header hdr;
        void *map = NULL;
        /* Only a file a writer made (its header valid for its own size):
         * the word is then within the mapping. */
        int r = io->file_size(io, fd, &size);
        if (r == 0 && size >= HWM_HEADER_BYTES &&
            sl_io_read_full(io, fd, head, sizeof head, 0) == (ssize_t)sizeof head &&
            (size - HWM_HEADER_BYTES) % HWM_SLOT_BYTES == 0 &&
            sl_hwm_header_decode(head, (size_t)size, (uint32_t)((size - HWM_HEADER_BYTES) / HWM_SLOT_BYTES), &hdr) == 0 &&
            (r = io->mmap_file(io, fd, HWM_HEADER_BYTES, 1, &map)) == 0) {
            hwm_file h = {.map = map};
            atomic_fetch_add_explicit(at32(&h, HDR_CATALOG_CHANGE), 1, memory_order_seq_cst);
            io->munmap_file(io, map, HWM_HEADER_BYTES);
        }
        sl_err_clear(); /* a file that is no hwm file is no error: a hint */
        if (r < 0)
            rc = sl_err_errno(r, "bumping the catalog counter of %s", path);
        io->close_file(io, fd);
    }
    free(path);
    return rc;
}

/* ---- reader ---- */

int sl_hwm_reader_open(const siglog_io *io, const char *stream_dir, uint32_t partitions, hwm_file **out)
{
    *out = NULL;
    hwm_file *h = calloc(1, sizeof *h);
    char *path = file_path(stream_dir);
    if (!h || !path) {
        free(h);
        free(path);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    h->io = io;
    h->len = sl_hwm_file_bytes(partitions);
    h->partitions = partitions;
    int fd = io->open_file(io, path, IO_READ, 0);
    free(path);
    uint64_t size = 0;
    /* Whatever is wrong with it (absent, a symlink, the wrong size),
     * readers do without it. */
    if (fd < 0 || io->file_size(io, fd, &size) != 0 || size != h->len ||
        io->mmap_file(io, fd, h->len, 0, (void **)&h->map) != 0) {
        h->map = NULL;
        hwm_free(h);
    } else {
        *out = h;
    }
    if (fd >= 0)
        io->close_file(io, fd);
    return 0;
}

void sl_hwm_reader_close(hwm_file *h)
{
    if (h)
        hwm_free(h);
}

uint32_t sl_hwm_change(const hwm_file *h)
{
    return atomic_load_explicit(at32(h, HDR_CHANGE), memory_order_acquire);
}

static int read_header(const hwm_file *h, hwm_header *out)
{
    uint8_t buf[HWM_HEADER_BYTES];
    for (size_t off = 0; off < HWM_HEADER_BYTES; off += 4)
        put_le32(buf + off, atomic_load_explicit(at32(h, off), memory_order_acquire));
    /* The codec checks the size too: give it the header and the rest's
     * length only. */
    return sl_hwm_header_decode(buf, h->len, h->partitions, out) == 0;
}

static int pid_alive(uint32_t pid)
{
    return pid > 0 && pid <= INT_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int sl_hwm_writer_live(const hwm_file *h)
{
    hwm_header hdr;
    return read_header(h, &hdr) && hdr.writer_id && pid_alive(hdr.writer_pid);
}

int sl_hwm_read(const hwm_file *h, uint32_t partition, hwm_mark *m)
{
    hwm_header hdr;
    if (partition >= h->partitions || !read_header(h, &hdr) || !hdr.writer_id || !pid_alive(hdr.writer_pid))
        return 0;
    size_t s = slot_off(partition);
    uint8_t slot[HWM_SLOT_BYTES];
    for (int tries = 0; tries < READ_TRIES; tries++) {
        uint32_t before = atomic_load_explicit(at32(h, s + SLOT_SEQ), memory_order_acquire);
        if (before & 1)
            continue;
        put_le32(slot + SLOT_SEQ, before);
        put_le32(slot + SLOT_RESERVED, atomic_load_explicit(at32(h, s + SLOT_RESERVED), memory_order_relaxed));
        for (size_t off = SLOT_WRITER_ID; off < HWM_SLOT_BYTES; off += 8)
            put_le64(slot + off, atomic_load_explicit(at64(h, s + off), memory_order_relaxed));
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(at32(h, s + SLOT_SEQ), memory_order_relaxed) == before)
            return sl_hwm_slot_decode(slot, hdr.writer_id, m);
    }
    return 0;
}

int sl_hwm_check_segment(const siglog_io *io, const char *partition_dir, const hwm_mark *m)
{
    char path[4096];
    sl_segment_path(path, sizeof path, partition_dir, m->active_base, ".seg");
    int fd = io->open_file(io, path, IO_READ, 0);
    if (fd < 0)
        return 0;
    uint64_t size = 0;
    uint8_t raw[BATCH_HEADER_BYTES];
    batch_header b;
    int ok = io->file_size(io, fd, &size) == 0 && size == m->active_bytes;
    if (ok && m->active_bytes) {
        ok = sl_io_read_full(io, fd, raw, sizeof raw, m->last_batch_pos) == (ssize_t)sizeof raw &&
             sl_batch_header_decode(raw, &b) == 0 &&
             m->last_batch_pos + BATCH_HEADER_BYTES + b.body_len == m->active_bytes &&
             b.base_offset + b.record_count == m->next_offset;
        sl_err_clear(); /* a failed decode is no error of the caller's */
    }
    io->close_file(io, fd);
    return ok;
}

void sl_hwm_wait(const hwm_file *h, uint32_t seen, int timeout_ms)
{
    for (int left = timeout_ms; left > 0 && sl_hwm_change(h) == seen && sl_hwm_writer_live(h);
         left -= HWM_LIVENESS_CHECK_MS) {
        int ms = left < HWM_LIVENESS_CHECK_MS ? left : HWM_LIVENESS_CHECK_MS;
        struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
        /* Returns at once when the counter moved since `seen` was read. */
        futex(at32(h, HDR_CHANGE), FUTEX_WAIT, seen, &t);
    }
}
