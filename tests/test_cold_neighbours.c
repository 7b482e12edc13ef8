/*
 * cold_neighbours — rewrites of the hot segments right after the cold
 * tier. A cold entry is never rewritten through the catalog's rewrite
 * primitive (cold.h), so the hot segment after it cannot give an emptied
 * range to it the way it gives one to a hot entry before it: a forget
 * or a key compaction that empties that segment must give its range to
 * the entries after it, and a merge must never take the cold entry in.
 *
 * The store: mixed events of forty keys in sealed segments, all moved
 * cold; then a hot segment holding only the key "edge" (the one after
 * the last cold entry), then hot segments of mixed events again, the
 * newest active. Proven after each rewrite: every event kept reads back
 * once, at its offset, byte for byte; the cold entries and their
 * archives are as before; verify finds nothing wrong.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define KEYS 40
#define SEGMENT_BYTES (64 * 1024)
#define EDGE KEYS

static char *dir, *cold;
static const char *key_names[KEYS + 1];
static char key_text[KEYS][16];
static test_token_log events = {.keys = key_names, .seed = 9100};
static uint8_t gone[TEST_TOKEN_EVENTS_MAX]; /* 1: the event is expected removed */

typedef struct entries {
    uint64_t n, cold, cold_end;
    uint64_t base[64], end[64];
    uint32_t tier[64];
} entries;

static int note_entry(void *ctx, const siglog_segment_info *seg)
{
    entries *e = ctx;
    cr_assert_lt(e->n, 64);
    e->base[e->n] = seg->base_offset;
    e->end[e->n] = seg->end_offset;
    e->tier[e->n] = seg->tier;
    if (seg->tier == 2) {
        e->cold++;
        e->cold_end = seg->end_offset;
    }
    e->n++;
    return 0;
}

static entries entries_of(siglog_stream *st)
{
    entries e = {0};
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, note_entry, &e), 0, "%s", siglog_errdetail());
    return e;
}

static entries stored_entries(void)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    entries e = entries_of(st);
    cr_assert_eq(siglog_close(s), 0);
    return e;
}

static void set_config(uint64_t cold_after, uint32_t cleanup)
{
    siglog_stream_config c;
    siglog *s = test_config_edit(dir, "t", &c);
    c.cold_after = cold_after;
    c.cleanup = cleanup;
    c.merge_below = SEGMENT_BYTES;
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    test_config_save(s, "t", &c);
}

static void setup(void)
{
    test_token_key_names(key_names, key_text, KEYS, "edge");
    events.appended = 0;
    memset(gone, 0, sizeof gone);
    dir = test_tmpdir("cold-neighbours");
    cold = test_tmpdir("cold-neighbours-dir");
    siglog_stream_config c;
    test_token_config(&c, SEGMENT_BYTES);
    siglog_stream *st;
    siglog *s = test_token_store(dir, &c, &st);
    test_token_append_mixed(&events, st, 2500, KEYS);
    test_token_append_until_rolled(&events, st, EDGE, 1); /* the mixed events sealed; "edge" after */
    cr_assert_eq(siglog_close(s), 0);

    /* Everything sealed goes cold, then retention stops. */
    set_config(1, SIGLOG_CLEANUP_COMPACT);
    test_retain_all(dir);
    set_config(0, SIGLOG_CLEANUP_COMPACT);

    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    test_token_append_until_rolled(&events, st, EDGE, 1); /* the first hot segment: "edge" only */
    test_token_append_mixed(&events, st, 2500, KEYS);
    test_token_append_until_rolled(&events, st, 0, 1);
    cr_assert_eq(siglog_close(s), 0);
}

static void teardown(void)
{
    test_rmtree(dir);
    test_rmtree(cold);
    free(dir);
    free(cold);
}

TestSuite(cold_neighbours, .init = setup, .fini = teardown, .timeout = 120);

static int is_gone(uint64_t offset)
{
    return gone[offset];
}

/* Every event not gone reads back once, in order; the entries follow one
 * another from the log start; the cold entries are `was`'s and cold_dir
 * holds their archives only; verify is clean. */
static void check_store(const entries *was, const char *ctx)
{
    uint64_t kept = 0;
    for (uint64_t i = 0; i < events.appended; i++)
        kept += !gone[i];
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    test_token_walk w = {&events, is_gone, 0, 0};
    test_read_all(st, 0, test_token_check_record, &w);
    cr_assert_eq(w.read, kept, "%s: %lu events read, %lu kept", ctx, (unsigned long)w.read, (unsigned long)kept);
    entries e = entries_of(st);
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(e.cold, was->cold, "%s: %lu cold entries, %lu before", ctx, (unsigned long)e.cold,
                 (unsigned long)was->cold);
    for (uint64_t i = 0; i < e.n; i++) {
        if (i < was->cold)
            cr_assert(e.base[i] == was->base[i] && e.end[i] == was->end[i], "%s: cold entry %lu changed", ctx,
                      (unsigned long)i);
        if (i > 0)
            cr_assert_eq(e.base[i], e.end[i - 1], "%s: entry %lu starts at %lu, the one before ends at %lu", ctx,
                         (unsigned long)i, (unsigned long)e.base[i], (unsigned long)e.end[i - 1]);
    }
    cr_assert_eq(test_count_entries(cold), e.cold, "%s: cold_dir holds an archive the catalog does not name", ctx);
    test_verify_clean(dir, ctx);
}

static void mark_gone(uint8_t k)
{
    for (uint64_t i = 0; i < events.appended; i++)
        gone[i] |= events.key_at[i] == k;
}

static void merge(const char *ctx)
{
    test_compact_all(dir, "t", SIGLOG_COMPACT_MERGE, ctx);
}

/* The first hot entry holds "edge" only, right after the cold tier. */
static entries check_layout(void)
{
    entries e = stored_entries();
    cr_assert_gt(e.cold, 2, "retention moved %lu segments cold", (unsigned long)e.cold);
    cr_assert_gt(e.n, e.cold + 2);
    for (uint64_t i = e.base[e.cold]; i < e.end[e.cold]; i++)
        cr_assert_eq(events.key_at[i], EDGE, "offset %lu of the first hot entry", (unsigned long)i);
    return e;
}

Test(cold_neighbours, forget_empties_the_segment_after_the_cold_tier)
{
    entries was = check_layout();
    siglog_key keys[] = {{"edge", 4}};
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_forget_result res;
    cr_assert_eq(siglog_forget(m, "t", keys, 1, NULL, &res), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    mark_gone(EDGE);
    check_store(&was, "forget");
    merge("merge after the forget");
    check_store(&was, "merge after the forget");
}

Test(cold_neighbours, key_compaction_empties_the_segment_after_the_cold_tier)
{
    entries was = check_layout();
    /* A newer "edge" in the active segment supersedes every one before. */
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    test_token_append(&events, st, EDGE);
    cr_assert_eq(siglog_close(s), 0);
    /* Key compaction keeps the newest of each key in the hot segments. */
    uint64_t newest[KEYS + 1];
    memset(newest, 0xff, sizeof newest);
    for (uint64_t i = was.cold_end; i < events.appended; i++)
        newest[events.key_at[i]] = i;
    entries now = stored_entries();
    uint64_t sealed_end = now.end[now.n - 2];
    for (uint64_t i = was.cold_end; i < sealed_end; i++)
        gone[i] = newest[events.key_at[i]] != i;

    test_compact_all(dir, "t", SIGLOG_COMPACT_KEYS, "key compaction");
    check_store(&was, "key compaction");
    merge("merge after the key compaction");
    check_store(&was, "merge after the key compaction");
}
