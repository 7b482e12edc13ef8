/*
 * partition — one ordered log: its segments, its open batch and the
 * batches sealed but not yet in its active segment.
 *
 * Offsets are dense from log_start_offset to next_offset. Writer state:
 *
 *   open batch  --seal-->  pending  --(commit: journal)-->  inflight
 *        records              sealed batches                  --> segment
 *
 * For a stream with sync policy NONE, pending goes straight to the segment
 * without the journal (at append, sl_partition_seal_lingering,
 * sl_partition_flush). For INTERVAL and ALWAYS, the commit leader (commit.c)
 * takes pending into inflight (sl_partition_take_pending), writes it to the
 * journal, syncs, then applies inflight to the segment
 * (sl_partition_apply_inflight). The policy is the partition's own copy of
 * its stream's settings (sl_partition_set_config).
 *
 * Published high-water mark (hwm_*): everything below it is in the active
 * segment's file (or in sealed segments) and durable under the stream's
 * policy; in-process cursors never read past it. Updated under `mu` after
 * the segment write, and copied then into the stream's hwm file (hwm.h)
 * for readers in other processes.
 *
 * Ownership and locking: the struct is private to partition.c, and its
 * lock `mu` guards every field of it but those fixed at open (directory,
 * id, I/O, the read-only `journaled` batches). Every operation below takes
 * `mu` itself, for as short as it can: appenders, the commit leader (one
 * partition at a time), the background scheduler and cursors (briefly,
 * for a snapshot) only call them. None waits for a commit while holding
 * it. Only the commit leader moves batches into and out of `inflight`
 * (sl_partition_take_pending .. sl_partition_apply_inflight), so those calls
 * never overlap for one partition.
 */
#ifndef SIGLOG_PARTITION_H
#define SIGLOG_PARTITION_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "batch.h"
#include "bytebuf.h"
#include "catalog.h"
#include "hwm.h"
#include "io.h"
#include "schema_usage.h"
#include "segment.h"

struct schema_registry;

/* What a partition works by: its stream's settings, whole (the table in
 * settings.h describes every field; nothing is copied field by field),
 * and the store's file mode. The partition keeps its own copy, changed
 * only by sl_partition_set_config. */
typedef struct partition_config {
    siglog_stream_config stream;
    uint32_t file_mode;
    /* The stream's schema versions: what a nonconforming event is judged
     * against under contract=warn (NULL: never judged). */
    struct schema_registry *schemas;
    int remove_leftovers; /* writer open: no maintenance runs, remove
                           * what an interrupted one left (maintenance.h) */
    int catalog_required; /* the stream's metadata is version 2: a
                           * partition holding segments has its catalog
                           * (sl_catalog_check_required) */
    /* What finds a cold entry's archive (cold.h): cold_dir lies outside
     * the store, so it is opened through the store's backend itself. */
    const siglog_io *backend;
    uint64_t store_id;
    char stream_name[SIGLOG_NAME_MAX + 1];
} partition_config;

/* A run of sealed batches, contiguous in offsets. */
typedef struct batch_run {
    bytebuf bytes;
    batch_meta *metas;
    size_t count, cap;
} batch_run;

/* What a reader may see, taken consistently under `mu`. Offsets from
 * journal_from to hwm_offset are served from the partition's `journaled`
 * batches (from batch journal_batch, at byte journal_pos of them), the
 * ones before from the segments; journal_from == hwm_offset when the
 * journal serves nothing. */
typedef struct partition_snapshot {
    uint64_t log_start_offset;
    uint64_t hwm_offset;        /* one past the last readable offset */
    uint64_t active_base;       /* base offset of the last segment */
    uint64_t active_bytes;      /* readable bytes of the last segment */
    int damaged;                /* it holds damage that must not be cut */
    uint64_t damage_pos;        /* read-only, when damaged: the invalid
                                 * batch's byte in the active segment */
    uint64_t damage_offset;     /* and the offset it should start at */
    uint64_t journal_from;
    size_t journal_batch;
    uint64_t journal_pos;
} partition_snapshot;

typedef struct partition partition;

/* Writer open: discover segments, check them against the catalog (a
 * missing directory or segment is SIGLOG_ECORRUPT naming it, nothing is
 * recreated, and the log never ends below the catalog's bound, so no
 * offset is handed out twice), recover the active segment's tail
 * (truncating a torn tail, reporting damage), ready to append. Damage (an
 * invalid batch followed by valid ones, or inside what the segment's
 * summary or the last checkpoint vouches for) is cut like a torn tail only
 * when the journal holds the partition from that offset on (journal_from
 * <= it): unsynced segment writes may reach the disk out of order, and the
 * journal replay puts them back. Otherwise the open succeeds with the
 * partition failed (SIGLOG_ECORRUPT, `damaged`): readable up to the damage
 * and past it, appends refused with SIGLOG_ECORRUPT and the detail,
 * nothing cut; the other partitions work. A partition the catalog finds
 * incomplete fails the same way, but serves nothing: reads get the detail
 * too.
 * Read-only open: remember the directory only. log(ctx, level, msg)
 * receives what recovery did. */
typedef void (*partition_log_fn)(void *ctx, int level, const char *msg);
int sl_partition_open(partition **out, const siglog_io *io, const char *dir, uint32_t id, const partition_config *cfg,
                   int writable, uint64_t journal_from, partition_log_fn log, void *log_ctx);
void sl_partition_close(partition *p);

/* What sl_partition_append_batches did, for the caller's durability wait. */
typedef struct partition_appended {
    uint32_t sync_policy;   /* the partition's, when it took the events */
    uint64_t pending_bytes; /* sealed batches waiting for a commit */
} partition_appended;

/* Encode events into the open batch, sealing full batches for the next
 * commit; offsets_out[i] gets each event's offset. A NONE partition
 * writes its sealed batches at once. Sizes must have been checked by the
 * caller. A damaged partition refuses with SIGLOG_ECORRUPT, a failed one
 * with SIGLOG_EFAILED, both with the cause as detail. */
int sl_partition_append_batches(partition *p, const siglog_event *const *events, size_t n, int64_t now_us,
                             uint64_t *offsets_out, partition_appended *out);
/* After a commit: 0 when every offset up to last_offset is published
 * (durable), else SIGLOG_EFAILED or SIGLOG_EIO saying why not. */
int sl_partition_check_published(partition *p, uint64_t last_offset);
/* One past the last published (durable) offset. */
uint64_t sl_partition_published_offset(partition *p);

/* The commit leader's side (commit.c). sl_partition_commit_begin seals the
 * open batch and sets *below to the next offset: the round takes the
 * batches below it. It sets 0 (nothing to take) for a failed partition or
 * one that does not use the journal. */
int sl_partition_commit_begin(partition *p, uint64_t *below);
/* sl_partition_take_pending's answer. */
typedef struct partition_take {
    const uint8_t *bytes;  /* taken: the inflight batches, valid until
                            * sl_partition_apply_inflight or _fail_inflight */
    size_t len;            /* bytes taken; 0 when none */
    int more;              /* pending still holds batches below `below` */
    uint32_t first_bytes;  /* nothing taken: the size of the first batch
                            * below `below` that did not fit, 0 if none */
} partition_take;
/* Move the longest prefix of the pending batches that starts below
 * `below` and fits in max_bytes into inflight (which must be empty). */
int sl_partition_take_pending(partition *p, uint64_t max_bytes, uint64_t below, partition_take *out);
/* Write inflight to the segment, roll if needed, publish. A write error
 * fails the partition (the batches are safe in the journal). */
int sl_partition_apply_inflight(partition *p);
/* The journal write of inflight failed: drop it and fail with code. */
void sl_partition_fail_inflight(partition *p, int code);
/* At a journal checkpoint, before the journal is emptied: fdatasync the
 * active segment if it was written since the last sync, then raise the
 * catalog's next-offset floor to the segment's end (one catalog write
 * per checkpoint when it moved; never per append), so offsets acknowledged
 * so far are never handed out again, even after an accepted loss of the
 * active segment. */
int sl_partition_journal_checkpoint(partition *p);
/* May the journal be emptied? SIGLOG_EFAILED (with detail) when the
 * partition failed after a journal commit (the journal may hold batches
 * its segment lacks), or when it was found incomplete at open (segments
 * missing) while the journal holds acknowledged batches of it: they stay
 * there until the files are back or the loss is accepted, which puts
 * them into the log (catalog_loss.h). A partition failed at open for
 * damage takes none (the open fails if the journal holds some). */
int sl_partition_check_journal_release(partition *p);

/* The writer's periodic work (store_tasks.c). A NONE partition seals and
 * writes an open batch older than its linger (mono_us: the I/O's
 * monotonic clock); a journaled one leaves it to the next commit. */
int sl_partition_seal_lingering(partition *p, int64_t mono_us);
/* Roll the active segment when it is past its size or age limit (wall_us:
 * the I/O's wall clock, as segments record their creation). */
int sl_partition_roll_if_old(partition *p, int64_t wall_us);
/* Roll the active segment now, whatever its size or age, when it holds
 * anything (a forget's writer, forget_roll.c: the events it must remove
 * are then in a sealed segment, which maintenance may rewrite). Only
 * with nothing appended but not yet written to the segment (right after
 * the writer's open): SIGLOG_ELIMIT otherwise, SIGLOG_EFAILED for a
 * failed partition. */
int sl_partition_roll_idle(partition *p);
/* Roll the active segment now when it holds anything, as a size roll
 * would, for a maintenance process's roll request (store_roll_request.c):
 * the caller runs it as the commit leader (sl_commit_exclusive), so no
 * batch is inflight; batches appended but not yet written go to the next
 * segment. SIGLOG_EFAILED for a failed or incomplete partition. */
int sl_partition_roll_asked(partition *p);
/* Pick up a newer catalog generation maintenance wrote (another
 * process, usually; a background task calls it, store_tasks.c): a
 * removed prefix moves the log start the writer reports and publishes in
 * the stream's hwm file then, not only at its next catalog write. Reads
 * only the file's header unless it changed. */
int sl_partition_catalog_poll(partition *p, int64_t now_us);
/* A NONE partition: seal the open batch and write it, with do_sync
 * fdatasync the segment. A journaled partition's batches go through the
 * commit (commit.c) only: it does nothing. */
int sl_partition_flush(partition *p, int do_sync);
/* At a clean close: sync the active segment, record in its summary that
 * all of it is durable (see sl_segment_checkpoint) and in the catalog that
 * the log reaches its next offset. */
int sl_partition_close_checkpoint(partition *p);
/* Rebuild the active segment's indexes from the segment (they were found
 * wrong: verify --repair). 0, PARTITION_INDEXES_REBUILT when the writer's
 * open rebuilt them already, PARTITION_NOT_OPEN when the partition holds
 * no active segment (found incomplete at open: the caller rebuilds them
 * from the file), or an error. */
enum { PARTITION_INDEXES_REBUILT = 1, PARTITION_NOT_OPEN = 2 };
int sl_partition_rebuild_indexes(partition *p);

/* Wait until `offset` is published (durable under the stream's policy,
 * see above), is found reissued (a failed NONE write dropped it and
 * handed its offset out again: SIGLOG_EFAILED), the
 * partition fails, or, for a partition that uses the journal,
 * *store_failed (NULL: not watched; read atomically) becomes non-zero,
 * or `until` (CLOCK_REALTIME; NULL: no limit) passes. Whoever sets
 * *store_failed must then call sl_partition_wake_waiters. Returns 0 once
 * durable, PARTITION_TIMED_OUT, PARTITION_STORE_FAILED (no detail set:
 * the caller knows the store's), SIGLOG_EINVAL for an offset never
 * appended, or SIGLOG_EFAILED with the partition's failure as detail. */
enum { PARTITION_TIMED_OUT = 1, PARTITION_STORE_FAILED = 2 };
int sl_partition_wait_durable(partition *p, uint64_t offset, const int *store_failed, const struct timespec *until);
/* A cursor at `offset` waits (at most until `until`) for it to be
 * published. 0 after waiting; 1 at once when this process does not write
 * the partition (the caller polls). */
int sl_partition_wait_beyond(partition *p, uint64_t offset, const struct timespec *until);
/* Wake every thread waiting on the published high-water mark. */
void sl_partition_wake_waiters(partition *p);
/* At open: the partition's journal commits cannot all be served (journal
 * damage): appends are refused and cursors fail, with detail. */
void sl_partition_fail_unservable(partition *p, const char *detail);
/* An unservable partition (found incomplete at open): one past the last
 * offset the journal held for it, which it did not take (0: none). Those
 * offsets were acknowledged: the journal keeps them, and a loss accepted
 * for it puts them into the log or goes on above them. */
uint64_t sl_partition_unserved_end(partition *p);
/* Append already-sealed batches found in the journal, skipping those the
 * segment holds already (recovery). A partition already failed as
 * unservable takes nothing (0). */
int sl_partition_replay(partition *p, const uint8_t *batches, size_t len);

/* Fixed at open. */
const char *sl_partition_path(const partition *p);
uint32_t sl_partition_id(const partition *p);
/* Failed at open for damage that must not be cut (see sl_partition_open). */
int sl_partition_damaged(const partition *p);
/* Read-only open: the batches its journal holds (see sl_partition_add_journaled),
 * immutable after open. */
const batch_run *sl_partition_journaled(const partition *p);
/* Its catalog as it is now (sl_catalog_snapshot_load), SIGLOG_ECORRUPT
 * when the stream requires a catalog.ckpt it lacks
 * (sl_catalog_check_required). */
int sl_partition_catalog_snapshot(const partition *p, catalog_snapshot **out);
/* 1 when cold entry e's archive carries a key filter that excludes key
 * hash h (sl_cold_filters_exclude): a reader looking for that key passes
 * over it unread; 0 otherwise. */
int sl_partition_cold_key_excluded(partition *p, const catalog_segment *e, uint64_t h);
/* Open one of its segments, as its catalog entry names it, for reading. */
int sl_partition_segment_open(partition *p, const catalog_segment *e, segment **out);
/* sl_catalog_missing_run on its directory. */
int sl_partition_segment_missing(const partition *p, const catalog_snapshot *cs, size_t i, size_t *after);

/* Read-only open: keep batches the journal holds for this partition
 * (whole checked batches), after those kept before. SIGLOG_ECORRUPT when
 * they do not continue them. One failed as unservable keeps nothing. */
int sl_partition_add_journaled(partition *p, const uint8_t *batches, size_t len);

/* Consistent view for a reader. Read-only partitions compute it from the
 * directory (scanning the last segment's tail) and check it against the
 * catalog's checkpoint: SIGLOG_ECORRUPT naming what is missing. Then they
 * serve the journaled batches beyond the segments' end, if any:
 * SIGLOG_ECORRUPT when those do not start right there (a writer's recovery
 * fails alike). allow_gaps (SIGLOG_CURSOR_ALLOW_GAPS): segments missing
 * at the start or the end are no error; the log start offset is then the
 * checkpoint's, so a cursor sees the hole and skips it. */
int sl_partition_snapshot_get(partition *p, partition_snapshot *out, int allow_gaps);
/* As sl_partition_snapshot_get, taking the last segment's end from the
 * writer's published mark (hint, read from the stream's hwm file; NULL:
 * none) instead of scanning its tail when the segment bytes confirm it
 * (sl_hwm_check_segment). */
int sl_partition_snapshot_hinted(partition *p, const hwm_mark *hint, partition_snapshot *out, int allow_gaps);

/* Writer: publish the mark to readers in other processes through h from
 * now on (the stream's hwm file; NULL: stop), starting with the current
 * one. */
void sl_partition_attach_hint(partition *p, hwm_file *h);

/* A live stream's settings changed (siglog_stream_config_set): the
 * partition works by c from now on. When its sync policy changes, what
 * was appended so far is written to the segment and synced first, so it
 * is durable whichever way the partition goes on: a journaled batch is
 * never left for a NONE partition to write unsynced, and a journaled
 * partition's recovery may trust everything before its first journal
 * entry (sl_partition_open). The caller holds the commit
 * (sl_commit_exclusive): nothing is inflight. A failed write or sync fails
 * the partition (the config is set all the same). */
int sl_partition_set_config(partition *p, const siglog_stream_config *c);

int sl_partition_info(partition *p, siglog_partition_info *out);

/* Schema usage (schema_usage.h). The writer's open loads the partition's
 * file (or starts from the log start when it is missing or damaged, with
 * a warning); batches written to the segment are accounted when they
 * continue what is accounted. At the store's open, before any append,
 * the caller reads the records from sl_partition_usage_covered to the
 * log's end back and hands each to sl_partition_usage_record, then calls
 * sl_partition_usage_caught_up with the offset it reached. */
uint64_t sl_partition_usage_covered(partition *p);
int sl_partition_usage_record(partition *p, const siglog_record *r);
void sl_partition_usage_caught_up(partition *p, uint64_t end);
/* A copy of the writer's figures. */
int sl_partition_usage_get(partition *p, schema_usage *out);

void sl_batch_run_clear(batch_run *r);
void sl_batch_run_free(batch_run *r);

#endif
