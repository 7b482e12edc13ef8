/*
 * store_tasks — the writer's periodic work, as tasks of its background
 * scheduler (background.h):
 *   linger    seal and write the open batches of NONE streams that
 *             lingered long enough (the commits seal the others);
 *   commit    the INTERVAL streams' commit, every sync_interval_ms;
 *   age-roll  roll active segments past segment_age_max_us;
 *   catalog   pick up the catalog generations a maintenance process
 *             wrote (a moved log start), every CATALOG_POLL_US;
 *   roll-request  answer a maintenance process's roll request
 *             (store_roll_request.c);
 *   compact   the streams' compaction every compact_interval, on a
 *             worker thread of its own (compact_task.c);
 *   space     have min_free measured again (space.c);
 * and on a second scheduler, so that a run that rewrites or removes
 * segments for seconds never holds the tasks above back:
 *   retention apply a stream's retention policy every retention_interval
 *             (store_retention.c).
 * Each task reads the streams' settings at every run, so its period
 * follows them, and takes only the locks appenders take, one partition
 * at a time.
 */
#include <stdlib.h>

#include "background.h"
#include "commit.h"
#include "error.h"
#include "store.h"

/* How stale a writer's log start may be after maintenance moved it: the
 * check costs one small read per partition. */
#define CATALOG_POLL_US 200000

/* What a task does with the streams: those `applies` selects, each
 * partition given to `work` (when set), its delay the smallest `delay_of`
 * over them. */
typedef struct task_pass {
    int (*applies)(const siglog_stream_config *c);
    int (*work)(partition *p, int64_t now_us);
    int64_t (*delay_of)(const siglog_stream_config *c);
} task_pass;

/* Run a pass; returns its delay, BACKGROUND_DELAY_MAX_US when no stream
 * applies; *matched (may be NULL) tells whether any did. */
static int64_t run_pass(struct siglog *s, const task_pass *t, int64_t now_us, int *matched)
{
    siglog_stream **streams;
    size_t ns;
    if (matched)
        *matched = 0;
    if (sl_store_streams_snapshot(s, &streams, &ns) != 0)
        return BACKGROUND_DELAY_MAX_US;
    int64_t delay = BACKGROUND_DELAY_MAX_US;
    for (size_t i = 0; i < ns; i++) {
        siglog_stream *st = streams[i];
        siglog_stream_config c;
        sl_stream_config_load(st, &c);
        if (st->failed || !t->applies(&c))
            continue;
        if (matched)
            *matched = 1;
        int64_t d = t->delay_of(&c);
        if (d < delay)
            delay = d;
        for (uint32_t p = 0; t->work && p < st->cfg.partitions; p++)
            if (t->work(st->parts[p], now_us) != 0)
                sl_store_log(s, SIGLOG_LOG_ERROR, "background work on %s failed: %s", sl_partition_path(st->parts[p]),
                          siglog_errdetail());
    }
    free(streams);
    return delay;
}

static int uses_none(const siglog_stream_config *c)
{
    return c->sync_policy == SIGLOG_SYNC_NONE;
}

static int uses_interval(const siglog_stream_config *c)
{
    return c->sync_policy == SIGLOG_SYNC_INTERVAL;
}

static int rolls_by_age(const siglog_stream_config *c)
{
    return c->segment_age_max_us != 0;
}

static int64_t linger_of(const siglog_stream_config *c)
{
    return c->linger_us;
}

static int64_t interval_of(const siglog_stream_config *c)
{
    return (int64_t)c->sync_interval_ms * 1000;
}

/* A segment rolls at most its age limit (or the scheduler's longest
 * delay) past it. */
static int64_t age_of(const siglog_stream_config *c)
{
    return c->segment_age_max_us > INT64_MAX ? INT64_MAX : (int64_t)c->segment_age_max_us;
}

static int64_t linger_task(void *ctx)
{
    static const task_pass pass = {uses_none, sl_partition_seal_lingering, linger_of};
    struct siglog *s = ctx;
    return run_pass(s, &pass, s->io->monotonic_us(s->io), NULL);
}

/* Commits when the smallest interval passed since the last one; runs at
 * least every BACKGROUND_DELAY_MAX_US, so a changed interval or a new
 * INTERVAL stream is seen that soon. */
static int64_t commit_task(void *ctx)
{
    static const task_pass pass = {uses_interval, NULL, interval_of};
    struct siglog *s = ctx;
    int any;
    int64_t interval = run_pass(s, &pass, 0, &any);
    int64_t now = s->io->monotonic_us(s->io);
    if (!any || now - s->interval_commit_us < interval)
        return any ? s->interval_commit_us + interval - now : BACKGROUND_DELAY_MAX_US;
    s->interval_commit_us = now;
    if (sl_commit_sync(s) != 0)
        sl_store_log(s, SIGLOG_LOG_ERROR, "interval commit failed: %s", siglog_errdetail());
    return interval;
}

static int64_t age_roll_task(void *ctx)
{
    static const task_pass pass = {rolls_by_age, sl_partition_roll_if_old, age_of};
    struct siglog *s = ctx;
    return run_pass(s, &pass, s->io->now_us(s->io), NULL);
}

static int every_stream(const siglog_stream_config *c)
{
    (void)c;
    return 1;
}

static int64_t catalog_poll_of(const siglog_stream_config *c)
{
    (void)c;
    return CATALOG_POLL_US;
}

static int64_t catalog_task(void *ctx)
{
    static const task_pass pass = {every_stream, sl_partition_catalog_poll, catalog_poll_of};
    return run_pass(ctx, &pass, 0, NULL);
}

int sl_store_tasks_start(struct siglog *s)
{
    if (!(s->background = sl_background_new()))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    s->interval_commit_us = s->io->monotonic_us(s->io);
    int rc = sl_background_register(s->background, "linger", 0, linger_task, s);
    if (!rc)
        rc = sl_background_register(s->background, "commit", 0, commit_task, s);
    if (!rc)
        rc = sl_background_register(s->background, "age-roll", 0, age_roll_task, s);
    if (!rc)
        rc = sl_background_register(s->background, "catalog", CATALOG_POLL_US, catalog_task, s);
    if (!rc)
        rc = sl_background_register(s->background, "roll-request", 0, sl_store_roll_request_task, s);
    if (!rc)
        rc = sl_compact_task_register(s, s->background);
    if (!rc)
        rc = sl_background_register(s->background, "space", 0, sl_store_space_task, s);
    if (!rc)
        rc = sl_background_start(s->background);
    if (rc)
        return rc;
    if (!(s->maintenance_tasks = sl_background_new()))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    rc = sl_background_register(s->maintenance_tasks, "retention", 0, sl_store_retention_task, s);
    return rc ? rc : sl_background_start(s->maintenance_tasks);
}

void sl_store_tasks_stop(struct siglog *s)
{
    if (s->maintenance_tasks)
        sl_background_stop(s->maintenance_tasks);
    if (s->background)
        sl_background_stop(s->background);
    sl_compact_task_free(s);
}
