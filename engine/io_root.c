/*
 * io_root — a backend seen through a store's directory descriptor
 * (io_root.h). Each path op makes the store's root this thread's jail
 * root for exactly the duration of the backend's call: the POSIX backend
 * (directly, or under a test backend that delegates to it) then resolves
 * the path beneath the descriptor. Being per call and per thread, two
 * stores open in one process, or a store's background thread, never see
 * each other's root.
 */
#include "io_root.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io_jail.h"

struct io_root {
    siglog_io io; /* first: the table the store's modules call */
    const siglog_io *backend;
    jail_root root;
    char *path; /* root.path */
};

static const io_root *root_of(const siglog_io *io)
{
    return (const io_root *)io;
}

/* rc = the backend's `call`, made with this store's root in force. */
#define ROOTED(rc, io, call)                                                \
    do {                                                                    \
        const io_root *r_ = root_of(io);                                    \
        const jail_root *prev_ = sl_jail_root_enter(&r_->root);                \
        (rc) = r_->backend->call;                                           \
        sl_jail_root_leave(prev_);                                             \
    } while (0)

static int root_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    int rc;
    ROOTED(rc, io, open_file(root_of(io)->backend, path, flags, mode));
    return rc;
}

static int root_rename(const siglog_io *io, const char *from, const char *to)
{
    int rc;
    ROOTED(rc, io, rename(root_of(io)->backend, from, to));
    return rc;
}

static int root_unlink(const siglog_io *io, const char *path)
{
    int rc;
    ROOTED(rc, io, unlink(root_of(io)->backend, path));
    return rc;
}

static int root_mkdir(const siglog_io *io, const char *path, uint32_t mode)
{
    int rc;
    ROOTED(rc, io, mkdir(root_of(io)->backend, path, mode));
    return rc;
}

static int root_rmdir(const siglog_io *io, const char *path)
{
    int rc;
    ROOTED(rc, io, rmdir(root_of(io)->backend, path));
    return rc;
}

static int root_sync_dir(const siglog_io *io, const char *path)
{
    int rc;
    ROOTED(rc, io, sync_dir(root_of(io)->backend, path));
    return rc;
}

static int root_list_dir(const siglog_io *io, const char *path, io_dirent_list *out)
{
    int rc;
    ROOTED(rc, io, list_dir(root_of(io)->backend, path, out));
    return rc;
}

static int root_stat_path(const siglog_io *io, const char *path, int *is_dir, uint64_t *size)
{
    int rc;
    ROOTED(rc, io, stat_path(root_of(io)->backend, path, is_dir, size));
    return rc;
}

static int root_fs_space(const siglog_io *io, const char *path, uint64_t *avail, uint64_t *total)
{
    int rc;
    ROOTED(rc, io, fs_space(root_of(io)->backend, path, avail, total));
    return rc;
}

static int root_path_owner(const siglog_io *io, const char *path, uint32_t *uid, uint32_t *gid)
{
    int rc;
    ROOTED(rc, io, path_owner(root_of(io)->backend, path, uid, gid));
    return rc;
}

int sl_io_root_open(const siglog_io *backend, const char *path, io_root **out)
{
    *out = NULL;
    io_root *r = calloc(1, sizeof *r);
    char *copy = strdup(path);
    if (!r || !copy) {
        free(r);
        free(copy);
        return -ENOMEM;
    }
    size_t len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    int fd = sl_jail_open_dir(copy, O_PATH);
    if (fd < 0) {
        free(r);
        free(copy);
        return fd;
    }
    r->path = copy;
    r->root = (jail_root){.fd = fd, .path = copy, .len = len};
    r->backend = backend;
    /* Descriptor ops and clocks straight to the backend: its functions
     * find their state in ctx, which the copy keeps. */
    r->io = *backend;
    r->io.open_file = root_open;
    r->io.rename = root_rename;
    r->io.unlink = root_unlink;
    r->io.mkdir = root_mkdir;
    r->io.rmdir = root_rmdir;
    r->io.sync_dir = root_sync_dir;
    r->io.list_dir = root_list_dir;
    r->io.stat_path = root_stat_path;
    r->io.path_owner = root_path_owner;
    r->io.fs_space = backend->fs_space ? root_fs_space : NULL;
    *out = r;
    return 0;
}

const siglog_io *sl_io_root_io(io_root *r)
{
    return &r->io;
}

void sl_io_root_close(io_root *r)
{
    if (!r)
        return;
    close(r->root.fd);
    free(r->path);
    free(r);
}
