/*
 * io_posix — the default I/O backend: the siglog_io table over POSIX calls.
 *
 * Every call returns -errno on failure and retries EINTR itself, so callers
 * see either a result or a real error. Descriptors are opened O_CLOEXEC so a
 * process embedding the engine never leaks them into children. Every path
 * op goes through io_jail: no symlink followed, nothing of the wrong type
 * opened (io.h, "The store is a jail").
 *
 * Deliberately broken builds (meson -Dbroken=...) exist only to prove that
 * the crash suites notice a missing sync:
 *   SIGLOG_BROKEN_NO_DATA_FSYNC  fdatasync/fsync of files do nothing;
 *   SIGLOG_BROKEN_NO_DIR_FSYNC   sync_dir does nothing.
 * The crash backend honours the same macros (io_crash.c).
 */
#include "fork_release.h"
#include "io.h"
#include "io_jail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Assign r = expr, re-running the syscall while it fails with EINTR. */
#define IO_RETRY(r, expr)                   \
    do                                      \
        (r) = (expr);                       \
    while ((r) == -1 && errno == EINTR)

/* A file or directory this backend just created gets exactly the mode's
 * permission bits (umask does not narrow them) and, with
 * IO_MODE_PARENT_OWNER, the owner of the directory it was created in. */
static int settle_new(int fd, int parent_fd, uint32_t mode)
{
    if (fchmod(fd, (mode_t)(mode & 07777)) != 0)
        return -errno;
    if (!(mode & IO_MODE_PARENT_OWNER))
        return 0;
    struct stat parent;
    if (fstat(parent_fd, &parent) != 0 || fchown(fd, parent.st_uid, parent.st_gid) != 0)
        return -errno;
    return 0;
}

/* Open e's regular file. Checked before opening (lstat) so a FIFO or a
 * device is never opened, and after (fstat) against a swap in between;
 * O_NONBLOCK keeps even that race from blocking on a FIFO (it means
 * nothing to a regular file). O_TRUNC is done by ftruncate after the
 * check for the same reason. */
static int open_entry(const jail_entry *e, unsigned flags, uint32_t mode)
{
    struct stat st;
    int rc = sl_jail_stat(e, &st);
    if (rc == 0 && (rc = sl_jail_check(e->path, st.st_mode, JAIL_FILE)) < 0)
        return rc;
    int oflags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | ((flags & IO_WRITE) ? O_RDWR : O_RDONLY);
    int fd = -1, created = 0;
    if (flags & IO_CREATE) {
        IO_RETRY(fd, openat(e->dirfd, e->name, oflags | O_CREAT | O_EXCL, (mode_t)(mode & 07777)));
        created = fd >= 0;
        if (fd < 0 && (errno != EEXIST || (flags & IO_EXCL)))
            return errno == ELOOP ? sl_jail_refuse(e->path, strlen(e->path), S_IFLNK, JAIL_FILE) : -errno;
    }
    if (!created)
        IO_RETRY(fd, openat(e->dirfd, e->name, oflags));
    if (fd < 0)
        return errno == ELOOP ? sl_jail_refuse(e->path, strlen(e->path), S_IFLNK, JAIL_FILE) : -errno;
    rc = fstat(fd, &st) == 0 ? sl_jail_check(e->path, st.st_mode, JAIL_FILE) : -errno;
    if (rc == 0 && created)
        rc = settle_new(fd, e->dirfd, mode);
    if (rc == 0 && (flags & IO_TRUNC) && !created && ftruncate(fd, 0) != 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

typedef struct open_request {
    const jail_entry *e;
    unsigned flags;
    uint32_t mode;
} open_request;

static int open_requested(void *ctx)
{
    const open_request *r = ctx;
    return open_entry(r->e, r->flags, r->mode);
}

static int posix_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    (void)io;
    jail_entry e;
    int rc = sl_jail_parent(path, &e);
    if (rc < 0)
        return rc;
    open_request r = {&e, flags, mode};
    /* A lock file's descriptor must not outlive a fork in the child. */
    rc = (flags & IO_LOCK) ? sl_fork_release_open(open_requested, &r) : open_entry(&e, flags, mode);
    sl_jail_entry_close(&e);
    return rc;
}

static int posix_close(const siglog_io *io, int fd)
{
    (void)io;
    /* Never retry close: on Linux the descriptor is gone even on EINTR. */
    return sl_fork_release_close(fd);
}

static ssize_t posix_pread(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    (void)io;
    ssize_t n;
    IO_RETRY(n, pread(fd, buf, len, (off_t)off));
    return n < 0 ? -errno : n;
}

static ssize_t posix_pwrite(const siglog_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
    (void)io;
    ssize_t n;
    IO_RETRY(n, pwrite(fd, buf, len, (off_t)off));
    return n < 0 ? -errno : n;
}

static ssize_t posix_pwritev(const siglog_io *io, int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
    (void)io;
    ssize_t n;
    IO_RETRY(n, pwritev(fd, iov, iovcnt, (off_t)off));
    return n < 0 ? -errno : n;
}

/* fdatasync or fsync of a file; both are the one switch of the
 * no_data_fsync build. */
static int posix_sync_fd(int fd, int data_only)
{
#ifdef SIGLOG_BROKEN_NO_DATA_FSYNC
    (void)fd;
    (void)data_only;
    return 0;
#else
    int r;
    IO_RETRY(r, data_only ? fdatasync(fd) : fsync(fd));
    return r == 0 ? 0 : -errno;
#endif
}

static int posix_fdatasync(const siglog_io *io, int fd)
{
    (void)io;
    return posix_sync_fd(fd, 1);
}

static int posix_fsync(const siglog_io *io, int fd)
{
    (void)io;
    return posix_sync_fd(fd, 0);
}

static int posix_writeback(const siglog_io *io, int fd, uint64_t off, uint64_t len)
{
    (void)io;
    /* SYNC_FILE_RANGE_WRITE alone queues the dirty pages of the range for
     * write-out; it waits for no I/O to complete. */
    return sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : -errno;
}

static int posix_ftruncate(const siglog_io *io, int fd, uint64_t size)
{
    (void)io;
    if (size > (uint64_t)INT64_MAX)
        return -EFBIG;
    int r;
    IO_RETRY(r, ftruncate(fd, (off_t)size));
    return r == 0 ? 0 : -errno;
}

static int posix_file_size(const siglog_io *io, int fd, uint64_t *size)
{
    (void)io;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int posix_mmap(const siglog_io *io, int fd, size_t len, int prot_write, void **addr)
{
    (void)io;
    int prot = PROT_READ | (prot_write ? PROT_WRITE : 0);
    void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *addr = p;
    return 0;
}

static int posix_munmap(const siglog_io *io, void *addr, size_t len)
{
    (void)io;
    return munmap(addr, len) == 0 ? 0 : -errno;
}

static int posix_msync(const siglog_io *io, void *addr, size_t len)
{
    (void)io;
    int r;
    IO_RETRY(r, msync(addr, len, MS_SYNC));
    return r == 0 ? 0 : -errno;
}

/* Open path's parent after checking what path names now: absent (if
 * absent_ok) or one of `want`. *found gets its type bits (0 if absent). */
static int at_parent(const char *path, enum jail_want want, int absent_ok, jail_entry *e, mode_t *found)
{
    int rc = sl_jail_parent(path, e);
    if (rc < 0)
        return rc;
    struct stat st = {0};
    rc = sl_jail_stat(e, &st);
    if (rc == 0)
        rc = sl_jail_check(path, st.st_mode, want);
    else if (rc == -ENOENT && absent_ok)
        rc = 0;
    if (rc < 0)
        sl_jail_entry_close(e);
    if (found)
        *found = st.st_mode & S_IFMT;
    return rc;
}

/* A file replaces only a file, a directory only a directory. */
static int posix_rename(const siglog_io *io, const char *from, const char *to)
{
    (void)io;
    jail_entry f, t;
    mode_t kind;
    int rc = at_parent(from, JAIL_FILE_OR_DIR, 0, &f, &kind);
    if (rc < 0)
        return rc;
    rc = at_parent(to, S_ISDIR(kind) ? JAIL_DIR : JAIL_FILE, 1, &t, NULL);
    if (rc == 0) {
        rc = renameat(f.dirfd, f.name, t.dirfd, t.name) == 0 ? 0 : -errno;
        sl_jail_entry_close(&t);
    }
    sl_jail_entry_close(&f);
    return rc;
}

/* Removes the entry itself: a symlink goes, its target stays. */
static int posix_unlink(const siglog_io *io, const char *path)
{
    (void)io;
    jail_entry e;
    int rc = sl_jail_parent(path, &e);
    if (rc < 0)
        return rc;
    rc = unlinkat(e.dirfd, e.name, 0) == 0 ? 0 : -errno;
    sl_jail_entry_close(&e);
    return rc;
}

/* An existing entry of the wrong kind is refused rather than reported as
 * EEXIST, which callers take as "the directory is there". */
static int posix_mkdir(const siglog_io *io, const char *path, uint32_t mode)
{
    (void)io;
    jail_entry e;
    int rc = at_parent(path, JAIL_DIR, 1, &e, NULL);
    if (rc < 0)
        return rc;
    if (mkdirat(e.dirfd, e.name, (mode_t)(mode & 07777)) != 0) {
        rc = -errno;
    } else {
        int fd = openat(e.dirfd, e.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = fd < 0 ? -errno : settle_new(fd, e.dirfd, mode);
        if (fd >= 0)
            close(fd);
    }
    sl_jail_entry_close(&e);
    return rc;
}

static int posix_rmdir(const siglog_io *io, const char *path)
{
    (void)io;
    jail_entry e;
    int rc = at_parent(path, JAIL_DIR, 0, &e, NULL);
    if (rc < 0)
        return rc;
    rc = unlinkat(e.dirfd, e.name, AT_REMOVEDIR) == 0 ? 0 : -errno;
    sl_jail_entry_close(&e);
    return rc;
}

static int posix_sync_dir(const siglog_io *io, const char *path)
{
    (void)io;
#ifdef SIGLOG_BROKEN_NO_DIR_FSYNC
    (void)path;
    return 0;
#else
    int fd = sl_jail_open_dir(path, O_RDONLY);
    if (fd < 0)
        return fd;
    int r;
    IO_RETRY(r, fsync(fd));
    int rc = r == 0 ? 0 : -errno;
    close(fd);
    return rc;
#endif
}

static int name_cmp(const void *a, const void *b)
{
    /* strcmp compares as unsigned char: bytewise order. */
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append a copy of name to l, growing names by doubling. */
static int dirent_push(io_dirent_list *l, size_t *cap, const char *name)
{
    if (l->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **n = realloc(l->names, ncap * sizeof *n);
        if (!n)
            return -ENOMEM;
        l->names = n;
        *cap = ncap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    l->names[l->count++] = copy;
    return 0;
}

static int posix_list_dir(const siglog_io *io, const char *path, io_dirent_list *out)
{
    (void)io;
    out->names = NULL;
    out->count = 0;
    int fd = sl_jail_open_dir(path, O_RDONLY);
    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            rc = errno ? -errno : 0;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = dirent_push(out, &cap, de->d_name);
        if (rc < 0)
            break;
    }
    closedir(d);
    if (rc < 0) {
        sl_io_dirent_list_free(out);
        return rc;
    }
    if (out->count > 1)
        qsort(out->names, out->count, sizeof *out->names, name_cmp);
    return 0;
}

/* lstat of a file or directory of the store (anything else refused). */
static int stat_entry(const char *path, struct stat *st)
{
    jail_entry e;
    int rc = at_parent(path, JAIL_FILE_OR_DIR, 0, &e, NULL);
    if (rc < 0)
        return rc;
    rc = sl_jail_stat(&e, st);
    sl_jail_entry_close(&e);
    return rc;
}

static int posix_stat_path(const siglog_io *io, const char *path, int *is_dir, uint64_t *size)
{
    (void)io;
    struct stat st;
    int rc = stat_entry(path, &st);
    if (rc < 0)
        return rc;
    if (is_dir)
        *is_dir = S_ISDIR(st.st_mode);
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

static int posix_fs_space(const siglog_io *io, const char *path, uint64_t *avail, uint64_t *total)
{
    (void)io;
    jail_entry e;
    int rc = at_parent(path, JAIL_FILE_OR_DIR, 1, &e, NULL);
    if (rc < 0)
        return rc;
    struct statvfs v;
    rc = fstatvfs(e.dirfd, &v) == 0 ? 0 : -errno;
    sl_jail_entry_close(&e);
    if (rc == 0) {
        *avail = (uint64_t)v.f_bavail * v.f_frsize;
        *total = (uint64_t)v.f_blocks * v.f_frsize;
    }
    return rc;
}

static int posix_path_owner(const siglog_io *io, const char *path, uint32_t *uid, uint32_t *gid)
{
    (void)io;
    struct stat st;
    int rc = stat_entry(path, &st);
    if (rc < 0)
        return rc;
    *uid = (uint32_t)st.st_uid;
    *gid = (uint32_t)st.st_gid;
    return 0;
}

static int posix_lock_file(const siglog_io *io, int fd, int shared)
{
    (void)io;
    int r;
    IO_RETRY(r, flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB));
    return r == 0 ? 0 : -errno;
}

static int64_t clock_us(clockid_t clk)
{
    struct timespec ts;
    /* clock_gettime cannot fail for these clocks with a valid pointer. */
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t posix_now_us(const siglog_io *io)
{
    (void)io;
    return clock_us(CLOCK_REALTIME);
}

static int64_t posix_monotonic_us(const siglog_io *io)
{
    (void)io;
    return clock_us(CLOCK_MONOTONIC);
}

static const siglog_io io_posix_table = {
    .open_file = posix_open,
    .close_file = posix_close,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .pwritev = posix_pwritev,
    .fdatasync = posix_fdatasync,
    .fsync = posix_fsync,
    .writeback = posix_writeback,
    .ftruncate = posix_ftruncate,
    .file_size = posix_file_size,
    .mmap_file = posix_mmap,
    .munmap_file = posix_munmap,
    .msync_file = posix_msync,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .mkdir = posix_mkdir,
    .rmdir = posix_rmdir,
    .sync_dir = posix_sync_dir,
    .list_dir = posix_list_dir,
    .stat_path = posix_stat_path,
    .path_owner = posix_path_owner,
    .fs_space = posix_fs_space,
    .lock_file = posix_lock_file,
    .now_us = posix_now_us,
    .monotonic_us = posix_monotonic_us,
    .ctx = NULL,
};

const siglog_io *sl_io_posix(void)
{
    return &io_posix_table;
}
