/*
 * cold_restore — restore and merge beside the cold tier.
 * A restore compares an archive's overlap with the store record by
 * record: over cold entries it reads their archives in cold_dir (it
 * failed opening "<base>.cold.seg" before); what lies below the log start
 * is restored before the cold entries, and the next retention moves it
 * cold again. An export reads the cold entries from their archives too,
 * so its archive starts at the log start whatever the tiers (it stopped
 * at the first cold entry and exported nothing before), and restores
 * next to them or, moved out, brings back every event. A merge leaves
 * cold entries as they are and merges the small hot segments after them.
 * Every event reads back throughout and verify is clean.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "support.h"

#define SEED 71
#define EVENTS 1000

static char *root, *store, *cold, *exported;

static void setup(void)
{
    root = test_seeded_cold_root("cold-restore", SEED, EVENTS, &store, &cold);
    exported = test_path(root, "exported");
}

static void teardown(void)
{
    test_rmtree(root);
    free(root);
    free(store);
    free(cold);
    free(exported);
}

TestSuite(cold_restore, .init = setup, .fini = teardown);

typedef struct tiers {
    uint64_t n[3], cold_bytes, first_cold_bytes;
} tiers;

static int count_tier(void *arg, const siglog_segment_info *seg)
{
    tiers *t = arg;
    cr_assert_lt(seg->tier, 3u);
    if (seg->tier == 2 && t->n[2] == 0)
        t->first_cold_bytes = seg->bytes;
    t->n[seg->tier]++;
    t->cold_bytes += seg->tier == 2 ? seg->bytes : 0;
    return 0;
}

/* Every event from the log start (returned) reads back; verify clean. */
static uint64_t check_store(tiers *t, const char *ctx)
{
    uint64_t end;
    uint64_t start = test_check_seeded_log(store, SEED, &end, ctx);
    cr_assert_eq(end, EVENTS, "%s", ctx);
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    memset(t, 0, sizeof *t);
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_tier, t), 0, "%s: %s", ctx, siglog_errdetail());
    siglog_close(s);
    cr_assert_eq(siglog_verify(store, 0, NULL, NULL), 0, "%s: verify: %s", ctx, siglog_errdetail());
    return start;
}

static void retain_at(int64_t now)
{
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    cr_assert_eq(siglog_retain(m, now, NULL), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
}

static void set_config(uint64_t cold_max_bytes, uint64_t merge_below)
{
    siglog_stream_config c;
    siglog *s = test_config_edit(store, "m", &c);
    c.cold_max_bytes = cold_max_bytes;
    c.merge_below = merge_below;
    if (merge_below)
        c.segment_bytes_max = 1u << 20; /* room to merge full segments into */
    test_config_save(s, "m", &c);
}

Test(cold_restore, restore_compares_with_cold_entries_and_restores_below_them)
{
    /* Every sealed segment exported while hot. */
    char archive[4200];
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    cr_assert_eq(mkdir(exported, 0755), 0);
    cr_assert_eq(siglog_archive_export(m, "m", 0, INT64_MAX, exported, 0, archive, sizeof archive), 1, "%s",
                 siglog_errdetail());
    siglog_maintenance_close(m);
    retain_at(TEST_RETAIN_NOW);
    tiers t;
    check_store(&t, "moved cold");
    cr_assert_gt(t.n[2], 1, "several cold entries");
    /* All of it is in the store already, the older part cold. */
    siglog_restore_result res;
    m = test_maintenance_on(store, NULL);
    int rc = siglog_archive_restore(m, archive, &res);
    cr_assert_eq(rc, 0, "nothing to restore: %s: %s", siglog_strerror(rc), siglog_errdetail());
    siglog_maintenance_close(m);
    /* The oldest cold entry purged by cold_max_bytes: the restore puts it
     * back below the log start, before the cold entries left. */
    set_config(t.cold_bytes - 1, 0);
    retain_at(TEST_RETAIN_NOW);
    cr_assert_gt(check_store(&t, "oldest cold entry purged"), 0, "the log start moved");
    m = test_maintenance_on(store, NULL);
    rc = siglog_archive_restore(m, archive, &res);
    cr_assert_eq(rc, 1, "%s: %s", siglog_strerror(rc), siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(res.first_offset, 0);
    cr_assert_eq(check_store(&t, "restored below the cold tier"), 0, "every event from offset 0 again");
    cr_assert_eq(t.n[0] > 0 && t.n[2] > 0, 1);
}

Test(cold_restore, merge_leaves_cold_entries_and_merges_the_hot_ones_after_them)
{
    retain_at(TEST_RETAIN_NOW - 250000); /* events before 550 ms go cold */
    tiers before;
    check_store(&before, "moved cold");
    cr_assert_gt(before.n[2], 0, "hot %" PRIu64 " cold %" PRIu64, before.n[0], before.n[2]);
    cr_assert_gt(before.n[0], 2, "at least two sealed hot segments to merge, and the active one");
    set_config(0, 1u << 30);
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    siglog_compact_options o = {.mode = SIGLOG_COMPACT_MERGE};
    siglog_compact_result r;
    cr_assert_eq(siglog_compact(m, "m", &o, &r), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(r.segments_in, before.n[0] - 1, "every sealed hot segment, no cold one");
    cr_assert_eq(r.events_dropped, 0);
    tiers after;
    check_store(&after, "merged");
    cr_assert_eq(after.n[2], before.n[2], "the cold entries stay");
    cr_assert_eq(after.cold_bytes, before.cold_bytes);
    cr_assert_lt(after.n[0], before.n[0], "the hot ones merged");
}

/* How many files cold_dir holds. */
static unsigned cold_files(void)
{
    DIR *d = opendir(cold);
    cr_assert_not_null(d);
    unsigned n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Export every sealed entry of a store whose older ones are cold, with
 * flags; the archive's range and count are checked against the store's
 * sealed entries, then it is restored (returned: the restore's code). */
static int export_and_restore(unsigned flags, const tiers *before, siglog_restore_result *res)
{
    char archive[4200];
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    cr_assert_eq(mkdir(exported, 0755), 0);
    int rc = siglog_archive_export(m, "m", 0, INT64_MAX, exported, flags, archive, sizeof archive);
    cr_assert_eq(rc, 1, "an archive written: %d %s", rc, siglog_errdetail());
    siglog_maintenance_close(m);
    siglog_archive *a;
    cr_assert_eq(siglog_archive_open(&a, archive), 0, "%s", siglog_errdetail());
    const siglog_archive_info *ai = siglog_archive_info_get(a);
    cr_assert_eq(ai->first_offset, 0, "from the log start, cold entries included");
    cr_assert_eq(ai->segment_count, before->n[0] + before->n[2] - 1, "every sealed entry, hot and cold");
    uint64_t next = ai->next_offset;
    siglog_archive_close(a);
    if (flags & SIGLOG_ARCHIVE_MOVE) {
        uint64_t end;
        cr_assert_eq(test_check_seeded_log(store, SEED, &end, "moved out"), next, "the log starts past it");
        cr_assert_eq(cold_files(), 0, "the cold entries' archives left cold_dir with them");
        cr_assert_eq(siglog_verify(store, 0, NULL, NULL), 0, "verify: %s", siglog_errdetail());
    }
    m = test_maintenance_on(store, NULL);
    rc = siglog_archive_restore(m, archive, res);
    siglog_maintenance_close(m);
    cr_assert_geq(rc, 0, "%s: %s", siglog_strerror(rc), siglog_errdetail());
    return rc;
}

Test(cold_restore, export_reads_cold_entries_and_restores_beside_them)
{
    retain_at(TEST_RETAIN_NOW - 250000); /* events before 550 ms go cold */
    tiers before, after;
    check_store(&before, "moved cold");
    cr_assert_gt(before.n[2], 0, "cold entries first");
    cr_assert_gt(before.n[0], 1, "sealed hot ones after them");
    siglog_restore_result res;
    cr_assert_eq(export_and_restore(0, &before, &res), 0, "every event of it is in the store already");
    cr_assert_eq(check_store(&after, "restored in place"), 0);
    cr_assert_eq(after.n[2], before.n[2], "the cold entries stay");
    cr_assert_eq(cold_files(), before.n[2]);
}

Test(cold_restore, export_moving_cold_entries_out_restores_every_event)
{
    retain_at(TEST_RETAIN_NOW - 250000);
    tiers before, after;
    check_store(&before, "moved cold");
    cr_assert_gt(before.n[2], 0, "cold entries first");
    siglog_restore_result res;
    cr_assert_eq(export_and_restore(SIGLOG_ARCHIVE_MOVE, &before, &res), 1, "the archive comes back");
    cr_assert_eq(res.first_offset, 0);
    cr_assert_eq(check_store(&after, "restored after the move"), 0, "every event from offset 0 again");
    cr_assert_eq(after.n[2], 0, "back as hot segments");
}
