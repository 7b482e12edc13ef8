/*
 * bench_append — one repetition of an append workload through libsiglog.
 *
 *   --events=N      events in all (default 200000)
 *   --threads=T     appending threads (default 1)
 *   --streams=S     streams; thread t appends to stream t % S (default 1)
 *   --partitions=P  partitions per stream (default 1)
 *   --route=own|key own: thread t appends to partition t % P; key: the
 *                   engine routes by the event's user key
 *   --batch=B       events per siglog_append call (default 1000)
 *   --lz4=0|1       compression (default 1)
 *   --sync=none|interval:MS|always
 *   --latency=1     record every call's latency and report p50/p99/p99.9
 *   --data=gen|corpus, --corpus=DIR, --dir=SCRATCH
 *
 * Time runs from the first append to the end of siglog_flush (everything
 * handed to the OS); close, with its final sync, is not timed. Prints
 * events_per_s, mb_per_s (value bytes) and the store's allocated bytes per
 * event split into segments, indexes and journal.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct job {
    siglog_stream *st[8];
    const bench_pool *pool;
    uint64_t events, batch;
    uint32_t threads, streams, partitions;
    int by_key, latency;
    uint64_t next; /* atomic: next event index to hand out */
} job;

typedef struct worker {
    job *j;
    uint32_t id;
    double *lat_us;
    size_t nlat;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    job *j = w->j;
    siglog_stream *st = j->st[w->id % j->streams];
    uint32_t part = j->by_key ? SIGLOG_PARTITION_BY_KEY : w->id % j->partitions;
    siglog_event *evs = malloc(j->batch * sizeof *evs);
    for (;;) {
        uint64_t i0 = __atomic_fetch_add(&j->next, j->batch, __ATOMIC_RELAXED);
        if (i0 >= j->events)
            break;
        uint64_t n = j->events - i0 < j->batch ? j->events - i0 : j->batch;
        for (uint64_t k = 0; k < n; k++)
            pool_event(j->pool, i0 + k, &evs[k]);
        uint64_t t = j->latency ? bench_now_ns() : 0;
        bench_check(siglog_append(st, part, evs, n, NULL, NULL), "siglog_append");
        if (j->latency)
            w->lat_us[w->nlat++] = (double)(bench_now_ns() - t) / 1e3;
    }
    free(evs);
    return NULL;
}

int main(int argc, char **argv)
{
    job j = {0};
    j.events = (uint64_t)bench_opt_ll(argc, argv, "events", 200000);
    j.threads = (uint32_t)bench_opt_ll(argc, argv, "threads", 1);
    j.streams = (uint32_t)bench_opt_ll(argc, argv, "streams", 1);
    j.partitions = (uint32_t)bench_opt_ll(argc, argv, "partitions", 1);
    j.batch = (uint64_t)bench_opt_ll(argc, argv, "batch", 1000);
    j.by_key = strcmp(bench_opt(argc, argv, "route", "own"), "key") == 0;
    j.latency = (int)bench_opt_ll(argc, argv, "latency", 0);
    int lz4 = (int)bench_opt_ll(argc, argv, "lz4", 1);
    const char *sync = bench_opt(argc, argv, "sync", "none");
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/append");
    if (j.streams < 1 || j.streams > 8 || j.threads < 1 || j.threads > 64)
        bench_die("bad --streams or --threads");

    uint32_t policy = SIGLOG_SYNC_NONE, interval = 0;
    if (strncmp(sync, "interval:", 9) == 0) {
        policy = SIGLOG_SYNC_INTERVAL;
        interval = (uint32_t)atoi(sync + 9);
    } else if (strcmp(sync, "always") == 0) {
        policy = SIGLOG_SYNC_ALWAYS;
    } else if (strcmp(sync, "none") != 0) {
        bench_die("bad --sync %s", sync);
    }

    bench_pool pool;
    pool_from_options(&pool, argc, argv, j.events);
    j.pool = &pool;

    siglog *s = bench_store_create(dir, "s0", j.partitions, lz4, policy, interval);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = j.partitions;
    c.compression = lz4 ? SIGLOG_COMPRESSION_LZ4 : SIGLOG_COMPRESSION_NONE;
    c.sync_policy = policy;
    if (interval)
        c.sync_interval_ms = interval;
    for (uint32_t i = 0; i < j.streams; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%u", i);
        if (i)
            bench_check(siglog_stream_create(s, name, &c), "siglog_stream_create");
        bench_check(siglog_stream_get(s, name, &j.st[i]), "siglog_stream_get");
    }

    worker w[64];
    pthread_t tid[64];
    for (uint32_t t = 0; t < j.threads; t++) {
        w[t] = (worker){.j = &j, .id = t};
        if (j.latency)
            w[t].lat_us = malloc((j.events / j.batch + 2) * sizeof(double));
    }
    bench_span span;
    bench_span_start(&span);
    for (uint32_t t = 0; t < j.threads; t++)
        if (pthread_create(&tid[t], NULL, run_worker, &w[t]) != 0)
            bench_die("pthread_create");
    for (uint32_t t = 0; t < j.threads; t++)
        pthread_join(tid[t], NULL);
    bench_check(siglog_flush(s), "siglog_flush");
    bench_span_stop(&span);
    bench_check(siglog_close(s), "siglog_close");

    uint64_t value_bytes = 0;
    for (uint64_t i = 0; i < j.events; i++)
        value_bytes += pool.ev[i % pool.n].value_len;
    uint64_t seg = bench_disk_bytes(dir, ".seg"), oix = bench_disk_bytes(dir, ".oix"),
             tix = bench_disk_bytes(dir, ".tix"), journal = bench_disk_bytes(dir, "/journal");
    printf("events=%llu", (unsigned long long)j.events);
    bench_print_rates("", &span, j.events, value_bytes);
    printf(" seg_bytes_per_event=%.2f index_bytes_per_event=%.2f journal_bytes=%llu value_bytes_per_event=%.2f",
           (double)seg / (double)j.events, (double)(oix + tix) / (double)j.events, (unsigned long long)journal,
           (double)value_bytes / (double)j.events);
    if (j.latency) {
        size_t total = 0;
        for (uint32_t t = 0; t < j.threads; t++)
            total += w[t].nlat;
        double *all = malloc(total * sizeof *all);
        size_t k = 0;
        for (uint32_t t = 0; t < j.threads; t++) {
            memcpy(all + k, w[t].lat_us, w[t].nlat * sizeof *all);
            k += w[t].nlat;
            free(w[t].lat_us);
        }
        printf(" p50_us=%.1f p99_us=%.1f p999_us=%.1f", stats_percentile(all, total, 0.5),
               stats_percentile(all, total, 0.99), stats_percentile(all, total, 0.999));
        free(all);
    }
    printf("\n");
    bench_rm_rf(dir);
    pool_free(&pool);
    return 0;
}
