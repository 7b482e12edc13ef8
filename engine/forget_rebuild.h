/*
 * forget_rebuild — the records of an archive's batches kept by a
 * forget, re-encoded into a new archive's batches (one segment), as both
 * rewrites that replace an archive need it: a cold entry's
 * (forget_cold.h) and an exported archive's (forget_archive.h).
 *
 * The batches are fed in offset order. The records keep() accepts are
 * re-encoded in batches of their own input batch's range; an emptied
 * batch's range goes to the batch before it, or at the start to the one
 * after it, as a segment rewrite does (compact.h), so the output's
 * batches tile [base, end) with no hole and every kept record keeps its
 * offset, time and bytes.
 *
 * Memory: the output's batches are held in memory (data), plus one input
 * batch's verdicts and scratch.
 */
#ifndef SIGLOG_FORGET_REBUILD_H
#define SIGLOG_FORGET_REBUILD_H

#include <stdint.h>

#include "archive.h"
#include "batch.h"
#include "bytebuf.h"
#include "catalog.h"
#include "compact.h"
#include "io.h"

typedef struct forget_rebuild {
    compact_keep_fn keep;
    void *arg;
    int compression;
    uint64_t base;         /* the output's first offset: the first input's */
    batch_builder b;
    int open;              /* b holds the records of an input batch */
    bytebuf data, scratch;
    uint8_t *verdict;      /* keep()'s answer per record of the batch */
    size_t verdict_cap;
    uint64_t records, records_in;
    int64_t first_ts, max_ts;
    catalog_segment kept;  /* the output's schema versions */
} forget_rebuild;

void sl_forget_rebuild_init(forget_rebuild *rb, compact_keep_fn keep, void *arg, int compression, uint64_t base);
/* The next input batch h with its body. */
int sl_forget_rebuild_batch(forget_rebuild *rb, const batch_header *h, const uint8_t *body);
/* The inputs ended at offset end (exclusive): the last output batch is
 * sealed covering up to it. COMPACT_NOTHING_KEPT when no record stays. */
int sl_forget_rebuild_end(forget_rebuild *rb, uint64_t end);
/* The output as one archive of one segment [rb->base, end) into out; am
 * supplies store_id, stream, partition and created_us. */
int sl_forget_rebuild_encode(const forget_rebuild *rb, archive_meta *am, uint64_t end, bytebuf *out);
/* That archive written to path in dir (its directory, resolved) through io
 * by atomic replace (path.tmp written, synced, renamed, dir synced), then
 * read back and checked whole (its records and size as written); *bytes
 * its size. Errors name path. */
int sl_forget_rebuild_write(const forget_rebuild *rb, archive_meta *am, uint64_t end, const siglog_io *io,
                            const char *dir, const char *path, uint32_t mode, uint64_t *bytes);
void sl_forget_rebuild_free(forget_rebuild *rb);

#endif
