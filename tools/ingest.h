/*
 * ingest — what `siglog append` makes of one JSON Lines line: it must be
 * exactly one JSON value within the stream's record limit, and the key and
 * event time come from the fields that dot paths name (jsonpath.h), and
 * so do header values (or they are constants), whether the event is a
 * tombstone and its schema version. No
 * I/O and no store, so the fuzz target ingest_jsonl runs exactly the code
 * the tool runs.
 */
#ifndef SIGLOG_INGEST_H
#define SIGLOG_INGEST_H

#include "jsonpath.h"

#include <stddef.h>
#include <stdint.h>

/* As SIGLOG_HEADERS_MAX (siglog.h, which this file does without so the
 * fuzz target needs no library). */
#define INGEST_HEADERS_MAX 64

typedef struct ingest_header {
    const char *name;      /* name_len bytes */
    size_t name_len;
    const jsonpath *field; /* the value is this field of each line (a
                            * string's characters or a number's text, as
                            * for the key) ... */
    const char *value;     /* ... or, when field is NULL, this constant */
} ingest_header;

typedef struct ingest_spec {
    const jsonpath *key;       /* NULL: events carry no key */
    const jsonpath *time;      /* NULL: the append time is used */
    const jsonpath *tombstone; /* a line is a tombstone when this field is
                                * true; NULL: no line is */
    const jsonpath *schema;    /* the event's schema version is this field,
                                * an integer 0..2^32-1; NULL: not read */
    jsonpath_time time_how;    /* how the time field is read */
    const char *zone_name;     /* of time_how.local_to_utc, for messages */
    uint32_t record_bytes_max; /* longer events (value, key and headers
                                * together) are refused */
    const ingest_header *headers;
    size_t header_count;       /* at most INGEST_HEADERS_MAX */
    /* Optional fast path (jsonfast.h): validates a line and builds a tree
     * of only the fields the paths name, 1; 0 leaves the line to
     * jansson; -1 out of memory. NULL: jansson parses every line. */
    int (*fast)(void *ctx, const char *text, size_t len, const jsonpath *const *paths, size_t n, json_t **tree);
    void *fast_ctx;
} ingest_spec;

typedef struct ingest_value {
    const char *p; /* into root, hbuf or the spec */
    size_t len;
} ingest_value;

typedef struct ingest_line {
    json_t *root;         /* the parsed line; freed by ingest_release */
    const char *key;      /* into root or buf; key_len 0: no key */
    size_t key_len;
    int64_t timestamp_us; /* 0: the append time (a time field is never 0) */
    int tombstone;        /* the tombstone field is true */
    uint32_t schema_version; /* of the schema field (0 without spec->schema) */
    char buf[JSONPATH_KEY_MAX];
    ingest_value header_values[INGEST_HEADERS_MAX]; /* of spec->headers[i] */
    char hbuf[INGEST_HEADERS_MAX][JSONPATH_KEY_MAX];
} ingest_line;

/* Narrow one input line (without its '\n') to the bytes that make the
 * event: a trailing '\r' is part of a CRLF line ending, and a UTF-8 byte
 * order mark is skipped at the start of the input (first_line non-zero)
 * only; anywhere else it is data, and not JSON. Returns 0 when nothing but
 * JSON whitespace is left (a blank line, which append skips), else 1. */
int ingest_content(const char **line, size_t *len, int first_line);

/* Parse line[0..len). 0 and *out filled (release it), or -1 with the
 * reason in why (and nothing to release). */
int ingest_parse(const ingest_spec *spec, const char *line, size_t len, ingest_line *out, char *why, size_t why_cap);
void ingest_release(ingest_line *l);

#endif
