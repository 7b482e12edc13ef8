/*
 * parse_hwm: a stream's high-water mark file (engine/hwm.h, FORMAT.md
 * section 4, "High-water mark file") as a reader in another process meets
 * it: stale, torn, forged or garbage. The target builds a small store once
 * (two partitions, several segments) and keeps the file its writer
 * published for it, naming this process as the writer, so that it counts
 * as live. Each input changes that genuine file: byte 0 says whether the
 * slot checksums are then made honest again (so that mutations reach the
 * field checks and the check against the segment bytes); the rest is
 * XORed onto the file, and bytes beyond its end make it longer.
 *
 * Oracles: a header and slot the codec accepts re-encode to the same
 * bytes; a mark that also passes the check against the segment bytes is
 * exactly the genuine one (the check makes the mark what a tail scan
 * finds); and a read-only handle reading with the file in place reads
 * exactly the events appended, without an error, from a cursor opened
 * at the start and from a following one.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_support.h"
#include "hwm.h"
#include "siglog.h"

#define TARGET "parse_hwm"
#define PARTS 2
#define EVENTS 600 /* 300 per partition of 300 bytes: several 64 KiB segments */
#define VALUE_BYTES 300
#define FILE_MAX (HWM_HEADER_BYTES + PARTS * HWM_SLOT_BYTES + 256)

static char *store_dir, *stream_dir, *hint_path;
static uint8_t genuine[HWM_HEADER_BYTES + PARTS * HWM_SLOT_BYTES];
static hwm_mark genuine_mark[PARTS];

static void event_value(char *buf, uint64_t i)
{
    memset(buf, 'a' + (int)(i % 26), VALUE_BYTES);
    memcpy(buf, &i, sizeof i);
}

static void must(int rc, const char *what)
{
    if (rc)
        fuzz_fail(TARGET, "%s: %s", what, siglog_errdetail());
}

/* Event i goes to partition i % PARTS. The writer's file is copied while
 * it is open, with its marks. */
static void build_template(void)
{
    store_dir = fuzz_path(fuzz_scratch(), "template");
    stream_dir = fuzz_path(store_dir, "streams/t");
    hint_path = fuzz_path(stream_dir, HWM_FILE);
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 1u << 20;
    siglog *s;
    must(siglog_open(&s, store_dir, &o), "create");
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = PARTS;
    c.sync_policy = SIGLOG_SYNC_NONE;
    c.segment_bytes_max = 64u << 10;
    must(siglog_stream_create(s, "t", &c), "stream");
    siglog_stream *st;
    must(siglog_stream_get(s, "t", &st), "stream_get");
    for (uint64_t i = 0; i < EVENTS; i++) {
        char value[VALUE_BYTES];
        event_value(value, i);
        siglog_event e = {.timestamp_us = (int64_t)i, .value = value, .value_len = VALUE_BYTES};
        must(siglog_append(st, (uint32_t)(i % PARTS), &e, 1, NULL, NULL), "append");
    }
    must(siglog_flush(s), "flush");
    size_t len = 0;
    uint8_t *bytes = fuzz_read_file(hint_path, &len);
    if (!bytes || len != sizeof genuine)
        fuzz_fail(TARGET, "the writer left no hwm file of %zu bytes", sizeof genuine);
    memcpy(genuine, bytes, len);
    free(bytes);
    hwm_header hdr;
    must(sl_hwm_header_decode(genuine, sizeof genuine, PARTS, &hdr), "genuine header");
    for (uint32_t p = 0; p < PARTS; p++)
        if (!sl_hwm_slot_decode(genuine + HWM_HEADER_BYTES + p * HWM_SLOT_BYTES, hdr.writer_id, &genuine_mark[p]))
            fuzz_fail(TARGET, "the genuine slot %u does not decode", p);
    must(siglog_close(s), "close");
}

/* Codec: what is accepted re-encodes to itself; a mark the segment bytes
 * confirm is the genuine one. */
static void check_codec(const uint8_t *file, size_t len)
{
    hwm_header hdr;
    if (sl_hwm_header_decode(file, len, PARTS, &hdr) != 0)
        return;
    for (uint32_t p = 0; p < PARTS; p++) {
        const uint8_t *slot = file + HWM_HEADER_BYTES + p * HWM_SLOT_BYTES;
        hwm_mark m;
        if (!sl_hwm_slot_decode(slot, hdr.writer_id, &m))
            continue;
        uint8_t again[HWM_SLOT_BYTES];
        sl_hwm_slot_encode(again, (uint32_t)slot[0] | (uint32_t)slot[1] << 8 | (uint32_t)slot[2] << 16 |
                                   (uint32_t)slot[3] << 24,
                        hdr.writer_id, &m);
        if (memcmp(again, slot, HWM_SLOT_BYTES) != 0)
            fuzz_fail(TARGET, "slot %u accepted but re-encodes differently", p);
        char *pd = fuzz_path(stream_dir, p ? "00001" : "00000");
        const hwm_mark *g = &genuine_mark[p];
        if (sl_hwm_check_segment(sl_io_posix(), pd, &m) && m.active_base == g->active_base &&
            (m.next_offset != g->next_offset || m.active_bytes != g->active_bytes ||
             m.last_batch_pos != g->last_batch_pos))
            fuzz_fail(TARGET, "slot %u: the segment bytes confirmed a mark that is not the writer's", p);
        free(pd);
    }
}

static void read_partition(siglog_stream *st, uint32_t p, unsigned flags)
{
    siglog_cursor *c;
    must(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, flags), "cursor_open");
    const siglog_record *r;
    uint64_t j = 0;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        char want[VALUE_BYTES];
        event_value(want, j * PARTS + p);
        if (r->offset != j || r->value_len != VALUE_BYTES || memcmp(r->value, want, VALUE_BYTES) != 0)
            fuzz_fail(TARGET, "partition %u: offset %llu is not event %llu", p, (unsigned long long)r->offset,
                      (unsigned long long)(j * PARTS + p));
        j++;
    }
    must(rc, "cursor_next");
    if (j != EVENTS / PARTS)
        fuzz_fail(TARGET, "partition %u: read %llu of %d events", p, (unsigned long long)j, EVENTS / PARTS);
    if (flags & SIGLOG_CURSOR_FOLLOW)
        must(siglog_cursor_wait(c, 0), "cursor_wait");
    siglog_cursor_close(c);
}

static void check_reader(void)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s;
    must(siglog_open(&s, store_dir, &o), "read-only open");
    siglog_stream *st;
    must(siglog_stream_get(s, "t", &st), "stream_get");
    for (uint32_t p = 0; p < PARTS; p++) {
        read_partition(st, p, 0);
        read_partition(st, p, SIGLOG_CURSOR_FOLLOW);
    }
    must(siglog_close(s), "read-only close");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store_dir)
        build_template();
    if (size == 0)
        return 0;
    uint8_t file[FILE_MAX];
    size_t len = sizeof genuine;
    memcpy(file, genuine, len);
    for (size_t i = 1; i < size && i - 1 < FILE_MAX; i++) {
        if (i - 1 >= len)
            file[len++] = 0;
        file[i - 1] ^= data[i];
    }
    if (data[0] & 1) {
        /* Honest checksums, so that the field checks are reached. */
        hwm_header hdr;
        if (sl_hwm_header_decode(file, len, PARTS, &hdr) == 0)
            for (uint32_t p = 0; p < PARTS; p++) {
                uint8_t *slot = file + HWM_HEADER_BYTES + p * HWM_SLOT_BYTES;
                hwm_mark m = {0};
                memcpy(&m.log_start_offset, slot + 16, 8);
                memcpy(&m.next_offset, slot + 24, 8);
                memcpy(&m.active_base, slot + 32, 8);
                memcpy(&m.active_bytes, slot + 40, 8);
                memcpy(&m.last_batch_pos, slot + 48, 8);
                uint32_t seq;
                memcpy(&seq, slot, 4);
                uint64_t id;
                memcpy(&id, slot + 8, 8);
                uint8_t reserved[4];
                memcpy(reserved, slot + 4, 4);
                sl_hwm_slot_encode(slot, seq, id, &m);
                memcpy(slot + 4, reserved, 4);
            }
    }
    check_codec(file, len);
    fuzz_write_file(hint_path, file, len);
    check_reader();
    return 0;
}
