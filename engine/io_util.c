/*
 * io_util — helpers over any siglog_io backend: complete writes and reads,
 * and the atomic-replace recipe for small metadata files.
 *
 * A backend's pwrite/pwritev may write fewer bytes than asked, like the
 * kernel's; these helpers loop until everything is written, and turn a
 * write that makes no progress into -EIO instead of spinning.
 */
#include "io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_io_write_all(const siglog_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = io->pwrite(io, fd, p, len, off);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int sl_io_writev_all(const siglog_io *io, int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
    /* Skip leading empty vectors so "nothing left" and "no progress" differ. */
    while (iovcnt > 0 && iov->iov_len == 0) {
        iov++;
        iovcnt--;
    }
    while (iovcnt > 0) {
        ssize_t n = io->pwritev(io, fd, iov, iovcnt, off);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EIO;
        off += (uint64_t)n;
        /* Advance past the vectors written in full. The caller's array is
         * const, so a vector written in part is finished with pwrite and
         * pwritev resumes at the next one. */
        size_t done = (size_t)n;
        while (iovcnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (done > 0) {
            size_t rest = iov->iov_len - done;
            int rc = sl_io_write_all(io, fd, (const char *)iov->iov_base + done, rest, off);
            if (rc < 0)
                return rc;
            off += rest;
            iov++;
            iovcnt--;
        }
        while (iovcnt > 0 && iov->iov_len == 0) {
            iov++;
            iovcnt--;
        }
    }
    return 0;
}

ssize_t sl_io_read_full(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = io->pread(io, fd, p + got, len - got, off + got);
        if (n < 0)
            return n;
        if (n == 0)
            break; /* end of file */
        got += (size_t)n;
    }
    return (ssize_t)got;
}

void sl_io_dirent_list_free(io_dirent_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->count = 0;
}

int sl_io_create_temp(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    /* A stale temporary from a crash, or anything planted under its name:
     * unlink removes the entry itself (a symlink's target stays), so the
     * exclusive create below makes a new file or fails. */
    io->unlink(io, path);
    return io->open_file(io, path, flags | IO_CREATE | IO_EXCL, mode);
}

/* Write the whole of data into a fresh tmp, durable before it is renamed. */
static int replace_write_tmp(const siglog_io *io, const char *tmp, const void *data, size_t len, uint32_t mode)
{
    int fd = sl_io_create_temp(io, tmp, IO_WRITE, mode);
    if (fd < 0)
        return fd;
    int rc = sl_io_write_all(io, fd, data, len, 0);
    if (rc == 0)
        rc = io->fsync(io, fd);
    int crc = io->close_file(io, fd);
    return rc < 0 ? rc : crc;
}

int sl_io_replace_file(const siglog_io *io, const char *dir, const char *path, const void *data, size_t len,
                    uint32_t mode)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return -ENOMEM;
    int rc = replace_write_tmp(io, tmp, data, len, mode);
    if (rc == 0)
        rc = io->rename(io, tmp, path);
    if (rc < 0) {
        /* Best effort: the old file is untouched, only the tmp is litter. */
        io->unlink(io, tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    /* The rename happened; if the directory sync fails the new name may not
     * be durable, which the caller must treat as a failed write. */
    return io->sync_dir(io, dir);
}

int sl_io_read_file(const siglog_io *io, const char *path, size_t max_len, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = io->open_file(io, path, IO_READ, 0);
    if (fd < 0)
        return fd;
    uint64_t size = 0;
    int rc = io->file_size(io, fd, &size);
    if (rc == 0 && size > max_len)
        rc = -EFBIG;
    unsigned char *buf = NULL;
    if (rc == 0) {
        /* One spare byte notices a file that grew past max_len since fstat. */
        buf = malloc((size_t)size + 1);
        if (!buf)
            rc = -ENOMEM;
    }
    ssize_t got = 0;
    if (rc == 0) {
        got = sl_io_read_full(io, fd, buf, (size_t)size + 1, 0);
        if (got < 0)
            rc = (int)got;
        else if ((size_t)got > max_len)
            rc = -EFBIG;
    }
    io->close_file(io, fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = (size_t)got;
    return 0;
}
