/*
 * key_set — a set of distinct key hashes (keyfilter.h), what a segment's
 * key filter is built from: the filter depends only on which hashes are
 * in the set (its size on how many), never on their order or repeats, so
 * a set gathered while appending and one gathered by reading the segment
 * back give the same file.
 *
 * Open addressing with linear probing over a power-of-two table, at most
 * three quarters full; 0 marks an empty slot, so the hash 0 is kept in a
 * flag beside the table. Memory follows the distinct keys, not the events:
 * a segment of millions of events over a few thousand keys costs a table
 * of a few thousand slots.
 */
#ifndef SIGLOG_KEY_SET_H
#define SIGLOG_KEY_SET_H

#include <stddef.h>
#include <stdint.h>

typedef struct key_set {
    uint64_t *slots; /* cap entries, 0 = empty */
    size_t cap;      /* a power of two, or 0 before the first add */
    size_t n;        /* distinct hashes held, the zero hash included */
    int has_zero;
} key_set;

/* Add h. SIGLOG_ENOMEM when the table cannot grow: the set is
 * unchanged. */
int sl_key_set_add(key_set *s, uint64_t h);
/* Call fn(arg, h) once for each hash held, in no particular order. */
void sl_key_set_each(const key_set *s, void (*fn)(void *arg, uint64_t h), void *arg);
/* Empty the set, keeping its table for reuse. */
void sl_key_set_clear(key_set *s);
void sl_key_set_free(key_set *s);

#endif
