/*
 * scenario — a small durable workload that acknowledges on stdout, and its
 * verifier; the program the syscall-level crash and fsync-order checks run.
 *
 *   scenario run STORE            run the workload, print acknowledgements
 *   scenario verify STORE ACKS    recover STORE, check it against ACKS (what
 *                                 an interrupted run printed), append again
 *
 * The workload: create a store with the smallest journal (1 MiB) and a
 * stream "alpha" (2 partitions, SYNC_ALWAYS, 64 KiB segments), append
 * SC_EVENTS events of 16..32 KiB (more than the journal holds, so segments
 * roll and a checkpoint resets the journal), and create a second stream
 * "beta" half way (a metadata replace). Every event is a pure function of
 * its number, and so is where it lands (stream, partition, offset).
 *
 * Every acknowledgement is ONE write(2) to fd 1, issued only after the call
 * it acknowledges returned: in a system-call trace it is the moment the
 * program relies on durability. Lines:
 *   ACK store | ACK stream NAME | ACK event I STREAM PARTITION OFFSET | ACK close
 *
 * verify proves, for whatever prefix of the run a crash allowed:
 *   - the store opens (recovery runs), or is created anew when its creation
 *     was never acknowledged;
 *   - an acknowledged stream exists;
 *   - every partition's offsets are dense from 0, and every record is the
 *     workload's event for that place, byte-identical (so nothing beyond
 *     the acknowledged events is garbage either);
 *   - every acknowledged event is present;
 *   - appends resume at the recovered end, and the store closes cleanly.
 * Exit 0 when all hold; 1 with a message on stderr naming what broke.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "siglog.h"

#define SC_EVENTS 56
#define SC_BETA_AT 28 /* beta is created before this event */
#define SC_PARTS 2
#define SC_STREAMS 2
#define SC_SEGMENT_BYTES (64u << 10)
#define SC_JOURNAL_BYTES (1u << 20)
#define SC_VALUE_MIN (16u << 10)
#define SC_VALUE_SPAN (16u << 10)

static const char *const sc_names[SC_STREAMS] = {"alpha", "beta"};

/* Where event i lands. Beta exists from SC_BETA_AT on and takes every
 * third event after it. */
static int sc_stream_of(unsigned i)
{
    return i >= SC_BETA_AT && i % 3 == 0;
}

static uint32_t sc_part_of(unsigned i)
{
    return i % SC_PARTS;
}

/* Offset of event i in its partition: how many earlier events share it. */
static uint64_t sc_offset_of(unsigned i)
{
    uint64_t n = 0;
    for (unsigned j = 0; j < i; j++)
        n += sc_stream_of(j) == sc_stream_of(i) && sc_part_of(j) == sc_part_of(i);
    return n;
}

/* The event at (stream, partition, offset), or -1 past the workload. The
 * verifier's resume appends use numbers >= SC_EVENTS. */
static int sc_event_at(int stream, uint32_t part, uint64_t off)
{
    for (unsigned i = 0; i < SC_EVENTS; i++)
        if (sc_stream_of(i) == stream && sc_part_of(i) == part && sc_offset_of(i) == off)
            return (int)i;
    return -1;
}

typedef struct sc_event {
    siglog_event ev;
    siglog_header hdr;
    char key[24];
    char hkey[16];
    unsigned char value[SC_VALUE_MIN + SC_VALUE_SPAN];
} sc_event;

/* Event number i: key, 16..32 KiB of incompressible bytes, a timestamp, a
 * header and a schema version, all derived from i. */
static void sc_event_make(sc_event *e, unsigned i)
{
    uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
    memset(e, 0, sizeof *e);
    size_t len = SC_VALUE_MIN + (size_t)(x % SC_VALUE_SPAN);
    for (size_t k = 0; k < len; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        e->value[k] = (unsigned char)x;
    }
    snprintf(e->key, sizeof e->key, "key-%u", i);
    snprintf(e->hkey, sizeof e->hkey, "run");
    e->hdr = (siglog_header){e->hkey, (uint32_t)strlen(e->hkey), e->key, (uint32_t)strlen(e->key)};
    e->ev = (siglog_event){
        .key = e->key,
        .key_len = strlen(e->key),
        .value = e->value,
        .value_len = len,
        .timestamp_us = 1700000000000000 + (int64_t)i * 1000,
        .schema_version = i % 5,
        .headers = &e->hdr,
        .header_count = 1,
    };
}

static int sc_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("scenario: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static int sc_api_fail(const char *what, int rc)
{
    return sc_fail("%s: %s (%s)", what, siglog_errname(rc), siglog_errdetail());
}

/* One acknowledgement: a single write(2), so a trace shows exactly when. */
static void sc_ack(const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) != n)
        exit(1);
}

static void sc_options(siglog_options *o, int create)
{
    siglog_options_default(o);
    o->create = create;
    o->journal_bytes = SC_JOURNAL_BYTES;
}

static int sc_stream_create(siglog *s, int stream)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = SC_PARTS;
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    c.compression = SIGLOG_COMPRESSION_NONE;
    c.segment_bytes_max = SC_SEGMENT_BYTES;
    c.record_bytes_max = 64u << 10; // with the batch limit, under a quarter of the journal
    int rc = siglog_stream_create(s, sc_names[stream], &c);
    return rc ? sc_api_fail(sc_names[stream], rc) : 0;
}

static int sc_append(siglog_stream *st, unsigned i, uint32_t *part, uint64_t *off)
{
    static sc_event e; /* 32 KiB: off the stack */
    sc_event_make(&e, i);
    int rc = siglog_append(st, sc_part_of(i), &e.ev, 1, part, off);
    return rc ? sc_api_fail("append", rc) : 0;
}

static int sc_run(const char *dir)
{
    siglog *s;
    siglog_options o;
    sc_options(&o, 1);
    int rc = siglog_open(&s, dir, &o);
    if (rc)
        return sc_api_fail("open", rc);
    sc_ack("ACK store\n");
    siglog_stream *st[SC_STREAMS] = {0};
    int bad = 0;
    for (unsigned i = 0; i < SC_EVENTS && !bad; i++) {
        int want = i == 0 ? 0 : i == SC_BETA_AT ? 1 : -1;
        if (want >= 0) {
            bad = sc_stream_create(s, want);
            if (!bad && (rc = siglog_stream_get(s, sc_names[want], &st[want])) != 0)
                bad = sc_api_fail("stream get", rc);
            if (bad)
                break;
            sc_ack("ACK stream %s\n", sc_names[want]);
        }
        uint32_t part;
        uint64_t off;
        int k = sc_stream_of(i);
        bad = sc_append(st[k], i, &part, &off);
        if (!bad && (part != sc_part_of(i) || off != sc_offset_of(i)))
            bad = sc_fail("event %u landed at %u/%" PRIu64 ", expected %u/%" PRIu64, i, part, off, sc_part_of(i),
                          sc_offset_of(i));
        if (!bad)
            sc_ack("ACK event %u %s %u %" PRIu64 "\n", i, sc_names[k], part, off);
    }
    rc = siglog_close(s);
    if (rc && !bad)
        bad = sc_api_fail("close", rc);
    if (!bad)
        sc_ack("ACK close\n");
    return bad;
}

/* ---- verify ---- */

typedef struct sc_acks {
    int store;
    int stream[SC_STREAMS];
    int event[SC_EVENTS];
} sc_acks;

static int sc_read_acks(const char *path, sc_acks *a)
{
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "r");
    if (!f)
        return sc_fail("%s: %s", path, strerror(errno));
    char line[256], name[64];
    unsigned i;
    int bad = 0;
    while (!bad && fgets(line, sizeof line, f)) {
        if (strcmp(line, "ACK store\n") == 0 || strcmp(line, "ACK close\n") == 0) {
            a->store = 1;
        } else if (sscanf(line, "ACK stream %63s", name) == 1) {
            a->stream[strcmp(name, sc_names[1]) == 0] = 1;
        } else if (sscanf(line, "ACK event %u", &i) == 1 && i < SC_EVENTS) {
            a->event[i] = 1;
        } else if (line[strlen(line) - 1] == '\n') {
            bad = sc_fail("%s: unexpected line %s", path, line);
        }
        /* A line without its newline cannot be: each is one write. */
    }
    fclose(f);
    return bad;
}

static int sc_record_eq(const siglog_record *r, const siglog_event *e)
{
    return r->key_len == e->key_len && memcmp(r->key, e->key, e->key_len) == 0 && r->value_len == e->value_len &&
           memcmp(r->value, e->value, e->value_len) == 0 && r->timestamp_us == e->timestamp_us &&
           r->schema_version == e->schema_version && r->flags == e->flags && r->header_count == e->header_count &&
           r->headers[0].key_len == e->headers[0].key_len &&
           memcmp(r->headers[0].key, e->headers[0].key, e->headers[0].key_len) == 0 &&
           r->headers[0].value_len == e->headers[0].value_len &&
           memcmp(r->headers[0].value, e->headers[0].value, e->headers[0].value_len) == 0;
}

/* Read one partition: dense offsets, every record the workload's own.
 * *count is the recovered next offset. */
static int sc_check_partition(siglog_stream *st, int stream, uint32_t part, uint64_t *count)
{
    static sc_event e;
    siglog_cursor *c;
    int rc = siglog_cursor_open(&c, st, part, SIGLOG_SEEK_START, 0, 0);
    if (rc)
        return sc_api_fail("cursor open", rc);
    const siglog_record *r;
    uint64_t want = 0;
    int bad = 0;
    while (!bad && (rc = siglog_cursor_next(c, &r)) == 1) {
        int i = sc_event_at(stream, part, want);
        if (r->offset != want)
            bad = sc_fail("%s/%u: offset %" PRIu64 " where %" PRIu64 " was due", sc_names[stream], part, r->offset,
                          want);
        else if (i < 0)
            bad = sc_fail("%s/%u: a record at %" PRIu64 ", past everything the run appended", sc_names[stream],
                          part, want);
        if (!bad) {
            sc_event_make(&e, (unsigned)i);
            if (!sc_record_eq(r, &e.ev))
                bad = sc_fail("%s/%u: the record at %" PRIu64 " differs from event %d", sc_names[stream], part,
                              want, i);
        }
        want++;
    }
    if (!bad && rc < 0)
        bad = sc_api_fail("cursor next", rc);
    siglog_cursor_close(c);
    *count = want;
    return bad;
}

static int sc_verify(const char *dir, const char *ack_path)
{
    sc_acks a;
    if (sc_read_acks(ack_path, &a))
        return 1;
    siglog *s;
    siglog_options o;
    /* A store whose creation was never acknowledged may be half made:
     * opening with create must finish or redo it. */
    sc_options(&o, !a.store);
    int rc = siglog_open(&s, dir, &o);
    if (rc)
        return sc_api_fail("open after the crash", rc);
    int bad = 0;
    for (int k = 0; k < SC_STREAMS && !bad; k++) {
        siglog_stream *st;
        rc = siglog_stream_get(s, sc_names[k], &st);
        if (rc == SIGLOG_ENOENT && a.stream[k]) {
            bad = sc_fail("acknowledged stream %s is gone", sc_names[k]);
            break;
        }
        if (rc == SIGLOG_ENOENT) {
            /* Never acknowledged: creating it now must work. */
            bad = sc_stream_create(s, k);
            if (!bad && (rc = siglog_stream_get(s, sc_names[k], &st)) != 0)
                bad = sc_api_fail("stream get after create", rc);
            if (bad)
                break;
        } else if (rc) {
            bad = sc_api_fail("stream get", rc);
            break;
        }
        for (uint32_t p = 0; p < SC_PARTS && !bad; p++) {
            uint64_t count = 0;
            bad = sc_check_partition(st, k, p, &count);
            for (unsigned i = 0; i < SC_EVENTS && !bad; i++)
                if (a.event[i] && sc_stream_of(i) == k && sc_part_of(i) == p && sc_offset_of(i) >= count)
                    bad = sc_fail("acknowledged event %u (%s/%u at %" PRIu64 ") is missing: the partition ends "
                                  "at %" PRIu64,
                                  i, sc_names[k], p, sc_offset_of(i), count);
            uint32_t got_part = 0;
            uint64_t got_off = 0;
            /* Event SC_EVENTS + p lands in partition p (sc_part_of). */
            if (!bad)
                bad = sc_append(st, SC_EVENTS + p, &got_part, &got_off);
            if (!bad && got_off != count)
                bad = sc_fail("%s/%u: an append after recovery got offset %" PRIu64 ", expected %" PRIu64,
                              sc_names[k], p, got_off, count);
        }
    }
    rc = siglog_close(s);
    if (rc && !bad)
        bad = sc_api_fail("close after the resumed appends", rc);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "run") == 0)
        return sc_run(argv[2]);
    if (argc == 4 && strcmp(argv[1], "verify") == 0)
        return sc_verify(argv[2], argv[3]);
    fprintf(stderr, "usage: scenario run STORE | scenario verify STORE ACKS\n");
    return 2;
}
