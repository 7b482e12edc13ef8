/*
 * min_free — a writer refuses appends with SIGLOG_ENOSPC, naming the
 * budget, before the free space of its store's filesystem falls below a
 * stream's min_free (space.c): on a small tmpfs (skipped where this
 * process may not mount one), appends stop while the filesystem still
 * has room, every acknowledged event reads back, and once the policy
 * allows a purge the writer runs it itself and appends go on; on any
 * filesystem, a budget of 99% refuses the first append and appends
 * nothing; a stream without min_free is never refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "support.h"

#define SEED 53
#define SEGMENT_BYTES (64u * 1024)
#define MiB (1ull << 20)
#define FS_BYTES (32 * MiB)
#define BUDGET (8 * MiB)
#define DAY_US (86400ull * 1000000)
/* Far more than FS_BYTES could hold: the loop ends by a refusal. */
#define EVENTS_MAX 2000000

static char *dir, *mnt, *store;

static void setup(void)
{
    dir = test_tmpdir("min_free");
    size_t len = strlen(dir) + 16;
    mnt = malloc(len);
    store = malloc(len + 8);
    snprintf(mnt, len, "%s/fs", dir);
    snprintf(store, len + 8, "%s/store", mnt);
    cr_assert_eq(mkdir(mnt, 0700), 0);
}

static void teardown(void)
{
    umount2(mnt, MNT_DETACH);
    test_rmtree(dir);
    free(dir);
    free(mnt);
    free(store);
}

TestSuite(min_free, .init = setup, .fini = teardown);

static siglog *open_writer(const char *path)
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 8 * MiB;
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, path, &o), 0, "%s", siglog_errdetail());
    return s;
}

/* min_free, and with `purge` a policy that purges all but the newest
 * 2 MiB and would move what stays to the warm tier. */
static void set_retention(siglog *s, siglog_stream *st, uint64_t min_free, int purge)
{
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.min_free = min_free;
    c.max_bytes = purge ? 2 * MiB : 0;
    c.warm_after = purge ? DAY_US : 0;
    cr_assert_eq(siglog_stream_config_set(s, "r", &c), 0, "%s", siglog_errdetail());
}

static uint64_t fs_avail(void)
{
    struct statvfs v;
    cr_assert_eq(statvfs(mnt, &v), 0);
    return (uint64_t)v.f_bavail * v.f_frsize;
}

static int append_one(siglog_stream *st, uint64_t i)
{
    test_event t;
    test_event_make(&t, SEED, i);
    return siglog_append(st, 0, &t.ev, 1, NULL, NULL);
}

typedef struct moves {
    int purges, others;
    uint64_t end;
} moves;

static int count_moves(void *ctx, const siglog_audit_record *e)
{
    moves *m = ctx;
    if (strcmp(e->action, "purge") == 0) {
        cr_assert_str_eq(e->cause, "policy");
        m->purges++;
        m->end = e->offset_end;
    } else if (strcmp(e->action, "config") != 0) {
        m->others++;
    }
    return 0;
}

Test(min_free, appends_stop_before_the_disk_is_full_and_resume_after_a_purge)
{
    char opts[32];
    snprintf(opts, sizeof opts, "size=%llu", (unsigned long long)FS_BYTES);
    if (mount("tmpfs", mnt, "tmpfs", 0, opts) != 0)
        cr_skip_test("cannot mount a tmpfs here (%s)", strerror(errno));
    siglog *s = open_writer(store);
    siglog_stream *st = test_stream_create(s, "r", 1, SIGLOG_SYNC_INTERVAL, SEGMENT_BYTES);
    set_retention(s, st, BUDGET, 0);
    uint64_t acked = 0;
    int rc;
    while ((rc = append_one(st, acked)) == 0 && acked < EVENTS_MAX)
        acked++;
    cr_assert_eq(rc, SIGLOG_ENOSPC, "appends ended by %s: %s", siglog_strerror(rc), siglog_errdetail());
    cr_assert(strstr(siglog_errdetail(), "min_free=8388608 keeps 8388608"), "%s", siglog_errdetail());
    cr_assert_gt(acked, 1000);
    /* Refused with room left: the store still syncs and reads. */
    cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
    cr_assert_gt(fs_avail(), BUDGET / 2);
    cr_assert_eq(test_check_seeded_records(st, SEED, 0, "read back"), acked);
    /* Once the policy allows a purge the writer runs it before it
     * refuses again (at most once a second: the next tries may still be
     * refused), and only the purge: the events are of 2023, but a warm
     * move would need room for new files. */
    set_retention(s, st, BUDGET, 1);
    for (int tries = 0; (rc = append_one(st, acked)) == SIGLOG_ENOSPC && tries < 600; tries++) {
        struct timespec t = {0, 100000000};
        nanosleep(&t, NULL);
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    /* The purge was the writer's own, audited as retention's. */
    moves m = {0};
    cr_assert_eq(siglog_audit_read(s, 1, count_moves, &m, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(m.purges, 1);
    cr_assert_gt(m.end, 0);
    cr_assert_eq(m.others, 0);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}

Test(min_free, a_budget_above_the_free_space_refuses_and_appends_nothing)
{
    siglog *s = open_writer(store);
    siglog_stream *st = test_stream_create(s, "r", 1, SIGLOG_SYNC_INTERVAL, SEGMENT_BYTES);
    struct statvfs v;
    cr_assert_eq(statvfs(mnt, &v), 0);
    if (v.f_bavail * 100 >= v.f_blocks * 99)
        cr_skip_test("the filesystem under the test directory is 99%% free");
    set_retention(s, st, SIGLOG_SPACE_PERCENT | 99, 0);
    cr_assert_eq(append_one(st, 0), SIGLOG_ENOSPC);
    cr_assert(strstr(siglog_errdetail(), "min_free=99% keeps"), "%s", siglog_errdetail());
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
    cr_assert_eq(info.next_offset, 0);
    /* Without a budget the same append goes through. */
    set_retention(s, st, 0, 0);
    cr_assert_eq(append_one(st, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}
