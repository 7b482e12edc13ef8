/*
 * io_fault — wraps a base backend and fails chosen calls (see io_fault.h).
 *
 * Every call is classified into one op class and counted. While armed, the
 * calls of the armed classes (on a matching path, if a filter is set) are
 * counted from the moment of arming; the nth fails, and with `persistent`
 * every later one too. A failed call never reaches the base backend, except
 * a short write, which writes half of its bytes through the base.
 *
 * Path filters need the path behind a descriptor or a mapping, so the
 * backend remembers fd -> path for descriptors it opened and addr -> path
 * for mappings it made. One mutex guards the arm, the maps and the
 * decision; base calls run outside it so threads still overlap their I/O.
 */
#include "io_fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FAULT_OP_BITS 16

typedef struct fault_map {
    void *addr;
    char *path;
} fault_map;

struct io_fault {
    siglog_io io; /* the table handed out; io.ctx points back here */
    const siglog_io *base;
    pthread_mutex_t mu;
    _Atomic uint64_t calls[FAULT_OP_BITS];
    _Atomic uint64_t injected;

    /* The arm, guarded by mu. */
    int armed;
    unsigned arm_mask;
    uint64_t arm_nth;
    uint64_t arm_seen; /* matching calls since arming */
    int arm_err;
    int arm_persistent;
    char *arm_path;

    /* fd -> path (NULL: unknown), guarded by mu. */
    char **fd_paths;
    size_t fd_cap;
    fault_map *maps;
    size_t map_count, map_cap;
};

static io_fault *fault_of(const siglog_io *io)
{
    return io->ctx;
}

static int path_matches(const char *filter, const char *p)
{
    return p && strstr(p, filter) != NULL;
}

/* Count a call of class op on paths p1/p2 (either may be NULL) and decide
 * its fate: 0 to pass, else a positive errno or IO_FAULT_SHORT_WRITE. */
static int fault_decide_locked(io_fault *f, unsigned op, const char *p1, const char *p2)
{
    atomic_fetch_add(&f->calls[__builtin_ctz(op)], 1);
    if (!f->armed || !(op & f->arm_mask))
        return 0;
    if (f->arm_path && !path_matches(f->arm_path, p1) && !path_matches(f->arm_path, p2))
        return 0;
    f->arm_seen++;
    if (f->arm_seen < f->arm_nth || (f->arm_seen > f->arm_nth && !f->arm_persistent))
        return 0;
    atomic_fetch_add(&f->injected, 1);
    return f->arm_err;
}

static int fault_decide_path(io_fault *f, unsigned op, const char *p1, const char *p2)
{
    pthread_mutex_lock(&f->mu);
    int r = fault_decide_locked(f, op, p1, p2);
    pthread_mutex_unlock(&f->mu);
    return r;
}

static int fault_decide_fd(io_fault *f, unsigned op, int fd)
{
    pthread_mutex_lock(&f->mu);
    const char *p = fd >= 0 && (size_t)fd < f->fd_cap ? f->fd_paths[fd] : NULL;
    int r = fault_decide_locked(f, op, p, NULL);
    pthread_mutex_unlock(&f->mu);
    return r;
}

static int fault_decide_addr(io_fault *f, unsigned op, const void *addr)
{
    pthread_mutex_lock(&f->mu);
    const char *p = NULL;
    for (size_t i = 0; i < f->map_count; i++)
        if (f->maps[i].addr == addr)
            p = f->maps[i].path;
    int r = fault_decide_locked(f, op, p, NULL);
    pthread_mutex_unlock(&f->mu);
    return r;
}

/* A fault outside the write class cannot be "short": it becomes EIO. */
static int fault_errno(int decision)
{
    return decision == IO_FAULT_SHORT_WRITE ? -EIO : -decision;
}

static void fault_remember_fd(io_fault *f, int fd, const char *path)
{
    char *copy = strdup(path);
    pthread_mutex_lock(&f->mu);
    if ((size_t)fd >= f->fd_cap) {
        size_t ncap = f->fd_cap ? f->fd_cap : 64;
        while (ncap <= (size_t)fd)
            ncap *= 2;
        char **n = realloc(f->fd_paths, ncap * sizeof *n);
        if (n) {
            memset(n + f->fd_cap, 0, (ncap - f->fd_cap) * sizeof *n);
            f->fd_paths = n;
            f->fd_cap = ncap;
        }
    }
    /* Out of memory only loses the path filter for this descriptor. */
    if ((size_t)fd < f->fd_cap) {
        free(f->fd_paths[fd]);
        f->fd_paths[fd] = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    free(copy);
}

static char *fault_fd_path_dup_locked(io_fault *f, int fd)
{
    if (fd < 0 || (size_t)fd >= f->fd_cap || !f->fd_paths[fd])
        return NULL;
    return strdup(f->fd_paths[fd]);
}

static int fault_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_OPEN, path, NULL);
    if (d)
        return fault_errno(d);
    int fd = f->base->open_file(f->base, path, flags, mode);
    if (fd >= 0)
        fault_remember_fd(f, fd, path);
    return fd;
}

static int fault_close(const siglog_io *io, int fd)
{
    io_fault *f = fault_of(io);
    pthread_mutex_lock(&f->mu);
    if (fd >= 0 && (size_t)fd < f->fd_cap) {
        free(f->fd_paths[fd]);
        f->fd_paths[fd] = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    return f->base->close_file(f->base, fd);
}

static ssize_t fault_pread(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_fd(f, IO_FAULT_READ, fd);
    if (d)
        return fault_errno(d);
    return f->base->pread(f->base, fd, buf, len, off);
}

static size_t short_len(size_t len)
{
    return len / 2 > 0 ? len / 2 : 1;
}

static ssize_t fault_pwrite(const siglog_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_fd(f, IO_FAULT_WRITE, fd);
    if (d == IO_FAULT_SHORT_WRITE && len > 0)
        return f->base->pwrite(f->base, fd, buf, short_len(len), off);
    if (d && d != IO_FAULT_SHORT_WRITE)
        return -d;
    return f->base->pwrite(f->base, fd, buf, len, off);
}

/* Write the first half of the vectors' bytes through the base. */
static ssize_t fault_pwritev_short(io_fault *f, int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0)
        return f->base->pwritev(f->base, fd, iov, iovcnt, off);
    struct iovec *cut = malloc((size_t)iovcnt * sizeof *cut);
    if (!cut)
        return -ENOMEM;
    size_t want = short_len(total);
    int n = 0;
    for (; n < iovcnt && want > 0; n++) {
        cut[n] = iov[n];
        if (cut[n].iov_len > want)
            cut[n].iov_len = want;
        want -= cut[n].iov_len;
    }
    ssize_t r = f->base->pwritev(f->base, fd, cut, n, off);
    free(cut);
    return r;
}

static ssize_t fault_pwritev(const siglog_io *io, int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_fd(f, IO_FAULT_WRITE, fd);
    if (d == IO_FAULT_SHORT_WRITE)
        return fault_pwritev_short(f, fd, iov, iovcnt, off);
    if (d)
        return -d;
    return f->base->pwritev(f->base, fd, iov, iovcnt, off);
}

static int fault_fdatasync(const siglog_io *io, int fd)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_fd(f, IO_FAULT_SYNC, fd);
    return d ? fault_errno(d) : f->base->fdatasync(f->base, fd);
}

/* A hint that makes nothing durable: passed on, never failed or counted. */
static int fault_writeback(const siglog_io *io, int fd, uint64_t off, uint64_t len)
{
    io_fault *f = fault_of(io);
    return f->base->writeback ? f->base->writeback(f->base, fd, off, len) : 0;
}

static int fault_fsync(const siglog_io *io, int fd)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_fd(f, IO_FAULT_SYNC, fd);
    return d ? fault_errno(d) : f->base->fsync(f->base, fd);
}

static int fault_ftruncate(const siglog_io *io, int fd, uint64_t size)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_fd(f, IO_FAULT_TRUNCATE, fd);
    return d ? fault_errno(d) : f->base->ftruncate(f->base, fd, size);
}

static int fault_file_size(const siglog_io *io, int fd, uint64_t *size)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_fd(f, IO_FAULT_READ, fd);
    return d ? fault_errno(d) : f->base->file_size(f->base, fd, size);
}

static int fault_mmap(const siglog_io *io, int fd, size_t len, int prot_write, void **addr)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_fd(f, IO_FAULT_MMAP, fd);
    if (d)
        return fault_errno(d);
    int rc = f->base->mmap_file(f->base, fd, len, prot_write, addr);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&f->mu);
    if (f->map_count == f->map_cap) {
        size_t ncap = f->map_cap ? f->map_cap * 2 : 16;
        fault_map *n = realloc(f->maps, ncap * sizeof *n);
        if (n) {
            f->maps = n;
            f->map_cap = ncap;
        }
    }
    /* Out of memory only loses the path filter for this mapping. */
    if (f->map_count < f->map_cap)
        f->maps[f->map_count++] = (fault_map){ *addr, fault_fd_path_dup_locked(f, fd) };
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static int fault_munmap(const siglog_io *io, void *addr, size_t len)
{
    io_fault *f = fault_of(io);
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->map_count; i++) {
        if (f->maps[i].addr == addr) {
            free(f->maps[i].path);
            f->maps[i] = f->maps[--f->map_count];
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return f->base->munmap_file(f->base, addr, len);
}

static int fault_msync(const siglog_io *io, void *addr, size_t len)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_addr(f, IO_FAULT_SYNC, addr);
    return d ? fault_errno(d) : f->base->msync_file(f->base, addr, len);
}

static int fault_rename(const siglog_io *io, const char *from, const char *to)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_RENAME, from, to);
    return d ? fault_errno(d) : f->base->rename(f->base, from, to);
}

static int fault_unlink(const siglog_io *io, const char *path)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_UNLINK, path, NULL);
    return d ? fault_errno(d) : f->base->unlink(f->base, path);
}

static int fault_mkdir(const siglog_io *io, const char *path, uint32_t mode)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_MKDIR, path, NULL);
    return d ? fault_errno(d) : f->base->mkdir(f->base, path, mode);
}

static int fault_rmdir(const siglog_io *io, const char *path)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_UNLINK, path, NULL);
    return d ? fault_errno(d) : f->base->rmdir(f->base, path);
}

static int fault_sync_dir(const siglog_io *io, const char *path)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_SYNC, path, NULL);
    return d ? fault_errno(d) : f->base->sync_dir(f->base, path);
}

static int fault_list_dir(const siglog_io *io, const char *path, io_dirent_list *out)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_READ, path, NULL);
    if (d) {
        out->names = NULL;
        out->count = 0;
        return fault_errno(d);
    }
    return f->base->list_dir(f->base, path, out);
}

static int fault_stat_path(const siglog_io *io, const char *path, int *is_dir, uint64_t *size)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_READ, path, NULL);
    return d ? fault_errno(d) : f->base->stat_path(f->base, path, is_dir, size);
}

static int fault_fs_space(const siglog_io *io, const char *path, uint64_t *avail, uint64_t *total)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_READ, path, NULL);
    if (d)
        return fault_errno(d);
    return f->base->fs_space ? f->base->fs_space(f->base, path, avail, total) : -ENOSYS;
}

static int fault_path_owner(const siglog_io *io, const char *path, uint32_t *uid, uint32_t *gid)
{
    io_fault *f = fault_of(io);
    int d = fault_decide_path(f, IO_FAULT_READ, path, NULL);
    return d ? fault_errno(d) : f->base->path_owner(f->base, path, uid, gid);
}

static int fault_lock_file(const siglog_io *io, int fd, int shared)
{
    io_fault *f = fault_of(io);
    return f->base->lock_file(f->base, fd, shared);
}

static int64_t fault_now_us(const siglog_io *io)
{
    io_fault *f = fault_of(io);
    return f->base->now_us(f->base);
}

static int64_t fault_monotonic_us(const siglog_io *io)
{
    io_fault *f = fault_of(io);
    return f->base->monotonic_us(f->base);
}

io_fault *io_fault_new(const siglog_io *base)
{
    io_fault *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        free(f);
        return NULL;
    }
    f->base = base;
    f->io = (siglog_io){
        .open_file = fault_open,
        .close_file = fault_close,
        .pread = fault_pread,
        .pwrite = fault_pwrite,
        .pwritev = fault_pwritev,
        .fdatasync = fault_fdatasync,
        .fsync = fault_fsync,
        .writeback = fault_writeback,
        .ftruncate = fault_ftruncate,
        .file_size = fault_file_size,
        .mmap_file = fault_mmap,
        .munmap_file = fault_munmap,
        .msync_file = fault_msync,
        .rename = fault_rename,
        .unlink = fault_unlink,
        .mkdir = fault_mkdir,
        .rmdir = fault_rmdir,
        .sync_dir = fault_sync_dir,
        .list_dir = fault_list_dir,
        .stat_path = fault_stat_path,
        .path_owner = fault_path_owner,
        .fs_space = fault_fs_space,
        .lock_file = fault_lock_file,
        .now_us = fault_now_us,
        .monotonic_us = fault_monotonic_us,
        .ctx = f,
    };
    return f;
}

void io_fault_free(io_fault *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->fd_cap; i++)
        free(f->fd_paths[i]);
    free(f->fd_paths);
    for (size_t i = 0; i < f->map_count; i++)
        free(f->maps[i].path);
    free(f->maps);
    free(f->arm_path);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const siglog_io *io_fault_io(io_fault *f)
{
    return &f->io;
}

void io_fault_arm(io_fault *f, unsigned op_mask, uint64_t nth, int err, int persistent, const char *path_substr)
{
    char *filter = path_substr ? strdup(path_substr) : NULL;
    pthread_mutex_lock(&f->mu);
    free(f->arm_path);
    f->arm_path = filter;
    f->armed = 1;
    f->arm_mask = op_mask;
    f->arm_nth = nth;
    f->arm_seen = 0;
    /* Accept EIO or -EIO alike: the backend returns -err. */
    f->arm_err = err < 0 ? -err : err;
    f->arm_persistent = persistent;
    pthread_mutex_unlock(&f->mu);
}

void io_fault_disarm(io_fault *f)
{
    pthread_mutex_lock(&f->mu);
    f->armed = 0;
    free(f->arm_path);
    f->arm_path = NULL;
    pthread_mutex_unlock(&f->mu);
}

uint64_t io_fault_calls(const io_fault *f, unsigned op_mask)
{
    uint64_t n = 0;
    for (unsigned b = 0; b < FAULT_OP_BITS; b++)
        if (op_mask & (1u << b))
            n += atomic_load(&f->calls[b]);
    return n;
}

uint64_t io_fault_injected(const io_fault *f)
{
    return atomic_load(&f->injected);
}
