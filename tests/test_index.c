/*
 * index — entries added are found by binary search, survive a reopen, and
 * every header field or entry that breaks a validity rule of
 * format-spec/FORMAT.md, section "Index files", is refused with SIGLOG_ECORRUPT.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "index.h"
#include "support.h"

#define BASE 1000u

static char *dir;
static char *oix_path;
static char *tix_path;

static void setup(void)
{
    dir = test_tmpdir("index");
    oix_path = test_path(dir, "x.oix");
    tix_path = test_path(dir, "x.tix");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(oix_path);
    free(tix_path);
    free(dir);
}

TestSuite(index, .init = setup, .fini = teardown);

static index_file *open_ix(const char *path, int kind, uint32_t capacity, unsigned flags)
{
    index_file *ix = NULL;
    int rc = sl_index_open(sl_io_posix(), path, kind, BASE, capacity, flags, 0644, &ix);
    cr_assert_eq(rc, 0, "index_open %s: %s", path, siglog_errdetail());
    return ix;
}

static int try_open(const char *path, int kind, unsigned flags)
{
    index_file *ix = NULL;
    int rc = sl_index_open(sl_io_posix(), path, kind, BASE, 0, flags, 0644, &ix);
    sl_index_close(ix);
    return rc;
}

/* Offset entries (10*i, 100*i) for i = 1..n. */
static index_file *offset_index_with(uint32_t n, uint32_t capacity)
{
    index_file *ix = open_ix(oix_path, INDEX_KIND_OFFSET, capacity, IO_CREATE | IO_WRITE);
    for (uint32_t i = 1; i <= n; i++)
        cr_assert_eq(sl_index_add_offset(ix, 10 * i, 100 * i), 0, "add %u: %s", i, siglog_errdetail());
    return ix;
}

static void expect_offset(const index_file *ix, uint32_t rel, uint32_t want_rel, uint32_t want_pos)
{
    uint32_t r = 99, p = 99;
    sl_index_lookup_offset(ix, rel, &r, &p);
    cr_expect_eq(r, want_rel, "lookup %u: rel %u, expected %u", rel, r, want_rel);
    cr_expect_eq(p, want_pos, "lookup %u: position %u, expected %u", rel, p, want_pos);
}

static void expect_offset_lookups(const index_file *ix, uint32_t n)
{
    expect_offset(ix, 0, 0, 0);
    expect_offset(ix, 9, 0, 0);
    for (uint32_t i = 1; i <= n; i++) {
        expect_offset(ix, 10 * i, 10 * i, 100 * i);
        expect_offset(ix, 10 * i + 9, 10 * i, 100 * i);
    }
    expect_offset(ix, UINT32_MAX, 10 * n, 100 * n);
}

Test(index, offset_lookup_finds_largest_entry_at_or_below)
{
    index_file *ix = offset_index_with(50, 64);
    cr_assert_eq(sl_index_count(ix), 50);
    cr_assert_eq(sl_index_capacity(ix), 64);
    cr_assert_eq(sl_index_file_bytes(ix), INDEX_HEADER_BYTES + 64 * INDEX_OFFSET_ENTRY_BYTES);
    expect_offset_lookups(ix, 50);
    sl_index_close(ix);
}

Test(index, empty_index_answers_the_implied_first_batch)
{
    index_file *ix = open_ix(oix_path, INDEX_KIND_OFFSET, 8, IO_CREATE | IO_WRITE);
    cr_assert_eq(sl_index_count(ix), 0);
    expect_offset(ix, 0, 0, 0);
    expect_offset(ix, 12345, 0, 0);
    sl_index_close(ix);
    ix = open_ix(oix_path, INDEX_KIND_OFFSET, 0, IO_READ);
    cr_assert_eq(sl_index_count(ix), 0);
    sl_index_close(ix);
}

Test(index, entries_survive_reopen_read_only_and_writable)
{
    index_file *ix = offset_index_with(30, 40);
    cr_assert_eq(sl_index_sync(ix), 0);
    sl_index_close(ix);

    ix = open_ix(oix_path, INDEX_KIND_OFFSET, 0, IO_READ);
    cr_assert_eq(sl_index_count(ix), 30);
    cr_assert_eq(sl_index_capacity(ix), 40);
    expect_offset_lookups(ix, 30);
    cr_assert_eq(sl_index_add_offset(ix, 1000, 10000), SIGLOG_ERDONLY);
    sl_index_close(ix);

    ix = open_ix(oix_path, INDEX_KIND_OFFSET, 0, IO_WRITE);
    cr_assert_eq(sl_index_count(ix), 30);
    cr_assert_eq(sl_index_add_offset(ix, 310, 3100), 0);
    sl_index_close(ix);
    ix = open_ix(oix_path, INDEX_KIND_OFFSET, 0, IO_READ);
    expect_offset_lookups(ix, 31);
    sl_index_close(ix);
}

Test(index, time_lookup_skips_only_batches_entirely_before_target)
{
    index_file *ix = open_ix(tix_path, INDEX_KIND_TIME, 16, IO_CREATE | IO_WRITE);
    /* Ties and negative timestamps: (ts, rel). */
    cr_assert_eq(sl_index_add_time(ix, -50, 1, 0), 0);
    cr_assert_eq(sl_index_add_time(ix, 100, 2, 0), 0);
    cr_assert_eq(sl_index_add_time(ix, 100, 3, 0), 0);
    cr_assert_eq(sl_index_add_time(ix, 200, 7, 0), 0);
    cr_assert_eq(sl_index_count(ix), 4);
    static const struct {
        int64_t ts;
        uint32_t rel;
    } cases[] = {{INT64_MIN, 0}, {-50, 0}, {-49, 1}, {100, 1}, {101, 3}, {200, 3}, {201, 7}, {INT64_MAX, 7}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t rel = 99;
        sl_index_lookup_time(ix, cases[i].ts, &rel);
        cr_expect_eq(rel, cases[i].rel, "ts %lld: rel %u, expected %u", (long long)cases[i].ts, rel, cases[i].rel);
    }
    int64_t ts;
    uint32_t rel;
    sl_index_entry_time(ix, 2, &ts, &rel);
    cr_expect(ts == 100 && rel == 3);
    sl_index_close(ix);
}

Test(index, add_refuses_entries_out_of_order)
{
    index_file *ix = offset_index_with(2, 8); /* (10,100) (20,200) */
    cr_expect_eq(sl_index_add_offset(ix, 20, 300), SIGLOG_EINVAL, "repeated rel offset");
    cr_expect_eq(sl_index_add_offset(ix, 15, 300), SIGLOG_EINVAL, "smaller rel offset");
    cr_expect_eq(sl_index_add_offset(ix, 30, 200), SIGLOG_EINVAL, "repeated position");
    cr_expect_eq(sl_index_add_offset(ix, 30, 150), SIGLOG_EINVAL, "smaller position");
    cr_expect_eq(sl_index_count(ix), 2);
    sl_index_close(ix);

    index_file *tx = open_ix(tix_path, INDEX_KIND_TIME, 8, IO_CREATE | IO_WRITE);
    cr_expect_eq(sl_index_add_time(tx, 5, 0, 0), SIGLOG_EINVAL, "rel 0 is implied, never stored");
    cr_expect_eq(sl_index_add_time(tx, 5, 4, 0), 0);
    cr_expect_eq(sl_index_add_time(tx, 4, 5, 0), SIGLOG_EINVAL, "decreasing timestamp");
    cr_expect_eq(sl_index_add_offset(tx, 9, 9), SIGLOG_EINVAL, "offset entry in a time index");
    sl_index_close(tx);
}

Test(index, full_index_reports_limit_and_keeps_entries)
{
    index_file *ix = offset_index_with(4, 4);
    cr_assert_eq(sl_index_add_offset(ix, 50, 500), SIGLOG_ELIMIT);
    cr_assert_eq(sl_index_count(ix), 4);
    expect_offset_lookups(ix, 4);
    sl_index_close(ix);
}

Test(index, truncate_keeps_a_prefix_and_allows_new_entries)
{
    index_file *ix = offset_index_with(10, 16);
    sl_index_truncate(ix, 4);
    cr_assert_eq(sl_index_count(ix), 4);
    expect_offset(ix, 95, 40, 400);
    cr_assert_eq(sl_index_add_offset(ix, 41, 401), 0);
    sl_index_close(ix);
    ix = open_ix(oix_path, INDEX_KIND_OFFSET, 0, IO_WRITE);
    cr_assert_eq(sl_index_count(ix), 5);
    expect_offset(ix, 95, 41, 401);
    sl_index_close(ix);
}

/* A crash can leave the payload of an entry on disk without the rel_offset
 * that publishes it (the writer stores rel_offset last). */
Test(index, unpublished_entry_after_crash_is_ignored_and_cleared)
{
    index_file *ix = offset_index_with(3, 8);
    sl_index_close(ix);
    test_flip_byte(oix_path, INDEX_HEADER_BYTES + 3 * INDEX_OFFSET_ENTRY_BYTES + 4, 0x7f); /* slot 3 position */

    ix = open_ix(oix_path, INDEX_KIND_OFFSET, 0, IO_READ);
    cr_assert_eq(sl_index_count(ix), 3);
    expect_offset(ix, 1000, 30, 300);
    sl_index_close(ix);

    ix = open_ix(oix_path, INDEX_KIND_OFFSET, 0, IO_WRITE);
    cr_assert_eq(sl_index_count(ix), 3);
    cr_assert_eq(sl_index_add_offset(ix, 40, 400), 0, "%s", siglog_errdetail());
    sl_index_close(ix);
    ix = open_ix(oix_path, INDEX_KIND_OFFSET, 0, IO_READ);
    expect_offset_lookups(ix, 4);
    sl_index_close(ix);

    /* A time entry's check bytes are not rewritten by the next add:
     * the writer's open must clear the whole torn slot. */
    ix = open_ix(tix_path, INDEX_KIND_TIME, 8, IO_CREATE | IO_WRITE);
    cr_assert_eq(sl_index_add_time(ix, 10, 1, 0), 0);
    sl_index_close(ix);
    test_flip_byte(tix_path, INDEX_HEADER_BYTES + INDEX_TIME_ENTRY_BYTES + 12, 0x01); /* slot 1 check */
    ix = open_ix(tix_path, INDEX_KIND_TIME, 0, IO_WRITE);
    cr_assert_eq(sl_index_count(ix), 1);
    cr_assert_eq(sl_index_add_time(ix, 20, 2, 0), 0);
    sl_index_close(ix);
    ix = open_ix(tix_path, INDEX_KIND_TIME, 0, IO_READ);
    cr_assert_eq(sl_index_count(ix), 2);
    sl_index_close(ix);
}

/* ---- corruption ---- */

static void file_read(const char *path, uint64_t off, void *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pread(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void file_write(const char *path, uint64_t off, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
}

/* Store v at header byte `at` (width 2, 4 or 8) and fix the checksum, so
 * that only the rule about that field can reject the file. */
static void header_set(const char *path, size_t at, int width, uint64_t v)
{
    uint8_t h[INDEX_HEADER_BYTES];
    file_read(path, 0, h, sizeof h);
    if (width == 2)
        put_le16(h + at, (uint16_t)v);
    else if (width == 4)
        put_le32(h + at, (uint32_t)v);
    else
        put_le64(h + at, v);
    put_le64(h + 56, XXH3_64bits(h, 56));
    file_write(path, 0, h, sizeof h);
}

static void fresh_offset_index(void)
{
    sl_index_close(offset_index_with(5, 8));
}

Test(index, header_with_bad_magic_is_corrupt)
{
    fresh_offset_index();
    header_set(oix_path, 0, 4, 0x12345678);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT);
}

Test(index, header_checksum_mismatch_is_corrupt)
{
    fresh_offset_index();
    for (uint64_t pos = 0; pos < INDEX_HEADER_BYTES; pos++) {
        test_flip_byte(oix_path, pos, 0x01);
        int rc = try_open(oix_path, INDEX_KIND_OFFSET, IO_READ);
        cr_expect(rc == SIGLOG_ECORRUPT, "flip at header byte %llu: %s", (unsigned long long)pos,
                  siglog_errname(rc));
        test_flip_byte(oix_path, pos, 0x01);
    }
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), 0);
}

Test(index, unknown_version_is_refused_and_version_1_is_rebuilt)
{
    fresh_offset_index();
    header_set(oix_path, 4, 2, INDEX_FORMAT_VERSION + 1);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_EVERSION);
    /* Version 1 time entries carry no check: invalid, so writers rebuild. */
    header_set(oix_path, 4, 2, 1);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT);
}

Test(index, wrong_kind_entry_size_base_or_capacity_is_corrupt)
{
    fresh_offset_index();
    cr_expect_eq(try_open(oix_path, INDEX_KIND_TIME, IO_READ), SIGLOG_ECORRUPT, "opened as a time index");

    header_set(oix_path, 8, 4, INDEX_TIME_ENTRY_BYTES);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT, "entry size");
    header_set(oix_path, 8, 4, INDEX_OFFSET_ENTRY_BYTES);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), 0);

    header_set(oix_path, 16, 8, BASE + 1);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT, "base offset");
    header_set(oix_path, 16, 8, BASE);

    header_set(oix_path, 12, 4, INDEX_CAPACITY_MAX + 1);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT, "capacity over the limit");
    header_set(oix_path, 12, 4, 9); /* one more slot than the file holds */
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT, "capacity beyond file size");
    header_set(oix_path, 12, 4, 8);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), 0);
}

Test(index, nonzero_reserved_header_bytes_are_corrupt)
{
    fresh_offset_index();
    for (size_t at = 24; at < 56; at += 8) {
        header_set(oix_path, at, 8, 1);
        cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT, "reserved byte %zu", at);
        header_set(oix_path, at, 8, 0);
    }
}

Test(index, short_or_empty_file_is_corrupt)
{
    fresh_offset_index();
    test_truncate(oix_path, INDEX_HEADER_BYTES + 8 * INDEX_OFFSET_ENTRY_BYTES - 1);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT);
    test_truncate(oix_path, 10);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT);
    test_truncate(oix_path, 0);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_WRITE), SIGLOG_ECORRUPT);
    unlink(oix_path);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ENOENT);
}

static void entry_put32(const char *path, uint32_t entry_bytes, uint32_t i, size_t field, uint32_t v)
{
    uint8_t b[4];
    put_le32(b, v);
    file_write(path, INDEX_HEADER_BYTES + (uint64_t)i * entry_bytes + field, b, 4);
}

Test(index, offset_entries_out_of_order_are_corrupt)
{
    fresh_offset_index(); /* (10,100) .. (50,500) */
    entry_put32(oix_path, 8, 2, 0, 20);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT, "repeated rel offset");
    entry_put32(oix_path, 8, 2, 0, 30);
    entry_put32(oix_path, 8, 3, 4, 250);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), SIGLOG_ECORRUPT, "decreasing position");
    entry_put32(oix_path, 8, 3, 4, 400);
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_READ), 0);
}

Test(index, stray_entry_after_a_gap_is_corrupt_for_writers)
{
    fresh_offset_index(); /* 5 entries, capacity 8 */
    entry_put32(oix_path, 8, 7, 0, 90);
    entry_put32(oix_path, 8, 7, 4, 900);
    /* Depending on where the binary search lands, the gap at slot 5 is seen
     * as a rel offset that does not increase, or as bytes after the end:
     * both are refused. */
    cr_expect_eq(try_open(oix_path, INDEX_KIND_OFFSET, IO_WRITE), SIGLOG_ECORRUPT);
}

Test(index, time_entries_decreasing_are_corrupt_and_checks_bind_their_batch)
{
    index_file *ix = open_ix(tix_path, INDEX_KIND_TIME, 8, IO_CREATE | IO_WRITE);
    for (uint32_t i = 1; i <= 4; i++)
        cr_assert_eq(sl_index_add_time(ix, 1000 * i, i, 0xabc0 + i), 0);
    for (uint32_t i = 0; i < 4; i++) {
        cr_expect(sl_index_entry_time_matches(ix, i, 0xabc1 + i), "entry %u matches its batch", i);
        cr_expect(!sl_index_entry_time_matches(ix, i, 0xabc2 + i), "entry %u names another batch", i);
    }
    sl_index_close(ix);

    uint8_t ts[8];
    put_le64(ts, 500);
    file_write(tix_path, INDEX_HEADER_BYTES + 2 * 16, ts, 8);
    cr_expect_eq(try_open(tix_path, INDEX_KIND_TIME, IO_READ), SIGLOG_ECORRUPT, "decreasing timestamp");
    put_le64(ts, 2500); /* in order again, but not what entry 2 said */
    file_write(tix_path, INDEX_HEADER_BYTES + 2 * 16, ts, 8);
    cr_expect_eq(try_open(tix_path, INDEX_KIND_TIME, IO_READ), 0);

    /* The timestamp rewritten above no longer matches its check. */
    ix = open_ix(tix_path, INDEX_KIND_TIME, 0, IO_READ);
    cr_expect(!sl_index_entry_time_matches(ix, 2, 0xabc3), "a changed time bound fails its check");
    cr_expect(sl_index_entry_time_matches(ix, 1, 0xabc2));
    sl_index_close(ix);
}

/* ---- concurrency ---- */

#define RACE_ENTRIES 20000u

static void *race_writer(void *arg)
{
    index_file *ix = arg;
    for (uint32_t i = 1; i <= RACE_ENTRIES; i++)
        cr_assert_eq(sl_index_add_time(ix, (int64_t)i * 7, i, 0), 0);
    return NULL;
}

/* A reader with its own mapping looks entries up while the writer adds
 * them: every entry it sees is whole (timestamp matching its rel offset). */
Test(index, concurrent_reader_sees_whole_entries_only)
{
    index_file *w = open_ix(tix_path, INDEX_KIND_TIME, RACE_ENTRIES, IO_CREATE | IO_WRITE);
    index_file *r = open_ix(tix_path, INDEX_KIND_TIME, 0, IO_READ);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, race_writer, w), 0);
    uint32_t seen = 0;
    uint64_t rng = 42;
    while (seen < RACE_ENTRIES) {
        seen = sl_index_count(r);
        if (seen == 0)
            continue;
        int64_t ts;
        uint32_t rel;
        sl_index_entry_time(r, seen - 1, &ts, &rel);
        cr_assert_eq(ts, (int64_t)rel * 7, "entry %u: ts %lld for rel %u", seen - 1, (long long)ts, rel);
        int64_t target = (int64_t)(test_rand(&rng) % (7ull * seen)) + 1;
        sl_index_lookup_time(r, target, &rel);
        cr_assert((int64_t)rel * 7 < target && (int64_t)(rel + 1) * 7 >= target, "target %lld: rel %u",
                  (long long)target, rel);
    }
    pthread_join(t, NULL);
    sl_index_close(r);
    sl_index_close(w);
}
