/*
 * cold_orphans — archives in cold_dir that no catalog entry names
 * (engine/cold_orphans.c, FORMAT.md §4 "Cold tier"): what a power cut
 * between a cold move's rename and its catalog commit, or a purge's
 * commit and its unlink, or during a move's write, leaves behind.
 * verify lists each naming the file; retention and verify --repair
 * remove those of this store only: another store's archive (its id in
 * the name) and any other file in a shared cold_dir stay.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

#define SEED 61
#define EVENTS 1000

static char *root, *store, *cold;

static void setup(void)
{
    root = test_seeded_cold_root("cold-orphans", SEED, EVENTS, &store, &cold);
}

static void teardown(void)
{
    test_rmtree(root);
    free(root);
    free(store);
    free(cold);
}

TestSuite(cold_orphans, .init = setup, .fini = teardown);

static siglog_retain_partition last;

static void on_partition(void *ctx, const siglog_retain_partition *p)
{
    (void)ctx;
    last = *p;
}

static siglog_retain_partition retain(int dry_run)
{
    memset(&last, 0, sizeof last);
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    siglog_retain_options o = {.dry_run = dry_run, .partition_done = on_partition};
    cr_assert_eq(siglog_retain(m, TEST_RETAIN_NOW, &o), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    return last;
}

static int exists(const char *name)
{
    char *p = test_path(cold, name);
    int r = access(p, F_OK) == 0;
    free(p);
    return r;
}

static void plant(const char *name)
{
    char *p = test_path(cold, name);
    FILE *f = fopen(p, "w");
    cr_assert(f, "%s", p);
    fputs("not an archive", f);
    cr_assert_eq(fclose(f), 0);
    free(p);
}

typedef struct seen {
    int n;
    char files[8][4096];
    char what[512];
} seen;

static void on_problem(void *ctx, const char *file, uint64_t pos, const char *what)
{
    (void)pos;
    seen *s = ctx;
    if (s->n < 8)
        snprintf(s->files[s->n], sizeof s->files[0], "%s", file);
    snprintf(s->what, sizeof s->what, "%s", what);
    s->n++;
}

static int saw(const seen *s, const char *name)
{
    char *p = test_path(cold, name);
    int r = 0;
    for (int i = 0; i < s->n && i < 8; i++)
        r |= strcmp(s->files[i], p) == 0;
    free(p);
    return r;
}

typedef struct segs {
    size_t n;
    siglog_segment_info e[64];
} segs;

static int collect(void *ctx, const siglog_segment_info *seg)
{
    segs *s = ctx;
    cr_assert_lt(s->n, 64u);
    s->e[s->n] = *seg;
    s->e[s->n].location = NULL;
    s->e[s->n].schema_versions = NULL;
    s->n++;
    return 0;
}

/* The store after one run: its cold entries and the names orphans of it
 * would have (the first hot sealed entry's range: a move cut after its
 * rename; a temporary; a range already purged), beside another store's
 * archive and a stranger. */
typedef struct planted {
    char cut_move[256], tmp[300], purged[256], other_store[256], stranger[256], real[256];
} planted;

static planted make_orphans(void)
{
    siglog_retain_partition r = retain(0);
    cr_assert_gt(r.cold_segments, 0);
    cr_assert_eq(r.cold_orphans, 0, "a clean run leaves none");
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, "orphans");
    uint64_t id = siglog_store_id(s);
    static segs all;
    memset(&all, 0, sizeof all);
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, collect, &all), 0, "%s", siglog_errdetail());
    siglog_segment_info first = all.e[0], hot = {0};
    for (size_t i = 0; i < all.n && !hot.end_offset; i++)
        if (all.e[i].tier == 0)
            hot = all.e[i];
    cr_assert_gt(hot.end_offset, 0, "a sealed hot entry after the cold ones");
    siglog_close(s);
    planted p;
    snprintf(p.real, sizeof p.real, "%016" PRIx64 ".m.00000.%020" PRIu64 "-%020" PRIu64 ".sgar", id,
             first.base_offset, first.end_offset);
    cr_assert(exists(p.real), "%s", p.real);
    snprintf(p.cut_move, sizeof p.cut_move, "%016" PRIx64 ".m.00000.%020" PRIu64 "-%020" PRIu64 ".sgar", id,
             hot.base_offset, hot.end_offset);
    snprintf(p.tmp, sizeof p.tmp, "%s.tmp", p.cut_move);
    /* A range no entry has, as a purged one no longer has. */
    snprintf(p.purged, sizeof p.purged, "%016" PRIx64 ".m.00000.%020" PRIu64 "-%020" PRIu64 ".sgar", id,
             first.base_offset, first.base_offset + 1);
    snprintf(p.other_store, sizeof p.other_store, "%016" PRIx64 ".m.00000.%020" PRIu64 "-%020" PRIu64 ".sgar",
             id ^ 1, hot.base_offset, hot.end_offset);
    snprintf(p.stranger, sizeof p.stranger, "notes.txt");
    plant(p.cut_move);
    plant(p.tmp);
    plant(p.purged);
    plant(p.other_store);
    plant(p.stranger);
    return p;
}

static void assert_only_strangers_left(const planted *p)
{
    cr_assert(!exists(p->cut_move) && !exists(p->tmp) && !exists(p->purged), "this store's orphans are gone");
    cr_assert(exists(p->other_store), "another store's archive stays");
    cr_assert(exists(p->stranger), "a file of another name stays");
    cr_assert(exists(p->real), "the cold entries' archives stay");
    uint64_t end;
    test_check_seeded_log(store, SEED, &end, "after the orphans went");
    cr_assert_eq(end, EVENTS);
    seen v = {0};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &v};
    cr_assert_eq(siglog_verify(store, 0, &cb, NULL), 0, "%d problems: %s", v.n, v.what);
}

Test(cold_orphans, verify_lists_them_and_retention_removes_this_stores_only)
{
    planted p = make_orphans();
    seen v = {0};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &v};
    cr_assert_eq(siglog_verify(store, 0, &cb, NULL), SIGLOG_ECORRUPT);
    cr_assert_eq(v.n, 3, "one problem per orphan: %s", v.what);
    cr_assert(saw(&v, p.cut_move) && saw(&v, p.tmp) && saw(&v, p.purged), "each named");
    cr_assert(strstr(v.what, "orphan archive") && strstr(v.what, "no data is missing"), "%s", v.what);
    /* A dry run finds them and removes nothing. */
    cr_assert_eq(retain(1).cold_orphans, 3);
    cr_assert(exists(p.cut_move) && exists(p.tmp) && exists(p.purged));
    cr_assert_eq(retain(0).cold_orphans, 3);
    assert_only_strangers_left(&p);
}

Test(cold_orphans, verify_repair_removes_this_stores_only)
{
    planted p = make_orphans();
    seen v = {0};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &v};
    siglog_verify_stats vs;
    cr_assert_eq(siglog_verify(store, 1, &cb, &vs), 0, "%s", siglog_errdetail());
    cr_assert_eq(vs.problems, 3);
    cr_assert_eq(vs.repairs, 3);
    assert_only_strangers_left(&p);
}

Test(cold_orphans, repair_leaves_them_while_another_holds_the_maintenance_role)
{
    planted p = make_orphans();
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    int rc = siglog_verify(store, 1, NULL, NULL);
    cr_assert_eq(rc, SIGLOG_ELOCKED, "%s", siglog_errdetail());
    cr_assert(strstr(siglog_errdetail(), "maintenance role"), "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert(exists(p.cut_move) && exists(p.tmp) && exists(p.purged), "nothing removed without the role");
}
