/*
 * io_posix — the default I/O backend: the siglog_io table over POSIX calls.
 *
 * Every call returns -errno on failure and retries EINTR itself, so callers
 * see either a result or a real error. Descriptors are opened O_CLOEXEC so a
 * process embedding the engine never leaks them into children.
 *
 * Deliberately broken builds (meson -Dbroken=...) exist only to prove that
 * the crash suites notice a missing sync:
 *   SIGLOG_BROKEN_NO_DATA_FSYNC  fdatasync/fsync of files do nothing;
 *   SIGLOG_BROKEN_NO_DIR_FSYNC   sync_dir does nothing.
 * The crash backend honours the same macros (io_crash.c).
 */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Assign r = expr, re-running the syscall while it fails with EINTR. */
#define IO_RETRY(r, expr)                   \
    do                                      \
        (r) = (expr);                       \
    while ((r) == -1 && errno == EINTR)

static int posix_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    (void)io;
    int oflags = O_CLOEXEC | ((flags & IO_WRITE) ? O_RDWR : O_RDONLY);
    if (flags & IO_CREATE)
        oflags |= O_CREAT;
    if (flags & IO_EXCL)
        oflags |= O_EXCL;
    if (flags & IO_TRUNC)
        oflags |= O_TRUNC;
    int fd;
    IO_RETRY(fd, open(path, oflags, (mode_t)mode));
    return fd < 0 ? -errno : fd;
}

static int posix_close(const siglog_io *io, int fd)
{
    (void)io;
    /* Never retry close: on Linux the descriptor is gone even on EINTR. */
    return close(fd) == 0 ? 0 : -errno;
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

static int posix_rename(const siglog_io *io, const char *from, const char *to)
{
    (void)io;
    return rename(from, to) == 0 ? 0 : -errno;
}

static int posix_unlink(const siglog_io *io, const char *path)
{
    (void)io;
    return unlink(path) == 0 ? 0 : -errno;
}

static int posix_mkdir(const siglog_io *io, const char *path, uint32_t mode)
{
    (void)io;
    return mkdir(path, (mode_t)mode) == 0 ? 0 : -errno;
}

static int posix_rmdir(const siglog_io *io, const char *path)
{
    (void)io;
    return rmdir(path) == 0 ? 0 : -errno;
}

static int posix_sync_dir(const siglog_io *io, const char *path)
{
    (void)io;
#ifdef SIGLOG_BROKEN_NO_DIR_FSYNC
    (void)path;
    return 0;
#else
    int fd, r;
    IO_RETRY(fd, open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd < 0)
        return -errno;
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
    int fd;
    IO_RETRY(fd, open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd < 0)
        return -errno;
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
        io_dirent_list_free(out);
        return rc;
    }
    if (out->count > 1)
        qsort(out->names, out->count, sizeof *out->names, name_cmp);
    return 0;
}

static int posix_stat_path(const siglog_io *io, const char *path, int *is_dir, uint64_t *size)
{
    (void)io;
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    if (is_dir)
        *is_dir = S_ISDIR(st.st_mode);
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

static int posix_lock_file(const siglog_io *io, int fd)
{
    (void)io;
    int r;
    IO_RETRY(r, flock(fd, LOCK_EX | LOCK_NB));
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
    .lock_file = posix_lock_file,
    .now_us = posix_now_us,
    .monotonic_us = posix_monotonic_us,
    .ctx = NULL,
};

const siglog_io *io_posix(void)
{
    return &io_posix_table;
}
