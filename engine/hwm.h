/*
 * hwm — the published high-water marks of a stream's partitions, shared
 * with readers in other processes through a small memory-mapped file,
 * STREAM/hwm (format-spec/FORMAT.md, "High-water mark file").
 *
 * Why: a reader in another process cannot see the writer's in-memory
 * high-water mark. Without help it learns of new events by scanning the
 * active segment's tail, and learns *that* there are new events only by
 * polling. The writer therefore publishes, after every change of a
 * partition's published mark (partition.c, publish_locked), the mark into
 * that partition's slot of this file and bumps a stream-wide change
 * counter that is also a futex word: a reader sleeping in FUTEX_WAIT on it
 * (non-private: the kernel keys it by file and offset, so it works across
 * processes on a MAP_SHARED mapping, a read-only one included) wakes
 * within a scheduler tick of the commit.
 *
 * A HINT, never the truth. The file is never synced, may be stale (its
 * writer gone), torn (a writer killed mid-publish), absent, or garbage.
 * A reader uses a slot only when all of these hold, and otherwise scans
 * the segment tail as it would without the file:
 *   - header: magic, version, partition count, size; its writer_id is not
 *     zero (a writer has the stream open) and its writer_pid is alive;
 *   - slot: read consistently (its sequence word even and unchanged
 *     around the read), its writer_id equals the header's, its checksum
 *     matches, its fields are ordered (log start <= active base <= next);
 *   - segment bytes (sl_hwm_check_segment): the active segment named is the
 *     last one listed, its file is exactly active_bytes long, and the
 *     batch at last_batch_pos is a valid batch header that ends exactly at
 *     active_bytes with its last offset next_offset - 1.
 * The last check makes the mark exactly what a tail scan would find, so a
 * stale or forged mark can neither cut a reader short nor make it read
 * past what is written.
 *
 * Writer protocol, per slot (one publisher at a time: the partition's
 * lock): sequence word to odd, release fence, fields, sequence word to
 * even (release); then change counter + 1 and FUTEX_WAKE. Readers map the
 * file read-only and write nothing (a read-only handle writes nothing), so
 * the writer cannot know whether anyone sleeps: it always wakes, one
 * cheap system call per publish.
 *
 * Catalog generations: a maintenance process (another process, usually)
 * adds 1 to the header's catalog change counter after each catalog commit
 * (sl_hwm_catalog_bump, on a mapping of its own), and the writer reloads
 * its catalogs only when the counter moved. A bump lost to a writer's
 * replacing the file at its open is harmless: that open reads every
 * catalog anyway.
 *
 * Lifetime: the writer opens the file when it opens the stream (reusing
 * it in place when its size is right, so readers sleeping on the old
 * writer's mapping wake when the new one starts; otherwise replacing it
 * by rename, so no reader's mapping ever shrinks under it), and at close
 * says it is gone (writer_id 0), wakes the readers and unlinks the file,
 * all while it still holds the writer lock. A writer that cannot create
 * the file runs without it (readers then scan and poll): it is a hint.
 *
 * The file is in native byte order, which the format requires to be
 * little-endian (see the #error in hwm.c): futex words and atomics are
 * native.
 */
#ifndef SIGLOG_HWM_H
#define SIGLOG_HWM_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define HWM_FILE "hwm"
#define HWM_MAGIC 0x57484753u /* "SGHW" */
#define HWM_VERSION 1
#define HWM_HEADER_BYTES 64
#define HWM_SLOT_BYTES 64
/* last_batch_pos of a mark whose last batch the writer does not know
 * (just after recovery): readers then scan. */
#define HWM_NO_BATCH UINT64_MAX

/* One partition's published mark. */
typedef struct hwm_mark {
    uint64_t log_start_offset;
    uint64_t next_offset;    /* one past the last readable offset */
    uint64_t active_base;    /* base offset of the last segment */
    uint64_t active_bytes;   /* its readable bytes */
    uint64_t last_batch_pos; /* where the batch ending at active_bytes
                              * starts (0 when active_bytes is 0) */
} hwm_mark;

/* The header's fields a reader needs. */
typedef struct hwm_header {
    uint32_t partitions;
    uint32_t change;
    uint32_t catalog_change;
    uint64_t writer_id; /* 0: no writer has the stream open */
    uint32_t writer_pid;
} hwm_header;

typedef struct hwm_file hwm_file;

/* Bytes of the file of a stream with this many partitions. */
size_t sl_hwm_file_bytes(uint32_t partitions);

/* ---- codec: pure functions over untrusted bytes (fuzzed) ---- */

/* Header of a file of `len` bytes expected to hold `partitions` slots:
 * 0, or SIGLOG_ECORRUPT (wrong size, magic, partition count, nonzero
 * reserved bytes) / SIGLOG_EVERSION. */
int sl_hwm_header_decode(const uint8_t *buf, size_t len, uint32_t partitions, hwm_header *out);
/* A slot as the writer with writer_id (not 0) publishes it. */
void sl_hwm_slot_encode(uint8_t slot[HWM_SLOT_BYTES], uint32_t seq, uint64_t writer_id, const hwm_mark *m);
/* 1 and *out when the slot holds a consistent mark of writer_id (even
 * sequence word, reserved zero, writer_id, checksum, ordered fields, a
 * known last batch), else 0. */
int sl_hwm_slot_decode(const uint8_t slot[HWM_SLOT_BYTES], uint64_t writer_id, hwm_mark *out);

/* ---- writer ---- */

/* Open (or create) STREAM/hwm for publishing, every slot emptied. Errors
 * are the caller's to log: it runs without the file. */
int sl_hwm_writer_open(const siglog_io *io, const char *stream_dir, uint32_t partitions, uint32_t file_mode,
                    hwm_file **out);
/* Publish a partition's mark and wake the readers. Callers serialise
 * publishes of the same partition (its lock); different partitions may
 * publish concurrently. NULL h: nothing. */
void sl_hwm_publish(hwm_file *h, uint32_t partition, const hwm_mark *m);
/* Say the writer is gone, wake the readers, unmap and unlink. NULL: nothing. */
void sl_hwm_writer_close(hwm_file *h);
/* The catalog change counter (acquire): maintenance bumps it after each
 * catalog commit, so the writer re-reads its catalogs only when it moved
 * (sl_partition_catalog_poll) instead of reading every catalog's header
 * at every poll. Load it before reading the catalogs. */
uint32_t sl_hwm_catalog_change(const hwm_file *h);

/* ---- maintenance ---- */

/* Add 1 to the catalog change counter of stream_dir's hwm file, when a
 * writer has made one (none: 0, nothing to tell). A maintenance process
 * calls it after each catalog commit it makes. A file whose header is not
 * valid is left alone. */
int sl_hwm_catalog_bump(const siglog_io *io, const char *stream_dir);

/* ---- reader (maps read-only, writes nothing) ---- */

/* Map STREAM/hwm read-only. 0 with *out NULL when there is none or it
 * is not usable (wrong size, not a regular file): readers then scan. */
int sl_hwm_reader_open(const siglog_io *io, const char *stream_dir, uint32_t partitions, hwm_file **out);
void sl_hwm_reader_close(hwm_file *h);
/* The change counter now (acquire): take it before reading the marks a
 * snapshot is built from, and wait on it afterwards. */
uint32_t sl_hwm_change(const hwm_file *h);
/* Whether a writer has the stream open, as far as the file tells (its
 * header valid, writer_id set, its pid alive). */
int sl_hwm_writer_live(const hwm_file *h);
/* 1 and *m when the partition's slot holds a consistent mark of the live
 * writer (see the top comment), else 0. */
int sl_hwm_read(const hwm_file *h, uint32_t partition, hwm_mark *m);
/* 1 when the partition directory's segment bytes confirm the mark (see
 * the top comment; the caller checks that active_base is its last
 * segment), else 0. Reads two small pieces of one file. */
int sl_hwm_check_segment(const siglog_io *io, const char *partition_dir, const hwm_mark *m);
/* Sleep until the change counter differs from `seen`, timeout_ms passes,
 * or the writer is found gone (checked at least every
 * HWM_LIVENESS_CHECK_MS, so a dead writer costs a bounded wait). */
#define HWM_LIVENESS_CHECK_MS 100
void sl_hwm_wait(const hwm_file *h, uint32_t seen, int timeout_ms);

#endif
