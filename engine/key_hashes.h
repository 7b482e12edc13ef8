/*
 * key_hashes — the key hashes (keyfilter.h) of the events a writer
 * appends, kept so that the active segment's key filter is built from
 * them when it seals, instead of reading the whole segment back under the
 * partition lock.
 *
 * Two parts, split where the active segment ends:
 *   - `written`: the distinct hashes of offsets [from, tail_from), events
 *     that reached the active segment. A set, not a list: its memory
 *     follows the segment's distinct keys, not its events.
 *   - `tail`: tail[i] is the hash of the event at offset tail_from + i,
 *     for i < n, events handed out but not yet written (in the open batch,
 *     pending or in flight). Kept one per offset because these offsets may
 *     still be handed out again (a failed write drops them).
 * sl_key_hashes_written moves the tail's front into the set as the
 * segment grows, so the list stays as short as what is unwritten.
 *
 * Invariant: the set holds exactly the keys of the events at offsets
 * [from, tail_from) of the log, and tail[i] the key of the event at
 * tail_from + i; from == KEY_HASHES_UNKNOWN when the set lost some (a
 * failed allocation, more than KEY_HASHES_DISTINCT_MAX). When the parts do not cover a segment that seals
 * (events replayed from the journal or written before the handle opened,
 * no memory) the seal reads the segment back, as it would without them:
 * the hashes are a shortcut, never the only way.
 */
#ifndef SIGLOG_KEY_HASHES_H
#define SIGLOG_KEY_HASHES_H

#include <stddef.h>
#include <stdint.h>

#include "key_set.h"

/* 64 MiB of unwritten hashes: more and the list starts again. */
#define KEY_HASHES_MAX ((size_t)8 << 20)
/* A segment of more distinct keys (a table of up to 64 MiB) is read back
 * at its seal instead. */
#define KEY_HASHES_DISTINCT_MAX ((size_t)4 << 20)
#define KEY_HASHES_UNKNOWN UINT64_MAX

typedef struct key_hashes {
    key_set written;
    uint64_t from;
    uint64_t *tail;
    size_t n, cap;
    uint64_t tail_from;
} key_hashes;

/* The key of the event given offset. An offset that does not continue the
 * tail (or no memory) starts both parts again at the next one. */
void sl_key_hashes_note(key_hashes *k, uint64_t offset, const void *key, size_t len);
/* The events below `upto` reached the active segment: their hashes join
 * its set. */
void sl_key_hashes_written(key_hashes *k, uint64_t upto);
/* The offsets from `next` on were handed out again (their events dropped
 * before reaching the log): forget their hashes. */
void sl_key_hashes_cut(key_hashes *k, uint64_t next);
/* The distinct key hashes of offsets [base, end), the segment that seals,
 * when the set holds exactly those: the set, else NULL. */
const key_set *sl_key_hashes_segment(key_hashes *k, uint64_t base, uint64_t end);
/* The segment ending at `end` sealed: forget every hash below end; the
 * set starts again for the next segment. */
void sl_key_hashes_sealed(key_hashes *k, uint64_t end);
void sl_key_hashes_free(key_hashes *k);

#endif
