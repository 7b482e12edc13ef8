/*
 * io_crash — a power-cut simulator over the real files (see io_crash.h).
 *
 * Every call goes through to POSIX, so the engine reads back what it wrote;
 * on the side the backend keeps what a power cut could still take away.
 *
 * Model (what is durable):
 *   - File data: bytes written, and size changes, since the last successful
 *     fsync/fdatasync/msync of that file. Files are tracked by inode
 *     (st_dev, st_ino), so renames need no bookkeeping, and each tracked
 *     inode holds a private descriptor of the backend's own: the power cut
 *     edits the inode through it, and it keeps an unlinked inode alive so
 *     that an unlink that was never made durable can be undone.
 *   - Directory entries: creates, renames, unlinks, mkdir and rmdir since
 *     the last successful sync_dir of the parent directory (identified by
 *     inode too). A rename between two directories is durable only once
 *     both have been synced.
 *   - Memory maps: writes through a mapping are invisible here, so a file
 *     counts as "map-dirty" while a writable mapping of it exists and from
 *     then until its next sync. Map-dirty files are the engine's indexes,
 *     which it must be able to rebuild: at a power cut they are kept
 *     (KEEP_ALL), zeroed whole (DROP_ALL) or, seeded, either kept or zeroed
 *     from a random page boundary to their end (RANDOM, GARBLE). Zeroing
 *     keeps the file size, as a preallocated index would have.
 *
 * The power cut first rewrites each tracked inode: it undoes every pending
 * data record in reverse order (back to the durable image), then, for
 * RANDOM and GARBLE, replays them per 512-byte sector: each sector touched
 * keeps the effect of the first k of its records, k drawn per sector, as a
 * disk that wrote some sectors of the page cache and not others would. So a
 * write may be kept, dropped, or torn at any sector boundary, and later
 * sectors may survive while earlier ones are lost, but within a sector a
 * later write never survives an earlier one. GARBLE also leaves random
 * bytes where the records a sector lost would have been. The file size is
 * that after a random prefix of the records. Then it undoes directory
 * operations in reverse order: all of them (DROP_ALL), none (KEEP_ALL), or,
 * seeded, all after a random point (RANDOM, GARBLE): a journaling file
 * system commits metadata in order, so the survivors form a prefix.
 *
 * Builds with -Dbroken=no_data_fsync / no_dir_fsync make file / directory
 * syncs count for nothing here as they do in io_posix, so the crash suites
 * prove they notice.
 *
 * Memory: each pending write keeps its new bytes and the bytes it replaced,
 * up to CRASH_PENDING_MAX in all (then writes fail with -ENOMEM); syncing
 * releases them. One mutex serialises every call.
 */
#include "io_crash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CRASH_PENDING_MAX ((uint64_t)256 << 20)
#define CRASH_PAGE 4096u
#define CRASH_SECTOR 512u
#define CRASH_COPY_CHUNK 65536u

enum crash_rec_kind { REC_WRITE, REC_TRUNC };

/* One pending change to a file's data. */
typedef struct crash_rec {
    int kind;
    uint64_t off;         /* write: offset; truncate: the new size */
    size_t len;           /* write: bytes written */
    uint64_t size_before; /* file size before the change */
    unsigned char *new_bytes;
    unsigned char *old_bytes; /* bytes the change destroyed, at off */
    size_t old_len;
} crash_rec;

/* An inode with pending state. */
typedef struct crash_node {
    dev_t dev;
    ino_t ino;
    int fd; /* the backend's own descriptor (read-write when permitted) */
    crash_rec *recs;
    size_t rec_count, rec_cap;
    int live_write_maps;
    int map_dirty;
    int victim_refs; /* pending dir ops that may bring this inode back */
    struct crash_node *next;
} crash_node;

enum crash_dirop_kind { DIROP_CREATE, DIROP_UNLINK, DIROP_RENAME, DIROP_MKDIR, DIROP_RMDIR };

typedef struct crash_parent {
    dev_t dev;
    ino_t ino;
    int pending; /* not yet made durable by sync_dir of this directory */
} crash_parent;

/* One pending directory-entry operation; paths as the engine gave them,
 * which stay valid while operations are undone in reverse order. */
typedef struct crash_dirop {
    int kind;
    char *path; /* rename: the source */
    char *to;   /* rename: the target */
    uint32_t mode;     /* unlink/rmdir/replaced dir: to recreate it */
    crash_node *victim; /* unlinked or overwritten file, to bring back */
    int replaced_dir;  /* rename over an empty directory */
    crash_parent parent[2];
} crash_dirop;

typedef struct crash_fd {
    int used;
    int stale; /* opened before the last power cut: refuses all but close */
    dev_t dev;
    ino_t ino;
} crash_fd;

typedef struct crash_map {
    void *addr;
    crash_node *node;
} crash_map;

struct io_crash {
    siglog_io io; /* the table handed out; io.ctx points back here */
    const siglog_io *posix;
    pthread_mutex_t mu;
    uint64_t rng;
    _Atomic uint64_t ops;
    _Atomic uint64_t die_at;
    _Atomic int dead;
    uint64_t pending_bytes;

    crash_node *nodes, *nodes_tail; /* in creation order: deterministic cuts */
    crash_dirop **dirops;
    size_t dirop_count, dirop_cap;
    crash_fd *fds;
    size_t fd_cap;
    crash_map *maps;
    size_t map_count, map_cap;
};

static io_crash *crash_of(const siglog_io *io)
{
    return io->ctx;
}

/* splitmix64: small, seedable, and the same on every platform. */
static uint64_t crash_rand(io_crash *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return -ENOMEM;
    memset((char *)n + *cap * elem, 0, (ncap - *cap) * elem);
    *arr = n;
    *cap = ncap;
    return 0;
}

/* ---- life and death ---------------------------------------------------- */

static int crash_alive(io_crash *c)
{
    return atomic_load(&c->dead) ? -EIO : 0;
}

/* Every mutating call starts here: the die point turns it into -EIO. */
static int crash_mutate(io_crash *c)
{
    if (atomic_load(&c->dead))
        return -EIO;
    uint64_t die = atomic_load(&c->die_at);
    if (die && atomic_load(&c->ops) + 1 >= die) {
        atomic_store(&c->dead, 1);
        return -EIO;
    }
    atomic_fetch_add(&c->ops, 1);
    return 0;
}

/* ---- descriptors and nodes --------------------------------------------- */

static crash_fd *crash_fd_get(io_crash *c, int fd)
{
    if (fd < 0 || (size_t)fd >= c->fd_cap || !c->fds[fd].used)
        return NULL;
    return &c->fds[fd];
}

/* The live entry for fd, or an error: unknown -EBADF, stale or dead -EIO. */
static int crash_fd_live(io_crash *c, int fd, crash_fd **out)
{
    int rc = crash_alive(c);
    if (rc < 0)
        return rc;
    crash_fd *e = crash_fd_get(c, fd);
    if (!e)
        return -EBADF;
    if (e->stale)
        return -EIO;
    *out = e;
    return 0;
}

static crash_node *crash_node_find(io_crash *c, dev_t dev, ino_t ino)
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

/* The node behind an open engine descriptor, created on first need. */
static int crash_node_of_fd(io_crash *c, int fd, const crash_fd *e, crash_node **out)
{
    crash_node *n = crash_node_find(c, e->dev, e->ino);
    if (n) {
        *out = n;
        return 0;
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return crash_node_new(c, proc, e->dev, e->ino, out);
}

/* The node of the regular file at path (lstat), created on first need. */
static int crash_node_of_path(io_crash *c, const char *path, const struct stat *st, crash_node **out)
{
    crash_node *n = crash_node_find(c, st->st_dev, st->st_ino);
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

static void crash_node_free(io_crash *c, crash_node *n)
{
    crash_recs_clear(c, n);
    free(n->recs);
    close(n->fd);
    free(n);
}

/* Stop tracking an inode that has nothing pending any more. */
static void crash_node_release_if_idle(io_crash *c, crash_node *n)
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
    crash_node_free(c, n);
}

/* A successful data sync: everything written so far is durable. */
static void crash_node_synced(io_crash *c, crash_node *n)
{
#ifdef SIGLOG_BROKEN_NO_DATA_FSYNC
    (void)c;
    (void)n;
#else
    crash_recs_clear(c, n);
    n->map_dirty = n->live_write_maps > 0;
    crash_node_release_if_idle(c, n);
#endif
}

/* ---- data records ------------------------------------------------------ */

static int crash_file_size(int fd, uint64_t *size)
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
    ssize_t got = io_read_full(c->posix, n->fd, b, len, off);
    if (got < 0 || (size_t)got != len) {
        free(b);
        return got < 0 ? (int)got : -EIO;
    }
    *out = b;
    return 0;
}

static int crash_rec_push(io_crash *c, crash_node *n, const crash_rec *r)
{
    int rc = grow((void **)&n->recs, &n->rec_cap, n->rec_count + 1, sizeof *n->recs);
    if (rc < 0)
        return rc;
    n->recs[n->rec_count++] = *r;
    c->pending_bytes += r->len + r->old_len;
    return 0;
}

static ssize_t crash_write_locked(io_crash *c, int fd, const void *buf, size_t len, uint64_t off)
{
    crash_fd *e;
    int rc = crash_fd_live(c, fd, &e);
    if (rc == 0)
        rc = crash_mutate(c);
    if (rc < 0)
        return rc;
    if (len == 0)
        return c->posix->pwrite(c->posix, fd, buf, len, off);
    if (c->pending_bytes + 2 * (uint64_t)len > CRASH_PENDING_MAX)
        return -ENOMEM;
    crash_node *n;
    rc = crash_node_of_fd(c, fd, e, &n);
    if (rc < 0)
        return rc;
    crash_rec r = { .kind = REC_WRITE, .off = off };
    rc = crash_file_size(n->fd, &r.size_before);
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
            crash_node_release_if_idle(c, n);
            return w;
        }
        /* Cannot track it: undo it and report, rather than hide the risk. */
        c->posix->pwrite(c->posix, fd, r.old_bytes, r.old_len, off);
        c->posix->ftruncate(c->posix, fd, r.size_before);
        w = rc;
    }
    free(r.new_bytes);
    free(r.old_bytes);
    crash_node_release_if_idle(c, n);
    return w;
}

/* Truncate through a live engine descriptor, recording the change. */
static int crash_truncate_locked(io_crash *c, int fd, crash_fd *e, uint64_t size)
{
    crash_node *n;
    int rc = crash_node_of_fd(c, fd, e, &n);
    if (rc < 0)
        return rc;
    crash_rec r = { .kind = REC_TRUNC, .off = size };
    rc = crash_file_size(n->fd, &r.size_before);
    if (rc == 0 && size < r.size_before) {
        if (r.size_before - size > CRASH_PENDING_MAX - c->pending_bytes)
            rc = -ENOMEM;
        else {
            r.old_len = (size_t)(r.size_before - size);
            rc = crash_read_range(c, n, size, r.old_len, &r.old_bytes);
        }
    }
    if (rc == 0)
        rc = grow((void **)&n->recs, &n->rec_cap, n->rec_count + 1, sizeof *n->recs);
    if (rc == 0)
        rc = c->posix->ftruncate(c->posix, fd, size);
    if (rc == 0)
        crash_rec_push(c, n, &r); /* cannot fail: room was made above */
    else
        free(r.old_bytes);
    crash_node_release_if_idle(c, n);
    return rc;
}

/* ---- directory operations ---------------------------------------------- */

static void crash_parent_of(const char *path, crash_parent *p)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    struct stat st;
    /* A parent that cannot be identified is never matched by a sync, so
     * its operation stays pending: the cautious side. */
    p->pending = 1;
    if (dir && stat(dir, &st) == 0) {
        p->dev = st.st_dev;
        p->ino = st.st_ino;
    }
    free(dir);
}

static crash_dirop *crash_dirop_new(int kind, const char *path, const char *to)
{
    crash_dirop *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->kind = kind;
    op->path = strdup(path);
    op->to = to ? strdup(to) : NULL;
    if (!op->path || (to && !op->to)) {
        free(op->path);
        free(op->to);
        free(op);
        return NULL;
    }
    crash_parent_of(path, &op->parent[0]);
    if (to)
        crash_parent_of(to, &op->parent[1]);
    return op;
}

static void crash_dirop_free(io_crash *c, crash_dirop *op)
{
    if (op->victim) {
        op->victim->victim_refs--;
        crash_node_release_if_idle(c, op->victim);
    }
    free(op->path);
    free(op->to);
    free(op);
}

/* Make room before the real call, so that a completed call is always
 * recorded. */
static int crash_dirop_reserve(io_crash *c)
{
    return grow((void **)&c->dirops, &c->dirop_cap, c->dirop_count + 1, sizeof *c->dirops);
}

/* ---- the table: file calls --------------------------------------------- */

static int crash_fd_remember(io_crash *c, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    int rc = grow((void **)&c->fds, &c->fd_cap, (size_t)fd + 1, sizeof *c->fds);
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
    if (creating) {
        op = crash_dirop_new(DIROP_CREATE, path, NULL);
        if (!op || crash_dirop_reserve(c) < 0) {
            if (op)
                crash_dirop_free(c, op);
            return -ENOMEM;
        }
    }
    /* O_TRUNC is done as a recorded ftruncate, so the old bytes can return. */
    int fd = c->posix->open_file(c->posix, path, flags & ~IO_TRUNC, mode);
    if (fd < 0) {
        if (op)
            crash_dirop_free(c, op);
        return fd;
    }
    if (op)
        c->dirops[c->dirop_count++] = op; /* room was reserved */
    rc = crash_fd_remember(c, fd);
    if (rc == 0 && (flags & IO_TRUNC) && (flags & IO_WRITE)) {
        uint64_t size = 0;
        rc = crash_file_size(fd, &size);
        if (rc == 0 && size > 0)
            rc = crash_truncate_locked(c, fd, &c->fds[fd], 0);
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
    ssize_t rc = crash_write_locked(c, fd, buf, len, off);
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
    int rc = crash_fd_live(c, fd, &e);
    if (rc == 0)
        rc = crash_mutate(c);
    if (rc == 0)
        rc = data_only ? c->posix->fdatasync(c->posix, fd) : c->posix->fsync(c->posix, fd);
    if (rc == 0) {
        crash_node *n = crash_node_find(c, e->dev, e->ino);
        if (n)
            crash_node_synced(c, n);
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
    int rc = crash_fd_live(c, fd, &e);
    if (rc == 0)
        rc = crash_mutate(c);
    if (rc == 0)
        rc = crash_truncate_locked(c, fd, e, size);
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
    rc = crash_node_of_fd(c, fd, e, &n);
    if (rc == 0)
        rc = grow((void **)&c->maps, &c->map_cap, c->map_count + 1, sizeof *c->maps);
    if (rc == 0)
        rc = c->posix->mmap_file(c->posix, fd, len, prot_write, addr);
    if (rc == 0) {
        c->maps[c->map_count++] = (crash_map){ *addr, n };
        n->live_write_maps++;
        n->map_dirty = 1;
    } else if (n) {
        crash_node_release_if_idle(c, n);
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
        crash_node_release_if_idle(c, n);
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
        crash_node_synced(c, m->node);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- the table: directory calls ---------------------------------------- */

/* Track the regular file at path as the victim of op, if there is one;
 * the op holds a reference on it until it is freed. */
static int crash_take_victim(io_crash *c, crash_dirop *op, const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0; /* nothing there: the real call reports it */
    op->mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
        op->replaced_dir = op->kind == DIROP_RENAME;
        return 0;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    int rc = crash_node_of_path(c, path, &st, &op->victim);
    if (rc == 0)
        op->victim->victim_refs++;
    return rc;
}

/* Finish a directory operation: record op if the real call succeeded. */
static int crash_dirop_run(io_crash *c, crash_dirop *op, int rc)
{
    if (rc == 0) {
        c->dirops[c->dirop_count++] = op; /* room was reserved */
        return 0;
    }
    crash_dirop_free(c, op);
    return rc;
}

static int crash_prepare(io_crash *c, int kind, const char *path, const char *to, crash_dirop **out)
{
    int rc = crash_mutate(c);
    if (rc < 0)
        return rc;
    crash_dirop *op = crash_dirop_new(kind, path, to);
    if (!op || crash_dirop_reserve(c) < 0) {
        if (op)
            crash_dirop_free(c, op);
        return -ENOMEM;
    }
    *out = op;
    return 0;
}

static int crash_rename(const siglog_io *io, const char *from, const char *to)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_dirop *op;
    int rc = crash_prepare(c, DIROP_RENAME, from, to, &op);
    if (rc == 0) {
        /* Renaming a file onto itself (or a hard link of it) changes
         * nothing and destroys nothing. */
        struct stat sf, st;
        int same = lstat(from, &sf) == 0 && lstat(to, &st) == 0 && sf.st_dev == st.st_dev &&
                   sf.st_ino == st.st_ino;
        if (!same)
            rc = crash_take_victim(c, op, to);
        if (rc == 0)
            rc = c->posix->rename(c->posix, from, to);
        rc = crash_dirop_run(c, op, rc);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_unlink(const siglog_io *io, const char *path)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_dirop *op;
    int rc = crash_prepare(c, DIROP_UNLINK, path, NULL, &op);
    if (rc == 0) {
        rc = crash_take_victim(c, op, path);
        if (rc == 0)
            rc = c->posix->unlink(c->posix, path);
        rc = crash_dirop_run(c, op, rc);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_mkdir(const siglog_io *io, const char *path, uint32_t mode)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_dirop *op;
    int rc = crash_prepare(c, DIROP_MKDIR, path, NULL, &op);
    if (rc == 0)
        rc = crash_dirop_run(c, op, c->posix->mkdir(c->posix, path, mode));
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int crash_rmdir(const siglog_io *io, const char *path)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_dirop *op;
    int rc = crash_prepare(c, DIROP_RMDIR, path, NULL, &op);
    if (rc == 0) {
        rc = crash_take_victim(c, op, path); /* only notes the mode */
        if (rc == 0)
            rc = c->posix->rmdir(c->posix, path);
        rc = crash_dirop_run(c, op, rc);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* A successful sync_dir: entry operations in that directory are durable. */
static void crash_dir_synced(io_crash *c, const char *path)
{
#ifdef SIGLOG_BROKEN_NO_DIR_FSYNC
    (void)c;
    (void)path;
#else
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < c->dirop_count; i++) {
        crash_dirop *op = c->dirops[i];
        for (int p = 0; p < 2; p++)
            if (op->parent[p].dev == st.st_dev && op->parent[p].ino == st.st_ino)
                op->parent[p].pending = 0;
        if (op->parent[0].pending || op->parent[1].pending)
            c->dirops[kept++] = op;
        else
            crash_dirop_free(c, op);
    }
    c->dirop_count = kept;
#endif
}

static int crash_sync_dir(const siglog_io *io, const char *path)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    int rc = crash_mutate(c);
    if (rc == 0)
        rc = c->posix->sync_dir(c->posix, path);
    if (rc == 0)
        crash_dir_synced(c, path);
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

static int crash_lock_file(const siglog_io *io, int fd)
{
    io_crash *c = crash_of(io);
    pthread_mutex_lock(&c->mu);
    crash_fd *e;
    int rc = crash_fd_live(c, fd, &e);
    if (rc == 0)
        rc = c->posix->lock_file(c->posix, fd);
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

/* ---- the power cut ----------------------------------------------------- */

static void keep_first_error(int *first, int rc)
{
    if (rc < 0 && *first == 0)
        *first = rc;
}

static int write_random(io_crash *c, int fd, uint64_t off, size_t len)
{
    unsigned char *b = malloc(len ? len : 1);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)crash_rand(c);
    int rc = io_write_all(c->posix, fd, b, len, off);
    free(b);
    return rc;
}

/* Put back what record r destroyed: the file as it was just before r.
 * For both kinds the destroyed bytes start at r->off (a truncation's
 * old tail starts at its new size). */
static int crash_rec_undo(io_crash *c, int fd, const crash_rec *r)
{
    int rc = c->posix->ftruncate(c->posix, fd, r->size_before);
    if (rc == 0 && r->old_len)
        rc = io_write_all(c->posix, fd, r->old_bytes, r->old_len, r->off);
    return rc;
}

/* The bytes a record wrote or destroyed: a write's range, or the tail a
 * shrinking truncation cut off (an extension touches no bytes). */
static void crash_rec_span(const crash_rec *r, uint64_t *from, uint64_t *to)
{
    *from = r->off;
    *to = r->kind == REC_WRITE ? r->off + r->len : (r->off < r->size_before ? r->size_before : r->off);
}

static int sector_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The distinct sectors the node's records touch, sorted. */
static int crash_sectors(const crash_node *n, uint64_t **out, size_t *count)
{
    uint64_t *sec = NULL;
    size_t len = 0, cap = 0;
    for (size_t i = 0; i < n->rec_count; i++) {
        uint64_t from, to;
        crash_rec_span(&n->recs[i], &from, &to);
        for (uint64_t s = from / CRASH_SECTOR; from < to && s <= (to - 1) / CRASH_SECTOR; s++) {
            if (grow((void **)&sec, &cap, len + 1, sizeof *sec) < 0) {
                free(sec);
                return -ENOMEM;
            }
            sec[len++] = s;
        }
    }
    if (len > 1)
        qsort(sec, len, sizeof *sec, sector_cmp);
    size_t uniq = 0;
    for (size_t i = 0; i < len; i++)
        if (uniq == 0 || sec[uniq - 1] != sec[i])
            sec[uniq++] = sec[i];
    *out = sec;
    *count = uniq;
    return 0;
}

/* Replay the records over the durable image sector by sector: a sector
 * holds the effect of the first k of its records, k drawn per sector from
 * 0..n (a later write into a sector never survives without the earlier
 * ones: the page cache writes a sector whole). Under GARBLE a sector that
 * lost records may hold random bytes where they would have been. The size
 * is that after a random prefix of the records. */
static int crash_node_scatter(io_crash *c, crash_node *n, uint64_t size_at_cut, int mode)
{
    uint64_t *sec;
    size_t count;
    int rc = crash_sectors(n, &sec, &count);
    if (rc < 0)
        return rc;
    uint64_t *keep = malloc((count ? count : 1) * sizeof *keep);
    if (!keep) {
        free(sec);
        return -ENOMEM;
    }
    uint64_t nrec = n->rec_count;
    for (size_t j = 0; j < count; j++) {
        uint64_t roll = crash_rand(c);
        /* Low bit: garble flag; the rest: how many records the sector keeps. */
        keep[j] = ((roll >> 1) % (nrec + 1)) << 1 | (mode == IO_CRASH_GARBLE && (roll & 1));
    }
    uint64_t size_keep = crash_rand(c) % (nrec + 1);
    unsigned char *zeros = calloc(1, CRASH_SECTOR);
    rc = zeros ? 0 : -ENOMEM;
    for (size_t i = 0; i < n->rec_count && rc == 0; i++) {
        const crash_rec *r = &n->recs[i];
        uint64_t from, to;
        crash_rec_span(r, &from, &to);
        /* Sectors are sorted: find the first this record touches. */
        size_t j = 0;
        while (j < count && sec[j] < from / CRASH_SECTOR)
            j++;
        for (; j < count && rc == 0 && sec[j] * CRASH_SECTOR < to; j++) {
            uint64_t a = sec[j] * CRASH_SECTOR > from ? sec[j] * CRASH_SECTOR : from;
            uint64_t b = (sec[j] + 1) * CRASH_SECTOR < to ? (sec[j] + 1) * CRASH_SECTOR : to;
            if (i < keep[j] >> 1)
                rc = io_write_all(c->posix, n->fd, r->kind == REC_WRITE ? r->new_bytes + (a - r->off) : zeros,
                                  (size_t)(b - a), a);
            else if (keep[j] & 1)
                rc = write_random(c, n->fd, a, (size_t)(b - a));
        }
    }
    if (rc == 0)
        rc = c->posix->ftruncate(c->posix, n->fd, size_keep < nrec ? n->recs[size_keep].size_before : size_at_cut);
    free(zeros);
    free(keep);
    free(sec);
    return rc;
}

/* Zero a map-dirty file from a page boundary to its end, keeping its size
 * (truncate and re-extend: sparse, like a fresh preallocation). */
static int crash_map_cut(io_crash *c, crash_node *n, int mode)
{
    uint64_t size;
    int rc = crash_file_size(n->fd, &size);
    if (rc < 0 || mode == IO_CRASH_KEEP_ALL || size == 0)
        return rc;
    uint64_t from = 0;
    if (mode != IO_CRASH_DROP_ALL) {
        uint64_t roll = crash_rand(c);
        if (roll & 1)
            return 0; /* kept */
        uint64_t pages = (size + CRASH_PAGE - 1) / CRASH_PAGE;
        from = ((roll >> 8) % pages) * CRASH_PAGE;
    }
    rc = c->posix->ftruncate(c->posix, n->fd, from);
    if (rc == 0)
        rc = c->posix->ftruncate(c->posix, n->fd, size);
    return rc;
}

static int crash_node_cut(io_crash *c, crash_node *n, int mode)
{
    int first = 0;
    if (mode != IO_CRASH_KEEP_ALL && n->rec_count) {
        uint64_t size_at_cut = 0;
        keep_first_error(&first, crash_file_size(n->fd, &size_at_cut));
        for (size_t i = n->rec_count; i-- > 0;)
            keep_first_error(&first, crash_rec_undo(c, n->fd, &n->recs[i]));
        if (mode != IO_CRASH_DROP_ALL && first == 0)
            keep_first_error(&first, crash_node_scatter(c, n, size_at_cut, mode));
    }
    if (n->map_dirty)
        keep_first_error(&first, crash_map_cut(c, n, mode));
    return first;
}

/* Recreate path as a copy of the (already cut) victim inode. */
static int crash_restore_victim(io_crash *c, const crash_node *v, const char *path, uint32_t mode)
{
    int out = c->posix->open_file(c->posix, path, IO_WRITE | IO_CREATE | IO_EXCL, mode);
    if (out < 0)
        return out;
    unsigned char *buf = malloc(CRASH_COPY_CHUNK);
    int rc = buf ? 0 : -ENOMEM;
    for (uint64_t off = 0; rc == 0;) {
        ssize_t n = c->posix->pread(c->posix, v->fd, buf, CRASH_COPY_CHUNK, off);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        rc = io_write_all(c->posix, out, buf, (size_t)n, off);
        off += (uint64_t)n;
    }
    free(buf);
    c->posix->close_file(c->posix, out);
    return rc;
}

static int crash_remove_tree(io_crash *c, const char *path)
{
    io_dirent_list l;
    int rc = c->posix->list_dir(c->posix, path, &l);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < l.count && rc == 0; i++) {
        char *child = NULL;
        if (asprintf(&child, "%s/%s", path, l.names[i]) < 0) {
            rc = -ENOMEM;
            break;
        }
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
            rc = crash_remove_tree(c, child);
        else
            rc = c->posix->unlink(c->posix, child);
        free(child);
    }
    io_dirent_list_free(&l);
    return rc < 0 ? rc : c->posix->rmdir(c->posix, path);
}

static int crash_dirop_undo(io_crash *c, const crash_dirop *op)
{
    const siglog_io *p = c->posix;
    int rc = 0;
    switch (op->kind) {
    case DIROP_CREATE:
        return p->unlink(p, op->path);
    case DIROP_UNLINK:
        return op->victim ? crash_restore_victim(c, op->victim, op->path, op->mode) : 0;
    case DIROP_RENAME:
        rc = p->rename(p, op->to, op->path);
        if (rc == 0 && op->victim)
            rc = crash_restore_victim(c, op->victim, op->to, op->mode);
        if (rc == 0 && op->replaced_dir)
            rc = p->mkdir(p, op->to, op->mode);
        return rc;
    case DIROP_MKDIR:
        return crash_remove_tree(c, op->path);
    case DIROP_RMDIR:
        return p->mkdir(p, op->path, op->mode);
    }
    return -EINVAL;
}

/* Forget everything pending; descriptors still open become stale. */
static void crash_reset(io_crash *c)
{
    for (size_t i = 0; i < c->dirop_count; i++)
        crash_dirop_free(c, c->dirops[i]);
    c->dirop_count = 0;
    c->map_count = 0;
    while (c->nodes) {
        crash_node *n = c->nodes;
        c->nodes = n->next;
        crash_node_free(c, n);
    }
    c->nodes_tail = NULL;
    for (size_t i = 0; i < c->fd_cap; i++)
        c->fds[i].stale = c->fds[i].used;
    atomic_store(&c->die_at, 0);
    atomic_store(&c->dead, 0);
}

int io_crash_power_cut(io_crash *c, int mode)
{
    if (mode < IO_CRASH_KEEP_ALL || mode > IO_CRASH_GARBLE)
        return -EINVAL;
    pthread_mutex_lock(&c->mu);
    int first = 0;
    /* Data first, through the nodes' own descriptors: an inode whose
     * unlink is undone below is copied back with its cut content. */
    for (crash_node *n = c->nodes; n; n = n->next)
        keep_first_error(&first, crash_node_cut(c, n, mode));
    size_t keep = c->dirop_count;
    if (mode == IO_CRASH_DROP_ALL)
        keep = 0;
    else if (mode != IO_CRASH_KEEP_ALL)
        keep = (size_t)(crash_rand(c) % (c->dirop_count + 1));
    for (size_t i = c->dirop_count; i-- > keep;)
        keep_first_error(&first, crash_dirop_undo(c, c->dirops[i]));
    crash_reset(c);
    pthread_mutex_unlock(&c->mu);
    return first;
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
    c->posix = io_posix();
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
    crash_reset(c);
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
