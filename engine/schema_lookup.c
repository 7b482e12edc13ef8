/*
 * schema_lookup — hashed names of a definition node; see schema_lookup.h.
 *
 * A table is a power of two of slots at most a quarter full, probed
 * linearly from the name's hash; a slot holds the full hash, the length, the
 * name's words (sl_schema_name_words) and its bytes (borrowed from the node, which
 * outlives the table). A name of up to 16 bytes is compared by its two
 * words alone, so a lookup of the short names events are made of makes
 * no call. The probe is inline in schema_lookup.h; this file builds and
 * frees the tables.
 */
#include "schema_lookup.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "schema_def.h"
#include "siglog.h"

static int table_init(schema_lookup_table *t, size_t count)
{
    size_t size = 4;
    while (size < 4 * count)
        size *= 2;
    t->slots = calloc(size, sizeof *t->slots);
    if (!t->slots)
        return sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
    t->mask = (uint32_t)(size - 1);
    return 0;
}

/* Names are distinct (the parser refuses repeats), so no lookup first. */
static void table_put(schema_lookup_table *t, const char *text, size_t len, long index)
{
    schema_name_words w = sl_schema_name_words((const unsigned char *)text, len);
    uint32_t h = sl_schema_name_hash(w, len);
    uint32_t i = h & t->mask;
    while (t->slots[i].text)
        i = (i + 1) & t->mask;
    t->slots[i] = (schema_lookup_slot){
        .head = w.head, .tail = w.tail, .text = text, .len = (uint32_t)len, .hash = h, .index = index
    };
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
