/*
 * gaps — a hole in the offsets (a deleted segment) fails every read that
 * passes over it, naming the missing range: reads from the start (a key
 * replay), time seeks that land after it or inside it, as an offset range
 * over it always did. With SIGLOG_CURSOR_ALLOW_GAPS the events present are
 * returned, the same as a full scan of what is left would give.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define EVENTS 1600
#define SEED 21

static char *dir;
static uint64_t bases[64]; /* segment base offsets as written */
static size_t nseg;
static uint64_t hole_from, hole_to; /* the deleted segment's offsets, inclusive */

static void setup(void)
{
    dir = test_tmpdir("gaps");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "g", 1, SIGLOG_SYNC_NONE, 64 * 1024);
    test_append_flushed(s, st, SEED, EVENTS);
    cr_assert_eq(siglog_close(s), 0);
    char *pd = test_path(dir, "streams/g/00000");
    nseg = test_segment_bases(pd, bases, 64);
    cr_assert_geq(nseg, 4, "%zu segments", nseg);
    /* Delete the second segment, all four of its files. */
    hole_from = bases[1];
    hole_to = bases[2] - 1;
    test_remove_segment(pd, hole_from);
    free(pd);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(gaps, .init = setup, .fini = teardown);

static int64_t ts_of(uint64_t i)
{
    test_event t;
    test_event_make(&t, SEED, i);
    return t.ev.timestamp_us;
}

static siglog_stream *open_stream(siglog **s)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    cr_assert_eq(siglog_open(s, dir, &o), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(*s, "g", &st), 0);
    return st;
}

/* The error names the missing range. */
static void assert_names_hole(int rc, const char *what)
{
    char range[64];
    snprintf(range, sizeof range, "offsets %" PRIu64 "..%" PRIu64 " are missing", hole_from, hole_to);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s: %s (%s)", what, siglog_errname(rc), siglog_errdetail());
    cr_assert_not_null(strstr(siglog_errdetail(), range), "%s: %s", what, siglog_errdetail());
}

/* Read a cursor to its end: the offsets into out (at most max), the count
 * returned, the last status in *rc. */
static size_t drain(siglog_cursor *c, uint64_t *out, size_t max, int *rc)
{
    size_t n = 0;
    const siglog_record *r;
    while ((*rc = siglog_cursor_next(c, &r)) == 1) {
        cr_assert_lt(n, max);
        out[n++] = r->offset;
    }
    return n;
}

static int open_cursor(siglog_stream *st, int seek, int64_t arg, unsigned flags, siglog_cursor **c)
{
    return siglog_cursor_open(c, st, 0, seek, arg, flags);
}

/* A cursor that starts before the hole reads every event up to it, then
 * fails naming it. */
static void assert_read_stops_at_hole(siglog_stream *st, int seek, int64_t arg, const char *what)
{
    siglog_cursor *c;
    cr_assert_eq(open_cursor(st, seek, arg, 0, &c), 0, "%s: %s", what, siglog_errdetail());
    static uint64_t got[EVENTS];
    int rc;
    cr_assert_eq(drain(c, got, EVENTS, &rc), hole_from, "%s", what);
    assert_names_hole(rc, what);
    siglog_cursor_close(c);
}

Test(gaps, time_seeks_into_or_past_a_hole_fail_naming_it)
{
    siglog *s;
    siglog_stream *st = open_stream(&s);
    siglog_cursor *c;
    /* Inside the deleted segment, at the first event after it, at the
     * last event of the log. */
    int64_t times[] = {ts_of(hole_from), ts_of(hole_from + 1), ts_of(hole_to + 1), ts_of(EVENTS - 1)};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        assert_names_hole(open_cursor(st, SIGLOG_SEEK_TIME, times[i], 0, &c), "time seek");
    /* A seek that lands before the hole meets it while reading. */
    assert_read_stops_at_hole(st, SIGLOG_SEEK_TIME, ts_of(0), "reading from a time before the hole");
    cr_assert_eq(siglog_close(s), 0);
}

Test(gaps, a_read_from_the_start_fails_at_the_hole)
{
    /* What a key replay does: read everything, filter. */
    siglog *s;
    siglog_stream *st = open_stream(&s);
    assert_read_stops_at_hole(st, SIGLOG_SEEK_START, 0, "read from the start");
    cr_assert_eq(siglog_close(s), 0);
}

Test(gaps, with_allow_gaps_the_events_present_are_returned)
{
    siglog *s;
    siglog_stream *st = open_stream(&s);
    siglog_cursor *c;
    cr_assert_eq(open_cursor(st, SIGLOG_SEEK_START, 0, SIGLOG_CURSOR_ALLOW_GAPS, &c), 0);
    static uint64_t all[EVENTS];
    int rc;
    size_t n = drain(c, all, EVENTS, &rc);
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    siglog_cursor_close(c);
    cr_assert_eq(n, EVENTS - (hole_to - hole_from + 1));
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(all[i], i < hole_from ? i : i + (hole_to - hole_from + 1));
    /* A time seek equals the full scan's answer: from the first present
     * event (in offset order) at or after the time, everything after. */
    int64_t times[] = {ts_of(0), ts_of(hole_from), ts_of(hole_to), ts_of(hole_to + 1), ts_of(EVENTS - 1)};
    for (size_t t = 0; t < sizeof times / sizeof times[0]; t++) {
        size_t first = 0;
        while (first < n && ts_of(all[first]) < times[t])
            first++;
        cr_assert_eq(open_cursor(st, SIGLOG_SEEK_TIME, times[t], SIGLOG_CURSOR_ALLOW_GAPS, &c), 0, "%s",
                     siglog_errdetail());
        static uint64_t got[EVENTS];
        size_t m = drain(c, got, EVENTS, &rc);
        cr_assert_eq(rc, 0, "%s", siglog_errdetail());
        cr_assert_eq(m, n - first, "time %zu: %zu events, the scan says %zu", t, m, n - first);
        cr_assert(memcmp(got, all + first, m * sizeof *got) == 0, "time %zu: the same events", t);
        siglog_cursor_close(c);
    }
    cr_assert_eq(siglog_close(s), 0);
}

Test(gaps, a_missing_first_segment_fails_unless_gaps_are_allowed)
{
    /* The first segment goes too: the log's start (its checkpoint says 0)
     * has no segment. */
    static const char *const exts[] = {".seg", ".oix", ".tix", ".sum"};
    char *pd = test_path(dir, "streams/g/00000");
    for (int e = 0; e < 4; e++) {
        char name[64];
        snprintf(name, sizeof name, "%020" PRIu64 "%s", bases[0], exts[e]);
        char *p = test_path(pd, name);
        cr_assert_eq(unlink(p), 0, "%s", p);
        free(p);
    }
    free(pd);
    siglog *s;
    siglog_stream *st = open_stream(&s);
    siglog_cursor *c;
    int rc = open_cursor(st, SIGLOG_SEEK_START, 0, 0, &c);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s", siglog_errname(rc));
    char range[64];
    snprintf(range, sizeof range, "offsets 0..%" PRIu64, hole_to);
    cr_assert_not_null(strstr(siglog_errdetail(), range), "names %s: %s", range, siglog_errdetail());
    cr_assert_eq(open_cursor(st, SIGLOG_SEEK_TIME, ts_of(hole_to + 1), 0, &c), SIGLOG_ECORRUPT);
    /* Allowed: from the start and from any time, the events present. */
    int64_t times[] = {INT64_MIN, ts_of(0), ts_of(hole_to + 1)};
    for (size_t t = 0; t < sizeof times / sizeof times[0]; t++) {
        int seek = t == 0 ? SIGLOG_SEEK_START : SIGLOG_SEEK_TIME;
        cr_assert_eq(open_cursor(st, seek, times[t], SIGLOG_CURSOR_ALLOW_GAPS, &c), 0, "%s", siglog_errdetail());
        static uint64_t got[EVENTS];
        size_t n = drain(c, got, EVENTS, &rc);
        cr_assert_eq(rc, 0, "%s", siglog_errdetail());
        cr_assert_eq(n, EVENTS - (hole_to + 1), "seek %zu: %zu events", t, n);
        cr_assert_eq(got[0], hole_to + 1);
        siglog_cursor_close(c);
    }
    cr_assert_eq(siglog_close(s), 0);
}
