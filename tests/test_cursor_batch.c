/*
 * cursor_batch — siglog_cursor_next_batch hands out exactly what
 * siglog_cursor_next does, in the same order, with every byte copied into
 * the caller's buffer (valid after the cursor's close); a record too big
 * for the buffer is kept for the next call; an error met inside a batch
 * comes after the records before it, never lost; records without headers
 * lie back to back.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define N 2000

static char *dir;
static siglog *store;
static siglog_stream *st;

static void setup(void)
{
    dir = test_tmpdir("cursor_batch");
    store = test_store_open(dir, NULL);
    st = test_stream_create(store, "t", 1, SIGLOG_SYNC_NONE, 64 * 1024);
    for (uint64_t i = 0; i < N; i++) {
        test_event t;
        test_event_make(&t, 7, i);
        if (i % 13 == 0)
            t.ev.value_len = 0; /* empty values are records too */
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0);
    }
    cr_assert_eq(siglog_sync(store), 0);
}

static void teardown(void)
{
    if (store)
        cr_assert_eq(siglog_close(store), 0);
    test_rmtree(dir);
    free(dir);
}

TestSuite(cursor_batch, .init = setup, .fini = teardown);

static siglog_cursor *open_start(void)
{
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0);
    return c;
}

/* Every field and byte of a copied record against the cursor's own. */
static void assert_same(const siglog_record *a, const siglog_record *b)
{
    cr_assert_eq(a->offset, b->offset);
    cr_assert_eq(a->timestamp_us, b->timestamp_us);
    cr_assert_eq(a->partition, b->partition);
    cr_assert_eq(a->schema_version, b->schema_version);
    cr_assert_eq(a->flags, b->flags);
    cr_assert_eq(a->key_len, b->key_len);
    cr_assert_eq(a->key == NULL, b->key == NULL, "offset %llu: key NULL-ness", (unsigned long long)a->offset);
    cr_assert(a->key_len == 0 || memcmp(a->key, b->key, a->key_len) == 0);
    cr_assert_eq(a->value_len, b->value_len);
    cr_assert(a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
    cr_assert_eq(a->header_count, b->header_count);
    for (uint32_t i = 0; i < a->header_count; i++) {
        cr_assert_eq(a->headers[i].key_len, b->headers[i].key_len);
        cr_assert_eq(a->headers[i].value_len, b->headers[i].value_len);
        cr_assert_eq(memcmp(a->headers[i].key, b->headers[i].key, a->headers[i].key_len), 0);
        cr_assert_eq(memcmp(a->headers[i].value, b->headers[i].value, a->headers[i].value_len), 0);
    }
}

static int inside(const void *p, size_t n, const uint8_t *buf, size_t used)
{
    return n == 0 || ((const uint8_t *)p >= buf && (const uint8_t *)p + n <= buf + used);
}

/* Every pointer of r lies in buf[0..used). */
static void assert_in_buffer(const siglog_record *r, const uint8_t *buf, size_t used)
{
    cr_assert(inside(r->key, r->key_len, buf, used));
    cr_assert(inside(r->value, r->value_len, buf, used));
    cr_assert(inside(r->headers, r->header_count * sizeof *r->headers, buf, used));
    for (uint32_t i = 0; i < r->header_count; i++) {
        cr_assert(inside(r->headers[i].key, r->headers[i].key_len, buf, used));
        cr_assert(inside(r->headers[i].value, r->headers[i].value_len, buf, used));
    }
}

/* Read the whole partition in batches of at most max records into a
 * buffer of buf_len bytes, comparing each batch, after the batch cursor
 * has read on, with a second cursor's records one by one. */
static void compare_whole(size_t max, size_t buf_len)
{
    siglog_cursor *batched = open_start(), *single = open_start();
    siglog_record *recs = calloc(max, sizeof *recs);
    uint8_t *buf = malloc(buf_len);
    uint64_t total = 0;
    int n;
    size_t used;
    while ((n = siglog_cursor_next_batch(batched, recs, max, buf, buf_len, &used)) > 0) {
        cr_assert_leq((size_t)n, max);
        cr_assert_leq(used, buf_len);
        for (int i = 0; i < n; i++) {
            const siglog_record *r;
            cr_assert_eq(siglog_cursor_next(single, &r), 1);
            assert_in_buffer(&recs[i], buf, used);
            assert_same(&recs[i], r);
        }
        total += (uint64_t)n;
    }
    cr_assert_eq(n, 0, "%s", siglog_errdetail());
    const siglog_record *r;
    cr_assert_eq(siglog_cursor_next(single, &r), 0);
    cr_assert_eq(total, N);
    siglog_cursor_close(batched);
    siglog_cursor_close(single);
    free(recs);
    free(buf);
}

Test(cursor_batch, equals_cursor_next_with_a_large_buffer)
{
    compare_whole(4096, 4 << 20);
}

Test(cursor_batch, equals_cursor_next_when_the_buffer_limits_each_batch)
{
    compare_whole(4096, 2000); /* a few records per call */
}

Test(cursor_batch, equals_cursor_next_when_the_count_limits_each_batch)
{
    compare_whole(3, 4 << 20);
}

Test(cursor_batch, records_outlive_the_cursor)
{
    siglog_cursor *c = open_start();
    siglog_record recs[64];
    static uint8_t buf[64 * 1024];
    int n = siglog_cursor_next_batch(c, recs, 64, buf, sizeof buf, NULL);
    cr_assert_gt(n, 1);
    siglog_cursor_close(c);
    siglog_cursor *single = open_start();
    for (int i = 0; i < n; i++) {
        const siglog_record *r;
        cr_assert_eq(siglog_cursor_next(single, &r), 1);
        assert_same(&recs[i], r);
    }
    siglog_cursor_close(single);
}

/* Records without headers lie back to back in the buffer, key then value,
 * nothing between them (record_copy.c): the Python module cuts a batch of
 * such records by their lengths alone. */
Test(cursor_batch, records_without_headers_lie_back_to_back)
{
    siglog_cursor *c = open_start();
    static siglog_record recs[N];
    static uint8_t buf[4 << 20];
    int n = siglog_cursor_next_batch(c, recs, N, buf, sizeof buf, NULL);
    cr_assert_eq(n, N, "%d records", n);
    const uint8_t *end = buf; /* of the record before, when it had no headers */
    size_t followers = 0;
    for (int i = 0; i < n; i++) {
        const siglog_record *r = &recs[i];
        if (r->header_count) {
            end = NULL;
            continue;
        }
        const uint8_t *value = r->value, *key = value - r->key_len;
        if (r->key_len)
            cr_assert_eq((const uint8_t *)r->key, key, "record %d: its value does not follow its key", i);
        if (end) {
            cr_assert_eq(key, end, "record %d starts %td bytes after the record before", i, key - end);
            followers++;
        }
        end = value + r->value_len;
    }
    cr_assert_gt(followers, N / 2);
    siglog_cursor_close(c);
}

Test(cursor_batch, a_record_too_big_for_the_buffer_stays_for_the_next_read)
{
    siglog_cursor *c = open_start();
    siglog_record recs[4];
    uint8_t small[8], big[4096];
    size_t need = 0;
    cr_assert_eq(siglog_cursor_next_batch(c, recs, 4, small, sizeof small, &need), SIGLOG_ETOOBIG);
    cr_assert_gt(need, sizeof small);
    cr_assert(strstr(siglog_errdetail(), "offset 0") != NULL, "%s", siglog_errdetail());
    cr_assert_eq(siglog_cursor_position(c), 0);
    size_t used;
    cr_assert_eq(siglog_cursor_next_batch(c, recs, 1, big, need, &used), 1);
    cr_assert_eq(used, need);
    cr_assert_eq(recs[0].offset, 0);
    /* And the one after is read by siglog_cursor_next as usual. */
    const siglog_record *r;
    cr_assert_eq(siglog_cursor_next(c, &r), 1);
    cr_assert_eq(r->offset, 1);
    siglog_cursor_close(c);
}

Test(cursor_batch, bad_arguments_are_refused)
{
    siglog_cursor *c = open_start();
    siglog_record rec;
    uint8_t buf[64];
    cr_assert_eq(siglog_cursor_next_batch(NULL, &rec, 1, buf, sizeof buf, NULL), SIGLOG_EINVAL);
    cr_assert_eq(siglog_cursor_next_batch(c, NULL, 1, buf, sizeof buf, NULL), SIGLOG_EINVAL);
    cr_assert_eq(siglog_cursor_next_batch(c, &rec, 0, buf, sizeof buf, NULL), SIGLOG_EINVAL);
    cr_assert_eq(siglog_cursor_next_batch(c, &rec, 1, NULL, 0, NULL), SIGLOG_EINVAL);
    siglog_cursor_close(c);
}

/* The first segment file of partition 0 of stream t. */
static char *first_segment(void)
{
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/streams/t/00000/00000000000000000000.seg", dir);
    return p;
}

Test(cursor_batch, damage_comes_after_the_records_before_it)
{
    cr_assert_eq(siglog_close(store), 0);
    store = NULL;
    char *seg = first_segment();
    test_flip_byte(seg, test_file_size(seg) / 2, 0x40);
    free(seg);
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    cr_assert_eq(siglog_open(&store, dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(store, "t", &st), 0);

    /* How far a plain cursor gets, and what it says. */
    siglog_cursor *single = open_start();
    const siglog_record *r;
    uint64_t good = 0;
    int rc;
    while ((rc = siglog_cursor_next(single, &r)) == 1)
        good++;
    cr_assert_eq(rc, SIGLOG_ECORRUPT);
    char detail[512];
    snprintf(detail, sizeof detail, "%s", siglog_errdetail());
    siglog_cursor_close(single);
    cr_assert_gt(good, 0);

    siglog_cursor *c = open_start();
    siglog_record *recs = calloc(N, sizeof *recs);
    static uint8_t buf[4 << 20];
    int n = siglog_cursor_next_batch(c, recs, N, buf, sizeof buf, NULL);
    cr_assert_eq((uint64_t)n, good);
    cr_assert_eq(recs[n - 1].offset, good - 1);
    cr_assert_eq(siglog_cursor_next_batch(c, recs, N, buf, sizeof buf, NULL), SIGLOG_ECORRUPT);
    cr_assert_str_eq(siglog_errdetail(), detail);
    free(recs);
    siglog_cursor_close(c);
}
