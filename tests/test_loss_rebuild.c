/*
 * loss_rebuild — a partition's catalog.ckpt lost after maintenance
 * renamed its segments (catalog_listing.c): a warm move, a merge (also
 * with its inputs still there, as a cut between its commit and their
 * unlink leaves them) and a forget each leave stems "<base>.r<G>". The
 * writer refuses the partition as it always did, and verify --repair
 * --accept-loss rebuilds the catalog from every stem found: no offset on
 * disk is declared lost (the audit trail holds no loss), every event
 * reads back byte-identical at its offset as before the loss, none
 * twice, and verify is clean. A partition with cold archives in cold_dir
 * is not rebuilt (the listing cannot name them): verify says so naming
 * them, and nothing changes. A power cut at every call of the rebuild
 * beside a merge's inputs, the rebuild run again: the same.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "io_crash.h"
#include "options_io.h"
#include "support.h"

#define SEED 71
#define EVENTS 1000
#define SEGMENT_BYTES (64u * 1024)

static char *root, *store, *pdir, *cold;

static void setup(void)
{
    root = test_tmpdir("loss-rebuild");
    store = test_path(root, "store");
    pdir = test_path(store, "streams/m/00000");
    cold = test_path(root, "cold");
}

static void teardown(void)
{
    test_rmtree(root);
    free(root);
    free(store);
    free(pdir);
    free(cold);
}

TestSuite(loss_rebuild, .init = setup, .fini = teardown, .timeout = 120);

/* The offsets read from the log start on, each record asserted to be
 * event (its offset) of SEED, byte for byte, offsets ascending. */
typedef struct replayed {
    uint64_t *at;
    size_t n;
} replayed;

static replayed replay(const char *ctx)
{
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s: %s", ctx, siglog_errdetail());
    replayed r = {malloc(EVENTS * sizeof *r.at), 0};
    const siglog_record *rec;
    int rc;
    while ((rc = siglog_cursor_next(cur, &rec)) == 1) {
        cr_assert_lt(r.n, EVENTS, "%s: more records than appended", ctx);
        cr_assert(r.n == 0 || rec->offset > r.at[r.n - 1], "%s: offset %" PRIu64 " after %" PRIu64, ctx,
                  rec->offset, r.at[r.n - 1]);
        test_event t;
        test_event_make(&t, SEED, rec->offset);
        test_assert_record_eq(rec, &t.ev);
        r.at[r.n++] = rec->offset;
    }
    cr_assert_eq(rc, 0, "%s: %s", ctx, siglog_errdetail());
    siglog_cursor_close(cur);
    siglog_close(s);
    return r;
}

/* Segment files in the partition directory whose stem is a rewrite's. */
static size_t rewritten_stems(void)
{
    DIR *d = opendir(pdir);
    cr_assert_not_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".r") != NULL && strstr(e->d_name, ".seg") != NULL;
    closedir(d);
    return n;
}

static void lose_catalog(void)
{
    char *ckpt = test_path(pdir, CATALOG_FILE);
    cr_assert_eq(unlink(ckpt), 0, "%s", ckpt);
    free(ckpt);
}

static int count_losses(void *ctx, const siglog_audit_record *r)
{
    if (strcmp(r->action, "loss") == 0)
        ++*(size_t *)ctx;
    return 0;
}

static size_t audited_losses(void)
{
    siglog *s = test_store_open(store, NULL);
    size_t n = 0;
    cr_assert_eq(siglog_audit_read(s, 1, count_losses, &n, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    return n;
}

/* The writer serves the stream but refuses the partition's appends. */
static void assert_refused(void)
{
    siglog *s = test_store_open(store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    test_event t;
    test_event_make(&t, SEED, EVENTS);
    int rc = siglog_append(st, 0, &t.ev, 1, NULL, NULL);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s: %s", siglog_errname(rc), siglog_errdetail());
    cr_assert_not_null(strstr(siglog_errdetail(), CATALOG_FILE " is missing"), "%s", siglog_errdetail());
    siglog_close(s);
}

typedef struct findings {
    char text[4096];
} findings;

static void on_problem(void *ctx, const char *file, uint64_t pos, const char *what)
{
    (void)pos;
    findings *f = ctx;
    size_t used = strlen(f->text);
    snprintf(f->text + used, sizeof f->text - used, "%s: %s\n", file, what);
}

/* Once accepted: nothing is lost, every event of `before` reads back as
 * it did, verify is clean. */
static void assert_whole(const replayed *before, const char *ctx)
{
    findings f = {{0}};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &f};
    cr_assert_eq(audited_losses(), 0, "%s: offsets declared lost", ctx);
    /* A writer's open removes what the rebuilt catalog does not name. */
    siglog_close(test_store_open(store, NULL));
    cr_assert_eq(siglog_verify(store, 0, &cb, NULL), 0, "%s: %s", ctx, f.text);
    replayed after = replay(ctx);
    cr_assert_eq(after.n, before->n, "%s: %zu events read back of %zu", ctx, after.n, before->n);
    cr_assert_arr_eq(after.at, before->at, before->n * sizeof *before->at, "%s", ctx);
    free(after.at);
}

static int accept_loss(void)
{
    return siglog_verify(store, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL);
}

/* Lose the catalog, see the partition refused, accept: whole. */
static void assert_rebuilt_whole(replayed before)
{
    lose_catalog();
    assert_refused();
    accept_loss();
    assert_whole(&before, "after the rebuild");
    free(before.at);
}

static void retain(void)
{
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    cr_assert_eq(siglog_retain(m, TEST_RETAIN_NOW, NULL), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
}

Test(loss_rebuild, after_a_warm_move_nothing_on_disk_is_declared_lost)
{
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    test_seeded_retention(&c);
    test_seeded_store(store, &c, SEED, EVENTS);
    retain();
    cr_assert_gt(rewritten_stems(), 0, "the warm move renamed no segment");
    replayed before = replay("before");
    cr_assert_gt(before.at[0], 0, "retention purged nothing");
    assert_rebuilt_whole(before);
}

/* Whether dst holds a rewrite's stem of the base name starts with. */
static int base_rewritten(const char *dst, const char *name)
{
    DIR *d = opendir(dst);
    cr_assert_not_null(d);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && !found)
        found = strncmp(e->d_name, name, 20) == 0 && strncmp(e->d_name + 20, ".r", 2) == 0;
    closedir(d);
    return found;
}

/* Copy the files of src missing in dst back into it, but for those of a
 * base a rewrite's stem holds now: the unlink of the merge's inputs cut
 * after its first input. */
static void put_back_missing(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *from = test_path(src, e->d_name), *to = test_path(dst, e->d_name);
        struct stat sb;
        if (stat(to, &sb) != 0 && !base_rewritten(dst, e->d_name)) {
            FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
            cr_assert(in && out, "%s", to);
            char buf[8192];
            size_t got;
            while ((got = fread(buf, 1, sizeof buf, in)) > 0)
                cr_assert_eq(fwrite(buf, 1, got, out), got);
            fclose(in);
            cr_assert_eq(fclose(out), 0);
        }
        free(from);
        free(to);
    }
    closedir(d);
}

/* Merge the seeded store's segments (64 KiB) into 256 KiB ones; with
 * keep_inputs the inputs but the first of each output are put back, as
 * a cut in the unlink after the merge's commit leaves them. */
static void merge(int keep_inputs)
{
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    test_seeded_store(store, &c, SEED, EVENTS);
    char *saved = test_path(root, "inputs");
    test_copy_tree(pdir, saved);
    siglog *s = test_store_open(store, NULL);
    c.segment_bytes_max = 4 * SEGMENT_BYTES;
    c.merge_below = 2 * SEGMENT_BYTES;
    cr_assert_eq(siglog_stream_config_set(s, "m", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    siglog_compact_result r = test_compact_all(store, "m", SIGLOG_COMPACT_MERGE, "merge");
    cr_assert_gt(r.segments_in, r.segments_out, "nothing merged");
    if (keep_inputs)
        put_back_missing(saved, pdir);
    free(saved);
}

Test(loss_rebuild, after_a_merge_nothing_on_disk_is_declared_lost)
{
    merge(0);
    assert_rebuilt_whole(replay("before"));
}

Test(loss_rebuild, a_merges_inputs_left_beside_its_output_make_no_event_appear_twice)
{
    merge(1);
    replayed before = replay("before");
    cr_assert_eq(before.n, EVENTS);
    assert_rebuilt_whole(before);
}

Test(loss_rebuild, after_a_forget_nothing_on_disk_is_declared_lost_and_nothing_forgotten_comes_back)
{
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    test_seeded_store(store, &c, SEED, EVENTS);
    test_event t;
    test_event_make(&t, SEED, 3);
    cr_assert_gt(t.ev.key_len, 0);
    siglog_key k = {t.ev.key, t.ev.key_len};
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    siglog_forget_result res;
    cr_assert_eq(siglog_forget(m, "m", &k, 1, NULL, &res), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_gt(rewritten_stems(), 0, "the forget rewrote no segment");
    replayed before = replay("before");
    cr_assert_lt(before.n, EVENTS, "nothing forgotten");
    for (size_t i = 0; i < before.n; i++)
        cr_assert_neq(before.at[i], 3);
    assert_rebuilt_whole(before);
}

static size_t files_in(const char *path)
{
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

Test(loss_rebuild, a_partition_with_cold_archives_is_not_rebuilt_without_them)
{
    test_seeded_cold_store(store, cold, SEED, EVENTS);
    retain();
    size_t archives = files_in(cold);
    cr_assert_gt(archives, 0, "nothing moved cold");
    lose_catalog();
    findings f = {{0}};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &f};
    cr_assert_eq(siglog_verify(store, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, &cb, NULL), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(f.text, "cold archive(s) of this partition exist in cold_dir"), "%s", f.text);
    cr_assert_not_null(strstr(f.text, ".sgar"), "%s", f.text);
    cr_assert_eq(audited_losses(), 0, "offsets declared lost: %s", f.text);
    cr_assert_eq(files_in(cold), archives);
    char *ckpt = test_path(pdir, CATALOG_FILE);
    struct stat sb;
    cr_assert_neq(stat(ckpt, &sb), 0, "a catalog was rebuilt without the cold entries");
    free(ckpt);
}

/* ---- the rebuild under power cuts ---- */

typedef struct sweep {
    replayed before;
} sweep;

static void accept_change(void *arg, const char *trial, test_crash *t)
{
    (void)arg;
    test_crash_arm(t);
    /* Its result is the re-check's: the merge's inputs left are strays
     * until a writer's open removes them. */
    sl_verify_io(t->io, trial, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL);
}

/* After a cut and a rerun of the accept where verify still finds the
 * catalog missing: whole. */
static void check_trial(void *arg, const test_crash_point *pt)
{
    sweep *sw = arg;
    char *own = store;
    store = (char *)pt->store;
    if (siglog_verify(store, 0, NULL, NULL) != 0)
        accept_loss();
    assert_whole(&sw->before, pt->ctx);
    store = own;
}

/* A power cut at every call of the rebuild of a partition whose merge
 * left its inputs beside its output (the catalog's and the floor file's
 * atomic replaces, the figures' reads between): after each, the rebuild
 * run again leaves every event once and nothing declared lost. */
Test(loss_rebuild, a_crash_at_every_call_of_the_rebuild_after_a_merge_loses_nothing, .timeout = 240)
{
    merge(1);
    sweep sw = {.before = replay("before")};
    lose_catalog();
    char *ref = test_path(root, "ref");
    uint64_t calls = test_crash_trial(store, ref, 0, 1, IO_CRASH_KEEP_ALL, accept_change, NULL);
    test_rmtree(ref);
    free(ref);
    cr_assert_geq(calls, 4, "only %" PRIu64 " calls", calls);
    char ctx[256];
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = store, .root = root, .change = accept_change,
                                             .calls = calls, .modes = TEST_SWEEP_ONE_MODE, .ctx = ctx,
                                             .ctx_size = sizeof ctx, .check = check_trial, .check_arg = &sw});
    free(sw.before.at);
}
