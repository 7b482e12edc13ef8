/*
 * io_crash — a power-cut simulator over the real files (see io_crash.h):
 * the siglog_io table it hands out, and its lifecycle.
 *
 * Every call goes through to POSIX, so the engine reads back what it wrote;
 * on the side the backend keeps what a power cut could still take away.
 *
 * Model (what is durable):
 *   - File data: bytes written, and size changes, since the last successful
 *     fsync/fdatasync/msync of that file (tracked per inode in
 *     io_crash_file.c).
 *   - Directory entries: creates, renames, unlinks, mkdir and rmdir since
 *     the last successful sync_dir of the parent directory (identified by
 *     inode too). A rename between two directories is durable only once
 *     both have been synced (io_crash_dir.c).
 *   - Memory maps: writes through a mapping are invisible here, so a file
 *     counts as "map-dirty" while a writable mapping of it exists and from
 *     then until its next sync. Map-dirty files are the engine's indexes,
 *     which it must be able to rebuild: at a power cut they are kept
 *     (KEEP_ALL), zeroed whole (DROP_ALL) or, seeded, either kept or zeroed
 *     from a random page boundary to their end (RANDOM, GARBLE). Zeroing
 *     keeps the file size, as a preallocated index would have.
 * io_crash_cut.c applies a cut to the real files.
 *
 * Builds with -Dbroken=no_data_fsync / no_dir_fsync make file / directory
 * syncs count for nothing here as they do in sl_io_posix, so the crash suites
 * prove they notice.
 *
 * Memory: each pending write keeps its new bytes and the bytes it replaced,
 * up to CRASH_PENDING_MAX in all (then writes fail with -ENOMEM); syncing
 * releases them. One mutex serialises every call: each table function
 * below takes it, and the helpers of the other io_crash files expect it
 * held.
 */
#include "io_crash_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static io_crash *crash_of(const siglog_io *io)
{
    return io->ctx;
}

/* ---- the table: file calls --------------------------------------------- */

static int crash_fd_remember(io_crash *c, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    int rc = crash_grow((void **)&c->fds, &c->fd_cap, (size_t)fd + 1, sizeof *c->fds);
    if (rc < 0)
        return rc;
    c->fds[fd] = (crash_fd){ .used = 1, .dev = st.st_dev, .ino = st.st_ino };
    return 0;
}

static int crash_open_locked(io_crash *c, const char *path, unsigned flags, uint32_t mode)
{
    int rc = (flags & (IO_CREATE | IO_TRUNC)) ? crash_mutate(c) : crash_alive(c);
    if (rc < 0)
        return rc;
    struct stat st;
    int creating = (flags & IO_CREATE) && stat(path, &st) != 0;
    crash_dirop *op = NULL;
    if (creating && io_crash_dirop_start(c, DIROP_CREATE, path, NULL, &op) < 0)
        return -ENOMEM;
    /* O_TRUNC is done as a recorded ftruncate, so the old bytes can return. */
    int fd = c->posix->open_file(c->posix, path, flags & ~IO_TRUNC, mode);
    if (op)
        io_crash_dirop_run(c, op, fd < 0 ? fd : 0);
    if (fd < 0)
        return fd;
    rc = crash_fd_remember(c, fd);
    if (rc == 0 && (flags & IO_TRUNC) && (flags & IO_WRITE)) {
        uint64_t size = 0;
        rc = io_crash_file_size(fd, &size);
        if (rc == 0 && size > 0)
            rc = io_crash_truncate_locked(c, fd, &c->fds[fd], 0);
    }
    if (rc < 0) {
        if ((size_t)fd < c->fd_cap)
            c->fds[fd].used = 0;
        c->posix->close_file(c->posix, fd);
        return rc;
    }
    return fd;
}

static int crash_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_open_locked(c, path, flags, mode);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_close(const siglog_io *io, int fd)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    /* Always allowed, dead or stale: the descriptor must be released. */
    crash_fd *e = crash_fd_get(c, fd);
    if (e)
        e->used = 0;
    int rc = c->posix->close_file(c->posix, fd);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static ssize_t crash_pread(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_fd *e;
    ssize_t rc = crash_fd_live(c, fd, &e);
    if (rc == 0)
        rc = c->posix->pread(c->posix, fd, buf, len, off);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static ssize_t crash_pwrite(const siglog_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    ssize_t rc = io_crash_write_locked(c, fd, buf, len, off);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static ssize_t crash_pwritev(const siglog_io *io, int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
    /* Gathered into one buffer: the record keeps one copy anyway. */
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    unsigned char *buf = malloc(total ? total : 1);
    if (!buf)
        return -ENOMEM;
    size_t at = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(buf + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    ssize_t rc = crash_pwrite(io, fd, buf, total, off);
    free(buf);
    return rc;
}

static int crash_sync_fd(const siglog_io *io, int fd, int data_only)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_fd *e;
    int rc = crash_fd_mutate(c, fd, &e);
    if (rc == 0)
        rc = data_only ? c->posix->fdatasync(c->posix, fd) : c->posix->fsync(c->posix, fd);
    if (rc == 0) {
        crash_node *n = io_crash_node_find(c, e->dev, e->ino);
        if (n)
            io_crash_node_synced(c, n);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_fdatasync(const siglog_io *io, int fd)
{
    return crash_sync_fd(io, fd, 1);
}

static int crash_fsync(const siglog_io *io, int fd)
{
    return crash_sync_fd(io, fd, 0);
}

static int crash_ftruncate(const siglog_io *io, int fd, uint64_t size)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_fd *e;
    int rc = crash_fd_mutate(c, fd, &e);
    if (rc == 0)
        rc = io_crash_truncate_locked(c, fd, e, size);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_file_size_call(const siglog_io *io, int fd, uint64_t *size)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_fd *e;
    int rc = crash_fd_live(c, fd, &e);
    if (rc == 0)
        rc = c->posix->file_size(c->posix, fd, size);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_mmap_locked(io_crash *c, int fd, size_t len, int prot_write, void **addr)
{
    crash_fd *e;
    int rc = crash_fd_live(c, fd, &e);
    if (rc < 0 || !prot_write)
        return rc < 0 ? rc : c->posix->mmap_file(c->posix, fd, len, prot_write, addr);
    crash_node *n;
    rc = io_crash_node_of_fd(c, fd, e, &n);
    if (rc == 0)
        rc = crash_grow((void **)&c->maps, &c->map_cap, c->map_count + 1, sizeof *c->maps);
    if (rc == 0)
        rc = c->posix->mmap_file(c->posix, fd, len, prot_write, addr);
    if (rc == 0) {
        c->maps[c->map_count++] = (crash_map){ *addr, n };
        n->live_write_maps++;
        n->map_dirty = 1;
    } else if (n) {
        io_crash_node_release_if_idle(c, n);
    }
    return rc;
}

static int crash_mmap(const siglog_io *io, int fd, size_t len, int prot_write, void **addr)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_mmap_locked(c, fd, len, prot_write, addr);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static crash_map *crash_map_find(io_crash *c, const void *addr)
{
    for (size_t i = 0; i < c->map_count; i++)
        if (c->maps[i].addr == addr)
            return &c->maps[i];
    return NULL;
}

static int crash_munmap(const siglog_io *io, void *addr, size_t len)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    /* Always allowed, dead or not: the mapping must be released. The file
     * stays map-dirty until its next sync. */
    crash_map *m = crash_map_find(c, addr);
    if (m) {
        crash_node *n = m->node;
        *m = c->maps[--c->map_count];
        n->live_write_maps--;
        io_crash_node_release_if_idle(c, n);
    }
    int rc = c->posix->munmap_file(c->posix, addr, len);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_msync(const siglog_io *io, void *addr, size_t len)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_mutate(c);
    if (rc == 0)
        rc = c->posix->msync_file(c->posix, addr, len);
    crash_map *m = rc == 0 ? crash_map_find(c, addr) : NULL;
    if (m)
        io_crash_node_synced(c, m->node);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- the table: directory calls ---------------------------------------- */

static int crash_rename(const siglog_io *io, const char *from, const char *to)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_dirop *op;
    int rc = io_crash_dirop_prepare(c, DIROP_RENAME, from, to, &op);
    if (rc == 0) {
        /* Renaming a file onto itself (or a hard link of it) changes
         * nothing and destroys nothing. */
        struct stat sf, st;
        int same = lstat(from, &sf) == 0 && lstat(to, &st) == 0 && sf.st_dev == st.st_dev &&
                   sf.st_ino == st.st_ino;
        if (!same)
            rc = io_crash_take_victim(c, op, to);
        if (rc == 0)
            rc = c->posix->rename(c->posix, from, to);
        rc = io_crash_dirop_run(c, op, rc);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* unlink and rmdir: note what the entry held (a file's content, a
 * directory's mode) so the op can be undone, then remove it. */
static int crash_remove(const siglog_io *io, int kind, const char *path,
                        int (*posix_remove)(const siglog_io *, const char *))
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_dirop *op;
    int rc = io_crash_dirop_prepare(c, kind, path, NULL, &op);
    if (rc == 0) {
        rc = io_crash_take_victim(c, op, path);
        if (rc == 0)
            rc = posix_remove(c->posix, path);
        rc = io_crash_dirop_run(c, op, rc);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_unlink(const siglog_io *io, const char *path)
{
    return crash_remove(io, DIROP_UNLINK, path, crash_of(io)->posix->unlink);
}

static int crash_mkdir(const siglog_io *io, const char *path, uint32_t mode)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_dirop *op;
    int rc = io_crash_dirop_prepare(c, DIROP_MKDIR, path, NULL, &op);
    if (rc == 0)
        rc = io_crash_dirop_run(c, op, c->posix->mkdir(c->posix, path, mode));
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_rmdir(const siglog_io *io, const char *path)
{
    return crash_remove(io, DIROP_RMDIR, path, crash_of(io)->posix->rmdir);
}

static int crash_sync_dir(const siglog_io *io, const char *path)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_mutate(c);
    if (rc == 0)
        rc = c->posix->sync_dir(c->posix, path);
    if (rc == 0)
        io_crash_dir_synced(c, path);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_list_dir(const siglog_io *io, const char *path, io_dirent_list *out)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_alive(c);
    if (rc == 0)
        rc = c->posix->list_dir(c->posix, path, out);
    else
        *out = (io_dirent_list){ NULL, 0 };
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_stat_path(const siglog_io *io, const char *path, int *is_dir, uint64_t *size)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_alive(c);
    if (rc == 0)
        rc = c->posix->stat_path(c->posix, path, is_dir, size);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* The space of the disk under the simulation: what the files written so
 * far (durable or not) leave. */
static int crash_fs_space(const siglog_io *io, const char *path, uint64_t *avail, uint64_t *total)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_alive(c);
    if (rc == 0)
        rc = c->posix->fs_space(c->posix, path, avail, total);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_path_owner(const siglog_io *io, const char *path, uint32_t *uid, uint32_t *gid)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_alive(c);
    if (rc == 0)
        rc = c->posix->path_owner(c->posix, path, uid, gid);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_lock_file(const siglog_io *io, int fd, int shared)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_fd *e;
    int rc = crash_fd_live(c, fd, &e);
    if (rc == 0)
        rc = c->posix->lock_file(c->posix, fd, shared);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int64_t crash_now_us(const siglog_io *io)
{
    io_crash *c = crash_of(io);
    return c->posix->now_us(c->posix);
}

static int64_t crash_monotonic_us(const siglog_io *io)
{
    io_crash *c = crash_of(io);
    return c->posix->monotonic_us(c->posix);
}
/* ---- lifecycle --------------------------------------------------------- */

io_crash *io_crash_new(uint64_t seed)
{
    io_crash *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->posix = sl_io_posix();
    c->rng = seed;
    c->io = (siglog_io){
        .open_file = crash_open,
        .close_file = crash_close,
        .pread = crash_pread,
        .pwrite = crash_pwrite,
        .pwritev = crash_pwritev,
        .fdatasync = crash_fdatasync,
        .fsync = crash_fsync,
        .ftruncate = crash_ftruncate,
        .file_size = crash_file_size_call,
        .mmap_file = crash_mmap,
        .munmap_file = crash_munmap,
        .msync_file = crash_msync,
        .rename = crash_rename,
        .unlink = crash_unlink,
        .mkdir = crash_mkdir,
        .rmdir = crash_rmdir,
        .sync_dir = crash_sync_dir,
        .list_dir = crash_list_dir,
        .stat_path = crash_stat_path,
        .path_owner = crash_path_owner,
        .fs_space = crash_fs_space,
        .lock_file = crash_lock_file,
        .now_us = crash_now_us,
        .monotonic_us = crash_monotonic_us,
        .ctx = c,
    };
    return c;
}

void io_crash_free(io_crash *c)
{
    if (!c)
        return;
    io_crash_reset(c);
    free(c->dirops);
    free(c->fds);
    free(c->maps);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const siglog_io *io_crash_io(io_crash *c)
{
    return &c->io;
}

uint64_t io_crash_ops(const io_crash *c)
{
    return atomic_load(&c->ops);
}

void io_crash_die_after(io_crash *c, uint64_t nth)
{
    atomic_store(&c->die_at, nth);
}

int io_crash_dead(const io_crash *c)
{
    return atomic_load(&c->dead);
}
