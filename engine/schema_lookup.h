/*
 * schema_lookup — a definition node's names compiled once for the
 * append-time scan (schema_scan.h): its property names and its enum's
 * string values in open-addressed hash tables, and its required
 * properties as a bit mask, so that judging an object member or an enum
 * string costs one hash of the bytes as they stand in the event and
 * (almost always) one comparison, with no allocation and no jansson.
 *
 * Built by the definition parser (schema_def.c) for every node that has
 * properties or an enum, freed with it, read only afterwards: any number
 * of threads may look up at once. The tables answer exactly what the
 * sorted property array (sl_schema_node_property_n) and the enum's JSON
 * strings answer; the validate_event fuzzer checks that they agree.
 */
#ifndef SIGLOG_SCHEMA_LOOKUP_H
#define SIGLOG_SCHEMA_LOOKUP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct schema_node schema_node;

/* A name's two words: its first and last 8 bytes when it has 8 or more
 * (overlapping below 16), its first and last 4 when it has 4 to 7, its
 * first, middle and last byte when it has 1 to 3, zero when empty. For a
 * name of at most 16 bytes the words cover every byte, so two names of
 * one length up to 16 are equal exactly when their words are. */
typedef struct schema_name_words {
    uint64_t head, tail;
} schema_name_words;

/* One slot of a table: the full hash, the length, the name's words and
 * its bytes (borrowed from the node, which outlives the table). */
typedef struct schema_lookup_slot {
    uint64_t head, tail;
    const char *text; /* NULL: empty */
    uint32_t len;
    uint32_t hash;
    long index;
} schema_lookup_slot;

/* A power of two of slots at most a quarter full, probed linearly from
 * the name's hash: a member an open object does not name is a miss,
 * which probes to an empty slot, about 1.4 slots at a quarter where it
 * was 2.5 at a half. */
typedef struct schema_lookup_table {
    schema_lookup_slot *slots; /* NULL: no names */
    uint32_t mask;             /* slot count - 1 */
} schema_lookup_table;

/* The layout is here, not in schema_lookup.c, so that the scan inlines
 * the probe: a lookup was a call of a call (the table, then the words),
 * and the saving and restoring of registers around them cost about as
 * much as the probe itself (callgrind: ~70 instructions a member). */
typedef struct schema_lookup {
    schema_lookup_table props;        /* property name -> index in n->props */
    schema_lookup_table enum_strings; /* enum string values (index unused) */
    uint64_t required;                /* bit i: props[i] is required (i < 64) */
    int required_untracked;           /* a required property at index 64 or more */
} schema_lookup;

/* n's tables into n->lookup (NULL when n has neither properties nor an
 * enum). 0, or SIGLOG_ENOMEM with the detail set. */
int sl_schema_lookup_build(schema_node *n);
void sl_schema_lookup_free(schema_lookup *l);

/* The words are read with fixed-size loads, which compile to plain moves
 * where a copy of a variable length would be a call of memcpy. */
static inline schema_name_words sl_schema_name_words(const unsigned char *p, size_t len)
{
    schema_name_words w = { 0, 0 };
    if (len >= 8) {
        memcpy(&w.head, p, 8);
        memcpy(&w.tail, p + len - 8, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + len - 4, 4);
        w.head = a;
        w.tail = b;
    } else if (len > 0)
        w.head = (uint64_t)p[0] | (uint64_t)p[len / 2] << 8 | (uint64_t)p[len - 1] << 16;
    return w;
}

/* The words and the length, mixed: a fixed few operations whatever the
 * name's length. Names alike there only probe further; the words (or
 * memcmp, past 16 bytes) decide. */
static inline uint32_t sl_schema_name_hash(schema_name_words w, size_t len)
{
    uint64_t h = (w.head * UINT64_C(0x9E3779B97F4A7C15)) ^ (w.tail * UINT64_C(0xC2B2AE3D27D4EB4F)) ^ len;
    h ^= h >> 29;
    return (uint32_t)(h ^ h >> 32);
}

/* The index kept with the name text[0..len) in t, or -1. */
static inline long sl_schema_lookup_table_get(const schema_lookup_table *t, const void *text, size_t len)
{
    if (!t->slots)
        return -1;
    schema_name_words w = sl_schema_name_words(text, len);
    uint32_t h = sl_schema_name_hash(w, len);
    for (uint32_t i = h & t->mask; t->slots[i].text; i = (i + 1) & t->mask) {
        const schema_lookup_slot *s = &t->slots[i];
        if (s->hash == h && s->len == len && s->head == w.head && s->tail == w.tail &&
            (len <= 16 || memcmp(s->text, text, len) == 0))
            return s->index;
    }
    return -1;
}

/* The index in n->props of the property named by text[0..len), or -1.
 * l may be NULL (no properties). */
static inline long sl_schema_lookup_property(const schema_lookup *l, const void *text, size_t len)
{
    return l ? sl_schema_lookup_table_get(&l->props, text, len) : -1;
}

/* Whether text[0..len) (a string's bytes, no escapes) is one of the
 * enum's string values. 0 when the node has no enum. */
static inline int sl_schema_lookup_enum_string(const schema_lookup *l, const void *text, size_t len)
{
    return l && sl_schema_lookup_table_get(&l->enum_strings, text, len) >= 0;
}

/* Whether seen (bit i: property i present) holds every required
 * property. 0 also when a required property's index is 64 or more: the
 * mask cannot say, the caller must not conclude it is present. */
static inline int sl_schema_lookup_required_seen(const schema_lookup *l, uint64_t seen)
{
    return !l || (!l->required_untracked && (seen & l->required) == l->required);
}

#endif
