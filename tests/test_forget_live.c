/*
 * forget_live — siglog_forget in this process beside a writer appending
 * in another: the writer's active segment holds events of the key, so
 * the forget asks the writer to roll it (roll.request) and to zero its
 * journal's old bytes, and the writer answers while it appends on.
 *
 * What is proven: the forget succeeds, rolling the one active segment
 * that holds the key and having the journal scrubbed; while the writer
 * still runs, no file of the store (journal included) holds the key or
 * any of its values; the writer's appends never fail, and after it
 * closes every event it appended (each acknowledged: durable policy) is
 * read at its offset, byte for byte, but the forgotten ones.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "support.h"

#define PARTITIONS 2
#define KEYS 10
#define VICTIM 3       /* key "user-3": partition 1 (odd events) */
#define BEFORE 1000    /* events appended before the forget begins */

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("forget-live");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "t", PARTITIONS, SIGLOG_SYNC_ALWAYS, 1u << 20);
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.compression = SIGLOG_COMPRESSION_NONE; /* so that a byte search means something */
    cr_assert_eq(siglog_stream_config_set(s, "t", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(forget_live, .init = setup, .fini = teardown, .timeout = 120);

/* Event i: to partition i % 2, keyed "user-K" with K = i % KEYS, but for
 * the victim's turns after the first BEFORE events ("other": the forget
 * began, so they are not its). */
static void event_text(uint64_t i, char key[16], char value[64])
{
    if (i >= BEFORE && i % KEYS == VICTIM)
        snprintf(key, 16, "other");
    else
        snprintf(key, 16, "user-%u", (unsigned)(i % KEYS));
    snprintf(value, 64, "{\"v\":\"secret-%06u-of-%s\"}", (unsigned)i, key);
}

/* The writer: BEFORE events, a byte on ready, then more until stop
 * closes; then the count appended on ready and exit 0 (1: an append
 * failed). */
static void writer(int ready, int stop)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    siglog *s;
    siglog_stream *st;
    if (siglog_open(&s, dir, NULL) != 0 || siglog_stream_get(s, "t", &st) != 0)
        _exit(1);
    char b;
    uint64_t i = 0;
    for (; i < BEFORE || read(stop, &b, 1) != 0; i++) {
        char key[16], value[64];
        event_text(i, key, value);
        siglog_event e = {.key = key, .key_len = strlen(key), .value = value, .value_len = strlen(value)};
        uint64_t off;
        if (siglog_append(st, (uint32_t)(i % PARTITIONS), &e, 1, NULL, &off) != 0 || off != i / PARTITIONS) {
            fprintf(stderr, "writer: append %llu: %s\n", (unsigned long long)i, siglog_errdetail());
            _exit(1);
        }
        if (i + 1 == BEFORE && write(ready, "r", 1) != 1)
            _exit(1);
    }
    if (write(ready, &i, sizeof i) != (ssize_t)sizeof i)
        _exit(1);
    _exit(siglog_close(s) == 0 ? 0 : 1);
}

static int is_forgotten(uint64_t i)
{
    return i < BEFORE && i % KEYS == VICTIM;
}

Test(forget_live, a_key_in_a_live_writers_active_segment_goes_everywhere_and_every_acknowledged_event_stays)
{
    int ready[2], stop[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(stop), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        close(stop[1]);
        fcntl(stop[0], F_SETFL, fcntl(stop[0], F_GETFL) | O_NONBLOCK);
        writer(ready[1], stop[0]);
    }
    close(ready[1]);
    close(stop[0]);
    char b;
    cr_assert_eq(read(ready[0], &b, 1), 1, "the writer failed before it was ready");

    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_key k = {"user-3", 6};
    siglog_forget_result res;
    int rc = siglog_forget(m, "t", &k, 1, NULL, &res);
    siglog_maintenance_close(m);
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(res.segments_rolled, 1);
    cr_assert_eq(res.events_removed, BEFORE / KEYS);
    cr_assert_eq(res.journal_scrubbed, 1);

    /* The writer is still appending: no file holds the key or a value. */
    test_files f = {0};
    test_files_load_below(&f, dir);
    for (size_t n = 0; n < f.n; n++) {
        cr_assert_not(test_files_holds(&f, n, "user-3"), "%s holds the key", f.path[n]);
        for (uint64_t i = VICTIM; i < BEFORE; i += KEYS) {
            char key[16], value[64];
            event_text(i, key, value);
            cr_assert_not(test_files_holds(&f, n, strchr(value, 's')), "%s holds %s", f.path[n], value);
        }
    }
    test_files_free(&f);

    close(stop[1]);
    uint64_t appended;
    cr_assert_eq(read(ready[0], &appended, sizeof appended), (ssize_t)sizeof appended, "the writer failed");
    close(ready[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed (see its stderr)");
    cr_assert_gt(appended, BEFORE);

    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    for (uint32_t p = 0; p < PARTITIONS; p++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
        uint64_t i = p;
        const siglog_record *r;
        while ((rc = siglog_cursor_next(c, &r)) == 1) {
            while (is_forgotten(i))
                i += PARTITIONS;
            char key[16], value[64];
            event_text(i, key, value);
            cr_assert_eq(r->offset, i / PARTITIONS, "partition %u: offset %llu, expected %llu", p,
                         (unsigned long long)r->offset, (unsigned long long)(i / PARTITIONS));
            cr_assert(r->key_len == strlen(key) && memcmp(r->key, key, r->key_len) == 0);
            cr_assert(r->value_len == strlen(value) && memcmp(r->value, value, r->value_len) == 0);
            i += PARTITIONS;
        }
        cr_assert_eq(rc, 0, "%s", siglog_errdetail());
        while (i < appended && is_forgotten(i))
            i += PARTITIONS;
        cr_assert_geq(i, appended, "partition %u ends before event %llu of %llu appended", p,
                      (unsigned long long)i, (unsigned long long)appended);
        siglog_cursor_close(c);
    }
    cr_assert_eq(siglog_close(s), 0);
}
