/*
 * bench_groupcommit — the limit for `always` appends of one event per call:
 * group commit with nothing else, in the same run as siglog's figure.
 *
 *   --threads=T --events=N (in all) --dir=SCRATCH
 *
 * T threads each append one ~300-byte record at a time and wait until it
 * is durable. The first thread to find no sync running leads: it gives the
 * threads the last sync served a moment to come back (yielding, at most
 * SIBLING_WAIT_US, as siglog's commit leader does), takes every record
 * queued, writes them with one pwrite to a preallocated file and calls
 * fdatasync; the others wait on a condition variable. No encoding, no
 * checksums, no segment write, no index: what is left is the sync and the
 * thread wake-ups around it, which bound what T threads can gain over one
 * on this machine.
 *
 * Prints events_per_s, events_per_sync and p50/p99/p99.9 latency (µs).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define RECORD_BYTES 300
#define SIBLING_WAIT_US 200
#define FILE_BYTES (64u << 20)

typedef struct group {
    pthread_mutex_t mu;
    pthread_cond_t done;
    int fd;
    uint8_t queue[1u << 20]; /* records waiting for the next sync */
    size_t queued, waiting;  /* bytes, threads */
    uint64_t seq, durable;   /* records queued / made durable so far */
    int syncing;
    size_t last_sync_threads;
    uint64_t write_pos, syncs;
    uint64_t per_thread;
    double *latency_us; /* per thread, per_thread each */
} group;

typedef struct worker {
    group *g;
    size_t id;
} worker;

/* Leader: wait briefly for the last sync's threads, then sync all queued. */
static void lead(group *g)
{
    g->syncing = 1;
    uint64_t until = bench_now_ns() + SIBLING_WAIT_US * 1000ull;
    while (g->waiting < g->last_sync_threads && bench_now_ns() < until) {
        pthread_mutex_unlock(&g->mu);
        sched_yield();
        pthread_mutex_lock(&g->mu);
    }
    static uint8_t out[sizeof g->queue];
    size_t n = g->queued, threads = g->waiting;
    uint64_t upto = g->seq, at = g->write_pos;
    memcpy(out, g->queue, n);
    g->queued = g->waiting = 0;
    g->write_pos = (at + n) % (FILE_BYTES - sizeof g->queue);
    pthread_mutex_unlock(&g->mu);
    if (pwrite(g->fd, out, n, (off_t)at) != (ssize_t)n || fdatasync(g->fd) != 0)
        bench_die("group commit write or fdatasync failed");
    pthread_mutex_lock(&g->mu);
    g->durable = upto;
    g->last_sync_threads = threads;
    g->syncs++;
    g->syncing = 0;
    pthread_cond_broadcast(&g->done);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    group *g = w->g;
    uint8_t record[RECORD_BYTES];
    memset(record, 'e', sizeof record);
    for (uint64_t i = 0; i < g->per_thread; i++) {
        uint64_t t0 = bench_now_ns();
        pthread_mutex_lock(&g->mu);
        memcpy(g->queue + g->queued, record, sizeof record);
        g->queued += sizeof record;
        g->waiting++;
        uint64_t mine = ++g->seq;
        while (g->durable < mine) {
            if (!g->syncing)
                lead(g);
            else
                pthread_cond_wait(&g->done, &g->mu);
        }
        pthread_mutex_unlock(&g->mu);
        g->latency_us[w->id * g->per_thread + i] = (double)(bench_now_ns() - t0) / 1e3;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    size_t threads = (size_t)bench_opt_ll(argc, argv, "threads", 1);
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 2000);
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/groupcommit");
    if (threads < 1 || threads > 64 || events < threads)
        bench_die("need 1..64 threads and at least one event each");
    bench_rm_rf(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/group.dat", dir);
    if (mkdir(dir, 0755) != 0)
        bench_die("cannot create %s", dir);
    static group g;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.done, NULL);
    g.per_thread = events / threads;
    g.latency_us = malloc(threads * g.per_thread * sizeof *g.latency_us);
    /* Preallocated and synced, as siglog's journal is: each sync then
     * writes data blocks only, no file size or block allocation. */
    if ((g.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0 || !g.latency_us)
        bench_die("cannot create %s", path);
    uint8_t *zero = calloc(1, 1u << 20);
    for (uint64_t off = 0; off < FILE_BYTES; off += 1u << 20)
        if (pwrite(g.fd, zero, 1u << 20, (off_t)off) != 1 << 20)
            bench_die("cannot preallocate %s", path);
    if (fsync(g.fd) != 0)
        bench_die("fsync failed");
    free(zero);

    pthread_t tids[64];
    worker ws[64];
    bench_span span;
    bench_span_start(&span);
    for (size_t t = 0; t < threads; t++) {
        ws[t] = (worker){&g, t};
        if (pthread_create(&tids[t], NULL, run_worker, &ws[t]) != 0)
            bench_die("pthread_create failed");
    }
    for (size_t t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    bench_span_stop(&span);
    size_t n = threads * g.per_thread;
    printf("events=%zu", n);
    bench_print_rates("", &span, n, 0);
    printf(" events_per_sync=%.2f p50_us=%.1f p99_us=%.1f p999_us=%.1f\n", (double)n / (double)g.syncs, stats_percentile(g.latency_us, n, 0.5),
           stats_percentile(g.latency_us, n, 0.99), stats_percentile(g.latency_us, n, 0.999));
    close(g.fd);
    bench_rm_rf(dir);
    free(g.latency_us);
    return 0;
}
