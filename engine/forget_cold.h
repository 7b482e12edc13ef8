/*
 * forget_cold — a forget's rewrite of a cold entry (siglog_forget over
 * the cold tier; cold.h, format-spec/FORMAT.md §4 "Cold tier").
 *
 * A cold entry's records live in one archive in the stream's cold_dir,
 * not in the store, so the catalog's rewrite primitive (which makes new
 * segment files in the partition directory) cannot replace it. The
 * forget builds the replacement archive itself, each step safe to
 * interrupt:
 *   1. read the archive (checked whole and against the entry,
 *      sl_cold_segment_open) batch by batch; the records keep() accepts
 *      are re-encoded (LZ4HC at warm_level) in batches of their own input
 *      batch's range, an emptied batch's range going to the batch before
 *      it, or at the start to the one after it, as a segment rewrite does
 *      (compact.h);
 *   2. the new archive is written beneath the cold root
 *      (sl_cold_root_open) under the entry's next generation's name
 *      (cold.h, "Naming"): a temporary file written and synced, renamed,
 *      the directory synced; then read back and checked whole;
 *   3. the catalog commits the entry with its new location, counts,
 *      times, bytes and schema versions, provided it is still the entry
 *      read;
 *   4. the old archive is unlinked and cold_dir synced.
 * A crash before 3 leaves the old entry and its archive, perhaps a whole
 * new archive no catalog names, which the next forget (finishing the
 * intent) writes again under the same name. A crash after 3 leaves the
 * old archive, holding the forgotten events, which the catalog no longer
 * names: the intent is still there, and its finish removes every archive
 * of the partition in cold_dir that the catalog does not name
 * (sl_forget_cold_leftovers).
 *
 * When no record of the entry stays: the first entry of the log goes
 * (sl_catalog_remove_prefix: the log start moves past it, then its
 * archive is unlinked); a later one is rewritten together with the
 * cold entry before it into one archive of both ranges (a range must
 * keep a record to be an entry).
 *
 * Steps 1 and 2 are the streaming archive writer's (archive_write.c,
 * sl_cold_write, as a cold move writes), its source the entries'
 * archives with keep (forget_rebuild.h), so the new archive holds one
 * segment and its key filter (§23) is built from what it keeps.
 *
 * Memory: a batch or two at a time, whatever the segment's size: the
 * old archive is read twice (to tally what stays, then to write it) and
 * the new one once more to check it.
 */
#ifndef SIGLOG_FORGET_COLD_H
#define SIGLOG_FORGET_COLD_H

#include <stdint.h>

#include "catalog.h"
#include "compact.h"
#include "maintenance.h"
#include "siglog.h"

/* Rewrite the cold entry of catalog c (stream `stream` partition p,
 * settings cfg) starting at base_offset without the records keep()
 * refuses (see above). st: segments_in, records_in, records_dropped,
 * bytes_in (old archives), bytes_out (the new one). SIGLOG_ENOENT when
 * no cold entry starts there. */
int sl_forget_cold_drop(maintenance *m, catalog *c, const char *stream, uint32_t p, const siglog_stream_config *cfg,
                        uint64_t base_offset, compact_keep_fn keep, void *arg, compact_stats *st);

/* Unlink every archive of stream `stream` partition p of this store in
 * cfg's cold_dir that catalog c does not name (what a forget interrupted
 * after a commit left); *removed counts them. Nothing when the stream has
 * no cold_dir. Must run under the maintenance lock (no cold move or
 * forget of this store runs beside it). */
int sl_forget_cold_leftovers(maintenance *m, catalog *c, const char *stream, uint32_t p,
                             const siglog_stream_config *cfg, uint32_t *removed);

#endif
