/*
 * retain_task — a writer applies its streams' retention policy itself
 * every retention_interval (store_retention.c): the purge happens with no
 * siglog_retain call and is audited like one; while another handle holds
 * the maintenance role the writer skips its runs (and says so) instead of
 * waiting, and purges once the role is free again; interval 0 runs
 * nothing.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

#define SEED 47
#define EVENTS 4000
#define SEGMENT_BYTES (64u * 1024)
#define DAY_US (86400LL * 1000000)
/* How long a test waits for what the task must do within about an
 * interval: generous, for a loaded machine, never a timing target. */
#define PATIENCE_MS 60000

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("retain_task");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(retain_task, .init = setup, .fini = teardown);

/* What the store logged about retention (the log function runs on the
 * writer's threads). */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int skipped_logged;

static void on_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    pthread_mutex_lock(&log_mu);
    if (strstr(msg, "retention of stream 'r' skipped this time") && strstr(msg, "maintenance is held by pid"))
        skipped_logged = 1;
    pthread_mutex_unlock(&log_mu);
}

static int skipped(void)
{
    pthread_mutex_lock(&log_mu);
    int v = skipped_logged;
    pthread_mutex_unlock(&log_mu);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* A writer whose stream "r" holds EVENTS events of 2023 in several
 * segments: every sealed one is older than a day. */
static siglog *open_writer(siglog_stream **st)
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 8u << 20;
    o.log_fn = on_log;
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    *st = test_stream_create(s, "r", 1, SIGLOG_SYNC_NONE, SEGMENT_BYTES);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        cr_assert_eq(siglog_append(*st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
    return s;
}

static void set_policy(siglog *s, siglog_stream *st, uint64_t interval_us)
{
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.delete_after = DAY_US;
    c.retention_interval = interval_us;
    cr_assert_eq(siglog_stream_config_set(s, "r", &c), 0, "%s", siglog_errdetail());
}

static uint64_t log_start(siglog_stream *st)
{
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
    return info.log_start_offset;
}

/* Wait until the writer reports a moved log start; returns it. */
static uint64_t wait_for_purge(siglog_stream *st)
{
    for (int waited = 0; waited < PATIENCE_MS; waited += 20) {
        uint64_t start = log_start(st);
        if (start > 0)
            return start;
        sleep_ms(20);
    }
    cr_assert_fail("the writer did not purge within %d ms", PATIENCE_MS);
    return 0;
}

typedef struct purges {
    int count;
    uint64_t end;
} purges;

static int count_purge(void *ctx, const siglog_audit_record *e)
{
    purges *p = ctx;
    if (strcmp(e->action, "purge") == 0 && strcmp(e->stream, "r") == 0) {
        cr_assert_str_eq(e->cause, "policy");
        p->count++;
        p->end = e->offset_end;
    }
    return 0;
}

/* The audit trail (its chain checked) explains the purge up to log start
 * `start`. */
static void check_audited(siglog *s, uint64_t start)
{
    purges p = {0};
    cr_assert_eq(siglog_audit_read(s, 1, count_purge, &p, NULL), 0, "%s", siglog_errdetail());
    cr_assert_geq(p.count, 1);
    cr_assert_eq(p.end, start);
}

Test(retain_task, the_writer_purges_every_interval)
{
    siglog_stream *st;
    siglog *s = open_writer(&st);
    cr_assert_eq(log_start(st), 0);
    set_policy(s, st, 50000);
    uint64_t start = wait_for_purge(st);
    check_audited(s, start);
    /* Everything from the new start on is still there. */
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    uint64_t want = start;
    int rc;
    while ((rc = siglog_cursor_next(cur, &r)) == 1)
        cr_assert_eq(r->offset, want++);
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(want, EVENTS);
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}

Test(retain_task, a_held_maintenance_role_is_skipped_not_waited_for)
{
    siglog_stream *st;
    siglog *s = open_writer(&st);
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    set_policy(s, st, 50000);
    for (int waited = 0; !skipped() && waited < PATIENCE_MS; waited += 20)
        sleep_ms(20);
    cr_assert(skipped(), "the writer never reported a skipped run");
    cr_assert_eq(log_start(st), 0);
    siglog_maintenance_close(m);
    check_audited(s, wait_for_purge(st));
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}

Test(retain_task, interval_zero_runs_nothing)
{
    siglog_stream *st;
    siglog *s = open_writer(&st);
    set_policy(s, st, 0);
    /* The task looks at the settings at least every second. */
    sleep_ms(2500);
    cr_assert_eq(log_start(st), 0);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}
