/*
 * bench_archive — siglog archive on real events: the export's speed and
 * the archive's size against the store's LZ4 segments (the batches are
 * re-encoded with LZ4HC at the stream's warm_level, default 9), and a
 * read of the archive back.
 *
 *   --data=corpus --corpus=DIR   the events (pool_from_options; the shared
 *                                corpus is what the figure is for)
 *   --rounds=R                   the pool appended R times (default 1)
 *   --dir=SCRATCH
 *
 * Figures: events, archived_events, store_bytes (the sealed LZ4 segments
 * archived), archive_bytes, size_ratio (archive / store), export_secs and
 * export_cpu_secs (the export syncs the archive and the audit trail: on a
 * busy disk the wall time is mostly that), export_mb_per_s (MB of store
 * segments a second of wall time), read_secs,
 * read_mb_per_s (MB of archive a second, every record handed out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "bench.h"

static int add_sealed(void *ctx, const siglog_segment_info *seg)
{
    if (seg->state == 1)
        *(uint64_t *)ctx += seg->bytes;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/archive");
    long long rounds = bench_opt_ll(argc, argv, "rounds", 1);
    bench_pool pool;
    pool_from_options(&pool, argc, argv, 100000);
    bench_segment_bytes_max = 4 << 20;
    char store[4096], out[4200];
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    bench_rm_rf(dir);
    if (mkdir(dir, 0700) != 0 || (mkdir(out, 0700) != 0))
        bench_die("cannot create %s", out);
    siglog *s = bench_store_create(store, "s0", 1, 1, SIGLOG_SYNC_NONE, 0);
    for (long long r = 0; r < rounds; r++)
        bench_append_range(s, &pool, 0, pool.n);
    /* The archive's input: the sealed segments (the active one stays). */
    siglog_stream *st;
    uint64_t store_bytes = 0;
    bench_check(siglog_stream_get(s, "s0", &st), "siglog_stream_get");
    bench_check(siglog_segments_foreach(st, 0, NULL, add_sealed, &store_bytes), "siglog_segments_foreach");
    bench_check(siglog_close(s), "siglog_close");

    siglog_maintenance *m;
    char path[4300];
    bench_check(siglog_maintenance_open(&m, store, NULL), "siglog_maintenance_open");
    bench_span exp;
    bench_span_start(&exp);
    int rc = siglog_archive_export(m, "s0", 0, INT64_MAX, out, 0, path, sizeof path);
    bench_span_stop(&exp);
    if (rc != 1)
        bench_die("siglog_archive_export: %d %s", rc, siglog_errdetail());
    siglog_maintenance_close(m);

    siglog_archive *a;
    bench_check(siglog_archive_open(&a, path), "siglog_archive_open");
    const siglog_archive_info *in = siglog_archive_info_get(a);
    uint64_t archive_bytes = in->bytes, records = 0;
    siglog_archive_close(a);
    bench_span rd;
    bench_span_start(&rd);
    bench_check(siglog_archive_open(&a, path), "siglog_archive_open");
    const siglog_record *r;
    while ((rc = siglog_archive_next(a, &r)) == 1)
        records++;
    bench_check(rc, "siglog_archive_next");
    siglog_archive_close(a);
    bench_span_stop(&rd);
    printf("events=%llu archived_events=%llu store_bytes=%llu archive_bytes=%llu size_ratio=%.3f "
           "export_secs=%.3f export_cpu_secs=%.3f export_mb_per_s=%.1f read_secs=%.3f read_mb_per_s=%.1f\n",
           (unsigned long long)(pool.n * (uint64_t)rounds), (unsigned long long)records,
           (unsigned long long)store_bytes, (unsigned long long)archive_bytes,
           (double)archive_bytes / (double)store_bytes, exp.secs, exp.cpu_secs, (double)store_bytes / 1e6 / exp.secs,
           rd.secs, (double)archive_bytes / 1e6 / rd.secs);
    pool_free(&pool);
    bench_rm_rf(dir);
    return 0;
}
