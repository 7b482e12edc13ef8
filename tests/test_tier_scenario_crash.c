/*
 * tier_scenario_crash — a retention life as one script (warm, cold,
 * purge, archive, restore, consumer commit) cut by a power loss
 * (io_crash.h) at every I/O call it makes, in turn, those in cold_dir and
 * in the archive directory included, then recovered by a writer's open or
 * a maintenance handle's, alternately.
 *
 * The script, on the seeded store (EVENTS events, 64 KiB segments: three
 * sealed and the active one):
 *   1. siglog_retain at NOW_WARM: the first sealed segment goes warm;
 *   2. siglog_retain at NOW_COLD: it goes cold (an archive in cold_dir),
 *      the second goes warm;
 *   3. siglog_retain at NOW_COLD again: cold_max_bytes (one byte) purges
 *      the cold entry (a run purges before it moves, so step 2 kept it);
 *   4. siglog_archive_export with SIGLOG_ARCHIVE_MOVE: the sealed segments
 *      left, warm and hot, out of the store into one archive in `out`;
 *   5. siglog_archive_restore of that archive: back into the store;
 *   6. siglog_consumer_commit of a holding consumer, by a reader that may
 *      commit (SIGLOG_READ_ONLY_CONSUMER).
 *
 * What is proven after every cut and recovery, against the uncut run's
 * model (the purge takes [0, P), the move [P, A)):
 *   - the store replays each offset from its log start up to EVENTS
 *     exactly once, in order, byte-identical, from whichever tier holds
 *     it (test_check_seeded_log);
 *   - the log starts at 0 (before the purge's commit), at P, or past P
 *     and no further than A (where the move's commit left it);
 *   - an offset below P went with an audit purge record of exactly
 *     [0, P); one in [P, log start) is in exactly one whole archive in
 *     `out`, and an audit archive record covers it; the audit chain
 *     verifies;
 *   - the consumer is absent or committed at its offset with its hold,
 *     and then the audit trail holds its hold record.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_crash.h"
#include "options_io.h"
#include "support.h"

#define SEED 61
#define EVENTS 1000
#define SEGMENT_BYTES (64u * 1024)
/* Event i is at TEST_T0 + i ms; a sealed segment holds some 300 of them. */
#define MS 1000LL
#define NOW_WARM (TEST_T0 + 600 * MS) /* warm: newest before 500 ms; cold: before 200 ms */
#define NOW_COLD (TEST_T0 + 800 * MS) /* warm: before 700 ms; cold: before 400 ms */
#define CONSUMER "eval"
#define CONSUMER_AT 900

static char *root, *tmpl, *cold, *out;
static char ctx[256]; /* the failing trial, in every assertion */

static void make_template(void)
{
    root = test_tmpdir_fast("tier-scenario-crash");
    tmpl = test_path(root, "template");
    cold = test_path(root, "cold");
    out = test_path(root, "out");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    c.warm_after = 100 * MS;
    c.cold_after = 400 * MS;
    c.cold_max_bytes = 1;
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    test_seeded_store(tmpl, &c, SEED, EVENTS);
}

static void drop_template(void)
{
    test_rmtree_fast(root);
    free(root);
    free(tmpl);
    free(cold);
    free(out);
}

TestSuite(tier_scenario_crash, .init = make_template, .fini = drop_template);

/* Every trial starts with cold_dir and the archive directory empty. */
static void fresh_dirs(void)
{
    test_rmtree_fast(cold);
    test_rmtree_fast(out);
    cr_assert_eq(mkdir(cold, 0755), 0, "%s", cold);
    cr_assert_eq(mkdir(out, 0755), 0, "%s", out);
}

/* What the uncut run did, step by step (the model of the trials). */
typedef struct scenario {
    siglog_retain_partition retained[3]; /* steps 1 to 3 */
    siglog_restore_result restored;      /* step 5 */
    int step;                            /* the retain step under way */
} scenario;

static void keep_retained(void *arg, const siglog_retain_partition *p)
{
    scenario *sc = arg;
    sc->retained[sc->step] = *p;
    sc->retained[sc->step].stream = NULL;
    sc->retained[sc->step].held_by = NULL;
}

/* Whether the script goes on after a step that returned rc (ok: what a
 * step that did its work returns): not once the trial's process died;
 * short of that every step must succeed. */
static int goes_on(const test_crash *t, int rc, int ok, const char *step)
{
    if (test_crash_dead(t))
        return 0;
    cr_assert_eq(rc, ok, "%s: %s: %s", ctx, step, siglog_errdetail());
    return 1;
}

/* Steps 1 to 3: siglog_retain at each time in turn. */
static int retain_steps(siglog_maintenance *m, scenario *sc, test_crash *t)
{
    static const int64_t now[3] = {NOW_WARM, NOW_COLD, NOW_COLD};
    static const char *const what[3] = {"warm", "cold", "purge"};
    for (sc->step = 0; sc->step < 3; sc->step++) {
        siglog_retain_options o = {.partition_done = keep_retained, .ctx = sc};
        if (!goes_on(t, siglog_retain(m, now[sc->step], &o), 0, what[sc->step]))
            return 0;
    }
    return 1;
}

/* Steps 4 and 5: the move out of the store and the restore. */
static int archive_steps(siglog_maintenance *m, scenario *sc, test_crash *t)
{
    char path[4096];
    if (!goes_on(t, siglog_archive_export(m, "m", 0, INT64_MAX, out, SIGLOG_ARCHIVE_MOVE, path, sizeof path), 1,
                 "archive"))
        return 0;
    return goes_on(t, siglog_archive_restore(m, path, &sc->restored), 1, "restore");
}

/* The script, its calls counted from after the first maintenance open. */
static void script(void *arg, const char *store, test_crash *t)
{
    scenario *sc = arg;
    siglog_maintenance *m = test_maintenance_on(store, t->io);
    test_crash_arm(t);
    int on = retain_steps(m, sc, t) && archive_steps(m, sc, t);
    siglog_maintenance_close(m);
    if (!on)
        return;
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = SIGLOG_READ_ONLY_CONSUMER;
    sl_options_set_io(&o, t->io);
    siglog *s = NULL;
    siglog_stream *st = NULL;
    if (goes_on(t, siglog_open(&s, store, &o), 0, "consumer open") &&
        goes_on(t, siglog_stream_get(s, "m", &st), 0, "consumer stream"))
        goes_on(t, siglog_consumer_commit(st, CONSUMER, 0, CONSUMER_AT, SIGLOG_CONSUMER_HOLD), 0, "consumer commit");
    if (s)
        siglog_close(s);
}

/* What the audit trail says: the purge's range, how far the archive
 * records reach from P, whether the consumer's hold is recorded. */
typedef struct audit_seen {
    uint64_t purge_start, purge_end, archived_from, archived_to;
    int purges, archives, holds;
} audit_seen;

static int note_audit(void *arg, const siglog_audit_record *r)
{
    audit_seen *a = arg;
    if (strcmp(r->action, "purge") == 0) {
        a->purges++;
        a->purge_start = r->offset_start;
        a->purge_end = r->offset_end;
    } else if (strcmp(r->action, "archive") == 0) {
        a->archived_from = a->archives++ ? a->archived_from : r->offset_start;
        a->archived_to = r->offset_end > a->archived_to ? r->offset_end : a->archived_to;
    } else if (strcmp(r->action, "hold") == 0) {
        a->holds++;
    }
    return 0;
}

/* The consumer's committed offset in partition 0 (0: none) and hold. */
typedef struct consumer_seen {
    uint64_t at;
    int found, hold;
} consumer_seen;

static int note_consumer(void *arg, const siglog_consumer_info *c)
{
    consumer_seen *cs = arg;
    if (strcmp(c->name, CONSUMER) == 0) {
        cs->found = 1;
        cs->hold = c->hold;
        cs->at = c->partitions ? c->next_offset[0] : 0;
    }
    return 0;
}

/* How many whole archives in `out` hold each offset; none may fail to
 * open (a temporary file a cut left is not one). */
static void count_archived(uint8_t in[EVENTS])
{
    memset(in, 0, EVENTS);
    DIR *d = opendir(out);
    cr_assert_not_null(d, "%s: %s", ctx, out);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".sgar") != 0)
            continue;
        char *p = test_path(out, e->d_name);
        siglog_archive *a;
        cr_assert_eq(siglog_archive_open(&a, p), 0, "%s: %s", ctx, siglog_errdetail());
        const siglog_record *r;
        int rc;
        while ((rc = siglog_archive_next(a, &r)) == 1) {
            cr_assert_lt(r->offset, EVENTS, "%s: %s holds offset %" PRIu64, ctx, p, r->offset);
            test_event t;
            test_event_make(&t, SEED, r->offset);
            test_assert_record_eq(r, &t.ev);
            in[r->offset]++;
        }
        cr_assert_eq(rc, 0, "%s: %s", ctx, siglog_errdetail());
        siglog_archive_close(a);
        free(p);
    }
    closedir(d);
}

/* The model's bounds and what the trials saw. */
typedef struct scenario_sweep {
    uint64_t purged_to, moved_to; /* P and A */
    size_t saw_start, saw_purged, saw_moved, saw_restored, saw_held, saw_consumer;
} scenario_sweep;

/* What a store checked against the model was found to be. */
typedef struct findings {
    uint64_t start; /* its log start */
    int archived;   /* an archive record: the move began */
    int held;       /* the hold record: the commit began */
    int consumer;   /* the consumer's commit is there */
} findings;

/* Check the store at `store` against the model. */
static findings check_store(const scenario_sweep *sw, const char *store)
{
    uint64_t end;
    uint64_t start = test_check_seeded_log(store, SEED, &end, ctx);
    cr_assert_eq(end, EVENTS, "%s: the log ends at %" PRIu64, ctx, end);
    cr_assert(start == 0 || (start >= sw->purged_to && start <= sw->moved_to),
              "%s: the log starts at %" PRIu64 ", not 0 nor in [%" PRIu64 ", %" PRIu64 "]", ctx, start,
              sw->purged_to, sw->moved_to);
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    audit_seen a = {0};
    cr_assert_eq(siglog_audit_read(s, 1, note_audit, &a, NULL), 0, "%s: audit: %s", ctx, siglog_errdetail());
    cr_assert_leq(a.purges, 1, "%s", ctx);
    if (start > 0)
        cr_assert(a.purges && a.purge_start == 0 && a.purge_end == sw->purged_to,
                  "%s: offsets [0, %" PRIu64 ") went without a purge record of them", ctx, sw->purged_to);
    uint8_t archived[EVENTS];
    count_archived(archived);
    for (uint64_t i = sw->purged_to; i < start; i++)
        cr_assert_eq(archived[i], 1, "%s: offset %" PRIu64 " below the log start %" PRIu64 " is in %u archives",
                     ctx, i, start, archived[i]);
    if (start > sw->purged_to)
        cr_assert(a.archives && a.archived_from == sw->purged_to && a.archived_to >= start,
                  "%s: offsets [%" PRIu64 ", %" PRIu64 ") left without an archive record of them", ctx,
                  sw->purged_to, start);
    consumer_seen cs = {0};
    cr_assert_eq(siglog_consumer_foreach(st, note_consumer, &cs), 0, "%s: %s", ctx, siglog_errdetail());
    if (cs.found) {
        cr_assert(cs.hold && cs.at == CONSUMER_AT, "%s: consumer at %" PRIu64 ", hold %d", ctx, cs.at, cs.hold);
        cr_assert_eq(a.holds, 1, "%s: a hold the audit trail does not hold", ctx);
    }
    siglog_close(s);
    return (findings){.start = start, .archived = a.archives > 0, .held = a.holds > 0, .consumer = cs.found};
}

static void check_trial(void *arg, const test_crash_point *pt)
{
    scenario_sweep *sw = arg;
    findings f = check_store(sw, pt->store);
    sw->saw_start += f.start == 0;
    sw->saw_purged += f.start == sw->purged_to && !f.archived;
    sw->saw_moved += f.start == sw->moved_to;
    sw->saw_restored += f.start == sw->purged_to && f.archived;
    sw->saw_held += f.held;
    sw->saw_consumer += f.consumer;
    fresh_dirs();
}

Test(tier_scenario_crash, every_event_is_read_once_or_purged_and_audited_at_every_call, .timeout = 1800)
{
    char *ref = test_path(root, "reference");
    snprintf(ctx, sizeof ctx, "reference");
    fresh_dirs();
    scenario sc = {0};
    uint64_t calls = test_crash_trial(tmpl, ref, 0, 1, IO_CRASH_KEEP_ALL, script, &sc);
    /* Each step did its part, and only it. */
    const siglog_retain_partition *r = sc.retained;
    cr_assert(r[0].warm_segments > 0 && r[0].cold_segments == 0 && r[0].purged_segments == 0, "warm step");
    cr_assert(r[1].cold_segments > 0 && r[1].warm_segments > 0 && r[1].purged_segments == 0, "cold step");
    cr_assert(r[2].purged_segments == r[1].cold_segments && r[2].cold_segments == 0 && r[2].purged_from == 0,
              "purge step");
    scenario_sweep sw = {.purged_to = r[2].purged_to, .moved_to = sc.restored.next_offset};
    cr_assert_eq(sc.restored.first_offset, sw.purged_to, "the move took what the purge left");
    cr_assert_gt(sc.restored.segments, 1, "the move took warm and hot segments");
    findings f = check_store(&sw, ref);
    cr_assert_eq(f.start, sw.purged_to, "the restore brought the move back");
    cr_assert(f.held && f.consumer, "the reference run committed the consumer");
    test_rmtree_fast(ref);
    free(ref);
    fresh_dirs();
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = tmpl, .root = root, .change = script, .change_arg = &sc,
                                             .calls = calls, .modes = TEST_SWEEP_ONE_MODE, .recover_stream = "m",
                                             .ctx = ctx, .ctx_size = sizeof ctx, .check = check_trial,
                                             .check_arg = &sw});
    /* The cuts span every step's commit and reach into the consumer's
     * (whose last calls are cut, so its commit may never be kept). */
    cr_assert(sw.saw_start && sw.saw_purged && sw.saw_moved && sw.saw_restored && sw.saw_held,
              "log start 0: %zu, purged: %zu, moved: %zu, restored: %zu, hold recorded: %zu (committed: %zu)",
              sw.saw_start, sw.saw_purged, sw.saw_moved, sw.saw_restored, sw.saw_held, sw.saw_consumer);
}
