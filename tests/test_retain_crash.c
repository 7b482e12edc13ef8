/*
 * retain_crash — siglog_retain's purge and warm moves under simulated
 * power cuts (io_crash.h) at EVERY mutating I/O call it makes, audit
 * records included.
 *
 * What is proven (siglog.h, "Retention"): after a cut at call k, in every
 * power-cut mode, and a recovery by a writer's open or by a maintenance
 * handle's (alternately),
 *   - every event from the log start on reads back byte-identical, up to
 *     the end of the log (nothing lost or doubled past the log start),
 *     from hot and warm segments alike;
 *   - the log starts where it did or where the purge moves it, never
 *     elsewhere;
 *   - when the log start moved, the audit trail (its chain verified)
 *     holds a purge record of exactly the offsets that went: nothing is
 *     purged unrecorded.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_crash.h"
#include "support.h"

#define SEED 53
#define EVENTS 1000
#define SEGMENT_BYTES (64u * 1024)


static char *root, *tmpl;
static char ctx[256]; /* the failing trial, in every assertion */

static void make_template(void)
{
    root = test_tmpdir_fast("retain-crash");
    tmpl = test_path(root, "template");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    test_seeded_retention(&c);
    test_seeded_store(tmpl, &c, SEED, EVENTS);
}

static void drop_template(void)
{
    test_rmtree_fast(root);
    free(root);
    free(tmpl);
}

TestSuite(retain_crash, .init = make_template, .fini = drop_template);

static int count_warm(void *arg, const siglog_segment_info *seg)
{
    *(uint64_t *)arg += seg->tier == 1;
    return 0;
}

typedef struct purge_seen {
    uint64_t start, end; /* the last purge record's offsets */
    int found;
} purge_seen;

static int note_purge(void *arg, const siglog_audit_record *r)
{
    purge_seen *p = arg;
    if (strcmp(r->action, "purge") == 0) {
        p->start = r->offset_start;
        p->end = r->offset_end;
        p->found = 1;
    }
    return 0;
}

/* Every event from the log start on, byte-identical; returns the log
 * start, checked against the audit trail, and *warm the warm segments. */
static uint64_t check_store(const char *store, uint64_t *warm)
{
    uint64_t end;
    uint64_t start = test_check_seeded_log(store, SEED, &end, ctx);
    cr_assert_eq(end, EVENTS, "%s: the log ends at %" PRIu64, ctx, end);
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    *warm = 0;
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_warm, warm), 0, "%s: %s", ctx, siglog_errdetail());
    purge_seen p = {0};
    cr_assert_eq(siglog_audit_read(s, 1, note_purge, &p, NULL), 0, "%s: audit: %s", ctx, siglog_errdetail());
    if (start > 0)
        cr_assert(p.found && p.start == 0 && p.end == start,
                  "%s: offsets [0, %" PRIu64 ") went without a purge record of them", ctx, start);
    siglog_close(s);
    return start;
}

/* What the trials are checked against, and what they saw. */
typedef struct retain_sweep {
    uint64_t warm_moves, purged_to; /* of the uncut run */
    size_t saw_old, saw_new;
} retain_sweep;

static void check_trial(void *arg, const test_crash_point *pt)
{
    retain_sweep *r = arg;
    uint64_t warm;
    uint64_t start = check_store(pt->store, &warm);
    cr_assert_leq(warm, r->warm_moves, "%s", ctx);
    cr_assert(start == 0 || start == r->purged_to, "%s: the log starts at %" PRIu64, ctx, start);
    r->saw_old += start == 0;
    r->saw_new += start == r->purged_to;
}

Test(retain_crash, purge_and_warm_moves_are_whole_or_not_done_at_every_call, .timeout = 600)
{
    char *ref = test_path(root, "reference");
    snprintf(ctx, sizeof ctx, "reference");
    uint64_t calls = test_crash_trial(tmpl, ref, 0, 1, IO_CRASH_KEEP_ALL, test_crash_retain, NULL);
    retain_sweep r = {0};
    r.purged_to = check_store(ref, &r.warm_moves);
    cr_assert_gt(r.purged_to, 0, "the policy purges something");
    cr_assert_gt(r.warm_moves, 1, "the policy moves segments to warm");
    test_rmtree_fast(ref);
    free(ref);
    cr_assert_gt(calls, 4, "retain made %" PRIu64 " calls", calls);
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = tmpl, .root = root, .change = test_crash_retain,
                                             .calls = calls, .modes = TEST_SWEEP_ALL_MODES, .recover_stream = "m",
                                             .ctx = ctx, .ctx_size = sizeof ctx, .check = check_trial,
                                             .check_arg = &r});
    /* Both outcomes happen: the crash points span the commit. */
    cr_assert(r.saw_old && r.saw_new, "old %zu times, new %zu times", r.saw_old, r.saw_new);
}
