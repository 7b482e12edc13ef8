/*
 * cold_move — a sealed segment moved into the cold tier (cold.h,
 * format-spec/FORMAT.md §4 "Cold tier"): retention's step for what is
 * older than cold_after.
 *
 * Order, each step safe to interrupt:
 *   1. read the segment batch by batch and check every batch and record
 *      (sl_archive_scan): damage is refused naming the file and byte, and
 *      nothing is written;
 *   2. the audit record of the move, synced (the intent: audit.h);
 *   3. the archive written beneath the cold root (sl_cold_root_open) by
 *      atomic replace: a temporary file written and synced, renamed to its
 *      name, the directory synced; then read back and checked whole. A
 *      copy, never a rename across filesystems;
 *   4. the catalog commits the entry as tier cold, location "<base>.cold"
 *      and bytes the archive's, provided it is still the entry scanned;
 *   5. the segment's files are unlinked from the partition directory.
 * A crash before 4 leaves the entry hot, and perhaps its archive whole in
 * cold_dir: the next run moves it again and replaces the archive (same
 * name, same bytes). After 4 the old files are leftovers, removed by the
 * next maintenance handle (catalog.h). cold_dir missing, read-only or
 * full fails step 3 naming it, before the catalog changed: the hot tier
 * keeps the segment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "audit.h"
#include "cold.h"
#include "error.h"
#include "maintenance.h"
#include "names.h"
#include "retain.h"

/* The entry the move commits: still at base with its old location. */
typedef struct cold_commit {
    uint64_t base;
    char old[CATALOG_LOCATION_MAX + 1];
    uint64_t bytes;
} cold_commit;

static int commit_cold(catalog_snapshot *s, void *arg)
{
    const cold_commit *a = arg;
    size_t n;
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    size_t i = sl_catalog_snapshot_find(s, a->base);
    if (i == n || segs[i].base_offset != a->base || strcmp(segs[i].location, a->old) != 0 ||
        segs[i].state != CATALOG_SEG_SEALED)
        return sl_err_set(SIGLOG_ECORRUPT, "segment %s changed during its move to the cold tier: it stays in the "
                                           "store, its archive is replaced by the next move", a->old);
    segs[i].tier = CATALOG_TIER_COLD;
    segs[i].bytes = a->bytes;
    sl_cold_location(segs[i].location, a->base, 0);
    return 0;
}

/* The audit record of the move of e into cold_dir/name. */
static int audit_move(maintenance *m, const catalog_segment *e, const char *stream, uint32_t p,
                      const siglog_stream_config *cfg, const char *name)
{
    audit_record r;
    sl_retain_move_record(&r, AUDIT_COLD, stream, p, e);
    snprintf(r.detail, sizeof r.detail, "retention: segment %s moved to %s/%s by cold_after=%" PRIu64 "us",
             e->location, cfg->cold_dir, name, cfg->cold_after);
    return sl_maintenance_audit(m, &r);
}

/* Step 3: the archive of src (scanned) into cold_dir, read back. */
int sl_cold_write(maintenance *m, const archive_source *src, archive_meta *am, archive_segment *seg,
                  const archive_tally *t, const siglog_stream_config *cfg, const char *name, uint64_t *bytes)
{
    io_root *root;
    char *real;
    int rc = sl_cold_root_open(sl_maintenance_backend(m), sl_maintenance_store_path(m), cfg, &root, &real);
    if (rc)
        return rc;
    char *path = sl_path_join(real, name);
    if (!path)
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    else {
        archive_target to = { .io = sl_io_root_io(root), .dir = real, .path = path,
                              .mode = sl_maintenance_file_mode(m), .compression = BATCH_LZ4HC((int)cfg->warm_level),
                              .check = 1 };
        if ((rc = sl_archive_write(src, am, seg, t, &to, bytes)) != 0)
            rc = sl_err_set(rc, "cold_dir %s: %s", cfg->cold_dir, siglog_errdetail());
    }
    free(path);
    sl_io_root_close(root);
    free(real);
    return rc;
}

int sl_cold_move(maintenance *m, catalog *c, const catalog_segment *e, const char *stream, uint32_t p,
                 const siglog_stream_config *cfg, uint64_t *bytes_after)
{
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *snap = sl_catalog_snapshot_get(c);
    size_t i = sl_catalog_snapshot_find(snap, e->base_offset);
    archive_source src = { .io = sl_maintenance_io(m), .dir = sl_catalog_dir(c), .snap = snap, .first = i, .n = 1 };
    archive_segment seg;
    archive_tally t;
    sl_archive_tally_init(&t);
    if (i == sl_catalog_snapshot_count(snap) || strcmp(sl_catalog_snapshot_segment(snap, i)->location, e->location))
        goto out; /* gone or rewritten since the plan: the next run sees it */
    if ((rc = sl_archive_scan(&src, &seg, &t)) != 0)
        goto out;
    archive_meta am = { .store_id = sl_maintenance_store_id(m), .partition = p,
                        .created_us = src.io->now_us(src.io) };
    snprintf(am.stream, sizeof am.stream, "%s", stream);
    char name[COLD_NAME_MAX + 1];
    sl_cold_archive_name(name, am.store_id, stream, p, e->base_offset, e->end_offset, 0);
    cold_commit cc = { .base = e->base_offset };
    snprintf(cc.old, sizeof cc.old, "%s", e->location);
    if ((rc = audit_move(m, e, stream, p, cfg, name)) == 0 &&
        (rc = sl_cold_write(m, &src, &am, &seg, &t, cfg, name, &cc.bytes)) == 0 &&
        (rc = sl_catalog_update(c, commit_cold, &cc)) == 0) {
        *bytes_after = cc.bytes;
        rc = sl_catalog_unlink_segment(c, cc.old);
    }
out:
    sl_archive_tally_free(&t);
    sl_catalog_snapshot_release(snap);
    return rc;
}

int sl_cold_purged(maintenance *m, const catalog_snapshot *s, size_t n, const char *stream, uint32_t p,
                   const siglog_stream_config *cfg)
{
    size_t cold = 0;
    for (size_t i = 0; i < n; i++)
        cold += sl_cold_entry(sl_catalog_snapshot_segment(s, i));
    if (cold == 0)
        return 0;
    io_root *root;
    char *real;
    int rc = sl_cold_root_open(sl_maintenance_backend(m), NULL, cfg, &root, &real);
    if (rc)
        return sl_err_set(rc, "%zu purged cold archive(s) stay: %s", cold, siglog_errdetail());
    const siglog_io *io = sl_io_root_io(root);
    int removed = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (!sl_cold_entry(e))
            continue;
        char name[COLD_NAME_MAX + 1];
        sl_cold_entry_archive_name(name, sl_maintenance_store_id(m), stream, p, e);
        char *path = sl_path_join(real, name);
        int r = path ? io->unlink(io, path) : -ENOMEM;
        if (r < 0 && r != -ENOENT)
            rc = sl_err_errno(r, "purged cold entry %s: removing its archive %s", e->location, path ? path : name);
        removed += r == 0;
        free(path);
    }
    /* Not needed for safety (the catalog no longer names them), but a
     * purge that said it freed the space should have. */
    int r = removed ? io->sync_dir(io, real) : 0;
    if (!rc && r < 0)
        rc = sl_err_errno(r, "syncing %s", real);
    sl_io_root_close(root);
    free(real);
    return rc;
}
