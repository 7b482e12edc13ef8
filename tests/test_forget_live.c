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
 *
 * And the same of a forget that died after its intent (its roll done,
 * its journal scrub not): a writer opened since holds the forgotten
 * events' bytes in its journal, and finishing the intent beside it asks
 * that writer for the scrub as a forget does; afterwards no file holds
 * the key or a value while the writer still runs.
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

static void append_event(siglog_stream *st, uint64_t i)
{
    char key[16], value[64];
    event_text(i, key, value);
    siglog_event e = {.key = key, .key_len = strlen(key), .value = value, .value_len = strlen(value)};
    uint64_t off;
    if (siglog_append(st, (uint32_t)(i % PARTITIONS), &e, 1, NULL, &off) != 0 || off != i / PARTITIONS) {
        fprintf(stderr, "writer: append %llu: %s\n", (unsigned long long)i, siglog_errdetail());
        _exit(1);
    }
}

/* The writer: BEFORE events, a byte on ready, then more until stop
 * closes; then the count appended on ready and exit 0 (1: an append
 * failed). */
static void writer(int ready, int stop)
{
    fcntl(stop, F_SETFL, fcntl(stop, F_GETFL) | O_NONBLOCK);
    siglog *s;
    siglog_stream *st;
    if (siglog_open(&s, dir, NULL) != 0 || siglog_stream_get(s, "t", &st) != 0)
        _exit(1);
    char b;
    uint64_t i = 0;
    for (; i < BEFORE || read(stop, &b, 1) != 0; i++) {
        append_event(st, i);
        if (i + 1 == BEFORE && write(ready, "r", 1) != 1)
            _exit(1);
    }
    if (write(ready, &i, sizeof i) != (ssize_t)sizeof i)
        _exit(1);
    _exit(siglog_close(s) == 0 ? 0 : 1);
}

/* The writer opened after a forget died: LATE events keyed "later", a
 * byte on ready, then it holds the store (answering roll requests) until
 * stop closes; exit 0 after a clean close. */
#define LATE 20
static void later_writer(int ready, int stop)
{
    siglog *s;
    siglog_stream *st;
    if (siglog_open(&s, dir, NULL) != 0 || siglog_stream_get(s, "t", &st) != 0)
        _exit(1);
    for (uint32_t i = 0; i < LATE; i++) {
        char value[64];
        snprintf(value, sizeof value, "{\"late\":%u}", (unsigned)i);
        siglog_event e = {.key = "later", .key_len = 5, .value = value, .value_len = strlen(value)};
        if (siglog_append(st, i % PARTITIONS, &e, 1, NULL, NULL) != 0)
            _exit(1);
    }
    char b;
    if (write(ready, "r", 1) != 1 || read(stop, &b, 1) != 0)
        _exit(1);
    _exit(siglog_close(s) == 0 ? 0 : 1);
}

/* Fork a child running body(ready, stop) with its ends of two pipes;
 * returns once it wrote its first byte on ready, the parent's ends in
 * *ready_rd and *stop_wr (closing it tells the child to stop). */
static pid_t child_start(void (*body)(int ready, int stop), int *ready_rd, int *stop_wr)
{
    int ready[2], stop[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(stop), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(ready[0]);
        close(stop[1]);
        body(ready[1], stop[0]);
    }
    close(ready[1]);
    close(stop[0]);
    char b;
    cr_assert_eq(read(ready[0], &b, 1), 1, "the writer failed before it was ready");
    *ready_rd = ready[0];
    *stop_wr = stop[1];
    return pid;
}

static void child_wait(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed (see its stderr)");
}

static int is_forgotten(uint64_t i)
{
    return i < BEFORE && i % KEYS == VICTIM;
}

/* Whether any file of the store holds the victim's key or one of the
 * values of its first BEFORE events; the first such file into *which. */
static int store_holds_victim(char **which)
{
    test_files f = {0};
    test_files_load_below(&f, dir);
    int found = 0;
    for (size_t n = 0; n < f.n && !found; n++) {
        found = test_files_holds(&f, n, "user-3");
        for (uint64_t i = VICTIM; i < BEFORE && !found; i += KEYS) {
            char key[16], value[64];
            event_text(i, key, value);
            found = test_files_holds(&f, n, strchr(value, 's'));
        }
        if (found)
            *which = strdup(f.path[n]);
    }
    test_files_free(&f);
    return found;
}

/* Partition p of st reads back events 0..events-1 (of event_text) at
 * their offsets, byte for byte, but the forgotten ones, then `later`
 * events keyed "later". */
static void read_back(siglog_stream *st, uint32_t p, uint64_t events, uint64_t later)
{
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    uint64_t i = p, late = 0;
    const siglog_record *r;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        while (i < events && is_forgotten(i))
            i += PARTITIONS;
        if (i >= events) {
            cr_assert(r->key_len == 5 && memcmp(r->key, "later", 5) == 0, "partition %u: offset %llu", p,
                      (unsigned long long)r->offset);
            late++;
            continue;
        }
        char key[16], value[64];
        event_text(i, key, value);
        cr_assert_eq(r->offset, i / PARTITIONS, "partition %u: offset %llu, expected %llu", p,
                     (unsigned long long)r->offset, (unsigned long long)(i / PARTITIONS));
        cr_assert(r->key_len == strlen(key) && memcmp(r->key, key, r->key_len) == 0);
        cr_assert(r->value_len == strlen(value) && memcmp(r->value, value, r->value_len) == 0);
        i += PARTITIONS;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    while (i < events && is_forgotten(i))
        i += PARTITIONS;
    cr_assert_geq(i, events, "partition %u ends before event %llu of %llu appended", p, (unsigned long long)i,
                  (unsigned long long)events);
    cr_assert_eq(late, later, "partition %u", p);
    siglog_cursor_close(c);
}

Test(forget_live, a_key_in_a_live_writers_active_segment_goes_everywhere_and_every_acknowledged_event_stays)
{
    int ready, stop;
    pid_t pid = child_start(writer, &ready, &stop);

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
    char *which = NULL;
    cr_assert_not(store_holds_victim(&which), "%s holds the key or a value", which);

    close(stop);
    uint64_t appended;
    cr_assert_eq(read(ready, &appended, sizeof appended), (ssize_t)sizeof appended, "the writer failed");
    close(ready);
    child_wait(pid);
    cr_assert_gt(appended, BEFORE);

    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    for (uint32_t p = 0; p < PARTITIONS; p++)
        read_back(st, p, appended, 0);
    cr_assert_eq(siglog_close(s), 0);
}

Test(forget_live, finishing_an_intent_beside_a_writer_opened_since_has_it_scrub_its_journal)
{
    /* What the dead forget saw: BEFORE events appended by one writer,
     * the journal holding them; then its own roll as the store's writer
     * (what sl_forget_roll does when no writer has the store), so that
     * they are all in sealed segments; then its intent, and no scrub. */
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    for (uint64_t i = 0; i < BEFORE; i++)
        append_event(st, i);
    cr_assert_eq(siglog_close(s), 0);
    test_roll_idle(dir, "t");
    test_write_interrupted_intent(dir, "t", "user-3");

    int ready, stop;
    pid_t pid = child_start(later_writer, &ready, &stop);
    char *which = NULL;
    cr_assert(store_holds_victim(&which), "premise: the journal of the live writer holds the victim's bytes");
    cr_assert(strstr(which, "/journal"), "premise: only the journal and sealed segments hold them (%s)", which);
    free(which);
    which = NULL;

    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_forget_result res;
    int rc = siglog_forget_finish(m, NULL, &res);
    siglog_maintenance_close(m);
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(res.intents_finished, 1);
    cr_assert_eq(res.events_removed, BEFORE / KEYS);
    cr_assert_eq(res.journal_scrubbed, 1, "the live writer was not asked to scrub its journal");

    /* The writer still holds the store. */
    cr_assert_not(store_holds_victim(&which), "%s holds the key or a value", which);

    close(stop);
    close(ready);
    child_wait(pid);
    s = test_store_open_read_only(dir);
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    for (uint32_t p = 0; p < PARTITIONS; p++)
        read_back(st, p, BEFORE, LATE / PARTITIONS);
    cr_assert_eq(siglog_close(s), 0);
}
