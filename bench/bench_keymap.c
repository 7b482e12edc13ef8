/*
 * bench_keymap — key compaction's key map: its peak memory and the time
 * of a compaction, within a memory budget that holds every key and
 * within one that does not (the map then spills, compact_keys.h).
 *
 *   --events=N       events of a one-partition cleanup=compact stream,
 *                    in 4 MiB LZ4 segments (pool events)
 *   --keys=K         distinct keys, event i keyed "user-(i mod K)"
 *                    (default N/2: every key written twice)
 *   --memory=BYTES   the key map's budget (default: the library's)
 *
 * Figures: keys, key_map_bytes (the map's peak, from siglog_compact),
 * key_map_bytes_per_key, key_passes (1: no spill), events_dropped, and
 * the compaction's secs and events_per_s over the sealed events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void build(const char *dir, uint64_t events, uint64_t keys)
{
    bench_pool pool;
    pool_generate(&pool, 100000, 42);
    bench_segment_bytes_max = 4 << 20;
    bench_cleanup = SIGLOG_CLEANUP_COMPACT;
    siglog *s = bench_store_create(dir, "s0", 1, 1, SIGLOG_SYNC_NONE, 0);
    siglog_stream *st;
    bench_check(siglog_stream_get(s, "s0", &st), "siglog_stream_get");
    static char key_text[1000][24];
    siglog_event batch[1000];
    for (uint64_t i = 0; i < events;) {
        size_t n = 0;
        for (; n < 1000 && i < events; n++, i++) {
            pool_event(&pool, i, &batch[n]);
            int len = snprintf(key_text[n], sizeof key_text[n], "user-%llu", (unsigned long long)(i % keys));
            batch[n].key = key_text[n];
            batch[n].key_len = (uint32_t)len;
        }
        bench_check(siglog_append(st, 0, batch, n, NULL, NULL), "siglog_append");
    }
    bench_check(siglog_close(s), "siglog_close");
    pool_free(&pool);
}

int main(int argc, char **argv)
{
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/keymap");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 1000000);
    uint64_t keys = (uint64_t)bench_opt_ll(argc, argv, "keys", (long long)(events / 2));
    if (!keys)
        bench_die("--keys must be at least 1");
    build(dir, events, keys);
    siglog_maintenance *m;
    bench_check(siglog_maintenance_open(&m, dir, NULL), "siglog_maintenance_open");
    siglog_compact_options o = {.mode = SIGLOG_COMPACT_KEYS, .partition = SIGLOG_COMPACT_ALL_PARTITIONS,
                                .memory_bytes = (uint64_t)bench_opt_ll(argc, argv, "memory", 0)};
    siglog_compact_result r;
    bench_span span;
    bench_span_start(&span);
    bench_check(siglog_compact(m, "s0", &o, &r), "siglog_compact");
    bench_span_stop(&span);
    siglog_maintenance_close(m);
    printf("keys=%llu key_map_bytes=%llu key_map_bytes_per_key=%.1f key_passes=%u events_dropped=%llu",
           (unsigned long long)keys, (unsigned long long)r.key_map_bytes, (double)r.key_map_bytes / (double)keys,
           r.key_passes, (unsigned long long)r.events_dropped);
    bench_print_rates("", &span, r.events_in, 0);
    printf("\n");
    bench_rm_rf(dir);
    return 0;
}
