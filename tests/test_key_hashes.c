/*
 * key_hashes — the distinct key hashes a writer keeps for the key filter
 * of its active segment: the set holds exactly the distinct hashes a sort
 * of every one gives (the zero hash too), the parts follow writes, cuts
 * and seals offset for offset, and the memory follows the distinct keys
 * and the unwritten events, never the events a segment holds.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key_hashes.h"
#include "keyfilter.h"
#include "support.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

typedef struct collected {
    uint64_t *v;
    size_t n, max;
} collected;

static void collect(void *arg, uint64_t h)
{
    collected *c = arg;
    cr_assert_lt(c->n, c->max, "more hashes handed out than held");
    c->v[c->n++] = h;
}

/* The set's hashes, sorted. */
static size_t set_sorted(const key_set *s, uint64_t *out, size_t max)
{
    collected c = {out, 0, max};
    sl_key_set_each(s, collect, &c);
    cr_assert_eq(c.n, s->n, "each visits %zu hashes, the set counts %zu", c.n, s->n);
    qsort(out, c.n, sizeof *out, cmp_u64);
    return c.n;
}

/* hashes[0..n) sorted and made distinct, in place. */
static size_t distinct_sorted(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (d == 0 || v[i] != v[d - 1])
            v[d++] = v[i];
    return d;
}

Test(key_set, holds_each_distinct_hash_once_the_zero_hash_too)
{
    enum { N = 50000 };
    uint64_t rng = 7, *added = malloc(N * sizeof *added), *held = malloc(N * sizeof *held);
    cr_assert(added && held);
    key_set s = {0};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N; i++) {
            /* Repeats from a small range, colliding low bits, zero. */
            uint64_t r = test_rand(&rng);
            added[i] = i % 7 == 0 ? 0 : i % 3 == 0 ? (r % 5000) << 40 : r % 20000;
            cr_assert_eq(sl_key_set_add(&s, added[i]), 0);
        }
        size_t want = distinct_sorted(added, N);
        cr_assert_eq(set_sorted(&s, held, N), want);
        cr_assert_eq(memcmp(held, added, want * sizeof *held), 0, "other hashes held");
        cr_assert_leq(4 * s.n, 3 * s.cap, "a table over three quarters full");
        sl_key_set_clear(&s); /* the second round reuses the table */
        cr_assert_eq(s.n, 0);
        cr_assert_eq(set_sorted(&s, held, N), 0);
    }
    sl_key_set_free(&s);
    free(added);
    free(held);
}

static uint64_t hash_of(uint64_t key)
{
    char k[32];
    int len = snprintf(k, sizeof k, "user-%llu", (unsigned long long)key);
    return sl_keyfilter_hash(k, (size_t)len);
}

static void note(key_hashes *k, uint64_t offset, uint64_t key)
{
    char buf[32];
    int len = snprintf(buf, sizeof buf, "user-%llu", (unsigned long long)key);
    sl_key_hashes_note(k, offset, buf, (size_t)len);
}

/* The set the parts give for [base, end) equals the distinct hashes of
 * keys[base..end). */
static void expect_segment(key_hashes *k, const uint64_t *keys, uint64_t base, uint64_t end)
{
    const key_set *s = sl_key_hashes_segment(k, base, end);
    cr_assert_not_null(s, "[%llu, %llu) not covered", (unsigned long long)base, (unsigned long long)end);
    size_t n = (size_t)(end - base);
    uint64_t *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    cr_assert(want && got);
    for (size_t i = 0; i < n; i++)
        want[i] = hash_of(keys[base + i]);
    size_t d = distinct_sorted(want, n);
    cr_assert_eq(set_sorted(s, got, n), d);
    cr_assert_eq(memcmp(got, want, d * sizeof *got), 0);
    free(want);
    free(got);
}

/* A writer's sequence: events noted ahead of the segment, written in
 * batches, a failed write handing offsets out again, seals. */
Test(key_hashes, parts_follow_writes_cuts_and_seals)
{
    enum { N = 30000 };
    static uint64_t keys[N];
    uint64_t rng = 11;
    key_hashes k = {0};
    for (uint64_t i = 0; i < 10000; i++)
        note(&k, i, keys[i] = test_rand(&rng) % 300);
    sl_key_hashes_written(&k, 4000);
    sl_key_hashes_written(&k, 9000);
    expect_segment(&k, keys, 0, 9000);
    cr_assert_null(sl_key_hashes_segment(&k, 1, 9000), "a set from 0 is not one from 1");
    sl_key_hashes_sealed(&k, 9000);
    /* 9000..9999 are still unwritten; a failed write hands 9500.. out
     * again with other events. */
    sl_key_hashes_cut(&k, 9500);
    for (uint64_t i = 9500; i < 20000; i++)
        note(&k, i, keys[i] = 1000 + test_rand(&rng) % 50);
    sl_key_hashes_written(&k, 20000);
    expect_segment(&k, keys, 9000, 20000);
    sl_key_hashes_sealed(&k, 20000);
    /* A gap (events replayed from elsewhere): the next segment starting
     * below the gap is not covered, the one after it is. */
    for (uint64_t i = 20500; i < N; i++)
        note(&k, i, keys[i] = test_rand(&rng) % 7);
    sl_key_hashes_written(&k, 25000);
    cr_assert_null(sl_key_hashes_segment(&k, 20000, 25000));
    sl_key_hashes_sealed(&k, 25000);
    expect_segment(&k, keys, 25000, N);
    /* A cut below what was written: that segment is read back. */
    sl_key_hashes_sealed(&k, N);
    for (uint64_t i = N; i < N + 100; i++)
        note(&k, i, 1);
    sl_key_hashes_written(&k, N + 100);
    sl_key_hashes_cut(&k, N + 50);
    cr_assert_null(sl_key_hashes_segment(&k, N, N + 50));
    sl_key_hashes_free(&k);
}

/* What the writer keeps follows the segment's distinct keys and the
 * events not yet written, not the events in the segment: two million
 * events over 100 keys, written 1000 at a time, keep a table of the
 * smallest size and a list of a few thousand hashes. */
Test(key_hashes, memory_follows_distinct_keys_not_events)
{
    key_hashes k = {0};
    uint64_t rng = 3;
    const uint64_t n = 2000000;
    for (uint64_t i = 0; i < n; i++) {
        note(&k, i, test_rand(&rng) % 100);
        if (i % 1000 == 999)
            sl_key_hashes_written(&k, i - 500);
    }
    cr_assert_leq(k.written.cap, 1024, "a table of %zu slots for 100 keys", k.written.cap);
    cr_assert_leq(k.cap, 4096, "a list of %zu hashes for 1500 unwritten events", k.cap);
    const key_set *s = sl_key_hashes_segment(&k, 0, n);
    cr_assert_not_null(s);
    cr_assert_eq(s->n, 100);
    sl_key_hashes_free(&k);
}
