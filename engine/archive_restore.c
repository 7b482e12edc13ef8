/*
 * archive_restore — siglog_archive_restore: bring an archive's segments
 * back into the partition it names (store id, stream, partition), in the
 * maintenance role, beside a live writer and readers.
 *
 * What may come back: the archive's segments below the log start, when
 * they reach up to it (the log stays one contiguous range: an archive
 * ending below the start would leave a hole no loss record explains, and
 * is refused naming the missing offsets). The part of the archive at or
 * above the log start must be, record for record, what the store holds
 * there (offset, time, key, value, headers, schema version, flags): then
 * it is a no-op; otherwise the restore is refused naming the first
 * offset that differs, and nothing changes. A segment of the archive
 * that straddles the log start (the store's segments were cut elsewhere
 * since) is refused too: a batch is never split.
 *
 * The order makes every step safe to interrupt:
 *   1. read and check the archive whole (sl_archive_decode), and compare
 *      its overlap with the store (read only);
 *   2. record the restore in the audit trail (the intent);
 *   3. write the segments through the catalog's rewrite primitive in its
 *      restore form (sl_catalog_restore_begin): new files under temporary
 *      names, synced, renamed, the directory synced, then one catalog
 *      commit puts them before the first entry and moves the log start
 *      down. A crash before the commit leaves leftovers the next
 *      maintenance removes and the log as it was; after it, the log
 *      holds them. Running the restore again then finds them a no-op.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "audit.h"
#include "catalog.h"
#include "error.h"
#include "maintenance.h"

/* a and b are the same record. */
static int same_record(const siglog_record *a, const siglog_record *b)
{
    if (a->offset != b->offset || a->timestamp_us != b->timestamp_us || a->schema_version != b->schema_version ||
        a->flags != b->flags || a->key_len != b->key_len || a->value_len != b->value_len ||
        a->header_count != b->header_count || (a->key_len && memcmp(a->key, b->key, a->key_len) != 0) ||
        (a->value_len && memcmp(a->value, b->value, a->value_len) != 0))
        return 0;
    for (uint32_t i = 0; i < a->header_count; i++) {
        const siglog_header *x = &a->headers[i], *y = &b->headers[i];
        if (x->key_len != y->key_len || x->value_len != y->value_len ||
            (x->key_len && memcmp(x->key, y->key, x->key_len) != 0) ||
            (x->value_len && memcmp(x->value, y->value, x->value_len) != 0))
            return 0;
    }
    return 1;
}

/* Records of it from offset `from` on, below `to`: 1 and *rec, 0 past. */
static int next_in(archive_iter *it, uint64_t from, uint64_t to, siglog_record *rec)
{
    int rc;
    while ((rc = sl_archive_iter_next(it, rec)) == 1 && rec->offset < from)
        ;
    return rc == 1 && rec->offset >= to ? 0 : rc;
}

/* The archive's records in [from, to) against the store's, which the
 * snapshot's first n entries hold (read and checked the way an export
 * reads them). */
static int compare_overlap(const siglog_io *io, const char *dir, const catalog_snapshot *snap, size_t n,
                           const archive_view *v, uint64_t from, uint64_t to)
{
    archive_segment *segs = calloc(n, sizeof *segs);
    bytebuf data = { 0 }, file = { 0 };
    archive_meta sm = v->meta;
    archive_view sv;
    int rc = segs ? sl_archive_read_entries(io, dir, snap, n, segs, &data) : sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (!rc && (rc = sl_archive_encode(&sm, segs, (uint32_t)n, data.data, data.len, &file)) == 0)
        rc = sl_archive_decode(file.data, file.len, &sv);
    if (rc) {
        rc = sl_err_set(rc, "%s: %s", dir, siglog_errdetail());
        goto out;
    }
    archive_iter a, b;
    sl_archive_iter_init(&a, v);
    sl_archive_iter_init(&b, &sv);
    siglog_record ra, rb;
    for (;;) {
        int x = next_in(&a, from, to, &ra), y = next_in(&b, from, to, &rb);
        if (x < 0 || y < 0) {
            rc = x < 0 ? x : y;
            break;
        }
        if (!x && !y)
            break;
        if (!x || !y || !same_record(&ra, &rb)) {
            uint64_t at = !x ? rb.offset : !y || rb.offset > ra.offset ? ra.offset : rb.offset;
            rc = sl_err_set(SIGLOG_EEXIST,
                            "offsets %" PRIu64 "..%" PRIu64 " of the archive are in the store already, with other "
                            "contents from offset %" PRIu64 ": nothing restored",
                            from, to - 1, at);
            break;
        }
    }
    sl_archive_iter_free(&a);
    sl_archive_iter_free(&b);
out:
    free(segs);
    sl_bytebuf_free(&data);
    sl_bytebuf_free(&file);
    return rc;
}

/* Append the batches of archive segment i (its bytes at data) to seg, and
 * tell the rewrite the schema versions its records carry. */
static int restore_segment(catalog_rewrite *rw, segment *seg, const uint8_t *data, uint64_t bytes)
{
    bytebuf scratch = { 0 };
    int rc = 0;
    for (uint64_t pos = 0; pos < bytes && !rc;) {
        /* Checked by sl_archive_decode: every header and body is valid. */
        batch_header h;
        if ((rc = sl_batch_header_decode(data + pos, &h)) != 0)
            break;
        batch_meta meta = batch_meta_of(&h);
        rc = sl_segment_append(seg, data + pos, BATCH_HEADER_BYTES + h.body_len, &meta, 1);
        batch_iter it;
        if (!rc)
            rc = sl_batch_iter_init(&it, &h, data + pos + BATCH_HEADER_BYTES, &scratch);
        siglog_record rec;
        while (!rc && (rc = sl_batch_iter_next(&it, &rec)) == 1)
            rc = sl_catalog_rewrite_add_versions(rw, &rec.schema_version, 1);
        pos += BATCH_HEADER_BYTES + h.body_len;
    }
    sl_bytebuf_free(&scratch);
    return rc;
}

/* Segments [0, n) of the archive below the log start, through the
 * catalog's restore. */
static int restore_below(catalog *c, const archive_view *v, uint32_t n, const siglog_stream_config *cfg,
                         uint32_t file_mode)
{
    catalog_rewrite *rw;
    int rc = sl_catalog_restore_begin(c, v->meta.first_offset, &rw);
    if (rc)
        return rc;
    const uint8_t *data = v->data;
    for (uint32_t i = 0; i < n && !rc; i++) {
        archive_segment as = sl_archive_segment_at(v, i);
        segment_params params = { .segment_bytes_max = as.bytes > cfg->segment_bytes_max ? as.bytes
                                                                                         : cfg->segment_bytes_max,
                                  .index_interval_bytes = cfg->index_interval_bytes,
                                  .file_mode = file_mode };
        segment *seg;
        if ((rc = sl_catalog_rewrite_segment(rw, as.base_offset, &params, &seg)) == 0)
            rc = restore_segment(rw, seg, data, as.bytes);
        data += as.bytes;
    }
    if (rc) {
        sl_catalog_rewrite_abort(rw);
        return rc;
    }
    return sl_catalog_rewrite_commit(rw);
}

static void restore_record(audit_record *r, const archive_meta *m, uint64_t end, uint64_t records, uint64_t bytes,
                           const char *path)
{
    sl_audit_record_init(r, AUDIT_RESTORE, AUDIT_BY_COMMAND);
    snprintf(r->stream, sizeof r->stream, "%s", m->stream);
    r->partition = m->partition;
    r->offset_start = m->first_offset;
    r->offset_end = end;
    r->bytes = bytes;
    r->events = records;
    snprintf(r->detail, sizeof r->detail, "restored from %s", path);
}

/* The archive's segments that lie below `start`: how many (*n), their
 * records and bytes; SIGLOG_EINVAL when one straddles it. */
static int below_start(const archive_view *v, uint64_t start, uint32_t *n, uint64_t *records, uint64_t *bytes)
{
    *n = 0;
    *records = *bytes = 0;
    for (uint32_t i = 0; i < v->segment_count; i++) {
        archive_segment s = sl_archive_segment_at(v, i);
        if (s.end_offset <= start) {
            (*n)++;
            *records += s.record_count;
            *bytes += s.bytes;
        } else if (s.base_offset < start) {
            return sl_err_set(SIGLOG_EINVAL,
                              "its segment of offsets %" PRIu64 "..%" PRIu64 " straddles the log start %" PRIu64
                              " (the store's segments were cut elsewhere since): nothing restored",
                              s.base_offset, s.end_offset - 1, start);
        }
    }
    return 0;
}

static int restore_into(maintenance *m, const archive_view *v, const char *path, siglog_restore_result *res)
{
    const archive_meta *am = &v->meta;
    if (am->store_id != sl_maintenance_store_id(m))
        return sl_err_set(SIGLOG_EINVAL, "it is an archive of store %016" PRIx64 ", not of store %s (%016" PRIx64 ")",
                          am->store_id, sl_maintenance_store_path(m), sl_maintenance_store_id(m));
    siglog_stream_config cfg;
    catalog *c;
    char *sd = NULL;
    int rc = sl_maintenance_stream(m, am->stream, &sd, &cfg);
    free(sd);
    if (!rc)
        rc = sl_maintenance_catalog(m, am->stream, am->partition, &c);
    if (rc)
        return rc;
    catalog_snapshot *snap = sl_catalog_snapshot_get(c);
    uint64_t start = sl_catalog_snapshot_bounds(snap)->log_start_offset;
    uint32_t n = 0;
    uint64_t records = 0, bytes = 0;
    size_t overlap = 0;
    while (overlap < sl_catalog_snapshot_count(snap) &&
           sl_catalog_snapshot_segment(snap, overlap)->base_offset < am->next_offset)
        overlap++;
    if (am->next_offset < start)
        rc = sl_err_set(SIGLOG_EINVAL,
                        "it ends at offset %" PRIu64 " and the log starts at %" PRIu64 ": offsets %" PRIu64
                        "..%" PRIu64 " would be missing between them (restore the archive holding them first)",
                        am->next_offset, start, am->next_offset, start - 1);
    else if (overlap && sl_catalog_snapshot_segment(snap, overlap - 1)->state != CATALOG_SEG_SEALED)
        rc = sl_err_set(SIGLOG_EINVAL, "its offsets reach the segment the writer appends to: nothing restored");
    else if ((rc = below_start(v, start, &n, &records, &bytes)) == 0 && am->next_offset > start)
        rc = compare_overlap(sl_maintenance_io(m), sl_catalog_dir(c), snap, overlap, v,
                             start > am->first_offset ? start : am->first_offset, am->next_offset);
    sl_catalog_snapshot_release(snap);
    audit_record r;
    if (!rc && n > 0) {
        restore_record(&r, am, sl_archive_segment_at(v, n - 1).end_offset, records, bytes, path);
        if ((rc = sl_maintenance_audit(m, &r)) == 0)
            rc = restore_below(c, v, n, &cfg, sl_maintenance_file_mode(m));
    }
    if (!rc && res)
        *res = (siglog_restore_result){ .first_offset = am->first_offset,
                                        .next_offset = n ? sl_archive_segment_at(v, n - 1).end_offset
                                                         : am->first_offset,
                                        .records = records, .segments = n };
    return rc ? rc : n > 0;
}

SIGLOG_API int siglog_archive_restore(siglog_maintenance *m, const char *path, siglog_restore_result *res)
{
    sl_err_clear();
    if (!m || !path)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_restore: maintenance handle and path are required");
    siglog_archive *a;
    int rc = siglog_archive_open(&a, path);
    if (rc)
        return rc;
    rc = restore_into(m, sl_archive_view_of(a), path, res);
    if (rc < 0)
        rc = sl_err_set(rc, "restoring %s: %s", path, siglog_errdetail());
    siglog_archive_close(a);
    return rc;
}
