/*
 * durable — what a caller may acknowledge: siglog_durable_offset and
 * siglog_wait_durable (siglog.h states the promise per sync policy).
 *
 * The state has one owner, the partition: its published high-water mark
 * moves only after the event is durable under the stream's policy (commit.c
 * publishes journaled partitions after the journal's fdatasync; a NONE
 * partition publishes after its segment write), and `published` is
 * broadcast whenever it moves or the partition fails. A store-wide journal
 * failure (commit.c, fail_store) wakes every partition's waiters too, so a
 * waiter never sleeps past the moment its event can no longer be durable.
 */
#include <time.h>

#include "commit.h"
#include "error.h"
#include "store.h"

static int durable_partition(siglog_stream *st, uint32_t partition_id, const char *fn, partition **out)
{
    if (!st)
        return sl_err_set(SIGLOG_EINVAL, "%s: stream is NULL", fn);
    if (st->store->read_only)
        return sl_err_set(SIGLOG_ERDONLY, "%s: store %s is open read-only: only its writer knows what is durable", fn,
                       st->store->path);
    if (partition_id >= st->cfg.partitions)
        return sl_err_set(SIGLOG_ENOENT, "stream '%s' has %u partitions, no partition %u", st->name,
                       st->cfg.partitions, partition_id);
    *out = st->parts[partition_id];
    return 0;
}

SIGLOG_API int siglog_durable_offset(siglog_stream *st, uint32_t partition_id, uint64_t *next)
{
    sl_err_clear();
    partition *p = NULL; /* set when durable_partition returns 0 (gcc -O3 cannot tell) */
    int rc = next ? durable_partition(st, partition_id, "siglog_durable_offset", &p)
                  : sl_err_set(SIGLOG_EINVAL, "siglog_durable_offset: next is NULL");
    if (rc)
        return rc;
    *next = sl_partition_published_offset(p);
    return 0;
}

static struct timespec deadline_after(int64_t timeout_us)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t); /* the clock of partition.published */
    t.tv_sec += (time_t)(timeout_us / 1000000);
    t.tv_nsec += (long)(timeout_us % 1000000) * 1000;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

SIGLOG_API int siglog_wait_durable(siglog_stream *st, uint32_t partition_id, uint64_t offset, int64_t timeout_us)
{
    sl_err_clear();
    partition *p = NULL; /* set when durable_partition returns 0 (gcc -O3 cannot tell) */
    int rc = durable_partition(st, partition_id, "siglog_wait_durable", &p);
    if (rc)
        return rc;
    struct siglog *s = st->store;
    struct timespec until = timeout_us >= 0 ? deadline_after(timeout_us) : (struct timespec){0};
    rc = sl_partition_wait_durable(p, offset, sl_commit_failed_flag(s->commit), timeout_us >= 0 ? &until : NULL);
    if (rc == PARTITION_STORE_FAILED) {
        char why[256];
        sl_commit_failed_detail(s->commit, why, sizeof why);
        rc = sl_err_set(SIGLOG_EFAILED, "%s: offset %llu will never be durable: the store failed: %s",
                     sl_partition_path(p), (unsigned long long)offset, why);
    }
    return rc;
}
