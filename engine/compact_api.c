/*
 * compact_api — siglog_compact: the compaction builders (compact.h) run
 * over a stream's partitions by a maintenance handle, with the stream's
 * own settings, audited before anything is replaced (a record per
 * partition in scope).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compact.h"
#include "error.h"
#include "maintenance.h"

/* One call's settings, fixed before the first partition. */
typedef struct compact_job {
    maintenance *m;
    const char *stream;
    siglog_stream_config cfg;
    segment_params params;
    compact_keys_params kp;
    uint64_t merge_below;
    uint32_t mode;        /* MERGE or KEYS, for this stream */
    uint32_t first, last; /* partitions [first, last] */
} compact_job;

static int job_init(compact_job *j, maintenance *m, const char *stream, const siglog_compact_options *o)
{
    memset(j, 0, sizeof *j);
    j->m = m;
    j->stream = stream;
    char *dir;
    int rc = sl_maintenance_stream(m, stream, &dir, &j->cfg);
    if (rc)
        return rc;
    free(dir);
    j->mode = o->mode;
    if (o->mode == SIGLOG_COMPACT_BY_CLEANUP)
        j->mode = j->cfg.cleanup == SIGLOG_CLEANUP_COMPACT ? SIGLOG_COMPACT_KEYS : SIGLOG_COMPACT_MERGE;
    if (j->mode == SIGLOG_COMPACT_KEYS && j->cfg.cleanup != SIGLOG_CLEANUP_COMPACT)
        return sl_err_set(SIGLOG_EINVAL,
                          "stream '%s' has cleanup=delete: key compaction is for streams with cleanup=compact",
                          stream);
    if (o->partition == SIGLOG_COMPACT_ALL_PARTITIONS) {
        j->last = j->cfg.partitions - 1;
    } else if (o->partition >= j->cfg.partitions) {
        return sl_err_set(SIGLOG_ENOENT, "stream '%s' has %" PRIu32 " partitions, no partition %" PRIu32, stream,
                          j->cfg.partitions, o->partition);
    } else {
        j->first = j->last = o->partition;
    }
    j->params = (segment_params){.segment_bytes_max = j->cfg.segment_bytes_max,
                                 .index_interval_bytes = j->cfg.index_interval_bytes,
                                 .file_mode = sl_maintenance_file_mode(m)};
    j->merge_below = j->cfg.merge_below ? j->cfg.merge_below : j->cfg.segment_bytes_max / 4;
    const siglog_io *io = sl_maintenance_io(m);
    j->kp = (compact_keys_params){.now_us = io->now_us(io),
                                  .tombstone_retention_us = j->cfg.tombstone_retention,
                                  .memory_bytes = o->memory_bytes ? o->memory_bytes : SIGLOG_COMPACT_MEMORY_DEFAULT};
    return 0;
}

/* What is in scope in one partition: its sealed segments. */
typedef struct compact_scope {
    uint64_t segments, events, bytes;
    uint64_t offset_start, offset_end;
    int64_t time_min, time_max;
} compact_scope;

static int scope_of(const compact_job *j, uint32_t p, compact_scope *sc)
{
    *sc = (compact_scope){.time_min = INT64_MAX, .time_max = INT64_MIN};
    catalog *c;
    int rc = sl_maintenance_catalog(j->m, j->stream, p, &c);
    if (rc)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    for (size_t i = 0; i < sl_catalog_snapshot_count(s); i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (e->state != CATALOG_SEG_SEALED || e->tier == CATALOG_TIER_COLD)
            continue;
        if (sc->segments++ == 0)
            sc->offset_start = e->base_offset;
        sc->offset_end = e->end_offset;
        sc->events += e->record_count;
        sc->bytes += e->bytes;
        if (e->record_count && e->first_timestamp_us < sc->time_min)
            sc->time_min = e->first_timestamp_us;
        if (e->record_count && e->max_timestamp_us > sc->time_max)
            sc->time_max = e->max_timestamp_us;
    }
    sl_catalog_snapshot_release(s);
    return 0;
}

/* The audit record of partition p's part of the run (sc: its scope). */
static int audit_partition(const compact_job *j, uint32_t p, const compact_scope *sc)
{
    audit_record r;
    sl_audit_record_init(&r, AUDIT_COMPACT, AUDIT_BY_COMMAND);
    snprintf(r.stream, sizeof r.stream, "%s", j->stream);
    r.partition = p;
    r.offset_start = sc->offset_start;
    r.offset_end = sc->offset_end;
    r.time_min_us = sc->time_min;
    r.time_max_us = sc->time_max;
    r.bytes = sc->bytes;
    r.events = sc->events;
    if (j->mode == SIGLOG_COMPACT_MERGE)
        snprintf(r.detail, sizeof r.detail,
                 "compact --merge of partitions %" PRIu32 "..%" PRIu32 ", this one: %" PRIu64
                 " sealed segments in scope, merge_below %" PRIu64 " bytes",
                 j->first, j->last, sc->segments, j->merge_below);
    else
        snprintf(r.detail, sizeof r.detail,
                 "compact --keys of partitions %" PRIu32 "..%" PRIu32 ", this one: %" PRIu64
                 " sealed segments in scope, newest event per key kept, tombstones kept %" PRIu64 " us",
                 j->first, j->last, sc->segments, j->kp.tombstone_retention_us);
    return sl_maintenance_audit(j->m, &r);
}

/* The run's audit records, before anything is replaced: one per
 * partition with sealed segments in scope, naming its offsets, so that
 * what the run takes out of each partition is accounted for. */
static int audit_run(const compact_job *j)
{
    int rc = 0;
    for (uint32_t p = j->first; p <= j->last && !rc; p++) {
        compact_scope sc;
        if ((rc = scope_of(j, p, &sc)) == 0 && sc.segments)
            rc = audit_partition(j, p, &sc);
    }
    return rc;
}

static int compact_partition(const compact_job *j, uint32_t p, const siglog_compact_options *o, compact_stats *st)
{
    catalog *c;
    int rc = sl_maintenance_catalog(j->m, j->stream, p, &c);
    if (rc)
        return rc;
    if (j->mode == SIGLOG_COMPACT_MERGE)
        return o->dry_run ? sl_compact_partition_merge_count(c, &j->params, j->merge_below, st)
                          : sl_compact_partition_merge(c, &j->params, j->merge_below, st);
    return o->dry_run ? sl_compact_partition_keys_count(c, &j->params, &j->kp, st)
                      : sl_compact_partition_keys(c, &j->params, (int)j->cfg.compression, &j->kp, st);
}

/* One stream's run, its figures added to *total and *out. */
static int compact_stream(maintenance *m, const char *stream, const siglog_compact_options *o, compact_stats *total,
                          siglog_compact_result *out)
{
    compact_job j;
    int rc = job_init(&j, m, stream, o);
    if (!rc && !o->dry_run)
        rc = audit_run(&j);
    if (rc)
        return rc;
    out->streams++;
    for (uint32_t p = j.first; p <= j.last; p++) {
        compact_stats st;
        if ((rc = compact_partition(&j, p, o, &st)) != 0)
            return rc;
        sl_compact_stats_add(total, &st);
        out->partitions++;
        if (o->progress)
            o->progress(o->progress_ctx, p - j.first + 1, j.last - j.first + 1);
    }
    /* Only writing the outputs of a key compaction tells their figures. */
    if (o->dry_run && j.mode == SIGLOG_COMPACT_KEYS)
        out->segments_out = out->bytes_after = SIGLOG_COMPACT_UNKNOWN;
    return 0;
}

/* Every stream of the store, in name order; with KEYS, those with
 * cleanup=compact only. */
static int compact_every_stream(maintenance *m, const siglog_compact_options *o, compact_stats *total,
                                siglog_compact_result *out)
{
    if (o->partition != SIGLOG_COMPACT_ALL_PARTITIONS)
        return sl_err_set(SIGLOG_EINVAL, "siglog_compact: a partition is chosen only within a named stream");
    io_dirent_list names = {0};
    int rc = sl_maintenance_streams(m, &names);
    for (size_t i = 0; !rc && i < names.count; i++) {
        siglog_stream_config cfg;
        char *dir;
        if ((rc = sl_maintenance_stream(m, names.names[i], &dir, &cfg)) != 0)
            break;
        free(dir);
        if (o->mode != SIGLOG_COMPACT_KEYS || cfg.cleanup == SIGLOG_CLEANUP_COMPACT)
            rc = compact_stream(m, names.names[i], o, total, out);
    }
    sl_io_dirent_list_free(&names);
    return rc;
}

SIGLOG_API int siglog_compact(siglog_maintenance *m, const char *stream, const siglog_compact_options *o,
                              siglog_compact_result *out)
{
    sl_err_clear();
    if (!m || !o || !out)
        return sl_err_set(SIGLOG_EINVAL, "siglog_compact: the handle, options and result are required");
    memset(out, 0, sizeof *out);
    if (o->mode != SIGLOG_COMPACT_MERGE && o->mode != SIGLOG_COMPACT_KEYS && o->mode != SIGLOG_COMPACT_BY_CLEANUP)
        return sl_err_set(SIGLOG_EINVAL, "siglog_compact: mode %" PRIu32 " is not MERGE, KEYS or BY_CLEANUP",
                          o->mode);
    compact_stats total = {0};
    int rc = stream ? compact_stream(m, stream, o, &total, out) : compact_every_stream(m, o, &total, out);
    out->segments_in = total.segments_in;
    out->events_in = total.records_in;
    out->events_dropped = total.records_dropped;
    out->bytes_before = total.bytes_in;
    out->key_map_bytes = total.key_map_peak_bytes;
    out->key_passes = total.key_passes;
    if (out->segments_out != SIGLOG_COMPACT_UNKNOWN) {
        out->segments_out = total.segments_out;
        out->bytes_after = total.bytes_out;
    }
    return rc;
}
