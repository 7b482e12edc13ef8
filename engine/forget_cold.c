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
#include "retain.h"
#include "names.h"

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

/* The catalog entry of the archive written for entries[0..n) (tallied
 * as t): the first's, over their range, with what t counted. */
static int new_entry(const catalog_segment *entries, size_t n, const archive_tally *t, uint32_t gen,
                     catalog_segment *e)
{
    *e = entries[0];
    e->end_offset = entries[n - 1].end_offset;
    e->record_count = t->records;
    e->first_timestamp_us = t->first_ts;
    e->max_timestamp_us = t->max_ts;
    e->schema_count = 0;
    for (uint32_t k = 0; k < t->schema_count; k++) {
        int rc = sl_catalog_segment_insert_version(e, t->schemas[k].version);
        if (rc < 0)
            return rc;
    }
    sl_cold_location(e->location, e->base_offset, gen);
    return 0;
}

/* Rewrite entries [first, first + n) of snapshot s (n 1 or 2,
 * consecutive cold entries) through the streaming archive writer, its
 * source their archives with keep: one segment, the second entry (when
 * there is one) emptied and its range joining the first's. */
static int rewrite(maintenance *m, catalog *c, const char *stream, uint32_t p, const siglog_stream_config *cfg,
                   const catalog_snapshot *s, size_t first, size_t n, compact_keep_fn keep, void *arg,
                   compact_stats *st)
{
    cold_swap sw = {.n = n};
    for (size_t k = 0; k < n; k++)
        sw.old[k] = *sl_catalog_snapshot_segment(s, first + k);
    const catalog_segment *entries = sw.old;
    archive_cold_dir cd = {.backend = sl_maintenance_backend(m), .cfg = cfg, .store_id = sl_maintenance_store_id(m),
                           .stream = stream, .partition = p};
    archive_source src = {.io = sl_maintenance_io(m), .dir = sl_catalog_dir(c), .snap = s, .first = first, .n = n,
                          .cold = &cd, .keep = keep, .keep_arg = arg};
    archive_segment segs[2];
    archive_tally t;
    *st = (compact_stats){.segments_in = n};
    for (size_t k = 0; k < n; k++) {
        st->bytes_in += entries[k].bytes;
        st->records_in += entries[k].record_count;
    }
    int rc = sl_archive_scan(&src, segs, &t);
    if (rc)
        return rc;
    st->records_dropped = st->records_in - t.records;
    if (t.records == 0)
        rc = COMPACT_NOTHING_KEPT;
    else if (t.segments != 1)
        rc = sl_err_set(SIGLOG_ECORRUPT, "cold entry %s would be rewritten in %u segments, not one",
                        entries[0].location, t.segments);
    uint32_t gen = sl_cold_generation(&entries[0]) + 1;
    if (!rc)
        rc = new_entry(entries, n, &t, gen, &sw.new_entry);
    if (!rc) {
        archive_meta am = {.store_id = sl_maintenance_store_id(m), .partition = p,
                           .created_us = sl_maintenance_io(m)->now_us(sl_maintenance_io(m))};
        snprintf(am.stream, sizeof am.stream, "%s", stream);
        char name[COLD_NAME_MAX + 1];
        sl_cold_archive_name(name, am.store_id, stream, p, sw.new_entry.base_offset, sw.new_entry.end_offset, gen);
        rc = sl_cold_write(m, &src, &am, segs, &t, cfg, name, &sw.new_entry.bytes);
        st->segments_out = 1;
        st->bytes_out = sw.new_entry.bytes;
    }
    sl_archive_tally_free(&t);
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
    if (i == sl_catalog_snapshot_count(s) || sl_catalog_snapshot_segment(s, i)->base_offset != base_offset ||
        !sl_cold_entry(sl_catalog_snapshot_segment(s, i))) {
        sl_catalog_snapshot_release(s);
        return sl_err_set(SIGLOG_ENOENT, "%s: no cold entry starts at offset %" PRIu64, sl_catalog_dir(c),
                          base_offset);
    }
    catalog_segment entries[2];
    entries[1] = *sl_catalog_snapshot_segment(s, i);
    if (i > 0)
        entries[0] = *sl_catalog_snapshot_segment(s, i - 1);
    rc = rewrite(m, c, stream, p, cfg, s, i, 1, keep, arg, st);
    if (rc != COMPACT_NOTHING_KEPT) {
        sl_catalog_snapshot_release(s);
        return rc;
    }
    /* Nothing stays: the first entry leaves the log (commit, then its
     * archive goes); a later one joins the cold entry before it. */
    if (i == 0) {
        sl_catalog_snapshot_release(s);
        uint64_t dropped = st->records_dropped;
        if ((rc = sl_catalog_remove_prefix(c, 1)) == 0)
            rc = unlink_archives(m, stream, p, cfg, &entries[1], 1);
        *st = (compact_stats){.segments_in = 1, .records_in = dropped, .records_dropped = dropped,
                              .bytes_in = entries[1].bytes};
        return rc;
    }
    if (!sl_cold_entry(&entries[0]) || entries[0].end_offset != entries[1].base_offset) {
        sl_catalog_snapshot_release(s);
        return sl_err_set(SIGLOG_EINVAL, "%s: cold entry %s would keep no record and the entry before it (%s) is "
                                         "not a cold entry it can join: nothing was removed from it",
                          sl_catalog_dir(c), entries[1].location, entries[0].location);
    }
    rc = rewrite(m, c, stream, p, cfg, s, i - 1, 2, keep, arg, st);
    sl_catalog_snapshot_release(s);
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
