/*
 * retain — siglog_retain's engine (retain.c), for the writer's own runs
 * (store_retention.c).
 */
#ifndef SIGLOG_RETAIN_H
#define SIGLOG_RETAIN_H

#include <stdint.h>

#include "archive.h"
#include "audit.h"
#include "catalog.h"
#include "maintenance.h"

/* What a run does besides the purge, which it always does. */
#define RETAIN_MOVES 1u /* tier moves (warm, cold) */

/* siglog_retain with `what` chosen: 0 purges only, as min_free wants
 * before it refuses appends (a move needs room for its new files while
 * the old ones are still there). */
int sl_retain(maintenance *m, int64_t now_us, const siglog_retain_options *o, unsigned what);

/* The audit record (cause policy) of a tier move of entry e of stream's
 * partition p, its detail left for the caller. */
void sl_retain_move_record(audit_record *r, int action, const char *stream, uint32_t p, const catalog_segment *e);
/* Move sealed hot or warm entry e of catalog c (stream's partition p)
 * into the cold tier (cold_move.c says how); *bytes_after is its archive's
 * size. 0 without a change when e is no longer in the catalog as planned. */
int sl_cold_move(maintenance *m, catalog *c, const catalog_segment *e, const char *stream, uint32_t p,
                 const siglog_stream_config *cfg, uint64_t *bytes_after);
/* The archive of src, scanned into seg and t (sl_archive_scan), written
 * into cfg's cold_dir (opened as a jail) as name by the streaming writer
 * (atomic replace, LZ4HC at warm_level) and read back whole; *bytes its
 * size. What a cold move and a forget's rewrite of a cold entry
 * (forget_cold.h) write. Errors name cold_dir. */
int sl_cold_write(maintenance *m, const archive_source *src, archive_meta *am, archive_segment *seg,
                  const archive_tally *t, const siglog_stream_config *cfg, const char *name, uint64_t *bytes);
/* Entries [0, n) of s were purged (the catalog committed without them):
 * unlink the archives of the cold ones from cfg's cold_dir. An archive
 * that cannot be removed is an error naming it; it stays outside the
 * store, which no longer names it. */
int sl_cold_purged(maintenance *m, const catalog_snapshot *s, size_t n, const char *stream, uint32_t p,
                   const siglog_stream_config *cfg);

#endif
