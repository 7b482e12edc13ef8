/*
 * store_retention — the writer applies its streams' retention policy
 * itself, every retention_interval (siglog.h, "Retention").
 *
 * A run is what `siglog retain STORE --stream S` in another process
 * does: it takes the maintenance role for its length (its own handle on
 * maintenance.lock, its own catalogs, the same audit records), applies
 * siglog_retain as of the wall clock, and gives the role back. The writer
 * picks up the catalog generations it wrote as it picks up any
 * maintenance process's (store_tasks.c, "catalog"). When another process
 * holds the role the run is skipped, never waited for: the next one comes
 * an interval later, and the holder is doing maintenance anyway.
 *
 * The task runs on the writer's second scheduler (store_tasks.c): a warm
 * rewrite may take seconds, and the interval commits must not wait for it.
 * Only that task reads or writes a stream's retention_last_us.
 */
#include <stdlib.h>

#include "background.h"
#include "error.h"
#include "maintenance.h"
#include "retain.h"
#include "store.h"

int sl_store_retain(struct siglog *s, const char *stream, unsigned what)
{
    maintenance *m;
    int rc = sl_maintenance_open(&m, s->path, &s->opt);
    if (rc == SIGLOG_ELOCKED) {
        sl_store_log(s, SIGLOG_LOG_INFO, "retention of stream '%s' skipped this time: %s", stream, siglog_errdetail());
        return rc;
    }
    if (!rc) {
        siglog_retain_options o = {.stream = stream};
        rc = sl_retain(m, s->io->now_us(s->io), &o, what);
        sl_maintenance_close(m);
    }
    if (rc)
        sl_store_log(s, SIGLOG_LOG_ERROR, "retention of stream '%s' failed: %s", stream, siglog_errdetail());
    return rc;
}

int64_t sl_store_retention_task(void *ctx)
{
    struct siglog *s = ctx;
    siglog_stream **streams;
    size_t ns;
    if (sl_store_streams_snapshot(s, &streams, &ns) != 0)
        return BACKGROUND_DELAY_MAX_US;
    int64_t delay = BACKGROUND_DELAY_MAX_US;
    for (size_t i = 0; i < ns; i++) {
        siglog_stream *st = streams[i];
        /* Read at every run: a changed interval counts from the last run. */
        uint64_t interval = STREAM_SETTING(st, retention_interval);
        if (st->failed || interval == 0)
            continue;
        int64_t now = s->io->monotonic_us(s->io);
        if (st->retention_last_us == 0 || now - st->retention_last_us >= (int64_t)interval) {
            sl_store_retain(s, st->name, RETAIN_MOVES);
            st->retention_last_us = now = s->io->monotonic_us(s->io);
        }
        int64_t left = st->retention_last_us + (int64_t)interval - now;
        if (left < delay)
            delay = left;
    }
    free(streams);
    return delay;
}
