/*
 * compact_task — a writer's scheduled compaction: each stream whose
 * compact_interval is set is compacted as its cleanup says
 * (SIGLOG_COMPACT_BY_CLEANUP) every compact_interval, the first time one
 * interval after the writer opened or the setting was made.
 *
 * The scheduler's task (background.h) only decides which streams are due;
 * the compaction runs on a worker thread of its own, so the writer's
 * commits and rolls never wait for it, through a maintenance handle like
 * any other maintenance process: it rewrites sealed segments only, and
 * the writer sees the new catalog generations as it sees another
 * process's. When the maintenance role is taken (siglog compact, retain,
 * archive running), or the previous scheduled run has not finished, the
 * due streams are skipped until their next interval: the writer never
 * blocks on maintenance. Closing the writer waits for a running
 * compaction to finish.
 *
 * Threads: the task's state (the due times) is the scheduler thread's
 * alone; `busy` is shared with the worker, which owns the names it was
 * given until it clears `busy`.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "background.h"
#include "error.h"
#include "store.h"
#include "stream.h"

typedef struct stream_due {
    char name[SIGLOG_NAME_MAX + 1];
    int64_t due_us; /* monotonic */
} stream_due;

struct compact_task {
    struct siglog *s;
    stream_due *due;
    size_t due_n;
    pthread_t worker;
    int joinable;
    int busy;            /* atomic: the worker runs */
    char (*names)[SIGLOG_NAME_MAX + 1]; /* the worker's streams */
    size_t names_n;
};

static void *compact_worker(void *arg)
{
    compact_task *t = arg;
    struct siglog *s = t->s;
    siglog_maintenance *m;
    int rc = siglog_maintenance_open(&m, s->path, &s->opt);
    if (rc == SIGLOG_ELOCKED) {
        sl_store_log(s, SIGLOG_LOG_INFO, "scheduled compaction skipped: %s", siglog_errdetail());
    } else if (rc) {
        sl_store_log(s, SIGLOG_LOG_ERROR, "scheduled compaction: %s", siglog_errdetail());
    } else {
        siglog_compact_options o = {.mode = SIGLOG_COMPACT_BY_CLEANUP, .partition = SIGLOG_COMPACT_ALL_PARTITIONS};
        for (size_t i = 0; i < t->names_n; i++) {
            siglog_compact_result r;
            if (siglog_compact(m, t->names[i], &o, &r) != 0)
                sl_store_log(s, SIGLOG_LOG_ERROR, "scheduled compaction of stream %s: %s", t->names[i],
                             siglog_errdetail());
            else
                sl_store_log(s, SIGLOG_LOG_INFO,
                             "scheduled compaction of stream %s: %" PRIu64 " segments in, %" PRIu64
                             " out, %" PRIu64 " events dropped",
                             t->names[i], r.segments_in, r.segments_out, r.events_dropped);
        }
        siglog_maintenance_close(m);
    }
    __atomic_store_n(&t->busy, 0, __ATOMIC_RELEASE);
    return NULL;
}

/* The due time of stream `name`, a new entry (due 0) when it has none;
 * NULL when out of memory. */
static stream_due *due_of(compact_task *t, const char *name)
{
    for (size_t i = 0; i < t->due_n; i++)
        if (strcmp(t->due[i].name, name) == 0)
            return &t->due[i];
    stream_due *grown = realloc(t->due, (t->due_n + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    t->due = grown;
    stream_due *d = &t->due[t->due_n++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    return d;
}

static void join_worker(compact_task *t)
{
    if (t->joinable)
        pthread_join(t->worker, NULL);
    t->joinable = 0;
}

/* Hand the streams due now to a new worker, or skip them while one runs. */
static void start_worker(compact_task *t, char (*names)[SIGLOG_NAME_MAX + 1], size_t n)
{
    if (__atomic_load_n(&t->busy, __ATOMIC_ACQUIRE)) {
        sl_store_log(t->s, SIGLOG_LOG_INFO, "scheduled compaction skipped: the previous one still runs");
        free(names);
        return;
    }
    join_worker(t);
    free(t->names);
    t->names = names;
    t->names_n = n;
    __atomic_store_n(&t->busy, 1, __ATOMIC_RELEASE);
    if (pthread_create(&t->worker, NULL, compact_worker, t) != 0) {
        __atomic_store_n(&t->busy, 0, __ATOMIC_RELEASE);
        sl_store_log(t->s, SIGLOG_LOG_ERROR, "scheduled compaction: no thread could be started");
        return;
    }
    t->joinable = 1;
}

static int64_t compact_tick(void *ctx)
{
    compact_task *t = ctx;
    siglog_stream **streams;
    size_t ns;
    if (sl_store_streams_snapshot(t->s, &streams, &ns) != 0)
        return BACKGROUND_DELAY_MAX_US;
    int64_t now = t->s->io->monotonic_us(t->s->io), next = BACKGROUND_DELAY_MAX_US;
    char (*names)[SIGLOG_NAME_MAX + 1] = calloc(ns ? ns : 1, sizeof *names);
    size_t n = 0;
    for (size_t i = 0; names && i < ns; i++) {
        uint64_t interval = STREAM_SETTING(streams[i], compact_interval);
        stream_due *d = streams[i]->failed ? NULL : due_of(t, streams[i]->name);
        if (!d)
            continue;
        if (interval == 0) {
            d->due_us = 0;
            continue;
        }
        if (d->due_us == 0 || d->due_us > now + (int64_t)interval)
            d->due_us = now + (int64_t)interval;
        if (now >= d->due_us) {
            snprintf(names[n++], sizeof names[0], "%s", streams[i]->name);
            d->due_us = now + (int64_t)interval;
        }
        if (d->due_us - now < next)
            next = d->due_us - now;
    }
    free(streams);
    if (n)
        start_worker(t, names, n);
    else
        free(names);
    return next;
}

int sl_compact_task_register(struct siglog *s, background *b)
{
    compact_task *t = calloc(1, sizeof *t);
    if (!t)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    t->s = s;
    int rc = sl_background_register(b, "compact", 0, compact_tick, t);
    if (rc) {
        free(t);
        return rc;
    }
    s->compact_task = t;
    return 0;
}

void sl_compact_task_free(struct siglog *s)
{
    compact_task *t = s->compact_task;
    if (!t)
        return;
    join_worker(t);
    free(t->names);
    free(t->due);
    free(t);
    s->compact_task = NULL;
}
