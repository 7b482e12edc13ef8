#include "maintenance.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "error.h"
#include "hwm.h"
#include "io_root.h"
#include "lockfile.h"
#include "names.h"
#include "store.h"
#include "store_secret.h"
#include "stream.h"
#include "options_io.h"

/* How long an open waits for a lock held without a live pid in it: a
 * writer's open holding it shared while it removes leftovers. */
#define MAINTENANCE_LOCK_WAIT_US 10000000

/* One partition's catalog, opened on first use. */
typedef struct maint_catalog {
    char stream[SIGLOG_NAME_MAX + 1];
    uint32_t partition;
    catalog *cat;
} maint_catalog;

struct siglog_maintenance {
    io_root *root;
    const siglog_io *io; /* beneath the store directory (io_root.h) */
    const siglog_io *backend; /* for what the caller names outside it */
    char *path;
    uint64_t store_id;
    uint32_t file_mode, dir_mode;
    uint32_t force_owner; /* as opened: a writer it opens does the same */
    int lock_fd;
    maint_catalog *cats;
    size_t cat_count;
};

/* Exclusive lock on maintenance.lock, with this process's pid in it. */
static int take_lock(maintenance *m)
{
    char *lock = sl_path_join(m->path, MAINTENANCE_LOCK_FILE);
    if (!lock)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int fd = m->io->open_file(m->io, lock, IO_WRITE | IO_CREATE | IO_LOCK, m->file_mode);
    if (fd < 0) {
        rc = sl_err_errno(fd, "opening %s", lock);
        goto out;
    }
    int l = m->io->lock_file(m->io, fd, 0);
    char pid[LOCKFILE_PID_MAX] = "";
    int alive = 0;
    for (int64_t waited = 0; l == -EWOULDBLOCK || l == -EAGAIN; waited += 10000) {
        /* Another maintenance handle does not go away; a writer's open
         * proving that none runs takes a moment. */
        if ((alive = sl_lockfile_holder(m->io, fd, pid)) != 0 || waited >= MAINTENANCE_LOCK_WAIT_US)
            break;
        struct timespec ten_ms = {0, 10000000};
        nanosleep(&ten_ms, NULL);
        l = m->io->lock_file(m->io, fd, 0);
    }
    if (l == -EWOULDBLOCK || l == -EAGAIN) {
        m->io->close_file(m->io, fd);
        rc = alive ? sl_err_set(SIGLOG_ELOCKED, "store %s: maintenance is held by pid %s", m->path, pid)
                   : sl_err_set(SIGLOG_ELOCKED,
                                "store %s: %s is locked but names no live maintenance process (%s) after %d s",
                                m->path, lock, *pid ? pid : "empty", MAINTENANCE_LOCK_WAIT_US / 1000000);
        goto out;
    }
    if (l < 0) {
        m->io->close_file(m->io, fd);
        rc = sl_err_errno(l, "locking %s", lock);
        goto out;
    }
    sl_lockfile_claim(m->io, fd);
    m->lock_fd = fd;
    /* The file's existence is what tells a writer's open after a crash
     * that leftovers may exist (sl_maintenance_idle_begin): durable
     * before any change. */
    int r = m->io->sync_dir(m->io, m->path);
    if (r < 0)
        rc = sl_err_errno(r, "fsync of directory %s", m->path);
out:
    free(lock);
    return rc;
}

int sl_maintenance_open(maintenance **out, const char *store_path, const siglog_options *o)
{
    *out = NULL;
    siglog_options opt;
    if (o)
        opt = *o;
    else
        siglog_options_default(&opt);
    const siglog_io *backend = sl_options_io(&opt) ? sl_options_io(&opt) : sl_io_posix();
    maintenance *m = calloc(1, sizeof *m);
    if (!m)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    m->lock_fd = -1;
    m->backend = backend;
    int rc = 0;
    /* Resolved once and held open, as a store handle does (io.h). */
    if (!(m->path = sl_io_real_path(store_path))) {
        rc = errno == ENOENT ? sl_store_not_found(store_path)
                             : sl_err_errno(-errno, "resolving the store path %s", store_path);
        goto fail;
    }
    int r = sl_io_root_open(backend, m->path, &m->root);
    if (r < 0) {
        rc = r == -ENOENT ? sl_store_not_found(store_path) : sl_err_errno(r, "opening the store directory %s", m->path);
        goto fail;
    }
    m->io = sl_io_root_io(m->root);
    char *store_file = sl_path_join(m->path, STORE_FILE);
    if (!store_file) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto fail;
    }
    int is_dir;
    uint64_t size;
    store_meta meta;
    if (m->io->stat_path(m->io, store_file, &is_dir, &size) == -ENOENT)
        rc = sl_store_not_found(store_path);
    else
        rc = sl_store_meta_read(m->io, store_file, &meta);
    free(store_file);
    if (rc)
        goto fail;
    m->store_id = meta.store_id;
    m->file_mode = meta.file_mode;
    m->dir_mode = meta.dir_mode;
    m->force_owner = opt.force_owner;
    if ((rc = sl_store_check_owner(m->io, m->path, opt.force_owner, &m->file_mode, &m->dir_mode)) != 0 ||
        (rc = take_lock(m)) != 0)
        goto fail;
    *out = m;
    return 0;
fail:
    sl_maintenance_close(m);
    return rc;
}

void sl_maintenance_close(maintenance *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cat_count; i++)
        sl_catalog_close(m->cats[i].cat);
    free(m->cats);
    if (m->lock_fd >= 0)
        sl_lockfile_release(m->io, m->lock_fd);
    sl_io_root_close(m->root);
    free(m->path);
    free(m);
}

/* The settings stream.meta of the stream in dir records. */
static int stream_config(const maintenance *m, const char *dir, const char *name, siglog_stream_config *out)
{
    char *meta = sl_path_join(dir, STREAM_META_FILE);
    if (!meta)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    int rc = 0;
    int r = sl_io_read_file(m->io, meta, STREAM_META_BYTES_MAX, &data, &len);
    if (r == -ENOENT) {
        rc = sl_err_set(SIGLOG_ENOENT, "no stream '%s' in store %s", name, m->path);
    } else if (r < 0) {
        rc = r == -EFBIG ? sl_err_set(SIGLOG_ECORRUPT, "%s: larger than any stream metadata", meta)
                         : sl_err_errno(r, "reading %s", meta);
    } else {
        char stored[SIGLOG_NAME_MAX + 1];
        uint32_t id;
        rc = sl_stream_meta_decode(data, len, stored, &id, out, NULL, NULL);
        if (rc)
            rc = sl_err_set(rc, "%s: %s", meta, siglog_errdetail());
    }
    free(data);
    free(meta);
    return rc;
}

int sl_maintenance_stream(const maintenance *m, const char *stream, char **dir, siglog_stream_config *cfg)
{
    *dir = NULL;
    int rc = sl_name_validate_stream(stream);
    if (rc)
        return rc;
    char *streams = sl_path_join(m->path, STORE_STREAMS_DIR);
    char *sd = streams ? sl_path_join(streams, stream) : NULL;
    free(streams);
    if (!sd)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if ((rc = stream_config(m, sd, stream, cfg)) != 0) {
        free(sd);
        return rc;
    }
    *dir = sd;
    return 0;
}

int sl_maintenance_streams(const maintenance *m, io_dirent_list *out)
{
    *out = (io_dirent_list){0};
    char *dir = sl_path_join(m->path, STORE_STREAMS_DIR);
    if (!dir)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    io_dirent_list l = {0};
    int r = m->io->list_dir(m->io, dir, &l);
    int rc = r < 0 ? sl_err_errno(r, "listing %s", dir) : 0;
    free(dir);
    /* Temporary files and strangers are not streams: keep the names only. */
    size_t kept = 0;
    for (size_t i = 0; i < l.count; i++) {
        if (sl_name_validate_stream(l.names[i]) == 0)
            l.names[kept++] = l.names[i];
        else
            free(l.names[i]);
    }
    l.count = kept;
    if (!rc)
        sl_err_clear(); /* of the names passed over */
    *out = l;
    return rc;
}

/* Tell a live writer of the stream that its catalog changed (the hwm
 * file's catalog counter, hwm.h): the stream's directory is the parent
 * of the partition's. A hint: failing to give it fails nothing (the
 * writer's poll misses this change only until the next one). */
static void catalog_committed(catalog *c)
{
    const char *pd = sl_catalog_dir(c);
    const char *slash = strrchr(pd, '/');
    char *sd = slash ? strndup(pd, (size_t)(slash - pd)) : NULL;
    if (sd)
        sl_hwm_catalog_bump(sl_catalog_io(c), sd);
    sl_err_clear();
    free(sd);
}

/* Open the catalog of (stream, partition) for maintenance. */
static int open_catalog(maintenance *m, const char *stream, uint32_t partition, catalog **out)
{
    *out = NULL;
    char *sd = NULL, *pd = NULL;
    siglog_stream_config cfg;
    int rc = sl_maintenance_stream(m, stream, &sd, &cfg);
    if (!rc && partition >= cfg.partitions)
        rc = sl_err_set(SIGLOG_ENOENT, "stream '%s' has %u partitions, no partition %u", stream, cfg.partitions,
                        partition);
    if (!rc && !(pd = sl_path_partition_dir(sd, partition)))
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (!rc)
        rc = sl_catalog_open(out, m->io, pd, m->file_mode);
    if (!rc && !sl_catalog_persisted(*out)) {
        /* Lost, or never upgraded: the writer's open refuses the first. */
        catalog_snapshot *cs = sl_catalog_snapshot_get(*out);
        rc = sl_catalog_check_required(pd, cs);
        sl_catalog_snapshot_release(cs);
    }
    if (!rc && !sl_catalog_persisted(*out))
        rc = sl_err_set(SIGLOG_EINVAL,
                        "%s: its catalog is from an older version of siglog; open the store for writing once, "
                        "which upgrades it, before maintenance",
                        pd);
    if (!rc)
        sl_catalog_on_commit(*out, catalog_committed);
    /* Nothing else runs maintenance: what an interrupted change left is
     * a leftover (catalog.h). */
    if (!rc)
        rc = sl_catalog_remove_leftovers(*out);
    if (rc && *out) {
        sl_catalog_close(*out);
        *out = NULL;
    }
    free(pd);
    free(sd);
    return rc;
}

int sl_maintenance_catalog(maintenance *m, const char *stream, uint32_t partition, catalog **out)
{
    *out = NULL;
    for (size_t i = 0; i < m->cat_count; i++)
        if (m->cats[i].partition == partition && strcmp(m->cats[i].stream, stream) == 0) {
            *out = m->cats[i].cat;
            return sl_catalog_refresh(*out);
        }
    maint_catalog *grown = realloc(m->cats, (m->cat_count + 1) * sizeof *grown);
    if (!grown)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    m->cats = grown;
    catalog *c;
    int rc = open_catalog(m, stream, partition, &c);
    if (rc)
        return rc;
    maint_catalog *e = &m->cats[m->cat_count++];
    snprintf(e->stream, sizeof e->stream, "%s", stream);
    e->partition = partition;
    e->cat = c;
    *out = c;
    return 0;
}

const siglog_io *sl_maintenance_io(const maintenance *m)
{
    return m->io;
}

const char *sl_maintenance_store_path(const maintenance *m)
{
    return m->path;
}

uint32_t sl_maintenance_file_mode(const maintenance *m)
{
    return m->file_mode;
}

const siglog_io *sl_maintenance_backend(const maintenance *m)
{
    return m->backend;
}

uint32_t sl_maintenance_force_owner(const maintenance *m)
{
    return m->force_owner;
}

uint64_t sl_maintenance_store_id(const maintenance *m)
{
    return m->store_id;
}

int sl_maintenance_secret(const maintenance *m, uint8_t out[STORE_SECRET_BYTES])
{
    return sl_store_secret_load(m->io, m->path, m->store_id, out);
}

int sl_maintenance_audit(maintenance *m, audit_record *r)
{
    /* Read on each call rather than kept: maintenance runs seldom, and
     * the key stays in memory only for the moment it signs. */
    uint8_t key[STORE_SECRET_BYTES];
    int rc = sl_maintenance_secret(m, key);
    if (!rc) {
        audit_trail t = { m->io, m->path, m->store_id, key, m->file_mode };
        rc = sl_audit_append(&t, r);
    }
    sodium_memzero(key, sizeof key);
    return rc;
}

int sl_maintenance_idle_begin(const siglog_io *io, const char *store_path, int *fd)
{
    *fd = -1;
    char *lock = sl_path_join(store_path, MAINTENANCE_LOCK_FILE);
    if (!lock)
        return 0; /* cannot tell: leave them for the next one */
    int f = io->open_file(io, lock, IO_READ | IO_LOCK, 0);
    free(lock);
    if (f < 0)
        return 0; /* none ever ran (or it cannot be told: leave them) */
    if (io->lock_file(io, f, 1) != 0) {
        io->close_file(io, f);
        return 0;
    }
    *fd = f;
    return 1;
}

void sl_maintenance_idle_end(const siglog_io *io, int fd)
{
    if (fd >= 0)
        io->close_file(io, fd);
}

SIGLOG_API int siglog_maintenance_open(siglog_maintenance **out, const char *path, const siglog_options *o)
{
    sl_err_clear();
    if (!out || !path || !*path)
        return sl_err_set(SIGLOG_EINVAL, "siglog_maintenance_open: out and path are required");
    return sl_maintenance_open(out, path, o);
}

SIGLOG_API void siglog_maintenance_close(siglog_maintenance *m)
{
    sl_maintenance_close(m);
}
