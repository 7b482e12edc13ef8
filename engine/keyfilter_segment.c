/*
 * keyfilter_segment — a sealed segment's key filter: built from its
 * records when it is sealed, loaded by a reader for its catalog entry
 * (keyfilter.h).
 *
 * Built at the seal, the one point every sealed segment passes (a roll, a
 * recovered tail, a rewrite): from the key hashes the writer kept as it
 * appended each record of the segment (key_hashes.h) when it has them
 * all, else by reading the segment back, so that a filter holds exactly
 * the keys the file holds whatever crashed or was replayed before. Both
 * ways give the same file: the same set of distinct hashes (key_set.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keyfilter.h"

/* The key hash of every record of the segment, into out. */
static int collect_hashes(segment *s, key_set *out)
{
    bytebuf body = {0}, scratch = {0};
    uint64_t pos = 0, size = sl_segment_size(s);
    int rc = 0;
    while (!rc && pos < size) {
        batch_header h;
        batch_iter it;
        int r = sl_segment_read_batch(s, pos, size, &h, &body);
        if (r == 0)
            r = sl_err_set(SIGLOG_ECORRUPT, "%s: incomplete batch at byte %" PRIu64 " of a sealed segment",
                           sl_segment_file_path(s), pos);
        if (r < 0 || (r = sl_batch_iter_init(&it, &h, body.data, &scratch)) != 0) {
            rc = r;
            break;
        }
        siglog_record rec;
        while (!rc && (r = sl_batch_iter_next(&it, &rec)) == 1)
            rc = sl_key_set_add(out, sl_keyfilter_hash(rec.key, rec.key_len));
        if (r < 0)
            rc = r;
        pos += BATCH_HEADER_BYTES + (uint64_t)h.body_len;
    }
    sl_bytebuf_free(&body);
    sl_bytebuf_free(&scratch);
    return rc;
}

static void add_to_filter(void *filter, uint64_t h)
{
    sl_keyfilter_add(filter, h);
}

int sl_keyfilter_write_segment(segment *s, const key_set *keys)
{
    key_set read_back = {0};
    int rc = 0;
    if (!keys) {
        rc = collect_hashes(s, &read_back);
        keys = &read_back;
    }
    keyfilter f = {0};
    keyfilter_binding of = {sl_segment_base_offset(s), sl_segment_next_offset(s), sl_segment_summary_checksum(s)};
    if (!rc)
        rc = sl_keyfilter_init(&f, sl_keyfilter_blocks_for(keys->n), &of);
    if (!rc)
        sl_key_set_each(keys, add_to_filter, &f);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!rc)
        rc = sl_keyfilter_encode(&f, &buf, &len);
    if (!rc)
        rc = sl_segment_replace_sidecar(s, KEYFILTER_EXT, buf, len);
    free(buf);
    sl_keyfilter_free(&f);
    sl_key_set_free(&read_back);
    return rc;
}

int sl_keyfilter_load(const siglog_io *io, const char *dir, const catalog_segment *e, keyfilter *f)
{
    memset(f, 0, sizeof *f);
    if (e->state == CATALOG_SEG_ACTIVE || e->summary_checksum == 0)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, e->location, KEYFILTER_EXT);
    void *data = NULL;
    size_t len = 0;
    int rc = sl_io_read_file(io, path, KEYFILTER_FILE_MAX, &data, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc == -EFBIG ? sl_err_set(SIGLOG_ECORRUPT, "%s: longer than any key filter", path)
                            : sl_err_errno(rc, "read of %s", path);
    rc = sl_keyfilter_decode(data, len, f);
    free(data);
    if (rc)
        return sl_err_set(rc, "%s: %s", path, siglog_errdetail());
    if (f->of.base_offset != e->base_offset || f->of.end_offset != e->end_offset ||
        f->of.summary_checksum != e->summary_checksum) {
        sl_keyfilter_free(f);
        return 0; /* of another segment with this name: stale */
    }
    return 1;
}
