/*
 * segment — one file of batches covering an offset range, with its offset
 * and time indexes (format-spec/FORMAT.md, "Segment file").
 *
 * Files of the segment with base offset B in a partition directory
 * (B as 20 decimal digits, so names sort by offset):
 *   B.seg  the batches, back to back, from byte 0
 *   B.oix  offset index      B.tix  time index
 *   B.sum  summary sidecar, written once when the segment is sealed
 *
 * Recovery rules (also in FORMAT.md, "Recovery"):
 *   - a sealed segment (one that is not the last of its partition) is
 *     trusted as sealed: an invalid batch there is corruption, reported;
 *   - the active segment's tail is scanned from its last index entry; the
 *     first invalid batch ends the valid prefix. Only an unvouched tail is
 *     torn: the bytes a valid .sum vouches for (its `bytes`, synced before
 *     it was written) are never cut, so an invalid batch there, or a file
 *     shorter than that, is damage. Past them, if no valid batch header
 *     follows the invalid batch anywhere in the file, it is a torn tail and
 *     may be cut; if one does, it is damage in the middle of the log:
 *     reported with its position, never silently cut (partition.c adds
 *     what the journal vouches for);
 *   - an unknown format version is refused (SIGLOG_EVERSION);
 *   - an index that fails validation, is missing or disagrees with the
 *     segment is rebuilt from the segment.
 *
 * Indexes are hints, never truth: every entry a seek or a tail scan uses
 * is checked against the batch header found at the position it names
 * (base offset; for a time entry also its check, which binds the claimed
 * time bound to that batch's body checksum). A wrong entry falls back to
 * scanning from the start and is counted (sl_segment_index_faults); a
 * writer's tail scan that finds its last entry wrong re-indexes the whole
 * segment (sl_segment_adopt_tail).
 *
 * Thread-safety: a segment is used by one thread at a time (the partition
 * lock, or a cursor's owner). Cursors open their own read-only segments.
 */
#ifndef SIGLOG_SEGMENT_H
#define SIGLOG_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "bytebuf.h"
#include "index.h"
#include "io.h"
#include "key_set.h"

#define SEGMENT_NAME_DIGITS 20
/* A segment's files are STEM.seg/.oix/.tix/.sum; the stem is its 20-digit
 * base offset, or for a rewritten segment the name its catalog entry
 * gives (catalog.h). */
#define SEGMENT_STEM_MAX 63
#define SEGMENT_SUMMARY_MAGIC 0x4d534753u /* "SGSM" */
#define SEGMENT_SUMMARY_VERSION 1

/* Every file a segment may have, by extension after its stem (".kf"
 * once it is sealed). */
#define SEGMENT_FILE_EXTS 5
extern const char *const sl_segment_file_exts[SEGMENT_FILE_EXTS];

typedef struct segment segment;

typedef struct segment_params {
    uint64_t segment_bytes_max;     /* sizes the index preallocation */
    uint32_t index_interval_bytes;
    uint32_t file_mode;
    /* A writer hands the file's new bytes to write-back (io writeback)
     * whenever this many have accumulated since the last hint, so that
     * the sync of a seal or a checkpoint finds most of them on the device
     * already. 0: no hints. */
    uint32_t writeback_bytes;
} segment_params;

/* What a tail scan found. */
typedef struct segment_tail {
    uint64_t valid_bytes;      /* end of the last valid batch */
    uint64_t file_bytes;       /* file size */
    uint64_t next_offset;      /* one past the last valid record */
    int64_t max_timestamp_us;  /* over all valid records (INT64_MIN if none) */
    uint64_t record_count;     /* valid records in the segment */
    int damaged;               /* an invalid batch at valid_bytes is followed
                                * by a valid batch header at damage_next_pos */
    uint64_t damage_next_pos;
    uint64_t damage_next_offset; /* base offset of that following batch */
    int vouched_damage;        /* valid_bytes is below what the .sum vouches
                                * for (bit rot, or a file cut short): never
                                * a torn tail */
    /* How far the log reaches for a reader: the valid prefix, extended
     * over vouched damage to what the .sum vouches for and to the end of
     * the valid batches that follow the damage. A reader reading up to it
     * meets the damage as SIGLOG_ECORRUPT instead of stopping short. */
    uint64_t end_bytes;
    uint64_t end_offset;
} segment_tail;

/* "<dir>/<20-digit base><ext>" into buf. */
void sl_segment_path(char *buf, size_t n, const char *dir, uint64_t base_offset, const char *ext);
/* The stem of a segment written where it was first created: its base as
 * 20 digits. */
void sl_segment_stem(char buf[SEGMENT_STEM_MAX + 1], uint64_t base_offset);
/* Parse "<20 digits>.seg": 0 and *base_offset, or -1 for any other name. */
int sl_segment_parse_name(const char *name, uint64_t *base_offset);

/* Create a new, empty active segment (all three files). Does not sync the
 * directory: the caller does, once, after creating. */
int sl_segment_create(const siglog_io *io, const char *dir, uint64_t base_offset, const segment_params *p,
                   segment **out);
/* The same with the files named by `stem`. */
int sl_segment_create_at(const siglog_io *io, const char *dir, const char *stem, uint64_t base_offset,
                      const segment_params *p, segment **out);
/* The same, every file created with IO_EXCL (a rewrite's temporary
 * names): -EEXIST as SIGLOG_EEXIST when one is there. */
int sl_segment_create_fresh(const siglog_io *io, const char *dir, const char *stem, uint64_t base_offset,
                         const segment_params *p, segment **out);

/* Open an existing segment. writable: the writer's active segment (tail
 * scanned by sl_segment_scan_tail, indexes repaired and writable). Read-only
 * opens never modify anything; an unusable index is then replaced by
 * scanning. Missing .seg: SIGLOG_ENOENT. */
int sl_segment_open(const siglog_io *io, const char *dir, uint64_t base_offset, int writable, const segment_params *p,
                 segment **out);
/* The same with the files named by `stem` (catalog entry's location). */
int sl_segment_open_at(const siglog_io *io, const char *dir, const char *stem, uint64_t base_offset, int writable,
                    const segment_params *p, segment **out);
/* A read-only segment over bytes [origin, origin + w->bytes) of an open
 * file fd (a cold archive's batches of one segment, checked whole by its
 * opener): sealed, its figures w's, no indexes (a seek scans), positions
 * counted from origin (messages name path and the origin). Takes fd, also
 * on failure. */
typedef struct segment_window {
    uint64_t base_offset, next_offset, record_count, bytes;
    int64_t max_timestamp_us;
} segment_window;
int sl_segment_open_window(const siglog_io *io, int fd, const char *path, uint64_t origin,
                           const segment_window *w, segment **out);
void sl_segment_close(segment *s);

/* Writer: make everything written so far durable and say so in the .sum
 * sidecar (fdatasync, then atomic replace), so that the next writer open
 * trusts it without scanning: done at a clean close. */
int sl_segment_checkpoint(segment *s);
/* Writer: rebuild both indexes from the valid batches of the file (atomic
 * replace), e.g. after verify found an entry wrong. */
int sl_segment_rebuild_indexes(segment *s);
/* 1 when the writable open rebuilt missing or invalid indexes. */
int sl_segment_indexes_rebuilt(const segment *s);
/* One past the last offset a summary says was synced (the base offset
 * when none does): everything before it survived any crash since. */
uint64_t sl_segment_durable_offset(const segment *s);

/* Writer recovery: everything before `offset` is known durable (synced at
 * the last checkpoint); batches from there on may have reached the disk in
 * any order after a power cut, whatever the unsynced index says. Tail scans
 * then resume from no index entry beyond it. Default: UINT64_MAX (trust
 * every verified entry). */
void sl_segment_trust_below(segment *s, uint64_t offset);
/* Scan from the last index entry to the end of the file (reads every batch
 * after it, checking both checksums; after damage, the valid batches that
 * follow it too). Fills *t. Does not modify the file. */
int sl_segment_scan_tail(segment *s, segment_tail *t);
/* Writer only: cut the file at valid_bytes (a torn tail), drop index
 * entries beyond it, fdatasync. */
int sl_segment_truncate(segment *s, uint64_t valid_bytes);
/* Writer only: after a scan, adopt its result as the segment's state
 * (next offset, size, max timestamp) and rebuild indexes if they disagree. */
int sl_segment_adopt_tail(segment *s, const segment_tail *t);

/* Writer only: write n sealed batches (concatenated in buf, described by
 * metas, consecutive offsets starting at sl_segment_next_offset) at the end of
 * the file with one write, then update the indexes. No sync. */
int sl_segment_append(segment *s, const uint8_t *buf, size_t len, const batch_meta *metas, size_t n);
int sl_segment_sync(segment *s); /* fdatasync of the .seg */
/* Writer only: make the segment immutable: fdatasync it, sync indexes,
 * write the .sum sidecar and then the key filter (keyfilter.h), each by
 * atomic replace. The filter is built from the records read back. */
int sl_segment_seal(segment *s);
/* The same with the filter built from keys, the distinct key hashes of
 * the segment's records as the writer kept them (key_hashes.h): no read of
 * the segment. */
int sl_segment_seal_keyed(segment *s, const key_set *keys);
/* Write the sidecar STEM<ext> of the segment (e.g. ".kf") by atomic
 * replace, with the segment's file mode. */
int sl_segment_replace_sidecar(segment *s, const char *ext, const void *data, size_t len);

uint64_t sl_segment_base_offset(const segment *s);
uint64_t sl_segment_next_offset(const segment *s);
uint64_t sl_segment_record_count(const segment *s);
/* XXH3-64 of the summary a seal writes for the segment's current state
 * (what a sealed segment's .sum holds: the catalog records it). */
uint64_t sl_segment_summary_checksum(const segment *s);
uint64_t sl_segment_size(const segment *s);
uint64_t sl_segment_index_bytes(const segment *s);
int64_t sl_segment_max_timestamp(const segment *s); /* INT64_MIN if empty */
int64_t sl_segment_created_us(const segment *s);    /* wall clock at creation */
const char *sl_segment_file_path(const segment *s); /* the .seg path */

/* Where to start scanning for the first record with offset >= target:
 * a batch position <= that record's batch. A read-only handle reads the
 * batch found (not at or beyond `limit`) with its header check, so that
 * the sl_segment_next_batch that follows a seek makes no read of its
 * own. */
int sl_segment_locate_offset(segment *s, uint64_t target, uint64_t limit, uint64_t *pos);
/* Where to start scanning for the first record with timestamp >= ts. */
int sl_segment_locate_time(segment *s, int64_t ts, uint64_t limit, uint64_t *pos);
/* How many index entries the locate calls found wrong (and scanned
 * instead) since the open. */
uint32_t sl_segment_index_faults(const segment *s);

/* Read the batch at pos, not reading at or beyond `limit` bytes:
 * returns 1 with *h filled and the body in buf (buf->len = body_len, body
 * checksum verified), 0 when pos == limit or the batch there is
 * incomplete (ends beyond limit), SIGLOG_ECORRUPT naming file and position
 * when the header or body is invalid or when the file ends inside the
 * bytes its .sum vouches for, or an I/O error. */
int sl_segment_read_batch(segment *s, uint64_t pos, uint64_t limit, batch_header *h, bytebuf *buf);
/* sl_segment_read_batch for read-only handles (SIGLOG_EINVAL on a
 * writable one), without the copy into a caller's buffer: *body points
 * into the segment's read window, valid until the next call on s (or its
 * close). The window is read ahead of the batch (several batches per
 * pread) and never at or beyond `limit`; same answers as
 * sl_segment_read_batch. */
int sl_segment_next_batch(segment *s, uint64_t pos, uint64_t limit, batch_header *h, const uint8_t **body);

/* Resynchronise after damage: the first byte position in [from, limit)
 * that starts a valid batch header (magic, header checksum, header rules)
 * whose base offset is at least min_offset. 1 with *pos and *h filled, 0
 * when there is none, or an I/O error. The body is not checked: read it
 * with sl_segment_read_batch. */
int sl_segment_find_batch(segment *s, uint64_t from, uint64_t limit, uint64_t min_offset, uint64_t *pos,
                       batch_header *h);

#endif
