/*
 * cold_orphans — archives in cold_dir that no catalog entry names
 * (cold.h, format-spec/FORMAT.md §4 "Cold tier", "Orphan archives").
 *
 * An orphan is a file of THIS store's stream and partition in cold_dir,
 * "<store id>.<stream>.<partition>.<base>-<end>[.g<G>].sgar" or that
 * name with ".tmp" (a temporary file), that is not the archive of a cold
 * entry of the partition's catalog (sl_cold_entry_archive_name): left by a power cut between a move's
 * rename and its catalog commit, or between a purge's commit and its
 * unlink, or by a move cut while it wrote. No reader ever opens one (a
 * reader finds archives by the catalog's entries), so an orphan costs
 * space, never data.
 *
 * Invariant that makes removing one safe: a cold move writes its archive
 * and then commits the entry, both under the maintenance role. So only
 * the holder of that role, looking at the catalog after its own moves,
 * can tell an orphan from an archive about to be committed: removal
 * (sl_cold_orphans_remove) takes a maintenance handle; listing
 * (sl_cold_orphans_list, for verify) needs none and removes nothing.
 * Files of other stores, streams or partitions sharing the directory,
 * and any other name, are never touched.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cold.h"
#include "error.h"
#include "maintenance.h"
#include "names.h"

#define TMP_SUFFIX ".tmp"

/* Whether name is an archive (or its temporary) of the partition whose
 * names begin with prefix: "<20 digits>-<20 digits>", then ".sgar" or
 * ".g<G>.sgar" (a forget's generation), then nothing or ".tmp"; its
 * offsets in *base, *end and *tmp whether it is a temporary. */
static int parse_name(const char *name, const char *prefix, uint64_t *base, uint64_t *end, int *tmp)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0)
        return 0;
    const char *p = name + n;
    for (int i = 0; i < 41; i++)
        if (i == 20 ? p[i] != '-' : (p[i] < '0' || p[i] > '9'))
            return 0;
    const char *rest = p + 41;
    if (rest[0] == '.' && rest[1] == 'g') {
        const char *d = rest + 2;
        while (*d >= '0' && *d <= '9')
            d++;
        if (d == rest + 2)
            return 0;
        rest = d;
    }
    size_t sl = strlen(ARCHIVE_SUFFIX);
    if (strncmp(rest, ARCHIVE_SUFFIX, sl) != 0 || (rest[sl] && strcmp(rest + sl, TMP_SUFFIX) != 0))
        return 0;
    *tmp = rest[sl] != '\0';
    *base = strtoull(p, NULL, 10);
    *end = strtoull(p + 21, NULL, 10);
    return 1;
}

/* Whether name is the archive of one of s's cold entries. */
static int named_cold(const catalog_snapshot *s, uint64_t store_id, const char *stream, uint32_t p,
                      const char *name)
{
    for (size_t i = 0; i < sl_catalog_snapshot_count(s); i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        char own[COLD_NAME_MAX + 1];
        if (!sl_cold_entry(e))
            continue;
        sl_cold_entry_archive_name(own, store_id, stream, p, e);
        if (strcmp(own, name) == 0)
            return 1;
    }
    return 0;
}

int sl_cold_orphans_list(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                         const char *stream, uint32_t p, const catalog_snapshot *s, cold_orphan_fn fn, void *ctx)
{
    if (!cfg->cold_dir[0])
        return 0;
    io_root *root;
    char *real;
    int rc = sl_cold_root_open(backend, NULL, cfg, &root, &real);
    if (rc == SIGLOG_ENOENT)
        return 0; /* not mounted: nothing of it to list (readers of cold entries report it) */
    if (rc)
        return rc;
    const siglog_io *io = sl_io_root_io(root);
    io_dirent_list l = {0};
    int r = io->list_dir(io, real, &l);
    if (r < 0)
        rc = sl_err_errno(r, "listing cold_dir %s", real);
    char prefix[COLD_NAME_MAX + 1];
    snprintf(prefix, sizeof prefix, "%016" PRIx64 ".%s.%05u.", store_id, stream, p);
    for (size_t i = 0; i < l.count && !rc; i++) {
        uint64_t base, end;
        int tmp;
        if (!parse_name(l.names[i], prefix, &base, &end, &tmp))
            continue;
        if (tmp || !named_cold(s, store_id, stream, p, l.names[i]))
            rc = fn(ctx, io, real, l.names[i], base, end);
    }
    sl_io_dirent_list_free(&l);
    sl_io_root_close(root);
    free(real);
    return rc;
}

typedef struct remover {
    uint64_t count;
    int dry_run;
} remover;

static int remove_one(void *ctx, const siglog_io *io, const char *dir, const char *name, uint64_t base, uint64_t end)
{
    (void)base;
    (void)end;
    remover *r = ctx;
    r->count++;
    if (r->dry_run)
        return 0;
    char *path = sl_path_join(dir, name);
    int rc = path ? io->unlink(io, path) : -ENOMEM;
    rc = rc < 0 && rc != -ENOENT ? sl_err_errno(rc, "removing the orphan archive %s", path ? path : name) : 0;
    free(path);
    return rc;
}

int sl_cold_orphans_remove(maintenance *m, catalog *c, const char *stream, uint32_t p,
                           const siglog_stream_config *cfg, int dry_run, uint64_t *count)
{
    *count = 0;
    if (!cfg->cold_dir[0])
        return 0;
    /* The catalog as it is now, after this handle's own moves: nothing
     * else commits a cold entry while the role is held. */
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    remover r = {.dry_run = dry_run};
    rc = sl_cold_orphans_list(sl_maintenance_backend(m), cfg, sl_maintenance_store_id(m), stream, p, s, remove_one,
                              &r);
    sl_catalog_snapshot_release(s);
    *count = r.count;
    return rc;
}
