/*
 * schema_usage — per-partition schema-version metadata (first/last offset,
 * earliest/latest time, count, nonconforming per version and path), and
 * the schema versions the catalog records per segment:
 *   - exact against a full read of the log after appends (across segment
 *     rolls), after a clean reopen, from a read-only handle beside the
 *     writer, after a crash (a copy of a live store), and when the file is
 *     missing or damaged (rebuilt from the log, never trusted), after
 *     a prefix removal, an accepted loss, a merge, a key compaction and a
 *     forget;
 *   - warn-mode counts per version and path survive a reopen;
 *   - each sealed segment's catalog entry names exactly the versions its
 *     records carry;
 *   - the file codec refuses what it must (the fuzz target
 *     parse_schema_usage walks the rest).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "error.h"
#include "io.h"
#include "schema_usage.h"
#include "siglog.h"
#include "support.h"
#include "options_io.h"

#define SEG_BYTES (64u << 10)

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("schema_usage");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(schema_usage, .init = setup, .fini = teardown);

static siglog_stream *make_stream(siglog *s, const char *name, uint32_t contract)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 2;
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    c.segment_bytes_max = SEG_BYTES;
    c.compression = SIGLOG_COMPRESSION_NONE; /* so the values roll segments */
    c.contract = contract;
    cr_assert_eq(siglog_stream_create(s, name, &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, name, &st), 0);
    return st;
}

/* n events to partition p: versions in runs of 100 (1, 2, 3, 1, ...),
 * timestamps going back and forth, 400-byte values. */
static void append_runs(siglog_stream *st, uint32_t p, uint32_t n, uint32_t from)
{
    char value[400];
    for (uint32_t i = from; i < from + n; i++) {
        memset(value, 'a' + (int)(i % 26), sizeof value);
        siglog_event e = { .value = value,
                           .value_len = sizeof value,
                           .timestamp_us = 1000000 + (int64_t)((i * 7919u) % 5000u),
                           .schema_version = 1 + (i / 100) % 3 };
        cr_assert_eq(siglog_append(st, p, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
}

static void check_both(siglog_stream *st, const char *ctx)
{
    test_check_schema_usage(st, 0, ctx);
    test_check_schema_usage(st, 1, ctx);
}

static char *partition_dir(const char *store, const char *stream, uint32_t p)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/streams/%s/%05u", store, stream, p);
    return strdup(buf);
}

static siglog *open_store(const char *path, int read_only)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, path, &o), 0, "%s", siglog_errdetail());
    return s;
}

/* Open path (read-only or as the writer), check stream "ev" whole, close. */
static void open_and_check(const char *path, int read_only, const char *ctx)
{
    siglog *s = open_store(path, read_only);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    check_both(st, ctx);
    cr_assert_eq(siglog_close(s), 0, "%s: %s", ctx, siglog_errdetail());
}

/* A writer's store at path with stream "ev": 700 events in partition 0
 * (several segments), 130 in partition 1. */
static siglog_stream *store_with_runs(const char *path, siglog **s)
{
    *s = test_store_open(path, NULL);
    siglog_stream *st = make_stream(*s, "ev", SIGLOG_CONTRACT_OFF);
    append_runs(st, 0, 700, 0);
    append_runs(st, 1, 130, 0);
    return st;
}

Test(schema_usage, exact_after_appends_rolls_reopen_and_beside_the_writer)
{
    char *path = test_path(dir, "store");
    siglog *s;
    siglog_stream *st = store_with_runs(path, &s);
    check_both(st, "writer, after appends");
    /* A read-only handle beside the writer: the file of the last roll and
     * the log read back past it. */
    open_and_check(path, 1, "read-only beside the writer");
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());

    char *p0 = partition_dir(path, "ev", 0);
    char *file = test_path(p0, SCHEMA_USAGE_FILE);
    cr_assert(access(file, F_OK) == 0, "a clean close leaves %s", file);
    s = open_store(path, 0);
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    check_both(st, "after a clean reopen");
    append_runs(st, 0, 150, 700);
    check_both(st, "appending after the reopen");
    siglog_close(s);
    free(file);
    free(p0);
    free(path);
}

/* A retention purge (a prefix removal by maintenance) beside the writer
 * takes counted events out of the log: the figures are exact again at
 * once through the writer's handle and a reader's, and after a reopen. */
Test(schema_usage, exact_after_a_prefix_removal)
{
    char *path = test_path(dir, "store");
    siglog *s;
    siglog_stream *st = store_with_runs(path, &s);
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.max_bytes = 2 * SEG_BYTES;
    cr_assert_eq(siglog_stream_config_set(s, "ev", &c), 0, "%s", siglog_errdetail());

    siglog_maintenance *m = NULL;
    cr_assert_eq(siglog_maintenance_open(&m, path, NULL), 0, "%s", siglog_errdetail());
    siglog_retain_options o = { 0 };
    cr_assert_eq(siglog_retain(m, 0, &o), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    siglog *ro = open_store(path, 1);
    siglog_stream *rst;
    cr_assert_eq(siglog_stream_get(ro, "ev", &rst), 0);
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(rst, 0, &pi), 0, "%s", siglog_errdetail());
    cr_assert_gt(pi.log_start_offset, 100, "the purge took out at least the first run");
    check_both(rst, "read-only, after the purge");
    cr_assert_eq(siglog_close(ro), 0);

    check_both(st, "writer, after a purge beside it");
    append_runs(st, 0, 150, 700);
    check_both(st, "writer, appending after the purge");
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    open_and_check(path, 0, "after a reopen");
    /* The writer's open recounted, so its file no longer predates the
     * purge (readers need not recount each time). */
    char *p0 = partition_dir(path, "ev", 0);
    schema_usage u;
    int found;
    cr_assert_eq(sl_schema_usage_load(sl_io_posix(), p0, &u, &found), 0, "%s", siglog_errdetail());
    uint64_t start = pi.log_start_offset;
    cr_assert(found && !sl_schema_usage_stale(&u, start, start, start), "%s still counts purged events", p0);
    sl_schema_usage_free(&u);
    open_and_check(path, 1, "read-only after the reopen");
    free(p0);
    free(path);
}

Test(schema_usage, rebuilt_after_a_crash_and_when_missing_or_damaged)
{
    char *path = test_path(dir, "store");
    siglog *s = test_store_open(path, NULL);
    siglog_stream *st = make_stream(s, "ev", SIGLOG_CONTRACT_OFF);
    append_runs(st, 0, 650, 0);
    append_runs(st, 1, 50, 0);
    /* The writer still open: the copy is what a crash leaves (every event
     * acknowledged and durable; the file as of the last roll). */
    char *crashed = test_path(dir, "crashed");
    test_copy_tree(path, crashed);
    siglog_close(s);

    open_and_check(crashed, 0, "after a crash");

    /* Missing, then damaged: rebuilt from the log, and written whole again
     * at the close. */
    char *p0 = partition_dir(path, "ev", 0);
    char *file = test_path(p0, SCHEMA_USAGE_FILE);
    cr_assert_eq(unlink(file), 0);
    open_and_check(path, 1, "read-only, file missing");
    open_and_check(path, 0, "writer, file missing");
    test_flip_byte(file, 30, 0x40);
    open_and_check(path, 1, "read-only, file damaged");
    open_and_check(path, 0, "writer, file damaged");
    schema_usage u;
    int found;
    cr_assert_eq(sl_schema_usage_load(sl_io_posix(), p0, &u, &found), 0, "%s", siglog_errdetail());
    cr_assert(found);
    cr_assert_eq(u.count, 3);
    cr_assert_eq(u.covered, 650);
    sl_schema_usage_free(&u);
    free(file);
    free(p0);
    free(crashed);
    free(path);
}

#define V1 "{\"type\":\"object\",\"properties\":{\"user\":{\"type\":\"string\"},\"n\":{\"type\":\"integer\"}}}"

static int count_nonconforming(void *ctx, const siglog_schema_usage *u)
{
    *(uint64_t *)ctx += u->nonconforming;
    return 0;
}

Test(schema_usage, warn_counts_per_version_and_path_survive_a_reopen)
{
    char *path = test_path(dir, "store");
    siglog *s = test_store_open(path, NULL);
    siglog_stream *st = make_stream(s, "ev", SIGLOG_CONTRACT_WARN);
    cr_assert_eq(siglog_schema_add(st, 1, "v1", V1, strlen(V1), SIGLOG_COMPAT_NONE, NULL, NULL), 0);
    const char *values[] = { "{\"user\":\"u\"}", "{\"n\":\"x\"}", "{\"user\":5,\"n\":1.5}", "{\"user\":\"v\"}" };
    for (uint32_t p = 0; p < 2; p++)
        for (size_t i = 0; i < 4; i++) {
            siglog_event e = { .value = values[i], .value_len = strlen(values[i]), .schema_version = 1 };
            cr_assert_eq(siglog_append(st, p, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        }
    test_check_violations(st, 1, 4, "$.n=4 $.user=2");
    uint64_t in_p1 = 0;
    cr_assert_eq(siglog_schema_usage_foreach(st, 1, count_nonconforming, &in_p1), 0);
    cr_assert_eq(in_p1, 2);
    siglog_close(s);
    s = open_store(path, 1);
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    test_check_violations(st, 1, 4, "$.n=4 $.user=2");
    siglog_close(s);
    s = open_store(path, 0);
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    test_check_violations(st, 1, 4, "$.n=4 $.user=2");
    siglog_close(s);
    free(path);
}

/* The versions partition p's records carry, segment by segment, against
 * what the catalog records for each sealed segment. */
typedef struct seg_truth {
    const catalog_snapshot *cs;
    uint32_t want[256][8];
    uint16_t n[256];
} seg_truth;

static void note_version(void *ctx, const siglog_record *r)
{
    seg_truth *t = ctx;
    size_t i = sl_catalog_snapshot_find(t->cs, r->offset);
    cr_assert_lt(i, 256);
    for (uint16_t k = 0; k < t->n[i]; k++)
        if (t->want[i][k] == r->schema_version)
            return;
    uint16_t k = t->n[i]++;
    while (k && t->want[i][k - 1] > r->schema_version) {
        t->want[i][k] = t->want[i][k - 1];
        k--;
    }
    t->want[i][k] = r->schema_version;
}

Test(schema_usage, the_catalog_records_each_sealed_segments_versions)
{
    char *path = test_path(dir, "store");
    siglog *s = test_store_open(path, NULL);
    siglog_stream *st = make_stream(s, "ev", SIGLOG_CONTRACT_OFF);
    append_runs(st, 0, 900, 0);
    char *p0 = partition_dir(path, "ev", 0);
    catalog_snapshot *cs;
    cr_assert_eq(sl_catalog_snapshot_load(sl_io_posix(), p0, &cs), 0, "%s", siglog_errdetail());
    size_t n = sl_catalog_snapshot_count(cs);
    cr_assert_geq(n, 4, "the appends rolled segments (%zu)", n);
    static seg_truth t;
    memset(&t, 0, sizeof t);
    t.cs = cs;
    test_read_all(st, 0, note_version, &t);
    int some_differ = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(cs, i);
        cr_assert_eq(e->state, CATALOG_SEG_SEALED);
        cr_assert_eq(e->schema_count, t.n[i], "segment %zu: %u versions recorded, %u held", i, e->schema_count,
                     t.n[i]);
        cr_assert_eq(memcmp(e->schema_versions, t.want[i], t.n[i] * sizeof(uint32_t)), 0, "segment %zu", i);
        some_differ |= t.n[i] != 3;
    }
    cr_assert(some_differ, "the test needs segments without some version");
    sl_catalog_snapshot_release(cs);
    siglog_close(s);
    free(p0);
    free(path);
}

static void codec_refuses(schema_usage *u, void (*spoil)(uint8_t *buf, size_t len), const char *what)
{
    uint8_t *buf;
    size_t len;
    cr_assert_eq(sl_schema_usage_encode(u, &buf, &len), 0);
    spoil(buf, len);
    schema_usage back;
    cr_assert_eq(sl_schema_usage_decode(buf, len, &back), SIGLOG_ECORRUPT, "%s accepted", what);
    cr_assert(siglog_errdetail()[0], "%s: no detail", what);
    free(buf);
}

static void flip_body(uint8_t *buf, size_t len)
{
    (void)len;
    buf[40] ^= 1;
}

Test(schema_usage, codec_round_trips_and_refuses_damage)
{
    schema_usage u;
    sl_schema_usage_init(&u, 0);
    cr_assert_eq(sl_schema_usage_add(&u, 2, 0, 50), 0);
    cr_assert_eq(sl_schema_usage_add(&u, 1, 1, 40), 0);
    cr_assert_eq(sl_schema_usage_add(&u, 2, 4, 60), 0);
    const char *paths[] = { "$.a", "$.b", "$.a" };
    cr_assert_eq(sl_schema_usage_nonconforming(&u, 2, paths, 3), 0);
    cr_assert_eq(u.covered, 5);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(sl_schema_usage_encode(&u, &buf, &len), 0);
    schema_usage back;
    cr_assert_eq(sl_schema_usage_decode(buf, len, &back), 0, "%s", siglog_errdetail());
    cr_assert_eq(back.count, 2);
    cr_assert_eq(back.v[1].version, 2);
    cr_assert_eq(back.v[1].first_offset, 0);
    cr_assert_eq(back.v[1].last_offset, 4);
    cr_assert_eq(back.v[1].count, 2);
    cr_assert_eq(back.v[1].nonconforming, 1);
    cr_assert_eq(back.v[1].path_count, 2, "a path an event breaks twice counts once");
    cr_assert_eq(back.v[1].paths[0].count, 1);
    cr_assert_eq(back.v[0].min_timestamp_us, 40);
    sl_schema_usage_free(&back);
    cr_assert_eq(sl_schema_usage_decode(buf, len - 1, &back), SIGLOG_ECORRUPT, "a truncated file");
    free(buf);
    codec_refuses(&u, flip_body, "a changed byte");
    sl_schema_usage_free(&u);
}

/* ---- replay of one version: segments without it are not read ---- */

/* POSIX I/O that counts what is read from .seg files and which it opens. */
static siglog_io counting_io;
static uint64_t seg_bytes_read, seg_opens;
static int seg_fds[1024];

static int ends_with_seg(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcmp(path + n - 4, ".seg") == 0;
}

static int counting_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    (void)io;
    int fd = sl_io_posix()->open_file(sl_io_posix(), path, flags, mode);
    if (fd >= 0 && fd < 1024) {
        seg_fds[fd] = ends_with_seg(path);
        seg_opens += (uint64_t)seg_fds[fd];
    }
    return fd;
}

static ssize_t counting_pread(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    (void)io;
    ssize_t n = sl_io_posix()->pread(sl_io_posix(), fd, buf, len, off);
    if (n > 0 && fd >= 0 && fd < 1024 && seg_fds[fd])
        seg_bytes_read += (uint64_t)n;
    return n;
}

/* Read partition 0 of "ev" through a fresh read-only handle on the
 * counting I/O, filtered to version (0: no filter): the records handed
 * out, their first offset and how many of them carry `version`. */
static uint64_t replay_counted(const char *path, int filter, uint32_t version, uint64_t *first, uint64_t *matching)
{
    counting_io = *sl_io_posix();
    counting_io.open_file = counting_open;
    counting_io.pread = counting_pread;
    memset(seg_fds, 0, sizeof seg_fds);
    seg_bytes_read = seg_opens = 0;
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    sl_options_set_io(&o, &counting_io);
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, path, &o), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    if (filter)
        cr_assert_eq(siglog_cursor_filter_schema(c, version), 0);
    const siglog_record *r;
    uint64_t n = 0;
    *matching = 0;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        if (n++ == 0)
            *first = r->offset;
        *matching += r->schema_version == version;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    siglog_cursor_close(c);
    siglog_close(s);
    return n;
}

Test(schema_usage, replay_of_one_version_skips_segments_without_it)
{
    char *path = test_path(dir, "store");
    siglog *s = test_store_open(path, NULL);
    siglog_stream *st = make_stream(s, "ev", SIGLOG_CONTRACT_OFF);
    /* 300 events of v1, 300 of v2, 300 of v1 (400-byte values, 64 KiB
     * segments: several segments each). */
    char value[400];
    memset(value, 'x', sizeof value);
    for (uint32_t i = 0; i < 900; i++) {
        siglog_event e = { .value = value, .value_len = sizeof value, .schema_version = i / 300 == 1 ? 2 : 1 };
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
    uint64_t first = 0, matching = 0;
    uint64_t all = replay_counted(path, 0, 2, &first, &matching);
    uint64_t full_bytes = seg_bytes_read, full_opens = seg_opens;
    cr_assert_eq(all, 900);
    cr_assert_eq(matching, 300);
    uint64_t got = replay_counted(path, 1, 2, &first, &matching);
    cr_assert_eq(got, 300, "exactly the events of version 2");
    cr_assert_eq(matching, 300);
    cr_assert_eq(first, 300);
    cr_assert_lt(seg_opens, full_opens, "segments opened: %llu filtered, %llu in all", (unsigned long long)seg_opens,
                 (unsigned long long)full_opens);
    cr_assert_lt(seg_bytes_read * 10, full_bytes * 6, "bytes read: %llu filtered, %llu in all",
                 (unsigned long long)seg_bytes_read, (unsigned long long)full_bytes);
    /* Version 1 is in every segment but those of the middle run. */
    got = replay_counted(path, 1, 1, &first, &matching);
    cr_assert_eq(got, 600);
    cr_assert_eq(matching, 600);
    cr_assert_eq(first, 0);
    free(path);
}

/* n events to partition p, keyed by one of 40 keys in turn but for one
 * in 11 (which key compaction always keeps), as append_runs otherwise. */
/* Whether a reader of partition 0 of "ev" is told of a recorded loss. */
static int loss_reported(const char *path)
{
    siglog *s = open_store(path, 1);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    int rc, gaps = 0;
    while ((rc = siglog_cursor_next(c, &r)) == 1 || rc == SIGLOG_EGAP)
        gaps += rc == SIGLOG_EGAP;
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(s), 0);
    return gaps > 0;
}

static void compact_beside(const char *path, uint32_t mode, uint64_t *dropped)
{
    siglog_compact_result r = test_compact_all(path, "ev", mode, "compact");
    cr_assert_gt(r.segments_in, 0, "nothing was compacted");
    *dropped = r.events_dropped;
}

/* A lost middle segment accepted by verify, then rewrites by maintenance
 * beside the writer: a merge (every event kept) and a key compaction
 * (events dropped inside the log, the log start where it was): after
 * each, the figures through the writer's handle, a reader's and a
 * reopened writer's equal a count of the log. */
Test(schema_usage, exact_after_an_accepted_loss_a_merge_and_a_key_compaction)
{
    char *path = test_path(dir, "store");
    siglog *s = test_store_open(path, NULL);
    siglog_stream *st = make_stream(s, "ev", SIGLOG_CONTRACT_OFF);
    test_append_keyed_runs(st, 0, 0, 900);
    test_append_keyed_runs(st, 1, 0, 130);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());

    /* Partition 0's second segment lost and the loss accepted. */
    char *p0 = partition_dir(path, "ev", 0);
    uint64_t bases[64];
    size_t n = test_segment_bases(p0, bases, 64);
    cr_assert_geq(n, 4, "partition 0 has %zu segments", n);
    test_remove_segment(p0, bases[1]);
    cr_assert_eq(siglog_verify(path, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL), 0, "%s", siglog_errdetail());
    open_and_check(path, 1, "read-only, after an accepted loss");
    s = open_store(path, 0);
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    check_both(st, "writer, after an accepted loss");

    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.cleanup = SIGLOG_CLEANUP_COMPACT;
    c.segment_bytes_max = 1u << 20; /* the 64 KiB segments are small now */
    c.merge_below = 128u << 10;
    cr_assert_eq(siglog_stream_config_set(s, "ev", &c), 0, "%s", siglog_errdetail());
    uint64_t dropped;
    compact_beside(path, SIGLOG_COMPACT_MERGE, &dropped);
    cr_assert_eq(dropped, 0);
    check_both(st, "writer, after a merge beside it");
    open_and_check(path, 1, "read-only, after the merge");
    cr_assert(loss_reported(path), "the merge covered the lost offsets");

    compact_beside(path, SIGLOG_COMPACT_KEYS, &dropped);
    cr_assert_gt(dropped, 0, "the key compaction dropped nothing");
    check_both(st, "writer, after a key compaction beside it");
    open_and_check(path, 1, "read-only, after the key compaction");
    cr_assert(loss_reported(path), "the key compaction covered the lost offsets");
    test_append_keyed_runs(st, 0, 0, 150);
    check_both(st, "writer, appending after the key compaction");
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    open_and_check(path, 0, "after a reopen");
    open_and_check(path, 1, "read-only after the reopen");
    free(p0);
    free(path);
}

/* Version 2's first offset (test_append_keyed_runs: offset 100, key k20,
 * opens its first run). */
static int first_of_v2(void *ctx, const siglog_schema_usage *u)
{
    if (u->version == 2)
        *(uint64_t *)ctx = u->first_offset;
    return 0;
}

/* A forget (events of two keys removed from sealed segments by
 * maintenance, beside the writer) drops records inside the log, some of
 * them a version's first: the figures through the writer's handle, a
 * reader's and a reopened writer's equal a count of the log. */
Test(schema_usage, exact_after_a_forget_beside_the_writer)
{
    char *path = test_path(dir, "store");
    siglog *s = test_store_open(path, NULL);
    siglog_stream *st = make_stream(s, "ev", SIGLOG_CONTRACT_OFF);
    test_append_keyed_runs(st, 0, 0, 900);
    test_append_keyed_runs(st, 1, 0, 130);
    /* Events without a key (version 4) roll both partitions' segments
     * that hold keyed events: a forget refuses a partition whose active
     * segment holds an event of its keys. */
    char value[400];
    memset(value, 'u', sizeof value);
    for (uint32_t i = 0; i < 200; i++) {
        siglog_event e = { .value = value, .value_len = sizeof value, .timestamp_us = 2000000, .schema_version = 4 };
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_append(st, 1, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    check_both(st, "writer, before the forget");
    open_and_check(path, 1, "read-only, before the forget");
    uint64_t first_v2 = UINT64_MAX;
    cr_assert_eq(siglog_schema_usage_foreach(st, 0, first_of_v2, &first_v2), 0, "%s", siglog_errdetail());
    cr_assert_eq(first_v2, 100);

    siglog_key keys[2] = { { "k20", 3 }, { "k7", 2 } };
    siglog_maintenance *m = NULL;
    cr_assert_eq(siglog_maintenance_open(&m, path, NULL), 0, "%s", siglog_errdetail());
    siglog_forget_result r;
    cr_assert_eq(siglog_forget(m, "ev", keys, 2, NULL, &r), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(r.partitions_changed, 2, "the forget changed %u partitions", r.partitions_changed);

    check_both(st, "writer, after a forget beside it");
    first_v2 = UINT64_MAX;
    cr_assert_eq(siglog_schema_usage_foreach(st, 0, first_of_v2, &first_v2), 0, "%s", siglog_errdetail());
    cr_assert_eq(first_v2, 101, "version 2's first event (offset 100, key k20) was forgotten");
    open_and_check(path, 1, "read-only, after the forget");
    test_append_keyed_runs(st, 0, 900, 150);
    check_both(st, "writer, appending after the forget");
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    open_and_check(path, 0, "after a reopen");
    open_and_check(path, 1, "read-only after the reopen");
    free(path);
}
