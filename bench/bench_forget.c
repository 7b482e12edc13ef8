/*
 * bench_forget — siglog_forget of one key on a long one-partition LZ4
 * stream whose sealed segments carry key filters: how long a forget
 * takes, in wall and CPU time, and how much of the stream it reads and
 * rewrites.
 *
 *   --events=N             events in the store (default 1M), pool events
 *                          with keys Zipf over 100k users
 *   --segment-bytes=B      segment size (default 4 MiB)
 *   --needle-every=K       every K'th event is keyed "needle" (default:
 *                          the segment size in events, about one segment
 *                          in 100 holding it: an LZ4 event takes about
 *                          100 bytes)
 *   --keep=1               leave the store (forgotten) behind
 *
 * Figures: build_events_per_s (filling the store, untimed otherwise),
 * segments, segments_skipped (excluded by their key filters),
 * segments_read, segments_rewritten, segments_rolled (the active one,
 * when it held the key), events_removed, bytes_before/bytes_after (of the
 * segments rewritten), forget_secs and forget_cpu_secs (the whole call:
 * intent, audit, rewrites, journal scrub), rewrite_cpu_mb_per_s (bytes
 * of the segments rewritten per CPU second) and store_cpu_mb_per_s (the
 * store's segment bytes per CPU second: what forgetting a key costs per
 * MB held).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define NEEDLE "needle"

int main(int argc, char **argv)
{
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/forget");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 1000000);
    bench_segment_bytes_max = (uint64_t)bench_opt_ll(argc, argv, "segment-bytes", 4 << 20);
    uint64_t every = (uint64_t)bench_opt_ll(argc, argv, "needle-every", (long long)bench_segment_bytes_max);
    every = every ? every : 1;
    printf("build_events_per_s=%.1f ", bench_build_needle_store(dir, events, every, NEEDLE));

    siglog_stream *st;
    siglog *s = bench_open_reader(dir, &st);
    siglog_partition_info info;
    bench_check(siglog_partition_info_get(st, 0, &info), "siglog_partition_info_get");
    bench_check(siglog_close(s), "siglog_close");

    siglog_maintenance *m;
    bench_check(siglog_maintenance_open(&m, dir, NULL), "siglog_maintenance_open");
    siglog_key k = {NEEDLE, strlen(NEEDLE)};
    siglog_forget_result r;
    bench_span span;
    bench_span_start(&span);
    bench_check(siglog_forget(m, "s0", &k, 1, NULL, &r), "siglog_forget");
    bench_span_stop(&span);
    siglog_maintenance_close(m);
    if (r.events_removed != (events + every - 1 - every / 2) / every)
        bench_die("forget removed %llu events", (unsigned long long)r.events_removed);
    printf("events=%llu segments=%llu segments_skipped=%llu segments_read=%llu segments_rewritten=%llu "
           "segments_rolled=%llu events_removed=%llu bytes_before=%llu bytes_after=%llu forget_secs=%.4f "
           "forget_cpu_secs=%.4f rewrite_cpu_mb_per_s=%.1f store_cpu_mb_per_s=%.1f\n",
           (unsigned long long)events, (unsigned long long)info.segment_count,
           (unsigned long long)r.segments_skipped, (unsigned long long)r.segments_read,
           (unsigned long long)r.segments_rewritten, (unsigned long long)r.segments_rolled,
           (unsigned long long)r.events_removed, (unsigned long long)r.bytes_before,
           (unsigned long long)r.bytes_after, span.secs, span.cpu_secs,
           (double)r.bytes_before / 1e6 / span.cpu_secs, (double)info.bytes / 1e6 / span.cpu_secs);
    if (!bench_opt_ll(argc, argv, "keep", 0))
        bench_rm_rf(dir);
    return 0;
}
