/*
 * schema_usage — a partition's schema-version metadata: for every version
 * its events carry, the first and last offset, the earliest and latest
 * event time, the event count and the count of nonconforming events (and
 * of those, per JSON path), persisted in the partition directory as
 * `schemas.usage` (format-spec/FORMAT.md, "Schema usage").
 *
 * What it counts is the log itself: records are accounted when they reach
 * the segment (partition.c), never at append, so the figures describe
 * exactly what a reader can see and a crash can never leave them counting
 * an event the log lost. `covered` says how far: every record below it is
 * accounted, none at or above it. A writer accounts a batch only when it
 * starts at `covered` (contiguous), so a record is never counted twice;
 * whatever lies between `covered` and the log's end (after a crash, or in
 * a store from before this file) is read back from the log and accounted
 * by sl_stream_usage_catch_up (schema_usage_scan.c).
 *
 * Nonconforming: an event accounted while its stream's contract is `warn`
 * whose value does not conform to its version (schema_contract.h judges
 * it). Per version, SCHEMA_USAGE_PATHS_MAX paths are told apart, the
 * rest count under "*"; an event counts once per path it breaks.
 *
 * The file is written whole by the atomic-replace recipe at each roll and
 * at a clean close (when everything below `covered` is durable), so a
 * crash leaves an older true file; readers and the writer's open read the
 * log from its `covered` on. A missing or damaged file is rebuilt from
 * the log (the writer logs a warning), never trusted.
 *
 * Not thread-safe: the owner (a partition under its `mu`, or a reader's
 * private copy) serialises its calls.
 */
#ifndef SIGLOG_SCHEMA_USAGE_H
#define SIGLOG_SCHEMA_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define SCHEMA_USAGE_FILE "schemas.usage"
#define SCHEMA_USAGE_MAGIC 0x55534753u /* "SGSU" */
#define SCHEMA_USAGE_VERSION 2
#define SCHEMA_USAGE_HEADER_BYTES 40
#define SCHEMA_USAGE_ENTRY_BYTES 56
#define SCHEMA_USAGE_PATHS_MAX 64      /* told apart per version, plus "*" */
#define SCHEMA_USAGE_VERSIONS_MAX 65536
#define SCHEMA_USAGE_BYTES_MAX (64u << 20)

typedef struct schema_usage_path {
    char *path;
    uint64_t count;
} schema_usage_path;

typedef struct schema_usage_entry {
    uint32_t version;
    uint64_t first_offset, last_offset;
    int64_t min_timestamp_us, max_timestamp_us;
    uint64_t count;                  /* >= 1 */
    uint64_t nonconforming;          /* <= count */
    schema_usage_path *paths;        /* in order of first sight */
    size_t path_count;
} schema_usage_entry;

typedef struct schema_usage {
    uint64_t covered;                /* records below are accounted */
    /* The catalog's tally when the figures were saved: its sealed
     * entries from the first up to tally_end (each ending at or below
     * covered) held tally_events records. A rewrite that dropped or
     * added records there since (a key compaction, an accepted loss, a
     * purge, a restore) changes what the catalog lists below tally_end:
     * schema_usage_tally.h tells. */
    uint64_t tally_end, tally_events;
    schema_usage_entry *v;           /* ascending versions */
    size_t count;
    size_t last;                     /* index of the last version added:
                                      * the next record's, most often */
} schema_usage;

/* Empty figures: nothing below covered accounted, the tally empty
 * (tally_end = covered, no event). */
void sl_schema_usage_init(schema_usage *u, uint64_t covered);
void sl_schema_usage_free(schema_usage *u);
/* A deep copy. 0 or SIGLOG_ENOMEM. */
int sl_schema_usage_copy(schema_usage *dst, const schema_usage *src);
const schema_usage_entry *sl_schema_usage_find(const schema_usage *u, uint32_t version);
/* 1 when u's figures are stale and must be recounted from the log's
 * start, given the log's start and its first segment [first_base,
 * first_end) (first_end == first_base when it holds no record):
 *   - u counts an event below log_start: a prefix removal (a retention
 *     purge) has taken counted events out of the log since. A removal
 *     that took any counted event leaves some version's first offset below
 *     the new start, so nothing else need be remembered to notice it;
 *   - the first segment's records lie below every offset u counts and
 *     below `covered`: a restore has put events back below the start the
 *     figures were counted from (it only ever adds whole segments below
 *     the old start), which u has never seen. */
int sl_schema_usage_stale(const schema_usage *u, uint64_t log_start, uint64_t first_base, uint64_t first_end);

/* Account one record (offset >= covered; covered moves past it). 0 or
 * SIGLOG_ENOMEM (nothing changed). */
int sl_schema_usage_add(schema_usage *u, uint32_t version, uint64_t offset, int64_t timestamp_us);
/* Account count >= 1 records at once, all at version, the first at
 * first_offset (>= covered), the last at last_offset, their times within
 * [min_us, max_us] (each bound some record's): the same as adding each in
 * turn. 0 or SIGLOG_ENOMEM. */
int sl_schema_usage_add_run(schema_usage *u, uint32_t version, uint64_t first_offset, uint64_t last_offset,
                            uint64_t count, int64_t min_us, int64_t max_us);
/* The record just added at version is nonconforming: paths[0..n) are
 * the paths it breaks (repeats count once). 0 or SIGLOG_ENOMEM. */
int sl_schema_usage_nonconforming(schema_usage *u, uint32_t version, const char *const *paths, size_t n);

/* File codec (FORMAT.md). decode validates untrusted bytes:
 * SIGLOG_ECORRUPT or SIGLOG_EVERSION with a detail naming the byte, or
 * SIGLOG_ENOMEM. encode returns a malloc'd buffer. */
int sl_schema_usage_encode(const schema_usage *u, uint8_t **out, size_t *len);
int sl_schema_usage_decode(const uint8_t *buf, size_t len, schema_usage *out);

/* Read dir's file into *u. *found is 0 (u empty, covered 0) when there is
 * none. A damaged file is SIGLOG_ECORRUPT naming it. Writes nothing. */
int sl_schema_usage_load(const siglog_io *io, const char *dir, schema_usage *u, int *found);
/* Replace dir's file by u (atomic replace, durable on return). */
int sl_schema_usage_save(const siglog_io *io, const char *dir, uint32_t file_mode, const schema_usage *u);

#endif
