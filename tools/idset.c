/*
 * idset — a set of strings (idset.h).
 */
#include "idset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t hash(const char *text)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *text; text++)
        h = (h ^ (unsigned char)*text) * 1099511628211u;
    return (size_t)(h ^ h >> 32);
}

/* The slot holding text, or the empty one where it would go. */
static size_t find(char *const *slots, size_t cap, const char *text)
{
    size_t i = hash(text) & (cap - 1);
    while (slots[i] && strcmp(slots[i], text) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

int idset_has(const idset *s, const char *text)
{
    return s->cap && s->slots[find(s->slots, s->cap, text)] != NULL;
}

static int grow(idset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    char **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            slots[find(slots, cap, s->slots[i])] = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int idset_add(idset *s, const char *text)
{
    if ((s->count + 1) * 2 > s->cap && grow(s) != 0)
        return -1;
    size_t i = find(s->slots, s->cap, text);
    if (s->slots[i])
        return 0;
    if (!(s->slots[i] = strdup(text)))
        return -1;
    s->count++;
    return 0;
}

void idset_clear(idset *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->slots[i]);
        s->slots[i] = NULL;
    }
    s->count = 0;
}

void idset_free(idset *s)
{
    idset_clear(s);
    free(s->slots);
    s->slots = NULL;
    s->cap = 0;
}
