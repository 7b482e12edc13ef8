/*
 * ingest — what `siglog append` makes of one JSON Lines line: it must be
 * exactly one JSON value within the stream's record limit, and the key and
 * event time come from the fields that dot paths name (jsonpath.h). No
 * I/O and no store, so the fuzz target ingest_jsonl runs exactly the code
 * the tool runs.
 */
#ifndef SIGLOG_INGEST_H
#define SIGLOG_INGEST_H

#include "jsonpath.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ingest_spec {
    const jsonpath *key;       /* NULL: events carry no key */
    const jsonpath *time;      /* NULL: the append time is used */
    jsonpath_time time_how;    /* how the time field is read */
    const char *zone_name;     /* of time_how.local_to_utc, for messages */
    uint32_t record_bytes_max; /* longer lines are refused */
} ingest_spec;

typedef struct ingest_line {
    json_t *root;         /* the parsed line; freed by ingest_release */
    const char *key;      /* into root or buf; key_len 0: no key */
    size_t key_len;
    int64_t timestamp_us; /* 0: the append time (a time field is never 0) */
    char buf[JSONPATH_KEY_MAX];
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
