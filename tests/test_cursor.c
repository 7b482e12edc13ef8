/*
 * cursor — seeks land on the exact first record at/after the target (by
 * offset and by time, with ties, gaps in time and non-monotone event
 * times), reads stop at the high-water mark taken at open, and FOLLOW
 * sees later appends.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_fault.h"
#include "support.h"

static char *dir;
static siglog *store;
static siglog_stream *st;

/* Timestamps: groups of 3 equal times (ties), a jump (gap) every 100
 * records, and every 7th record 50 ms in the past (late event). */
static int64_t ts_of(uint64_t i)
{
    int64_t t = 1000000 + (int64_t)(i / 3) * 1000 + (int64_t)(i / 100) * 1000000;
    return i % 7 == 6 ? t - 50000 : t;
}

#define N 3000

static void setup(void)
{
    dir = test_tmpdir("cursor");
    store = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = 64 * 1024;
    c.index_interval_bytes = 256;
    c.batch_bytes_max = 2048;
    c.compression = SIGLOG_COMPRESSION_NONE;
    cr_assert_eq(siglog_stream_create(store, "t", &c), 0);
    cr_assert_eq(siglog_stream_get(store, "t", &st), 0);
    for (uint64_t i = 0; i < N; i++) {
        char v[128];
        int n = snprintf(v, sizeof v, "{\"i\":%llu,\"pad\":\"%0*d\"}", (unsigned long long)i, (int)(i % 60), 0);
        siglog_event e = {.value = v, .value_len = (size_t)n, .timestamp_us = ts_of(i)};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0);
    }
    cr_assert_eq(siglog_sync(store), 0);
}

static void teardown(void)
{
    cr_assert_eq(siglog_close(store), 0);
    test_rmtree(dir);
    free(dir);
}

TestSuite(cursor, .init = setup, .fini = teardown);

static int first(int seek, int64_t arg, const siglog_record **r, siglog_cursor **c)
{
    cr_assert_eq(siglog_cursor_open(c, st, 0, seek, arg, 0), 0, "%s", siglog_errdetail());
    int rc = siglog_cursor_next(*c, r);
    cr_assert_geq(rc, 0, "%s", siglog_errdetail());
    return rc;
}

Test(cursor, seek_by_offset_hits_exact_record_everywhere)
{
    for (uint64_t target = 0; target < N; target += 37) {
        siglog_cursor *c;
        const siglog_record *r;
        cr_assert_eq(first(SIGLOG_SEEK_OFFSET, (int64_t)target, &r, &c), 1);
        cr_assert_eq(r->offset, target);
        cr_assert_eq(r->timestamp_us, ts_of(target));
        siglog_cursor_close(c);
    }
}

Test(cursor, seek_past_the_end_reads_nothing)
{
    siglog_cursor *c;
    const siglog_record *r;
    cr_assert_eq(first(SIGLOG_SEEK_OFFSET, N + 10, &r, &c), 0);
    siglog_cursor_close(c);
    cr_assert_eq(first(SIGLOG_SEEK_END, 0, &r, &c), 0);
    siglog_cursor_close(c);
    cr_assert_eq(first(SIGLOG_SEEK_TIME, ts_of(N - 1) + 1, &r, &c), 0);
    siglog_cursor_close(c);
}

/* Brute force: the first offset whose timestamp is >= t. */
static int64_t expected_for_time(int64_t t)
{
    for (uint64_t i = 0; i < N; i++)
        if (ts_of(i) >= t)
            return (int64_t)i;
    return -1;
}

Test(cursor, seek_by_time_hits_first_record_at_or_after)
{
    int64_t probes[] = {0, 1000000, 1000001, 1001000, 1999999, 2000000, 2033000, 5000000, 5050000,
                        ts_of(N / 2), ts_of(N / 2) - 1, ts_of(N - 1), ts_of(N - 2), ts_of(N - 3)};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        int64_t want = expected_for_time(probes[k]);
        siglog_cursor *c;
        const siglog_record *r;
        int rc = first(SIGLOG_SEEK_TIME, probes[k], &r, &c);
        if (want < 0) {
            cr_assert_eq(rc, 0, "time %lld: expected nothing", (long long)probes[k]);
        } else {
            cr_assert_eq(rc, 1, "time %lld: expected offset %lld", (long long)probes[k], (long long)want);
            cr_assert_eq(r->offset, (uint64_t)want, "time %lld: got offset %llu, want %lld", (long long)probes[k],
                         (unsigned long long)r->offset, (long long)want);
        }
        siglog_cursor_close(c);
    }
}

Test(cursor, stops_at_high_water_mark_taken_at_open)
{
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_OFFSET, N - 5, 0), 0);
    siglog_event e = {.value = "late", .value_len = 4};
    cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0);
    cr_assert_eq(siglog_sync(store), 0);
    const siglog_record *r;
    int n = 0;
    while (siglog_cursor_next(c, &r) == 1)
        n++;
    cr_assert_eq(n, 5, "read %d records, the snapshot held 5", n);
    siglog_cursor_close(c);
}

Test(cursor, follow_sees_new_appends)
{
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_END, 0, SIGLOG_CURSOR_FOLLOW), 0);
    const siglog_record *r;
    cr_assert_eq(siglog_cursor_next(c, &r), 0);
    siglog_event e = {.value = "new", .value_len = 3};
    cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0);
    cr_assert_eq(siglog_sync(store), 0);
    cr_assert_eq(siglog_cursor_wait(c, 1000), 0);
    cr_assert_eq(siglog_cursor_next(c, &r), 1, "%s", siglog_errdetail());
    cr_assert_eq(r->offset, N);
    cr_assert_eq(r->value_len, 3);
    siglog_cursor_close(c);
}

Test(cursor, reads_every_record_across_segments)
{
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0);
    cr_assert_gt(info.segment_count, 2);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0);
    const siglog_record *r;
    uint64_t i = 0;
    while (siglog_cursor_next(c, &r) == 1) {
        cr_assert_eq(r->offset, i);
        cr_assert_eq(r->timestamp_us, ts_of(i));
        unsigned long long got;
        cr_assert_eq(sscanf(r->value, "{\"i\":%llu", &got), 1);
        cr_assert_eq(got, i);
        i++;
    }
    cr_assert_eq(i, N);
    siglog_cursor_close(c);
}

Test(cursor, missing_segment_in_the_middle_is_reported)
{
    cr_assert_eq(siglog_close(store), 0);
    /* Remove the second segment of partition 0. */
    char *pdir = test_path(dir, "streams/t/00000");
    uint64_t bases[64];
    size_t n = 0;
    {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "ls %s | grep '\\.seg$'", pdir);
        FILE *f = popen(cmd, "r");
        char line[64];
        while (n < 64 && fgets(line, sizeof line, f))
            bases[n++] = strtoull(line, NULL, 10);
        pclose(f);
    }
    cr_assert_geq(n, 3);
    char seg[600];
    snprintf(seg, sizeof seg, "%s/%020llu.seg", pdir, (unsigned long long)bases[1]);
    cr_assert_eq(remove(seg), 0);
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    cr_assert_eq(siglog_open(&store, dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(store, "t", &st), 0);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0);
    const siglog_record *r;
    int rc;
    uint64_t count = 0;
    while ((rc = siglog_cursor_next(c, &r)) == 1)
        count++;
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "got %s after %llu records", siglog_errname(rc), (unsigned long long)count);
    cr_assert_eq(count, bases[1], "read up to the hole");
    cr_assert_not_null(strstr(siglog_errdetail(), "missing"), "detail: %s", siglog_errdetail());
    siglog_cursor_close(c);
    free(pdir);
}

Test(cursor, reseek_one_cursor_matches_fresh_cursors)
{
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0);
    uint64_t state = 99;
    const siglog_record *r;
    for (int k = 0; k < 400; k++) {
        int by_time = k % 2;
        uint64_t target = test_rand(&state) % (N + 5);
        int64_t t = ts_of(target % N) + (int64_t)(test_rand(&state) % 3) - 1;
        cr_assert_eq(siglog_cursor_seek(c, by_time ? SIGLOG_SEEK_TIME : SIGLOG_SEEK_OFFSET,
                                        by_time ? t : (int64_t)target),
                     0, "%s", siglog_errdetail());
        int rc = siglog_cursor_next(c, &r);
        cr_assert_geq(rc, 0, "%s", siglog_errdetail());
        int64_t want = by_time ? expected_for_time(t) : (target < N ? (int64_t)target : -1);
        if (want < 0) {
            cr_assert_eq(rc, 0, "seek %d: expected nothing", k);
            continue;
        }
        cr_assert_eq(rc, 1, "seek %d: expected offset %lld", k, (long long)want);
        cr_assert_eq(r->offset, (uint64_t)want, "seek %d (%s): got %llu want %lld", k, by_time ? "time" : "offset",
                     (unsigned long long)r->offset, (long long)want);
        /* And the cursor reads on from there in order. */
        if (siglog_cursor_next(c, &r) == 1)
            cr_assert_eq(r->offset, (uint64_t)want + 1);
    }
    cr_assert_eq(siglog_cursor_seek(c, SIGLOG_SEEK_END, 0), 0);
    cr_assert_eq(siglog_cursor_next(c, &r), 0);
    cr_assert_eq(siglog_cursor_seek(c, SIGLOG_SEEK_START, 0), 0);
    cr_assert_eq(siglog_cursor_next(c, &r), 1);
    cr_assert_eq(r->offset, 0);
    siglog_cursor_close(c);
}

/* A seek with the segment already open costs one read: the batch the
 * index entry points at, header and body together (up to the next
 * entry's batch), checked against the entry and then used for the batch.
 * Counted through a wrapping I/O backend, on a store several read
 * windows long, each seek far from the last (a window may hold the
 * batch of a seek close to the one before: no read at all then). */
Test(cursor, warm_seek_reads_once)
{
    char *d = test_tmpdir("cursor-reads");
    io_fault *f = io_fault_new(sl_io_posix());
    siglog *s = test_store_open(d, io_fault_io(f));
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.batch_bytes_max = 2048;
    c.index_interval_bytes = 256;
    c.compression = SIGLOG_COMPRESSION_NONE;
    cr_assert_eq(siglog_stream_create(s, "t", &c), 0);
    siglog_stream *t;
    cr_assert_eq(siglog_stream_get(s, "t", &t), 0);
    enum { EVENTS = 4000 };
    for (uint64_t i = 0; i < EVENTS; i++) {
        char v[256];
        int n = snprintf(v, sizeof v, "{\"i\":%llu,\"pad\":\"%0200d\"}", (unsigned long long)i, 0);
        siglog_event e = {.value = v, .value_len = (size_t)n, .timestamp_us = (int64_t)i + 1}; /* 0: the clock */
        cr_assert_eq(siglog_append(t, 0, &e, 1, NULL, NULL), 0);
    }
    cr_assert_eq(siglog_sync(s), 0);
    siglog_cursor *cur;
    const siglog_record *r;
    /* Warm: a time seek first learns each segment's largest timestamp. */
    cr_assert_eq(siglog_cursor_open(&cur, t, 0, SIGLOG_SEEK_TIME, EVENTS - 20, 0), 0);
    cr_assert_eq(siglog_cursor_next(cur, &r), 1);
    for (int64_t target = EVENTS - 700; target > 400; target -= 797) {
        for (int by_time = 0; by_time < 2; by_time++) {
            uint64_t before = io_fault_calls(f, IO_FAULT_READ);
            int64_t at = target - 300 * by_time; /* batches before the last seek's */
            cr_assert_eq(siglog_cursor_seek(cur, by_time ? SIGLOG_SEEK_TIME : SIGLOG_SEEK_OFFSET, at + by_time), 0);
            cr_assert_eq(siglog_cursor_next(cur, &r), 1);
            cr_assert_eq(r->offset, (uint64_t)at);
            uint64_t reads = io_fault_calls(f, IO_FAULT_READ) - before;
            cr_assert_eq(reads, 1, "seek to %lld made %llu reads", (long long)at, (unsigned long long)reads);
        }
    }
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_close(s), 0);
    io_fault_free(f);
    test_rmtree(d);
    free(d);
}
