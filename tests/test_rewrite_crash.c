/*
 * rewrite_crash — the rewrite primitive, the removal of a prefix, a
 * compaction merge and a key compaction (through the primitive) under
 * simulated power cuts (io_crash.h) at EVERY mutating I/O call they make.
 *
 * What is proven (catalog.h, "The rewrite primitive"): after a cut at call
 * k of the change, in every power-cut mode, and a recovery by a writer's
 * open or by a maintenance handle's (alternately),
 *   - the catalog names the old segments or the new ones, never a mix,
 *     and every file it names is there;
 *   - no file of a segment it does not name is left (leftovers removed);
 *   - every event the log holds reads back byte-identical, from the log
 *     start the catalog says (the old one, or past the removed prefix),
 *     each once: all of them with the old segments, exactly those the
 *     uninterrupted change kept with the new ones;
 *   - verify finds nothing to report: no unusable index either.
 *
 * How: a store with several sealed segments is made once with POSIX I/O;
 * a reference run of the change over io_crash counts its calls; trial
 * (k, mode) copies the store, runs the change dying at call k, cuts the
 * power in each of the four modes, recovers with POSIX I/O and checks.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "compact.h"
#include "io_crash.h"
#include "maintenance.h"
#include "rewrite_copy.h"
#include "support.h"
#include "options_io.h"

#define SEED 91
#define EVENTS 1000
#define SEGMENT_BYTES (64u * 1024)

static const segment_params params = {.segment_bytes_max = SEGMENT_BYTES, .index_interval_bytes = 4096,
                                      .file_mode = 0600};

static char *root, *tmpl;
static char ctx[256]; /* the failing trial, in every assertion */

static void make_template(void)
{
    root = test_tmpdir_fast("rewrite-crash");
    tmpl = test_path(root, "template");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    test_seeded_store(tmpl, &c, SEED, EVENTS);
}

static void drop_template(void)
{
    test_rmtree_fast(root);
    free(root);
    free(tmpl);
}

TestSuite(rewrite_crash, .init = make_template, .fini = drop_template);

/* The change under test, on the catalog of partition 0 of "m". */
typedef int (*change_fn)(catalog *c);

static int copy_two(catalog *c)
{
    return rewrite_copy(c, 1, 2, &params);
}

static int remove_two(catalog *c)
{
    return sl_catalog_remove_prefix(c, 2);
}

/* A compaction's merge: every sealed segment is below merge_below and
 * they all fit one output, so the plan is one run, one rewrite. */
static int merge_all(catalog *c)
{
    segment_params out = params;
    out.segment_bytes_max = 64 * SEGMENT_BYTES;
    compact_stats st;
    return sl_compact_partition_merge(c, &out, 2 * SEGMENT_BYTES, &st);
}

/* A key compaction of every sealed segment: the key map holds them all
 * (about 600 distinct keys), no tombstone. */
static int keys_all(catalog *c)
{
    compact_keys_params kp = {.now_us = 0, .tombstone_retention_us = 0, .memory_bytes = 1u << 20};
    compact_stats st;
    return sl_compact_partition_keys(c, &params, SIGLOG_COMPRESSION_NONE, &kp, &st);
}

/* The sealed entries' locations and the log start of a partition. */
typedef struct view {
    char loc[16][CATALOG_LOCATION_MAX + 1];
    size_t n;
    uint64_t log_start;
} view;

static void view_of(const char *store, view *v)
{
    char *pd = test_path(store, "streams/m/00000");
    catalog_snapshot *s;
    cr_assert_eq(sl_catalog_snapshot_load(sl_io_posix(), pd, &s), 0, "%s: %s", ctx, siglog_errdetail());
    memset(v, 0, sizeof *v);
    v->n = sl_catalog_snapshot_count(s);
    cr_assert_leq(v->n, 16);
    for (size_t i = 0; i < v->n; i++)
        snprintf(v->loc[i], sizeof v->loc[i], "%s", sl_catalog_snapshot_segment(s, i)->location);
    v->log_start = sl_catalog_snapshot_bounds(s)->log_start_offset;
    cr_assert_eq(sl_catalog_check_files(sl_io_posix(), pd, s), 0, "%s: %s", ctx, siglog_errdetail());
    sl_catalog_snapshot_release(s);
    free(pd);
}

static int views_equal(const view *a, const view *b)
{
    if (a->n != b->n || a->log_start != b->log_start)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->loc[i], b->loc[i]) != 0)
            return 0;
    return 1;
}

/* Every file of the partition that looks like a segment's belongs to a
 * segment the catalog names. */
static void check_no_leftovers(const char *store, const view *v)
{
    char *pd = test_path(store, "streams/m/00000");
    DIR *d = opendir(pd);
    cr_assert(d, "%s", pd);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int mine = 0;
        for (size_t i = 0; i < v->n && !mine; i++) {
            size_t l = strlen(v->loc[i]);
            for (int x = 0; x < SEGMENT_FILE_EXTS && !mine; x++)
                mine = strncmp(e->d_name, v->loc[i], l) == 0 && strcmp(e->d_name + l, sl_segment_file_exts[x]) == 0;
        }
        cr_assert(mine, "%s: %s/%s is left over", ctx, pd, e->d_name);
    }
    closedir(d);
    free(pd);
}

/* Every event the log holds, in offset order and each once, byte-identical
 * to the one appended at its offset: seen[offset] set for each. */
static void read_events(const char *store, uint8_t seen[EVENTS])
{
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s: %s", ctx, siglog_errdetail());
    const siglog_record *r;
    uint64_t next = 0;
    int rc;
    while ((rc = siglog_cursor_next(cur, &r)) == 1) {
        cr_assert(r->offset >= next && r->offset < EVENTS, "%s: offset %" PRIu64 " after %" PRIu64, ctx, r->offset,
                  next);
        test_event t;
        test_event_make(&t, SEED, r->offset);
        test_assert_record_eq(r, &t.ev);
        seen[r->offset] = 1;
        next = r->offset + 1;
    }
    cr_assert_eq(rc, 0, "%s: cursor after %" PRIu64 ": %s", ctx, next, siglog_errdetail());
    siglog_cursor_close(cur);
    siglog_close(s);
}

/* The log holds exactly the events from log_start on that kept has
 * (every one when kept is NULL), each once and byte-identical. */
static void check_events(const char *store, uint64_t log_start, const uint8_t *kept)
{
    uint8_t seen[EVENTS] = {0};
    read_events(store, seen);
    for (uint64_t i = 0; i < EVENTS; i++) {
        int want = i >= log_start && (!kept || kept[i]);
        cr_assert_eq(seen[i], want, "%s: offset %" PRIu64 " is %s", ctx, i, seen[i] ? "there" : "missing");
    }
}

/* The change of one trial, as test_crash_trial gives it a store. */
typedef struct trial_change {
    change_fn fn;
} trial_change;

/* The change on partition 0 of "m" through t's backend, its calls
 * counted from after the maintenance handle found the catalog. */
static void run_change(void *arg, const char *store, test_crash *t)
{
    const trial_change *tc = arg;
    siglog_options o;
    siglog_options_default(&o);
    sl_options_set_io(&o, t->io);
    maintenance *m = NULL;
    cr_assert_eq(sl_maintenance_open(&m, store, &o), 0, "%s: %s", ctx, siglog_errdetail());
    catalog *c;
    cr_assert_eq(sl_maintenance_catalog(m, "m", 0, &c), 0, "%s: %s", ctx, siglog_errdetail());
    test_crash_arm(t);
    int rc = tc->fn(c);
    if (!t->die)
        cr_assert_eq(rc, 0, "reference run: %s", siglog_errdetail());
    sl_maintenance_close(m);
}

/* What the trials are checked against, and what they saw. */
typedef struct rewrite_sweep {
    const view *old, *fresh;
    const uint8_t *kept; /* the events the uncut change kept */
    size_t saw_old, saw_new;
} rewrite_sweep;

static void check_trial(void *arg, const test_crash_point *pt)
{
    rewrite_sweep *r = arg;
    view v;
    view_of(pt->store, &v);
    int is_old = views_equal(&v, r->old), is_new = views_equal(&v, r->fresh);
    cr_assert(is_old || is_new, "%s: the catalog names neither the old segments nor the new ones", ctx);
    r->saw_old += is_old;
    r->saw_new += is_new;
    check_no_leftovers(pt->store, &v);
    check_events(pt->store, v.log_start, is_new ? r->kept : NULL);
    /* Whole new files, their indexes too: the seal maps them read-only
     * before their last sync. */
    cr_assert_eq(siglog_verify(pt->store, 0, NULL, NULL), 0, "%s: verify: %s", ctx, siglog_errdetail());
}

static void crash_everywhere(const char *what, change_fn fn)
{
    trial_change change = { fn };
    char *ref = test_path(root, "reference");
    view old, fresh;
    snprintf(ctx, sizeof ctx, "%s: reference", what);
    test_copy_tree(tmpl, ref);
    view_of(ref, &old);
    test_rmtree_fast(ref);
    cr_assert_geq(old.n, 4, "the template has %zu segments", old.n);
    uint64_t calls = test_crash_trial(tmpl, ref, 0, 1, IO_CRASH_KEEP_ALL, run_change, &change);
    view_of(ref, &fresh);
    /* What the uninterrupted change kept: the events of the new segments
     * (a compaction by keys drops some; the others keep all). */
    uint8_t kept[EVENTS] = {0};
    read_events(ref, kept);
    cr_assert_not(views_equal(&old, &fresh), "the change changed nothing");
    test_rmtree_fast(ref);
    free(ref);
    cr_assert_gt(calls, 4, "%s made %" PRIu64 " calls", what, calls);
    rewrite_sweep r = {.old = &old, .fresh = &fresh, .kept = kept};
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = tmpl, .root = root, .change = run_change, .change_arg = &change,
                                             .calls = calls, .modes = TEST_SWEEP_ALL_MODES, .recover_stream = "m",
                                             .label = what, .ctx = ctx, .ctx_size = sizeof ctx,
                                             .check = check_trial, .check_arg = &r});
    /* Both outcomes happen: the crash points span the commit. */
    cr_assert(r.saw_old && r.saw_new, "%s: old %zu times, new %zu times", what, r.saw_old, r.saw_new);
}

Test(rewrite_crash, a_rewrite_leaves_old_or_new_at_every_call, .timeout = 600)
{
    crash_everywhere("rewrite", copy_two);
}

Test(rewrite_crash, a_prefix_removal_leaves_old_or_new_at_every_call, .timeout = 600)
{
    crash_everywhere("remove_prefix", remove_two);
}

Test(rewrite_crash, a_compaction_merge_leaves_old_or_new_at_every_call, .timeout = 600)
{
    crash_everywhere("merge", merge_all);
}

Test(rewrite_crash, a_key_compaction_leaves_old_or_new_at_every_call, .timeout = 600)
{
    crash_everywhere("keys", keys_all);
}
