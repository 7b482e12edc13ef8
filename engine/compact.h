/*
 * compact — the builders of the two housekeeping rewrites of sealed
 * segments: merge (many small segments become few) and key compaction
 * (only the newest event of each key survives). They read input segments
 * and write the replacement segments through a sink; they never swap
 * files: the caller gives them segments from the catalog's rewrite
 * primitive (catalog.h, catalog_rewrite_segment), seals and commits.
 *
 * Invariants of what they write, for inputs that tile offsets [B, E):
 *   - the outputs tile exactly [B, E) too, the first starting at B, each
 *     at most segment_bytes_max (plus one batch: a batch is never split);
 *   - every surviving record keeps its offset, timestamp, key, value,
 *     headers, schema version and flags; records dropped leave gaps
 *     (batch version 2), never a renumbering;
 *   - merge drops nothing and copies every batch byte for byte (its
 *     header and body as they were);
 *   - key compaction keeps a record without a key; of the records with a
 *     key, it keeps only the one with the highest offset in the keys'
 *     view (the inputs plus any newer segments given), unless that one is
 *     a tombstone whose timestamp is older than now - tombstone_retention
 *     (then no record of the key survives). Survivors are re-encoded in
 *     batches of their own input batch, over its whole offset range.
 *
 * Memory: merge holds one batch. Key compaction holds one entry per
 * distinct key (its bytes and about 60 bytes) while they fit
 * memory_bytes; past that it maps the keys in several passes, a class of
 * them at a time, through a spill file in spill_dir (compact_keys.h), so
 * its memory stays within the budget for any number of keys.
 */
#ifndef SIGLOG_COMPACT_H
#define SIGLOG_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "segment.h"

/* A new, empty output segment starting at base_offset: the builder
 * appends batches to it (sl_segment_append) and stops using it when it
 * asks for the next one or returns. The sink owns it. */
typedef int (*compact_segment_fn)(void *arg, uint64_t base_offset, segment **out);

typedef struct compact_sink {
    compact_segment_fn new_segment;
    void *arg;
    uint64_t segment_bytes_max; /* an output rolls past this */
    int compression;            /* SIGLOG_COMPRESSION_* of re-encoded batches */
} compact_sink;

typedef struct compact_stats {
    uint64_t segments_in, segments_out;
    uint64_t records_in, records_dropped;
    uint64_t bytes_in, bytes_out;
    uint64_t key_map_peak_bytes; /* key compaction: its key map's peak */
    uint32_t key_passes;         /* key compaction: passes over the keys (1: no spill) */
} compact_stats;

/* total += st, field by field (the peak and passes: the largest). */
void sl_compact_stats_add(compact_stats *total, const compact_stats *st);

/* A run of consecutive catalog entries [first, first + count). */
typedef struct compact_run {
    size_t first, count;
} compact_run;

/* The merge plan of a partition's catalog entries: runs of at least two
 * consecutive SEALED entries, each smaller than merge_below bytes, whose
 * total stays within segment_bytes_max, with no recorded loss between
 * them (each starts where the one before ends). Fills up to max runs; returns how
 * many there are. */
size_t sl_compact_merge_plan(const catalog_segment *segs, size_t n, uint64_t merge_below, uint64_t segment_bytes_max,
                             compact_run *runs, size_t max);

/* Merge the sealed segments in[0..n) (consecutive, in offset order) into
 * outputs of the sink. */
int sl_compact_merge(segment *const *in, size_t n, const compact_sink *sink, compact_stats *st);

/* Every batch of segment s in order: fn(arg, s, header, body); stops at
 * the first non-zero return of fn and returns it. growing: s is a
 * writer's active segment, which ends at its last whole batch (the next
 * may be half written as it is read); a sealed segment ending inside a
 * batch is SIGLOG_ECORRUPT. */
typedef int (*compact_batch_fn)(void *arg, segment *s, const batch_header *h, const uint8_t *body);
int sl_compact_each_batch(segment *s, int growing, compact_batch_fn fn, void *arg);

/* Whether record r stays: 1 or 0, or a SIGLOG_E* error (with its detail
 * set) that ends the rewrite. */
typedef int (*compact_keep_fn)(void *arg, const siglog_record *r);

/* Rewrite the sealed segments in[0..n) (consecutive, in offset order)
 * into outputs of the sink without the records keep() refuses: the
 * survivors re-encoded in batches of their own input batch, each over
 * the batch's whole range (an emptied batch's range goes to the batch
 * before it, or at the start to the one after it). COMPACT_NOTHING_KEPT
 * (st filled, no output asked for) when no record would stay: a range
 * must keep a record to be described by a segment, so the caller removes
 * the inputs instead (sl_catalog_remove_prefix) or keeps them. */
#define COMPACT_NOTHING_KEPT 1
int sl_compact_rewrite(segment *const *in, size_t n, compact_keep_fn keep, void *arg, const compact_sink *sink,
                       compact_stats *st);

/* Every record of segment s in offset order: fn(arg, r); a non-zero
 * return stops the scan and is returned (fn's errors are negative).
 * growing: s is an active segment a writer may be appending to, read up
 * to its last whole batch. */
typedef int (*compact_record_fn)(void *arg, const siglog_record *r);
int sl_compact_scan(segment *s, int growing, compact_record_fn fn, void *arg);

typedef struct compact_keys_params {
    int64_t now_us;
    uint64_t tombstone_retention_us;
    uint64_t memory_bytes;
    /* Where a key map past memory_bytes spills (NULL: it may not, and
     * such a key set fails with SIGLOG_ENOMEM). */
    const siglog_io *io;
    const char *spill_dir;
    /* Entries before the inputs (cold ones, never rewritten, or those
     * before a recorded loss) may hold older events of the inputs' keys:
     * a tombstone then stays whatever its age, since dropping it would
     * make such an older value its key's newest again. */
    int older_may_exist;
} compact_keys_params;

/* Key compaction of the sealed segments in[0..n) (consecutive, in offset
 * order): sl_compact_rewrite keeping what compact.h's rule keeps.
 * newer[0..m) are the segments after them, read for their keys only: a
 * key's newer event there supersedes every one in the inputs.
 * COMPACT_NOTHING_KEPT as sl_compact_rewrite. */
int sl_compact_keys(segment *const *in, size_t n, segment *const *newer, size_t m, const compact_keys_params *kp,
                    const compact_sink *sink, compact_stats *st);

/* What sl_compact_keys would do, written nowhere: st's segments_in,
 * bytes_in, records_in and records_dropped (segments_out and bytes_out
 * stay 0: only writing the outputs would tell them). */
int sl_compact_keys_count(segment *const *in, size_t n, segment *const *newer, size_t m,
                          const compact_keys_params *kp, compact_stats *st);

/* ---- on a partition, through its catalog's rewrite primitive ---- */

/* Maintenance (catalog c opened by a maintenance handle): every run of
 * the merge plan of c's sealed segments, each one rewrite (one catalog
 * commit); outputs up to p->segment_bytes_max. *total sums the runs. */
int sl_compact_partition_merge(catalog *c, const segment_params *p, uint64_t merge_below, compact_stats *total);
/* Maintenance: key compaction of every sealed segment of c, one
 * rewrite per stretch of them without a recorded loss inside (a rewrite
 * never covers lost offsets), the segments after each (the active one
 * included) read for newer keys; re-encoded batches compressed as
 * `compression` says. When no record of the first stretch stays, it is
 * removed (sl_catalog_remove_prefix: the log start moves up); a later
 * stretch that would keep nothing (after the cold tier, or after a
 * recorded loss) becomes one segment over its range holding its last
 * record alone, the range's holder (compact_partition.c, keep_holder). */
int sl_compact_partition_keys(catalog *c, const segment_params *p, int compression, const compact_keys_params *kp,
                              compact_stats *st);
/* Maintenance: re-encode the sealed segment of c starting at base_offset
 * alone, every record kept at its offset in batches of the same ranges,
 * compressed as `compression` says (BATCH_LZ4HC for the warm tier), the
 * new entry's tier `tier`, in one rewrite. SIGLOG_ENOENT when no entry
 * starts there. */
int sl_compact_partition_recompress(catalog *c, uint64_t base_offset, const segment_params *p, int compression,
                                    uint8_t tier, compact_stats *st);

/* Maintenance: rewrite the sealed segment of c starting at base_offset
 * without the records keep() refuses, every other record kept at its
 * offset (re-encoded batches compressed as `compression` says), its tier
 * kept, in one rewrite. When keep() refuses every record, the range goes
 * with the segment before it (both rewritten in one, keep() asked of its
 * records too), for the first segment out of the log
 * (sl_catalog_remove_prefix), and after a cold entry (never rewritten,
 * cold.h) with the sealed segments after it, as many as it takes to keep
 * a record (keep() asked of theirs too; SIGLOG_EINVAL when none does).
 * *through: the end of the last entry rewritten or removed, so the caller
 * skips the segments taken in. SIGLOG_ENOENT when no entry starts there. */
int sl_compact_partition_drop(catalog *c, uint64_t base_offset, const segment_params *p, int compression,
                              compact_keep_fn keep, void *arg, compact_stats *st, uint64_t *through);
/* The error of that last case: the sealed entry of c at `base`, right
 * after the cold tier, would keep no record and no sealed entry after it
 * keeps one (SIGLOG_EINVAL naming the partition and the offset, saying
 * what makes a run succeed). A forget asks it before it changes anything
 * but its intent (forget.c). */
int sl_compact_no_keeper(catalog *c, uint64_t base);

/* What the two would do, writing nothing: the merge's figures are exact
 * (a run fits one output); key compaction's walk the stretches as the
 * run does (one walk, compact_partition.c), each stretch's segments_in,
 * bytes_in, records_in and records_dropped the run's, a holder kept and
 * a stretch already its holder counted as nothing, and leave
 * segments_out and bytes_out 0 (sl_compact_keys_count). */
int sl_compact_partition_merge_count(catalog *c, const segment_params *p, uint64_t merge_below, compact_stats *total);
int sl_compact_partition_keys_count(catalog *c, const segment_params *p, const compact_keys_params *kp,
                                    compact_stats *st);

#endif
