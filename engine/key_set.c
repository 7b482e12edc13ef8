/*
 * key_set — distinct key hashes in an open-addressed table (key_set.h).
 */
#include "key_set.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define KEY_SET_CAP_MIN 1024

/* Key hashes are XXH3 outputs, uniform in every bit: the low bits index
 * the table directly. */
static void insert_slot(uint64_t *slots, size_t cap, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (slots[i] && slots[i] != h)
        i = (i + 1) & (cap - 1);
    slots[i] = h;
}

static int grow(key_set *s)
{
    size_t cap = s->cap ? 2 * s->cap : KEY_SET_CAP_MIN;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory for %zu key hashes", cap);
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            insert_slot(slots, cap, s->slots[i]);
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int sl_key_set_add(key_set *s, uint64_t h)
{
    if (h == 0) {
        s->n += !s->has_zero;
        s->has_zero = 1;
        return 0;
    }
    /* Room for one more at three quarters full, counted before looking:
     * a repeat may grow the table one add early, never too late. */
    if (4 * (s->n + 1) > 3 * s->cap) {
        int rc = grow(s);
        if (rc)
            return rc;
    }
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slots[i]) {
        if (s->slots[i] == h)
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = h;
    s->n++;
    return 0;
}

void sl_key_set_each(const key_set *s, void (*fn)(void *arg, uint64_t h), void *arg)
{
    if (s->has_zero)
        fn(arg, 0);
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            fn(arg, s->slots[i]);
}

void sl_key_set_clear(key_set *s)
{
    if (s->n > (s->has_zero ? 1u : 0u))
        memset(s->slots, 0, s->cap * sizeof *s->slots);
    s->n = 0;
    s->has_zero = 0;
}

void sl_key_set_free(key_set *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}
