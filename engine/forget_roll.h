/*
 * forget_roll — the active segments a forget must seal before it can
 * remove their events (siglog_forget, "the active segment, rolled
 * first").
 *
 * Maintenance never touches an active segment: the writer owns it, its
 * tail, its indexes and the journal that vouches for it. So a forget
 * whose keys have events in an active segment rolls it through the
 * writer's own protocol: it opens the store as its writer (recovery puts
 * whatever the journal holds into the segments; with the maintenance
 * handle's force_owner, so that a run as another user writes as the
 * owner), rolls each partition it names exactly as a size or age roll
 * would (seal, sync, next segment, catalog roll: crash-safe as every roll
 * is) and closes. The events are
 * then in a sealed segment, which the forget rewrites as any other.
 *
 * That needs the writer's lock: when a writer has the store (another
 * process, or this one), nothing is changed and SIGLOG_ELIMIT says so,
 * naming the holder; that writer seals the segment at segment_bytes_max
 * or segment_age_max_us, and a forget run then finds it sealed.
 */
#ifndef SIGLOG_FORGET_ROLL_H
#define SIGLOG_FORGET_ROLL_H

#include <stddef.h>
#include <stdint.h>

#include "maintenance.h"

/* Roll the active segment of each partition parts[0..n) of stream
 * `stream` (those holding anything) as the store's writer, through the
 * I/O m was opened with. SIGLOG_ELIMIT (nothing changed) when a writer
 * has the store; the writer's open and roll errors otherwise. */
int sl_forget_roll(maintenance *m, const char *stream, const uint32_t *parts, size_t n);

#endif
