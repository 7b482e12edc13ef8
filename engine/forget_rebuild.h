/*
 * forget_rebuild — the records of an archive's batches kept by a
 * forget, rebuilt into the batches of the archive that replaces it, one
 * batch at a time, as the streaming archive writer reads them
 * (archive_write.c, an archive_source with keep set): a cold entry's
 * rewrite (forget_cold.h) and an exported archive's (forget_archive.h).
 *
 * The input comes in units (an archive's segments, or cold entries),
 * each a run of batches in offset order, the units tiling [first, end).
 * The output is a run of segments, each a run of batches:
 *   - the records keep() accepts are re-encoded (uncompressed: the writer
 *     re-encodes them with the archive's compression) in batches of their
 *     own input batch's range; an emptied batch's range goes to the batch
 *     before it in the output segment, or at the segment's start to the
 *     one after it, as a segment rewrite does (compact.h);
 *   - each unit that keeps a record gives one output segment starting at
 *     its base; an emptied unit's range goes to the output segment before
 *     it, or, before the first unit that keeps a record, to that one's
 *     segment (which then starts at first), as a forget's emptied segment
 *     goes to the segment before it (compact.h, sl_compact_partition_drop).
 * So the output's segments and batches tile [first, end) with no hole,
 * every kept record keeps its offset, time and bytes, and an output
 * segment is never larger than its unit's records (plus the ranges it
 * takes in, which hold nothing).
 *
 * Memory: one input batch's verdicts and scratch, the open output batch
 * and the last one sealed, whatever the units' size.
 */
#ifndef SIGLOG_FORGET_REBUILD_H
#define SIGLOG_FORGET_REBUILD_H

#include <stdint.h>

#include "batch.h"
#include "bytebuf.h"
#include "compact.h"

/* Where the output goes, in order: begin(base) of a segment, its
 * batches, end(base, end) of it [base, end); a non-zero return stops the
 * rebuild and is returned. */
typedef struct forget_rebuild_out {
    int (*begin)(void *ctx, uint64_t base);
    int (*batch)(void *ctx, const batch_header *h, const uint8_t *body);
    int (*end)(void *ctx, uint64_t base, uint64_t end);
    void *ctx;
} forget_rebuild_out;

typedef struct forget_rebuild {
    compact_keep_fn keep;
    void *arg;
    forget_rebuild_out out;
    batch_builder b;
    int open;              /* b holds the kept records of an input batch */
    int started;           /* a unit was given: first is known */
    int in_segment;        /* an output segment has begun (and b is open) */
    int unit_new;          /* the unit has kept no record yet */
    uint64_t first;        /* the first unit's base */
    uint64_t unit_base, seg_base;
    bytebuf sealed, scratch;
    uint8_t *verdict;      /* keep()'s answer per record of the batch */
    size_t verdict_cap;
    uint64_t records, records_in;
} forget_rebuild;

void sl_forget_rebuild_init(forget_rebuild *rb, compact_keep_fn keep, void *arg, const forget_rebuild_out *out);
/* The next input unit starts at base; its batches follow. */
void sl_forget_rebuild_unit(forget_rebuild *rb, uint64_t base);
/* The next input batch h with its body (checked by the caller). */
int sl_forget_rebuild_batch(forget_rebuild *rb, const batch_header *h, const uint8_t *body);
/* The inputs ended at offset end (exclusive): the last output batch and
 * segment end there. COMPACT_NOTHING_KEPT (nothing given out) when no
 * record stays. */
int sl_forget_rebuild_end(forget_rebuild *rb, uint64_t end);
void sl_forget_rebuild_free(forget_rebuild *rb);

#endif
