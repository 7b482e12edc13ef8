/*
 * append — siglog_append: validate, route to partitions, encode under each
 * partition's lock, then wait for durability as the stream's policy says.
 *
 * Nothing of a call is appended unless every event passes validation, so
 * an oversize event, or one the stream's schema contract refuses
 * (schema_contract.h), never leaves half a call behind.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "commit.h"
#include "error.h"
#include "schema_contract.h"
#include "store.h"

/* Checks the events; *total gets their keys', values' and headers' bytes. */
static int validate_events(const siglog_stream *st, const siglog_event *events, size_t n, uint64_t *total)
{
    *total = 0;
    uint32_t record_bytes_max = STREAM_SETTING(st, record_bytes_max);
    for (size_t i = 0; i < n; i++) {
        const siglog_event *e = &events[i];
        if ((e->key_len && !e->key) || (e->value_len && !e->value) || (e->header_count && !e->headers))
            return sl_err_set(SIGLOG_EINVAL, "event %zu: a length is set but its pointer is NULL", i);
        if (e->header_count > SIGLOG_HEADERS_MAX)
            return sl_err_set(SIGLOG_EINVAL, "event %zu has %u headers, at most %d allowed", i, e->header_count,
                           SIGLOG_HEADERS_MAX);
        if (e->flags & ~SIGLOG_EVENT_TOMBSTONE)
            return sl_err_set(SIGLOG_EINVAL, "event %zu has unknown flags 0x%x", i, e->flags);
        uint64_t bytes = (uint64_t)e->key_len + e->value_len;
        for (uint32_t h = 0; h < e->header_count; h++) {
            if ((e->headers[h].key_len && !e->headers[h].key) || (e->headers[h].value_len && !e->headers[h].value))
                return sl_err_set(SIGLOG_EINVAL, "event %zu header %u: a length is set but its pointer is NULL", i, h);
            bytes += (uint64_t)e->headers[h].key_len + e->headers[h].value_len;
        }
        if (bytes > record_bytes_max)
            return sl_err_set(SIGLOG_ETOOBIG,
                           "event %zu is %llu bytes (key + value + headers), stream '%s' allows %u; nothing of "
                           "this call was appended",
                           i, (unsigned long long)bytes, st->name, record_bytes_max);
        *total += bytes;
    }
    return 0;
}

static uint32_t route(siglog_stream *st, const siglog_event *e)
{
    if (e->key_len)
        return (uint32_t)(XXH3_64bits(e->key, e->key_len) % st->cfg.partitions);
    return __atomic_fetch_add(&st->round_robin, 1, __ATOMIC_RELAXED) % st->cfg.partitions;
}

/* Append one partition's share; *need_commit is set when the caller must
 * wait for (or, for back-pressure, run) a commit, *must_be_durable when
 * the call may return only once these events are durable. The partition
 * says which policy it appended under: a live config change may switch
 * it between two of this call's partitions (sl_partition_set_config). */
static int append_to_partition(siglog_stream *st, partition *p, const siglog_event *const *evs, size_t n,
                               int64_t now, uint64_t *offsets, int *need_commit, int *must_be_durable)
{
    partition_appended a;
    int rc = sl_partition_append_batches(p, evs, n, now, offsets, &a);
    if (!rc && a.sync_policy == SIGLOG_SYNC_ALWAYS)
        *must_be_durable = 1;
    if (!rc && a.sync_policy != SIGLOG_SYNC_NONE &&
        (a.sync_policy == SIGLOG_SYNC_ALWAYS || a.pending_bytes > st->pending_bytes_max))
        *need_commit = 1;
    return rc;
}

SIGLOG_API int siglog_append(siglog_stream *st, uint32_t partition_id, const siglog_event *events, size_t n,
                             uint32_t *partitions_out, uint64_t *offsets_out)
{
    sl_err_clear();
    if (!st || !events || n == 0)
        return sl_err_set(SIGLOG_EINVAL, "siglog_append: stream, events and n >= 1 are required");
    struct siglog *s = st->store;
    if (s->read_only)
        return sl_err_set(SIGLOG_ERDONLY, "store %s is open read-only", s->path);
    int rc = sl_stream_usable(st);
    if (rc)
        return rc;
    if (partition_id != SIGLOG_PARTITION_BY_KEY && partition_id >= st->cfg.partitions)
        return sl_err_set(SIGLOG_ENOENT, "stream '%s' has %u partitions, no partition %u", st->name,
                       st->cfg.partitions, partition_id);
    uint64_t bytes;
    if ((rc = validate_events(st, events, n, &bytes)) != 0 || (rc = sl_store_space_admit(st, bytes, n)) != 0)
        return rc;
    int contract = (int)STREAM_SETTING(st, contract);
    if ((rc = sl_schema_contract_check(st->schemas, contract, st->name, events, n)) != 0)
        return rc;

    /* Group events by partition keeping their order: parts[i] is event i's
     * partition, order[] lists event indexes grouped by partition. */
    uint32_t one_part;
    size_t one_order = 0;
    const siglog_event *one_ev;
    uint64_t one_off;
    uint32_t *parts = n == 1 ? &one_part : malloc(n * sizeof *parts);
    size_t *order = n == 1 ? &one_order : malloc(n * sizeof *order);
    const siglog_event **evs = n == 1 ? &one_ev : malloc(n * sizeof *evs);
    uint64_t *offs = n == 1 ? &one_off : malloc(n * sizeof *offs);
    size_t *start = NULL;
    if (!parts || !order || !evs || !offs) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        parts[i] = partition_id == SIGLOG_PARTITION_BY_KEY ? route(st, &events[i]) : partition_id;
    int single = 1;
    for (size_t i = 1; i < n && single; i++)
        single = parts[i] == parts[0];
    if (single) {
        for (size_t i = 0; i < n; i++)
            order[i] = i;
    } else {
        start = calloc(st->cfg.partitions + 1, sizeof *start);
        if (!start) {
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            start[parts[i] + 1]++;
        for (uint32_t p = 0; p < st->cfg.partitions; p++)
            start[p + 1] += start[p];
        for (size_t i = 0; i < n; i++)
            order[start[parts[i]]++] = i; /* start[p] ends as p's end */
    }
    for (size_t i = 0; i < n; i++)
        evs[i] = &events[order[i]];

    int64_t now = s->io->now_us(s->io);
    int need_commit = 0, must_be_durable = 0;
    int always = STREAM_SETTING(st, sync_policy) == SIGLOG_SYNC_ALWAYS;
    if (always) /* a commit leader waits briefly for us (commit.c) */
        sl_commit_appender_enter(s->commit);
    for (size_t g = 0; g < n && !rc;) {
        size_t e = g;
        while (e < n && parts[order[e]] == parts[order[g]])
            e++;
        rc = append_to_partition(st, st->parts[parts[order[g]]], evs + g, e - g, now, offs + g, &need_commit,
                                 &must_be_durable);
        g = e;
    }
    if (always)
        sl_commit_appender_leave(s->commit);
    if (!rc && need_commit)
        rc = sl_commit_sync(s);
    if (!rc && must_be_durable) /* every group: any may have switched policy */
        for (size_t g = 0; g < n && !rc; g++)
            if (g + 1 == n || parts[order[g + 1]] != parts[order[g]])
                rc = sl_partition_check_published(st->parts[parts[order[g]]], offs[g]);
    if (!rc)
        for (size_t i = 0; i < n; i++) {
            if (partitions_out)
                partitions_out[order[i]] = parts[order[i]];
            if (offsets_out)
                offsets_out[order[i]] = offs[i];
        }
out:
    if (n > 1) {
        free(parts);
        free(order);
        free(evs);
        free(offs);
    }
    free(start);
    return rc;
}
