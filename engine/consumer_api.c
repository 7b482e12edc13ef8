/*
 * consumer_api — the public consumer calls over a stream handle
 * (consumer.h; siglog.h, "Consumers").
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "consumer.h"
#include "error.h"
#include "names.h"
#include "store.h"
#include "stream.h"

/* Only the writer and the consumer role change consumer offsets. */
static int may_commit(const siglog_stream *st)
{
    const struct siglog *s = st->store;
    if (s->read_only && s->opt.read_only != SIGLOG_READ_ONLY_CONSUMER)
        return sl_err_set(SIGLOG_ERDONLY,
                       "store %s is open read-only: consumer offsets need the writer or the consumer role",
                       s->path);
    return 0;
}

typedef struct hold_audit {
    siglog_stream *st;
    const consumer_change *c;
} hold_audit;

/* Before the file changes: a commit of a holding consumer, or the release
 * of a hold, is recorded first (audit.h, "Order"). */
static int audit_hold(void *ctx, const consumer_entry *old, const consumer_entry *new_)
{
    hold_audit *h = ctx;
    int held = old && old->flags & CONSUMER_HOLD, holds = new_ && new_->flags & CONSUMER_HOLD;
    if (!held && !holds)
        return 0;
    audit_record r;
    sl_audit_record_init(&r, AUDIT_HOLD, AUDIT_BY_COMMAND);
    snprintf(r.stream, sizeof r.stream, "%s", h->st->name);
    if (!new_) {
        snprintf(r.detail, sizeof r.detail, "consumer %s deleted: its hold is released", h->c->name);
    } else {
        uint32_t p = h->c->partition;
        uint64_t from = old && p < old->partitions ? old->next[p] : 0;
        r.partition = p;
        r.offset_start = from < h->c->next_offset ? from : h->c->next_offset;
        r.offset_end = h->c->next_offset;
        snprintf(r.detail, sizeof r.detail, "consumer %s commits partition %" PRIu32 ": next offset %" PRIu64
                 ", holding what comes after%s", h->c->name, p, h->c->next_offset, held ? "" : " (hold taken)");
    }
    return sl_store_audit(h->st->store, &r);
}

static int change(siglog_stream *st, consumer_change *c)
{
    int rc = may_commit(st);
    if (!rc)
        rc = sl_stream_usable(st);
    if (!rc && sl_name_validate_stream(c->name) != 0)
        rc = sl_err_set(SIGLOG_EINVAL, "consumer name '%s': %s", c->name, siglog_errdetail());
    if (rc)
        return rc;
    struct siglog *s = st->store;
    c->partitions = st->cfg.partitions;
    c->now_us = s->io->now_us(s->io);
    hold_audit h = {st, c};
    return sl_consumers_change(s->io, st->dir, s->opt.file_mode, c, audit_hold, &h);
}

SIGLOG_API int siglog_consumer_commit(siglog_stream *st, const char *name, uint32_t partition,
                                      uint64_t next_offset, unsigned flags)
{
    sl_err_clear();
    if (!st || !name)
        return sl_err_set(SIGLOG_EINVAL, "siglog_consumer_commit: stream and name are required");
    if (flags & ~SIGLOG_CONSUMER_HOLD)
        return sl_err_set(SIGLOG_EINVAL, "siglog_consumer_commit: unknown flags 0x%x", flags);
    siglog_partition_info info;
    int rc = siglog_partition_info_get(st, partition, &info);
    if (rc)
        return rc;
    if (next_offset > info.next_offset)
        return sl_err_set(SIGLOG_EINVAL,
                       "consumer %s: offset %" PRIu64 " is past the end of stream '%s' partition %" PRIu32
                       " (next offset %" PRIu64 ")",
                       name, next_offset, st->name, partition, info.next_offset);
    consumer_change c = {.name = name, .partition = partition, .next_offset = next_offset,
                         .flags = flags & SIGLOG_CONSUMER_HOLD ? CONSUMER_HOLD : 0};
    return change(st, &c);
}

SIGLOG_API int siglog_consumer_delete(siglog_stream *st, const char *name)
{
    sl_err_clear();
    if (!st || !name)
        return sl_err_set(SIGLOG_EINVAL, "siglog_consumer_delete: stream and name are required");
    consumer_change c = {.name = name, .del = 1};
    int rc = change(st, &c);
    return rc == SIGLOG_ENOENT ? sl_err_set(rc, "stream '%s' has no consumer '%s'", st->name, name) : rc;
}

SIGLOG_API int siglog_consumer_foreach(siglog_stream *st, int (*fn)(void *ctx, const siglog_consumer_info *c),
                                       void *ctx)
{
    sl_err_clear();
    if (!st || !fn)
        return sl_err_set(SIGLOG_EINVAL, "siglog_consumer_foreach: stream and fn are required");
    int rc = sl_stream_usable(st);
    if (rc)
        return rc;
    consumer_set set;
    if ((rc = sl_consumers_load(st->store->io, st->dir, &set)) != 0)
        return rc;
    for (size_t i = 0; i < set.n && !rc; i++) {
        const consumer_entry *e = &set.e[i];
        siglog_consumer_info info = {e->name, (e->flags & CONSUMER_HOLD) != 0, e->committed_us, e->partitions,
                                     e->next};
        rc = fn(ctx, &info);
    }
    sl_consumer_set_free(&set);
    return rc;
}
