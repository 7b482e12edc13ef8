/*
 * manifest_load — parse a replay manifest back. See manifest_load.h.
 */
#include "manifest_load.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct loader {
    char *err;
    size_t errlen;
} loader;

static int fail(loader *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, l->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A string member without NUL bytes (a C string), or NULL. */
static const char *cstring(json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) ? json_string_value(v) : NULL;
}

static int want_string(loader *l, json_t *obj, const char *name, const char **out)
{
    if (!(*out = cstring(json_object_get(obj, name))))
        return fail(l, "\"%s\" is not a string", name);
    return 0;
}

/* An integer member in [min, max]; null allowed (then *have = 0) when
 * have is not NULL. */
static int want_int(loader *l, json_t *obj, const char *name, json_int_t min, json_int_t max, json_int_t *out,
                    int *have)
{
    json_t *v = json_object_get(obj, name);
    if (have && json_is_null(v)) {
        *have = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(l, "\"%s\" is not an integer in [%lld, %lld]%s", name, (long long)min, (long long)max,
                    have ? " or null" : "");
    *out = json_integer_value(v);
    if (have)
        *have = 1;
    return 0;
}

static int want_u64(loader *l, json_t *obj, const char *name, uint64_t *out, int *have)
{
    json_int_t v = 0;
    if (want_int(l, obj, name, 0, LLONG_MAX, &v, have))
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int want_choice(loader *l, json_t *obj, const char *name, const char *const *choices, int *out)
{
    const char *s;
    if (want_string(l, obj, name, &s))
        return -1;
    for (int i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    return fail(l, "\"%s\" is not one of the known values: '%s'", name, s);
}

static int want_bool(loader *l, json_t *obj, const char *name, int *out)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_boolean(v))
        return fail(l, "\"%s\" is not true or false", name);
    *out = json_is_true(v);
    return 0;
}

static int load_partitions_option(loader *l, json_t *v, manifest_options *o)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SIGLOG_PARTITIONS_MAX)
        return fail(l, "\"options\".\"partitions\" is not null or a list of partitions");
    if (!(o->parts = calloc(json_array_size(v), sizeof *o->parts)))
        return fail(l, "out of memory");
    size_t i;
    json_t *p;
    json_array_foreach(v, i, p) {
        if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) >= SIGLOG_PARTITIONS_MAX)
            return fail(l, "\"options\".\"partitions\" holds something that is not a partition number");
        o->parts[o->nparts++] = (uint32_t)json_integer_value(p);
    }
    return 0;
}

static int load_headers_option(loader *l, json_t *v, manifest_options *o)
{
    if (!json_is_array(v) || json_array_size(v) > SIGLOG_HEADERS_MAX)
        return fail(l, "\"options\".\"headers\" is not a list of at most %d [NAME, VALUE] pairs", SIGLOG_HEADERS_MAX);
    size_t i;
    json_t *h;
    json_array_foreach(v, i, h) {
        const char *name = cstring(json_array_get(h, 0)), *value = cstring(json_array_get(h, 1));
        if (!json_is_array(h) || json_array_size(h) != 2 || !name || !*name || strchr(name, '=') || !value)
            return fail(l, "\"options\".\"headers\" item %zu is not a [NAME, VALUE] pair", i);
        o->headers[o->nheaders++] = (header_arg){ name, strlen(name), value, 0 };
    }
    return 0;
}

const char *const manifest_redact_levels[] = { "public", "internal", "personal", "secret", NULL };
const char *const manifest_redact_modes[] = { "hash", "drop", NULL };

/* "redact": null (or absent, as before redaction was recorded) or
 * {"level", "mode"}. */
static int load_redact_option(loader *l, json_t *v, manifest_options *o)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return fail(l, "\"options\".\"redact\" is not null or an object");
    if (want_choice(l, v, "level", manifest_redact_levels, &o->redact) ||
        want_choice(l, v, "mode", manifest_redact_modes, &o->redact_mode))
        return -1;
    if (o->redact == 0)
        return fail(l, "\"options\".\"redact\" has level 'public', which redacts nothing");
    return 0;
}

static int load_options(loader *l, json_t *v, manifest_options *o)
{
    static const char *const orders[] = { "partition", "merge", "event-time", NULL };
    static const char *const formats[] = { "jsonl", "value", "binary", NULL };
    json_int_t from_time = 0, to_time = 0, schema = 0;
    if (!json_is_object(v))
        return fail(l, "\"options\" is not an object");
    json_t *key = json_object_get(v, "key"), *consumer = json_object_get(v, "consumer");
    if (!json_is_null(key) && !(o->key = cstring(key)))
        return fail(l, "\"options\".\"key\" is not a string or null");
    if (!json_is_null(consumer) && !(o->consumer = cstring(consumer)))
        return fail(l, "\"options\".\"consumer\" is not a string or null");
    if (load_partitions_option(l, json_object_get(v, "partitions"), o) ||
        load_headers_option(l, json_object_get(v, "headers"), o) ||
        load_redact_option(l, json_object_get(v, "redact"), o) ||
        want_u64(l, v, "from_offset", &o->from_offset, &o->have_from_offset) ||
        want_u64(l, v, "to_offset", &o->to_offset, &o->have_to_offset) ||
        want_u64(l, v, "limit", &o->limit, &o->have_limit) ||
        want_int(l, v, "from_time_us", LLONG_MIN, LLONG_MAX, &from_time, &o->have_from_time) ||
        want_int(l, v, "to_time_us", LLONG_MIN, LLONG_MAX, &to_time, &o->have_to_time) ||
        want_int(l, v, "schema_version", 0, UINT32_MAX, &schema, &o->have_schema) ||
        want_choice(l, v, "order", orders, &o->order) || want_choice(l, v, "format", formats, &o->format) ||
        want_bool(l, v, "follow", &o->follow) || want_bool(l, v, "allow_gaps", &o->allow_gaps))
        return -1;
    o->from_time = from_time;
    o->to_time = to_time;
    o->schema_version = (uint32_t)schema;
    return 0;
}

static int load_streams(loader *l, json_t *v, manifest_spec *m)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return fail(l, "\"streams\" is not a list of stream names");
    if (!(m->streams = calloc(json_array_size(v), sizeof *m->streams)))
        return fail(l, "out of memory");
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!(m->streams[i] = cstring(s)))
            return fail(l, "\"streams\" item %zu is not a string", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->streams[j], m->streams[i]) == 0)
                return fail(l, "\"streams\" names '%s' twice", m->streams[i]);
        m->nstreams++;
    }
    return 0;
}

/* The index of the item's "stream" among m's streams. */
static int stream_index(loader *l, const manifest_spec *m, json_t *item, const char *list, uint32_t *out)
{
    const char *name = cstring(json_object_get(item, "stream"));
    for (size_t i = 0; name && i < m->nstreams; i++)
        if (strcmp(m->streams[i], name) == 0) {
            *out = (uint32_t)i;
            return 0;
        }
    return fail(l, "\"%s\" names a stream that \"streams\" does not", list);
}

/* Sort base[0..n) by (stream, partition) and refuse a pair twice. */
static int sorted_once(loader *l, void *base, size_t n, size_t size, const char *list)
{
    if (n > 1) /* qsort of an empty list may be given a NULL base */
        qsort(base, n, size, manifest_by_stream_partition);
    for (size_t i = 1; i < n; i++)
        if (manifest_by_stream_partition((char *)base + (i - 1) * size, (char *)base + i * size) == 0)
            return fail(l, "\"%s\" names a partition twice", list);
    return 0;
}

static int load_ends(loader *l, json_t *v, manifest_spec *m)
{
    if (!json_is_array(v))
        return fail(l, "\"read\" is not a list");
    if (json_array_size(v) && !(m->ends = calloc(json_array_size(v), sizeof *m->ends)))
        return fail(l, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        manifest_end *e = &m->ends[m->nends];
        json_int_t p = 0; /* set by want_int; -O3 cannot see it */
        if (stream_index(l, m, item, "read", &e->stream) ||
            want_int(l, item, "partition", 0, SIGLOG_PARTITIONS_MAX - 1, &p, NULL) ||
            want_u64(l, item, "start_offset", &e->start_offset, NULL) ||
            want_u64(l, item, "end_offset", &e->end_offset, NULL))
            return -1;
        if (e->start_offset > e->end_offset)
            return fail(l, "\"read\" item %zu starts after it ends", i);
        e->partition = (uint32_t)p;
        m->nends++;
    }
    return sorted_once(l, m->ends, m->nends, sizeof *m->ends, "read");
}

static int load_ranges(loader *l, json_t *v, manifest_spec *m)
{
    if (!json_is_array(v))
        return fail(l, "\"partitions\" is not a list");
    if (json_array_size(v) && !(m->ranges = calloc(json_array_size(v), sizeof *m->ranges)))
        return fail(l, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        manifest_range *r = &m->ranges[m->nranges];
        json_int_t p = 0; /* set by want_int; -O3 cannot see it */
        if (stream_index(l, m, item, "partitions", &r->stream) ||
            want_int(l, item, "partition", 0, SIGLOG_PARTITIONS_MAX - 1, &p, NULL) ||
            want_u64(l, item, "first_offset", &r->first_offset, NULL) ||
            want_u64(l, item, "last_offset", &r->last_offset, NULL) || want_u64(l, item, "events", &r->events, NULL))
            return -1;
        r->partition = (uint32_t)p;
        m->nranges++;
    }
    return sorted_once(l, m->ranges, m->nranges, sizeof *m->ranges, "partitions");
}

static int is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int load_doc(loader *l, manifest_spec *m)
{
    json_t *d = m->doc;
    json_int_t version = 0; /* set by want_int; -O3 cannot see it */
    const char *id, *algorithm, *digest;
    if (!json_is_object(d))
        return fail(l, "not a JSON object");
    if (want_int(l, d, "manifest_version", 0, LLONG_MAX, &version, NULL))
        return -1;
    if (version != MANIFEST_VERSION)
        return fail(l, "manifest version %lld: this siglog reads version %d", (long long)version, MANIFEST_VERSION);
    if (want_string(l, d, "store_id", &id) || want_string(l, d, "store", &m->store) ||
        load_streams(l, json_object_get(d, "streams"), m) || load_options(l, json_object_get(d, "options"), &m->o) ||
        load_ends(l, json_object_get(d, "read"), m) || load_ranges(l, json_object_get(d, "partitions"), m) ||
        want_u64(l, d, "events", &m->events, NULL) || want_string(l, d, "digest_algorithm", &algorithm) ||
        want_string(l, d, "digest", &digest))
        return -1;
    if (!is_hex(id, 16))
        return fail(l, "\"store_id\" is not 16 lowercase hex digits");
    m->store_id = strtoull(id, NULL, 16);
    if (strcmp(algorithm, "blake2b-256") != 0)
        return fail(l, "unknown \"digest_algorithm\" '%s'", algorithm);
    if (!is_hex(digest, MANIFEST_DIGEST_HEX - 1))
        return fail(l, "\"digest\" is not %d lowercase hex digits", MANIFEST_DIGEST_HEX - 1);
    memcpy(m->digest, digest, MANIFEST_DIGEST_HEX);
    return 0;
}

int manifest_load(const char *text, size_t len, manifest_spec *out, char *err, size_t errlen)
{
    loader l = { err, errlen };
    json_error_t je;
    memset(out, 0, sizeof *out);
    if (!(out->doc = json_loadb(text, len, 0, &je))) {
        snprintf(err, errlen, "not JSON: %s at line %d", je.text, je.line);
        return -1;
    }
    if (load_doc(&l, out) != 0) {
        manifest_spec_free(out);
        return -1;
    }
    return 0;
}

void manifest_spec_free(manifest_spec *m)
{
    free(m->o.parts);
    free(m->streams);
    free(m->ends);
    free(m->ranges);
    json_decref(m->doc);
    memset(m, 0, sizeof *m);
}
