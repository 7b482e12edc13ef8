/*
 * ingest — one JSON Lines line to key, time and value; see ingest.h.
 */
#include "ingest.h"

#include <stdio.h>

int ingest_parse(const ingest_spec *spec, const char *line, size_t len, ingest_line *out, char *why, size_t why_cap)
{
    if (len > spec->record_bytes_max) {
        snprintf(why, why_cap, "event of %zu bytes exceeds the stream's record limit of %u bytes", len,
                 spec->record_bytes_max);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
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
        if (jsonpath_time_us(tv, spec->unit_us, &out->timestamp_us) != 0) {
            snprintf(why, why_cap, "time field '%s' is not a number in range or an RFC 3339 time", spec->time->text);
            goto bad;
        }
    }
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
