/*
 * idset — a set of strings (message ids), for `siglog pull` to tell a
 * message it stored already from a new one. Open addressing with linear
 * probing, grown at half full; the set owns copies of its strings.
 */
#ifndef SIGLOG_IDSET_H
#define SIGLOG_IDSET_H

#include <stddef.h>

typedef struct idset {
    char **slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
} idset;

/* Whether text is in the set. */
int idset_has(const idset *s, const char *text);
/* Add a copy of text (nothing when it is there). 0, or -1 out of memory. */
int idset_add(idset *s, const char *text);
/* Empty the set (keeping its table). */
void idset_clear(idset *s);
void idset_free(idset *s);

#endif
