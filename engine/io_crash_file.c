/*
 * io_crash_file — the power-cut simulator's pending file data, tracked per
 * inode (see io_crash_internal.h for the shared invariants).
 *
 * Files are tracked by inode (st_dev, st_ino), so renames need no
 * bookkeeping. Each tracked inode holds a private descriptor of the
 * backend's own: the power cut edits the inode through it, and it keeps an
 * unlinked inode alive so that an unlink that was never made durable can be
 * undone. Every write or truncation through the engine since the file's
 * last sync is a crash_rec holding the bytes it wrote and the bytes it
 * destroyed, in call order, so the cut can roll the file back to its
 * durable image and replay any part of what followed. A change that cannot
 * be recorded is undone and reported, never left untracked.
 */
#include "io_crash_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

crash_node *io_crash_node_find(io_crash *c, dev_t dev, ino_t ino)
{
    for (crash_node *n = c->nodes; n; n = n->next)
        if (n->dev == dev && n->ino == ino)
            return n;
    return NULL;
}

static int open_rw_or_ro(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == EACCES)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd;
}

/* Start tracking an inode through a descriptor we open on it ourselves
 * (never a dup: a shared open file description would share flock locks). */
static int crash_node_new(io_crash *c, const char *path, dev_t dev, ino_t ino, crash_node **out)
{
    crash_node *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->fd = open_rw_or_ro(path);
    struct stat st;
    if (n->fd < 0 || fstat(n->fd, &st) != 0 || st.st_dev != dev || st.st_ino != ino) {
        int e = n->fd < 0 ? errno : ESTALE;
        if (n->fd >= 0)
            close(n->fd);
        free(n);
        return -e;
    }
    n->dev = dev;
    n->ino = ino;
    if (c->nodes_tail)
        c->nodes_tail->next = n;
    else
        c->nodes = n;
    c->nodes_tail = n;
    *out = n;
    return 0;
}

int io_crash_node_of_fd(io_crash *c, int fd, const crash_fd *e, crash_node **out)
{
    crash_node *n = io_crash_node_find(c, e->dev, e->ino);
    if (n) {
        *out = n;
        return 0;
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return crash_node_new(c, proc, e->dev, e->ino, out);
}

int io_crash_node_of_path(io_crash *c, const char *path, const struct stat *st, crash_node **out)
{
    crash_node *n = io_crash_node_find(c, st->st_dev, st->st_ino);
    if (n) {
        *out = n;
        return 0;
    }
    return crash_node_new(c, path, st->st_dev, st->st_ino, out);
}

static void crash_recs_clear(io_crash *c, crash_node *n)
{
    for (size_t i = 0; i < n->rec_count; i++) {
        c->pending_bytes -= n->recs[i].len + n->recs[i].old_len;
        free(n->recs[i].new_bytes);
        free(n->recs[i].old_bytes);
    }
    n->rec_count = 0;
}

void io_crash_node_free(io_crash *c, crash_node *n)
{
    crash_recs_clear(c, n);
    free(n->recs);
    close(n->fd);
    free(n);
}

void io_crash_node_release_if_idle(io_crash *c, crash_node *n)
{
    if (n->rec_count || n->map_dirty || n->live_write_maps || n->victim_refs)
        return;
    crash_node *prev = NULL;
    for (crash_node *it = c->nodes; it; prev = it, it = it->next) {
        if (it != n)
            continue;
        if (prev)
            prev->next = n->next;
        else
            c->nodes = n->next;
        if (c->nodes_tail == n)
            c->nodes_tail = prev;
        break;
    }
    io_crash_node_free(c, n);
}

void io_crash_node_synced(io_crash *c, crash_node *n)
{
#ifdef SIGLOG_BROKEN_NO_DATA_FSYNC
    (void)c;
    (void)n;
#else
    crash_recs_clear(c, n);
    n->map_dirty = n->live_write_maps > 0;
    io_crash_node_release_if_idle(c, n);
#endif
}

/* ---- data records ------------------------------------------------------ */

int io_crash_file_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

/* Read [off, off+len) of the node's current content into a new buffer. */
static int crash_read_range(io_crash *c, crash_node *n, uint64_t off, size_t len, unsigned char **out)
{
    *out = NULL;
    if (len == 0)
        return 0;
    unsigned char *b = malloc(len);
    if (!b)
        return -ENOMEM;
    ssize_t got = sl_io_read_full(c->posix, n->fd, b, len, off);
    if (got < 0 || (size_t)got != len) {
        free(b);
        return got < 0 ? (int)got : -EIO;
    }
    *out = b;
    return 0;
}

static int crash_rec_push(io_crash *c, crash_node *n, const crash_rec *r)
{
    int rc = crash_grow((void **)&n->recs, &n->rec_cap, n->rec_count + 1, sizeof *n->recs);
    if (rc < 0)
        return rc;
    n->recs[n->rec_count++] = *r;
    c->pending_bytes += r->len + r->old_len;
    return 0;
}

ssize_t io_crash_write_locked(io_crash *c, int fd, const void *buf, size_t len, uint64_t off)
{
    crash_fd *e;
    int rc = crash_fd_mutate(c, fd, &e);
    if (rc < 0)
        return rc;
    if (len == 0)
        return c->posix->pwrite(c->posix, fd, buf, len, off);
    if (c->pending_bytes + 2 * (uint64_t)len > CRASH_PENDING_MAX)
        return -ENOMEM;
    crash_node *n;
    rc = io_crash_node_of_fd(c, fd, e, &n);
    if (rc < 0)
        return rc;
    crash_rec r = { .kind = REC_WRITE, .off = off };
    rc = io_crash_file_size(n->fd, &r.size_before);
    if (rc == 0 && off < r.size_before) {
        uint64_t avail = r.size_before - off;
        r.old_len = avail < len ? (size_t)avail : len;
        rc = crash_read_range(c, n, off, r.old_len, &r.old_bytes);
    }
    r.new_bytes = rc == 0 ? malloc(len) : NULL;
    if (rc == 0 && !r.new_bytes)
        rc = -ENOMEM;
    ssize_t w = rc < 0 ? rc : c->posix->pwrite(c->posix, fd, buf, len, off);
    if (w > 0) {
        r.len = (size_t)w;
        if (r.old_len > r.len)
            r.old_len = r.len;
        memcpy(r.new_bytes, buf, r.len);
        rc = crash_rec_push(c, n, &r);
        if (rc == 0) {
            io_crash_node_release_if_idle(c, n);
            return w;
        }
        /* Cannot track it: undo it and report, rather than hide the risk. */
        c->posix->pwrite(c->posix, fd, r.old_bytes, r.old_len, off);
        c->posix->ftruncate(c->posix, fd, r.size_before);
        w = rc;
    }
    free(r.new_bytes);
    free(r.old_bytes);
    io_crash_node_release_if_idle(c, n);
    return w;
}

int io_crash_truncate_locked(io_crash *c, int fd, crash_fd *e, uint64_t size)
{
    crash_node *n;
    int rc = io_crash_node_of_fd(c, fd, e, &n);
    if (rc < 0)
        return rc;
    crash_rec r = { .kind = REC_TRUNC, .off = size };
    rc = io_crash_file_size(n->fd, &r.size_before);
    if (rc == 0 && size < r.size_before) {
        if (r.size_before - size > CRASH_PENDING_MAX - c->pending_bytes)
            rc = -ENOMEM;
        else {
            r.old_len = (size_t)(r.size_before - size);
            rc = crash_read_range(c, n, size, r.old_len, &r.old_bytes);
        }
    }
    if (rc == 0)
        rc = crash_grow((void **)&n->recs, &n->rec_cap, n->rec_count + 1, sizeof *n->recs);
    if (rc == 0)
        rc = c->posix->ftruncate(c->posix, fd, size);
    if (rc == 0)
        crash_rec_push(c, n, &r); /* cannot fail: room was made above */
    else
        free(r.old_bytes);
    io_crash_node_release_if_idle(c, n);
    return rc;
}
