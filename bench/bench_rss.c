/*
 * bench_rss — peak resident memory of a writer and of a reader, which must
 * not grow with the number of events.
 *
 *   --role=writer --events=N  append N events (1000 per call, 8 partitions
 *                             by key, LZ4, sync interval:100) to a fresh store
 *   --role=reader             replay every partition of that store
 *
 * The event pool is small (10,000 events) so the engine's own memory is
 * what shows. Prints base_kib (peak RSS before the store was opened) and
 * peak_kib (getrusage RUSAGE_SELF ru_maxrss at the end). The work runs in a
 * forked child: Linux carries ru_maxrss across exec, so the program itself
 * would report its launcher's peak; a fork starts from this small process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int measure(int argc, char **argv);

int main(int argc, char **argv)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork");
    if (pid == 0)
        _exit(measure(argc, argv));
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        bench_die("measuring child died");
    return WEXITSTATUS(status);
}

static int measure(int argc, char **argv)
{
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/rss");
    const char *role = bench_opt(argc, argv, "role", "writer");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 1000000);
    uint64_t n = 0;
    long base;
    uint64_t t0 = bench_now_ns();
    if (strcmp(role, "writer") == 0) {
        bench_pool pool;
        pool_generate(&pool, 10000, 3);
        base = bench_maxrss_kib();
        t0 = bench_now_ns();
        siglog *s = bench_store_create(dir, "s0", 8, 1, SIGLOG_SYNC_INTERVAL, 100);
        bench_append_range(s, &pool, 0, events);
        n = events;
        bench_check(siglog_close(s), "siglog_close");
        pool_free(&pool);
    } else {
        base = bench_maxrss_kib();
        siglog_stream *st;
        siglog *s = bench_open_reader(dir, &st);
        siglog_stream_config cfg;
        siglog_stream_config_get(st, &cfg);
        for (uint32_t p = 0; p < cfg.partitions; p++) {
            siglog_cursor *c;
            const siglog_record *r;
            bench_check(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), "siglog_cursor_open");
            int rc;
            while ((rc = siglog_cursor_next(c, &r)) == 1)
                n++;
            bench_check(rc, "siglog_cursor_next");
            siglog_cursor_close(c);
        }
        siglog_close(s);
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    printf("events=%llu base_kib=%ld peak_kib=%ld events_per_s=%.1f\n", (unsigned long long)n, base,
           bench_maxrss_kib(), (double)n / secs);
    fflush(stdout);
    if (!bench_opt_ll(argc, argv, "keep", 0))
        bench_rm_rf(dir);
    return 0;
}
