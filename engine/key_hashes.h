/*
 * key_hashes — the key hashes (keyfilter.h) of the events a writer
 * appended at consecutive offsets, kept so that the active segment's key
 * filter is built from them when it seals, instead of reading the whole
 * segment back under the partition lock.
 *
 * Invariant: v[i] is the hash of the key of the event at offset from + i,
 * for i < n, and every one of those events went (or goes, once written)
 * into the log at that offset. The list may start anywhere; when it does
 * not cover a segment that seals (events replayed from the journal or
 * written before the handle opened, a failed allocation, more than
 * KEY_HASHES_MAX events) the seal reads the segment back, as it would
 * without the list: the list is a shortcut, never the only way.
 */
#ifndef SIGLOG_KEY_HASHES_H
#define SIGLOG_KEY_HASHES_H

#include <stddef.h>
#include <stdint.h>

/* 64 MiB of hashes: a segment of more events is read back at its seal. */
#define KEY_HASHES_MAX ((size_t)8 << 20)

typedef struct key_hashes {
    uint64_t *v;
    size_t n, cap;
    uint64_t from;
} key_hashes;

/* The key of the event given offset. An offset that does not continue the
 * list (or no memory) empties it; the next one starts it again. */
void sl_key_hashes_note(key_hashes *k, uint64_t offset, const void *key, size_t len);
/* The offsets from `next` on were handed out again (their events dropped
 * before reaching the log): forget their hashes. */
void sl_key_hashes_cut(key_hashes *k, uint64_t next);
/* The hashes of offsets [base, end), when the list holds them all: a
 * pointer into the list (the caller may reorder those entries, which it
 * must drop next), else NULL. */
uint64_t *sl_key_hashes_range(key_hashes *k, uint64_t base, uint64_t end);
/* Forget the hashes of offsets below end (a segment sealed). */
void sl_key_hashes_drop_below(key_hashes *k, uint64_t end);
void sl_key_hashes_free(key_hashes *k);

#endif
