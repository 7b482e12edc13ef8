/*
 * archive_export — siglog_archive_export: copy a partition's oldest
 * sealed segments out of the store as one archive file (archive.h), and
 * with SIGLOG_ARCHIVE_MOVE take them out of the store afterwards.
 *
 * Every tier is exported: a cold entry's records are read from its
 * archive in the stream's cold_dir (checked whole and against the entry,
 * as a cursor reads it) and re-encoded into the export like a segment
 * file's. So the archive always starts at the log start and covers every
 * sealed entry older than the bound, whatever tier each is in: an export
 * that skipped the cold tier would leave a gap, and one that stopped at
 * it would report success having exported nothing. A cold archive that
 * is missing or damaged fails the export naming it, nothing written.
 *
 * It runs in the maintenance role (maintenance.h), beside a live writer
 * and readers: it reads only SEALED segments, which nobody changes, and
 * removes them only through the catalog. The order makes every step safe
 * to interrupt:
 *   1. take the catalog's current state and pick the sealed entries (hot,
 *      warm or cold) whose newest event is older than the bound, oldest
 *      first, as a prefix of the log (an archive holds one contiguous
 *      range);
 *   2. read them batch by batch, checking every batch and record
 *      (sl_archive_scan): damage is refused naming the segment file and
 *      byte, and nothing is written;
 *   3. record the export in the audit trail (the record is the intent);
 *   4. write the file into the target directory by atomic replace (synced,
 *      then its directory), every path resolved beneath that directory
 *      without following a symlink, streaming: each batch re-encoded with
 *      LZ4HC at the stream's warm_level, one at a time (sl_archive_write:
 *      memory bounded by the largest batch, not by the segments);
 *   with SIGLOG_ARCHIVE_MOVE, only once the archive is durable:
 *   5. read the file back and check it whole (checksum, every batch);
 *   6. record the removal in the audit trail (the intent again);
 *   7. remove the segments through the catalog (sl_catalog_remove_prefix:
 *      commit, then unlink), provided they are still its first entries,
 *      and then the cold ones' archives in cold_dir (sl_cold_purged, as a
 *      purge does: once the catalog no longer names them, a cut here
 *      leaves orphans that retention and verify --repair remove).
 * A crash leaves the store as it was with an audit record and no archive
 * or a whole one, or (moving) the whole archive and the store without the
 * segments, or with them plus leftovers the next maintenance removes.
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
#include "io_root.h"
#include "maintenance.h"
#include "names.h"
#include "retain.h"

/* How many sealed entries at the start of the snapshot, of any tier,
 * have their newest event before before_us (the active one never does). */
static size_t archivable_prefix(const catalog_snapshot *snap, int64_t before_us)
{
    size_t n = 0, total = sl_catalog_snapshot_count(snap);
    while (n < total && n < ARCHIVE_SEGMENTS_MAX) {
        const catalog_segment *e = sl_catalog_snapshot_segment(snap, n);
        if (e->state != CATALOG_SEG_SEALED || e->record_count == 0 || e->max_timestamp_us >= before_us)
            break;
        n++;
    }
    return n;
}

/* The archive's name: STREAM.PPPPP.FIRST-NEXT.sgar, offsets in 20 digits. */
static void archive_name(char *buf, size_t cap, const archive_meta *m)
{
    snprintf(buf, cap, "%s.%05u.%020" PRIu64 "-%020" PRIu64 "%s", m->stream, m->partition, m->first_offset,
             m->next_offset, ARCHIVE_SUFFIX);
}

/* Write the archive into dir (the user's path, symlinks to it allowed):
 * everything beneath it through a jail rooted there, streamed from src
 * (archive_write.c). With check, it is read back and checked whole. */
static int write_archive(const maintenance *m, const archive_source *src, archive_meta *am, archive_segment *segs,
                         const archive_tally *t, const char *dir, const char *name, int compression, int check,
                         char *path_out, size_t path_cap)
{
    char *real = sl_io_real_path(dir);
    if (!real)
        return sl_err_errno(-errno, "archive directory %s", dir);
    io_root *root = NULL;
    int rc = sl_io_root_open(sl_maintenance_backend(m), real, &root);
    char *path = rc < 0 ? NULL : sl_path_join(real, name);
    uint64_t file_bytes = 0;
    if (rc < 0)
        rc = rc == -IO_EJAIL ? sl_err_set(SIGLOG_EPERM, "archive directory %s: %s", dir, sl_io_jail_detail())
                             : sl_err_errno(rc, "archive directory %s", dir);
    else if (!path)
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    else {
        archive_target to = { .io = sl_io_root_io(root), .dir = real, .path = path,
                              .mode = sl_maintenance_file_mode(m), .compression = compression, .check = check };
        rc = sl_archive_write(src, am, segs, t, &to, &file_bytes);
    }
    if (!rc && path_out)
        snprintf(path_out, path_cap, "%s", path);
    free(path);
    sl_io_root_close(root);
    free(real);
    return rc;
}

/* The audit record of the copy, or (removed) of the segments' removal
 * from the store once the archive holds them. */
static void export_record(audit_record *r, const archive_meta *m, uint64_t bytes, const char *dir, const char *name,
                          int removed)
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
    if (removed)
        snprintf(r->detail, sizeof r->detail, "removed from the store: archived in %s/%s, read back whole", dir,
                 name);
    else
        snprintf(r->detail, sizeof r->detail, "copied %" PRIu64 " batches to %s/%s", m->batch_count, dir, name);
}

/* Remove the archived entries: still the catalog's first n (a writer's
 * acceptance of a loss may have changed the start since), else nothing. */
static int remove_archived(catalog *c, const catalog_snapshot *archived, size_t n)
{
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *now = sl_catalog_snapshot_get(c);
    for (size_t i = 0; i < n && !rc; i++) {
        const catalog_segment *a = sl_catalog_snapshot_segment(archived, i);
        const catalog_segment *b = i < sl_catalog_snapshot_count(now) ? sl_catalog_snapshot_segment(now, i) : NULL;
        if (!b || b->base_offset != a->base_offset || strcmp(b->location, a->location) != 0)
            rc = sl_err_set(SIGLOG_ECORRUPT, "%s: the catalog changed during the export (segment %s is no longer "
                                             "entry %zu): nothing removed, the archive stays", sl_catalog_dir(c),
                            a->location, i);
    }
    sl_catalog_snapshot_release(now);
    return rc ? rc : sl_catalog_remove_prefix(c, n);
}

SIGLOG_API int siglog_archive_export(siglog_maintenance *m, const char *stream, uint32_t partition,
                                     int64_t before_us, const char *dir, unsigned flags, char *path_out,
                                     size_t path_cap)
{
    siglog_archive_export_options o = { .flags = flags };
    return siglog_archive_export_with(m, stream, partition, before_us, dir, &o, path_out, path_cap);
}

SIGLOG_API int siglog_archive_export_with(siglog_maintenance *m, const char *stream, uint32_t partition,
                                          int64_t before_us, const char *dir, const siglog_archive_export_options *o,
                                          char *path_out, size_t path_cap)
{
    sl_err_clear();
    siglog_archive_export_options none = { 0 };
    if (!o)
        o = &none;
    unsigned flags = o->flags;
    if (!m || !stream || !dir)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_export: maintenance handle, stream and directory are "
                                         "required");
    if (flags & ~(unsigned)SIGLOG_ARCHIVE_MOVE)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_export: unknown flags %#x", flags);
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i])
            return sl_err_set(SIGLOG_EINVAL, "siglog_archive_export: reserved[%zu] must be 0", i);
    catalog *c;
    int rc = sl_maintenance_catalog(m, stream, partition, &c);
    if (rc)
        return rc;
    catalog_snapshot *snap = sl_catalog_snapshot_get(c);
    archive_segment *segs = NULL;
    char *real = NULL;
    archive_tally t;
    sl_archive_tally_init(&t);
    size_t n = archivable_prefix(snap, before_us);
    if (n == 0)
        goto out; /* nothing old enough: 0 archives */
    siglog_stream_config cfg;
    char *stream_dir = NULL;
    rc = sl_maintenance_stream(m, stream, &stream_dir, &cfg);
    free(stream_dir);
    if (rc)
        goto out;
    if (!(segs = calloc(n, sizeof *segs))) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto out;
    }
    const siglog_io *io = sl_maintenance_io(m);
    uint64_t store_bytes = 0;
    for (size_t i = 0; i < n; i++)
        store_bytes += sl_catalog_snapshot_segment(snap, i)->bytes;
    archive_progress progress = { .fn = o->progress, .ctx = o->progress_ctx, .total = 2 * store_bytes };
    archive_cold_dir cold = { .backend = sl_maintenance_backend(m), .cfg = &cfg,
                              .store_id = sl_maintenance_store_id(m), .stream = stream, .partition = partition };
    archive_source src = { .io = io, .dir = sl_catalog_dir(c), .snap = snap, .n = n, .progress = &progress,
                           .cold = &cold };
    if ((rc = sl_archive_scan(&src, segs, &t)) != 0) {
        rc = sl_err_set(rc, "stream '%s' partition %u: %s", stream, partition, siglog_errdetail());
        goto out;
    }
    archive_meta am = { .store_id = sl_maintenance_store_id(m), .partition = partition, .created_us = io->now_us(io),
                        .first_offset = segs[0].base_offset, .next_offset = segs[n - 1].end_offset,
                        .record_count = t.records, .min_timestamp_us = t.min_ts, .max_timestamp_us = t.max_ts,
                        .batch_count = t.batches };
    snprintf(am.stream, sizeof am.stream, "%s", stream);
    char name[SIGLOG_NAME_MAX + 64];
    archive_name(name, sizeof name, &am);
    int move = (flags & SIGLOG_ARCHIVE_MOVE) != 0;
    audit_record r;
    /* The record names the directory resolved: a forget run from another
     * working directory reads it (forget_archive.c, "not visited"). */
    if (!(real = sl_io_real_path(dir))) {
        rc = sl_err_errno(-errno, "archive directory %s", dir);
        goto out;
    }
    export_record(&r, &am, store_bytes, real, name, 0);
    if ((rc = sl_maintenance_audit(m, &r)) == 0)
        rc = write_archive(m, &src, &am, segs, &t, dir, name, BATCH_LZ4HC((int)cfg.warm_level), move, path_out,
                           path_cap);
    if (!rc && move) {
        export_record(&r, &am, store_bytes, real, name, 1);
        if ((rc = sl_maintenance_audit(m, &r)) == 0 && (rc = remove_archived(c, snap, n)) == 0)
            rc = sl_cold_purged(m, snap, n, stream, partition, &cfg);
    }
out:
    free(real);
    free(segs);
    sl_archive_tally_free(&t);
    sl_catalog_snapshot_release(snap);
    return rc ? rc : n > 0;
}
