/*
 * quarantine — verify --repair --quarantine moves a segment with damage
 * that may not be cut aside, whole, and nothing else does.
 *
 * A cleanly closed store gets bit rot inside the bytes a segment's summary
 * vouches for. Repair without the flag moves nothing; with it the segment's
 * files go to quarantine/<path>.<seconds> byte for byte, the callback names
 * each move, and the partition's offsets are then missing: a reader's info
 * says unservable naming them, a writer refuses appends there (no offset
 * is handed out again), the other partition works. Under the power-loss
 * simulator, a cut at every call of the move leaves each file at exactly
 * one of its two names.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_crash.h"
#include "quarantine.h"
#include "siglog.h"
#include "support.h"

#define EVENTS 200

static char *dir, *pdir, *seg;

static void setup(void)
{
    dir = test_tmpdir("quarantine");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "v", 2, SIGLOG_SYNC_ALWAYS, 0);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, 3, i);
        cr_assert_eq(siglog_append(st, (uint32_t)(i % 2), &t.ev, 1, NULL, NULL), 0);
    }
    cr_assert_eq(siglog_close(s), 0);
    pdir = test_path(dir, "streams/v/00000");
    seg = test_path(pdir, "00000000000000000000.seg");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(seg);
    free(pdir);
    free(dir);
}

TestSuite(quarantine, .init = setup, .fini = teardown, .timeout = 120);

typedef struct moves {
    int count;
    char seg_to[4096];
} moves;

static void on_repaired(void *ctx, const char *file, const char *what)
{
    moves *m = ctx;
    const char *to = strstr(what, "moved aside to ");
    if (!to)
        return;
    m->count++;
    if (strcmp(file, seg) == 0)
        sscanf(to + strlen("moved aside to "), "%4095s", m->seg_to);
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len + 1);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

Test(quarantine, only_the_flag_moves_a_damaged_segment_and_its_offsets_are_then_missing)
{
    uint64_t size = test_file_size(seg);
    test_flip_byte(seg, size - 10, 0x10);
    size_t len;
    uint8_t *img = read_whole(seg, &len);
    char *qdir = test_path(dir, "quarantine");
    struct stat sb;

    moves m = {0};
    siglog_verify_callbacks cb = {.repaired = on_repaired, .ctx = &m};
    cr_assert_eq(siglog_verify(dir, 1, &cb, NULL), SIGLOG_ECORRUPT);
    cr_assert_eq(m.count, 0, "repair without the flag moved something");
    cr_assert_neq(stat(qdir, &sb), 0, "repair without the flag made quarantine/");
    size_t len2;
    uint8_t *same = read_whole(seg, &len2);
    cr_assert(len2 == len && memcmp(same, img, len) == 0, "repair changed the damaged segment");
    free(same);

    siglog_verify_stats vs;
    cr_assert_eq(siglog_verify(dir, 1 | SIGLOG_VERIFY_QUARANTINE, &cb, &vs), SIGLOG_ECORRUPT,
                 "its offsets are missing now: %s", siglog_errdetail());
    cr_assert_eq(m.count, 4, "the .seg, .sum, .oix and .tix moved: %d", m.count);
    cr_assert_neq(stat(seg, &sb), 0, "the segment is still in place");
    char *prefix = test_path(qdir, "streams/v/00000/00000000000000000000.seg.");
    cr_assert(strncmp(m.seg_to, prefix, strlen(prefix)) == 0, "moved to %s", m.seg_to);
    uint8_t *moved = read_whole(m.seg_to, &len2);
    cr_assert(len2 == len && memcmp(moved, img, len) == 0, "the quarantined segment is not the damaged one");
    free(moved);

    /* A reader: partition 0 is unservable and names the missing offsets;
     * partition 1 reads whole. */
    siglog *s = test_store_open_read_only(dir);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "v", &st), 0);
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(st, 0, &pi), SIGLOG_ECORRUPT);
    cr_assert_eq(pi.state, SIGLOG_PARTITION_UNSERVABLE);
    cr_assert(strstr(pi.detail, "missing"), "%s", pi.detail);
    cr_assert_eq(test_read_all(st, 1, NULL, NULL), EVENTS / 2);
    siglog_close(s);

    /* A writer hands no offset out again: appends to partition 0 are
     * refused, partition 1 takes them. */
    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "v", &st), 0);
    siglog_event e = {.value = "x", .value_len = 1};
    cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), SIGLOG_ECORRUPT);
    cr_assert_eq(siglog_append(st, 1, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_neq(stat(seg, &sb), 0, "a writer recreated the quarantined segment");

    free(prefix);
    free(qdir);
    free(img);
}

static void ignore_move(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    (void)from;
    (void)to;
}

/* How many of the segment's files exist at `from` and at `to`. */
static void count_files(const char *to_dir, int *at_from, int *at_to, int *total)
{
    static const char *const exts[] = {".seg", ".sum", ".oix", ".tix"};
    *at_from = *at_to = *total = 0;
    for (int i = 0; i < 4; i++) {
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/00000000000000000000%s", pdir, exts[i]);
        snprintf(to, sizeof to, "%s/00000000000000000000%s.1000", to_dir, exts[i]);
        struct stat a, b;
        int f = stat(from, &a) == 0, t = stat(to, &b) == 0;
        cr_assert(f + t <= 1, "%s is at both names", from);
        *at_from += f;
        *at_to += t;
        *total += f || t;
    }
}

Test(quarantine, a_power_cut_at_every_call_leaves_each_file_at_one_name, .timeout = 300)
{
    char *spare = test_tmpdir("quarantine-pristine");
    char *pristine = test_path(spare, "store");
    test_copy_tree(dir, pristine);
    char *to_dir = test_path(dir, "quarantine/streams/v/00000");
    int from0, to0, files;
    count_files(to_dir, &from0, &to0, &files);
    cr_assert_eq(files, 4, "the segment has %d of its 4 files", files);
    for (uint64_t n = 1;; n++) {
        test_rmtree(dir);
        test_copy_tree(pristine, dir);
        io_crash *c = io_crash_new(n);
        io_crash_die_after(c, n);
        int rc = sl_quarantine_segment(io_crash_io(c), dir, pdir, 0, 0700, 1000, ignore_move, NULL);
        int died = io_crash_dead(c);
        cr_assert_eq(io_crash_power_cut(c, IO_CRASH_DROP_ALL), 0);
        io_crash_free(c);
        int at_from, at_to, total;
        count_files(to_dir, &at_from, &at_to, &total);
        cr_assert_eq(total, 4, "cut at call %" PRIu64 ": a file is at neither name", n);
        /* The segment goes first: it never stays without its summary,
         * which vouches for its bytes (without it a writer could take
         * the damage for a torn tail and cut it). */
        char sum[4096];
        snprintf(sum, sizeof sum, "%s/00000000000000000000.sum", pdir);
        struct stat sb;
        cr_assert(stat(seg, &sb) != 0 || stat(sum, &sb) == 0, "cut at call %" PRIu64 ": the segment lost its summary",
                  n);
        if (!died) {
            cr_assert_eq(rc, 0, "%s", siglog_errdetail());
            cr_assert_eq(at_to, 4, "a finished move is durable");
            cr_assert_gt(n, 8, "the move made %" PRIu64 " calls", n);
            break;
        }
    }
    test_rmtree(spare);
    free(to_dir);
    free(pristine);
    free(spare);
}
