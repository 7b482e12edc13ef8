/*
 * rewrite_gaps — re-encode a sealed segment without chosen records with
 * the engine's compaction rewrite (engine/compact.h), so that tests and
 * the golden vectors get segments with gaps in their offsets (FORMAT.md,
 * "Batch": version 2) such as a compaction leaves them.
 *
 * Each batch keeps its offset range; a batch all of whose records are
 * dropped is merged into the range of the batch before it (or, at the
 * start of the segment, of the batch after it), so that the rewritten
 * segment covers exactly the offsets the old one did. The new files are
 * built with the engine's segment writer in a scratch directory beside
 * the partition's, then renamed over the old ones, and the catalog entry
 * gets the new figures (a version 2 catalog). Nothing here is crash
 * safe or coordinated with a running writer: use it on a closed store.
 */
#ifndef SIGLOG_TEST_REWRITE_GAPS_H
#define SIGLOG_TEST_REWRITE_GAPS_H

#include <stdint.h>

#include "segment.h"

/* Whether the record at `offset` goes. */
typedef int (*rewrite_drop_fn)(void *arg, uint64_t offset);

/* Rewrite the sealed segment with base offset `base` in partition
 * directory `dir` without the records drop() names, through io (NULL: the
 * POSIX backend; its clock dates the new summary). compression: the
 * stream's (SIGLOG_COMPRESSION_*). At least one record must stay.
 * 0 (*dropped: records dropped), or an error with its detail set. */
int rewrite_dropping(const siglog_io *io, const char *dir, uint64_t base, const segment_params *params,
                     int compression, rewrite_drop_fn drop, void *arg, uint64_t *dropped);

#endif
