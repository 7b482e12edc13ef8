/*
 * catalog — what a partition's log is, persisted: the start of the
 * per-partition catalog (format-spec/FORMAT.md, "Partition checkpoint").
 *
 * What it owns now: the partition's checkpoint file, catalog.ckpt, with
 * the log start offset, the base of the active segment and a lower bound
 * of the next offset. Every offset below that bound was handed out, so the
 * log can never be reopened below it: a missing partition directory, a
 * segment missing at the start (first base above the log start) or at the
 * end (last base below the active base), or a log that ends below the
 * bound is reported with the missing range, never recreated, and no offset
 * is handed out twice.
 *
 * When it is written (never per append, so it costs nothing measurable):
 * at each segment roll once the new
 * segment is durable (active base = next bound = the new base), at a clean
 * close once the active segment is synced (bound = the next offset), and
 * at a writer's first open of a partition that has none (stores written
 * before the file existed: the writer takes what it finds as the truth).
 * An empty log has none: a missing file means the same as one saying 0.
 * Always by the atomic-replace recipe, so a crash leaves the old
 * checkpoint or the new one, and both are true: each value only grows, and
 * a value is written only once what it vouches for is durable.
 *
 * The plan: the catalog grows into the one owner of the partition's state
 * (DESIGN.md, "Concepts"): the segment list with each segment's offsets,
 * times, tier and state, a generation number, and immutable snapshots for
 * the writer, maintenance and readers, so that nothing else lists the
 * partition directory. Until then the partition module lists segments and
 * asks the catalog to check them.
 *
 * Thread-safety: a catalog belongs to its partition's writer and is used
 * under the partition's lock; readers only load and check.
 */
#ifndef SIGLOG_CATALOG_H
#define SIGLOG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define CATALOG_FILE "catalog.ckpt"
#define CATALOG_MAGIC 0x4b434753u /* "SGCK" */
#define CATALOG_VERSION 1
#define CATALOG_FILE_BYTES 48

typedef struct catalog_checkpoint {
    uint64_t log_start_offset;  /* the first offset the log holds */
    uint64_t active_base;       /* the last segment starts here or later */
    uint64_t next_offset_floor; /* every offset below was handed out and is
                                 * durable: the log ends here or later */
} catalog_checkpoint;

/* catalog.ckpt codec. decode validates untrusted bytes (size, magic,
 * checksum, version, reserved zero, log_start <= active_base <= floor):
 * SIGLOG_ECORRUPT or SIGLOG_EVERSION. */
void catalog_encode(uint8_t buf[CATALOG_FILE_BYTES], const catalog_checkpoint *c);
int catalog_decode(const uint8_t *buf, size_t len, catalog_checkpoint *c);

/* Read the checkpoint of partition directory dir. *found is 0 when the
 * directory has none (a partition of a store from before the file).
 * SIGLOG_ECORRUPT naming the directory when it is missing, or the file
 * when it is damaged. Writes nothing. */
int catalog_load(const siglog_io *io, const char *dir, catalog_checkpoint *out, int *found);

/* Segments with sorted base offsets bases[0..n) against the checkpoint:
 * SIGLOG_ECORRUPT naming the missing range when segments are missing at
 * the start or at the end. */
int catalog_check_segments(const char *dir, const catalog_checkpoint *c, const uint64_t *bases, size_t n);
/* A log that ends at next_offset against the checkpoint: SIGLOG_ECORRUPT
 * naming the missing offsets when it ends below the bound. */
int catalog_check_end(const char *dir, const catalog_checkpoint *c, uint64_t next_offset);

/* The writer's catalog of one partition. */
typedef struct catalog catalog;

/* Load a writer's catalog of partition directory dir (see catalog_load). */
int catalog_open(catalog **out, const siglog_io *io, const char *dir, uint32_t file_mode);
/* The segments found, sorted base offsets bases[0..n): with a checkpoint,
 * check them against it (catalog_check_segments); without one (a store
 * from before the file) take them as the truth: log start = first base
 * (0 when there is none), bound = active base = last base, persisted at
 * the next catalog_commit. */
int catalog_match_segments(catalog *c, const uint64_t *bases, size_t n);
void catalog_close(catalog *c);

const catalog_checkpoint *catalog_get(const catalog *c);

/* Persist a new active base and bound (each only grows; the log start is
 * kept), written only when something changed or nothing was persisted
 * yet (an empty log is never written). Call only once the segment at active_base and every offset below
 * next_offset_floor are durable. */
int catalog_commit(catalog *c, uint64_t active_base, uint64_t next_offset_floor);

#endif
