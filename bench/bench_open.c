/*
 * bench_open — how long a writer open takes, cleanly and after a crash.
 *
 *   --build=1 --events=N  fill a fresh store: 4 partitions by key, sync
 *                         interval:100, 8 MiB segments, so N events make
 *                         many sealed segments and one active per partition
 *   --mode=clean          time siglog_open of the closed store
 *   --mode=crash          a child opens the store, appends --crash-events
 *                         more, commits 90% of them (the active segments
 *                         grow, the journal holds the commits since the last
 *                         checkpoint), appends the rest and is killed with
 *                         SIGKILL; then time siglog_open (recovery)
 *
 * Prints open_ms and the store's size; the store is kept for the next
 * repetition unless --keep=0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static void fill(siglog *s, const bench_pool *pool, uint64_t from, uint64_t events, int die_at_end)
{
    bench_append_range(s, pool, from, events);
    if (die_at_end)
        raise(SIGKILL); /* no close: open batches, unsynced segments */
}

static uint64_t stored_events(const char *dir)
{
    siglog_stream *st;
    siglog *s = bench_open_reader(dir, &st);
    uint64_t n = 0;
    for (uint32_t p = 0; p < 4; p++) {
        siglog_partition_info info;
        bench_check(siglog_partition_info_get(st, p, &info), "siglog_partition_info_get");
        n += info.next_offset;
    }
    siglog_close(s);
    return n;
}

int main(int argc, char **argv)
{
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/open");
    const char *mode = bench_opt(argc, argv, "mode", "clean");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 400000);
    uint64_t crash_events = (uint64_t)bench_opt_ll(argc, argv, "crash-events", 50000);
    bench_pool pool;
    pool_generate(&pool, 100000, 7);
    bench_segment_bytes_max = 8u << 20;
    if (bench_opt_ll(argc, argv, "build", 1)) {
        siglog *s = bench_store_create(dir, "s0", 4, 1, SIGLOG_SYNC_INTERVAL, 100);
        fill(s, &pool, 0, events, 0);
        bench_check(siglog_close(s), "siglog_close");
    }
    siglog_options o;
    siglog_options_default(&o);
    if (strcmp(mode, "crash") == 0) {
        uint64_t have = stored_events(dir);
        pid_t pid = fork();
        if (pid == 0) {
            siglog *s;
            bench_check(siglog_open(&s, dir, &o), "siglog_open (child)");
            /* Commit most of it (journal + active segments), then die with
             * the rest in flight. */
            fill(s, &pool, have, crash_events - crash_events / 10, 0);
            bench_check(siglog_flush(s), "siglog_flush (child)");
            fill(s, &pool, have + crash_events - crash_events / 10, crash_events / 10, 1);
            _exit(1);
        }
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status))
            bench_die("crash child was not killed");
    } else if (strcmp(mode, "clean") != 0) {
        bench_die("bad --mode %s", mode);
    }
    siglog *s;
    uint64_t t0 = bench_now_ns();
    bench_check(siglog_open(&s, dir, &o), "siglog_open");
    double ms = (double)(bench_now_ns() - t0) / 1e6;
    bench_check(siglog_close(s), "siglog_close");
    printf("open_ms=%.3f store_mb=%.1f events=%llu\n", ms, (double)bench_disk_bytes(dir, ".seg") / 1e6,
           (unsigned long long)stored_events(dir));
    if (!bench_opt_ll(argc, argv, "keep", 1))
        bench_rm_rf(dir);
    pool_free(&pool);
    return 0;
}
