/*
 * forget_cold — a forget's rewrite of a cold entry; see forget_cold.h.
 */
#include "forget_cold.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "batch.h"
#include "cold.h"
#include "error.h"
#include "forget_rebuild.h"
#include "names.h"

/* The batches of entries[0..n) (consecutive cold entries) without what
 * keep() refuses, into rb; the last output batch covers up to the last
 * entry's end. COMPACT_NOTHING_KEPT when nothing stays. */
static int on_batch(void *arg, segment *s, const batch_header *h, const uint8_t *body)
{
    (void)s;
    return sl_forget_rebuild_batch(arg, h, body);
}

static int build(maintenance *m, const char *stream, uint32_t p, const siglog_stream_config *cfg,
                 const catalog_segment *entries, size_t n, forget_rebuild *rb)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        segment *seg;
        if ((rc = sl_cold_segment_open(sl_maintenance_backend(m), cfg, sl_maintenance_store_id(m), stream, p,
                                       &entries[i], &seg)) != 0)
            break;
        rc = sl_compact_each_batch(seg, 0, on_batch, rb);
        sl_segment_close(seg);
    }
    return rc ? rc : sl_forget_rebuild_end(rb, entries[n - 1].end_offset);
}

/* The new archive `name` of [base, end) holding rb's batches, written
 * beneath the cold root and read back whole; *bytes its size. */
static int write_archive(maintenance *m, const char *stream, uint32_t p, const siglog_stream_config *cfg,
                         const forget_rebuild *rb, uint64_t end, const char *name, uint64_t *bytes)
{
    archive_meta am = {.store_id = sl_maintenance_store_id(m), .partition = p,
                       .created_us = sl_maintenance_io(m)->now_us(sl_maintenance_io(m))};
    snprintf(am.stream, sizeof am.stream, "%s", stream);
    io_root *root;
    char *real = NULL, *path = NULL;
    int rc = sl_cold_root_open(sl_maintenance_backend(m), sl_maintenance_store_path(m), cfg, &root, &real);
    if (rc)
        return rc;
    if (!(path = sl_path_join(real, name)))
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    else if ((rc = sl_forget_rebuild_write(rb, &am, end, sl_io_root_io(root), real, path, sl_maintenance_file_mode(m),
                                           bytes)) != 0)
        rc = sl_err_set(rc, "cold_dir %s: %s", cfg->cold_dir, siglog_errdetail());
    free(path);
    sl_io_root_close(root);
    free(real);
    return rc;
}

/* What the commit replaces: entries [first, first + n) as read, by one. */
typedef struct cold_swap {
    catalog_segment old[2];
    size_t n;
    catalog_segment new_entry;
} cold_swap;

static int commit_swap(catalog_snapshot *s, void *arg)
{
    const cold_swap *a = arg;
    size_t count;
    catalog_segment *segs = sl_catalog_edit_segments(s, &count);
    size_t i = sl_catalog_snapshot_find(s, a->old[0].base_offset);
    for (size_t k = 0; k < a->n; k++)
        if (i + k >= count || segs[i + k].base_offset != a->old[k].base_offset ||
            strcmp(segs[i + k].location, a->old[k].location) != 0)
            return sl_err_set(SIGLOG_ECORRUPT, "cold entry %s changed during the forget: it stays as it is, the "
                                               "next forget rewrites it", a->old[k].location);
    segs[i] = a->new_entry;
    if (a->n == 2) {
        memmove(segs + i + 1, segs + i + 2, (count - i - 2) * sizeof *segs);
        if (!sl_catalog_edit_resize(s, count - 1))
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    return 0;
}

/* Unlink the archives of entries[0..n) and sync cold_dir. */
static int unlink_archives(maintenance *m, const char *stream, uint32_t p, const siglog_stream_config *cfg,
                           const catalog_segment *entries, size_t n)
{
    io_root *root;
    char *real;
    int rc = sl_cold_root_open(sl_maintenance_backend(m), NULL, cfg, &root, &real);
    if (rc)
        return rc;
    const siglog_io *io = sl_io_root_io(root);
    for (size_t i = 0; i < n && !rc; i++) {
        char name[COLD_NAME_MAX + 1];
        sl_cold_entry_archive_name(name, sl_maintenance_store_id(m), stream, p, &entries[i]);
        char *path = sl_path_join(real, name);
        int r = path ? io->unlink(io, path) : -ENOMEM;
        if (r < 0 && r != -ENOENT)
            rc = sl_err_errno(r, "removing the replaced archive %s", path ? path : name);
        free(path);
    }
    int r = io->sync_dir(io, real);
    if (!rc && r < 0)
        rc = sl_err_errno(r, "syncing %s", real);
    sl_io_root_close(root);
    free(real);
    return rc;
}

/* Rewrite entries[0..n) of s (n 1 or 2, consecutive cold entries). */
static int rewrite(maintenance *m, catalog *c, const char *stream, uint32_t p, const siglog_stream_config *cfg,
                   const catalog_segment *entries, size_t n, compact_keep_fn keep, void *arg, compact_stats *st)
{
    forget_rebuild cb;
    sl_forget_rebuild_init(&cb, keep, arg, BATCH_LZ4HC((int)cfg->warm_level), entries[0].base_offset);
    snprintf(cb.kept.location, sizeof cb.kept.location, "%s", entries[0].location);
    int rc = build(m, stream, p, cfg, entries, n, &cb);
    *st = (compact_stats){.segments_in = n, .records_in = cb.records_in, .records_dropped = cb.records_in - cb.records};
    for (size_t k = 0; k < n; k++)
        st->bytes_in += entries[k].bytes;
    cold_swap sw = {.n = n};
    memcpy(sw.old, entries, n * sizeof *entries);
    if (!rc) {
        uint32_t gen = sl_cold_generation(&entries[0]) + 1;
        uint64_t end = entries[n - 1].end_offset;
        char name[COLD_NAME_MAX + 1];
        sl_cold_archive_name(name, sl_maintenance_store_id(m), stream, p, cb.base, end, gen);
        catalog_segment *e = &sw.new_entry;
        *e = entries[0];
        e->end_offset = end;
        e->record_count = cb.records;
        e->first_timestamp_us = cb.first_ts;
        e->max_timestamp_us = cb.max_ts;
        e->schema_count = cb.kept.schema_count;
        memcpy(e->schema_versions, cb.kept.schema_versions, cb.kept.schema_count * sizeof *e->schema_versions);
        sl_cold_location(e->location, cb.base, gen);
        rc = write_archive(m, stream, p, cfg, &cb, end, name, &e->bytes);
        st->segments_out = 1;
        st->bytes_out = e->bytes;
    }
    sl_forget_rebuild_free(&cb);
    if (!rc && (rc = sl_catalog_update(c, commit_swap, &sw)) == 0)
        rc = unlink_archives(m, stream, p, cfg, entries, n);
    return rc;
}

int sl_forget_cold_drop(maintenance *m, catalog *c, const char *stream, uint32_t p, const siglog_stream_config *cfg,
                        uint64_t base_offset, compact_keep_fn keep, void *arg, compact_stats *st)
{
    *st = (compact_stats){0};
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    size_t i = sl_catalog_snapshot_find(s, base_offset);
    catalog_segment entries[2];
    if (i == sl_catalog_snapshot_count(s) || sl_catalog_snapshot_segment(s, i)->base_offset != base_offset ||
        !sl_cold_entry(sl_catalog_snapshot_segment(s, i))) {
        sl_catalog_snapshot_release(s);
        return sl_err_set(SIGLOG_ENOENT, "%s: no cold entry starts at offset %" PRIu64, sl_catalog_dir(c),
                          base_offset);
    }
    entries[1] = *sl_catalog_snapshot_segment(s, i);
    if (i > 0)
        entries[0] = *sl_catalog_snapshot_segment(s, i - 1);
    sl_catalog_snapshot_release(s);
    rc = rewrite(m, c, stream, p, cfg, &entries[1], 1, keep, arg, st);
    if (rc != COMPACT_NOTHING_KEPT)
        return rc;
    /* Nothing stays: the first entry leaves the log (commit, then its
     * archive goes); a later one joins the cold entry before it. */
    if (i == 0) {
        uint64_t dropped = st->records_dropped;
        if ((rc = sl_catalog_remove_prefix(c, 1)) == 0)
            rc = unlink_archives(m, stream, p, cfg, &entries[1], 1);
        *st = (compact_stats){.segments_in = 1, .records_in = dropped, .records_dropped = dropped,
                              .bytes_in = entries[1].bytes};
        return rc;
    }
    if (!sl_cold_entry(&entries[0]) || entries[0].end_offset != entries[1].base_offset)
        return sl_err_set(SIGLOG_EINVAL, "%s: cold entry %s would keep no record and the entry before it (%s) is "
                                         "not a cold entry it can join: nothing was removed from it",
                          sl_catalog_dir(c), entries[1].location, entries[0].location);
    rc = rewrite(m, c, stream, p, cfg, entries, 2, keep, arg, st);
    return rc == COMPACT_NOTHING_KEPT
               ? sl_err_set(SIGLOG_EINVAL, "%s: cold entries %s and %s would keep no record", sl_catalog_dir(c),
                            entries[0].location, entries[1].location)
               : rc;
}

/* Whether name is an archive of this store's stream partition: the
 * prefix, then "<base>-<end>", then ".sgar" or ".g<G>.sgar". */
static int partition_archive(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0)
        return 0;
    const char *q = name + n;
    for (int i = 0; i < 41; i++, q++)
        if (i == 20 ? *q != '-' : (*q < '0' || *q > '9'))
            return 0;
    if (q[0] == '.' && q[1] == 'g') {
        q += 2;
        const char *d = q;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q == d)
            return 0;
    }
    return strcmp(q, ARCHIVE_SUFFIX) == 0;
}

int sl_forget_cold_leftovers(maintenance *m, catalog *c, const char *stream, uint32_t p,
                             const siglog_stream_config *cfg, uint32_t *removed)
{
    *removed = 0;
    if (!cfg->cold_dir[0])
        return 0;
    io_root *root;
    char *real;
    int rc = sl_cold_root_open(sl_maintenance_backend(m), NULL, cfg, &root, &real);
    if (rc == SIGLOG_ENOENT) {
        /* A cold_dir never made holds nothing; one gone while the
         * catalog names archives in it is an error. */
        catalog_snapshot *s = sl_catalog_snapshot_get(c);
        int cold = sl_cold_prefix(s) > 0;
        sl_catalog_snapshot_release(s);
        if (!cold)
            sl_err_clear();
        return cold ? rc : 0;
    }
    if (rc)
        return rc;
    const siglog_io *io = sl_io_root_io(root);
    io_dirent_list names = {0};
    if ((rc = io->list_dir(io, real, &names)) < 0)
        rc = sl_err_errno(rc, "listing cold_dir %s", real);
    char prefix[COLD_NAME_MAX + 1];
    snprintf(prefix, sizeof prefix, "%016" PRIx64 ".%s.%05u.", sl_maintenance_store_id(m), stream, p);
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    for (size_t k = 0; !rc && k < names.count; k++) {
        if (!partition_archive(names.names[k], prefix))
            continue;
        int named = 0;
        for (size_t i = 0; i < sl_catalog_snapshot_count(s) && !named; i++) {
            const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
            char name[COLD_NAME_MAX + 1];
            sl_cold_entry_archive_name(name, sl_maintenance_store_id(m), stream, p, e);
            named = sl_cold_entry(e) && strcmp(name, names.names[k]) == 0;
        }
        if (named)
            continue;
        char *path = sl_path_join(real, names.names[k]);
        int r = path ? io->unlink(io, path) : -ENOMEM;
        if (r < 0 && r != -ENOENT)
            rc = sl_err_errno(r, "removing the archive %s, which the catalog no longer names",
                              path ? path : names.names[k]);
        *removed += r == 0;
        free(path);
    }
    sl_catalog_snapshot_release(s);
    int r = !rc && *removed ? io->sync_dir(io, real) : 0;
    if (r < 0)
        rc = sl_err_errno(r, "syncing %s", real);
    sl_io_dirent_list_free(&names);
    sl_io_root_close(root);
    free(real);
    return rc;
}
