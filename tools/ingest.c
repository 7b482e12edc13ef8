/*
 * ingest — one JSON Lines line to key, time, headers and value; see
 * ingest.h.
 */
#include "ingest.h"

#include "jsonload.h"

#include <stdio.h>
#include <string.h>

#define UTF8_BOM "\xEF\xBB\xBF"

int ingest_content(const char **line, size_t *len, int first_line)
{
    const char *s = *line;
    size_t n = *len;
    if (first_line && n >= 3 && memcmp(s, UTF8_BOM, 3) == 0) {
        s += 3;
        n -= 3;
    }
    if (n > 0 && s[n - 1] == '\r')
        n--;
    *line = s;
    *len = n;
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 1;
    return 0;
}

/* Whether v, the field at path, is a number jansson cannot hold: in the
 * tree where those read 0 it is 0, and where they read 1 it is 1. */
static int out_of_range(const char *line, size_t len, size_t replaced, json_t *v, const jsonpath *path)
{
    if (!replaced || !json_is_integer(v) || json_integer_value(v) != 0)
        return 0;
    json_error_t jerr;
    json_t *ones = jsonload(line, len, '1', &replaced, &jerr);
    json_t *w = ones ? jsonpath_get(ones, path) : NULL;
    int is = json_is_integer(w) && json_integer_value(w) == 1;
    json_decref(ones);
    return is;
}

/* Whether the line is a tombstone: its tombstone field is true. A line
 * without the field, or with false or null there, is an ordinary event
 * (most lines of a stream carry no deletion marker); any other value is a
 * bad line, so that "yes" or 1 is not silently taken for a live event. 0,
 * or -1 with why set. */
static int parse_tombstone(const ingest_spec *spec, ingest_line *out, char *why, size_t why_cap)
{
    out->tombstone = 0;
    if (!spec->tombstone)
        return 0;
    json_t *v = jsonpath_get(out->root, spec->tombstone);
    if (!v || json_is_false(v) || json_is_null(v))
        return 0;
    if (!json_is_true(v)) {
        snprintf(why, why_cap, "tombstone field '%s' is not true, false or null", spec->tombstone->text);
        return -1;
    }
    out->tombstone = 1;
    return 0;
}

/* The event's schema version from its schema field: a line without it,
 * or with anything but an integer 0..2^32-1 there, is a bad line (no
 * version is guessed). 0, or -1 with why set. */
static int parse_schema_version(const ingest_spec *spec, const char *line, size_t len, size_t replaced,
                                ingest_line *out, char *why, size_t why_cap)
{
    out->schema_version = 0;
    if (!spec->schema)
        return 0;
    json_t *v = jsonpath_get(out->root, spec->schema);
    if (!v) {
        snprintf(why, why_cap, "no field '%s'", spec->schema->text);
        return -1;
    }
    if (out_of_range(line, len, replaced, v, spec->schema) || !json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > (json_int_t)UINT32_MAX) {
        snprintf(why, why_cap, "schema field '%s' is not an integer from 0 to 4294967295", spec->schema->text);
        return -1;
    }
    out->schema_version = (uint32_t)json_integer_value(v);
    return 0;
}

/* The headers' values into out (borrowing from root), and whether the
 * event fits the record limit with them. 0, or -1 with why set. */
static int parse_headers(const ingest_spec *spec, const char *line, size_t len, size_t replaced, ingest_line *out,
                         char *why, size_t why_cap)
{
    size_t bytes = len + out->key_len;
    for (size_t i = 0; i < spec->header_count; i++) {
        const ingest_header *h = &spec->headers[i];
        ingest_value *v = &out->header_values[i];
        if (!h->field) {
            *v = (ingest_value){ h->value, strlen(h->value) };
        } else {
            json_t *hv = jsonpath_get(out->root, h->field);
            if (!hv) {
                snprintf(why, why_cap, "no field '%s'", h->field->text);
                return -1;
            }
            if (out_of_range(line, len, replaced, hv, h->field)) {
                snprintf(why, why_cap, "header field '%s' is a number beyond 64-bit integers and doubles",
                         h->field->text);
                return -1;
            }
            if (jsonpath_key(hv, out->hbuf[i], &v->p, &v->len) != 0) {
                snprintf(why, why_cap, "header field '%s' is not a string or a number", h->field->text);
                return -1;
            }
        }
        bytes += h->name_len + v->len;
    }
    if (bytes > spec->record_bytes_max) {
        snprintf(why, why_cap, "event of %zu bytes (value, key and headers) exceeds the stream's record limit of %u bytes",
                 bytes, spec->record_bytes_max);
        return -1;
    }
    return 0;
}

/* The fast path over every field the spec reads. Its tree holds no
 * replaced numbers (it declines lines with numbers jansson cannot hold),
 * so out_of_range never applies to it. */
static int fast_parse(const ingest_spec *spec, const char *line, size_t len, json_t **root)
{
    /* Every path the spec names: a field missing from the tree would
     * read as absent. */
    const jsonpath *paths[4 + INGEST_HEADERS_MAX];
    size_t n = 0;
    if (spec->key)
        paths[n++] = spec->key;
    if (spec->time)
        paths[n++] = spec->time;
    if (spec->tombstone)
        paths[n++] = spec->tombstone;
    if (spec->schema)
        paths[n++] = spec->schema;
    for (size_t i = 0; i < spec->header_count; i++)
        if (spec->headers[i].field)
            paths[n++] = spec->headers[i].field;
    return spec->fast(spec->fast_ctx, line, len, paths, n, root);
}

int ingest_parse(const ingest_spec *spec, const char *line, size_t len, ingest_line *out, char *why, size_t why_cap)
{
    if (len > spec->record_bytes_max) {
        snprintf(why, why_cap, "event of %zu bytes exceeds the stream's record limit of %u bytes", len,
                 spec->record_bytes_max);
        return -1;
    }
    json_error_t jerr;
    size_t replaced = 0;
    json_t *root = NULL;
    if (spec->fast && fast_parse(spec, line, len, &root) < 0) {
        snprintf(why, why_cap, "out of memory parsing a line of %zu bytes", len);
        return -1;
    }
    /* RFC 8259 has no place for a raw NUL byte, in a string or out of one;
     * jansson would take one after a bare number as the end of the text.
     * A line the fast path took has none (simdjson refuses a control
     * character in a string and any byte outside one that is not JSON),
     * so only a line left to jansson is searched: one pass over most
     * lines fewer. */
    const char *nul = root ? NULL : memchr(line, '\0', len);
    if (nul) {
        snprintf(why, why_cap, "invalid JSON at column %zu: a NUL byte", (size_t)(nul - line) + 1);
        return -1;
    }
    if (!root)
        root = jsonload(line, len, '0', &replaced, &jerr);
    if (!root && replaced == JSONLOAD_TOO_MANY) {
        snprintf(why, why_cap, "more numbers beyond 64-bit integers and doubles than can be checked in %zu bytes",
                 len);
        return -1;
    }
    if (!root && replaced == JSONLOAD_NOMEM) {
        snprintf(why, why_cap, "out of memory checking numbers beyond 64-bit integers and doubles");
        return -1;
    }
    if (!root) {
        snprintf(why, why_cap, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return -1;
    }
    out->root = root;
    out->key = NULL;
    out->key_len = 0;
    out->timestamp_us = 0;
    if (spec->key) {
        json_t *kv = jsonpath_get(root, spec->key);
        if (!kv) {
            snprintf(why, why_cap, "no field '%s'", spec->key->text);
            goto bad;
        }
        if (out_of_range(line, len, replaced, kv, spec->key)) {
            snprintf(why, why_cap, "key field '%s' is a number beyond 64-bit integers and doubles", spec->key->text);
            goto bad;
        }
        if (jsonpath_key(kv, out->buf, &out->key, &out->key_len) != 0) {
            snprintf(why, why_cap, "key field '%s' is not a string or a number", spec->key->text);
            goto bad;
        }
    }
    if (spec->time) {
        json_t *tv = jsonpath_get(root, spec->time);
        if (!tv) {
            snprintf(why, why_cap, "no field '%s'", spec->time->text);
            goto bad;
        }
        if (out_of_range(line, len, replaced, tv, spec->time)) {
            snprintf(why, why_cap, "time field '%s' is a number out of range", spec->time->text);
            goto bad;
        }
        int rc = jsonpath_time_us(tv, &spec->time_how, &out->timestamp_us);
        if (rc == JSONPATH_TIME_NOT_LOCAL) {
            snprintf(why, why_cap, "time field '%s' is a local time that %s skips or shows twice (daylight saving)",
                     spec->time->text, spec->zone_name ? spec->zone_name : "the zone");
            goto bad;
        }
        if (rc != 0) {
            if (spec->time_how.pattern)
                snprintf(why, why_cap, "time field '%s' is not a number in range or a time in the pattern '%s'",
                         spec->time->text, spec->time_how.pattern);
            else
                snprintf(why, why_cap, "time field '%s' is not a number in range or an RFC 3339 time",
                         spec->time->text);
            goto bad;
        }
        /* The store takes a time of 0 for "the append time": storing the
         * epoch would silently become now. */
        if (out->timestamp_us == 0) {
            snprintf(why, why_cap,
                     "time field '%s' is the epoch (0), which the store cannot hold: it means the append time",
                     spec->time->text);
            goto bad;
        }
    }
    if (parse_tombstone(spec, out, why, why_cap) != 0 ||
        parse_schema_version(spec, line, len, replaced, out, why, why_cap) != 0 ||
        parse_headers(spec, line, len, replaced, out, why, why_cap) != 0)
        goto bad;
    return 0;
bad:
    ingest_release(out);
    return -1;
}

void ingest_release(ingest_line *l)
{
    json_decref(l->root);
    l->root = NULL;
}
