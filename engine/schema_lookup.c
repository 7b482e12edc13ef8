/*
 * schema_lookup — hashed names of a definition node; see schema_lookup.h.
 *
 * A table is a power of two of slots at most half full, probed linearly
 * from the name's hash; a slot holds the full hash, the length, the
 * name's words (name_words) and its bytes (borrowed from the node, which
 * outlives the table). A name of up to 16 bytes is compared by its two
 * words alone, so a lookup of the short names events are made of makes
 * no call: the words are read with fixed-size loads, which compile to
 * plain moves where a copy of a variable length was a call of memcpy.
 */
#include "schema_lookup.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "schema_def.h"
#include "siglog.h"

typedef struct slot {
    uint64_t head, tail; /* name_words of the name */
    const char *text;    /* NULL: empty */
    uint32_t len;
    uint32_t hash;
    long index;
} slot;

typedef struct table {
    slot *slots;
    uint32_t mask; /* slot count - 1 */
} table;

struct schema_lookup {
    table props;           /* property name -> index in n->props */
    table enum_strings;    /* enum string values (index unused) */
    uint64_t required;     /* bit i: props[i] is required (i < 64) */
    int required_untracked; /* a required property at index 64 or more */
};

/* A name's two words: its first and last 8 bytes when it has 8 or more
 * (overlapping below 16), its first and last 4 when it has 4 to 7, its
 * first, middle and last byte when it has 1 to 3, zero when empty. For a
 * name of at most 16 bytes the words cover every byte, so two names of
 * one length up to 16 are equal exactly when their words are. */
typedef struct words {
    uint64_t head, tail;
} words;

static words name_words(const unsigned char *p, size_t len)
{
    words w = { 0, 0 };
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
static uint32_t hash_words(words w, size_t len)
{
    uint64_t h = (w.head * UINT64_C(0x9E3779B97F4A7C15)) ^ (w.tail * UINT64_C(0xC2B2AE3D27D4EB4F)) ^ len;
    h ^= h >> 29;
    return (uint32_t)(h ^ h >> 32);
}

static int table_init(table *t, size_t count)
{
    size_t size = 4;
    while (size < 2 * count)
        size *= 2;
    t->slots = calloc(size, sizeof *t->slots);
    if (!t->slots)
        return sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
    t->mask = (uint32_t)(size - 1);
    return 0;
}

/* Names are distinct (the parser refuses repeats), so no lookup first. */
static void table_put(table *t, const char *text, size_t len, long index)
{
    words w = name_words((const unsigned char *)text, len);
    uint32_t h = hash_words(w, len);
    uint32_t i = h & t->mask;
    while (t->slots[i].text)
        i = (i + 1) & t->mask;
    t->slots[i] = (slot){ .head = w.head, .tail = w.tail, .text = text, .len = (uint32_t)len, .hash = h, .index = index };
}

static long table_get(const table *t, const void *text, size_t len)
{
    if (!t->slots)
        return -1;
    words w = name_words(text, len);
    uint32_t h = hash_words(w, len);
    for (uint32_t i = h & t->mask; t->slots[i].text; i = (i + 1) & t->mask) {
        const slot *s = &t->slots[i];
        if (s->hash == h && s->len == len && s->head == w.head && s->tail == w.tail &&
            (len <= 16 || memcmp(s->text, text, len) == 0))
            return s->index;
    }
    return -1;
}

int sl_schema_lookup_build(schema_node *n)
{
    n->lookup = NULL;
    size_t strings = 0;
    for (size_t i = 0; n->enum_values && i < json_array_size(n->enum_values); i++)
        strings += json_is_string(json_array_get(n->enum_values, i));
    if (n->prop_count == 0 && !n->enum_values)
        return 0;
    schema_lookup *l = calloc(1, sizeof *l);
    if (!l)
        return sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
    n->lookup = l;
    int rc = 0;
    if (n->prop_count && (rc = table_init(&l->props, n->prop_count)) == 0)
        for (size_t i = 0; i < n->prop_count; i++) {
            table_put(&l->props, n->props[i].name, strlen(n->props[i].name), (long)i);
            if (n->props[i].required && i < 64)
                l->required |= UINT64_C(1) << i;
            else if (n->props[i].required)
                l->required_untracked = 1;
        }
    if (!rc && strings && (rc = table_init(&l->enum_strings, strings)) == 0)
        for (size_t i = 0; i < json_array_size(n->enum_values); i++) {
            const json_t *e = json_array_get(n->enum_values, i);
            if (json_is_string(e))
                table_put(&l->enum_strings, json_string_value(e), json_string_length(e), (long)i);
        }
    return rc;
}

void sl_schema_lookup_free(schema_lookup *l)
{
    if (!l)
        return;
    free(l->props.slots);
    free(l->enum_strings.slots);
    free(l);
}

long sl_schema_lookup_property(const schema_lookup *l, const void *text, size_t len)
{
    return l ? table_get(&l->props, text, len) : -1;
}

int sl_schema_lookup_enum_string(const schema_lookup *l, const void *text, size_t len)
{
    return l && table_get(&l->enum_strings, text, len) >= 0;
}

int sl_schema_lookup_required_seen(const schema_lookup *l, uint64_t seen)
{
    return !l || (!l->required_untracked && (seen & l->required) == l->required);
}
