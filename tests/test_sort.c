/*
 * sort — siglog_sort hands out every record of its cursors exactly once,
 * in (timestamp, stream name, partition, offset) order, whatever order
 * they were appended in: from memory, from spilled runs, and from runs
 * merged in more than one pass; it leaves no file in the spill directory,
 * removes the files of a killed sort, and applies its filter before
 * sorting.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define PARTS 4

static char *dir, *spill;
static siglog *store;

static void setup(void)
{
    store = test_store_in_tmpdir("sort", &dir);
    spill = test_path(dir, "spill");
    cr_assert_eq(mkdir(spill, 0700), 0);
}

static void teardown(void)
{
    test_store_close_rmtree(store, dir);
    free(spill);
}

TestSuite(sort, .init = setup, .fini = teardown, .timeout = 240);

/* n events of about value_bytes each with pseudo-random times (many
 * ties), keys and every fifth with headers, spread over the partitions. */
static siglog_stream *fill(const char *name, uint64_t n, size_t value_bytes, uint64_t seed)
{
    siglog_stream *st = test_stream_create(store, name, PARTS, SIGLOG_SYNC_NONE, 4 << 20);
    char *v = malloc(value_bytes + 64);
    for (uint64_t i = 0; i < n; i++) {
        test_event t;
        test_event_make(&t, seed, i);
        int len = snprintf(v, value_bytes + 64, "{\"i\":%llu,\"pad\":\"%0*d\"}", (unsigned long long)i,
                           (int)(value_bytes / 2 + test_rand(&seed) % (value_bytes / 2)), 0);
        t.ev.value = v;
        t.ev.value_len = (size_t)len;
        t.ev.timestamp_us = 1000 + (int64_t)(test_rand(&seed) % (n / 3 + 1));
        cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, &t.ev, 1, NULL, NULL), 0);
    }
    free(v);
    cr_assert_eq(siglog_sync(store), 0);
    return st;
}

typedef struct seen {
    int64_t ts;
    uint32_t stream, partition;
    uint64_t offset;
    uint64_t digest; /* of key, value and headers */
} seen;

static uint64_t digest(const siglog_record *r)
{
    uint64_t h = 1469598103934665603ull;
    const uint8_t *parts[2] = { r->key, r->value };
    size_t lens[2] = { r->key_len, r->value_len };
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < lens[p]; i++)
            h = (h ^ parts[p][i]) * 1099511628211ull;
    for (uint32_t i = 0; i < r->header_count; i++) {
        for (size_t j = 0; j < r->headers[i].key_len; j++)
            h = (h ^ ((const uint8_t *)r->headers[i].key)[j]) * 1099511628211ull;
        for (size_t j = 0; j < r->headers[i].value_len; j++)
            h = (h ^ ((const uint8_t *)r->headers[i].value)[j]) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
}

static int seen_cmp(const void *pa, const void *pb)
{
    const seen *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->stream != b->stream)
        return a->stream < b->stream ? -1 : 1;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* One cursor per partition of each stream (streams[] in any order); the
 * stream number recorded is its rank by name, given in stream_rank[]. */
static size_t open_cursors(siglog_stream **streams, size_t nstreams, siglog_cursor **cur)
{
    size_t n = 0;
    for (size_t s = 0; s < nstreams; s++)
        for (uint32_t p = 0; p < PARTS; p++)
            cr_assert_eq(siglog_cursor_open(&cur[n++], streams[s], p, SIGLOG_SEEK_START, 0, 0), 0);
    return n;
}

/* What the sort must give: every record, sorted here. */
static seen *expected(siglog_stream **streams, size_t nstreams, const uint32_t *rank, int (*keep)(void *, const siglog_record *),
                      size_t *count)
{
    siglog_cursor *cur[PARTS * 4];
    size_t n = open_cursors(streams, nstreams, cur), cap = 1024, got = 0;
    seen *all = malloc(cap * sizeof *all);
    for (size_t i = 0; i < n; i++) {
        const siglog_record *r;
        while (siglog_cursor_next(cur[i], &r) == 1) {
            if (keep && !keep(NULL, r))
                continue;
            if (got == cap)
                all = realloc(all, (cap *= 2) * sizeof *all);
            all[got++] = (seen){ r->timestamp_us, rank[i / PARTS], r->partition, r->offset, digest(r) };
        }
        siglog_cursor_close(cur[i]);
    }
    qsort(all, got, sizeof *all, seen_cmp);
    *count = got;
    return all;
}

/* Reading a sort a record per call, or through siglog_sort_next_batch
 * (batch > 0) into a buffer of BATCH_BYTES, which holds only some of a
 * batch's records: the rest must wait for the next call. */
#define BATCH_BYTES 4096
typedef struct reader {
    size_t batch;
    siglog_record recs[64];
    size_t idx[64];
    uint8_t buf[BATCH_BYTES];
    int n, at;
} reader;

static int read_next(siglog_sort *s, reader *b, const siglog_record **r, size_t *idx)
{
    if (!b->batch)
        return siglog_sort_next(s, r, idx);
    if (b->at == b->n) {
        size_t used;
        b->n = siglog_sort_next_batch(s, b->recs, b->idx, b->batch, b->buf, sizeof b->buf, &used);
        b->at = 0;
        if (b->n <= 0)
            return b->n;
        cr_assert_leq(used, sizeof b->buf);
    }
    *r = &b->recs[b->at];
    *idx = b->idx[b->at++];
    return 1;
}

/* Sort the streams with budget `memory`, read it (in batches of `batch`
 * records when not 0) and compare with expected(); returns the number of
 * spill files written. */
static uint64_t check_sorted(siglog_stream **streams, size_t nstreams, const uint32_t *rank, uint64_t memory,
                             int (*keep)(void *, const siglog_record *), size_t batch)
{
    size_t want_n;
    seen *want = expected(streams, nstreams, rank, keep, &want_n);
    siglog_cursor *cur[PARTS * 4];
    size_t n = open_cursors(streams, nstreams, cur);
    siglog_sort_options o;
    siglog_sort_options_default(&o);
    o.memory_bytes = memory;
    o.spill_dir = spill;
    o.keep = keep;
    siglog_sort *s;
    size_t before = test_count_entries(spill);
    cr_assert_eq(siglog_sort_open(&s, cur, n, &o), 0, "%s", siglog_errdetail());
    cr_assert_leq(test_count_entries(spill), before, "spill files have no name");
    const siglog_record *r;
    size_t idx, got = 0;
    int rc;
    reader *b = calloc(1, sizeof *b);
    b->batch = batch;
    while ((rc = read_next(s, b, &r, &idx)) == 1) {
        cr_assert_lt(got, want_n);
        seen g = { r->timestamp_us, rank[idx / PARTS], r->partition, r->offset, digest(r) };
        cr_assert_eq(seen_cmp(&g, &want[got]), 0, "record %zu: ts %lld p %u o %llu, expected ts %lld p %u o %llu", got,
                     (long long)g.ts, g.partition, (unsigned long long)g.offset, (long long)want[got].ts,
                     want[got].partition, (unsigned long long)want[got].offset);
        cr_assert_eq(g.digest, want[got].digest, "record %zu: bytes differ", got);
        cr_assert_eq(r->partition, want[got].partition);
        got++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(got, want_n);
    free(b);
    uint64_t spills = siglog_sort_spill_files(s);
    siglog_sort_close(s);
    for (size_t i = 0; i < n; i++)
        siglog_cursor_close(cur[i]);
    free(want);
    return spills;
}

static const uint32_t one_stream[] = { 0 };

Test(sort, in_memory)
{
    siglog_stream *st = fill("s", 20000, 100, 1);
    cr_assert_eq(check_sorted(&st, 1, one_stream, 256 << 20, NULL, 0), 0);
}

Test(sort, spilled_runs_merge_to_the_same_order)
{
    siglog_stream *st = fill("s", 20000, 300, 2); /* about 6 MiB */
    cr_assert_gt(check_sorted(&st, 1, one_stream, 1 << 20, NULL, 0), 3);
    cr_assert_eq(test_count_entries(spill), 0);
}

Test(sort, more_runs_than_one_merge_takes)
{
    siglog_stream *st = fill("s", 100000, 1000, 3); /* about 75 MiB: more than 64 runs of 1 MiB */
    cr_assert_gt(check_sorted(&st, 1, one_stream, 1 << 20, NULL, 0), 65);
    cr_assert_eq(test_count_entries(spill), 0);
}

/* Batches hand out what single calls do, a record that does not fit in
 * what is left of the buffer waiting for the next call: from memory and
 * from the merge of spilled runs. */
Test(sort, batches_hand_out_the_same_records_in_memory)
{
    siglog_stream *st = fill("s", 20000, 100, 6);
    cr_assert_eq(check_sorted(&st, 1, one_stream, 256 << 20, NULL, 64), 0);
}

Test(sort, batches_hand_out_the_same_records_from_spilled_runs)
{
    siglog_stream *st = fill("s", 20000, 300, 7);
    cr_assert_gt(check_sorted(&st, 1, one_stream, 1 << 20, NULL, 64), 3);
}

/* The first record of a sort of the stream's partitions, through a
 * buffer of buf_len bytes: the call's result, the record's position and
 * the bytes used (or needed). */
static int first_of_sort(siglog_stream *st, size_t buf_len, seen *first, size_t *used)
{
    siglog_cursor *cur[PARTS];
    size_t n = open_cursors(&st, 1, cur), idx;
    siglog_sort *s;
    cr_assert_eq(siglog_sort_open(&s, cur, n, NULL), 0, "%s", siglog_errdetail());
    siglog_record rec;
    uint8_t *buf = malloc(buf_len);
    int rc = siglog_sort_next_batch(s, &rec, &idx, 1, buf, buf_len, used);
    if (rc == SIGLOG_ETOOBIG) /* nothing consumed: a buffer of the size asked for gets it */
        rc = siglog_sort_next_batch(s, &rec, &idx, 1, buf = realloc(buf, *used), *used, NULL);
    cr_assert_eq(rc, 1, "%s", siglog_errdetail());
    *first = (seen){ rec.timestamp_us, 0, rec.partition, rec.offset, digest(&rec) };
    free(buf);
    siglog_sort_close(s);
    for (size_t i = 0; i < n; i++)
        siglog_cursor_close(cur[i]);
    return rc;
}

/* A first record larger than the buffer: SIGLOG_ETOOBIG with the bytes it
 * needs and nothing consumed; a buffer of that size then gets the record a
 * large buffer gets. */
Test(sort, a_batch_buffer_too_small_for_one_record_consumes_nothing)
{
    siglog_stream *st = fill("s", 200, 100, 8);
    seen want, got;
    size_t used, needed = 0;
    first_of_sort(st, 4096, &want, &used);
    first_of_sort(st, 16, &got, &needed);
    cr_assert_gt(needed, 16);
    cr_assert_eq(seen_cmp(&got, &want), 0);
    cr_assert_eq(got.digest, want.digest);
    siglog_record rec;
    uint8_t buf[16];
    cr_assert_eq(siglog_sort_next_batch(NULL, &rec, NULL, 1, buf, sizeof buf, NULL), SIGLOG_EINVAL);
}

static int even_offsets(void *ctx, const siglog_record *r)
{
    (void)ctx;
    return r->offset % 2 == 0;
}

Test(sort, the_filter_applies_before_sorting)
{
    siglog_stream *st = fill("s", 20000, 300, 4);
    check_sorted(&st, 1, one_stream, 1 << 20, even_offsets, 0);
}

Test(sort, streams_order_by_name_at_equal_times)
{
    siglog_stream *streams[2] = { fill("zeta", 3000, 50, 5), fill("alpha", 3000, 50, 5) };
    const uint32_t rank[2] = { 1, 0 };
    check_sorted(streams, 2, rank, 1 << 20, NULL, 0);
}

Test(sort, files_of_a_killed_sort_are_removed_and_no_others)
{
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    cr_assert_eq(waitpid(child, NULL, 0), child); /* its pid is free now */
    char dead[64], alive[64];
    snprintf(dead, sizeof dead, "siglog-spill-%ld-0", (long)child);
    snprintf(alive, sizeof alive, "siglog-spill-%ld-0", (long)getppid());
    const char *names[] = { dead, alive, "siglog-spill-x-0", "unrelated" };
    for (size_t i = 0; i < 4; i++) {
        char *p = test_path(spill, names[i]);
        FILE *f = fopen(p, "w");
        cr_assert(f);
        fclose(f);
        free(p);
    }
    siglog_stream *st = fill("s", 100, 50, 6);
    check_sorted(&st, 1, one_stream, 1 << 20, NULL, 0);
    cr_assert_eq(test_count_entries(spill), 3);
    char *p = test_path(spill, dead);
    cr_assert_neq(access(p, F_OK), 0, "the dead sort's file is still there");
    free(p);
}

Test(sort, a_spill_directory_that_is_missing_is_an_error_naming_it)
{
    siglog_stream *st = fill("s", 20000, 300, 7);
    siglog_cursor *cur[PARTS];
    size_t n = open_cursors(&st, 1, cur);
    siglog_sort_options o;
    siglog_sort_options_default(&o);
    o.memory_bytes = 1 << 20;
    o.spill_dir = "/nonexistent-spill-dir";
    siglog_sort *s = (siglog_sort *)1;
    cr_assert_eq(siglog_sort_open(&s, cur, n, &o), SIGLOG_ENOENT);
    cr_assert_null(s);
    cr_assert(strstr(siglog_errdetail(), "/nonexistent-spill-dir"), "%s", siglog_errdetail());
    for (size_t i = 0; i < n; i++)
        siglog_cursor_close(cur[i]);
}
