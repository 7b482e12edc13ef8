/*
 * schema_validate — the validator; see schema_validate.h.
 */
#include "schema_validate.h"

#include "schema_scan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct check {
    schema_path path;
    schema_violation_fn fn;
    void *ctx;
    size_t count;
    size_t max;
} check;

static int full(const check *c)
{
    return c->count >= c->max;
}

static void violation(check *c, const char *reason)
{
    if (full(c))
        return;
    c->count++;
    if (c->fn)
        c->fn(c->ctx, c->path.text, reason);
}

static int is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return 1;
    double d = json_real_value(v);
    return json_is_real(v) && isfinite(d) && d == floor(d);
}

static unsigned type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return SCHEMA_STRING;
    case JSON_INTEGER: return SCHEMA_INTEGER;
    case JSON_REAL: return is_integral(v) ? SCHEMA_INTEGER : SCHEMA_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return SCHEMA_BOOLEAN;
    case JSON_OBJECT: return SCHEMA_OBJECT;
    case JSON_ARRAY: return SCHEMA_ARRAY;
    default: return SCHEMA_NULL;
    }
}

static int type_admitted(unsigned types, unsigned t)
{
    return (types & t) || (t == SCHEMA_INTEGER && (types & SCHEMA_NUMBER));
}

/* Numbers compare by value (1 == 1.0); other values as jansson does. */
static int values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    return json_equal(a, b);
}

static void check_enum(check *c, const schema_node *n, const json_t *v)
{
    size_t i;
    const json_t *e;
    json_array_foreach(n->enum_values, i, e) if (values_equal(e, v)) return;
    char *allowed = json_dumps(n->enum_values, JSON_COMPACT | JSON_ENCODE_ANY);
    char reason[256];
    snprintf(reason, sizeof reason, "is not one of %.200s%s", allowed ? allowed : "the enum",
             allowed && strlen(allowed) > 200 ? "..." : "");
    free(allowed);
    violation(c, reason);
}

static void check_node(check *c, const schema_node *n, const json_t *v);

static void check_object(check *c, const schema_node *n, const json_t *v)
{
    const char *key;
    const json_t *sub;
    /* Present properties, in the value's order. */
    json_object_foreach((json_t *)v, key, sub) {
        if (full(c))
            return;
        const schema_property *p = sl_schema_node_property(n, key);
        const schema_node *def = p ? p->node : n->additional == SCHEMA_ADDITIONAL_SCHEMA ? n->additional_node : NULL;
        size_t at = sl_schema_path_push_key(&c->path, key);
        if (def)
            check_node(c, def, sub);
        else if (n->additional == SCHEMA_ADDITIONAL_CLOSED)
            violation(c, "is not allowed: additionalProperties is false");
        sl_schema_path_pop(&c->path, at);
    }
    /* Missing required ones, in name order. */
    for (size_t i = 0; i < n->prop_count && !full(c); i++) {
        if (!n->props[i].required || json_object_get(v, n->props[i].name))
            continue;
        size_t at = sl_schema_path_push_key(&c->path, n->props[i].name);
        violation(c, "is required but missing");
        sl_schema_path_pop(&c->path, at);
    }
}

static void check_node(check *c, const schema_node *n, const json_t *v)
{
    unsigned t = type_of(v);
    if (!type_admitted(n->types, t)) {
        char want[64], got[32], reason[128];
        sl_schema_types_describe(n->types, want, sizeof want);
        sl_schema_types_describe(t, got, sizeof got);
        snprintf(reason, sizeof reason, "is %s, expected %s", got, want);
        violation(c, reason);
        return;
    }
    if (n->enum_values)
        check_enum(c, n, v);
    if (t == SCHEMA_OBJECT && n->prop_count + (n->additional != SCHEMA_ADDITIONAL_OPEN))
        check_object(c, n, v);
    if (t == SCHEMA_ARRAY && n->items) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (full(c))
                return;
            size_t at = sl_schema_path_push_index(&c->path, i);
            check_node(c, n->items, e);
            sl_schema_path_pop(&c->path, at);
        }
    }
}

size_t sl_schema_validate_json(const schema_def *d, const json_t *value, schema_violation_fn fn, void *ctx, size_t max)
{
    check c = { .fn = fn, .ctx = ctx, .max = max ? max : 1 };
    sl_schema_path_root(&c.path);
    check_node(&c, d->root, value);
    return c.count;
}

size_t sl_schema_validate(const schema_def *d, const void *value, size_t len, schema_violation_fn fn, void *ctx,
                       size_t max)
{
    /* Most events conform: one pass over the bytes says so without
     * building a tree. The rest are walked in full, to word each
     * violation. */
    if (sl_schema_scan_conforms(d, value, len))
        return 0;
    json_error_t err;
    json_t *v = json_loadb(value, len, 0, &err);
    if (!v) {
        char reason[256];
        snprintf(reason, sizeof reason, "is not JSON: line %d column %d: %s", err.line, err.column, err.text);
        if (fn)
            fn(ctx, "$", reason);
        return 1;
    }
    size_t n = sl_schema_validate_json(d, v, fn, ctx, max);
    json_decref(v);
    return n;
}
