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
 * (partition_write_pending) without the journal. For INTERVAL and ALWAYS,
 * the commit leader (commit.c) takes pending into inflight, writes it to the
 * journal, syncs, then applies inflight to the segment
 * (partition_apply_inflight).
 *
 * Published high-water mark (hwm_*): everything below it is in the active
 * segment's file (or in sealed segments) and durable under the stream's
 * policy; in-process cursors never read past it. Updated under `mu` after
 * the segment write.
 *
 * Locking: `mu` guards everything here. It is taken by appenders, by the
 * commit leader (one partition at a time) and briefly by cursors for a
 * snapshot. Never hold it while waiting for a commit.
 */
#ifndef SIGLOG_PARTITION_H
#define SIGLOG_PARTITION_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "batch.h"
#include "bytebuf.h"
#include "catalog.h"
#include "io.h"
#include "segment.h"

typedef struct partition_config {
    uint32_t compression;
    uint32_t sync_policy;
    uint64_t segment_bytes_max;
    uint64_t segment_age_max_us;
    uint32_t batch_bytes_max;
    uint32_t linger_us;
    uint32_t index_interval_bytes;
    uint32_t file_mode;
    uint32_t dir_mode;
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
    uint64_t journal_from;
    size_t journal_batch;
    uint64_t journal_pos;
} partition_snapshot;

typedef struct partition {
    pthread_mutex_t mu;
    pthread_cond_t published;   /* broadcast when the hwm moves */
    const siglog_io *io;
    const partition_config *cfg;
    char *dir;
    uint32_t id;
    int writable;

    segment *active;            /* writer: the last segment; NULL read-only */
    catalog *cat;               /* writer: log start and bounds, persisted */
    uint64_t next_offset;       /* next offset to assign */

    batch_builder open;
    batch_run pending;
    batch_run inflight;
    int dirty;                  /* active segment written since last sync */

    /* NONE only: the offsets a failed segment write dropped and handed
     * out again (the hull of every such drop; empty when equal). An event
     * at such an offset may be the dropped one or its successor, so its
     * durability can never be confirmed (partition_wait_published_locked). */
    uint64_t reissued_from, reissued_to;

    int failed;                 /* SIGLOG code; appends refused once set */
    char failed_detail[512];
    int damaged;                /* failed at open: damage that must not be
                                 * cut (see partition_open) */
    int unservable;             /* journal damage, or a log its catalog
                                 * finds incomplete: cursors fail too, with
                                 * failed_detail (set at open only) */

    partition_snapshot hwm;

    /* Read-only: the batches a writer-less store's journal holds for this
     * partition (checked, in offset order), filled at open and immutable
     * afterwards, so cursors read them without the lock. Those the
     * segments lack are served from here: what a writer's recovery would
     * put into the segments (DESIGN.md, "Write path"). */
    batch_run journaled;
} partition;

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
int partition_open(partition **out, const siglog_io *io, const char *dir, uint32_t id, const partition_config *cfg,
                   int writable, uint64_t journal_from, partition_log_fn log, void *log_ctx);
void partition_close(partition *p);

/* Under mu: encode events into the open batch, sealing full batches into
 * pending; offsets_out[i] gets each event's offset. Sizes must have been
 * checked by the caller. */
int partition_append_locked(partition *p, const siglog_event *const *events, size_t n, int64_t now_us,
                            uint64_t *offsets_out);
/* Under mu: seal the open batch (if any records) into pending. */
int partition_seal_open_locked(partition *p);
/* Under mu: write pending to the active segment (policy NONE), roll if
 * needed, publish. On a write error the partial write is trimmed and the
 * pending batches are dropped (they were never promised durable). */
int partition_write_pending_locked(partition *p);
/* Under mu: move the longest prefix of pending batches that starts below
 * offset `below` and fits in max_bytes into inflight (which must be
 * empty). Returns the bytes moved (0 if even the first does not fit). */
uint64_t partition_take_pending_locked(partition *p, uint64_t max_bytes, uint64_t below);
/* Under mu: write inflight to the segment, roll if needed, publish. */
int partition_apply_inflight_locked(partition *p);
/* Under mu: roll if the active segment is over its size or age limit. */
int partition_maybe_roll_locked(partition *p, int64_t now_us);
/* Under mu, at a clean close: sync the active segment, record in its
 * summary that all of it is durable (see segment_checkpoint) and in the
 * catalog that the log reaches its next offset. */
int partition_close_checkpoint_locked(partition *p);
/* Under mu: fdatasync the active segment if dirty. */
int partition_sync_locked(partition *p);
/* Under mu: enter the failed state with code and the current detail, and
 * wake the threads waiting for durability (they must not wait forever). */
void partition_fail_locked(partition *p, int code);
/* Under mu: rebuild the active segment's indexes from the segment (they
 * were found wrong: verify --repair). 0, 1 when the writer's open rebuilt
 * them already, or an error. */
int partition_rebuild_indexes_locked(partition *p);
/* Under mu: wait until `offset` is below the published high-water mark
 * (durable under the stream's policy, see above), is found reissued (see
 * reissued_from: SIGLOG_EFAILED), the partition fails, or
 * *store_failed (NULL: not watched; read atomically) becomes non-zero, or
 * `until` (CLOCK_REALTIME; NULL: no limit) passes. Whoever sets
 * *store_failed must then call partition_wake_waiters. Returns 0 once
 * durable, PARTITION_TIMED_OUT, PARTITION_STORE_FAILED (no detail set:
 * the caller knows the store's) or SIGLOG_EFAILED with the partition's
 * failure as detail. */
enum { PARTITION_TIMED_OUT = 1, PARTITION_STORE_FAILED = 2 };
int partition_wait_published_locked(partition *p, uint64_t offset, const int *store_failed,
                                    const struct timespec *until);
/* Take mu and wake every thread waiting on the published high-water mark. */
void partition_wake_waiters(partition *p);
/* At open: the partition's journal commits cannot all be served (journal
 * damage): appends are refused and cursors fail, with detail. */
void partition_fail_unservable(partition *p, const char *detail);
/* Under mu: append already-sealed batches found in the journal, skipping
 * those the segment holds already (recovery). */
int partition_replay_locked(partition *p, const uint8_t *batches, size_t len);

/* Read-only open: keep batches the journal holds for this partition
 * (whole checked batches), after those kept before. SIGLOG_ECORRUPT when
 * they do not continue them. */
int partition_add_journaled(partition *p, const uint8_t *batches, size_t len);

/* Consistent view for a reader. Read-only partitions compute it from the
 * directory (scanning the last segment's tail) and check it against the
 * catalog's checkpoint: SIGLOG_ECORRUPT naming what is missing. Then they
 * serve the journaled batches beyond the segments' end, if any:
 * SIGLOG_ECORRUPT when those do not start right there (a writer's recovery
 * fails alike). allow_gaps (SIGLOG_CURSOR_ALLOW_GAPS): segments missing
 * at the start or the end are no error; the log start offset is then the
 * checkpoint's, so a cursor sees the hole and skips it. */
int partition_snapshot_get(partition *p, partition_snapshot *out, int allow_gaps);

int partition_info(partition *p, siglog_partition_info *out);

/* Sorted base offsets of the segments in a partition directory. */
int partition_list_segments(const siglog_io *io, const char *dir, uint64_t **bases, size_t *count);

void batch_run_clear(batch_run *r);
void batch_run_free(batch_run *r);

#endif
