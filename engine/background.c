/*
 * background — the writer's maintenance thread: seals lingering open
 * batches of NONE-policy streams, runs the INTERVAL commits, and rolls
 * segments that passed their age limit. It only ever takes the same locks
 * as appenders, one partition at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "commit.h"
#include "error.h"
#include "store.h"

/* Sleep at least this long between passes, at most a second. */
#define TICK_MIN_US 1000
#define TICK_MAX_US 1000000

static int64_t tick_for(const siglog_stream *st)
{
    int64_t t = st->cfg.sync_policy == SIGLOG_SYNC_NONE ? (int64_t)st->cfg.linger_us
                                                         : (int64_t)st->cfg.sync_interval_ms * 1000;
    return t < TICK_MIN_US ? TICK_MIN_US : t;
}

/* One pass over the streams; returns how long to sleep. */
static int64_t background_pass(struct siglog *s, int64_t *last_commit_us)
{
    siglog_stream **streams;
    size_t ns;
    if (store_streams_snapshot(s, &streams, &ns) != 0)
        return TICK_MAX_US;
    int64_t mono = s->io->monotonic_us(s->io);
    int64_t wall = s->io->now_us(s->io);
    int64_t sleep = TICK_MAX_US;
    int commit_due = 0;
    for (size_t i = 0; i < ns; i++) {
        siglog_stream *st = streams[i];
        int64_t tick = tick_for(st);
        if (tick < sleep)
            sleep = tick;
        if (st->cfg.sync_policy == SIGLOG_SYNC_INTERVAL && mono - *last_commit_us >= tick)
            commit_due = 1;
        for (uint32_t p = 0; p < st->cfg.partitions; p++)
            if (partition_tick(st->parts[p], mono, wall) != 0)
                store_log(s, SIGLOG_LOG_ERROR, "background work on %s failed: %s", partition_path(st->parts[p]),
                          siglog_errdetail());
    }
    free(streams);
    if (commit_due) {
        *last_commit_us = mono;
        if (commit_sync(s) != 0)
            store_log(s, SIGLOG_LOG_ERROR, "interval commit failed: %s", siglog_errdetail());
    }
    return sleep;
}

static void *background_main(void *arg)
{
    struct siglog *s = arg;
    int64_t last_commit = s->io->monotonic_us(s->io);
    pthread_mutex_lock(&s->background_mu);
    while (!s->background_stop) {
        pthread_mutex_unlock(&s->background_mu);
        int64_t sleep_us = background_pass(s, &last_commit);
        pthread_mutex_lock(&s->background_mu);
        if (s->background_stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += sleep_us / 1000000;
        until.tv_nsec += (long)(sleep_us % 1000000) * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->background_cv, &s->background_mu, &until);
    }
    pthread_mutex_unlock(&s->background_mu);
    return NULL;
}

int background_start(struct siglog *s)
{
    int rc = pthread_create(&s->background, NULL, background_main, s);
    if (rc)
        return err_errno(-rc, "starting the background thread");
    s->background_running = 1;
    return 0;
}

void background_stop(struct siglog *s)
{
    if (!s->background_running)
        return;
    pthread_mutex_lock(&s->background_mu);
    s->background_stop = 1;
    pthread_cond_broadcast(&s->background_cv);
    pthread_mutex_unlock(&s->background_mu);
    pthread_join(s->background, NULL);
    s->background_running = 0;
}
