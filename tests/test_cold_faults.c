/*
 * cold_faults — a cold_dir that is read-only, and one that is full, on a
 * real file system: a small tmpfs this test mounts on the cold_dir (root
 * only: chmod does not stop root, a read-only mount does; skipped with a
 * message where mounting is impossible).
 * Each: siglog_retain fails naming cold_dir, nothing leaves the hot tier,
 * the store reads whole and verifies clean (no orphan left), and a rerun
 * once the fault is cleared (remounted read-write, space freed) moves the
 * segments cold.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

#define SEED 67
#define EVENTS 1000

static char *root, *store, *cold;
static int mounted;

static void setup(void)
{
    root = test_seeded_cold_root("cold-faults", SEED, EVENTS, &store, &cold);
}

static void teardown(void)
{
    if (mounted && umount(cold) != 0)
        cr_log_warn("umount %s: %s", cold, strerror(errno));
    test_rmtree(root);
    free(root);
    free(store);
    free(cold);
}

TestSuite(cold_faults, .init = setup, .fini = teardown);

/* A tmpfs of `size` on cold_dir, or the test skipped saying why. */
static void mount_cold(const char *size)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0755", size);
    if (mount("tmpfs", cold, "tmpfs", 0, opts) != 0)
        cr_skip_test("cannot mount a tmpfs on the cold_dir (%s): needs root and CAP_SYS_ADMIN", strerror(errno));
    mounted = 1;
}

typedef struct tiers {
    uint64_t n[3];
} tiers;

static int count_tier(void *arg, const siglog_segment_info *seg)
{
    tiers *t = arg;
    cr_assert_lt(seg->tier, 3u);
    t->n[seg->tier]++;
    return 0;
}

/* Every event reads back byte-identical from its tier, verify is clean;
 * the segments per tier. */
static tiers check_store(const char *ctx)
{
    uint64_t end;
    cr_assert_eq(test_check_seeded_log(store, SEED, &end, ctx), 0, "%s: the log start", ctx);
    cr_assert_eq(end, EVENTS, "%s", ctx);
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    tiers t = {{0}};
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_tier, &t), 0, "%s: %s", ctx, siglog_errdetail());
    siglog_close(s);
    cr_assert_eq(siglog_verify(store, 0, NULL, NULL), 0, "%s: verify: %s", ctx, siglog_errdetail());
    return t;
}

/* siglog_retain fails naming cold_dir; nothing moved. */
static void retain_fails(int want_code, const char *ctx)
{
    tiers before = check_store(ctx);
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    int rc = siglog_retain(m, TEST_RETAIN_NOW, NULL);
    cr_assert_eq(rc, want_code, "%s: %s: %s", ctx, siglog_strerror(rc), siglog_errdetail());
    cr_assert(strstr(siglog_errdetail(), "cold_dir") && strstr(siglog_errdetail(), cold), "%s: %s", ctx,
              siglog_errdetail());
    siglog_maintenance_close(m);
    tiers after = check_store(ctx);
    cr_assert_eq(after.n[2], 0, "%s: nothing went cold", ctx);
    cr_assert_eq(after.n[0], before.n[0], "%s: every segment stays hot", ctx);
}

/* The rerun once the fault is gone moves the old segments cold. */
static void rerun_completes(const char *ctx)
{
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    cr_assert_eq(siglog_retain(m, TEST_RETAIN_NOW, NULL), 0, "%s: %s", ctx, siglog_errdetail());
    siglog_maintenance_close(m);
    tiers t = check_store(ctx);
    cr_assert_gt(t.n[2], 1, "%s: the old segments are cold now", ctx);
}

Test(cold_faults, read_only_cold_dir_fails_naming_it_and_keeps_the_hot_tier)
{
    mount_cold("16m");
    cr_assert_eq(mount(NULL, cold, NULL, MS_REMOUNT | MS_RDONLY, "size=16m"), 0, "remount ro: %s", strerror(errno));
    retain_fails(SIGLOG_EPERM, "read-only cold_dir");
    cr_assert_eq(mount(NULL, cold, NULL, MS_REMOUNT, "size=16m"), 0, "remount rw: %s", strerror(errno));
    rerun_completes("remounted read-write");
}

Test(cold_faults, full_cold_dir_fails_naming_it_and_keeps_the_hot_tier)
{
    mount_cold("256k");
    /* Every block taken: the archive's first write finds no room. */
    char *filler = test_path(cold, "filler");
    FILE *f = fopen(filler, "w");
    cr_assert(f);
    static char block[4096];
    memset(block, 'x', sizeof block);
    while (fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0)
        ;
    fclose(f);
    retain_fails(SIGLOG_ENOSPC, "full cold_dir");
    cr_assert_eq(access(filler, F_OK), 0, "the filler is no business of siglog");
    cr_assert_eq(unlink(filler), 0);
    cr_assert_eq(mount(NULL, cold, NULL, MS_REMOUNT, "size=16m"), 0, "grow: %s", strerror(errno));
    rerun_completes("space freed");
    free(filler);
}

/* An archive gone from cold_dir while the catalog names it: a replay
 * fails naming the archive (not as segments changing under it), verify
 * names it too, and the hot tier still reads. */
Test(cold_faults, missing_archive_is_reported_naming_it)
{
    rerun_completes("moved cold");
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, "missing archive");
    char name[256];
    snprintf(name, sizeof name, "%016" PRIx64 ".m.00000.%020d-", siglog_store_id(s), 0);
    char *dir_path = test_path(cold, "");
    /* The first cold entry's archive: the only name starting so. */
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "rm %s%s*", dir_path, name) > 0);
    cr_assert_eq(system(cmd), 0);
    siglog_cursor *cur;
    const siglog_record *rec;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    int rc = siglog_cursor_next(cur, &rec);
    cr_assert_eq(rc, SIGLOG_ENOENT, "%s: %s", siglog_strerror(rc), siglog_errdetail());
    cr_assert(strstr(siglog_errdetail(), name) && strstr(siglog_errdetail(), cold), "%s", siglog_errdetail());
    siglog_cursor_close(cur);
    siglog_close(s);
    cr_assert_eq(siglog_verify(store, 0, NULL, NULL), SIGLOG_ECORRUPT);
    free(cmd);
    free(dir_path);
}
