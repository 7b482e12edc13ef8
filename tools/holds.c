/*
 * holds — what the consumers' holds keep; see holds.h.
 */
#include "holds.h"

typedef struct holds_walk {
    siglog_stream *st;
    siglog_stream_config cfg;
    int (*fn)(void *ctx, const hold_row *h);
    void *ctx;
} holds_walk;

/* The timestamp of the first event at or after offset `from`. */
static int first_time(siglog_stream *st, uint32_t p, uint64_t from, int64_t *us)
{
    siglog_cursor *c;
    int rc = siglog_cursor_open(&c, st, p, SIGLOG_SEEK_OFFSET, from > INT64_MAX ? INT64_MAX : (int64_t)from,
                                SIGLOG_CURSOR_ALLOW_GAPS);
    if (rc)
        return 0;
    const siglog_record *r;
    int got = siglog_cursor_next(c, &r) == 1;
    if (got)
        *us = r->timestamp_us;
    siglog_cursor_close(c);
    return got;
}

static int one_consumer(void *ctx, const siglog_consumer_info *ci)
{
    holds_walk *w = ctx;
    if (!ci->hold)
        return 0;
    for (uint32_t p = 0; p < ci->partitions && p < w->cfg.partitions; p++) {
        siglog_partition_info pi;
        if (siglog_partition_info_get(w->st, p, &pi) != 0)
            continue; /* stat shows the partition's own failure */
        hold_row h = { .consumer = ci->name, .partition = p, .to = pi.next_offset };
        h.from = ci->next_offset[p] > pi.log_start_offset ? ci->next_offset[p] : pi.log_start_offset;
        if (h.from >= h.to)
            continue; /* committed past everything: keeps nothing */
        h.have_first = first_time(w->st, p, h.from, &h.first_us);
        h.limited = w->cfg.max_hold != 0;
        /* max_hold is at most a century: no overflow from a real time. */
        h.until_us = h.first_us + (int64_t)w->cfg.max_hold;
        int rc = w->fn(w->ctx, &h);
        if (rc)
            return rc;
    }
    return 0;
}

int holds_foreach(siglog_stream *st, int (*fn)(void *ctx, const hold_row *h), void *ctx)
{
    holds_walk w = { .st = st, .fn = fn, .ctx = ctx };
    siglog_stream_config_get(st, &w.cfg);
    return siglog_consumer_foreach(st, one_consumer, &w);
}
