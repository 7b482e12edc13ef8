/*
 * rewrite_copy — see rewrite_copy.h.
 */
#include "rewrite_copy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "batch.h"
#include "error.h"

/* The .seg file of entry e, read whole (a sealed segment of a test). */
static int read_segment_file(catalog *c, const catalog_segment *e, uint8_t **data, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.seg", sl_catalog_dir(c), e->location);
    int r = sl_io_read_file(sl_catalog_io(c), path, (size_t)1 << 30, (void **)data, len);
    return r < 0 ? sl_err_errno(r, "reading %s", path) : 0;
}

/* Append the batches of one old segment to `out`, as they are. */
static int copy_batches(segment *out, const uint8_t *data, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        batch_header h;
        if (len - pos < BATCH_HEADER_BYTES)
            return sl_err_set(SIGLOG_ECORRUPT, "a batch cut short at byte %zu", pos);
        int rc = sl_batch_header_decode(data + pos, &h);
        if (rc)
            return rc;
        size_t bytes = BATCH_HEADER_BYTES + (size_t)h.body_len;
        if (bytes > len - pos)
            return sl_err_set(SIGLOG_ECORRUPT, "a batch cut short at byte %zu", pos);
        batch_meta m = batch_meta_of(&h);
        if ((rc = sl_segment_append(out, data + pos, bytes, &m, 1)) != 0)
            return rc;
        pos += bytes;
    }
    return 0;
}

int rewrite_copy(catalog *c, size_t first, size_t count, const segment_params *params)
{
    catalog_rewrite *rw;
    int rc = sl_catalog_rewrite_begin(c, first, count, &rw);
    /* Taken after begin, which picked up the writer's latest generation. */
    catalog_snapshot *s = rc ? NULL : sl_catalog_snapshot_get(c);
    for (size_t i = first; !rc && i < first + count; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        uint8_t *data = NULL;
        size_t len = 0;
        segment *out;
        rc = read_segment_file(c, e, &data, &len);
        if (!rc)
            rc = sl_catalog_rewrite_segment(rw, e->base_offset, params, &out);
        if (!rc)
            rc = copy_batches(out, data, len);
        free(data);
        if (rc)
            sl_catalog_rewrite_abort(rw);
    }
    if (!rc)
        rc = sl_catalog_rewrite_commit(rw);
    sl_catalog_snapshot_release(s);
    return rc;
}
