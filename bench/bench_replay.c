/*
 * bench_replay — one repetition of a replay through libsiglog.
 *
 *   --mode=seq    one cursor over partition 0 from the start
 *   --mode=all    every partition, one after another (what
 *                 `siglog replay --format value` does)
 *   --mode=merge  one cursor per partition under siglog_merge (time order)
 *   --build=1     first fill a fresh store (--events, --partitions, --lz4,
 *                 --data) — not timed; --build=0 reuses --dir
 *   --keep=1      leave the store for the next repetition / the CLI
 *
 * Every record's value length is summed, so each record is really handed
 * out. Prints events_per_s and mb_per_s of values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

int main(int argc, char **argv)
{
    const char *mode = bench_opt(argc, argv, "mode", "seq");
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/replay");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 200000);
    uint32_t parts = (uint32_t)bench_opt_ll(argc, argv, "partitions", 1);
    if (bench_opt_ll(argc, argv, "build", 1)) {
        bench_pool pool;
        pool_from_options(&pool, argc, argv, events);
        bench_build_store(dir, &pool, events, parts, (int)bench_opt_ll(argc, argv, "lz4", 1));
        pool_free(&pool);
    }
    siglog_stream *st;
    siglog *s = bench_open_reader(dir, &st);
    siglog_stream_config cfg;
    siglog_stream_config_get(st, &cfg);
    parts = cfg.partitions;

    uint64_t n = 0, vb = 0;
    const siglog_record *r;
    bench_span span;
    bench_span_start(&span);
    if (strcmp(mode, "merge") == 0) {
        siglog_cursor **c = calloc(parts, sizeof *c);
        for (uint32_t p = 0; p < parts; p++)
            bench_check(siglog_cursor_open(&c[p], st, p, SIGLOG_SEEK_START, 0, 0), "siglog_cursor_open");
        siglog_merge *m;
        bench_check(siglog_merge_open(&m, c, parts), "siglog_merge_open");
        size_t which;
        int rc;
        int64_t last = INT64_MIN;
        while ((rc = siglog_merge_next(m, &r, &which)) == 1) {
            if (r->timestamp_us < last)
                bench_die("merge out of time order");
            last = r->timestamp_us;
            n++;
            vb += r->value_len;
        }
        bench_check(rc, "siglog_merge_next");
        siglog_merge_close(m);
        for (uint32_t p = 0; p < parts; p++)
            siglog_cursor_close(c[p]);
        free(c);
    } else {
        uint32_t last = strcmp(mode, "all") == 0 ? parts : 1;
        for (uint32_t p = 0; p < last; p++) {
            siglog_cursor *c;
            bench_check(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), "siglog_cursor_open");
            int rc;
            while ((rc = siglog_cursor_next(c, &r)) == 1) {
                n++;
                vb += r->value_len;
            }
            bench_check(rc, "siglog_cursor_next");
            siglog_cursor_close(c);
        }
    }
    bench_span_stop(&span);
    siglog_close(s);
    printf("events=%llu", (unsigned long long)n);
    bench_print_rates("", &span, n, vb);
    printf("\n");
    if (!bench_opt_ll(argc, argv, "keep", 0))
        bench_rm_rf(dir);
    return 0;
}
