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
 * Restored segments come back hot, whatever their age: a restore only
 * brings events back, and the next retention run moves them on as their
 * age calls for (one owner of tier moves: the policy). Schema usage is
 * not written here (the writer owns it): figures that miss the restored
 * events are stale by sl_schema_usage_stale and recounted from the log.
 *
 * The order makes every step safe to interrupt:
 *   1. check the archive whole (sl_archive_file_open), and compare its
 *      overlap with the store record by record (read only), one batch of
 *      each in memory at a time;
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
#include "cold.h"
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

/* The records of the store's first n entries, read and checked batch by
 * batch the way an export reads them (a cold entry's from its archive in
 * cold_dir: src.cold). */
typedef struct store_records {
    archive_source src;
    size_t next;       /* entry to open when the records run out */
    archive_records r; /* of the open entry */
    char *path;
} store_records;

static int store_next(store_records *s, siglog_record *rec)
{
    for (;;) {
        int rc = s->path ? sl_archive_records_next(&s->r, rec) : 0;
        if (rc != 0)
            return rc;
        if (s->path) {
            sl_archive_source_close(&s->r.bf, s->path);
            s->path = NULL;
        }
        sl_archive_records_free(&s->r);
        if (s->next == s->src.n)
            return 0;
        s->r.bf.fd = -1;
        if ((rc = sl_archive_source_open(&s->src, s->next++, &s->r.bf, &s->path)) != 0)
            return rc;
    }
}

static void store_records_free(store_records *s)
{
    if (s->path)
        sl_archive_source_close(&s->r.bf, s->path);
    sl_archive_records_free(&s->r);
}

/* The next record at or past `from` and below `to` of next(it): 1 and
 * *rec, 0 past them. */
static int next_in(int (*next)(void *, siglog_record *), void *it, uint64_t from, uint64_t to, siglog_record *rec)
{
    int rc;
    while ((rc = next(it, rec)) == 1 && rec->offset < from)
        ;
    return rc == 1 && rec->offset >= to ? 0 : rc;
}

static int archive_next(void *it, siglog_record *rec)
{
    return sl_archive_file_next(it, rec);
}

static int store_next_of(void *it, siglog_record *rec)
{
    return store_next(it, rec);
}

/* The archive's records in [from, to) against the store's, which the
 * snapshot's first n entries hold: one batch of each in memory at a time. */
static int compare_overlap(maintenance *m, const catalog *c, const siglog_stream_config *cfg,
                           const catalog_snapshot *snap, size_t n, archive_file *f, uint64_t from, uint64_t to)
{
    const archive_meta *am = &f->view.meta;
    archive_cold_dir cold = { .backend = sl_maintenance_backend(m), .cfg = cfg, .store_id = am->store_id,
                              .stream = am->stream, .partition = am->partition };
    store_records st = { .src = { .io = sl_maintenance_io(m), .dir = sl_catalog_dir(c), .snap = snap, .n = n,
                                  .cold = &cold } };
    siglog_record ra, rb;
    int rc = 0;
    for (;;) {
        int x = next_in(archive_next, f, from, to, &ra), y = next_in(store_next_of, &st, from, to, &rb);
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
    store_records_free(&st);
    return rc;
}

/* Append the batches of an archive segment (read by bf) to seg, each
 * checked again as it is read (the file may have changed since it was
 * opened), and tell the rewrite the schema versions its records carry. */
static int restore_segment(catalog_rewrite *rw, segment *seg, archive_batch_file bf)
{
    bytebuf scratch = { 0 }, batch = { 0 };
    batch_header h;
    int rc;
    for (uint64_t at = bf.pos; (rc = sl_archive_batch_next(&bf, &h, 0)) == 1; at = bf.pos) {
        batch_iter it;
        batch.len = 0;
        if ((rc = sl_batch_body_check(&h, bf.body.data)) != 0 ||
            (rc = sl_batch_iter_init(&it, &h, bf.body.data, &scratch)) != 0) {
            rc = sl_err_set(rc, "%s: batch at byte %" PRIu64 ": %s", bf.path, at, siglog_errdetail());
            break;
        }
        if (sl_bytebuf_append(&batch, bf.header, BATCH_HEADER_BYTES) != 0 ||
            sl_bytebuf_append(&batch, bf.body.data, h.body_len) != 0) {
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
            break;
        }
        batch_meta meta = batch_meta_of(&h);
        rc = sl_segment_append(seg, batch.data, batch.len, &meta, 1);
        siglog_record rec;
        while (!rc && (rc = sl_batch_iter_next(&it, &rec)) == 1)
            rc = sl_catalog_rewrite_add_versions(rw, &rec.schema_version, 1);
        if (rc)
            break;
    }
    sl_bytebuf_free(&scratch);
    sl_bytebuf_free(&batch);
    sl_bytebuf_free(&bf.body);
    return rc;
}

/* Segments [0, n) of the archive below the log start, through the
 * catalog's restore. */
static int restore_below(catalog *c, const archive_file *f, uint32_t n, const siglog_stream_config *cfg,
                         uint32_t file_mode)
{
    const archive_view *v = &f->view;
    catalog_rewrite *rw;
    int rc = sl_catalog_restore_begin(c, v->meta.first_offset, &rw);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n && !rc; i++) {
        archive_segment as = sl_archive_segment_at(v, i);
        /* An export, a cold move and a forget (forget_archive.h: one
         * segment for each kept one) write segments no larger than the
         * store's, which segment_bytes_max holds. The widening stays for
         * the archives a forget wrote before, one segment over the whole
         * range (version 1 and 2 files of it exist), which it lets come
         * back as one segment of their size. */
        segment_params params = { .segment_bytes_max = as.bytes > cfg->segment_bytes_max ? as.bytes
                                                                                         : cfg->segment_bytes_max,
                                  .index_interval_bytes = cfg->index_interval_bytes,
                                  .file_mode = file_mode };
        segment *seg;
        if ((rc = sl_catalog_rewrite_segment(rw, as.base_offset, &params, &seg)) == 0)
            rc = restore_segment(rw, seg, sl_archive_file_segment(f, i));
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

static int restore_into(maintenance *m, archive_file *f, const char *path, siglog_restore_result *res)
{
    const archive_view *v = &f->view;
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
        rc = compare_overlap(m, c, &cfg, snap, overlap, f,
                             start > am->first_offset ? start : am->first_offset, am->next_offset);
    sl_catalog_snapshot_release(snap);
    audit_record r;
    if (!rc && n > 0) {
        restore_record(&r, am, sl_archive_segment_at(v, n - 1).end_offset, records, bytes, path);
        if ((rc = sl_maintenance_audit(m, &r)) == 0)
            rc = restore_below(c, f, n, &cfg, sl_maintenance_file_mode(m));
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
    rc = restore_into(m, sl_archive_file_of(a), path, res);
    if (rc < 0)
        rc = sl_err_set(rc, "restoring %s: %s", path, siglog_errdetail());
    siglog_archive_close(a);
    return rc;
}
