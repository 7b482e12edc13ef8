/*
 * key_hashes — a writer's key hashes by offset (key_hashes.h).
 */
#include "key_hashes.h"

#include <stdlib.h>
#include <string.h>

#include "keyfilter.h"

/* Start both parts again at offset `at`: nothing below it is known. */
static void restart(key_hashes *k, uint64_t at)
{
    sl_key_set_clear(&k->written);
    k->from = k->tail_from = at;
    k->n = 0;
}

void sl_key_hashes_note(key_hashes *k, uint64_t offset, const void *key, size_t len)
{
    if (offset != k->tail_from + k->n)
        restart(k, offset);
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 4096;
        uint64_t *v = cap <= KEY_HASHES_MAX ? realloc(k->tail, cap * sizeof *v) : NULL;
        if (!v) {
            restart(k, offset + 1); /* this segment is read back at its seal */
            return;
        }
        k->tail = v;
        k->cap = cap;
    }
    k->tail[k->n++] = sl_keyfilter_hash(key, len);
}

/* Drop the tail's first `count` entries. */
static void tail_drop_front(key_hashes *k, size_t count)
{
    if (k->n > count) /* an empty tail may have no array at all */
        memmove(k->tail, k->tail + count, (k->n - count) * sizeof *k->tail);
    k->n -= count;
    k->tail_from += count;
}

void sl_key_hashes_written(key_hashes *k, uint64_t upto)
{
    if (upto <= k->tail_from)
        return;
    size_t count = upto - k->tail_from < k->n ? (size_t)(upto - k->tail_from) : k->n;
    for (size_t i = 0; i < count && k->from != KEY_HASHES_UNKNOWN; i++)
        if (k->written.n >= KEY_HASHES_DISTINCT_MAX || sl_key_set_add(&k->written, k->tail[i]) != 0) {
            sl_key_set_free(&k->written); /* give its memory back: read back at the seal */
            k->from = KEY_HASHES_UNKNOWN;
        }
    tail_drop_front(k, count);
}

void sl_key_hashes_cut(key_hashes *k, uint64_t next)
{
    if (next < k->tail_from)
        restart(k, next);
    else if (next - k->tail_from < k->n)
        k->n = (size_t)(next - k->tail_from);
}

const key_set *sl_key_hashes_segment(key_hashes *k, uint64_t base, uint64_t end)
{
    sl_key_hashes_written(k, end);
    return k->from == base && k->tail_from == end ? &k->written : NULL;
}

void sl_key_hashes_sealed(key_hashes *k, uint64_t end)
{
    if (end > k->tail_from) {
        uint64_t below = end - k->tail_from;
        tail_drop_front(k, below < k->n ? (size_t)below : k->n);
        k->tail_from = end;
    }
    sl_key_set_clear(&k->written);
    k->from = k->tail_from;
}

void sl_key_hashes_free(key_hashes *k)
{
    sl_key_set_free(&k->written);
    free(k->tail);
    memset(k, 0, sizeof *k);
}
