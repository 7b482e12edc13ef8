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
 * Protocol (the caller holds the store's writer lock, so no writer of the
 * tail runs): plan (read-only) → the caller records the plan in the audit
 * trail (an intent, audit.h) → accept: create and sync the new active
 * segment when the end is lost, sync the directory, then one catalog
 * update. A crash before the update leaves the catalog as it was (the
 * partition still refuses to open, the next run does it again; an empty
 * segment it created past the last entry is removed by sl_catalog_drop_unnamed_tail
 * first); after it, the loss is recorded.
 *
 * Only a version 2 catalog can record a loss: a version 1 file names no
 * segments, so what is gone cannot be told from what never was
 * (SIGLOG_EVERSION: a writer's open upgrades it once the files are back).
 * A partition that lost its catalog.ckpt altogether (while it holds more
 * than a fresh partition does, sl_catalog_check_required) is rebuilt
 * instead: the segments found are the log, its start the first one's
 * base, and every offset below that base is recorded as lost (the plan's
 * one run, with no entries), since nothing tells which of them retention
 * removed and which went with the file.
 * A missing partition directory takes its catalog with it: nothing says
 * which offsets it handed out, so it cannot be accepted (restore it).
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
    uint64_t new_active_base; /* when end_lost: where the log goes on */
} catalog_loss_plan;

/* Which entries of c's current state have no .seg (read-only). A plan
 * with run_count 0 and rebuild 0: nothing is lost. SIGLOG_EVERSION for a
 * catalog that is a version 1 file, or no file in a fresh partition.
 * Free with sl_catalog_loss_plan_free. */
int sl_catalog_loss_plan(catalog *c, catalog_loss_plan *out);
void sl_catalog_loss_plan_free(catalog_loss_plan *p);

/* When the plan loses the end: go on at `offset` if it is above where the
 * plan goes on (offsets handed out that the catalog does not know of:
 * those an unservable partition's journal held), the last run growing
 * up to it. */
void sl_catalog_loss_plan_resume_at(catalog_loss_plan *p, uint64_t offset);

/* Record the plan's loss (see the protocol above): sp are the segment
 * parameters of a new active segment. SIGLOG_ELOCKED (nothing written to
 * the catalog) when another handle changed it since the plan. */
int sl_catalog_loss_accept(catalog *c, const catalog_loss_plan *p, const segment_params *sp);

#endif
