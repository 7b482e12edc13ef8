/*
 * A writer's scheduled compaction (compact_interval, engine/compact_task.c):
 * while another maintenance handle holds the role the due runs are
 * skipped, the writer's appends going on meanwhile; once the role is free
 * the next interval compacts the stream as its cleanup says, keeping each
 * key's newest event.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maintenance.h"
#include "support.h"

#define KEYS 20
#define EVENTS 4000

static char *dir;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int skipped_logged, compacted_logged;

static void on_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    pthread_mutex_lock(&log_mu);
    skipped_logged += strstr(msg, "scheduled compaction skipped") != NULL;
    compacted_logged += strstr(msg, "scheduled compaction of stream kv:") != NULL;
    pthread_mutex_unlock(&log_mu);
}

static int logged(int *counter)
{
    pthread_mutex_lock(&log_mu);
    int n = *counter;
    pthread_mutex_unlock(&log_mu);
    return n;
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(compact_schedule, .fini = teardown, .timeout = 120);

static void append_keyed(siglog_stream *st, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char key[16], value[128];
        snprintf(key, sizeof key, "key-%d", i % KEYS);
        snprintf(value, sizeof value, "{\"i\":%d,\"pad\":\"%080d\"}", i, i);
        siglog_event e = {.key = key, .key_len = strlen(key), .value = value, .value_len = strlen(value)};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
}

/* Events of "kv" a fresh read-only handle reads; *newest_ok set when each
 * key's newest event (offset total - KEYS + k) is among them. */
static uint64_t readable(uint64_t total, int *newest_ok)
{
    siglog *s = test_store_open_read_only(dir);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "kv", &st), 0);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    uint64_t n = 0, newest = 0;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        n++;
        newest += r->offset >= total - KEYS;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(s), 0);
    *newest_ok = newest == KEYS;
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

Test(compact_schedule, a_writer_compacts_every_interval_and_skips_while_maintenance_is_held)
{
    dir = test_tmpdir("compact-schedule");
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 8u << 20;
    o.log_fn = on_log;
    siglog *s;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    /* The role is taken before the first run can be due. */
    maintenance *held;
    cr_assert_eq(sl_maintenance_open(&held, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = 64 * 1024;
    c.batch_bytes_max = 2048;
    c.compression = SIGLOG_COMPRESSION_NONE;
    c.cleanup = SIGLOG_CLEANUP_COMPACT;
    c.compact_interval = 200000; /* 200 ms */
    cr_assert_eq(siglog_stream_create(s, "kv", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "kv", &st), 0);
    append_keyed(st, 0, EVENTS / 2);
    /* Runs fall due and are skipped; appends go on meanwhile. */
    for (int waited = 0; logged(&skipped_logged) < 2 && waited < 20000; waited += 50)
        sleep_ms(50);
    cr_assert_geq(logged(&skipped_logged), 2, "no skipped run was reported");
    append_keyed(st, EVENTS / 2, EVENTS / 2);
    cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
    int newest_ok;
    cr_assert_eq(readable(EVENTS, &newest_ok), EVENTS, "a compaction ran while the role was held");
    cr_assert_eq(logged(&compacted_logged), 0);
    sl_maintenance_close(held);
    /* Free: the next interval compacts the sealed segments by key. */
    uint64_t n = EVENTS;
    for (int waited = 0; (n = readable(EVENTS, &newest_ok)) == EVENTS && waited < 20000; waited += 100)
        sleep_ms(100);
    cr_assert_lt(n, EVENTS, "no scheduled compaction within 20 s");
    cr_assert(newest_ok, "a key's newest event was dropped");
    /* Reported once the run is over (readers see it commit before). */
    for (int waited = 0; logged(&compacted_logged) == 0 && waited < 20000; waited += 50)
        sleep_ms(50);
    cr_assert_geq(logged(&compacted_logged), 1);
    /* The writer appends on after it. */
    append_keyed(st, EVENTS, 10);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}

/* Key compaction counts the writer's active segment in (a key's newest
 * event may be there) while the writer may be half way through writing
 * its next batch: the bytes of that batch past the last whole one are
 * not an error. Here those bytes are written by hand after the writer's
 * last batch, as a writer's pwrite in flight leaves them. */
Test(compact_schedule, key_compaction_reads_the_active_segment_up_to_its_last_whole_batch)
{
    dir = test_tmpdir("compact-active");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = 64 * 1024;
    c.cleanup = SIGLOG_CLEANUP_COMPACT;
    cr_assert_eq(siglog_stream_create(s, "kv", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "kv", &st), 0);
    append_keyed(st, 0, EVENTS);
    cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());

    /* The writer's segment: the last by name (a base offset, zero-padded). */
    char *pd = test_path(dir, "streams/kv/00000");
    DIR *d = opendir(pd);
    cr_assert(d, "%s", pd);
    char last[256] = "";
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".seg") == 0 && strcmp(e->d_name, last) > 0)
            snprintf(last, sizeof last, "%s", e->d_name);
    }
    closedir(d);
    cr_assert_neq(last[0], 0);
    char *active = test_path(pd, last);
    FILE *f = fopen(active, "ab");
    cr_assert(f, "%s", active);
    cr_assert_eq(fwrite("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a", 1, 10, f), 10);
    cr_assert_eq(fclose(f), 0);

    siglog_compact_result r = test_compact_all(dir, "kv", SIGLOG_COMPACT_KEYS, "key compaction");
    cr_assert_gt(r.events_dropped, 0);
    free(active);
    free(pd);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}
