/*
 * forget_roll — the active segments a forget must seal before it can
 * remove their events (siglog_forget, "the active segment, rolled
 * first"), and the commit journal's old bytes it must see zeroed.
 *
 * Maintenance never touches an active segment or the journal: the writer
 * owns them. So a forget whose keys have events in an active segment has
 * it rolled through the writer's own protocol, and the events are then
 * in a sealed segment, which the forget rewrites as any other:
 *   - when no writer has the store, the forget opens it as its writer
 *     (recovery puts whatever the journal holds into the segments; with
 *     the maintenance handle's force_owner, so that a run as another user
 *     writes as the owner), rolls each partition it names exactly as a
 *     size or age roll would and closes; the journal is scrubbed at the
 *     forget's end (sl_journal_scrub_idle);
 *   - when a writer has the store (another process), the forget asks it
 *     (roll_request.h): it notes each named partition's catalog
 *     generation, writes streams/NAME/roll.request and waits, at most the
 *     caller's wait, for the writer to remove it, which it does after
 *     rolling those partitions, checkpointing and zeroing its journal's
 *     old bytes (store_roll_request.c). Then the catalog each named
 *     partition's writer published must have the segment the forget saw
 *     active sealed (by that roll, or a size or age roll before it: the
 *     writer rolls only a segment that holds something). A writer that
 *     does not answer in time gets its request withdrawn and the forget
 *     fails with SIGLOG_ELIMIT naming what it waited for, before it has
 *     changed anything. The same request with no partition asks only for
 *     the scrub, when no active segment holds the keys.
 */
#ifndef SIGLOG_FORGET_ROLL_H
#define SIGLOG_FORGET_ROLL_H

#include <stddef.h>
#include <stdint.h>

#include "maintenance.h"

/* Roll the active segment of each partition parts[0..n) of stream
 * `stream` (those holding anything; bases[i]: where the forget saw
 * parts[i]'s active segment start), as the store's writer through the
 * I/O m was opened with, or by asking the live writer and waiting up to
 * wait_ms for its answer, which scrubs the journal too (*scrubbed 1).
 * With n 0, only a live writer is asked, for the scrub. SIGLOG_ELIMIT,
 * nothing changed, when the writer did not answer in time; the writer's
 * open and roll errors otherwise. */
int sl_forget_roll(maintenance *m, const char *stream, const uint32_t *parts, const uint64_t *bases, size_t n,
                   uint32_t wait_ms, int *scrubbed);

#endif
