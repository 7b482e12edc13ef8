/*
 * reorder — siglog_reorder against a model: the records arriving in the
 * order a siglog_merge of the same cursors gives, each held until the
 * watermark (greatest time read minus the lateness) passes it, one read
 * behind the watermark handed out at once and marked late, the rest in
 * (timestamp, partition, offset) order at the end. Also: following
 * cursors catch up and hand out the rest at the finish, a memory budget
 * hands the earliest out early without breaking the order of those not
 * late, and nothing is ever dropped. siglog_reorder_next_batch gives what
 * a record per call gives, also when its buffer holds only some records.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define PARTS 4
#define MAX_EVENTS 4096

static char *dir;
static siglog *store;

static void setup(void)
{
    store = test_store_in_tmpdir("reorder", &dir);
}

static void teardown(void)
{
    test_store_close_rmtree(store, dir);
}

TestSuite(reorder, .init = setup, .fini = teardown, .timeout = 120);

typedef struct item {
    int64_t ts;
    uint32_t partition;
    uint64_t offset;
    int late;
} item;

static int item_cmp(const void *pa, const void *pb)
{
    const item *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Append n events from offset `first` on: times grow by 100 us per event
 * with a jitter of up to `jitter` us either way (late arrivals). */
static void append_jittered(siglog_stream *st, uint64_t first, uint64_t n, int64_t jitter, size_t value_bytes)
{
    uint64_t seed = 7 + first;
    char *v = malloc(value_bytes + 32);
    for (uint64_t i = first; i < first + n; i++) {
        test_event t;
        test_event_make(&t, 3, i);
        int len = snprintf(v, value_bytes + 32, "{\"i\":%llu,\"p\":\"%0*d\"}", (unsigned long long)i,
                           (int)value_bytes, 0);
        t.ev.value = v;
        t.ev.value_len = (size_t)len;
        t.ev.timestamp_us = 1000000 + (int64_t)i * 100 + (int64_t)(test_rand(&seed) % (uint64_t)(2 * jitter + 1)) -
                            jitter;
        cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, &t.ev, 1, NULL, NULL), 0);
    }
    free(v);
    cr_assert_eq(siglog_sync(store), 0);
}

static size_t open_cursors(siglog_stream *st, uint32_t parts, unsigned flags, siglog_cursor **cur)
{
    for (uint32_t p = 0; p < parts; p++)
        cr_assert_eq(siglog_cursor_open(&cur[p], st, p, SIGLOG_SEEK_START, 0, flags), 0);
    return parts;
}

static void close_cursors(siglog_cursor **cur, size_t n)
{
    for (size_t i = 0; i < n; i++)
        siglog_cursor_close(cur[i]);
}

static item as_item(const siglog_record *r, int late)
{
    return (item){ .ts = r->timestamp_us, .partition = r->partition, .offset = r->offset, .late = late };
}

/* The arrival order: what a merge of the partitions gives. */
static size_t arrivals(siglog_stream *st, uint32_t parts, item *out)
{
    siglog_cursor *cur[PARTS];
    size_t nc = open_cursors(st, parts, 0, cur), n = 0;
    siglog_merge *m;
    cr_assert_eq(siglog_merge_open(&m, cur, nc), 0);
    const siglog_record *r;
    int rc;
    while ((rc = siglog_merge_next(m, &r, NULL)) == 1) {
        cr_assert_lt(n, MAX_EVENTS);
        out[n++] = as_item(r, 0);
    }
    cr_assert_eq(rc, 0);
    siglog_merge_close(m);
    close_cursors(cur, nc);
    return n;
}

/* The model: written from the definition, one arrival at a time, every
 * held item the watermark passed going out (sorted) before the next. */
static size_t model(const item *in, size_t n, int64_t lateness, item *out)
{
    item *held = malloc((n ? n : 1) * sizeof *held);
    size_t nheld = 0, nout = 0;
    int64_t max_seen = INT64_MIN, watermark = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (in[i].ts < watermark) {
            out[nout] = in[i];
            out[nout++].late = 1;
            continue;
        }
        if (in[i].ts > max_seen)
            max_seen = in[i].ts;
        if (max_seen - lateness > watermark)
            watermark = max_seen - lateness;
        held[nheld++] = in[i];
        qsort(held, nheld, sizeof *held, item_cmp);
        size_t k = 0;
        while (k < nheld && held[k].ts < watermark)
            out[nout++] = held[k++];
        memmove(held, held + k, (nheld - k) * sizeof *held);
        nheld -= k;
    }
    for (size_t k = 0; k < nheld; k++)
        out[nout++] = held[k];
    free(held);
    return nout;
}

/* Through siglog_reorder_next_batch (batch > 0 records per call) into a
 * buffer of BATCH_BYTES, which holds only some of a batch's records: the
 * rest must wait for the next call. */
#define BATCH_BYTES 4096

/* Drain r until it has nothing now, a record per call (batch 0) or in
 * batches; returns how many it handed out. */
static size_t drain(siglog_reorder *r, item *out, size_t at, size_t batch)
{
    const siglog_record *rec;
    int late, rc;
    size_t n = at;
    if (!batch) {
        while ((rc = siglog_reorder_next(r, &rec, NULL, &late)) == 1) {
            cr_assert_lt(n, MAX_EVENTS);
            out[n++] = as_item(rec, late);
        }
    } else {
        siglog_record recs[64];
        int lates[64];
        static uint8_t buf[BATCH_BYTES];
        size_t used;
        cr_assert_leq(batch, 64);
        while ((rc = siglog_reorder_next_batch(r, recs, NULL, lates, batch, buf, sizeof buf, &used)) > 0) {
            cr_assert_leq(used, sizeof buf);
            for (int i = 0; i < rc; i++) {
                cr_assert_lt(n, MAX_EVENTS);
                out[n++] = as_item(&recs[i], lates[i]);
            }
        }
    }
    cr_assert_eq(rc, 0, "siglog_reorder_next%s: %d (%s)", batch ? "_batch" : "", rc, siglog_errdetail());
    return n - at;
}

static void assert_same(const item *want, size_t nwant, const item *got, size_t ngot, const char *what)
{
    cr_assert_eq(ngot, nwant, "%s: %zu records handed out, the model has %zu", what, ngot, nwant);
    for (size_t i = 0; i < nwant; i++)
        cr_assert(want[i].ts == got[i].ts && want[i].partition == got[i].partition &&
                      want[i].offset == got[i].offset && want[i].late == got[i].late,
                  "%s: record %zu is (%lld, %u, %llu, late %d), the model's (%lld, %u, %llu, late %d)", what, i,
                  (long long)got[i].ts, got[i].partition, (unsigned long long)got[i].offset, got[i].late,
                  (long long)want[i].ts, want[i].partition, (unsigned long long)want[i].offset, want[i].late);
}

static size_t count_late(const item *v, size_t n)
{
    size_t late = 0;
    for (size_t i = 0; i < n; i++)
        late += (size_t)v[i].late;
    return late;
}

Test(reorder, matches_the_model_for_every_lateness)
{
    siglog_stream *st = test_stream_create(store, "ev", PARTS, SIGLOG_SYNC_NONE, 1 << 20);
    append_jittered(st, 0, 3000, 2000, 40);
    static item in[MAX_EVENTS], want[MAX_EVENTS], got[MAX_EVENTS];
    size_t n = arrivals(st, PARTS, in);
    cr_assert_eq(n, 3000);
    const int64_t latenesses[] = { 0, 500, 2000, 4000, INT64_MAX };
    const size_t batches[] = { 0, 1, 7, 64 }; /* 0: a record per call */
    for (size_t t = 0; t < 5 * 4; t++) {
        size_t l = t / 4, batch = batches[t % 4];
        char what[64];
        snprintf(what, sizeof what, "lateness %lld us, batch %zu", (long long)latenesses[l], batch);
        size_t nwant = model(in, n, latenesses[l], want);
        siglog_cursor *cur[PARTS];
        size_t nc = open_cursors(st, PARTS, 0, cur);
        siglog_reorder_options o;
        siglog_reorder_options_default(&o);
        o.max_lateness_us = latenesses[l];
        siglog_reorder *r;
        cr_assert_eq(siglog_reorder_open(&r, cur, nc, &o), 0);
        size_t ngot = drain(r, got, 0, batch);
        siglog_reorder_finish(r);
        ngot += drain(r, got, ngot, batch);
        assert_same(want, nwant, got, ngot, what);
        cr_assert_eq(siglog_reorder_late_count(r), count_late(want, nwant), "%s: late count", what);
        /* Jitter of 2000 us either way: 4000 us of lateness leave none late. */
        if (latenesses[l] >= 4000)
            cr_assert_eq(count_late(got, ngot), 0, "%s: late records", what);
        else
            cr_assert_gt(count_late(got, ngot), 0, "%s: the test must have late records", what);
        siglog_reorder_close(r);
        close_cursors(cur, nc);
    }
}

Test(reorder, following_cursors_catch_up_and_the_rest_comes_at_the_finish)
{
    siglog_stream *st = test_stream_create(store, "ev", 1, SIGLOG_SYNC_NONE, 1 << 20);
    append_jittered(st, 0, 500, 1000, 40);
    siglog_cursor *cur[1];
    open_cursors(st, 1, SIGLOG_CURSOR_FOLLOW, cur);
    siglog_reorder_options o;
    siglog_reorder_options_default(&o);
    o.max_lateness_us = 800;
    siglog_reorder *r;
    cr_assert_eq(siglog_reorder_open(&r, cur, 1, &o), 0);
    static item in[MAX_EVENTS], want[MAX_EVENTS], got[MAX_EVENTS];
    /* In batches: a call that has nothing more now returns 0 too. */
    size_t first = drain(r, got, 0, 7);
    cr_assert(first > 0 && first < 500, "caught up with %zu of 500: some must wait for the watermark", first);
    append_jittered(st, 500, 500, 1000, 40);
    size_t ngot = first + drain(r, got, first, 7);
    cr_assert_lt(ngot, 1000);
    siglog_reorder_finish(r);
    ngot += drain(r, got, ngot, 7);
    /* One partition arrives in offset order however the reads were cut. */
    size_t n = arrivals(st, 1, in);
    assert_same(want, model(in, n, 800, want), got, ngot, "following");
    siglog_reorder_close(r);
    close_cursors(cur, 1);
}

/* The reorder over the budget test's stream, read a record per call or
 * in batches (batch); returns how many went out before the finish. */
static size_t reorder_over_budget(siglog_stream *st, item *got, size_t *n, size_t batch)
{
    siglog_cursor *cur[PARTS];
    size_t nc = open_cursors(st, PARTS, 0, cur);
    siglog_reorder_options o;
    siglog_reorder_options_default(&o);
    o.max_lateness_us = INT64_MAX;
    o.memory_bytes = 1 << 20;
    siglog_reorder *r;
    cr_assert_eq(siglog_reorder_open(&r, cur, nc, &o), 0);
    size_t before_finish = drain(r, got, 0, batch);
    siglog_reorder_finish(r);
    *n = before_finish + drain(r, got, before_finish, batch);
    cr_assert_eq(siglog_reorder_late_count(r), count_late(got, *n));
    siglog_reorder_close(r);
    close_cursors(cur, nc);
    return before_finish;
}

Test(reorder, a_memory_budget_hands_the_earliest_out_early_and_keeps_the_rest_in_order)
{
    siglog_stream *st = test_stream_create(store, "ev", PARTS, SIGLOG_SYNC_NONE, 1 << 20);
    /* 3000 events of 2 KiB: 6 MiB, six times the budget, and a jitter
     * no budget-bound hold can wait out. */
    append_jittered(st, 0, 3000, 200000, 2048);
    static item got[MAX_EVENTS], batched[MAX_EVENTS];
    size_t n, nbatched;
    size_t before_finish = reorder_over_budget(st, got, &n, 0);
    cr_assert_gt(before_finish, 1000, "only %zu handed out within a 1 MiB budget before the finish", before_finish);
    cr_assert_eq(n, 3000, "every record once: %zu", n);
    /* A 4 KiB buffer holds one record of 2 KiB: each batch call stops at
     * the second, which must come first in the next. */
    cr_assert_eq(reorder_over_budget(st, batched, &nbatched, 64), before_finish);
    assert_same(got, n, batched, nbatched, "batches over the budget");
    const item *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (got[i].late)
            continue;
        cr_assert(!prev || item_cmp(prev, &got[i]) < 0, "record %zu (not late) is out of order", i);
        prev = &got[i];
    }
    cr_assert_gt(count_late(got, n), 0);
    qsort(got, n, sizeof *got, item_cmp);
    for (size_t i = 1; i < n; i++)
        cr_assert(item_cmp(&got[i - 1], &got[i]) < 0, "record handed out twice");
}

/* A first record larger than the buffer: SIGLOG_ETOOBIG with the bytes it
 * needs and nothing consumed; a buffer of that size then gets it, and the
 * rest follow as a record per call gives them. */
Test(reorder, a_batch_buffer_too_small_for_one_record_consumes_nothing)
{
    siglog_stream *st = test_stream_create(store, "ev", PARTS, SIGLOG_SYNC_NONE, 1 << 20);
    append_jittered(st, 0, 300, 2000, 200);
    static item want[MAX_EVENTS], got[MAX_EVENTS];
    siglog_cursor *cur[PARTS];
    siglog_reorder *r;
    for (int batched = 0; batched < 2; batched++) {
        size_t nc = open_cursors(st, PARTS, 0, cur);
        siglog_reorder_options o;
        siglog_reorder_options_default(&o);
        o.max_lateness_us = 0; /* records come late from the first ones on */
        cr_assert_eq(siglog_reorder_open(&r, cur, nc, &o), 0);
        size_t n = 0;
        if (batched) {
            siglog_record rec;
            int late;
            uint8_t small[16];
            size_t need = 0;
            cr_assert_eq(siglog_reorder_next_batch(r, &rec, NULL, &late, 1, small, sizeof small, &need),
                         SIGLOG_ETOOBIG);
            cr_assert_gt(need, sizeof small);
            uint8_t *buf = malloc(need);
            cr_assert_eq(siglog_reorder_next_batch(r, &rec, NULL, &late, 1, buf, need, NULL), 1, "%s",
                         siglog_errdetail());
            got[n++] = as_item(&rec, late);
            free(buf);
            n += drain(r, got, n, 64);
            siglog_reorder_finish(r);
            n += drain(r, got, n, 64);
            assert_same(want, 300, got, n, "after ETOOBIG");
        } else {
            n = drain(r, want, 0, 0);
            siglog_reorder_finish(r);
            cr_assert_eq(n + drain(r, want, n, 0), 300);
            cr_assert_gt(count_late(want, 300), 0);
        }
        siglog_reorder_close(r);
        close_cursors(cur, nc);
    }
    siglog_record rec;
    uint8_t buf[16];
    cr_assert_eq(siglog_reorder_next_batch(NULL, &rec, NULL, NULL, 1, buf, sizeof buf, NULL), SIGLOG_EINVAL);
}

Test(reorder, refuses_a_negative_lateness)
{
    siglog_reorder_options o;
    siglog_reorder_options_default(&o);
    o.max_lateness_us = -1;
    siglog_reorder *r = (siglog_reorder *)1;
    cr_assert_eq(siglog_reorder_open(&r, NULL, 0, &o), SIGLOG_EINVAL);
    cr_assert_null(r);
}
