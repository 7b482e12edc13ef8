/*
 * catalog_loss — recording in a partition's catalog that segments are
 * lost for good (siglog verify --repair --accept-loss; format-spec/FORMAT.md,
 * "Partition checkpoint", "Recorded loss").
 *
 * A segment whose .seg is gone while the catalog names it makes the
 * partition unusable: neither read nor appended to, so that no offset is
 * handed out twice (catalog.h). An operator who cannot restore the files
 * accepts the loss; the catalog then records it, and only then:
 *   - lost at the start: the log starts at the first segment that is there
 *     (a reader asking for less gets SIGLOG_EGAP, as after retention);
 *   - lost in the middle: the entries go, and the offsets between the
 *     entry before (its end) and the entry after (its base) are a recorded
 *     loss: a reader gets SIGLOG_EGAP naming them once, then goes on;
 *   - lost at the end (the active segment, and maybe sealed ones before
 *     it): the log goes on in a new, empty active segment at the larger of
 *     the next-offset floor and the lost active entry's end, so no offset
 *     the catalog knows was handed out is handed out again.
 * Invariant kept: a hole between two entries (end of one < base of the
 * next) exists only as a recorded loss; nothing else makes one.
 *
 * Acknowledged events the commit journal holds are not lost with the
 * segments: a writer's open leaves them in the journal, which it never
 * empties while it holds them (partition.h,
 * sl_partition_check_journal_release), and an accepted loss of the end
 * puts them into the new active segment (sl_catalog_loss_plan_journal):
 * the same batches at the same offsets, byte for byte.
 *
 * Protocol (the caller holds the store's writer lock, so no writer of the
 * tail runs): plan (read-only) → the caller records the plan in the audit
 * trail (an intent, audit.h) → accept: create the new active segment when
 * the end is lost, fill it from the journal and sync it, sync the
 * directory, then one catalog update. A crash before the update leaves
 * the catalog as it was (the partition still refuses to open, the next
 * run does it again; the journal still holds what the new segment did,
 * and its files are leftovers); after it, the loss is recorded.
 *
 * Only a version 2 catalog can record a loss: a version 1 file names no
 * segments, so what is gone cannot be told from what never was
 * (SIGLOG_EVERSION: a writer's open upgrades it once the files are back).
 * A partition that lost its catalog.ckpt altogether (while it holds more
 * than a fresh partition does, sl_catalog_check_required) is rebuilt
 * instead: the segments found are the log, its start the first one's
 * base, and every offset below that base is recorded as lost (a run
 * with no entries): from the floor file's log start (catalog_floor.h),
 * below which retention removed them, or from 0 without one, since then
 * nothing tells which of them retention removed and which went with the
 * file. When the floor file says the log went past the end of the last
 * segment found (the newest went with the file), the rebuild loses the
 * end too: the offsets from that end to the floor are a second run, every
 * segment found is sealed and the log goes on at the floor in a new
 * active segment, filled from the journal as any lost end is. The
 * rebuilt catalog's generation starts above the floor file's, so it is
 * newer than any a reader held.
 * A missing partition directory takes its catalog with it; the floor
 * file beside it (catalog_floor.h) still says where the log started and
 * which offsets it handed out. The caller makes the directory again
 * (empty, synced) and plans: a partition with no catalog.ckpt and no
 * segment whose floor file names offsets is planned as the loss of the
 * end, all of it (plan.recreated): the offsets from the floor file's log
 * start to its floor are the one lost run, the log goes on at the floor
 * (or lower, where the journal's batches continue it), so a crash after
 * the directory was made and before the catalog's write leaves a
 * partition that is refused again, never one that starts at offset 0.
 * Without a floor file (a store never opened by a writer since floor
 * files came) a missing directory cannot be accepted: restore it.
 */
#ifndef SIGLOG_CATALOG_LOSS_H
#define SIGLOG_CATALOG_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

/* One lost run of entries: offsets [from, to) and the entries' bases. */
typedef struct catalog_lost_run {
    uint64_t from, to;
    size_t first, count; /* entries of the plan's snapshot */
} catalog_lost_run;

typedef struct catalog_loss_plan {
    catalog_snapshot *snap;  /* the state planned from (a reference) */
    catalog_lost_run *runs;
    size_t run_count;
    int end_lost;            /* the last (active) entry is among them */
    int rebuild;             /* no catalog.ckpt: written from the listing */
    int recreated;           /* no catalog.ckpt, no segment: the floor
                              * file's offsets are the one lost run */
    uint64_t new_active_base; /* when end_lost: where the log goes on */
} catalog_loss_plan;

/* Which entries of c's current state have no .seg (read-only; sp: the
 * stream's segment parameters, to read a rebuild's last segment). A plan
 * with run_count 0 and rebuild 0: nothing is lost. SIGLOG_EVERSION for a
 * catalog that is a version 1 file, or no file in a fresh partition.
 * Free with sl_catalog_loss_plan_free. */
int sl_catalog_loss_plan(catalog *c, const segment_params *sp, catalog_loss_plan *out);
void sl_catalog_loss_plan_free(catalog_loss_plan *p);

/* The commit journal holds acknowledged batches of the partition with
 * offsets [from, end) (from >= end: none), which the writer's open did
 * not take since the partition was incomplete; the journal keeps them
 * until they are in a segment. When the plan loses the end and they
 * reach at least where it goes on, the log goes on where they can
 * continue it instead: at the larger of `from` and the first lost
 * offset, so they are put back (sl_catalog_loss_accept's fill) and only
 * what neither a segment nor the journal holds is lost (the last run may
 * become empty: nothing of it is lost then). Otherwise it goes on past
 * them: they are lost with the segments, their offsets never handed out
 * again. */
void sl_catalog_loss_plan_journal(catalog_loss_plan *p, uint64_t from, uint64_t end);

/* Puts into seg (empty, at the plan's new_active_base) the journal's
 * batches that continue it (sl_segment_append), before it is synced. */
typedef int (*catalog_loss_fill_fn)(void *ctx, segment *seg);

/* Record the plan's loss (see the protocol above): sp are the segment
 * parameters of a new active segment, which fill (NULL: none) fills
 * before it is synced; the catalog names it with its end, and the floor
 * goes up to that end. Its stem is "<base>.j<G>", G the generation of the
 * commit that names it, so that the files of an interrupted accept are
 * never taken for the log's: they are leftovers (catalog.h), and a run
 * at the same generation removes them first. SIGLOG_ELOCKED (nothing
 * written to the catalog) when another handle changed it since the
 * plan. */
int sl_catalog_loss_accept(catalog *c, const catalog_loss_plan *p, const segment_params *sp, catalog_loss_fill_fn fill,
                           void *fill_ctx);

#endif
