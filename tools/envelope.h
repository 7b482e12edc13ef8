/*
 * envelope — `siglog replay --format jsonl`'s line per event, as
 * FORMAT.md's "jsonl envelope" says: stream, partition, offset, ts, key
 * (or its base64), schema, headers, tombstone, late, then the value
 * embedded as stored when it is JSON without raw line breaks, re-encoded
 * when it has some, base64 otherwise.
 *
 * The caller keeps one envelope_head per source (stream and partition):
 * the line's start, the same for all its events, is built once there.
 */
#ifndef SIGLOG_ENVELOPE_H
#define SIGLOG_ENVELOPE_H

#include <siglog.h>

#include "output.h"

/* The digits kept in an envelope_head are copied this many at once
 * whatever their count (the line's room allows it): a copy of the
 * count alone is a call. */
#define ENVELOPE_COPY_BYTES 24

typedef struct envelope_head {
    /* {"stream":NAME,"partition":P,"offset": in bytes[0..len); len 0
     * until the source's first event, -1 when the name needs escapes
     * (then written with out_json_string each time). */
    int len;
    char bytes[sizeof "{\"stream\":\"\",\"partition\":,\"offset\":" + SIGLOG_NAME_MAX + OUT_DECIMAL_MAX];
    /* The source's last offset in the common line and its digits
     * (offset_len of them, 0 before the first), which the next offset,
     * one more, mostly changes in its last digit alone. */
    uint64_t offset;
    unsigned offset_len;
    char offset_digits[ENVELOPE_COPY_BYTES];
    /* The digits of the last time's part above its last eight (ts_hi of
     * them, 0 before the first), which change once in 100 seconds. */
    uint64_t ts_hi;
    unsigned ts_hi_len;
    char ts_hi_digits[ENVELOPE_COPY_BYTES];
} envelope_head;

/* Write r's line; h is the source's (stream, partition), zeroed before
 * its first event. late: handed out behind the watermark of
 * --max-lateness. */
void envelope_write(envelope_head *h, const char *stream, uint32_t partition, const siglog_record *r, int late);

#endif
