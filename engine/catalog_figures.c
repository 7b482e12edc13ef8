/*
 * catalog_figures — a catalog upgraded from version 1 (or from none) gets
 * the real figures of its sealed entries (record count, bytes, first and
 * largest time, end offset, summary checksum), read from each segment's
 * .sum sidecar as its read-only open loads it, rather than zeros. Done
 * once, by the writer's open that upgrades the file (catalog.h,
 * "Compatibility"); verify then checks every sealed entry's figures.
 */
#include "catalog.h"

#include <string.h>

#include "error.h"
#include "siglog.h"

typedef struct catalog_fill_ctx {
    const siglog_io *io;
    const char *dir;
    const segment_params *params;
} catalog_fill_ctx;

int sl_catalog_read_figures(const siglog_io *io, const char *dir, const segment_params *params, catalog_segment *e)
{
    segment *seg;
    int rc = sl_segment_open_at(io, dir, e->location, e->base_offset, 0, params, &seg);
    catalog_segment d;
    if (!rc)
        rc = sl_catalog_describe_segment(seg, &d);
    sl_segment_close(seg);
    if (rc)
        return rc;
    e->end_offset = d.end_offset;
    e->record_count = d.record_count;
    e->first_timestamp_us = d.first_timestamp_us;
    e->max_timestamp_us = d.max_timestamp_us;
    e->bytes = d.bytes;
    e->summary_checksum = d.summary_checksum;
    return 0;
}

static int change_fill(catalog_snapshot *s, void *arg)
{
    const catalog_fill_ctx *ctx = arg;
    size_t n;
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    for (size_t i = 0; i < n; i++) {
        int rc = segs[i].state == CATALOG_SEG_SEALED ? sl_catalog_read_figures(ctx->io, ctx->dir, ctx->params, &segs[i]) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

int sl_catalog_fill_figures(catalog *c, const segment_params *params)
{
    if (sl_catalog_persisted(c))
        return 0;
    catalog_fill_ctx ctx = {sl_catalog_io(c), sl_catalog_dir(c), params};
    return sl_catalog_update(c, change_fill, &ctx);
}
