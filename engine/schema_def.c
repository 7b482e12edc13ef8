/*
 * schema_def — the definition parser; see schema_def.h for the subset.
 *
 * The parser walks the jansson tree once, refusing at the first keyword or
 * value outside the subset, and builds a schema_node tree that the
 * validator and the compatibility check walk without touching jansson's
 * objects again (only enum values stay JSON, compared with json_equal).
 */
#include "schema_def.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "error.h"
#include "schema_lookup.h"
#include "siglog.h"

static const char *const type_names[] = { "string", "integer", "number", "boolean", "object", "array", "null" };
#define TYPE_NAME_COUNT (sizeof type_names / sizeof type_names[0])

static const char *const sensitivity_names[] = { "public", "internal", "personal", "secret" };
#define SENSITIVITY_COUNT (sizeof sensitivity_names / sizeof sensitivity_names[0])

/* ---- JSON paths ---- */

void sl_schema_path_root(schema_path *p)
{
    p->text[0] = '$';
    p->text[1] = '\0';
    p->len = 1;
}

/* Append s; a path that no longer fits ends in "..." and stays so. */
static void path_append(schema_path *p, const char *s)
{
    size_t n = strlen(s);
    if (p->len + n + 4 > SCHEMA_PATH_MAX) {
        if (p->len + 4 <= SCHEMA_PATH_MAX && strcmp(p->text + p->len - 3, "...") != 0) {
            memcpy(p->text + p->len, "...", 4);
            p->len += 3;
        }
        return;
    }
    memcpy(p->text + p->len, s, n + 1);
    p->len += n;
}

static int is_plain_key(const char *key)
{
    if (!key[0] || (key[0] >= '0' && key[0] <= '9'))
        return 0;
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-'))
            return 0;
    return 1;
}

size_t sl_schema_path_push_key(schema_path *p, const char *key)
{
    size_t saved = p->len;
    if (is_plain_key(key)) {
        path_append(p, ".");
        path_append(p, key);
        return saved;
    }
    /* Bracketed and quoted, with quotes and backslashes escaped and
     * control bytes shown as \u00XX, so a path is one printable line. */
    char buf[SCHEMA_PATH_MAX];
    size_t n = 0;
    buf[n++] = '[';
    buf[n++] = '"';
    for (const unsigned char *c = (const unsigned char *)key; *c && n + 8 < sizeof buf; c++) {
        if (*c == '"' || *c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)*c;
        } else if (*c < 0x20) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\u%04x", *c);
        } else {
            buf[n++] = (char)*c;
        }
    }
    buf[n++] = '"';
    buf[n++] = ']';
    buf[n] = '\0';
    path_append(p, buf);
    return saved;
}

size_t sl_schema_path_push_index(schema_path *p, size_t index)
{
    size_t saved = p->len;
    char buf[32];
    snprintf(buf, sizeof buf, "[%zu]", index);
    path_append(p, buf);
    return saved;
}

size_t sl_schema_path_push_items(schema_path *p)
{
    size_t saved = p->len;
    path_append(p, "[*]");
    return saved;
}

void sl_schema_path_pop(schema_path *p, size_t len)
{
    p->len = len;
    p->text[len] = '\0';
}

/* ---- names ---- */

void sl_schema_types_describe(unsigned types, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    if ((types & SCHEMA_ANY) == SCHEMA_ANY) {
        snprintf(buf, size, "any");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < TYPE_NAME_COUNT; i++) {
        if (!(types & (1u << i)))
            continue;
        int w = snprintf(buf + n, size - n, "%s%s", n ? "|" : "", type_names[i]);
        if (w < 0 || (size_t)w >= size - n)
            return;
        n += (size_t)w;
    }
}

const char *sl_schema_sensitivity_name(int s)
{
    return s >= 0 && (size_t)s < SENSITIVITY_COUNT ? sensitivity_names[s] : "?";
}

int sl_schema_sensitivity_parse(const char *name)
{
    for (size_t i = 0; name && i < SENSITIVITY_COUNT; i++)
        if (strcmp(name, sensitivity_names[i]) == 0)
            return (int)i;
    return -1;
}

const schema_property *sl_schema_node_property(const schema_node *n, const char *name)
{
    return sl_schema_node_property_n(n, name, strlen(name));
}

const schema_property *sl_schema_node_property_n(const schema_node *n, const char *name, size_t len)
{
    size_t lo = 0, hi = n->prop_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        /* Bytewise, a prefix first: the order the names are sorted in. */
        size_t plen = strlen(n->props[mid].name);
        int c = memcmp(name, n->props[mid].name, len < plen ? len : plen);
        if (c == 0)
            c = (len > plen) - (len < plen);
        if (c == 0)
            return &n->props[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ---- the tree ---- */

static void node_free(schema_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->prop_count; i++) {
        free(n->props[i].name);
        node_free(n->props[i].node);
    }
    free(n->props);
    node_free(n->additional_node);
    node_free(n->items);
    json_decref(n->enum_values);
    sl_schema_lookup_free(n->lookup);
    free(n);
}

void sl_schema_def_free(schema_def *d)
{
    if (!d)
        return;
    node_free(d->root);
    free(d->canonical);
    free(d);
}

/* ---- the parser ---- */

typedef struct parser {
    schema_path path;
    size_t nodes;
    int max_sensitivity;
} parser;

static int refuse(const parser *ps, const char *what)
{
    return sl_err_set(SIGLOG_EINVAL, "schema definition: %s at %s", what, ps->path.text);
}

static int refuse_keyword(parser *ps, const char *keyword, const char *what)
{
    size_t saved = sl_schema_path_push_key(&ps->path, keyword);
    int rc = sl_err_set(SIGLOG_EINVAL, "schema definition: \"%s\" %s at %s", keyword, what, ps->path.text);
    sl_schema_path_pop(&ps->path, saved);
    return rc;
}

static int type_bit(const json_t *name, unsigned *bit)
{
    if (!json_is_string(name))
        return -1;
    for (size_t i = 0; i < TYPE_NAME_COUNT; i++)
        if (strcmp(json_string_value(name), type_names[i]) == 0) {
            *bit = 1u << i;
            return 0;
        }
    return -1;
}

static int parse_type(parser *ps, const json_t *v, unsigned *types)
{
    unsigned bit;
    if (json_is_string(v)) {
        if (type_bit(v, &bit) != 0)
            return refuse_keyword(ps, "type", "names an unknown type");
        *types = bit;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return refuse_keyword(ps, "type", "must be a type name or a non-empty list of them");
    *types = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        if (type_bit(e, &bit) != 0)
            return refuse_keyword(ps, "type", "lists an unknown type");
        if (*types & bit)
            return refuse_keyword(ps, "type", "lists a type twice");
        *types |= bit;
    }
    return 0;
}

static int parse_enum(parser *ps, json_t *v, schema_node *n)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return refuse_keyword(ps, "enum", "must be a non-empty list");
    if (json_array_size(v) > SCHEMA_LIST_MAX)
        return refuse_keyword(ps, "enum", "lists more than 1024 values");
    for (size_t i = 0; i < json_array_size(v); i++)
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(v, i), json_array_get(v, j)))
                return refuse_keyword(ps, "enum", "lists a value twice");
    n->enum_values = json_incref(v);
    return 0;
}

static int parse_node(parser *ps, json_t *v, int depth, schema_node **out);

static int compare_props(const void *a, const void *b)
{
    return strcmp(((const schema_property *)a)->name, ((const schema_property *)b)->name);
}

/* properties and required together: both fill n->props. */
static int parse_properties(parser *ps, json_t *props, json_t *required, int depth, schema_node *n)
{
    if (props && !json_is_object(props))
        return refuse_keyword(ps, "properties", "must be an object");
    if (required && !json_is_array(required))
        return refuse_keyword(ps, "required", "must be a list of property names");
    if (required && json_array_size(required) > SCHEMA_LIST_MAX)
        return refuse_keyword(ps, "required", "lists more than 1024 names");
    size_t cap = (props ? json_object_size(props) : 0) + (required ? json_array_size(required) : 0);
    if (cap == 0)
        return 0;
    n->props = calloc(cap, sizeof *n->props);
    if (!n->props)
        return sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
    const char *key;
    json_t *sub;
    if (props) {
        size_t at = sl_schema_path_push_key(&ps->path, "properties");
        json_object_foreach(props, key, sub) {
            size_t at_key = sl_schema_path_push_key(&ps->path, key);
            schema_property *p = &n->props[n->prop_count];
            p->name = strdup(key);
            if (!p->name)
                return sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
            n->prop_count++;
            int rc = parse_node(ps, sub, depth + 1, &p->node);
            if (rc)
                return rc;
            sl_schema_path_pop(&ps->path, at_key);
        }
        sl_schema_path_pop(&ps->path, at);
        qsort(n->props, n->prop_count, sizeof *n->props, compare_props);
    }
    size_t declared = n->prop_count;
    for (size_t i = 0; required && i < json_array_size(required); i++) {
        const json_t *name = json_array_get(required, i);
        if (!json_is_string(name))
            return refuse_keyword(ps, "required", "must be a list of property names");
        for (size_t j = 0; j < i; j++)
            if (json_equal(name, json_array_get(required, j)))
                return refuse_keyword(ps, "required", "names a property twice");
        schema_property *found = NULL;
        for (size_t j = 0; j < declared && !found; j++)
            if (strcmp(n->props[j].name, json_string_value(name)) == 0)
                found = &n->props[j];
        if (!found) { /* required but not described: a property of any type */
            found = &n->props[n->prop_count];
            found->name = strdup(json_string_value(name));
            found->node = calloc(1, sizeof *found->node);
            if (!found->name || !found->node) {
                n->prop_count++;
                return sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
            }
            found->node->types = SCHEMA_ANY;
            n->prop_count++;
            ps->nodes++;
        }
        found->required = 1;
    }
    qsort(n->props, n->prop_count, sizeof *n->props, compare_props);
    return 0;
}

static int parse_node(parser *ps, json_t *v, int depth, schema_node **out)
{
    if (!json_is_object(v))
        return refuse(ps, "a definition must be a JSON object");
    if (depth > SCHEMA_DEPTH_MAX)
        return refuse(ps, "definitions nest deeper than 32 levels");
    if (++ps->nodes > SCHEMA_NODES_MAX)
        return refuse(ps, "more than 4096 definitions in one schema");
    schema_node *n = calloc(1, sizeof *n);
    if (!n)
        return sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
    *out = n; /* freed with the tree on any error below */
    n->types = SCHEMA_ANY;

    json_t *props = NULL, *required = NULL;
    const char *key;
    json_t *sub;
    int rc = 0;
    json_object_foreach(v, key, sub) {
        if (strcmp(key, "type") == 0) {
            rc = parse_type(ps, sub, &n->types);
        } else if (strcmp(key, "properties") == 0) {
            props = sub;
        } else if (strcmp(key, "required") == 0) {
            required = sub;
        } else if (strcmp(key, "enum") == 0) {
            rc = parse_enum(ps, sub, n);
        } else if (strcmp(key, "items") == 0) {
            size_t at = sl_schema_path_push_key(&ps->path, key);
            rc = parse_node(ps, sub, depth + 1, &n->items);
            if (!rc)
                sl_schema_path_pop(&ps->path, at);
        } else if (strcmp(key, "additionalProperties") == 0) {
            if (json_is_boolean(sub)) {
                n->additional = json_is_true(sub) ? SCHEMA_ADDITIONAL_OPEN : SCHEMA_ADDITIONAL_CLOSED;
            } else {
                size_t at = sl_schema_path_push_key(&ps->path, key);
                n->additional = SCHEMA_ADDITIONAL_SCHEMA;
                rc = parse_node(ps, sub, depth + 1, &n->additional_node);
                if (!rc)
                    sl_schema_path_pop(&ps->path, at);
            }
        } else if (strcmp(key, "x-sensitivity") == 0) {
            n->sensitivity = json_is_string(sub) ? sl_schema_sensitivity_parse(json_string_value(sub)) : -1;
            if (n->sensitivity < 0)
                rc = refuse_keyword(ps, key, "must be public, internal, personal or secret");
            else if (n->sensitivity > ps->max_sensitivity)
                ps->max_sensitivity = n->sensitivity;
        } else {
            char what[64 + SCHEMA_PATH_MAX];
            snprintf(what, sizeof what, "unknown keyword \"%.*s\"", 64, key);
            rc = refuse(ps, what);
        }
        if (rc)
            return rc;
    }
    rc = parse_properties(ps, props, required, depth, n);
    return rc ? rc : sl_schema_lookup_build(n);
}

int sl_schema_def_parse(schema_def **out, const void *text, size_t len)
{
    *out = NULL;
    if (len > SCHEMA_DEF_BYTES_MAX)
        return sl_err_set(SIGLOG_EINVAL, "schema definition of %zu bytes, more than the %u allowed", len,
                       SCHEMA_DEF_BYTES_MAX);
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return sl_err_set(SIGLOG_EINVAL, "schema definition is not JSON: line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    schema_def *d = calloc(1, sizeof *d);
    if (!d) {
        json_decref(doc);
        return sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
    }
    parser ps = { .nodes = 0 };
    sl_schema_path_root(&ps.path);
    int rc = parse_node(&ps, doc, 0, &d->root);
    if (!rc && d->root->types != SCHEMA_OBJECT) {
        sl_schema_path_root(&ps.path);
        rc = refuse_keyword(&ps, "type", "of the root must be \"object\"");
    }
    if (!rc) {
        d->canonical = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        if (!d->canonical)
            rc = sl_err_set(SIGLOG_ENOMEM, "schema definition: out of memory");
    }
    json_decref(doc);
    if (rc) {
        sl_schema_def_free(d);
        return rc;
    }
    d->canonical_len = strlen(d->canonical);
    d->fingerprint = XXH3_64bits(d->canonical, d->canonical_len);
    d->max_sensitivity = ps.max_sensitivity;
    *out = d;
    return 0;
}
