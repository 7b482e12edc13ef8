/*
 * cold_crash — siglog_retain's moves into the cold tier (cold_move.c)
 * under simulated power cuts (io_crash.h) at EVERY mutating I/O call,
 * those in cold_dir (outside the store) included, in every power-cut
 * mode, recovered by a writer's open or a maintenance handle's.
 *
 * The policy moves the oldest segments cold and the newer sealed ones
 * warm in one run. What is proven (cold.h):
 *   - every event from the log start on reads back byte-identical up to
 *     the end of the log, from the hot, warm and cold tiers alike: a
 *     cold entry's archive is whole whenever the catalog names it;
 *   - a second run, uncut, completes the moves: the tiers are then the
 *     reference run's and verify finds nothing wrong (a leftover hot
 *     file or a half-written archive would be a problem or an error),
 *     and cold_dir holds exactly one archive per cold entry: no orphan
 *     archive, no temporary file (cold_orphans.c).
 * A moving export of a partition whose oldest entries are cold
 * (archive_export.c: the cold ones read from their archives, which leave
 * cold_dir after the catalog's commit) is cut the same way: every event
 * is then in the store from its log start on, or below it in the one
 * whole archive exported, which restores every event from offset 0;
 * retention's next run leaves cold_dir one archive per cold entry.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "io_crash.h"
#include "support.h"

#define SEED 59
#define EVENTS 1000
#define SEGMENT_BYTES (64u * 1024)

static char *root, *tmpl, *cold;
static char ctx[256]; /* the failing trial, in every assertion */

static void make_template(void)
{
    root = test_tmpdir_fast("cold-crash");
    tmpl = test_path(root, "template");
    cold = test_path(root, "cold");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    test_seeded_retention(&c);
    c.delete_after = 0;    /* retain_crash covers the purge */
    c.cold_after = 300000; /* events before TEST_T0 + 800 ms at TEST_RETAIN_NOW */
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    test_seeded_store(tmpl, &c, SEED, EVENTS);
}

static void drop_template(void)
{
    test_rmtree_fast(root);
    free(root);
    free(tmpl);
    free(cold);
}

TestSuite(cold_crash, .init = make_template, .fini = drop_template);

/* Every trial starts with an empty cold_dir: the template's setting
 * names it. */
static void fresh_cold_dir(void)
{
    test_rmtree_fast(cold);
    cr_assert_eq(mkdir(cold, 0755), 0);
}

typedef struct tiers {
    uint64_t n[3];
} tiers;

static int count_tier(void *arg, const siglog_segment_info *seg)
{
    tiers *t = arg;
    cr_assert_lt(seg->tier, 3u, "%s", ctx);
    t->n[seg->tier]++;
    return 0;
}

/* Every event from the log start on, byte-identical; the segments per
 * tier. */
static tiers check_store(const char *store)
{
    uint64_t end;
    test_check_seeded_log(store, SEED, &end, ctx);
    cr_assert_eq(end, EVENTS, "%s: the log ends at %" PRIu64, ctx, end);
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    tiers t = {{0}};
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_tier, &t), 0, "%s: %s", ctx, siglog_errdetail());
    siglog_close(s);
    return t;
}

/* The files in cold_dir; none may be a temporary. */
static uint64_t cold_files(void)
{
    DIR *d = opendir(cold);
    cr_assert(d, "%s: %s", ctx, cold);
    uint64_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t len = strlen(de->d_name);
        cr_assert(len > 5 && strcmp(de->d_name + len - 5, ".sgar") == 0, "%s: %s left in cold_dir", ctx,
                  de->d_name);
        n++;
    }
    closedir(d);
    return n;
}

typedef struct problem_seen {
    int n;
    char what[1024];
} problem_seen;

/* Any problem verify reports: an unusable index among them, since a
 * rewrite's indexes are read-only before their last sync as a roll's are
 * (sl_segment_seal), so no power cut leaves one zeroed. */
static void note_problem(void *arg, const char *file, uint64_t pos, const char *what)
{
    problem_seen *p = arg;
    p->n++;
    snprintf(p->what, sizeof p->what, "%s at %" PRIu64 ": %s", file, pos, what);
}

/* What the trials are checked against, and what they saw. */
typedef struct cold_sweep {
    tiers want; /* of the uncut run */
    size_t saw_cold, saw_hot;
} cold_sweep;

static void check_trial(void *arg, const test_crash_point *pt)
{
    cold_sweep *c = arg;
    tiers got = check_store(pt->store);
    cr_assert_leq(got.n[2], c->want.n[2], "%s", ctx);
    c->saw_cold += got.n[2] > 0;
    c->saw_hot += got.n[2] == 0;
    /* The next run finishes the job. */
    siglog_maintenance *m = test_maintenance_on(pt->store, NULL);
    cr_assert_eq(siglog_retain(m, TEST_RETAIN_NOW, NULL), 0, "%s: rerun: %s", ctx, siglog_errdetail());
    siglog_maintenance_close(m);
    got = check_store(pt->store);
    cr_assert_eq(got.n[2], c->want.n[2], "%s", ctx);
    cr_assert_eq(got.n[1], c->want.n[1], "%s", ctx);
    cr_assert_eq(cold_files(), c->want.n[2], "%s: an archive per cold entry, no orphan", ctx);
    problem_seen pr = {0};
    siglog_verify_callbacks cb = {.problem = note_problem, .ctx = &pr};
    int rc = siglog_verify(pt->store, 0, &cb, NULL);
    cr_assert(rc == 0 && pr.n == 0, "%s: verify: %s: %s", ctx, siglog_errdetail(), pr.what);
    /* Each trial starts with an empty cold_dir. */
    fresh_cold_dir();
}

Test(cold_crash, cold_moves_are_whole_or_not_done_at_every_call, .timeout = 900)
{
    char *ref = test_path(root, "reference");
    snprintf(ctx, sizeof ctx, "reference");
    fresh_cold_dir();
    uint64_t calls = test_crash_trial(tmpl, ref, 0, 1, IO_CRASH_KEEP_ALL, test_crash_retain, NULL);
    cold_sweep c = {.want = check_store(ref)};
    cr_assert_gt(c.want.n[2], 1, "the policy moves segments to cold");
    cr_assert_gt(c.want.n[1], 0, "and others to warm");
    test_rmtree_fast(ref);
    free(ref);
    fresh_cold_dir();
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = tmpl, .root = root, .change = test_crash_retain,
                                             .calls = calls, .modes = TEST_SWEEP_ALL_MODES, .recover_stream = "m",
                                             .ctx = ctx, .ctx_size = sizeof ctx, .check = check_trial,
                                             .check_arg = &c});
    cr_assert(c.saw_cold && c.saw_hot, "cold %zu times, none %zu times", c.saw_cold, c.saw_hot);
}

/* ---- a moving export over the cold tier ---- */

typedef struct export_sweep {
    char *cold_tmpl; /* cold_dir as the template's retention left it */
    char *out;       /* where the export writes */
    size_t saw_moved, saw_kept;
} export_sweep;

/* cold_dir as the template has it, and an empty export directory. */
static void fresh_export_dirs(const export_sweep *x)
{
    test_rmtree_fast(cold);
    test_copy_tree(x->cold_tmpl, cold);
    test_rmtree_fast(x->out);
    cr_assert_eq(mkdir(x->out, 0755), 0);
}

static void export_change(void *arg, const char *store, test_crash *t)
{
    export_sweep *x = arg;
    siglog_maintenance *m = test_maintenance_on(store, t->io);
    test_crash_arm(t);
    siglog_archive_export(m, "m", 0, INT64_MAX, x->out, SIGLOG_ARCHIVE_MOVE, NULL, 0);
    siglog_maintenance_close(m);
}

/* The one whole archive in x->out (NULL: none), malloc'd. */
static char *exported_archive(const export_sweep *x)
{
    DIR *d = opendir(x->out);
    cr_assert(d, "%s: %s", ctx, x->out);
    char *path = NULL;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 5, ".sgar") != 0)
            continue; /* a cut write's temporary: no archive */
        cr_assert_null(path, "%s: a second archive %s", ctx, de->d_name);
        path = test_path(x->out, de->d_name);
    }
    closedir(d);
    return path;
}

static void check_export_trial(void *arg, const test_crash_point *pt)
{
    export_sweep *x = arg;
    uint64_t end, start = test_check_seeded_log(pt->store, SEED, &end, ctx);
    cr_assert_eq(end, EVENTS, "%s", ctx);
    char *archive = exported_archive(x);
    if (start > 0) {
        cr_assert_not_null(archive, "%s: the log starts at %" PRIu64 " with no archive", ctx, start);
        siglog_archive *a;
        cr_assert_eq(siglog_archive_open(&a, archive), 0, "%s: %s", ctx, siglog_errdetail());
        const siglog_archive_info *ai = siglog_archive_info_get(a);
        cr_assert(ai->first_offset == 0 && ai->next_offset == start, "%s: archive [%" PRIu64 ", %" PRIu64 ")", ctx,
                  ai->first_offset, ai->next_offset);
        siglog_archive_close(a);
    }
    x->saw_moved += start > 0;
    x->saw_kept += start == 0;
    /* Retention's next run removes what a cut left in cold_dir. */
    siglog_maintenance *m = test_maintenance_on(pt->store, NULL);
    cr_assert_eq(siglog_retain(m, TEST_RETAIN_NOW, NULL), 0, "%s: rerun: %s", ctx, siglog_errdetail());
    siglog_maintenance_close(m);
    tiers got = check_store(pt->store);
    cr_assert_eq(cold_files(), got.n[2], "%s: an archive per cold entry, no orphan", ctx);
    problem_seen pr = {0};
    siglog_verify_callbacks cb = {.problem = note_problem, .ctx = &pr};
    int rc = siglog_verify(pt->store, 0, &cb, NULL);
    cr_assert(rc == 0 && pr.n == 0, "%s: verify: %s: %s", ctx, siglog_errdetail(), pr.what);
    /* The archive goes back: every event from offset 0 (a no-op when
     * the store still holds them, compared with the cold entries). */
    if (archive) {
        m = test_maintenance_on(pt->store, NULL);
        rc = siglog_archive_restore(m, archive, NULL);
        siglog_maintenance_close(m);
        cr_assert_eq(rc, start > 0, "%s: restore: %s", ctx, siglog_errdetail());
        cr_assert_eq(test_check_seeded_log(pt->store, SEED, &end, ctx), 0, "%s", ctx);
        cr_assert_eq(end, EVENTS, "%s", ctx);
    }
    free(archive);
    fresh_export_dirs(x);
}

Test(cold_crash, a_moving_export_over_cold_entries_loses_and_doubles_nothing, .timeout = 900)
{
    /* The template with its oldest entries cold, the newer sealed warm. */
    char *cold_tmpl = test_path(root, "cold-template"), *tmpl_cold = test_path(root, "template-cold");
    export_sweep x = {.cold_tmpl = cold_tmpl, .out = test_path(root, "out")};
    fresh_cold_dir();
    test_copy_tree(tmpl, tmpl_cold);
    siglog_maintenance *m = test_maintenance_on(tmpl_cold, NULL);
    cr_assert_eq(siglog_retain(m, TEST_RETAIN_NOW, NULL), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    snprintf(ctx, sizeof ctx, "template");
    tiers t = check_store(tmpl_cold);
    cr_assert(t.n[2] > 1 && t.n[1] > 0, "cold entries first, then warm ones");
    test_copy_tree(cold, cold_tmpl);

    char *ref = test_path(root, "reference");
    snprintf(ctx, sizeof ctx, "reference");
    fresh_export_dirs(&x);
    uint64_t calls = test_crash_trial(tmpl_cold, ref, 0, 1, IO_CRASH_KEEP_ALL, export_change, &x);
    cr_assert_eq(cold_files(), 0, "the reference run moved the cold entries' archives out");
    test_rmtree_fast(ref);
    free(ref);
    fresh_export_dirs(&x);
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = tmpl_cold, .root = root, .change = export_change,
                                             .change_arg = &x, .calls = calls, .modes = TEST_SWEEP_TWO_MODES,
                                             .recover_stream = "m", .label = "export", .ctx = ctx,
                                             .ctx_size = sizeof ctx, .check = check_export_trial,
                                             .check_arg = &x});
    cr_assert(x.saw_moved && x.saw_kept, "moved %zu times, kept %zu times", x.saw_moved, x.saw_kept);
    free(cold_tmpl);
    free(tmpl_cold);
    free(x.out);
}
