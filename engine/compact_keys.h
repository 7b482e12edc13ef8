/*
 * compact_keys — which keyed records key compaction keeps, in bounded
 * memory: the verdict of compact.h's rule (a key's newest record stays,
 * unless it is a tombstone older than now - tombstone_retention).
 *
 * The key map holds one entry per distinct key (its bytes and about 48
 * bytes). When it fits kp->memory_bytes, it answers directly. When it
 * does not, the keys are split into P classes by hash (P doubling until
 * each class fits) and each class is mapped in a pass of its own over
 * the segments; a pass writes the offsets its class keeps, sorted, as one
 * run to a spill file, and the map is freed before the next pass. The
 * runs are then merged as the caller asks about records in offset order,
 * each through a buffer of its share of the budget.
 *
 * The spill file is created in kp->spill_dir through kp->io (so inside
 * the store, by the jail's rules) as SPILL_FILE and unlinked at once:
 * only its descriptor names it, so it goes when the process does,
 * however it ends. A file of that name left by a process killed between
 * the two calls is replaced by the next spill in that directory.
 */
#ifndef SIGLOG_COMPACT_KEYS_H
#define SIGLOG_COMPACT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "compact.h"

#define COMPACT_SPILL_FILE "compact-keys.spill.tmp"

typedef struct key_verdicts key_verdicts;

/* The verdicts for every keyed record of segs[0..n) (consecutive, in
 * offset order): segs[0..sealed) are sealed, the rest the writer's, read
 * up to their last whole batch (the active one may be half way through
 * writing its next). SIGLOG_ENOMEM only when a single key does not fit
 * the budget. */
int sl_key_verdicts_build(segment *const *segs, size_t n, size_t sealed, const compact_keys_params *kp,
                          key_verdicts **out);

/* 1 when keyed record r stays, 0 when it goes, or a SIGLOG_E* error.
 * Asked in increasing offset order (the order of the segments). */
int sl_key_verdicts_keep(key_verdicts *v, const siglog_record *r);

/* The most memory the key map and the run buffers held at once, and how
 * many passes mapped the keys (1: no spill). */
uint64_t sl_key_verdicts_peak_bytes(const key_verdicts *v);
uint32_t sl_key_verdicts_passes(const key_verdicts *v);

void sl_key_verdicts_free(key_verdicts *v);

#endif
