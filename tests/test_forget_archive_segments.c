/*
 * forget_archive_segments — a forget's rewrite of an exported archive of
 * many segments (forget_archive.h, forget_rebuild.h) keeps its segments.
 *
 * A store of small segments is moved out whole into one archive
 * (siglog_archive_export with SIGLOG_ARCHIVE_MOVE): its first segments
 * hold only the forgotten key, later ones none of it, some a few events
 * of it, and some in the middle only it. Proven after a forget given the
 * archive's directory: the archive has one segment for each segment that
 * keeps an event, at that segment's base (the first at the archive's
 * first offset, taking in the emptied ones before it), each ending where
 * the next begins (an emptied one's range joins the segment before it)
 * and no larger than segment_bytes_max; every other event reads back at
 * its offset byte for byte (key, value, time); each segment's key filter
 * is the one built from the keys it keeps, byte for byte; the archive
 * checks whole with its filters (what siglog verify ARCHIVE asks); and a
 * restore of it makes segments none over segment_bytes_max holding every
 * kept event.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "io.h"
#include "keyfilter.h"
#include "support.h"

#define SEGMENT_BYTES (64 * 1024) /* the least a stream takes: about 1150 events */
#define U 800u               /* a unit of events: 0.7 of a segment */
#define EVENTS (25 * U)
#define KEYS 10
#define GONE "gone"
#define SEED 4242 /* of the values' tokens (test_token_value) */

static char *dir, *arch;
static char archive_path[4096];

/* Event i's key: the forgotten one for all of [0, 4U) and [14U, 19U),
 * every ninth of [9U, 14U) and [19U, 24U), never elsewhere. */
static const char *key_of(uint64_t i, char buf[16])
{
    int all = i < 4 * U || (i >= 14 * U && i < 19 * U);
    int some = ((i >= 9 * U && i < 14 * U) || (i >= 19 * U && i < 24 * U)) && i % 9 == 4;
    if (all || some)
        return GONE;
    snprintf(buf, 16, "k-%02d", (int)(i % KEYS));
    return buf;
}

static int gone(const siglog_record *r)
{
    return r->key_len == strlen(GONE) && memcmp(r->key, GONE, r->key_len) == 0;
}

static void setup(void)
{
    dir = test_tmpdir("forget-arch-segs");
    arch = test_tmpdir("forget-arch-segs-dir");
    siglog_stream_config c;
    test_token_config(&c, SEGMENT_BYTES);
    siglog_stream *st;
    siglog *s = test_token_store(dir, &c, &st);
    for (uint64_t i = 0; i < EVENTS; i++) {
        char kb[16], value[80];
        const char *k = key_of(i, kb);
        test_token_value(SEED, i, value);
        siglog_event e = {.key = k, .key_len = strlen(k), .value = value, .value_len = strlen(value)};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
    siglog_maintenance *m = test_maintenance_on(dir, NULL);
    cr_assert_eq(siglog_archive_export(m, "t", 0, INT64_MAX, arch, SIGLOG_ARCHIVE_MOVE, archive_path,
                                       sizeof archive_path),
                 1, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
}

static void teardown(void)
{
    test_rmtree(dir);
    test_rmtree(arch);
    free(dir);
    free(arch);
}

TestSuite(forget_archive_segments, .init = setup, .fini = teardown, .timeout = 180);

/* What the archive holds, segment by segment. */
typedef struct held {
    uint32_t n;
    archive_segment seg[64];
    uint64_t kept[64];     /* its records of another key */
    uint8_t keys[64][KEYS]; /* which other keys it holds */
    int64_t ts[EVENTS];    /* each record's time (0: none) */
    uint64_t first, next;
} held;

static void read_archive(held *h)
{
    memset(h, 0, sizeof *h);
    archive_file f;
    cr_assert_eq(sl_archive_file_open(&f, sl_io_posix(), archive_path), 0, "%s", siglog_errdetail());
    h->n = f.view.segment_count;
    cr_assert_leq(h->n, 64);
    h->first = f.view.meta.first_offset;
    h->next = f.view.meta.next_offset;
    for (uint32_t i = 0; i < h->n; i++)
        h->seg[i] = sl_archive_segment_at(&f.view, i);
    siglog_record r;
    int rc;
    uint32_t s = 0;
    while ((rc = sl_archive_file_next(&f, &r)) == 1) {
        cr_assert_lt(r.offset, EVENTS);
        while (r.offset >= h->seg[s].end_offset)
            s++;
        h->ts[r.offset] = r.timestamp_us;
        if (!gone(&r)) {
            h->kept[s]++;
            h->keys[s][r.offset % KEYS] = 1;
        }
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    sl_archive_file_close(&f);
}

static void forget_gone(void)
{
    siglog_key key = {GONE, strlen(GONE)};
    const char *dirs[] = {arch};
    siglog_forget_options o = {.archive_dirs = dirs, .archive_dir_count = 1};
    siglog_forget_result res;
    siglog_maintenance *m = test_maintenance_on(dir, NULL);
    cr_assert_eq(siglog_forget(m, "t", &key, 1, &o, &res), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(res.archives_rewritten, 1);
}

/* Segment i's filter as the archive at path holds it, byte for byte,
 * against the one built from the keys kept (one hash each). */
static void check_filter(const archive_file *f, uint32_t i, const uint8_t keys[KEYS])
{
    uint64_t at = f->view.filter_pos;
    for (uint32_t k = 0; k < i; k++)
        at += sl_archive_segment_at(&f->view, k).filter_bytes;
    archive_segment seg = sl_archive_segment_at(&f->view, i);
    keyfilter want = {0};
    keyfilter_binding of = {seg.base_offset, seg.end_offset, 0};
    uint32_t distinct = 0;
    for (int k = 0; k < KEYS; k++)
        distinct += keys[k];
    cr_assert_eq(sl_keyfilter_init(&want, sl_keyfilter_blocks_for(distinct), &of), 0);
    for (int k = 0; k < KEYS; k++) {
        char kb[16];
        snprintf(kb, sizeof kb, "k-%02d", k);
        if (keys[k])
            sl_keyfilter_add(&want, sl_keyfilter_hash(kb, strlen(kb)));
    }
    uint8_t *bytes;
    size_t len;
    cr_assert_eq(sl_keyfilter_encode(&want, &bytes, &len), 0);
    cr_assert_eq(seg.filter_bytes, len, "segment %u's filter is %" PRIu64 " bytes, not %zu", i, seg.filter_bytes,
                 len);
    uint8_t *got = malloc(len);
    FILE *fp = fopen(archive_path, "rb");
    cr_assert(fp && fseek(fp, (long)at, SEEK_SET) == 0 && fread(got, 1, len, fp) == len);
    fclose(fp);
    cr_assert(memcmp(got, bytes, len) == 0, "segment %u's filter is not that of the keys it keeps", i);
    free(got);
    free(bytes);
    sl_keyfilter_free(&want);
}

static int count_segment(void *arg, const siglog_segment_info *seg)
{
    cr_assert_leq(seg->bytes, SEGMENT_BYTES, "restored segment [%" PRIu64 ", %" PRIu64 ") holds %" PRIu64 " bytes",
                  seg->base_offset, seg->end_offset, seg->bytes);
    ++*(uint32_t *)arg;
    return 0;
}

Test(forget_archive_segments, keeps_one_segment_for_each_that_keeps_an_event)
{
    static held before, after;
    read_archive(&before);
    /* The premise: several segments, emptied ones first and in the middle,
     * segments without the key and with some of it. */
    cr_assert_geq(before.n, 12, "%u segments", before.n);
    uint32_t emptied = 0, kept = 0;
    for (uint32_t i = 0; i < before.n; i++)
        emptied += before.kept[i] == 0;
    kept = before.n - emptied;
    cr_assert(before.kept[0] == 0 && before.kept[1] == 0, "the first two segments hold only the key");
    cr_assert_geq(emptied, 4, "%u of %u segments emptied", emptied, before.n);

    forget_gone();
    read_archive(&after);
    cr_assert_eq(after.first, before.first);
    cr_assert_eq(after.next, before.next);
    cr_assert_eq(after.n, kept, "%u segments, not %u (%u of %u emptied)", after.n, kept, emptied, before.n);
    /* One for each segment keeping an event, at its base (the first at the
     * archive's), ending where the next kept one begins. */
    uint32_t o = 0;
    for (uint32_t i = 0; i < before.n; i++) {
        if (!before.kept[i])
            continue;
        uint64_t base = o == 0 ? before.first : before.seg[i].base_offset;
        cr_assert_eq(after.seg[o].base_offset, base, "segment %u", o);
        cr_assert_eq(after.seg[o].end_offset, o + 1 < after.n ? after.seg[o + 1].base_offset : before.next);
        cr_assert_eq(after.seg[o].record_count, before.kept[i], "segment %u", o);
        cr_assert_eq(after.kept[o], before.kept[i]);
        cr_assert(memcmp(after.keys[o], before.keys[i], KEYS) == 0);
        cr_assert_leq(after.seg[o].bytes, SEGMENT_BYTES);
        o++;
    }
    /* Every other event at its offset, byte for byte, and no event of the key. */
    siglog_archive *a;
    cr_assert_eq(siglog_archive_open(&a, archive_path), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_archive_check_filters(a), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    uint64_t next = 0, read = 0;
    int rc;
    while ((rc = siglog_archive_next(a, &r)) == 1) {
        char kb[16], value[80];
        for (; next < r->offset; next++)
            cr_assert_str_eq(key_of(next, kb), GONE, "event %" PRIu64 " is missing", next);
        const char *k = key_of(r->offset, kb);
        test_token_value(SEED, r->offset, value);
        cr_assert(r->key_len == strlen(k) && memcmp(r->key, k, r->key_len) == 0, "event %" PRIu64, r->offset);
        cr_assert(r->value_len == strlen(value) && memcmp(r->value, value, r->value_len) == 0);
        cr_assert_eq(r->timestamp_us, before.ts[r->offset]);
        next = r->offset + 1;
        read++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    siglog_archive_close(a);
    /* Each segment's key filter, rebuilt from what it keeps. */
    archive_file f;
    cr_assert_eq(sl_archive_file_open(&f, sl_io_posix(), archive_path), 0, "%s", siglog_errdetail());
    cr_assert_eq(f.view.version, ARCHIVE_VERSION);
    for (uint32_t i = 0; i < after.n; i++)
        check_filter(&f, i, after.keys[i]);
    sl_archive_file_close(&f);

    /* Restored, it makes segments none over segment_bytes_max. */
    siglog_maintenance *m = test_maintenance_on(dir, NULL);
    siglog_restore_result res;
    cr_assert_eq(siglog_archive_restore(m, archive_path, &res), 1, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(res.records, read);
    cr_assert_eq(res.segments, after.n);
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    uint32_t segments = 0;
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_segment, &segments), 0, "%s", siglog_errdetail());
    cr_assert_geq(segments, after.n);
    cr_assert_eq(siglog_close(s), 0);
}
