/*
 * bench_lmdb — an embedded peer measured beside siglog in the same run:
 * LMDB storing the same events, as an embedding program comparing the two
 * would set it up.
 *
 *   one named database per partition (records routed by xxh3(key) % P, as
 *   siglog routes them), keyed by the partition's next offset (MDB_INTEGERKEY,
 *   so MDB_APPEND applies: keys only grow); the value is the event's
 *   [i64 ts][u32 key_len][key][value]; --batch events per write transaction.
 *
 *   --durable=0  MDB_NOSYNC | MDB_NOMETASYNC: a commit hands its pages to the
 *                OS without syncing (siglog's "append, to the OS" figure)
 *   --durable=1  LMDB's default: each commit is synced (the durable figure)
 *   --read=1     then scan every database with a cursor in one read
 *                transaction, touching every value (the scan figure)
 *   --events=N --partitions=P --batch=B --data=gen|corpus --corpus=DIR --dir=SCRATCH
 *
 * Prints the same key=value rates as the other programs (bench.h).
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "bench.h"

#define LMDB_PARTITIONS_MAX 64

static void lmdb_check(int rc, const char *what)
{
    if (rc != 0)
        bench_die("%s: %s", what, mdb_strerror(rc));
}

/* The stored value of an event; returns its length. */
static size_t encode(char *buf, const siglog_event *e)
{
    uint32_t klen = (uint32_t)e->key_len;
    memcpy(buf, &e->timestamp_us, 8);
    memcpy(buf + 8, &klen, 4);
    memcpy(buf + 12, e->key, e->key_len);
    memcpy(buf + 12 + e->key_len, e->value, e->value_len);
    return 12 + e->key_len + e->value_len;
}

static uint64_t scan(MDB_env *env, const MDB_dbi *dbi, uint32_t parts, uint64_t *value_bytes)
{
    MDB_txn *txn;
    lmdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin (read)");
    uint64_t n = 0, vb = 0;
    for (uint32_t p = 0; p < parts; p++) {
        MDB_cursor *c;
        lmdb_check(mdb_cursor_open(txn, dbi[p], &c), "mdb_cursor_open");
        MDB_val k, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            /* Decode what a reader needs, as the raw scan does. */
            uint32_t klen;
            if (v.mv_size < 12)
                bench_die("short value");
            memcpy(&klen, (const char *)v.mv_data + 8, 4);
            if (12 + (size_t)klen > v.mv_size)
                bench_die("bad key length");
            vb += v.mv_size - 12 - klen;
            n++;
        }
        if (rc != MDB_NOTFOUND)
            lmdb_check(rc, "mdb_cursor_get");
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    *value_bytes = vb;
    return n;
}

int main(int argc, char **argv)
{
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 200000);
    uint32_t parts = (uint32_t)bench_opt_ll(argc, argv, "partitions", 8);
    uint64_t batch = (uint64_t)bench_opt_ll(argc, argv, "batch", 1000);
    int durable = (int)bench_opt_ll(argc, argv, "durable", 0);
    int do_read = (int)bench_opt_ll(argc, argv, "read", 0);
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/lmdb");
    if (parts < 1 || parts > LMDB_PARTITIONS_MAX || batch < 1)
        bench_die("--partitions must be 1..%d and --batch >= 1", LMDB_PARTITIONS_MAX);
    bench_rm_rf(dir);
    if (mkdir(dir, 0700) != 0)
        bench_die("mkdir %s", dir);

    bench_pool pool;
    pool_from_options(&pool, argc, argv, events);

    MDB_env *env;
    lmdb_check(mdb_env_create(&env), "mdb_env_create");
    lmdb_check(mdb_env_set_maxdbs(env, parts), "mdb_env_set_maxdbs");
    /* A sparse map far larger than any run needs: LMDB cannot grow it
     * during a write transaction. */
    lmdb_check(mdb_env_set_mapsize(env, (size_t)64 << 30), "mdb_env_set_mapsize");
    lmdb_check(mdb_env_open(env, dir, durable ? 0 : MDB_NOSYNC | MDB_NOMETASYNC, 0600), "mdb_env_open");

    MDB_dbi dbi[LMDB_PARTITIONS_MAX];
    MDB_txn *txn;
    lmdb_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    for (uint32_t p = 0; p < parts; p++) {
        char name[16];
        snprintf(name, sizeof name, "p%05u", p);
        lmdb_check(mdb_dbi_open(txn, name, MDB_CREATE | MDB_INTEGERKEY, &dbi[p]), "mdb_dbi_open");
    }
    lmdb_check(mdb_txn_commit(txn), "mdb_txn_commit");

    size_t next[LMDB_PARTITIONS_MAX] = {0};
    char *buf = malloc(1u << 24);
    uint64_t value_bytes = 0;
    bench_span span;
    bench_span_start(&span);
    for (uint64_t i = 0; i < events;) {
        lmdb_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        for (uint64_t end = i + batch < events ? i + batch : events; i < end; i++) {
            siglog_event e;
            pool_event(&pool, i, &e);
            uint32_t p = parts > 1 && e.key_len ? (uint32_t)(XXH3_64bits(e.key, e.key_len) % parts)
                                                : (uint32_t)(i % parts);
            MDB_val k = {sizeof next[p], &next[p]}, v = {encode(buf, &e), buf};
            lmdb_check(mdb_put(txn, dbi[p], &k, &v, MDB_APPEND), "mdb_put");
            next[p]++;
            value_bytes += e.value_len;
        }
        lmdb_check(mdb_txn_commit(txn), "mdb_txn_commit");
    }
    bench_span_stop(&span);
    printf("events=%llu", (unsigned long long)events);
    bench_print_rates("", &span, events, value_bytes);
    printf(" disk_bytes_per_event=%.2f", (double)bench_disk_bytes(dir, NULL) / (double)events);
    if (do_read) {
        bench_span read;
        uint64_t vb;
        bench_span_start(&read);
        uint64_t n = scan(env, dbi, parts, &vb);
        bench_span_stop(&read);
        if (n != events)
            bench_die("read back %llu of %llu events", (unsigned long long)n, (unsigned long long)events);
        bench_print_rates("read_", &read, n, vb);
    }
    printf("\n");
    mdb_env_close(env);
    free(buf);
    bench_rm_rf(dir);
    pool_free(&pool);
    return 0;
}
