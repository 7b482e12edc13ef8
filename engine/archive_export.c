/*
 * archive_export — siglog_archive_export: copy a partition's oldest
 * sealed segments out of the store as one archive file (archive.h).
 *
 * The store is only read: the segments stay where they are (moving them
 * out is retention's, through the catalog's rewrite primitive). The order
 * makes every step safe to interrupt:
 *   1. take a catalog snapshot and read the sealed hot or warm segments
 *      whose newest event is older than the bound, oldest first, as a
 *      prefix of the log (an archive holds one contiguous range);
 *   2. build the archive in memory, which checks every batch and record:
 *      damage is refused naming the segment, and nothing is written;
 *   3. record the export in the audit trail (the record is the intent);
 *   4. write the file into the target directory by atomic replace, every
 *      path resolved beneath that directory without following a symlink.
 * A crash leaves the audit record and no archive, or the archive whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "audit.h"
#include "catalog.h"
#include "error.h"
#include "names.h"
#include "store.h"

/* The sealed in-store segments at the start of the snapshot whose newest
 * event is before before_us: *count of them from the first. */
static size_t archivable_prefix(const catalog_snapshot *snap, int64_t before_us)
{
    size_t n = 0, total = sl_catalog_snapshot_count(snap);
    while (n < total && n < ARCHIVE_SEGMENTS_MAX) {
        const catalog_segment *e = sl_catalog_snapshot_segment(snap, n);
        if (e->state != CATALOG_SEG_SEALED || (e->tier != CATALOG_TIER_HOT && e->tier != CATALOG_TIER_WARM) ||
            e->record_count == 0 || e->max_timestamp_us >= before_us)
            break;
        n++;
    }
    return n;
}

/* Append the .seg of entry e (exactly e->bytes long) to data. */
static int read_segment(const siglog_io *io, const char *pdir, const catalog_segment *e, bytebuf *data)
{
    char stem[CATALOG_LOCATION_MAX + 8];
    snprintf(stem, sizeof stem, "%s.seg", e->location);
    char *path = sl_path_join(pdir, stem);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    void *bytes = NULL;
    size_t len = 0;
    int rc = sl_io_read_file(io, path, e->bytes + 1, &bytes, &len);
    if (rc < 0)
        rc = sl_err_errno(rc, "reading %s", path);
    else if (len != e->bytes)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s holds %zu bytes, the catalog says %" PRIu64, path, len, e->bytes);
    else if (sl_bytebuf_append(data, bytes, len) != 0)
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    free(bytes);
    free(path);
    return rc;
}

/* The archive's name: STREAM.PPPPP.FIRST-NEXT.sgar, offsets in 20 digits. */
static void archive_name(char *buf, size_t cap, const archive_meta *m)
{
    snprintf(buf, cap, "%s.%05u.%020" PRIu64 "-%020" PRIu64 "%s", m->stream, m->partition, m->first_offset,
             m->next_offset, ARCHIVE_SUFFIX);
}

/* Write the archive into dir (the user's path, symlinks to it allowed):
 * everything beneath it through a jail rooted there. */
static int write_archive(const struct siglog *s, const char *dir, const char *name, const bytebuf *file,
                         char *path_out, size_t path_cap)
{
    char *real = sl_io_real_path(dir);
    if (!real)
        return sl_err_errno(-errno, "archive directory %s", dir);
    io_root *root = NULL;
    const siglog_io *backend = s->opt.io ? s->opt.io : sl_io_posix();
    int rc = sl_io_root_open(backend, real, &root);
    char *path = rc < 0 ? NULL : sl_path_join(real, name);
    if (rc < 0)
        rc = rc == -IO_EJAIL ? sl_err_set(SIGLOG_EPERM, "archive directory %s: %s", dir, sl_io_jail_detail())
                             : sl_err_errno(rc, "archive directory %s", dir);
    else if (!path)
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    else if ((rc = sl_io_replace_file(sl_io_root_io(root), real, path, file->data, file->len, s->opt.file_mode)) < 0)
        rc = sl_err_errno(rc, "writing archive %s", path);
    if (!rc && path_out)
        snprintf(path_out, path_cap, "%s", path);
    free(path);
    sl_io_root_close(root);
    free(real);
    return rc;
}

static void export_record(audit_record *r, const archive_meta *m, uint64_t bytes, const char *dir, const char *name)
{
    sl_audit_record_init(r, AUDIT_ARCHIVE, AUDIT_BY_COMMAND);
    snprintf(r->stream, sizeof r->stream, "%s", m->stream);
    r->partition = m->partition;
    r->offset_start = m->first_offset;
    r->offset_end = m->next_offset;
    r->time_min_us = m->min_timestamp_us;
    r->time_max_us = m->max_timestamp_us;
    r->bytes = bytes;
    r->events = m->record_count;
    snprintf(r->detail, sizeof r->detail, "copied %" PRIu64 " batches to %s/%s", m->batch_count, dir, name);
}

SIGLOG_API int siglog_archive_export(siglog *s, const char *stream, uint32_t partition, int64_t before_us,
                                     const char *dir, char *path_out, size_t path_cap)
{
    sl_err_clear();
    if (!s || !stream || !dir)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_export: store, stream and directory are required");
    if (s->read_only)
        return sl_err_set(SIGLOG_ERDONLY, "store %s is open read-only: an export is audited", s->path);
    siglog_stream *st;
    int rc = siglog_stream_get(s, stream, &st);
    if (rc)
        return rc;
    if (partition >= st->cfg.partitions)
        return sl_err_set(SIGLOG_EINVAL, "stream '%s' has %u partitions: no partition %u", stream,
                          st->cfg.partitions, partition);
    char *pdir = sl_path_partition_dir(st->dir, partition);
    if (!pdir)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    catalog_snapshot *snap = NULL;
    bytebuf data = { 0 }, file = { 0 };
    archive_segment *segs = NULL;
    size_t n = 0;
    if ((rc = sl_catalog_snapshot_load(s->io, pdir, &snap)) != 0)
        goto out;
    n = archivable_prefix(snap, before_us);
    if (n == 0)
        goto out; /* nothing old enough: 0 archives */
    if (!(segs = calloc(n, sizeof *segs))) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(snap, i);
        segs[i] = (archive_segment){ e->base_offset, e->end_offset, e->record_count, e->bytes, e->max_timestamp_us };
        rc = read_segment(s->io, pdir, e, &data);
    }
    archive_meta m = { .store_id = s->store_id, .partition = partition, .created_us = s->io->now_us(s->io) };
    snprintf(m.stream, sizeof m.stream, "%s", stream);
    if (!rc && (rc = sl_archive_encode(&m, segs, (uint32_t)n, data.data, data.len, &file)) != 0)
        rc = sl_err_set(rc, "stream '%s' partition %u: %s", stream, partition, siglog_errdetail());
    char name[SIGLOG_NAME_MAX + 64];
    archive_name(name, sizeof name, &m);
    audit_record r;
    if (!rc)
        export_record(&r, &m, file.len, dir, name);
    if (!rc && (rc = sl_store_audit(s, &r)) == 0)
        rc = write_archive(s, dir, name, &file, path_out, path_cap);
out:
    free(segs);
    sl_bytebuf_free(&data);
    sl_bytebuf_free(&file);
    sl_catalog_snapshot_release(snap);
    free(pdir);
    return rc ? rc : n > 0;
}
