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
    dir = test_tmpdir("sort");
    spill = test_path(dir, "spill");
    cr_assert_eq(mkdir(spill, 0700), 0);
    char *path = test_path(dir, "store");
    store = test_store_open(path, NULL);
    free(path);
}

static void teardown(void)
{
    cr_assert_eq(siglog_close(store), 0);
    test_rmtree(dir);
    free(spill);
    free(dir);
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

/* Sort the streams with budget `memory` and compare with expected();
 * returns the number of spill files written. */
static uint64_t check_sorted(siglog_stream **streams, size_t nstreams, const uint32_t *rank, uint64_t memory,
                             int (*keep)(void *, const siglog_record *))
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
    while ((rc = siglog_sort_next(s, &r, &idx)) == 1) {
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
    cr_assert_eq(check_sorted(&st, 1, one_stream, 256 << 20, NULL), 0);
}

Test(sort, spilled_runs_merge_to_the_same_order)
{
    siglog_stream *st = fill("s", 20000, 300, 2); /* about 6 MiB */
    cr_assert_gt(check_sorted(&st, 1, one_stream, 1 << 20, NULL), 3);
    cr_assert_eq(test_count_entries(spill), 0);
}

Test(sort, more_runs_than_one_merge_takes)
{
    siglog_stream *st = fill("s", 100000, 1000, 3); /* about 75 MiB: more than 64 runs of 1 MiB */
    cr_assert_gt(check_sorted(&st, 1, one_stream, 1 << 20, NULL), 65);
    cr_assert_eq(test_count_entries(spill), 0);
}

static int even_offsets(void *ctx, const siglog_record *r)
{
    (void)ctx;
    return r->offset % 2 == 0;
}

Test(sort, the_filter_applies_before_sorting)
{
    siglog_stream *st = fill("s", 20000, 300, 4);
    check_sorted(&st, 1, one_stream, 1 << 20, even_offsets);
}

Test(sort, streams_order_by_name_at_equal_times)
{
    siglog_stream *streams[2] = { fill("zeta", 3000, 50, 5), fill("alpha", 3000, 50, 5) };
    const uint32_t rank[2] = { 1, 0 };
    check_sorted(streams, 2, rank, 1 << 20, NULL);
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
    check_sorted(&st, 1, one_stream, 1 << 20, NULL);
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
