/*
 * key_hashes — a writer's key hashes by offset (key_hashes.h).
 */
#include "key_hashes.h"

#include <stdlib.h>
#include <string.h>

#include "keyfilter.h"

void sl_key_hashes_note(key_hashes *k, uint64_t offset, const void *key, size_t len)
{
    if (k->n && offset != k->from + k->n)
        k->n = 0;
    if (k->n == 0)
        k->from = offset;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 4096;
        uint64_t *v = cap <= KEY_HASHES_MAX ? realloc(k->v, cap * sizeof *v) : NULL;
        if (!v) {
            k->n = 0; /* the segment is read back at its seal */
            return;
        }
        k->v = v;
        k->cap = cap;
    }
    k->v[k->n++] = sl_keyfilter_hash(key, len);
}

void sl_key_hashes_cut(key_hashes *k, uint64_t next)
{
    if (next <= k->from)
        k->n = 0;
    else if (next - k->from < k->n)
        k->n = (size_t)(next - k->from);
}

uint64_t *sl_key_hashes_range(key_hashes *k, uint64_t base, uint64_t end)
{
    return k->from <= base && end <= k->from + k->n ? k->v + (base - k->from) : NULL;
}

void sl_key_hashes_drop_below(key_hashes *k, uint64_t end)
{
    if (end <= k->from)
        return;
    if (end - k->from >= k->n) {
        k->n = 0;
        return;
    }
    size_t drop = (size_t)(end - k->from);
    memmove(k->v, k->v + drop, (k->n - drop) * sizeof *k->v);
    k->n -= drop;
    k->from = end;
}

void sl_key_hashes_free(key_hashes *k)
{
    free(k->v);
    memset(k, 0, sizeof *k);
}
