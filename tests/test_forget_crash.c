/*
 * forget_crash — siglog_forget under simulated power cuts (io_crash.h) at
 * EVERY I/O call it makes, its intent, audit records and every segment
 * rewrite included.
 *
 * What is proven (siglog.h, siglog_forget, "Never half"): after a cut at
 * call k and a recovery by a writer's open or by a maintenance handle's
 * (alternately),
 *   - every event of another key (or of none) reads back at its offset,
 *     byte-identical, and nothing else is read;
 *   - with no intent pending, the forgotten keys' events are all there
 *     (the forget had not begun to change anything) or none is (it was
 *     done): never some segments rewritten and others not;
 *   - with an intent pending, siglog_forget_finish leaves none of them,
 *     and the rest as above.
 * Also when a key has events in the active segment, which the forget
 * rolls first as the store's writer.
 * The fast suite cuts each call in one of the four modes in turn; with
 * SIGLOG_CRASH_ALL_MODES set (the slow suite) in all four.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_crash.h"
#include "support.h"

#define SEED 61
#define EVENTS 1000
#define SEGMENT_BYTES (64u * 1024)
#define FORGOTTEN 3
/* The active segment holds fewer events than this: a key only seen
 * before it is in sealed segments alone. */
#define SEALED_BELOW 600

static char *root, *tmpl;
static char ctx[256]; /* the failing trial, in every assertion */
static char keys[FORGOTTEN][32];
static uint64_t forgotten_events; /* events of the keys in the template */

static int is_forgotten(const char *key, size_t len)
{
    for (int k = 0; k < FORGOTTEN; k++)
        if (len == strlen(keys[k]) && memcmp(key, keys[k], len) == 0)
            return 1;
    return 0;
}

static void count_forgotten(void)
{
    forgotten_events = 0;
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        forgotten_events += t.ev.key_len && is_forgotten(t.key, t.ev.key_len);
    }
}

/* Keys of early events that no event from SEALED_BELOW on has, spread
 * over the log (so that several segments are rewritten). */
static void pick_keys(void)
{
    int picked = 0;
    for (uint64_t i = 1; i < SEALED_BELOW && picked < FORGOTTEN; i += 150) {
        for (uint64_t c = i; c < SEALED_BELOW; c++) {
            test_event t;
            test_event_make(&t, SEED, c);
            if (!t.ev.key_len)
                continue;
            int later = 0;
            for (uint64_t j = SEALED_BELOW; j < EVENTS && !later; j++) {
                test_event u;
                test_event_make(&u, SEED, j);
                later = u.ev.key_len == t.ev.key_len && memcmp(u.ev.key, t.ev.key, t.ev.key_len) == 0;
            }
            if (!later) {
                snprintf(keys[picked++], sizeof keys[0], "%s", t.key);
                break;
            }
        }
    }
    cr_assert_eq(picked, FORGOTTEN);
    count_forgotten();
}

/* The keys of the last keyed event (in the active segment) and of two
 * early ones: the forget rolls the active segment first. */
static void pick_keys_with_an_active_one(void)
{
    uint64_t i = EVENTS;
    test_event t;
    do
        test_event_make(&t, SEED, --i);
    while (!t.ev.key_len);
    cr_assert_geq(i, SEALED_BELOW);
    for (int k = 0; k < FORGOTTEN; k++)
        if (k == FORGOTTEN - 1 || (strlen(keys[k]) == t.ev.key_len && memcmp(keys[k], t.key, t.ev.key_len) == 0)) {
            snprintf(keys[k], sizeof keys[0], "%s", t.key);
            break;
        }
    count_forgotten();
}

static void make_template(void)
{
    root = test_tmpdir_fast("forget-crash");
    tmpl = test_path(root, "template");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    test_seeded_store(tmpl, &c, SEED, EVENTS);
    pick_keys();
}

static void drop_template(void)
{
    test_rmtree_fast(root);
    free(root);
    free(tmpl);
}

TestSuite(forget_crash, .init = make_template, .fini = drop_template);

static int rolls; /* the keys have events in the active segment */
static void fresh_cold_dir(void);
/* With exported archives: their directory, the template's copy each
 * trial starts from, and the events of the keys they hold there. */
static char *arch, *arch_tmpl;
static uint64_t arch_events;
static const char *arch_dirs[1];

static siglog_forget_options forget_options(void)
{
    arch_dirs[0] = arch;
    return (siglog_forget_options){.archive_dirs = arch ? arch_dirs : NULL, .archive_dir_count = arch != NULL};
}

/* The change of a trial: forget the keys through a maintenance handle. */
static void forget_change(void *arg, const char *store, test_crash *t)
{
    fresh_cold_dir(); /* before arming: not a call of the forget */
    if (arch) {
        test_rmtree_fast(arch);
        test_copy_tree(arch_tmpl, arch);
    }
    (void)arg;
    siglog_maintenance *m = test_maintenance_on(store, t->io);
    siglog_key k[FORGOTTEN];
    for (int i = 0; i < FORGOTTEN; i++)
        k[i] = (siglog_key){keys[i], strlen(keys[i])};
    test_crash_arm(t);
    siglog_forget_result res;
    siglog_forget_options o = forget_options();
    int rc = siglog_forget(m, "m", k, FORGOTTEN, &o, &res);
    if (!t->die) {
        cr_assert_eq(rc, 0, "reference run: %s", siglog_errdetail());
        cr_assert_eq(res.events_removed, forgotten_events + arch_events);
        cr_assert_eq(res.segments_rolled, (uint64_t)rolls, "active segments rolled");
        cr_assert_gt(res.segments_rewritten, 1, "the keys are in several segments");
    }
    siglog_maintenance_close(m);
}

typedef struct walk {
    uint64_t next;      /* the next offset that may be read */
    uint64_t forgotten; /* events of the keys read */
} walk;

/* r is the next event that is there: those skipped are the keys'. */
static void check_record(void *arg, const siglog_record *r)
{
    walk *w = arg;
    for (; w->next < r->offset; w->next++) {
        test_event t;
        test_event_make(&t, SEED, w->next);
        cr_assert(t.ev.key_len && is_forgotten(t.key, t.ev.key_len), "%s: offset %" PRIu64 " is missing", ctx,
                  w->next);
    }
    test_event t;
    test_event_make(&t, SEED, r->offset);
    test_assert_record_eq(r, &t.ev);
    w->forgotten += t.ev.key_len && is_forgotten(t.key, t.ev.key_len);
    w->next = r->offset + 1;
}

/* The events of the keys still read; every other one checked. */
static uint64_t forgotten_left(const char *store)
{
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    walk w = {0, 0};
    test_read_all(st, 0, check_record, &w);
    /* The last events may be the keys' (the active segment's). */
    for (; w.next < EVENTS; w.next++) {
        test_event t;
        test_event_make(&t, SEED, w.next);
        cr_assert(t.ev.key_len && is_forgotten(t.key, t.ev.key_len), "%s: the log ends at %" PRIu64, ctx, w.next);
    }
    siglog_close(s);
    return w.forgotten;
}

static int intent_pending(const char *store)
{
    char *path = test_path(store, "streams/m/forget.intent");
    struct stat sb;
    int pending = stat(path, &sb) == 0;
    free(path);
    return pending;
}

/* With a cold tier: its cold_dir, and the template's archives each trial
 * starts from (NULL: none). */
static char *cold, *cold_tmpl;

static void fresh_cold_dir(void)
{
    if (!cold)
        return;
    test_rmtree_fast(cold);
    test_copy_tree(cold_tmpl, cold);
}

static int count_cold(void *arg, const siglog_segment_info *seg)
{
    *(uint64_t *)arg += seg->tier == 2;
    return 0;
}

/* cold_dir holds the archives the catalog names and no other: an old
 * one left would hold forgotten events. */
static void check_cold_dir(const char *store)
{
    if (!cold)
        return;
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    uint64_t named = 0;
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_cold, &named), 0, "%s: %s", ctx, siglog_errdetail());
    siglog_close(s);
    size_t files = test_count_entries(cold);
    cr_assert_eq(files, named, "%s: cold_dir holds %zu files, the catalog names %" PRIu64, ctx, files, named);
}

/* The events of the keys in the archive directory, whose every archive
 * must read whole (old or new, never neither nor half): as many files as
 * the template's. leftovers: a rewrite's NAME.forget (or .tmp) may be
 * there (a cut one's); else none may. */
static uint64_t archive_forgotten(int leftovers)
{
    if (!arch)
        return 0;
    DIR *d = opendir(arch);
    cr_assert(d, "%s", ctx);
    uint64_t n = 0;
    size_t archives = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        if (strstr(de->d_name, ".sgar.forget")) {
            cr_assert(leftovers, "%s: %s left after the forget", ctx, de->d_name);
            continue;
        }
        char *path = test_path(arch, de->d_name);
        siglog_archive *a;
        cr_assert_eq(siglog_archive_open(&a, path), 0, "%s: %s", ctx, siglog_errdetail());
        const siglog_record *r;
        int rc;
        while ((rc = siglog_archive_next(a, &r)) == 1)
            n += r->key_len && is_forgotten((const char *)r->key, r->key_len);
        cr_assert_eq(rc, 0, "%s: %s", ctx, siglog_errdetail());
        siglog_archive_close(a);
        archives++;
        free(path);
    }
    closedir(d);
    cr_assert_eq(archives, test_count_entries(arch_tmpl), "%s: an archive is missing", ctx);
    return n;
}

/* The export holding events of the keys with the most segments, named
 * in the template (several segments): a forget's rewrite keeps one for
 * each that keeps an event (forget_archive.h), so the sweep cuts a
 * multi-segment rewrite, and after it that export still has more than
 * one. */
static char arch_multi[256];

static uint32_t segments_of(const char *name)
{
    char *path = test_path(arch, name);
    siglog_archive *a;
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s: %s", ctx, siglog_errdetail());
    uint32_t n = siglog_archive_info_get(a)->segment_count;
    siglog_archive_close(a);
    free(path);
    return n;
}

static void pick_multi_segment_export(void)
{
    DIR *d = opendir(arch);
    cr_assert(d);
    uint32_t most = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char *path = test_path(arch, de->d_name);
        siglog_archive *a;
        cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
        const siglog_record *r;
        int keyed = 0;
        while (!keyed && siglog_archive_next(a, &r) == 1)
            keyed = r->key_len && is_forgotten((const char *)r->key, r->key_len);
        siglog_archive_close(a);
        free(path);
        uint32_t n = keyed ? segments_of(de->d_name) : 0;
        if (n > most) {
            most = n;
            snprintf(arch_multi, sizeof arch_multi, "%s", de->d_name);
        }
    }
    closedir(d);
    cr_assert_geq(most, 3, "the export holding the keys with the most segments has %u", most);
}

/* What the trials saw. */
typedef struct forget_sweep {
    size_t saw_old, saw_pending, saw_done;
} forget_sweep;

static void check_trial(void *arg, const test_crash_point *pt)
{
    forget_sweep *f = arg;
    uint64_t left = forgotten_left(pt->store);
    uint64_t arch_left = archive_forgotten(1);
    if (intent_pending(pt->store)) {
        f->saw_pending++;
        siglog_maintenance *m;
        cr_assert_eq(siglog_maintenance_open(&m, pt->store, NULL), 0, "%s: %s", ctx, siglog_errdetail());
        siglog_forget_result res;
        siglog_forget_options o = forget_options();
        cr_assert_eq(siglog_forget_finish(m, &o, &res), 0, "%s: finishing: %s", ctx, siglog_errdetail());
        siglog_maintenance_close(m);
        cr_assert_eq(res.intents_finished, 1, "%s", ctx);
        cr_assert_eq(res.events_removed, left + arch_left, "%s", ctx);
        cr_assert_eq(forgotten_left(pt->store), 0, "%s: after finishing", ctx);
        cr_assert_eq(archive_forgotten(0), 0, "%s: the archives after finishing", ctx);
        if (arch)
            cr_assert_gt(segments_of(arch_multi), 1, "%s: %s was rewritten as one segment", ctx, arch_multi);
        cr_assert_not(intent_pending(pt->store), "%s", ctx);
        check_cold_dir(pt->store);
    } else {
        cr_assert(left == 0 || left == forgotten_events,
                  "%s: no intent, and %" PRIu64 " of the %" PRIu64 " events of the keys left", ctx, left,
                  forgotten_events);
        cr_assert_eq(arch_left, left ? arch_events : 0, "%s: no intent, the store %s, and %" PRIu64 " of the %"
                     PRIu64 " events of the keys in the archives", ctx, left ? "untouched" : "done", arch_left,
                     arch_events);
        if (left == 0 && arch) {
            archive_forgotten(0);
            cr_assert_gt(segments_of(arch_multi), 1, "%s: %s was rewritten as one segment", ctx, arch_multi);
        }
        f->saw_old += left == forgotten_events;
        f->saw_done += left == 0;
        if (left == 0)
            check_cold_dir(pt->store);
    }
}

static void crash_at_every_call(void)
{
    char *ref = test_path(root, "reference");
    snprintf(ctx, sizeof ctx, "reference");
    uint64_t calls = test_crash_trial(tmpl, ref, 0, 1, IO_CRASH_KEEP_ALL, forget_change, NULL);
    cr_assert_eq(forgotten_left(ref), 0);
    cr_assert_eq(archive_forgotten(0), 0);
    cr_assert_not(intent_pending(ref));
    check_cold_dir(ref);
    test_rmtree_fast(ref);
    free(ref);
    cr_assert_gt(calls, 4, "forget made %" PRIu64 " calls", calls);
    forget_sweep f = {0};
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = tmpl, .root = root, .change = forget_change, .calls = calls,
                                             .modes = TEST_SWEEP_ONE_MODE, .recover_stream = "m", .ctx = ctx,
                                             .ctx_size = sizeof ctx, .check = check_trial, .check_arg = &f});
    /* The crash points span the whole forget. */
    cr_assert(f.saw_old && f.saw_pending && f.saw_done, "untouched %zu, pending %zu, done %zu times", f.saw_old,
              f.saw_pending, f.saw_done);
}

Test(forget_crash, a_forget_is_whole_or_pending_at_every_call, .timeout = 900)
{
    crash_at_every_call();
}

/* The roll through the writer's protocol (forget_roll.h) comes first: a
 * cut in it or in the writer's open and close leaves every event there
 * and no intent. */
Test(forget_crash, a_forget_that_rolls_the_active_segment_is_whole_or_pending_at_every_call, .timeout = 900)
{
    pick_keys_with_an_active_one();
    rolls = 1;
    crash_at_every_call();
}

/* Over the cold tier (forget_cold.h): the template's older segments
 * moved into cold_dir by retention first, the keys' events all in cold
 * entries; cuts fall in cold_dir's calls too (new archive, rename,
 * directory sync, the old archive's unlink). Also proven: once done or
 * finished, cold_dir holds only the archives the catalog names. */
Test(forget_crash, a_forget_over_cold_entries_is_whole_or_pending_at_every_call, .timeout = 900)
{
    char *with_cold = test_path(root, "template-cold");
    cold = test_path(root, "cold");
    cold_tmpl = test_path(root, "cold-template");
    test_copy_tree(tmpl, with_cold);
    cr_assert_eq(mkdir(cold, 0755), 0);
    siglog_stream_config c;
    siglog *s = test_config_edit(with_cold, "m", &c);
    c.cold_after = 300000; /* events before TEST_T0 + 800 ms at TEST_RETAIN_NOW */
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    test_config_save(s, "m", &c);
    siglog_maintenance *m = test_maintenance_on(with_cold, NULL);
    cr_assert_eq(siglog_retain(m, TEST_RETAIN_NOW, NULL), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_gt(test_count_entries(cold), 1, "retention moved %zu segments cold", test_count_entries(cold));
    cr_assert_eq(rename(cold, cold_tmpl), 0);
    free(tmpl);
    tmpl = with_cold;
    crash_at_every_call();
    free(cold);
    free(cold_tmpl);
    cold = cold_tmpl = NULL;
}

/* Over archives exported with siglog_archive_export (forget_archive.h):
 * the template's sealed segments copied into an archive directory first,
 * so the keys' events are in the store and in the exports; cuts fall in
 * the archives' calls too (NAME.forget written, synced, read back,
 * renamed over NAME, the directory synced). Also proven: every archive
 * reads whole at every cut (old or new, never neither), and once done or
 * finished (given the directory again) none holds an event of the keys
 * and no NAME.forget is left. */
Test(forget_crash, a_forget_over_exported_archives_is_whole_or_pending_at_every_call, .timeout = 900)
{
    arch = test_path(root, "exports");
    arch_tmpl = test_path(root, "exports-template");
    cr_assert_eq(mkdir(arch, 0755), 0);
    siglog *s = test_store_open(tmpl, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    cr_assert_eq(siglog_close(s), 0);
    siglog_maintenance *m = test_maintenance_on(tmpl, NULL);
    for (uint32_t p = 0; p < c.partitions; p++)
        cr_assert_geq(siglog_archive_export(m, "m", p, INT64_MAX, arch, 0, NULL, 0), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_gt(test_count_entries(arch), 0);
    cr_assert_eq(rename(arch, arch_tmpl), 0);
    cr_assert_eq(mkdir(arch, 0755), 0);
    test_rmtree_fast(arch);
    test_copy_tree(arch_tmpl, arch);
    snprintf(ctx, sizeof ctx, "template");
    arch_events = archive_forgotten(0);
    cr_assert_gt(arch_events, 0, "the exports hold events of the keys");
    pick_multi_segment_export();
    crash_at_every_call();
    free(arch);
    free(arch_tmpl);
    arch = arch_tmpl = NULL;
}
