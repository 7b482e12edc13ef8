/*
 * segments_api — siglog_segments_foreach: a partition's catalog, as its
 * readers see it, for tools and programs (siglog.h).
 */
#include "catalog.h"
#include "error.h"
#include "partition.h"
#include "siglog.h"
#include "stream.h"

SIGLOG_API int siglog_segments_foreach(siglog_stream *st, uint32_t partition, uint64_t *generation,
                                       int (*fn)(void *ctx, const siglog_segment_info *seg), void *ctx)
{
    sl_err_clear();
    if (!st || !fn)
        return sl_err_set(SIGLOG_EINVAL, "siglog_segments_foreach: stream and fn are required");
    int rc = sl_stream_partition_usable(st, partition);
    if (rc)
        return rc;
    catalog_snapshot *cs;
    if ((rc = sl_partition_catalog_snapshot(st->parts[partition], &cs)) != 0)
        return rc;
    if (generation)
        *generation = sl_catalog_snapshot_generation(cs);
    for (size_t i = 0; i < sl_catalog_snapshot_count(cs) && !rc; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(cs, i);
        siglog_segment_info info = {
            .base_offset = e->base_offset,
            .end_offset = e->end_offset,
            .record_count = e->record_count,
            .first_timestamp_us = e->first_timestamp_us,
            .max_timestamp_us = e->max_timestamp_us,
            .bytes = e->bytes,
            .tier = e->tier,
            .state = e->state,
            .location = e->location,
            .schema_versions = e->schema_versions,
            .schema_count = e->schema_count,
        };
        rc = fn(ctx, &info);
    }
    sl_catalog_snapshot_release(cs);
    return rc;
}
