/*
 * hints — indexes are hints, never truth: with any field of an offset or
 * time index entry damaged (of a sealed and of the active segment), seeks
 * by offset and by time answer exactly what a full scan does, and
 * verify --repair puts back the index a writer derives from the segment.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define EVENTS 1600
#define SEED 31
#define HEADER 64 /* index file header bytes */

static char *dir, *pdir;
static uint64_t sealed_base, sealed_end, active_base, active_end; /* first and last segment */

static int64_t ts_of(uint64_t i)
{
    test_event t;
    test_event_make(&t, SEED, i);
    return t.ev.timestamp_us;
}

static void setup(void)
{
    dir = test_tmpdir("hints");
    pdir = test_path(dir, "streams/h/00000");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 1;
    c.sync_policy = SIGLOG_SYNC_NONE;
    c.segment_bytes_max = 64 * 1024;
    c.index_interval_bytes = 256; /* about every batch indexed */
    cr_assert_eq(siglog_stream_create(s, "h", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "h", &st), 0);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_flush(s), 0); /* one batch each */
    }
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(st, 0, &pi), 0);
    cr_assert_geq(pi.segment_count, 3);
    cr_assert_eq(siglog_close(s), 0);
    /* Segment bases: the first is sealed, the last active. */
    int found = 0;
    for (uint64_t b = 0; b < EVENTS; b++) {
        char name[64];
        snprintf(name, sizeof name, "%020" PRIu64 ".seg", b);
        char *p = test_path(pdir, name);
        FILE *f = fopen(p, "rb");
        free(p);
        if (!f)
            continue;
        fclose(f);
        if (found++ == 1)
            sealed_end = b;
        active_base = b;
    }
    sealed_base = 0;
    active_end = EVENTS;
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
    free(pdir);
}

TestSuite(hints, .init = setup, .fini = teardown, .timeout = 240);

static uint8_t *slurp(const char *path, uint64_t *len)
{
    *len = test_file_size(path);
    uint8_t *b = malloc(*len);
    FILE *f = fopen(path, "rb");
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static char *index_path(uint64_t base, const char *ext)
{
    char name[64];
    snprintf(name, sizeof name, "%020" PRIu64 "%s", base, ext);
    return test_path(pdir, name);
}

/* Relative offsets of the entries of an index image (rel_offset at
 * rel_at in each entry_bytes slot, up to the first zero). */
static size_t entry_rels(const uint8_t *img, uint64_t len, uint32_t entry_bytes, uint32_t rel_at, uint32_t *rels,
                         size_t max)
{
    size_t n = 0;
    for (uint64_t at = HEADER; at + entry_bytes <= len && n < max; at += entry_bytes) {
        uint32_t rel;
        memcpy(&rel, img + at + rel_at, 4);
        if (rel == 0)
            break;
        rels[n++] = rel;
    }
    return n;
}

/* Seeks by offset and by time to the records around `rel` (and the
 * segment's edges) land where a full scan says: the first record is the
 * one asked for and the rest follow in order. */
static void assert_seeks_exact(siglog_stream *st, uint64_t base, uint64_t end, uint32_t rel, const char *what)
{
    uint64_t targets[] = {base, base + 1, base + rel - 1, base + rel, base + rel + 1, end - 1};
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0);
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        uint64_t want = targets[t];
        if (want < base || want >= end)
            continue;
        for (int by_time = 0; by_time < 2; by_time++) {
            int rc = by_time ? siglog_cursor_seek(c, SIGLOG_SEEK_TIME, ts_of(want))
                             : siglog_cursor_seek(c, SIGLOG_SEEK_OFFSET, (int64_t)want);
            cr_assert_eq(rc, 0, "%s: %s", what, siglog_errdetail());
            /* Timestamps grow with the offset here: a full scan's first
             * record at or after ts_of(want) is `want` itself. */
            for (uint64_t k = 0; k < 3 && want + k < EVENTS; k++) {
                const siglog_record *r;
                rc = siglog_cursor_next(c, &r);
                cr_assert_eq(rc, 1, "%s: seek %s %" PRIu64 ": %s", what, by_time ? "time of" : "offset", want,
                             siglog_errdetail());
                cr_assert_eq(r->offset, want + k, "%s: seek by %s to %" PRIu64 " read offset %" PRIu64, what,
                             by_time ? "time" : "offset", want, r->offset);
                test_event e;
                test_event_make(&e, SEED, want + k);
                test_assert_record_eq(r, &e.ev);
            }
        }
    }
    siglog_cursor_close(c);
}

static int warnings;
static void count_warnings(void *ctx, int level, const char *msg)
{
    (void)ctx;
    warnings += level == SIGLOG_LOG_WARN && strstr(msg, "index entry does not match") != NULL;
}

static void write_at(const char *path, const uint8_t *img, uint64_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_eq(fwrite(img, 1, len, f), len);
    fclose(f);
}

/* Damage every byte of a few entries of one index of the segment at
 * base, in turn (two bit patterns each), and check every seek and the
 * repair. */
static void damage_entries(uint64_t base, uint64_t end, const char *ext, uint32_t entry_bytes, uint32_t rel_at)
{
    char *path = index_path(base, ext);
    uint64_t len;
    uint8_t *img = slurp(path, &len);
    uint32_t rels[4096];
    size_t n = entry_rels(img, len, entry_bytes, rel_at, rels, 4096);
    cr_assert_geq(n, 8, "%s has %zu entries", path, n);
    size_t pick[] = {0, n / 2, n - 1};
    siglog_options ro;
    siglog_options_default(&ro);
    ro.read_only = 1;
    ro.log_fn = count_warnings;
    for (size_t p = 0; p < 3; p++) {
        for (uint32_t byte = 0; byte < entry_bytes; byte++) {
            static const uint8_t masks[] = {0x01, 0x80};
            for (int m = 0; m < 2; m++) {
                write_at(path, img, len);
                test_flip_byte(path, HEADER + pick[p] * entry_bytes + byte, masks[m]);
                char what[128];
                snprintf(what, sizeof what, "%s entry %zu byte %u mask 0x%02x", ext, pick[p], byte, masks[m]);
                siglog *s;
                cr_assert_eq(siglog_open(&s, dir, &ro), 0, "%s", siglog_errdetail());
                siglog_stream *st;
                cr_assert_eq(siglog_stream_get(s, "h", &st), 0);
                warnings = 0;
                assert_seeks_exact(st, base, end, rels[pick[p]], what);
                cr_assert_eq(siglog_close(s), 0);
                /* A damaged check leaves the entry valid in form: the time
                 * seek to its batch uses it, finds it wrong and says so.
                 * (Not the active segment's last entry: a writer's
                 * recovery before reading may have re-indexed it.) */
                if (entry_bytes == 16 && byte >= 12 && !(base == active_base && p == 2))
                    cr_assert_gt(warnings, 0, "%s: the wrong entry was reported", what);
                /* verify --repair rebuilds the index a writer derives,
                 * which is the one written while appending. */
                int rc = siglog_verify(dir, 1, NULL, NULL);
                cr_assert_eq(rc, 0, "%s: verify --repair: %s", what, siglog_errdetail());
                uint64_t got_len;
                uint8_t *got = slurp(path, &got_len);
                cr_assert(got_len == len && memcmp(got, img, len) == 0, "%s: the rebuilt index is the original",
                          what);
                free(got);
            }
        }
    }
    free(img);
    free(path);
}

Test(hints, damaged_offset_index_entries_of_a_sealed_segment)
{
    damage_entries(sealed_base, sealed_end, ".oix", 8, 0);
}

Test(hints, damaged_time_index_entries_of_a_sealed_segment)
{
    damage_entries(sealed_base, sealed_end, ".tix", 16, 8);
}

Test(hints, damaged_offset_index_entries_of_the_active_segment)
{
    damage_entries(active_base, active_end, ".oix", 8, 0);
}

Test(hints, damaged_time_index_entries_of_the_active_segment)
{
    damage_entries(active_base, active_end, ".tix", 16, 8);
}
