/*
 * maintenance_live — the concurrency proof of the maintenance role: a
 * maintenance process replaces sealed segments (a byte-for-byte copy
 * through the rewrite primitive) and removes sealed prefixes in a loop,
 * while a writer appends and four readers in other processes replay from
 * random offsets, following the writer.
 *
 * What is proven: every reader sees every offset from where it started
 * exactly once, in order, each event byte-identical, up to the last one
 * appended; the only offsets it does not see are those a removal took
 * before it got there, and it is told so (SIGLOG_EGAP) before it goes on
 * at the new log start. No process meets any other error.
 *
 * SIGLOG_LIVE_EVENTS (default 20000) sets how many events the writer
 * appends; the slow suite appends 1M.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "maintenance.h"
#include "rewrite_copy.h"
#include "support.h"

#define SEED 5
#define READERS 4
#define SEGMENT_BYTES (64u * 1024)
#define FIRST_EVENTS 3000

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("maintenance-live");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(maintenance_live, .init = setup, .fini = teardown);

static void append_range(siglog_stream *st, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        uint64_t off;
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, &off), 0, "%s", siglog_errdetail());
        cr_assert_eq(off, i);
    }
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* The maintenance process: until its parent closes *stop, copy a random
 * sealed segment, and every third round remove the first one while
 * enough remain. Exit status 0 when every change succeeded and some
 * happened. */
static void maintenance_loop(int stop)
{
    maintenance *m = NULL;
    catalog *c = NULL;
    int rc = sl_maintenance_open(&m, dir, NULL);
    if (!rc)
        rc = sl_maintenance_catalog(m, "live", 0, &c);
    const segment_params params = {.segment_bytes_max = SEGMENT_BYTES, .index_interval_bytes = 4096,
                                   .file_mode = 0600};
    uint64_t rng = 99, copies = 0, removals = 0;
    char b;
    for (uint64_t round = 0; !rc && read(stop, &b, 1) != 0; round++) {
        if ((rc = sl_catalog_refresh(c)) != 0)
            break;
        size_t sealed = sl_catalog_snapshot_count(sl_catalog_snapshot_get(c)) - 1;
        sl_catalog_snapshot_release(sl_catalog_snapshot_get(c)); /* the ref above */
        sl_catalog_snapshot_release(sl_catalog_snapshot_get(c));
        if (round % 3 == 2 && sealed >= 4) {
            rc = sl_catalog_remove_prefix(c, 1);
            removals++;
        } else if (sealed >= 1) {
            rc = rewrite_copy(c, (size_t)(test_rand(&rng) % sealed), 1, &params);
            copies++;
        }
        sleep_ms(2);
    }
    if (rc)
        fprintf(stderr, "maintenance: %s: %s\n", siglog_strerror(rc), siglog_errdetail());
    sl_maintenance_close(m);
    fprintf(stderr, "maintenance: %" PRIu64 " copies, %" PRIu64 " removals\n", copies, removals);
    _exit(rc || copies == 0 || removals == 0 ? 1 : 0);
}

/* A reader process: from a random offset, follow the log up to `total`. */
static void reader_loop(uint64_t seed, uint64_t total)
{
    uint64_t rng = seed;
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s = NULL;
    siglog_stream *st = NULL;
    siglog_cursor *cur = NULL;
    uint64_t from = test_rand(&rng) % FIRST_EVENTS, want = from, gaps = 0;
    int rc = siglog_open(&s, dir, &o);
    if (!rc)
        rc = siglog_stream_get(s, "live", &st);
    if (!rc)
        rc = siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_OFFSET, (int64_t)from, SIGLOG_CURSOR_FOLLOW);
    int gap = 0;
    while (!rc && want < total) {
        const siglog_record *r;
        int n = siglog_cursor_next(cur, &r);
        if (n == SIGLOG_EGAP) {
            gap = 1; /* told: the next record may be further on */
            gaps++;
            continue;
        }
        if (n == 0) {
            siglog_cursor_wait(cur, 100);
            continue;
        }
        if (n < 0) {
            rc = n;
            break;
        }
        if (r->offset != want && !(gap && r->offset > want)) {
            fprintf(stderr, "reader %" PRIu64 ": offset %" PRIu64 " where %" PRIu64 " belongs%s\n", seed, r->offset,
                    want, gap ? " after a gap" : "");
            _exit(1);
        }
        test_event t;
        test_event_make(&t, SEED, r->offset);
        if (r->value_len != t.ev.value_len || memcmp(r->value, t.ev.value, r->value_len) != 0 ||
            r->key_len != t.ev.key_len || r->timestamp_us != t.ev.timestamp_us) {
            fprintf(stderr, "reader %" PRIu64 ": offset %" PRIu64 " differs\n", seed, r->offset);
            _exit(1);
        }
        want = r->offset + 1;
        gap = 0;
        /* Readers trail the writer, so that maintenance changes the
         * segments they are reading. */
        if (want % 64 == 0)
            sleep_ms(1);
    }
    if (rc)
        fprintf(stderr, "reader %" PRIu64 " at %" PRIu64 ": %s: %s\n", seed, want, siglog_strerror(rc),
                siglog_errdetail());
    siglog_cursor_close(cur);
    siglog_close(s);
    _exit(rc ? 1 : 0);
}

static int exited_ok(pid_t pid)
{
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Test(maintenance_live, readers_see_every_offset_once_while_maintenance_replaces_and_removes, .timeout = 3600)
{
    const char *env = getenv("SIGLOG_LIVE_EVENTS");
    uint64_t total = env ? strtoull(env, NULL, 10) : 20000;
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "live", 1, SIGLOG_SYNC_NONE, SEGMENT_BYTES);
    append_range(st, 0, FIRST_EVENTS);
    cr_assert_eq(siglog_sync(s), 0);
    int stop[2];
    cr_assert_eq(pipe(stop), 0);
    pid_t maint = fork();
    cr_assert_geq(maint, 0);
    if (maint == 0) {
        close(stop[1]);
        /* A non-blocking end: read() returns 0 once the parent closed. */
        int fl = fcntl(stop[0], F_GETFL);
        fcntl(stop[0], F_SETFL, fl | O_NONBLOCK);
        maintenance_loop(stop[0]);
    }
    close(stop[0]);
    pid_t readers[READERS];
    for (int i = 0; i < READERS; i++) {
        readers[i] = fork();
        cr_assert_geq(readers[i], 0);
        if (readers[i] == 0)
            reader_loop(1000 + (uint64_t)i, total);
    }
    for (uint64_t i = FIRST_EVENTS; i < total; i += 500) {
        append_range(st, i, i + 500 < total ? i + 500 : total);
        cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_sync(s), 0);
    int readers_ok = 1;
    for (int i = 0; i < READERS; i++)
        readers_ok &= exited_ok(readers[i]);
    close(stop[1]);
    cr_assert(exited_ok(maint), "the maintenance process failed (see its stderr)");
    cr_assert(readers_ok, "a reader failed (see its stderr)");
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}
