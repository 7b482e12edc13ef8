/*
 * concurrency — the engine's threading under ThreadSanitizer.
 *
 * Criterion's forking test runner cannot start under TSan (its inheritable
 * arena clashes with TSan's memory layout), so this is a plain program:
 * each scenario exercises one kind of sharing and checks its result, and
 * the process exits non-zero on the first failed check. TSan itself fails
 * the run on any data race (halt_on_error). Scenarios:
 *   - 4 threads appending to one partition, for every sync policy: offsets
 *     dense, each thread's events in its order, none lost or duplicated;
 *   - 2 writers on 2 partitions while 2 in-process cursors follow them and
 *     a third thread calls siglog_flush/siglog_sync: every reader sees every
 *     event intact, in offset order;
 *   - appends racing the background thread's linger and interval commits;
 *   - for every sync policy, threads waiting in siglog_wait_durable for
 *     what 2 writers just appended, woken by the commits (background,
 *     back-pressure, ALWAYS appends): every wait ends durable, and
 *     siglog_durable_offset then covers the offset;
 *   - 2 writers on 2 partitions while a third thread changes the stream's
 *     config (sync policy through all three, linger, batch and record
 *     sizes, segment size) with siglog_stream_config_set and a fourth
 *     reads it with siglog_stream_config_get: no event lost or reordered,
 *     and every event appended before a change to ALWAYS, or under
 *     ALWAYS, is durable when its call returns.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "siglog.h"

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, " (%s)\n", siglog_errdetail());               \
            exit(1);                                                      \
        }                                                                 \
    } while (0)

static char root[256];

static siglog *open_store(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 8u << 20;
    siglog *s;
    CHECK(siglog_open(&s, path, &o) == 0, "open %s", path);
    return s;
}

static siglog_stream *make_stream(siglog *s, uint32_t partitions, uint32_t sync)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = partitions;
    c.sync_policy = sync;
    c.sync_interval_ms = 5;
    c.linger_us = 1000;
    c.segment_bytes_max = 128 * 1024;
    CHECK(siglog_stream_create(s, "s", &c) == 0, "stream create");
    siglog_stream *st;
    CHECK(siglog_stream_get(s, "s", &st) == 0, "stream get");
    return st;
}

typedef struct writer {
    siglog_stream *st;
    uint32_t partition;
    int id, count;
} writer;

static void *write_events(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < w->count; i++) {
        char v[64];
        int n = snprintf(v, sizeof v, "{\"w\":%d,\"i\":%d}", w->id, i);
        siglog_event e = {.key = &w->id, .key_len = sizeof w->id, .value = v, .value_len = (size_t)n};
        CHECK(siglog_append(w->st, w->partition, &e, 1, NULL, NULL) == 0, "append w%d i%d", w->id, i);
    }
    return NULL;
}

/* Read a partition from the start; check dense offsets and per-writer order. */
static void check_partition(siglog_stream *st, uint32_t partition, int writers, int per_writer)
{
    siglog_cursor *c;
    CHECK(siglog_cursor_open(&c, st, partition, SIGLOG_SEEK_START, 0, 0) == 0, "cursor open");
    int next[8] = {0};
    uint64_t offset = 0;
    const siglog_record *r;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        int w, i;
        CHECK(r->offset == offset, "offset %llu, expected %llu", (unsigned long long)r->offset,
              (unsigned long long)offset);
        CHECK(sscanf(r->value, "{\"w\":%d,\"i\":%d}", &w, &i) == 2 && w >= 0 && w < writers, "record intact");
        CHECK(i == next[w], "writer %d: event %d after %d", w, i, next[w] - 1);
        next[w]++;
        offset++;
    }
    CHECK(rc == 0, "cursor next");
    CHECK(offset == (uint64_t)writers * (uint64_t)per_writer, "read %llu events", (unsigned long long)offset);
    siglog_cursor_close(c);
}

static void four_writers_one_partition(uint32_t sync, int per_writer)
{
    static const char *names[] = {"none", "interval", "always"};
    siglog *s = open_store(names[sync]);
    siglog_stream *st = make_stream(s, 1, sync);
    pthread_t t[4];
    writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (writer){st, 0, i, per_writer};
        pthread_create(&t[i], NULL, write_events, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(siglog_sync(s) == 0, "sync");
    check_partition(st, 0, 4, per_writer);
    CHECK(siglog_close(s) == 0, "close");
}

typedef struct follower {
    siglog_stream *st;
    uint32_t partition;
    uint64_t expect;
} follower;

static void *follow(void *arg)
{
    follower *f = arg;
    siglog_cursor *c;
    CHECK(siglog_cursor_open(&c, f->st, f->partition, SIGLOG_SEEK_START, 0, SIGLOG_CURSOR_FOLLOW) == 0, "open");
    uint64_t seen = 0;
    const siglog_record *r;
    while (seen < f->expect) {
        int rc = siglog_cursor_next(c, &r);
        CHECK(rc >= 0, "follow next");
        if (rc == 0) {
            siglog_cursor_wait(c, 50);
            continue;
        }
        CHECK(r->offset == seen, "follower saw offset %llu, expected %llu", (unsigned long long)r->offset,
              (unsigned long long)seen);
        int w, i;
        CHECK(sscanf(r->value, "{\"w\":%d,\"i\":%d}", &w, &i) == 2, "record intact");
        seen++;
    }
    siglog_cursor_close(c);
    return NULL;
}

typedef struct syncer {
    siglog *s;
    volatile int stop; /* written once by main, read here: atomics below */
} syncer;

static void *sync_loop(void *arg)
{
    syncer *y = arg;
    for (int i = 0; !__atomic_load_n(&y->stop, __ATOMIC_ACQUIRE); i++) {
        CHECK((i % 2 ? siglog_sync(y->s) : siglog_flush(y->s)) == 0, "sync/flush");
        usleep(500);
    }
    return NULL;
}

static void writers_readers_and_syncs(uint32_t sync)
{
    static const char *names[] = {"mixed-none", "mixed-interval", "mixed-always"};
    siglog *s = open_store(names[sync]);
    siglog_stream *st = make_stream(s, 2, sync);
    int per_writer = sync == SIGLOG_SYNC_ALWAYS ? 300 : 3000;
    pthread_t wt[2], ft[2], yt;
    writer w[2];
    follower f[2];
    syncer y = {s, 0};
    pthread_create(&yt, NULL, sync_loop, &y);
    for (int i = 0; i < 2; i++) {
        f[i] = (follower){st, (uint32_t)i, (uint64_t)per_writer};
        pthread_create(&ft[i], NULL, follow, &f[i]);
        w[i] = (writer){st, (uint32_t)i, 0, per_writer};
        pthread_create(&wt[i], NULL, write_events, &w[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(wt[i], NULL);
    CHECK(siglog_flush(s) == 0, "flush");
    for (int i = 0; i < 2; i++)
        pthread_join(ft[i], NULL);
    __atomic_store_n(&y.stop, 1, __ATOMIC_RELEASE);
    pthread_join(yt, NULL);
    CHECK(siglog_close(s) == 0, "close");
}

typedef struct durable_pair {
    siglog_stream *st;
    uint32_t partition;
    int count;
    uint64_t appended; /* atomic: events the writer has appended */
    int waits;         /* waiter only */
} durable_pair;

static void *append_counting(void *arg)
{
    durable_pair *d = arg;
    for (int i = 0; i < d->count; i++) {
        char v[64];
        int n = snprintf(v, sizeof v, "{\"w\":0,\"i\":%d}", i);
        siglog_event e = {.value = v, .value_len = (size_t)n};
        uint64_t off;
        CHECK(siglog_append(d->st, d->partition, &e, 1, NULL, &off) == 0, "append %d", i);
        CHECK(off == (uint64_t)i, "offset %llu for event %d", (unsigned long long)off, i);
        __atomic_store_n(&d->appended, off + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *wait_for_writer(void *arg)
{
    durable_pair *d = arg;
    uint64_t done = 0;
    while (done < (uint64_t)d->count) {
        uint64_t appended = __atomic_load_n(&d->appended, __ATOMIC_ACQUIRE);
        if (appended == done) {
            usleep(100);
            continue;
        }
        int rc = siglog_wait_durable(d->st, d->partition, appended - 1, 10 * 1000000LL);
        CHECK(rc == 0, "wait for offset %llu: %d", (unsigned long long)(appended - 1), rc);
        uint64_t next;
        CHECK(siglog_durable_offset(d->st, d->partition, &next) == 0 && next >= appended, "durable offset");
        done = appended;
        d->waits++;
    }
    return NULL;
}

static void waiters_follow_appends(uint32_t sync)
{
    static const char *names[] = {"wait-none", "wait-interval", "wait-always"};
    siglog *s = open_store(names[sync]);
    siglog_stream *st = make_stream(s, 2, sync);
    int count = sync == SIGLOG_SYNC_ALWAYS ? 300 : 3000;
    durable_pair d[2];
    pthread_t wt[2], at[2];
    for (int i = 0; i < 2; i++) {
        d[i] = (durable_pair){st, (uint32_t)i, count, 0, 0};
        pthread_create(&wt[i], NULL, wait_for_writer, &d[i]);
        pthread_create(&at[i], NULL, append_counting, &d[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(at[i], NULL);
        pthread_join(wt[i], NULL);
        CHECK(d[i].waits > 0, "partition %d: no wait happened", i);
    }
    CHECK(siglog_close(s) == 0, "close");
}

#define CONFIG_CHANGES 12

typedef struct reconfigurer {
    siglog *s;
    siglog_stream *st;
    int stop; /* atomic: the changes are done */
    int gen;  /* atomic: odd while a change runs */
} reconfigurer;

static void *reconfigure(void *arg)
{
    reconfigurer *r = arg;
    for (int i = 0; i < CONFIG_CHANGES; i++) {
        siglog_stream_config c;
        siglog_stream_config_get(r->st, &c);
        c.sync_policy = (uint32_t)(i % 3);
        c.linger_us = 500 + (uint32_t)(i % 4) * 500;
        c.batch_bytes_max = (i % 2 ? 4 : 64) * 1024;
        c.record_bytes_max = (i % 2 ? 64 : 1024) * 1024;
        c.segment_bytes_max = (i % 2 ? 64 : 256) * 1024;
        __atomic_add_fetch(&r->gen, 1, __ATOMIC_ACQ_REL);
        CHECK(siglog_stream_config_set(r->s, "s", &c) == 0, "config change %d", i);
        __atomic_add_fetch(&r->gen, 1, __ATOMIC_ACQ_REL);
        usleep(2000);
    }
    __atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *read_config(void *arg)
{
    reconfigurer *r = arg;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        siglog_stream_config c;
        siglog_stream_config_get(r->st, &c);
        CHECK(c.sync_policy <= SIGLOG_SYNC_ALWAYS && c.partitions == 2, "a config as set");
        usleep(500);
    }
    return NULL;
}

/* A writer that appends until the config changes are done (w->count
 * then says how many) and checks, after each append, what the stream's
 * policy promised: an event appended under ALWAYS, with no change running
 * during the call, is durable when the call returns. */
typedef struct checking_writer {
    writer w;
    reconfigurer *r;
} checking_writer;

static void *write_checking_durability(void *arg)
{
    checking_writer *cw = arg;
    writer *w = &cw->w;
    for (int i = 0; !__atomic_load_n(&cw->r->stop, __ATOMIC_ACQUIRE); i++, w->count++) {
        char v[64];
        int n = snprintf(v, sizeof v, "{\"w\":%d,\"i\":%d}", w->id, i);
        siglog_event e = {.value = v, .value_len = (size_t)n};
        siglog_stream_config c;
        int gen = __atomic_load_n(&cw->r->gen, __ATOMIC_ACQUIRE);
        siglog_stream_config_get(w->st, &c);
        uint64_t off;
        CHECK(siglog_append(w->st, w->partition, &e, 1, NULL, &off) == 0, "append w%d i%d", w->id, i);
        int steady = gen % 2 == 0 && __atomic_load_n(&cw->r->gen, __ATOMIC_ACQUIRE) == gen;
        uint64_t durable;
        CHECK(siglog_durable_offset(w->st, w->partition, &durable) == 0, "durable offset");
        CHECK(!steady || c.sync_policy != SIGLOG_SYNC_ALWAYS || durable > off,
              "w%d i%d at %llu appended under ALWAYS is not durable (durable below %llu)", w->id, i,
              (unsigned long long)off, (unsigned long long)durable);
    }
    return NULL;
}

static void config_changes_while_appending(void)
{
    siglog *s = open_store("reconfigure");
    siglog_stream *st = make_stream(s, 2, SIGLOG_SYNC_INTERVAL);
    reconfigurer r = {.s = s, .st = st};
    pthread_t rt, ct, t[2];
    checking_writer w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (checking_writer){{st, (uint32_t)i, 0, 0}, &r};
        pthread_create(&t[i], NULL, write_checking_durability, &w[i]);
    }
    pthread_create(&rt, NULL, reconfigure, &r);
    pthread_create(&ct, NULL, read_config, &r);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_join(rt, NULL);
    pthread_join(ct, NULL);
    CHECK(siglog_sync(s) == 0, "sync");
    for (uint32_t p = 0; p < 2; p++)
        check_partition(st, p, 1, w[p].w.count);
    CHECK(siglog_close(s) == 0, "close");
}

int main(void)
{
    const char *tmp = getenv("SIGLOG_TEST_TMP");
    snprintf(root, sizeof root, "%s/tsan-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char mk[300];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", tmp && *tmp ? tmp : "/tmp");
    CHECK(system(mk) == 0, "mkdir");
    CHECK(mkdtemp(root) != NULL, "mkdtemp");
    four_writers_one_partition(SIGLOG_SYNC_NONE, 5000);
    four_writers_one_partition(SIGLOG_SYNC_INTERVAL, 5000);
    four_writers_one_partition(SIGLOG_SYNC_ALWAYS, 300);
    for (uint32_t sync = 0; sync <= SIGLOG_SYNC_ALWAYS; sync++)
        writers_readers_and_syncs(sync);
    for (uint32_t sync = 0; sync <= SIGLOG_SYNC_ALWAYS; sync++)
        waiters_follow_appends(sync);
    config_changes_while_appending();
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", root);
    CHECK(system(rm) == 0, "cleanup");
    printf("concurrency: all scenarios passed\n");
    return 0;
}
