/*
 * append — events go in and come back out exactly: every field, edge
 * sizes, many segments, every sync policy, and many threads at once.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static char *dir;
static siglog *store;

static void setup(void)
{
    dir = test_tmpdir("append");
    store = test_store_open(dir, NULL);
}

static void teardown(void)
{
    cr_assert_eq(siglog_close(store), 0, "close: %s", siglog_errdetail());
    test_rmtree(dir);
    free(dir);
}

TestSuite(append, .init = setup, .fini = teardown);

typedef struct expect {
    uint64_t seed, next;
} expect;

static void check_generated(void *ctx, const siglog_record *r)
{
    expect *x = ctx;
    test_event t;
    test_event_make(&t, x->seed, x->next);
    cr_assert_eq(r->offset, x->next, "offsets dense: got %llu want %llu", (unsigned long long)r->offset,
                 (unsigned long long)x->next);
    test_assert_record_eq(r, &t.ev);
    x->next++;
}

static void append_generated(siglog_stream *st, uint64_t seed, uint64_t count, size_t per_call)
{
    test_event *t = calloc(per_call, sizeof *t);
    siglog_event *evs = calloc(per_call, sizeof *evs);
    uint64_t *offs = calloc(per_call, sizeof *offs);
    for (uint64_t i = 0; i < count;) {
        size_t n = count - i < per_call ? (size_t)(count - i) : per_call;
        for (size_t k = 0; k < n; k++) {
            test_event_make(&t[k], seed, i + k);
            evs[k] = t[k].ev;
        }
        int rc = siglog_append(st, 0, evs, n, NULL, offs);
        cr_assert_eq(rc, 0, "append: %s: %s", siglog_strerror(rc), siglog_errdetail());
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(offs[k], i + k);
        i += n;
    }
    free(t);
    free(evs);
    free(offs);
}

struct policy_case {
    uint32_t sync;
    uint32_t compression;
};

ParameterizedTestParameters(append, round_trip_every_policy_and_codec)
{
    static struct policy_case cases[] = {
        {SIGLOG_SYNC_NONE, SIGLOG_COMPRESSION_LZ4},     {SIGLOG_SYNC_NONE, SIGLOG_COMPRESSION_NONE},
        {SIGLOG_SYNC_INTERVAL, SIGLOG_COMPRESSION_LZ4}, {SIGLOG_SYNC_INTERVAL, SIGLOG_COMPRESSION_NONE},
        {SIGLOG_SYNC_ALWAYS, SIGLOG_COMPRESSION_LZ4},   {SIGLOG_SYNC_ALWAYS, SIGLOG_COMPRESSION_NONE},
    };
    return cr_make_param_array(struct policy_case, cases, sizeof cases / sizeof cases[0]);
}

/* Enough events for well over five 64 KiB segments even when LZ4 packs
 * them tightly: an interval commit seals batches at moments that depend on
 * the machine's speed, so their sizes, and how well they compress, vary. */
#define ROUND_TRIP_EVENTS 8000

ParameterizedTest(struct policy_case *pc, append, round_trip_every_policy_and_codec)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.sync_policy = pc->sync;
    c.compression = pc->compression;
    c.segment_bytes_max = 64 * 1024; /* many segments */
    cr_assert_eq(siglog_stream_create(store, "s", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(store, "s", &st), 0);
    append_generated(st, 7, ROUND_TRIP_EVENTS, 100);
    cr_assert_eq(siglog_sync(store), 0);
    expect x = {7, 0};
    cr_assert_eq(test_read_all(st, 0, check_generated, &x), ROUND_TRIP_EVENTS);
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0);
    cr_assert_gt(info.segment_count, 5, "expected many segments, got %llu", (unsigned long long)info.segment_count);
    cr_assert_eq(info.next_offset, ROUND_TRIP_EVENTS);

    /* And again after a reopen. */
    cr_assert_eq(siglog_close(store), 0);
    store = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(store, "s", &st), 0);
    x.next = 0;
    cr_assert_eq(test_read_all(st, 0, check_generated, &x), ROUND_TRIP_EVENTS);
}

Test(append, hundred_thousand_one_at_a_time)
{
    siglog_stream *st = test_stream_create(store, "clicks", 1, SIGLOG_SYNC_INTERVAL, 0);
    append_generated(st, 3, 100000, 1);
    cr_assert_eq(siglog_flush(store), 0);
    expect x = {3, 0};
    cr_assert_eq(test_read_all(st, 0, check_generated, &x), 100000);
}

Test(append, single_event)
{
    siglog_stream *st = test_stream_create(store, "one", 1, SIGLOG_SYNC_ALWAYS, 0);
    append_generated(st, 1, 1, 1);
    expect x = {1, 0};
    cr_assert_eq(test_read_all(st, 0, check_generated, &x), 1);
}

typedef struct fields_case {
    siglog_event ev;
} fields_case;

static void check_one(void *ctx, const siglog_record *r)
{
    test_assert_record_eq(r, ctx);
}

Test(append, empty_key_and_value_and_tombstone)
{
    siglog_stream *st = test_stream_create(store, "edge", 1, SIGLOG_SYNC_ALWAYS, 0);
    siglog_event e = {.timestamp_us = -5, .flags = SIGLOG_EVENT_TOMBSTONE, .schema_version = UINT32_MAX};
    cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(test_read_all(st, 0, check_one, &e), 1);
}

Test(append, max_size_record_accepted_and_one_more_byte_refused)
{
    siglog_stream *st = test_stream_create(store, "big", 1, SIGLOG_SYNC_ALWAYS, 0);
    size_t max = 1 << 20;
    char *v = malloc(max + 1);
    for (size_t i = 0; i <= max; i++)
        v[i] = (char)(i * 131);
    siglog_event ok = {.key = "k", .key_len = 1, .value = v, .value_len = max - 1, .timestamp_us = 9};
    cr_assert_eq(siglog_append(st, 0, &ok, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    siglog_event two[2] = {ok, ok};
    two[1].value_len = max; /* key + value = max + 1 */
    int rc = siglog_append(st, 0, two, 2, NULL, NULL);
    cr_assert_eq(rc, SIGLOG_ETOOBIG, "got %s", siglog_errname(rc));
    cr_assert_not_null(strstr(siglog_errdetail(), "event 1"), "detail: %s", siglog_errdetail());
    /* Nothing of the refused call was appended. */
    cr_assert_eq(test_read_all(st, 0, check_one, &ok), 1);
    free(v);
}

Test(append, routes_by_key_consistently_and_keyless_round_robin)
{
    siglog_stream *st = test_stream_create(store, "routed", 4, SIGLOG_SYNC_INTERVAL, 0);
    siglog_event e[3] = {{.key = "alice", .key_len = 5, .value = "1", .value_len = 1},
                         {.key = "alice", .key_len = 5, .value = "2", .value_len = 1},
                         {.value = "3", .value_len = 1}};
    uint32_t parts[3];
    uint64_t offs[3];
    cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, e, 3, parts, offs), 0);
    cr_assert_eq(parts[0], parts[1], "same key, same partition");
    cr_assert_eq(offs[1], offs[0] + 1);
    uint32_t p2[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, &e[2], 1, &p2[i], NULL), 0);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            cr_assert_neq(p2[i], p2[j], "keyless events spread over partitions");
}

Test(append, unknown_partition_refused)
{
    siglog_stream *st = test_stream_create(store, "p", 2, SIGLOG_SYNC_NONE, 0);
    siglog_event e = {.value = "x", .value_len = 1};
    cr_assert_eq(siglog_append(st, 2, &e, 1, NULL, NULL), SIGLOG_ENOENT);
    cr_assert_eq(siglog_append(st, 0, &e, 0, NULL, NULL), SIGLOG_EINVAL);
}

/* ---- concurrency ---- */

#define THREADS 4

typedef struct worker {
    siglog_stream *st;
    int id;
    int count;
    uint64_t *offsets;
    int readable_on_return; /* ALWAYS: an acknowledged event is published */
    char failure[512];      /* why the thread stopped (details are per thread) */
} worker;

static void *append_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->count; i++) {
        char v[64];
        int n = snprintf(v, sizeof v, "{\"thread\":%d,\"seq\":%d}", w->id, i);
        siglog_event e = {.key = &w->id, .key_len = sizeof w->id, .value = v, .value_len = (size_t)n,
                          .timestamp_us = 1000 + i};
        if (siglog_append(w->st, 0, &e, 1, NULL, &w->offsets[i]) != 0) {
            snprintf(w->failure, sizeof w->failure, "append %d: %s", i, siglog_errdetail());
            return (void *)1;
        }
        siglog_partition_info pi;
        if (w->readable_on_return &&
            (siglog_partition_info_get(w->st, 0, &pi) != 0 || pi.next_offset <= w->offsets[i])) {
            snprintf(w->failure, sizeof w->failure, "offset %llu was acknowledged before it was readable",
                     (unsigned long long)w->offsets[i]);
            return (void *)1;
        }
    }
    return NULL;
}

typedef struct seen {
    int per_thread_next[THREADS];
    uint64_t count;
} seen;

static void check_thread_order(void *ctx, const siglog_record *r)
{
    seen *s = ctx;
    cr_assert_eq(r->offset, s->count, "dense offsets");
    int t, i;
    cr_assert_eq(sscanf(r->value, "{\"thread\":%d,\"seq\":%d}", &t, &i), 2, "record intact");
    cr_assert(t >= 0 && t < THREADS);
    cr_assert_eq(i, s->per_thread_next[t], "thread %d: seq %d after %d: lost or duplicated", t, i,
                 s->per_thread_next[t] - 1);
    cr_assert_eq(memcmp(r->key, &t, sizeof t), 0);
    s->per_thread_next[t]++;
    s->count++;
}

static void run_threads(uint32_t sync, int per_thread)
{
    siglog_stream *st = test_stream_create(store, "mt", 1, sync, 256 * 1024);
    pthread_t tid[THREADS];
    worker w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (worker){st, t, per_thread, calloc((size_t)per_thread, sizeof(uint64_t)), sync == SIGLOG_SYNC_ALWAYS,
                        ""};
        pthread_create(&tid[t], NULL, append_worker, &w[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        void *ret;
        pthread_join(tid[t], &ret);
        cr_assert_null(ret, "thread %d failed: %s", t, w[t].failure);
        for (int i = 1; i < per_thread; i++)
            cr_assert_gt(w[t].offsets[i], w[t].offsets[i - 1], "a thread's offsets increase");
        free(w[t].offsets);
    }
    cr_assert_eq(siglog_sync(store), 0);
    seen s = {{0}, 0};
    cr_assert_eq(test_read_all(st, 0, check_thread_order, &s), (uint64_t)THREADS * (uint64_t)per_thread);
}

Test(append, four_threads_one_partition_none)
{
    run_threads(SIGLOG_SYNC_NONE, 20000);
}

Test(append, four_threads_one_partition_interval)
{
    run_threads(SIGLOG_SYNC_INTERVAL, 20000);
}

Test(append, four_threads_one_partition_always, .timeout = 120)
{
    run_threads(SIGLOG_SYNC_ALWAYS, 2000);
}

/* What a writer holds appended but not yet committed is bounded per
 * stream, not per partition: with the background commit an hour away
 * (60 s, the longest interval) only the appenders' own back-pressure
 * commits publish anything, and across eight partitions the unpublished
 * events never exceed the stream's 4 MiB budget plus one open batch per
 * partition and one call. */
Test(append, uncommitted_bytes_bounded_per_stream)
{
    enum { PARTS = 8, PER_CALL = 64, VALUE = 1000, CALLS = 400 };
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = PARTS;
    c.sync_policy = SIGLOG_SYNC_INTERVAL;
    c.sync_interval_ms = 60000;
    c.compression = SIGLOG_COMPRESSION_NONE;
    cr_assert_eq(siglog_stream_create(store, "budget", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(store, "budget", &st), 0);
    static char value[VALUE];
    memset(value, 'v', sizeof value);
    char keys[PER_CALL][16];
    siglog_event ev[PER_CALL];
    uint64_t appended[PARTS] = {0};
    for (int call = 0; call < CALLS; call++) {
        for (int i = 0; i < PER_CALL; i++) {
            int len = snprintf(keys[i], sizeof keys[i], "k%d", call * PER_CALL + i);
            ev[i] = (siglog_event){.key = keys[i], .key_len = (size_t)len, .value = value, .value_len = VALUE};
        }
        uint32_t parts[PER_CALL];
        cr_assert_eq(siglog_append(st, SIGLOG_PARTITION_BY_KEY, ev, PER_CALL, parts, NULL), 0, "%s",
                     siglog_errdetail());
        for (int i = 0; i < PER_CALL; i++)
            appended[parts[i]]++;
        uint64_t unpublished = 0;
        for (uint32_t p = 0; p < PARTS; p++) {
            siglog_partition_info info;
            cr_assert_eq(siglog_partition_info_get(st, p, &info), 0);
            unpublished += appended[p] - info.next_offset;
        }
        uint64_t bound = ((uint64_t)4 << 20) /* budget */ + PARTS * (uint64_t)c.batch_bytes_max + PER_CALL * (VALUE + 64);
        cr_assert_leq(unpublished * VALUE, bound, "call %d: %llu events appended and not committed", call,
                      (unsigned long long)unpublished);
    }
}
