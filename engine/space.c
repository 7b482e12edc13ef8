/*
 * space — min_free: a writer keeps free space on its store's filesystem
 * (siglog.h, "Retention"). Appends that would take it below a stream's
 * min_free are refused with SIGLOG_ENOSPC before the disk is full, so
 * the store stays readable and its own metadata (catalogs, the audit
 * trail, a purge's records) still has room.
 *
 * Measuring (statvfs, through the store's I/O) on every append would cost
 * a system call per event, so each stream holds a headroom: half of what
 * its budget leaves free at the last measure, which appends spend as they
 * go (an atomic subtraction). Only an append the headroom cannot cover
 * measures again, under the store's space_mu; the space task zeroes
 * every headroom each SPACE_REMEASURE_US, so space that other files take
 * or free is seen that soon. Spending half the slack before looking
 * again keeps what the estimate misses (batch headers, indexes) inside
 * the margin; near the budget the headroom shrinks and appends measure
 * more often.
 *
 * Below the budget the writer first purges what the stream's policy
 * allows (sl_store_retain, purges only: a tier move needs room for its
 * new files while the old ones still exist), at most once per
 * SPACE_PURGE_US per stream, then measures again; only if that did not
 * free enough is the append refused. Nothing of a refused call is
 * appended: the check comes before any event is handed to a partition,
 * so no event is ever acknowledged that the budget refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "background.h"
#include "error.h"
#include "names.h"
#include "store.h"

#define SPACE_REMEASURE_US 1000000
#define SPACE_PURGE_US 1000000
/* What an event costs on disk beyond its bytes, at most: its record
 * header and its share of batch headers and indexes. */
#define SPACE_EVENT_OVERHEAD 64

/* Free bytes and the budget min_free sets on the store's filesystem. */
static int measure(struct siglog *s, uint64_t min_free, uint64_t *avail, uint64_t *budget)
{
    if (!s->io->fs_space)
        return sl_err_set(SIGLOG_EINVAL, "store %s: min_free is set but the store's I/O cannot measure free space",
                          s->path);
    char *file = sl_path_join(s->path, STORE_FILE);
    if (!file)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    uint64_t total;
    int rc = s->io->fs_space(s->io, file, avail, &total);
    free(file);
    if (rc < 0)
        return sl_err_errno(rc, "measuring the free space of store %s", s->path);
    *budget = (min_free & SIGLOG_SPACE_PERCENT) ? total / 100 * (min_free & ~SIGLOG_SPACE_PERCENT) : min_free;
    return 0;
}

static int refuse(const siglog_stream *st, uint64_t min_free, uint64_t avail, uint64_t budget)
{
    char setting[32];
    if (min_free & SIGLOG_SPACE_PERCENT)
        snprintf(setting, sizeof setting, "%" PRIu64 "%%", (uint64_t)(min_free & ~SIGLOG_SPACE_PERCENT));
    else
        snprintf(setting, sizeof setting, "%" PRIu64, min_free);
    return sl_err_set(SIGLOG_ENOSPC,
                      "stream '%s': %" PRIu64 " bytes free on the filesystem of store %s, and min_free=%s keeps %" PRIu64
                      ": appends are refused until space is freed (retention purged what the policy allows); nothing "
                      "of this call was appended",
                      st->name, avail, st->store->path, setting, budget);
}

/* Under space_mu: measure, purge once if below, measure again. */
static int admit_measured(siglog_stream *st, uint64_t min_free, uint64_t cost)
{
    struct siglog *s = st->store;
    uint64_t avail, budget;
    int rc = measure(s, min_free, &avail, &budget);
    int64_t now = s->io->monotonic_us(s->io);
    if (!rc && (avail < budget || avail - budget < cost) &&
        (st->space_purge_us == 0 || now - st->space_purge_us >= SPACE_PURGE_US)) {
        st->space_purge_us = now;
        sl_store_retain(s, st->name, 0); /* a skip or a failure is logged: the measure decides */
        rc = measure(s, min_free, &avail, &budget);
    }
    if (rc)
        return rc;
    if (avail < budget || avail - budget < cost)
        return refuse(st, min_free, avail, budget);
    __atomic_store_n(&st->space_headroom, (avail - budget - cost) / 2, __ATOMIC_RELAXED);
    return 0;
}

int sl_store_space_admit(siglog_stream *st, uint64_t bytes, size_t n)
{
    uint64_t min_free = STREAM_SETTING(st, min_free);
    if (min_free == 0)
        return 0;
    uint64_t cost = bytes + (uint64_t)n * SPACE_EVENT_OVERHEAD;
    uint64_t h = __atomic_load_n(&st->space_headroom, __ATOMIC_RELAXED);
    while (h >= cost)
        if (__atomic_compare_exchange_n(&st->space_headroom, &h, h - cost, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return 0;
    pthread_mutex_lock(&st->store->space_mu);
    int rc = admit_measured(st, min_free, cost);
    pthread_mutex_unlock(&st->store->space_mu);
    return rc;
}

int64_t sl_store_space_task(void *ctx)
{
    struct siglog *s = ctx;
    siglog_stream **streams;
    size_t ns;
    if (sl_store_streams_snapshot(s, &streams, &ns) != 0)
        return SPACE_REMEASURE_US;
    for (size_t i = 0; i < ns; i++)
        __atomic_store_n(&streams[i]->space_headroom, 0, __ATOMIC_RELAXED);
    free(streams);
    return SPACE_REMEASURE_US;
}
