/*
 * jsmsg — how an event travels as a JetStream message, both ways: `siglog
 * ship` writes it, `siglog pull` reads it back. Nothing here talks to a
 * server (the NATS calls are in ship.c and pull.c), so the parser is
 * fuzzed without one (tests/fuzz/parse_jsmsg.c).
 *
 * A message carries one event of partition PARTITION of stream STREAM:
 *
 *   subject      PREFIX.STREAM.PARTITION (PARTITION in decimal; a stream
 *                name with dots just makes more tokens: the partition is
 *                always the last one)
 *   data         the event's value, byte for byte
 *   Nats-Msg-Id  STOREID:STREAM:PARTITION:OFFSET, STOREID the store id in
 *                16 lowercase hex digits, the rest decimal. JetStream
 *                drops a second message with the same id inside its
 *                duplicate window: a resend after a crash or a lost
 *                acknowledgement is stored once.
 *   Siglog-Time    event time, microseconds since the epoch (decimal, may
 *                  be negative)
 *   Siglog-Schema  schema version (decimal)
 *   Siglog-Key     the key in standard base64; absent when it has none
 *   Siglog-Flags   event flags (decimal, only SIGLOG_EVENT_TOMBSTONE);
 *                  absent when 0
 *   Siglog-Header  one per event header, in order: base64(name):base64(value)
 *
 * Header values are base64 because NATS header values are text lines and
 * event keys and headers are any bytes. Decoding is strict: a field given
 * twice, a number with anything but its digits, base64 that is not
 * canonical or not whole, more than SIGLOG_HEADERS_MAX headers, or a
 * missing Siglog-Time or Siglog-Schema make the message refused, never
 * half read. Other header names (Nats-*, anything a publisher added) are
 * ignored.
 */
#ifndef SIGLOG_JSMSG_H
#define SIGLOG_JSMSG_H

#include <siglog.h>

#include <stddef.h>
#include <stdint.h>

#define JSMSG_HDR_ID "Nats-Msg-Id"
#define JSMSG_HDR_TIME "Siglog-Time"
#define JSMSG_HDR_SCHEMA "Siglog-Schema"
#define JSMSG_HDR_KEY "Siglog-Key"
#define JSMSG_HDR_FLAGS "Siglog-Flags"
#define JSMSG_HDR_HEADER "Siglog-Header"

/* The event header `siglog pull` adds to each event it stores: the
 * message id it came from (the last such header when an event travelled
 * more than once), which makes pulling idempotent. */
#define JSMSG_ORIGIN_HEADER "siglog.origin"

/* STOREID:STREAM:PARTITION:OFFSET with its NUL. */
#define JSMSG_ID_MAX (16 + 1 + SIGLOG_NAME_MAX + 1 + 10 + 1 + 20 + 1)

typedef struct jsmsg_id {
    uint64_t store_id;
    char stream[SIGLOG_NAME_MAX + 1];
    uint32_t partition;
    uint64_t offset;
} jsmsg_id;

/* The id's text into buf (JSMSG_ID_MAX bytes). */
void jsmsg_id_format(const jsmsg_id *id, char buf[JSMSG_ID_MAX]);
/* Strict parse of an id; -1 when text is not one. */
int jsmsg_id_parse(const char *text, jsmsg_id *out);

/* PREFIX.STREAM.PARTITION into buf; -1 when it does not fit. */
int jsmsg_subject(const char *prefix, const char *stream, uint32_t partition, char *buf, size_t cap);
/* The partition a subject names (its last token, decimal, below
 * SIGLOG_PARTITIONS_MAX); -1 when it names none. */
int jsmsg_subject_partition(const char *subject, uint32_t *partition);
/* Whether the subject filter (NATS wildcards: `*` one token, `>` the
 * rest) matches subject. */
int jsmsg_subject_matches(const char *filter, const char *subject);

/* One NATS header: name and a NUL-terminated value. */
typedef struct jsmsg_field {
    const char *name;
    const char *value;
} jsmsg_field;

/* The headers of one event, their values in memory owned by the encoder.
 * Reuse one for every event: it keeps its buffer. */
typedef struct jsmsg_encoder {
    jsmsg_field fields[4 + SIGLOG_HEADERS_MAX];
    size_t count;
    char *text;
    size_t cap;
} jsmsg_encoder;

/* The header fields for rec (Nats-Msg-Id excepted: the caller sets it).
 * Valid until the next call or jsmsg_encoder_free. 0, or -1 when out of
 * memory. */
int jsmsg_encode(jsmsg_encoder *e, const siglog_record *rec);
void jsmsg_encoder_free(jsmsg_encoder *e);

/* An event decoded from header fields: ev points into the decoder (its
 * key and headers) and at the value the caller passes. Room is kept for
 * one more header after the decoded ones (pull adds the origin). */
typedef struct jsmsg_decoder {
    siglog_event ev;
    siglog_header headers[SIGLOG_HEADERS_MAX + 1];
    uint8_t *bytes;
    size_t cap;
    char error[160];
} jsmsg_decoder;

/* Decode fields[0..n) and value into d->ev. 0, or -1 with d->error saying
 * which field is wrong and how (out of memory included). */
int jsmsg_decode(jsmsg_decoder *d, const jsmsg_field *fields, size_t n, const void *value, size_t value_len);
void jsmsg_decoder_free(jsmsg_decoder *d);

#endif
