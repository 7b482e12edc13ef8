/*
 * record_gaps — offsets a rewrite dropped inside batches (FORMAT.md,
 * "Batch": version 2) are gaps, not damage. Sealed segments of a store
 * are re-encoded without random records (single ones, runs, whole batches,
 * the first and last of a segment) and every read is checked against a
 * model of what is left: a replay from the start, a seek to every offset
 * (one in a gap lands on the next record present), seeks by time, a merge
 * of the partitions, siglog_verify, a writer that reopens the store and
 * appends, and FORMAT.md's reference decoder. A segment deleted among the rewritten ones is still a hole that
 * fails a read, naming its range.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rewrite_gaps.h"
#include "support.h"

#define PARTS 2
#define EVENTS 4000 /* per partition */
#define SEED 77
#define SEGMENT_BYTES (64 * 1024)
#define MAX_SEGMENTS 64

static char *dir;
static unsigned char present[PARTS][EVENTS + 64]; /* the model */
static uint64_t bases[PARTS][MAX_SEGMENTS];
static size_t nseg[PARTS];

/* Event i of partition p; timestamps run back a little every few events,
 * so that time seeks meet records out of time order. */
static void event_of(test_event *t, uint32_t p, uint64_t i)
{
    test_event_make(t, SEED + p, i);
    t->ev.timestamp_us = 1700000000000000LL + (int64_t)i * 1000 - (int64_t)(i % 7) * 2500;
}

static int64_t ts_of(uint32_t p, uint64_t i)
{
    test_event t;
    event_of(&t, p, i);
    return t.ev.timestamp_us;
}

/* Append `n` events from `from` to each partition, in batches of 1..40. */
static void append_events(siglog *s, siglog_stream *st, uint64_t from, uint64_t n)
{
    uint64_t rng = SEED + from;
    for (uint32_t p = 0; p < PARTS; p++) {
        for (uint64_t i = from; i < from + n;) {
            uint64_t k = 1 + test_rand(&rng) % 40;
            for (; k > 0 && i < from + n; k--, i++) {
                test_event t;
                event_of(&t, p, i);
                cr_assert_eq(siglog_append(st, p, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
            }
            cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
        }
    }
}

static char *partition_dir(uint32_t p)
{
    char rel[64];
    snprintf(rel, sizeof rel, "streams/c/%05u", p);
    return test_path(dir, rel);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The base offsets of the segments in partition directory pd, sorted. */
static size_t list_segments(const char *pd, uint64_t *out)
{
    DIR *d = opendir(pd);
    cr_assert_not_null(d, "%s", pd);
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        uint64_t b;
        if (strlen(e->d_name) == SEGMENT_NAME_DIGITS + 4 && sl_segment_parse_name(e->d_name, &b) == 0) {
            cr_assert_lt(n, MAX_SEGMENTS);
            out[n++] = b;
        }
    }
    closedir(d);
    qsort(out, n, sizeof out[0], cmp_u64);
    return n;
}

/* Which records go: decided once per offset and kept in the model. */
typedef struct drop_plan {
    uint32_t p;
    uint64_t rng;
    uint64_t seg_first, seg_last; /* offsets of the segment being rewritten */
    int whole_run;                /* records left to drop in a run */
} drop_plan;

static int drop_record(void *arg, uint64_t offset)
{
    drop_plan *d = arg;
    uint64_t r = test_rand(&d->rng) % 100;
    int drop;
    if (d->whole_run > 0) {
        d->whole_run--;
        drop = 1;
    } else if (r < 3) {
        d->whole_run = 20 + (int)(test_rand(&d->rng) % 60); /* spans whole batches */
        drop = 1;
    } else {
        /* The first and last offsets of every segment become gaps. */
        drop = r < 30 || offset == d->seg_first || offset == d->seg_last;
    }
    if (drop)
        present[d->p][offset] = 0;
    return drop;
}

static void setup(void)
{
    dir = test_tmpdir("record_gaps");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config cfg;
    siglog_stream_config_default(&cfg);
    cfg.partitions = PARTS;
    cfg.sync_policy = SIGLOG_SYNC_NONE;
    cfg.segment_bytes_max = SEGMENT_BYTES;
    cfg.index_interval_bytes = 1024;
    cfg.compression = SIGLOG_COMPRESSION_LZ4;
    cr_assert_eq(siglog_stream_create(s, "c", &cfg), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "c", &st), 0);
    append_events(s, st, 0, EVENTS);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());

    segment_params params = {.segment_bytes_max = SEGMENT_BYTES, .index_interval_bytes = 1024, .file_mode = 0600};
    for (uint32_t p = 0; p < PARTS; p++) {
        memset(present[p], 1, EVENTS);
        char *pd = partition_dir(p);
        nseg[p] = list_segments(pd, bases[p]);
        cr_assert_geq(nseg[p], 4, "%zu segments", nseg[p]);
        /* Every sealed segment; the active (last) one is never rewritten. */
        for (size_t i = 0; i + 1 < nseg[p]; i++) {
            drop_plan d = {.p = p, .rng = SEED * 31 + p * 1000 + i, .seg_first = bases[p][i],
                           .seg_last = bases[p][i + 1] - 1};
            uint64_t dropped;
            cr_assert_eq(rewrite_dropping(NULL, pd, bases[p][i], &params, SIGLOG_COMPRESSION_LZ4, drop_record, &d,
                                          &dropped),
                         0, "%s", siglog_errdetail());
            cr_assert_gt(dropped, 0);
        }
        free(pd);
    }
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(record_gaps, .init = setup, .fini = teardown);

static siglog_stream *open_stream(siglog **s, int read_only)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    cr_assert_eq(siglog_open(s, dir, &o), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(*s, "c", &st), 0);
    return st;
}

/* The next offset present at or after `o` in partition p (end: none). */
static uint64_t next_present(uint32_t p, uint64_t o, uint64_t end)
{
    while (o < end && !present[p][o])
        o++;
    return o;
}

/* Read c to its end, checking every record against the model from `o`:
 * returns the number read. */
static uint64_t read_matches_model(siglog_cursor *c, uint32_t p, uint64_t o, uint64_t end)
{
    const siglog_record *r;
    uint64_t n = 0;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        o = next_present(p, o, end);
        cr_assert_lt(o, end, "partition %u: record %" PRIu64 " after the model's last", p, r->offset);
        cr_assert_eq(r->offset, o, "partition %u: offset %" PRIu64 ", the model says %" PRIu64, p, r->offset, o);
        test_event t;
        event_of(&t, p, o);
        test_assert_record_eq(r, &t.ev);
        o++;
        n++;
    }
    cr_assert_eq(rc, 0, "partition %u: %s", p, siglog_errdetail());
    cr_assert_eq(next_present(p, o, end), end, "partition %u: offset %" PRIu64 " not read", p,
                 next_present(p, o, end));
    return n;
}

static uint64_t model_count(uint32_t p, uint64_t end)
{
    uint64_t n = 0;
    for (uint64_t o = 0; o < end; o++)
        n += present[p][o];
    return n;
}

Test(record_gaps, a_replay_returns_exactly_the_records_left)
{
    siglog *s;
    siglog_stream *st = open_stream(&s, 1);
    for (uint32_t p = 0; p < PARTS; p++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
        cr_assert_eq(read_matches_model(c, p, 0, EVENTS), model_count(p, EVENTS));
        cr_assert_eq(siglog_cursor_position(c), EVENTS, "the position passes the gaps at the end");
        siglog_cursor_close(c);
    }
    cr_assert_eq(siglog_close(s), 0);
}

Test(record_gaps, many_records_per_call_skip_the_gaps_too)
{
    siglog *s;
    siglog_stream *st = open_stream(&s, 1);
    static uint8_t buf[256 << 10];
    siglog_record recs[64];
    for (uint32_t p = 0; p < PARTS; p++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
        uint64_t o = 0;
        int n;
        while ((n = siglog_cursor_next_batch(c, recs, 64, buf, sizeof buf, NULL)) > 0)
            for (int i = 0; i < n; i++, o++) {
                o = next_present(p, o, EVENTS);
                cr_assert_eq(recs[i].offset, o, "partition %u: offset %" PRIu64 ", the model says %" PRIu64, p,
                             recs[i].offset, o);
                test_event t;
                event_of(&t, p, o);
                test_assert_record_eq(&recs[i], &t.ev);
            }
        cr_assert_eq(n, 0, "%s", siglog_errdetail());
        cr_assert_eq(next_present(p, o, EVENTS), EVENTS, "partition %u: records left unread", p);
        siglog_cursor_close(c);
    }
    cr_assert_eq(siglog_close(s), 0);
}

Test(record_gaps, a_seek_to_any_offset_lands_on_the_next_record_present)
{
    siglog *s;
    siglog_stream *st = open_stream(&s, 1);
    for (uint32_t p = 0; p < PARTS; p++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
        for (uint64_t o = 0; o <= EVENTS; o++) {
            cr_assert_eq(siglog_cursor_seek(c, SIGLOG_SEEK_OFFSET, (int64_t)o), 0, "%s", siglog_errdetail());
            const siglog_record *r;
            int rc = siglog_cursor_next(c, &r);
            uint64_t want = next_present(p, o, EVENTS);
            if (want == EVENTS) {
                cr_assert_eq(rc, 0, "partition %u, seek %" PRIu64 ": a record past the last one", p, o);
                continue;
            }
            cr_assert_eq(rc, 1, "partition %u, seek %" PRIu64 ": %s", p, o, siglog_errdetail());
            cr_assert_eq(r->offset, want, "partition %u, seek %" PRIu64 ": offset %" PRIu64 ", expected %" PRIu64,
                         p, o, r->offset, want);
        }
        /* And from one seek into a gap, the rest of the log. */
        uint64_t gap = 1;
        while (present[p][gap])
            gap++;
        cr_assert_eq(siglog_cursor_seek(c, SIGLOG_SEEK_OFFSET, (int64_t)gap), 0);
        read_matches_model(c, p, gap, EVENTS);
        siglog_cursor_close(c);
    }
    cr_assert_eq(siglog_close(s), 0);
}

Test(record_gaps, time_seeks_match_a_scan_of_the_records_left)
{
    siglog *s;
    siglog_stream *st = open_stream(&s, 1);
    uint64_t rng = SEED;
    for (uint32_t p = 0; p < PARTS; p++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
        for (int k = 0; k < 400; k++) {
            /* Times of records present and of dropped ones, and between. */
            uint64_t i = test_rand(&rng) % EVENTS;
            int64_t t = ts_of(p, i) + (k % 3 == 0 ? 1 : 0);
            uint64_t first = 0;
            while (first < EVENTS && !(present[p][first] && ts_of(p, first) >= t))
                first++;
            cr_assert_eq(siglog_cursor_seek(c, SIGLOG_SEEK_TIME, t), 0, "%s", siglog_errdetail());
            const siglog_record *r;
            int rc = siglog_cursor_next(c, &r);
            if (first == EVENTS) {
                cr_assert_eq(rc, 0, "partition %u, time %" PRId64 ": nothing that late", p, t);
                continue;
            }
            cr_assert_eq(rc, 1, "%s", siglog_errdetail());
            cr_assert_eq(r->offset, first, "partition %u, time %" PRId64 ": offset %" PRIu64 ", a scan says %" PRIu64,
                         p, t, r->offset, first);
        }
        siglog_cursor_close(c);
    }
    cr_assert_eq(siglog_close(s), 0);
}

/* The model's merge: each partition in offset order, the head with the
 * smallest (timestamp, partition, offset) first — what a merge of cursors
 * can do, since each hands out its records in offset order. */
typedef struct merged {
    uint32_t p;
    uint64_t o;
} merged;

static size_t model_merge(merged *out)
{
    uint64_t head[PARTS];
    for (uint32_t p = 0; p < PARTS; p++)
        head[p] = next_present(p, 0, EVENTS);
    size_t n = 0;
    for (;;) {
        int best = -1;
        for (uint32_t p = 0; p < PARTS; p++)
            if (head[p] < EVENTS && (best < 0 || ts_of(p, head[p]) < ts_of((uint32_t)best, head[best])))
                best = (int)p;
        if (best < 0)
            return n;
        out[n++] = (merged){(uint32_t)best, head[best]};
        head[best] = next_present((uint32_t)best, head[best] + 1, EVENTS);
    }
}

Test(record_gaps, a_merge_of_the_partitions_follows_the_model)
{
    static merged want[PARTS * EVENTS];
    size_t n = model_merge(want);

    siglog *s;
    siglog_stream *st = open_stream(&s, 1);
    siglog_cursor *cs[PARTS];
    for (uint32_t p = 0; p < PARTS; p++)
        cr_assert_eq(siglog_cursor_open(&cs[p], st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    siglog_merge *m;
    cr_assert_eq(siglog_merge_open(&m, cs, PARTS), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    size_t got = 0, which;
    int rc;
    while ((rc = siglog_merge_next(m, &r, &which)) == 1) {
        cr_assert_lt(got, n);
        cr_assert(r->partition == want[got].p && r->offset == want[got].o,
                  "merged record %zu: partition %u offset %" PRIu64 ", expected %u/%" PRIu64, got, r->partition,
                  r->offset, want[got].p, want[got].o);
        got++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(got, n);
    siglog_merge_close(m);
    for (uint32_t p = 0; p < PARTS; p++)
        siglog_cursor_close(cs[p]);
    cr_assert_eq(siglog_close(s), 0);
}

/* The problems verify reports: counted, the last kept for messages. */
typedef struct problems {
    int count;
    char last[512];
} problems;

static void count_problem(void *ctx, const char *file, uint64_t position, const char *what)
{
    problems *p = ctx;
    p->count++;
    snprintf(p->last, sizeof p->last, "%s at %" PRIu64 ": %s", file, position, what);
}

Test(record_gaps, verify_finds_no_problem_and_counts_the_records_left)
{
    problems found = {0};
    siglog_verify_callbacks cb = {.problem = count_problem, .ctx = &found};
    siglog_verify_stats stats;
    cr_assert_eq(siglog_verify(dir, 0, &cb, &stats), 0, "%s", siglog_errdetail());
    cr_assert_eq(found.count, 0, "%d problems, the last: %s", found.count, found.last);
    cr_assert_eq(stats.records, model_count(0, EVENTS) + model_count(1, EVENTS));
}

Test(record_gaps, a_writer_reopens_and_appends_after_the_gaps)
{
    siglog *s;
    siglog_stream *st = open_stream(&s, 0);
    append_events(s, st, EVENTS, 50);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    for (uint32_t p = 0; p < PARTS; p++)
        memset(present[p] + EVENTS, 1, 50);
    st = open_stream(&s, 1);
    for (uint32_t p = 0; p < PARTS; p++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
        cr_assert_eq(read_matches_model(c, p, 0, EVENTS + 50), model_count(p, EVENTS + 50));
        siglog_cursor_close(c);
    }
    cr_assert_eq(siglog_close(s), 0);
}

Test(record_gaps, a_segment_deleted_among_rewritten_ones_is_still_a_hole)
{
    char *pd = partition_dir(0);
    static const char *const exts[] = {".seg", ".oix", ".tix", ".sum"};
    for (int e = 0; e < 4; e++) {
        char name[64];
        snprintf(name, sizeof name, "%020" PRIu64 "%s", bases[0][1], exts[e]);
        char *path = test_path(pd, name);
        cr_assert_eq(unlink(path), 0, "%s", path);
        free(path);
    }
    free(pd);
    siglog *s;
    siglog_stream *st = open_stream(&s, 1);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1)
        cr_assert_lt(r->offset, bases[0][1]);
    char range[80];
    snprintf(range, sizeof range, "offsets %" PRIu64 "..%" PRIu64 " are missing", bases[0][1], bases[0][2] - 1);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s", siglog_errdetail());
    cr_assert_not_null(strstr(siglog_errdetail(), range), "%s", siglog_errdetail());
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(s), 0);
}

static int drop_offset(void *arg, uint64_t offset)
{
    return offset == *(const uint64_t *)arg;
}

Test(record_gaps, a_log_ending_in_a_gap_is_read_to_its_end)
{
    /* A log whose last record sits in a sealed segment (the roll left the
     * active one empty), rewritten without that record: the log still ends
     * at the same offset, and a cursor that read everything is there. */
    char *edir = test_tmpdir("record_gaps_end");
    siglog *s = test_store_open(edir, NULL);
    siglog_stream *st = test_stream_create(s, "e", 1, SIGLOG_SYNC_NONE, SEGMENT_BYTES);
    siglog_partition_info info = {0};
    for (uint64_t i = 0; info.segment_count < 2; i++) {
        test_event t;
        event_of(&t, 0, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_flush(s), 0);
        cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
    char *pd = test_path(edir, "streams/e/00000");
    uint64_t b[MAX_SEGMENTS];
    cr_assert_eq(list_segments(pd, b), 2);
    uint64_t last = b[1] - 1, dropped;
    segment_params params = {.segment_bytes_max = SEGMENT_BYTES, .index_interval_bytes = 4096, .file_mode = 0600};
    int rc = rewrite_dropping(NULL, pd, b[0], &params, SIGLOG_COMPRESSION_LZ4, drop_offset, &last, &dropped);
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(dropped, 1);

    s = test_store_open_read_only(edir);
    cr_assert_eq(siglog_stream_get(s, "e", &st), 0);
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
    cr_assert_eq(info.next_offset, b[1], "the log ends where it did");
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    uint64_t n = 0;
    while ((rc = siglog_cursor_next(c, &r)) == 1)
        n++;
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(n, last);
    cr_assert_eq(siglog_cursor_position(c), b[1], "position %" PRIu64 ", the log ends at %" PRIu64,
                 siglog_cursor_position(c), b[1]);
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(s), 0);
    free(pd);
    test_rmtree(edir);
    free(edir);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    *len = (size_t)test_file_size(path);
    char *b = malloc(*len ? *len : 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, *len, f), *len, "%s", path);
    fclose(f);
    return b;
}

Test(record_gaps, verify_repair_rebuilds_a_gapped_segments_indexes_as_the_rewrite_wrote_them)
{
    char *pd = partition_dir(0);
    char name[64];
    snprintf(name, sizeof name, "%020" PRIu64 ".oix", bases[0][1]);
    char *oix = test_path(pd, name);
    snprintf(name, sizeof name, "%020" PRIu64 ".tix", bases[0][1]);
    char *tix = test_path(pd, name);
    size_t olen, tlen;
    char *owant = slurp(oix, &olen), *twant = slurp(tix, &tlen);
    test_flip_byte(oix, 64 + 8 + 1, 0x40); /* the second entry's offset */
    cr_assert_eq(unlink(tix), 0);

    problems found = {0};
    siglog_verify_callbacks cb = {.problem = count_problem, .ctx = &found};
    siglog_verify_stats stats;
    cr_assert_eq(siglog_verify(dir, 1, &cb, &stats), 0, "%s", siglog_errdetail());
    cr_assert_gt(found.count, 0, "the damaged indexes are reported");
    cr_assert_gt(stats.repairs, 0);
    size_t ogot_len, tgot_len;
    char *ogot = slurp(oix, &ogot_len), *tgot = slurp(tix, &tgot_len);
    cr_assert(ogot_len == olen && memcmp(ogot, owant, olen) == 0, "the offset index is rebuilt as written");
    cr_assert(tgot_len == tlen && memcmp(tgot, twant, tlen) == 0, "the time index is rebuilt as written");
    found.count = 0;
    cr_assert_eq(siglog_verify(dir, 0, &cb, &stats), 0, "%s", siglog_errdetail());
    cr_assert_eq(found.count, 0, "after repair: %s", found.last);
    free(ogot);
    free(tgot);
    free(owant);
    free(twant);
    free(oix);
    free(tix);
    free(pd);
}

Test(record_gaps, the_reference_decoder_reads_the_records_left)
{
    /* FORMAT.md's reference decoder (Python, written from the spec) over
     * the same random gaps, with its strict checks of indexes and
     * summaries: every record the model keeps, nothing else. */
    const char *decoder = getenv("SIGLOG_REFERENCE_DECODER");
    if (!decoder || access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import lz4.block, xxhash' 2>/dev/null") != 0)
        cr_skip_test("the reference decoder or python3-lz4 / python3-xxhash is missing");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' --strict '%s'", decoder, dir);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    static char line[8192];
    uint64_t next[PARTS] = {0};
    while (fgets(line, sizeof line, f)) {
        const char *pp = strstr(line, "\"partition\":"), *po = strstr(line, "\"offset\":");
        cr_assert(pp && po, "%s", line);
        uint32_t p = (uint32_t)strtoul(pp + 12, NULL, 10);
        uint64_t o = strtoull(po + 9, NULL, 10);
        cr_assert_lt(p, PARTS);
        uint64_t want = next_present(p, next[p], EVENTS);
        cr_assert_eq(o, want, "partition %u: the decoder read offset %" PRIu64 ", the model says %" PRIu64, p, o,
                     want);
        next[p] = o + 1;
    }
    cr_assert_eq(pclose(f), 0, "the reference decoder failed");
    for (uint32_t p = 0; p < PARTS; p++)
        cr_assert_eq(next_present(p, next[p], EVENTS), EVENTS, "partition %u: records the decoder missed", p);
}
