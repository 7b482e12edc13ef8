/*
 * index — a segment's sparse offset index and time index
 * (format-spec/FORMAT.md, "Index files").
 *
 * Fixed-size entries in a file preallocated (sparse) to its capacity and
 * memory-mapped; binary search gives O(log n) seeks. Files never shrink in
 * place, so a reader's mapping can never fault (SIGBUS) because a writer
 * trimmed the file; rebuilt indexes replace the file whole by rename.
 *
 * The first batch of a segment (relative offset 0, position 0) is implied
 * and never stored, so every stored entry has rel_offset > 0 and an
 * all-zero slot marks the end of the entries. The writer fills an entry's
 * payload first and its rel_offset last (release store); readers load
 * rel_offset first (acquire), so a concurrent reader never sees half an
 * entry.
 *
 * Offset entry: (rel_offset u32, position u32): the batch whose first
 *   record is base+rel_offset starts at byte `position` of the segment.
 * Time entry: (prefix_max_ts i64, rel_offset u32, check u32): every
 *   record of the segment before the batch starting at rel_offset has a
 *   timestamp <= prefix_max_ts. Entries are non-decreasing in both fields.
 *   check (sl_index_time_check) binds the entry to the body checksum of that
 *   batch, so a seek can tell that the batch it finds is the one the
 *   claimed time bound was computed for: indexes are hints, and every entry
 *   a seek uses is checked against its batch (segment.c).
 *
 * Version 1 files (time entries without a check) read as invalid, so that
 * a writer rebuilds them and a reader scans instead.
 *
 * Indexes are derivable from the segment: any header or entry that fails
 * validation makes sl_index_open return SIGLOG_ECORRUPT and the caller
 * rebuilds.
 */
#ifndef SIGLOG_INDEX_H
#define SIGLOG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define INDEX_MAGIC 0x58494753u /* "SGIX" */
#define INDEX_FORMAT_VERSION 2
#define INDEX_HEADER_BYTES 64
#define INDEX_KIND_OFFSET 1
#define INDEX_KIND_TIME 2
#define INDEX_OFFSET_ENTRY_BYTES 8
#define INDEX_TIME_ENTRY_BYTES 16
#define INDEX_CAPACITY_MAX (1u << 22)

typedef struct index_file index_file;

/* Open or create (IO_CREATE in flags) an index file of `kind` for the
 * segment with base_offset. capacity: entries to preallocate at creation
 * (ignored when opening: taken from the file). writable: map read-write.
 * With IO_EXCL the file is a temporary created afresh (sl_io_create_temp).
 * SIGLOG_ECORRUPT when the header or entries are invalid; SIGLOG_ENOENT
 * when missing and not creating. */
int sl_index_open(const siglog_io *io, const char *path, int kind, uint64_t base_offset, uint32_t capacity,
               unsigned flags, uint32_t mode, index_file **out);
void sl_index_close(index_file *ix);

uint32_t sl_index_count(const index_file *ix);
uint32_t sl_index_capacity(const index_file *ix);
/* Bytes the file takes on disk at most (header + capacity entries). */
uint64_t sl_index_file_bytes(const index_file *ix);

/* Append an entry; entries must stay strictly increasing in rel_offset
 * (SIGLOG_EINVAL otherwise). Returns 0, or SIGLOG_ELIMIT when full (the
 * index just stays sparser: callers ignore it). */
int sl_index_add_offset(index_file *ix, uint32_t rel_offset, uint32_t position);
int sl_index_add_time(index_file *ix, int64_t prefix_max_ts, uint32_t rel_offset, uint64_t body_checksum);
/* The check of a time entry whose batch (at rel_offset) has that body
 * checksum: the low 32 bits of XXH3-64 of prefix_max_ts (i64), rel_offset
 * (u32) and body_checksum (u64), little-endian, 20 bytes. */
uint32_t sl_index_time_check(int64_t prefix_max_ts, uint32_t rel_offset, uint64_t body_checksum);

/* Largest entry with rel_offset <= rel (the implied (0,0) if none).
 * Returns the number of entries with rel_offset <= rel (the entry found
 * is the one before it). */
uint32_t sl_index_lookup_offset(const index_file *ix, uint32_t rel, uint32_t *rel_found, uint32_t *position);
/* Largest entry with prefix_max_ts < ts (rel 0 if none): no record before
 * that batch can have a timestamp >= ts. Returns the number of entries
 * with prefix_max_ts < ts (the entry found is the one before it). */
uint32_t sl_index_lookup_time(const index_file *ix, int64_t ts, uint32_t *rel_found);
/* Entry i (0-based, < count). */
void sl_index_entry_offset(const index_file *ix, uint32_t i, uint32_t *rel, uint32_t *position);
void sl_index_entry_time(const index_file *ix, uint32_t i, int64_t *ts, uint32_t *rel);
/* Whether time entry i's check matches the body checksum of the batch
 * found at its rel_offset. */
int sl_index_entry_time_matches(const index_file *ix, uint32_t i, uint64_t body_checksum);

/* Drop (zero) entries from i on, e.g. after a tail truncation. */
void sl_index_truncate(index_file *ix, uint32_t keep);
/* msync + fsync the file. */
int sl_index_sync(index_file *ix);
/* A sealed segment's index: msync the writable mapping, replace it by a
 * read-only one, then fsync, so that once this returns nothing can write
 * the file through a mapping and what it holds is durable (no page of it
 * is left dirty by this process). The handle stays usable for lookups,
 * read-only. */
int sl_index_seal(index_file *ix);

#endif
