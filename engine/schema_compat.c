/*
 * schema_compat — the compatibility check; see schema_compat.h.
 *
 * One walk, admits(reader, writer), proves that every event the writer's
 * definition admits is admitted by the reader's, adding a reason for each
 * place it is not. backward walks (reader = new, writer = old), forward
 * the reverse, full both; the walk knows which way it runs only to word
 * its reasons ("old events ..." or "new events ...").
 */
#include "schema_compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "siglog.h"

static const char *const mode_names[SCHEMA_COMPAT_MODES] = {
    "none", "backward", "forward", "full", "backward_transitive", "forward_transitive", "full_transitive",
};

const char *sl_schema_compat_name(int mode)
{
    return mode >= 0 && mode < SCHEMA_COMPAT_MODES ? mode_names[mode] : "?";
}

int sl_schema_compat_parse(const char *name)
{
    for (int i = 0; name && i < SCHEMA_COMPAT_MODES; i++)
        if (strcmp(name, mode_names[i]) == 0)
            return i;
    return -1;
}

int sl_schema_compat_transitive(int mode)
{
    return mode >= SCHEMA_COMPAT_BACKWARD_TRANSITIVE;
}

void sl_schema_reasons_free(schema_reasons *r)
{
    free(r->v);
    *r = (schema_reasons){ 0 };
}

typedef struct walk {
    schema_path path;
    int backward;      /* the reader is the new definition */
    uint32_t against;
    schema_reasons *out;
    int rc;            /* SIGLOG_ENOMEM once adding a reason failed */
} walk;

/* A definition admitting anything: what a missing `items` means. */
static const schema_node any_node = { .types = SCHEMA_ANY };

static const char *writer_name(const walk *w)
{
    return w->backward ? "old" : "new";
}

static const char *reader_name(const walk *w)
{
    return w->backward ? "new" : "old";
}

static void add_reason(walk *w, const char *reader_type, const char *writer_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_reason(walk *w, const char *reader_type, const char *writer_type, const char *fmt, ...)
{
    schema_reasons *out = w->out;
    if (out->count >= SCHEMA_REASONS_MAX) {
        out->dropped++;
        return;
    }
    if (out->count == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        schema_reason *v = realloc(out->v, cap * sizeof *v);
        if (!v) {
            w->rc = sl_err_set(SIGLOG_ENOMEM, "schema compatibility: out of memory");
            return;
        }
        out->v = v;
        out->cap = cap;
    }
    schema_reason *r = &out->v[out->count++];
    r->against = w->against;
    snprintf(r->path, sizeof r->path, "%s", w->path.text);
    snprintf(r->old_type, sizeof r->old_type, "%s", w->backward ? writer_type : reader_type);
    snprintf(r->new_type, sizeof r->new_type, "%s", w->backward ? reader_type : writer_type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof r->what, fmt, ap);
    va_end(ap);
}

/* "string", "integer|null enum [1,2]", with "required "/"optional "
 * before it when `presence` says so (1 required, 0 optional, -1 neither). */
static void describe(const schema_node *n, int presence, char *buf, size_t size)
{
    char types[64];
    sl_schema_types_describe(n->types, types, sizeof types);
    const char *prefix = presence > 0 ? "required " : presence == 0 ? "optional " : "";
    if (!n->enum_values) {
        snprintf(buf, size, "%s%s", prefix, types);
        return;
    }
    char *values = json_dumps(n->enum_values, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, size, "%s%s enum %s", prefix, types, values ? values : "[...]");
    free(values);
    /* Cut a long enum visibly rather than mid-value without a sign. */
    if (strlen(buf) == size - 1 && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

/* The JSON type bit of a value (integers are SCHEMA_INTEGER). */
static unsigned value_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return SCHEMA_STRING;
    case JSON_INTEGER: return SCHEMA_INTEGER;
    case JSON_REAL: return SCHEMA_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return SCHEMA_BOOLEAN;
    case JSON_OBJECT: return SCHEMA_OBJECT;
    case JSON_ARRAY: return SCHEMA_ARRAY;
    default: return SCHEMA_NULL;
    }
}

/* The types a writer can really produce: an enum narrows them to the
 * types of its values. */
static unsigned writer_types(const schema_node *n)
{
    if (!n->enum_values)
        return n->types;
    unsigned t = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(n->enum_values, i, v) t |= value_type(v);
    return t & (n->types | (n->types & SCHEMA_NUMBER ? SCHEMA_INTEGER : 0));
}

static int enum_has(const json_t *values, const json_t *v)
{
    size_t i;
    const json_t *e;
    json_array_foreach(values, i, e) if (json_equal(e, v)) return 1;
    return 0;
}

static void admits(walk *w, const schema_node *reader, const schema_node *writer);

static void check_types(walk *w, const schema_node *reader, const schema_node *writer)
{
    unsigned readable = reader->types | (reader->types & SCHEMA_NUMBER ? SCHEMA_INTEGER : 0);
    unsigned lost = writer_types(writer) & ~readable;
    if (!lost)
        return;
    char rt[SCHEMA_TYPE_TEXT_MAX], wt[SCHEMA_TYPE_TEXT_MAX], lt[64];
    describe(reader, -1, rt, sizeof rt);
    describe(writer, -1, wt, sizeof wt);
    sl_schema_types_describe(lost, lt, sizeof lt);
    add_reason(w, rt, wt, "%s events may hold %s here, which the %s definition refuses", writer_name(w),
               lost == SCHEMA_NUMBER && (readable & SCHEMA_INTEGER) ? "a number that is no integer" : lt,
               reader_name(w));
}

static void check_enum(walk *w, const schema_node *reader, const schema_node *writer)
{
    if (!reader->enum_values)
        return;
    char rt[SCHEMA_TYPE_TEXT_MAX], wt[SCHEMA_TYPE_TEXT_MAX];
    describe(reader, -1, rt, sizeof rt);
    describe(writer, -1, wt, sizeof wt);
    if (!writer->enum_values) {
        add_reason(w, rt, wt, "%s events may hold any value of their type here; the %s definition admits only its enum",
                   writer_name(w), reader_name(w));
        return;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(writer->enum_values, i, v) {
        if (enum_has(reader->enum_values, v))
            continue;
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        add_reason(w, rt, wt, "%s events may hold %.64s, which the %s enum lacks", writer_name(w),
                   text ? text : "a value", reader_name(w));
        free(text);
    }
}

/* A property only one side declares. */
static void property_one_side(walk *w, const schema_node *reader, const schema_node *writer,
                              const schema_property *rp, const schema_property *wp)
{
    char rt[SCHEMA_TYPE_TEXT_MAX], wt[SCHEMA_TYPE_TEXT_MAX];
    if (rp) { /* the reader declares it, the writer does not */
        if (rp->required) {
            describe(rp->node, 1, rt, sizeof rt);
            add_reason(w, rt, "absent", "%s events may lack it; the %s definition requires it", writer_name(w),
                       reader_name(w));
        } else if (writer->additional == SCHEMA_ADDITIONAL_SCHEMA) {
            admits(w, rp->node, writer->additional_node);
        }
        return;
    }
    /* the writer declares it, the reader does not */
    if (reader->additional == SCHEMA_ADDITIONAL_CLOSED) {
        describe(wp->node, wp->required, wt, sizeof wt);
        add_reason(w, "absent", wt, "%s events may hold it; the %s definition's additionalProperties is false",
                   writer_name(w), reader_name(w));
    } else if (reader->additional == SCHEMA_ADDITIONAL_SCHEMA) {
        admits(w, reader->additional_node, wp->node);
    }
}

static void check_object(walk *w, const schema_node *reader, const schema_node *writer)
{
    if (reader->additional == SCHEMA_ADDITIONAL_CLOSED && writer->additional != SCHEMA_ADDITIONAL_CLOSED) {
        add_reason(w, "additionalProperties false", "additionalProperties open",
                   "%s events may hold undeclared properties; the %s definition refuses them", writer_name(w),
                   reader_name(w));
    } else if (reader->additional == SCHEMA_ADDITIONAL_SCHEMA && writer->additional != SCHEMA_ADDITIONAL_CLOSED) {
        size_t at = sl_schema_path_push_key(&w->path, "*");
        admits(w, reader->additional_node, writer->additional == SCHEMA_ADDITIONAL_SCHEMA ? writer->additional_node
                                                                                          : &any_node);
        sl_schema_path_pop(&w->path, at);
    }
    /* Both property lists are sorted: merge them. */
    size_t i = 0, j = 0;
    while (i < reader->prop_count || j < writer->prop_count) {
        const schema_property *rp = i < reader->prop_count ? &reader->props[i] : NULL;
        const schema_property *wp = j < writer->prop_count ? &writer->props[j] : NULL;
        int c = !rp ? 1 : !wp ? -1 : strcmp(rp->name, wp->name);
        size_t at = sl_schema_path_push_key(&w->path, c <= 0 ? rp->name : wp->name);
        if (c == 0) {
            if (rp->required && !wp->required) {
                char rt[SCHEMA_TYPE_TEXT_MAX], wt[SCHEMA_TYPE_TEXT_MAX];
                describe(rp->node, 1, rt, sizeof rt);
                describe(wp->node, 0, wt, sizeof wt);
                add_reason(w, rt, wt, "%s events may lack it; the %s definition requires it", writer_name(w),
                           reader_name(w));
            }
            admits(w, rp->node, wp->node);
            i++, j++;
        } else if (c < 0) {
            property_one_side(w, reader, writer, rp, NULL);
            i++;
        } else {
            property_one_side(w, reader, writer, NULL, wp);
            j++;
        }
        sl_schema_path_pop(&w->path, at);
    }
}

static void admits(walk *w, const schema_node *reader, const schema_node *writer)
{
    check_types(w, reader, writer);
    check_enum(w, reader, writer);
    unsigned both = writer_types(writer) & reader->types;
    if (both & SCHEMA_OBJECT)
        check_object(w, reader, writer);
    if (both & SCHEMA_ARRAY && reader->items) {
        size_t at = sl_schema_path_push_items(&w->path);
        admits(w, reader->items, writer->items ? writer->items : &any_node);
        sl_schema_path_pop(&w->path, at);
    }
}

static int run(const schema_def *reader, const schema_def *writer, int backward, uint32_t against,
               schema_reasons *out)
{
    walk w = { .backward = backward, .against = against, .out = out };
    sl_schema_path_root(&w.path);
    admits(&w, reader->root, writer->root);
    return w.rc;
}

int sl_schema_compat_check(const schema_def *old_def, uint32_t old_version, const schema_def *new_def, int mode,
                        schema_reasons *out)
{
    int rc = 0;
    int base = sl_schema_compat_transitive(mode) ? mode - 3 : mode;
    if (base == SCHEMA_COMPAT_BACKWARD || base == SCHEMA_COMPAT_FULL)
        rc = run(new_def, old_def, 1, old_version, out);
    if (!rc && (base == SCHEMA_COMPAT_FORWARD || base == SCHEMA_COMPAT_FULL))
        rc = run(old_def, new_def, 0, old_version, out);
    return rc;
}
