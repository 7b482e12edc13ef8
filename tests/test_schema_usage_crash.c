/*
 * schema_usage_crash — the recount of stale schema usage figures under
 * simulated power cuts (io_crash.h) at EVERY mutating I/O call of the
 * writer session that recounts them.
 *
 * The template's saved figures are stale on purpose: partition 0 lost a
 * segment (the loss accepted by verify) and a key compaction by
 * maintenance dropped records below the figures' tally, both after the
 * figures were saved, so a writer's open must recount them from the log
 * (schema_usage_tally.h) and its close saves them.
 *
 * What is proven: after a cut at call k of that session (open, a few
 * appends, close), in two power-cut modes a call (all four in turn), and
 * a recovery by a writer's
 * open, the figures of every partition, through the writer and through
 * a read-only handle, equal a full read of the log; and the figures the
 * recovered writer saves at its close are the exact ones too (a second
 * read-only open trusts the saved file).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_crash.h"
#include "options_io.h"
#include "schema_usage.h"
#include "support.h"

#define SEG_BYTES (64u << 10)
#define LATE_EVENTS 6 /* appended by the session that recounts */


static char *root, *tmpl;
static char ctx[256]; /* the failing trial, in every assertion */

static siglog *open_store(const char *path, int read_only, const siglog_io *io)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    o.journal_bytes = 1u << 20;
    if (io)
        sl_options_set_io(&o, io);
    siglog *s = NULL;
    int rc = siglog_open(&s, path, &o);
    cr_assert(rc == 0 || io, "%s: open: %s", ctx, siglog_errdetail());
    return rc ? NULL : s;
}

static uint64_t sum_counts(const schema_usage *u)
{
    uint64_t n = 0;
    for (size_t i = 0; i < u->count; i++)
        n += u->v[i].count;
    return n;
}

static void count_record(void *arg, const siglog_record *r)
{
    (void)r;
    (*(uint64_t *)arg)++;
}

/* The events partition 0's saved figures count, and the log's. */
static void saved_and_read(const char *store, uint64_t *saved, uint64_t *read)
{
    char *p0 = test_path(store, "streams/ev/00000");
    schema_usage u;
    int found;
    cr_assert_eq(sl_schema_usage_load(sl_io_posix(), p0, &u, &found), 0, "%s", siglog_errdetail());
    cr_assert(found, "no saved figures in %s", p0);
    *saved = sum_counts(&u);
    sl_schema_usage_free(&u);
    free(p0);
    siglog_stream *st;
    siglog *s = open_store(store, 1, NULL);
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    *read = 0;
    test_read_all(st, 0, count_record, read);
    siglog_close(s);
}

static void make_template(void)
{
    root = test_tmpdir_fast("schema-usage-crash");
    tmpl = test_path(root, "template");
    snprintf(ctx, sizeof ctx, "template");
    siglog *s = test_store_open(tmpl, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 2;
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    c.segment_bytes_max = SEG_BYTES;
    c.compression = SIGLOG_COMPRESSION_NONE; /* so the values roll segments */
    c.cleanup = SIGLOG_CLEANUP_COMPACT;
    cr_assert_eq(siglog_stream_create(s, "ev", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    test_append_keyed_runs(st, 0, 0, 700);
    test_append_keyed_runs(st, 1, 0, 60);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());

    /* A lost segment, accepted, then a key compaction: both drop records
     * the saved figures count. */
    char *p0 = test_path(tmpl, "streams/ev/00000");
    uint64_t bases[64];
    size_t n = test_segment_bases(p0, bases, 64);
    cr_assert_geq(n, 4, "partition 0 has %zu segments", n);
    test_remove_segment(p0, bases[1]);
    free(p0);
    cr_assert_eq(siglog_verify(tmpl, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL), 0, "%s", siglog_errdetail());
    siglog_compact_result r = test_compact_all(tmpl, "ev", SIGLOG_COMPACT_KEYS, "key compaction");
    cr_assert_gt(r.events_dropped, 0, "the key compaction dropped nothing");

    uint64_t saved, read;
    saved_and_read(tmpl, &saved, &read);
    cr_assert_gt(saved, read, "the saved figures are not stale: %" PRIu64 " counted, %" PRIu64 " in the log", saved,
                 read);
}

static void drop_template(void)
{
    test_rmtree_fast(root);
    free(root);
    free(tmpl);
}

TestSuite(schema_usage_crash, .init = make_template, .fini = drop_template);

/* A writer session through t's backend that recounts the figures,
 * appends and closes, every call of it counted. */
static void recounting_session(void *arg, const char *store, test_crash *t)
{
    (void)arg;
    test_crash_arm(t);
    siglog *s = open_store(store, 0, t->io);
    if (!s)
        return;
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0, "%s: %s", ctx, siglog_errdetail());
    for (uint32_t i = 0; i < LATE_EVENTS && !test_crash_dead(t); i++) {
        char value[] = "late";
        siglog_event e = { .value = value, .value_len = 4, .timestamp_us = 7, .schema_version = 4 };
        int rc = siglog_append(st, i % 2, &e, 1, NULL, NULL);
        cr_assert(rc == 0 || t->die, "reference run: append: %s", siglog_errdetail());
    }
    int rc = siglog_close(s);
    cr_assert(rc == 0 || t->die, "reference run: close: %s", siglog_errdetail());
}

static void check_handle(const char *store, int read_only, const char *who)
{
    char where[320];
    snprintf(where, sizeof where, "%s, %s", ctx, who);
    siglog *s = open_store(store, read_only, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    test_check_schema_usage(st, 0, where);
    test_check_schema_usage(st, 1, where);
    cr_assert_eq(siglog_close(s), 0, "%s: close: %s", where, siglog_errdetail());
}

/* Recovered by the writer's open, then read as a reader sees it. */
static void check_trial(void *arg, const test_crash_point *pt)
{
    (void)arg;
    check_handle(pt->store, 0, "the recovering writer");
    check_handle(pt->store, 1, "a reader after it");
}

Test(schema_usage_crash, recount_is_exact_after_a_cut_at_every_call, .timeout = 600)
{
    char *ref = test_path(root, "reference");
    snprintf(ctx, sizeof ctx, "reference");
    uint64_t calls = test_crash_trial(tmpl, ref, 0, 1, IO_CRASH_KEEP_ALL, recounting_session, NULL);
    uint64_t saved, read;
    saved_and_read(ref, &saved, &read);
    cr_assert_eq(saved, read, "the reference session saved %" PRIu64 " events for %" PRIu64, saved, read);
    test_rmtree_fast(ref);
    free(ref);
    cr_assert_gt(calls, LATE_EVENTS, "the session made %" PRIu64 " calls", calls);
    /* Two modes a call, in turn (KEEP_ALL and RANDOM, DROP_ALL and
     * GARBLE), so that every mode meets every stretch of the session and
     * the test stays short on a loaded machine. */
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = tmpl, .root = root, .change = recounting_session,
                                             .calls = calls, .modes = TEST_SWEEP_TWO_MODES, .ctx = ctx,
                                             .ctx_size = sizeof ctx, .check = check_trial});
}
