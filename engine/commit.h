/*
 * commit — group commit through the journal (DESIGN.md, "Write path").
 *
 * Appenders add sealed batches to their partitions' pending runs, then ask
 * for a commit round that starts after their data was added. One thread at
 * a time is the leader: it gathers every durable partition's pending
 * batches, writes them to the journal with one write and one fdatasync,
 * then writes them to their segments and publishes the new high-water
 * marks. Threads that asked meanwhile wait, and the next round covers all
 * of them at once: one fdatasync for everybody.
 *
 * When the journal is full, the leader checkpoints: it syncs every segment
 * written since the last checkpoint (in parallel) and starts a new journal
 * generation.
 *
 * A failed journal write or sync puts the store in the failed state: every
 * later durable append returns SIGLOG_EFAILED with the original cause.
 */
#ifndef SIGLOG_COMMIT_H
#define SIGLOG_COMMIT_H

#include "store.h"

/* The commit state of a writer's store, private to commit.c: the round
 * counters, the leader flag, the waiters and the store's failure. Its
 * own lock guards it; no partition lock is ever taken while holding it,
 * and it is never taken while holding one. */
typedef struct commit commit;

commit *sl_commit_new(void);
void sl_commit_free(commit *c);

/* An ALWAYS appender brackets its encoding with these: a new commit
 * leader waits briefly for appenders still encoding (wait_for_siblings). */
void sl_commit_appender_enter(commit *c);
void sl_commit_appender_leave(commit *c);

/* The store's failure after a journal write or sync failed: a SIGLOG
 * code, 0 while it works. The flag may be read atomically without a lock
 * (sl_partition_wait_durable watches it); the detail is copied under the
 * commit's lock. */
int sl_commit_failed(const commit *c);
const int *sl_commit_failed_flag(const commit *c);
void sl_commit_failed_detail(commit *c, char *buf, size_t len);

/* Return once a commit round that started after this call has finished.
 * 0, or the round's error / SIGLOG_EFAILED. */
int sl_commit_sync(struct siglog *s);
/* Run fn(ctx) as the commit leader: no commit round or checkpoint runs
 * meanwhile (those that were asked for wait and run after), so no
 * partition has batches inflight. Returns fn's value. */
int sl_commit_exclusive(struct siglog *s, int (*fn)(void *ctx), void *ctx);
/* Sync all durable partitions' segments and empty the journal. Caller
 * must be the leader or the only thread (open, close). */
int sl_commit_checkpoint(struct siglog *s);
/* sl_commit_checkpoint at a clean close: each journaled partition's
 * close checkpoint (sl_partition_close_checkpoint: segment synced, its
 * summary, one catalog write with the floor and the active entry's
 * versions, the schema usage) before the journal is emptied, where a
 * journal checkpoint followed by a close checkpoint wrote the catalog and
 * its floor twice. Only thread (close). */
int sl_commit_close_checkpoint(struct siglog *s);

#endif
