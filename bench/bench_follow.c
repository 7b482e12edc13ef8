/*
 * bench_follow — how soon a follower in ANOTHER process sees a commit.
 *
 *   --events=N --pause-us=P --dir=SCRATCH
 *
 * A writer (this process) appends N events of ~100 bytes to a one-
 * partition `always` stream, one per call, P µs apart, so the follower is
 * asleep in siglog_cursor_wait when each commit arrives: the case the
 * stream's hwm file (futex wake-up) is for. The follower is a forked
 * process with a read-only handle and a FOLLOW cursor. Both note, on the
 * monotonic clock (one per machine), when event i was handed to
 * siglog_append (start), when the append returned (ack: durable and
 * published) and when the follower's cursor returned it (seen).
 *
 * Prints, in µs, the median and p99 of: seen - ack (the follower's delay
 * after the writer's own acknowledgement; negative when it saw the event
 * first, since the writer publishes before its append returns),
 * seen - start and ack - start (the commit itself: the journal sync).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define VALUE_BYTES 100
#define WAIT_MS 1000

typedef struct shared {
    uint64_t *start_ns, *ack_ns, *seen_ns;
} shared;

static void follower(const char *dir, uint64_t n, const shared *sh, int ready)
{
    siglog_stream *st;
    siglog *s = bench_open_reader(dir, &st);
    siglog_cursor *c;
    bench_check(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, SIGLOG_CURSOR_FOLLOW), "cursor_open");
    const siglog_record *r;
    int first = siglog_cursor_next(c, &r);
    if (first < 0)
        bench_check(first, "cursor_next");
    if (write(ready, "r", 1) != 1)
        bench_die("follower: pipe");
    for (uint64_t got = 0; got < n;) {
        int rc = siglog_cursor_next(c, &r);
        if (rc < 0)
            bench_check(rc, "cursor_next");
        if (rc == 0) {
            siglog_cursor_wait(c, WAIT_MS);
            continue;
        }
        uint64_t now = bench_now_ns();
        if (r->offset != got)
            bench_die("follower: offset %llu, expected %llu", (unsigned long long)r->offset,
                      (unsigned long long)got);
        sh->seen_ns[got++] = now;
    }
    siglog_cursor_close(c);
    siglog_close(s);
    _exit(0);
}

static double *deltas(const uint64_t *a, const uint64_t *b, uint64_t n)
{
    double *d = malloc(n * sizeof *d);
    if (!d)
        bench_die("out of memory");
    for (uint64_t i = 0; i < n; i++)
        d[i] = ((double)a[i] - (double)b[i]) / 1000.0;
    return d;
}

static void print_percentiles(const char *name, double *v, uint64_t n)
{
    printf(" %s_p50_us=%.1f %s_p99_us=%.1f", name, stats_percentile(v, n, 0.50), name,
           stats_percentile(v, n, 0.99));
    free(v);
}

int main(int argc, char **argv)
{
    uint64_t n = (uint64_t)bench_opt_ll(argc, argv, "events", 500);
    long pause_us = (long)bench_opt_ll(argc, argv, "pause-us", 2000);
    const char *dir = bench_opt(argc, argv, "dir", "bench-follow");
    bench_rm_rf(dir);
    siglog *w = bench_store_create(dir, "s0", 1, 0, SIGLOG_SYNC_ALWAYS, 0);
    siglog_stream *st;
    bench_check(siglog_stream_get(w, "s0", &st), "stream_get");

    size_t bytes = 3 * n * sizeof(uint64_t);
    uint64_t *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        bench_die("mmap of %zu bytes", bytes);
    shared sh = {mem, mem + n, mem + 2 * n};
    int ready[2];
    if (pipe(ready) != 0)
        bench_die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork");
    if (pid == 0) {
        close(ready[0]);
        follower(dir, n, &sh, ready[1]);
    }
    close(ready[1]);
    char b;
    if (read(ready[0], &b, 1) != 1)
        bench_die("the follower did not start");

    char value[VALUE_BYTES];
    memset(value, 'v', sizeof value);
    for (uint64_t i = 0; i < n; i++) {
        nanosleep(&(struct timespec){pause_us / 1000000, (pause_us % 1000000) * 1000}, NULL);
        siglog_event e = {.timestamp_us = BENCH_T0_US + (int64_t)i, .value = value, .value_len = sizeof value};
        sh.start_ns[i] = bench_now_ns();
        bench_check(siglog_append(st, 0, &e, 1, NULL, NULL), "append");
        sh.ack_ns[i] = bench_now_ns();
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_die("the follower failed (status %d)", status);
    bench_check(siglog_close(w), "close");

    printf("bench=follow_cross_process events=%llu pause_us=%ld", (unsigned long long)n, pause_us);
    print_percentiles("seen_after_ack", deltas(sh.seen_ns, sh.ack_ns, n), n);
    print_percentiles("seen_after_start", deltas(sh.seen_ns, sh.start_ns, n), n);
    print_percentiles("ack_after_start", deltas(sh.ack_ns, sh.start_ns, n), n);
    printf("\n");
    munmap(mem, bytes);
    bench_rm_rf(dir);
    return 0;
}
