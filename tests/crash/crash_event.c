#include "crash_event.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const crash_stream_names[CRASH_STREAMS] = {"clicks", "outcomes"};

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t id_hash(unsigned stream, crash_id id)
{
    return mix64(mix64(mix64((uint64_t)stream << 32 | id.run) ^ id.thread) ^ id.seq);
}

void crash_event_make(crash_event *e, unsigned stream, crash_id id)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t h = id_hash(stream, id);
    memset(&e->ev, 0, sizeof e->ev);

    /* Values from ~100 to ~700 bytes: several land in one batch, and a
     * 256 KiB segment rolls every few hundred events. */
    int n = snprintf(e->value, sizeof e->value,
                     "{\"stream\":\"%s\",\"run\":%" PRIu32 ",\"thread\":%" PRIu32 ",\"seq\":%" PRIu64
                     ",\"hash\":\"%016" PRIx64 "\",\"pad\":\"",
                     crash_stream_names[stream], id.run, id.thread, id.seq, h);
    size_t pad = 16 + h % 560;
    uint64_t r = h;
    for (size_t i = 0; i < pad; i++) {
        r = mix64(r);
        e->value[n++] = alphabet[r % (sizeof alphabet - 1)];
    }
    e->value[n++] = '"';
    e->value[n++] = '}';
    e->value[n] = '\0';
    e->ev.value = e->value;
    e->ev.value_len = (size_t)n;

    if (h % 11 != 0) {
        e->ev.key_len = (size_t)snprintf(e->key, sizeof e->key, "user-%" PRIu64, (h >> 8) % 1000);
        e->ev.key = e->key;
    }
    e->ev.timestamp_us = 1700000000000000ll + (int64_t)(id.seq * 1000 + id.run % 1000);
    e->ev.schema_version = (uint32_t)(h >> 16) % 3;
    if (h % 5 == 0) {
        e->hdr = (siglog_header){.key = "source", .key_len = 6, .value = "crash-writer", .value_len = 12};
        e->ev.headers = &e->hdr;
        e->ev.header_count = 1;
    }
}

static int bytes_eq(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int crash_event_check(const siglog_record *r, unsigned stream, crash_id *id, char *why, size_t why_len)
{
    char head[160];
    size_t hl = r->value_len < sizeof head - 1 ? r->value_len : sizeof head - 1;
    memcpy(head, r->value, hl);
    head[hl] = '\0';
    char name[16];
    crash_id got;
    if (sscanf(head, "{\"stream\":\"%15[a-z]\",\"run\":%" SCNu32 ",\"thread\":%" SCNu32 ",\"seq\":%" SCNu64 ",",
               name, &got.run, &got.thread, &got.seq) != 4) {
        snprintf(why, why_len, "value is not a crash event: %.60s", head);
        return -1;
    }
    crash_event want;
    crash_event_make(&want, stream, got);
    const siglog_event *w = &want.ev;
    const char *bad = NULL;
    if (!bytes_eq(r->value, r->value_len, w->value, w->value_len))
        bad = "value";
    else if (!bytes_eq(r->key, r->key_len, w->key, w->key_len))
        bad = "key";
    else if (r->timestamp_us != w->timestamp_us)
        bad = "timestamp";
    else if (r->schema_version != w->schema_version)
        bad = "schema version";
    else if (r->flags != w->flags)
        bad = "flags";
    else if (r->header_count != w->header_count)
        bad = "header count";
    else if (w->header_count == 1 && (!bytes_eq(r->headers[0].key, r->headers[0].key_len, w->headers[0].key,
                                                w->headers[0].key_len) ||
                                      !bytes_eq(r->headers[0].value, r->headers[0].value_len,
                                                w->headers[0].value, w->headers[0].value_len)))
        bad = "header";
    if (bad) {
        snprintf(why, why_len, "%s differs from event run %" PRIu32 " thread %" PRIu32 " seq %" PRIu64
                 " of stream %s", bad, got.run, got.thread, got.seq, crash_stream_names[stream]);
        return -1;
    }
    *id = got;
    return 0;
}

int crash_line_format(char *buf, size_t len, char kind, unsigned stream, uint32_t partition, uint64_t offset,
                      crash_id id)
{
    return snprintf(buf, len, "%c %u %" PRIu32 " %" PRIu64 " %" PRIu32 " %" PRIu32 " %" PRIu64 "\n", kind, stream,
                    partition, offset, id.run, id.thread, id.seq);
}

int crash_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int crash_streams_create_and_close(siglog *s, const siglog_stream_config *c)
{
    int rc = 0;
    for (unsigned i = 0; i < CRASH_STREAMS && rc == 0; i++) {
        rc = siglog_stream_create(s, crash_stream_names[i], c);
        if (rc != 0)
            fprintf(stderr, "create stream %s: %s: %s\n", crash_stream_names[i], siglog_errname(rc),
                    siglog_errdetail());
    }
    int crc = siglog_close(s);
    return rc == 0 && crc == 0 ? 0 : 1;
}
