/*
 * parse_jsmsg: feed `siglog pull`'s reading of a JetStream message
 * (tools/jsmsg.c) arbitrary messages and check that it accepts only the
 * canonical text `siglog ship` writes. The input is
 *
 *   SUBJECT LF (NAME ":" VALUE LF)* LF DATA
 *
 * Oracles: a decoded event, encoded again, gives exactly the input's
 * Siglog-* values, name by name in order (decoding is strict: no other
 * spelling of a number or of base64 gets through), and decodes again to
 * the same event; a message id parsed and formatted again is the same
 * text; a subject's partition, parsed, is its last token; a subject
 * without wildcards matches itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsmsg.h"

/* A message has at most a few KiB of headers that matter. */
#define INPUT_MAX 16384
#define FIELDS_MAX (16 + SIGLOG_HEADERS_MAX)

static void fail(const char *what)
{
    fprintf(stderr, "parse_jsmsg: %s\n", what);
    abort();
}

static void check_id(const char *text)
{
    jsmsg_id id;
    if (jsmsg_id_parse(text, &id) != 0)
        return;
    char again[JSMSG_ID_MAX];
    jsmsg_id_format(&id, again);
    if (strcmp(again, text) != 0)
        fail("a message id does not read back as its own text");
}

static void check_subject(const char *subject)
{
    uint32_t p;
    if (jsmsg_subject_partition(subject, &p) == 0) {
        const char *dot = strrchr(subject, '.');
        char last[16];
        snprintf(last, sizeof last, "%u", p);
        if (strcmp(dot ? dot + 1 : subject, last) != 0)
            fail("a subject's partition is not its last token");
    }
    if (!strchr(subject, '*') && !strchr(subject, '>') && *subject && !strstr(subject, "..") &&
        subject[0] != '.' && subject[strlen(subject) - 1] != '.' && !jsmsg_subject_matches(subject, subject))
        fail("a subject does not match itself");
}

static int same_event(const siglog_event *a, const siglog_event *b)
{
    if (a->key_len != b->key_len || (a->key_len && memcmp(a->key, b->key, a->key_len) != 0) ||
        a->timestamp_us != b->timestamp_us || a->schema_version != b->schema_version || a->flags != b->flags ||
        a->header_count != b->header_count || a->value_len != b->value_len)
        return 0;
    for (uint32_t i = 0; i < a->header_count; i++) {
        const siglog_header *x = &a->headers[i], *y = &b->headers[i];
        if (x->key_len != y->key_len || x->value_len != y->value_len ||
            memcmp(x->key, y->key, x->key_len) != 0 || memcmp(x->value, y->value, x->value_len) != 0)
            return 0;
    }
    return 1;
}

/* The values of fields named name, in order, the same in both lists. */
static int same_values(const char *name, const jsmsg_field *a, size_t na, const jsmsg_field *b, size_t nb)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < na && strcmp(a[i].name, name) != 0)
            i++;
        while (j < nb && strcmp(b[j].name, name) != 0)
            j++;
        if (i == na || j == nb)
            return i == na && j == nb;
        if (strcmp(a[i++].value, b[j++].value) != 0)
            return 0;
    }
}

static void check_decode(const jsmsg_field *fields, size_t n, const char *data, size_t data_len)
{
    static const char *const ours[] = { JSMSG_HDR_TIME, JSMSG_HDR_SCHEMA, JSMSG_HDR_KEY, JSMSG_HDR_FLAGS,
                                        JSMSG_HDR_HEADER };
    jsmsg_decoder d = { 0 }, d2 = { 0 };
    jsmsg_encoder e = { 0 };
    if (jsmsg_decode(&d, fields, n, data, data_len) == 0) {
        if (d.ev.value != data || d.ev.value_len != data_len)
            fail("the value is not the data");
        siglog_record rec = {
            .timestamp_us = d.ev.timestamp_us, .schema_version = d.ev.schema_version, .flags = d.ev.flags,
            .header_count = d.ev.header_count, .key = d.ev.key, .key_len = d.ev.key_len,
            .value = d.ev.value, .value_len = d.ev.value_len, .headers = d.ev.headers,
        };
        if (jsmsg_encode(&e, &rec) != 0)
            fail("encoding a decoded event failed");
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            if (!same_values(ours[i], fields, n, e.fields, e.count))
                fail("a decoded event encodes to other text than it was read from");
        if (jsmsg_decode(&d2, e.fields, e.count, data, data_len) != 0 || !same_event(&d.ev, &d2.ev))
            fail("an encoded event does not decode to itself");
    } else if (!d.error[0]) {
        fail("a refusal without a reason");
    }
    jsmsg_decoder_free(&d);
    jsmsg_decoder_free(&d2);
    jsmsg_encoder_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_MAX)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (strlen(text) != size) { /* header text holds no NUL */
        free(text);
        return 0;
    }
    /* The subject line, header lines up to an empty one, then the data. */
    char *at = text, *nl = strchr(at, '\n');
    if (nl)
        *nl = '\0';
    check_subject(at);
    jsmsg_field fields[FIELDS_MAX];
    size_t n = 0;
    at = nl ? nl + 1 : text + size;
    while (at < text + size && *at != '\n' && n < FIELDS_MAX) {
        nl = strchr(at, '\n');
        if (nl)
            *nl = '\0';
        char *colon = strchr(at, ':');
        if (colon) {
            *colon = '\0';
            const char *value = colon[1] == ' ' ? colon + 2 : colon + 1;
            fields[n++] = (jsmsg_field){ at, value };
            if (strcmp(at, JSMSG_HDR_ID) == 0)
                check_id(value);
        }
        at = nl ? nl + 1 : text + size;
    }
    if (at < text + size && *at == '\n')
        at++;
    check_decode(fields, n, at, (size_t)(text + size - at));
    free(text);
    return 0;
}
