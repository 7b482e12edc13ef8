/*
 * jsmsg — an event as a JetStream message and back (jsmsg.h has the
 * layout and the decoding rules).
 */
#include "jsmsg.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsmsg_id_format(const jsmsg_id *id, char buf[JSMSG_ID_MAX])
{
    snprintf(buf, JSMSG_ID_MAX, "%016" PRIx64 ":%s:%" PRIu32 ":%" PRIu64, id->store_id, id->stream, id->partition,
             id->offset);
}

/* Decimal digits only (no sign, no leading zero but "0" itself), at most
 * max. -1 otherwise. */
static int parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_hex64(const char *s, size_t len, uint64_t *out)
{
    if (len != 16)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

int jsmsg_id_parse(const char *text, jsmsg_id *out)
{
    /* STOREID:STREAM:PARTITION:OFFSET; a stream name holds no ':'. */
    const char *c1 = strchr(text, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    if (!c3 || strchr(c3 + 1, ':'))
        return -1;
    size_t stream_len = (size_t)(c2 - c1 - 1);
    uint64_t partition;
    if (parse_hex64(text, (size_t)(c1 - text), &out->store_id) != 0 || stream_len == 0 ||
        stream_len > SIGLOG_NAME_MAX ||
        parse_decimal(c2 + 1, (size_t)(c3 - c2 - 1), SIGLOG_PARTITIONS_MAX - 1, &partition) != 0 ||
        parse_decimal(c3 + 1, strlen(c3 + 1), UINT64_MAX, &out->offset) != 0)
        return -1;
    memcpy(out->stream, c1 + 1, stream_len);
    out->stream[stream_len] = '\0';
    out->partition = (uint32_t)partition;
    return 0;
}

int jsmsg_subject(const char *prefix, const char *stream, uint32_t partition, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s.%s.%" PRIu32, prefix, stream, partition);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int jsmsg_subject_partition(const char *subject, uint32_t *partition)
{
    const char *dot = strrchr(subject, '.');
    const char *last = dot ? dot + 1 : subject;
    uint64_t p;
    if (parse_decimal(last, strlen(last), SIGLOG_PARTITIONS_MAX - 1, &p) != 0)
        return -1;
    *partition = (uint32_t)p;
    return 0;
}

int jsmsg_subject_matches(const char *filter, const char *subject)
{
    for (;;) {
        const char *fe = strchr(filter, '.'), *se = strchr(subject, '.');
        size_t fl = fe ? (size_t)(fe - filter) : strlen(filter);
        size_t sl = se ? (size_t)(se - subject) : strlen(subject);
        if (fl == 1 && filter[0] == '>' && !fe)
            return sl > 0;
        if (!(fl == 1 && filter[0] == '*') && (fl != sl || memcmp(filter, subject, fl) != 0))
            return 0;
        if (!fe || !se)
            return !fe && !se;
        filter = fe + 1;
        subject = se + 1;
    }
}

/* ---- encoding ---- */

static size_t b64_len(size_t bin_len)
{
    return sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_ORIGINAL);
}

/* The text every field of rec needs, NULs included. */
static size_t encoded_bytes(const siglog_record *rec)
{
    size_t n = 2 * 24 + 2 * 12 + b64_len(rec->key_len);
    for (uint32_t i = 0; i < rec->header_count; i++)
        n += b64_len(rec->headers[i].key_len) + b64_len(rec->headers[i].value_len);
    return n;
}

static char *put_field(jsmsg_encoder *e, char *at, const char *name, const char *text)
{
    size_t len = strlen(text) + 1;
    memcpy(at, text, len);
    e->fields[e->count++] = (jsmsg_field){ name, at };
    return at + len;
}

int jsmsg_encode(jsmsg_encoder *e, const siglog_record *rec)
{
    size_t need = encoded_bytes(rec);
    if (need > e->cap) {
        char *t = realloc(e->text, need);
        if (!t)
            return -1;
        e->text = t;
        e->cap = need;
    }
    e->count = 0;
    char *at = e->text, num[24];
    snprintf(num, sizeof num, "%" PRId64, rec->timestamp_us);
    at = put_field(e, at, JSMSG_HDR_TIME, num);
    snprintf(num, sizeof num, "%" PRIu32, rec->schema_version);
    at = put_field(e, at, JSMSG_HDR_SCHEMA, num);
    if (rec->key_len > 0) {
        sodium_bin2base64(at, b64_len(rec->key_len), rec->key, rec->key_len, sodium_base64_VARIANT_ORIGINAL);
        e->fields[e->count++] = (jsmsg_field){ JSMSG_HDR_KEY, at };
        at += strlen(at) + 1;
    }
    if (rec->flags != 0) {
        snprintf(num, sizeof num, "%" PRIu32, rec->flags);
        at = put_field(e, at, JSMSG_HDR_FLAGS, num);
    }
    for (uint32_t i = 0; i < rec->header_count; i++) {
        const siglog_header *h = &rec->headers[i];
        char *start = at;
        sodium_bin2base64(at, b64_len(h->key_len), h->key, h->key_len, sodium_base64_VARIANT_ORIGINAL);
        at += strlen(at);
        *at++ = ':';
        sodium_bin2base64(at, b64_len(h->value_len), h->value, h->value_len, sodium_base64_VARIANT_ORIGINAL);
        at += strlen(at) + 1;
        e->fields[e->count++] = (jsmsg_field){ JSMSG_HDR_HEADER, start };
    }
    return 0;
}

void jsmsg_encoder_free(jsmsg_encoder *e)
{
    free(e->text);
    e->text = NULL;
    e->cap = 0;
}

/* ---- decoding ---- */

static int fail(jsmsg_decoder *d, const char *field, const char *why)
{
    snprintf(d->error, sizeof d->error, "header %s: %s", field, why);
    return -1;
}

static int base64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
           c == '=';
}

/* Strict base64 of len text bytes into d->bytes at *used. libsodium
 * checks padding and the unused bits, but takes some bytes above 0x7f
 * for letters: the alphabet is checked here first. */
static int unbase64(jsmsg_decoder *d, const char *field, const char *text, size_t len, size_t *used,
                    uint32_t *out_len)
{
    for (size_t i = 0; i < len; i++)
        if (!base64_char((unsigned char)text[i]))
            return fail(d, field, "is not base64");
    size_t bin_len;
    const char *end;
    if (sodium_base642bin(d->bytes + *used, d->cap - *used, text, len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text + len)
        return fail(d, field, "is not base64");
    if (bin_len > UINT32_MAX)
        return fail(d, field, "is too long");
    *used += bin_len;
    *out_len = (uint32_t)bin_len;
    return 0;
}

static int decode_number(jsmsg_decoder *d, const char *field, const char *text, int negative_ok, uint64_t max,
                         uint64_t *out)
{
    int neg = negative_ok && text[0] == '-';
    if (parse_decimal(text + neg, strlen(text + neg), max + neg, out) != 0 || (neg && *out == 0))
        return fail(d, field, "is not a number in range");
    if (neg)
        *out = (uint64_t)0 - *out;
    return 0;
}

/* Room for every decoded byte: base64 never decodes to more than its
 * text. */
static int reserve(jsmsg_decoder *d, const jsmsg_field *fields, size_t n)
{
    size_t need = 1;
    for (size_t i = 0; i < n; i++)
        need += strlen(fields[i].value);
    if (need <= d->cap)
        return 0;
    uint8_t *b = realloc(d->bytes, need);
    if (!b) {
        snprintf(d->error, sizeof d->error, "out of memory");
        return -1;
    }
    d->bytes = b;
    d->cap = need;
    return 0;
}

/* The positions of the decoded bytes, turned into pointers once every
 * field is read (the buffer does not move after reserve). */
int jsmsg_decode(jsmsg_decoder *d, const jsmsg_field *fields, size_t n, const void *value, size_t value_len)
{
    if (reserve(d, fields, n) != 0)
        return -1;
    memset(&d->ev, 0, sizeof d->ev);
    int have_time = 0, have_schema = 0, have_key = 0, have_flags = 0;
    size_t used = 0, key_at = 0;
    uint32_t key_len = 0, count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = fields[i].name, *text = fields[i].value;
        uint64_t v;
        if (strcmp(name, JSMSG_HDR_TIME) == 0) {
            if (have_time++)
                return fail(d, name, "given twice");
            if (decode_number(d, name, text, 1, INT64_MAX, &v) != 0)
                return -1;
            d->ev.timestamp_us = (int64_t)v;
        } else if (strcmp(name, JSMSG_HDR_SCHEMA) == 0) {
            if (have_schema++)
                return fail(d, name, "given twice");
            if (decode_number(d, name, text, 0, UINT32_MAX, &v) != 0)
                return -1;
            d->ev.schema_version = (uint32_t)v;
        } else if (strcmp(name, JSMSG_HDR_FLAGS) == 0) {
            if (have_flags++)
                return fail(d, name, "given twice");
            if (decode_number(d, name, text, 0, SIGLOG_EVENT_TOMBSTONE, &v) != 0 || v == 0)
                return fail(d, name, "is not a known non-zero flag set");
            d->ev.flags = (uint32_t)v;
        } else if (strcmp(name, JSMSG_HDR_KEY) == 0) {
            if (have_key++)
                return fail(d, name, "given twice");
            key_at = used;
            if (unbase64(d, name, text, strlen(text), &used, &key_len) != 0)
                return -1;
            if (key_len == 0)
                return fail(d, name, "is empty (a keyless event has none)");
        } else if (strcmp(name, JSMSG_HDR_HEADER) == 0) {
            if (count == SIGLOG_HEADERS_MAX)
                return fail(d, name, "more of them than an event may have");
            const char *colon = strchr(text, ':');
            if (!colon)
                return fail(d, name, "has no ':' between name and value");
            siglog_header *h = &d->headers[count++];
            size_t name_at = used, value_at;
            if (unbase64(d, name, text, (size_t)(colon - text), &used, &h->key_len) != 0)
                return -1;
            value_at = used;
            if (unbase64(d, name, colon + 1, strlen(colon + 1), &used, &h->value_len) != 0)
                return -1;
            /* Positions for now; pointers below. */
            h->key = (const void *)(uintptr_t)name_at;
            h->value = (const void *)(uintptr_t)value_at;
        }
    }
    if (!have_time || !have_schema)
        return fail(d, have_time ? JSMSG_HDR_SCHEMA : JSMSG_HDR_TIME, "is missing");
    for (uint32_t i = 0; i < count; i++) {
        d->headers[i].key = d->bytes + (uintptr_t)d->headers[i].key;
        d->headers[i].value = d->bytes + (uintptr_t)d->headers[i].value;
    }
    d->ev.key = key_len ? d->bytes + key_at : NULL;
    d->ev.key_len = key_len;
    d->ev.value = value;
    d->ev.value_len = value_len;
    d->ev.headers = count ? d->headers : NULL;
    d->ev.header_count = count;
    return 0;
}

void jsmsg_decoder_free(jsmsg_decoder *d)
{
    free(d->bytes);
    d->bytes = NULL;
    d->cap = 0;
}
