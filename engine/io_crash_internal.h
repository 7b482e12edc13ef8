/*
 * io_crash_internal — what the io_crash files share; not for the engine or
 * the tests (they use io_crash.h).
 *
 * The backend is split by concern: io_crash.c is the siglog_io table and
 * the lifecycle, io_crash_file.c tracks pending file data per inode,
 * io_crash_dir.c tracks pending directory-entry operations, io_crash_cut.c
 * applies a power cut to the real files. The model of what is durable is
 * described at the top of io_crash.c.
 *
 * Invariants (all state is guarded by io_crash.mu; every function here
 * expects it held unless it says otherwise):
 *   - a crash_node exists exactly while its inode has something pending:
 *     records, a writable mapping (live, or since its last sync), or dir ops
 *     that may bring it back (victim_refs). io_crash_node_release_if_idle
 *     drops it once nothing is left;
 *   - pending_bytes is the sum of len + old_len over every node's records,
 *     and stays at most CRASH_PENDING_MAX;
 *   - nodes are kept in creation order and dirops in call order, so a cut
 *     with a given seed is deterministic;
 *   - a completed real call is always recorded: room for its record is made
 *     before the call.
 */
#ifndef SIGLOG_IO_CRASH_INTERNAL_H
#define SIGLOG_IO_CRASH_INTERNAL_H

#include "io_crash.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

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

/* ---- small shared helpers ---------------------------------------------- */

/* splitmix64: small, seedable, and the same on every platform. */
static inline uint64_t crash_rand(io_crash *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Make room for need elements of *arr, zeroing the new ones. */
static inline int crash_grow(void **arr, size_t *cap, size_t need, size_t elem)
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

static inline int crash_alive(io_crash *c)
{
    return atomic_load(&c->dead) ? -EIO : 0;
}

/* Every mutating call starts here: the die point turns it into -EIO. */
static inline int crash_mutate(io_crash *c)
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
static inline crash_fd *crash_fd_get(io_crash *c, int fd)
{
    if (fd < 0 || (size_t)fd >= c->fd_cap || !c->fds[fd].used)
        return NULL;
    return &c->fds[fd];
}

/* The live entry for fd, or an error: unknown -EBADF, stale or dead -EIO. */
static inline int crash_fd_live(io_crash *c, int fd, crash_fd **out)
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

/* crash_fd_live, then crash_mutate: how a mutating call on a descriptor
 * begins. */
static inline int crash_fd_mutate(io_crash *c, int fd, crash_fd **out)
{
    int rc = crash_fd_live(c, fd, out);
    return rc < 0 ? rc : crash_mutate(c);
}

/* ---- per-inode data tracking (io_crash_file.c) ------------------------- */

int io_crash_file_size(int fd, uint64_t *size);
crash_node *io_crash_node_find(io_crash *c, dev_t dev, ino_t ino);
/* The node behind an open engine descriptor, created on first need. */
int io_crash_node_of_fd(io_crash *c, int fd, const crash_fd *e, crash_node **out);
/* The node of the regular file at path (lstat as st), created on first need. */
int io_crash_node_of_path(io_crash *c, const char *path, const struct stat *st, crash_node **out);
void io_crash_node_free(io_crash *c, crash_node *n);
/* Stop tracking an inode that has nothing pending any more. */
void io_crash_node_release_if_idle(io_crash *c, crash_node *n);
/* A successful data sync: everything written so far is durable. */
void io_crash_node_synced(io_crash *c, crash_node *n);
/* pwrite through a live engine descriptor, recording what it replaced. */
ssize_t io_crash_write_locked(io_crash *c, int fd, const void *buf, size_t len, uint64_t off);
/* ftruncate through a live engine descriptor, recording the change. */
int io_crash_truncate_locked(io_crash *c, int fd, crash_fd *e, uint64_t size);

/* ---- directory-entry tracking (io_crash_dir.c) ------------------------- */

/* A new op for path (and to, for a rename) with room reserved to record it:
 * -ENOMEM if either fails. */
int io_crash_dirop_start(io_crash *c, int kind, const char *path, const char *to, crash_dirop **out);
/* crash_mutate, then io_crash_dirop_start: how a directory call begins. */
int io_crash_dirop_prepare(io_crash *c, int kind, const char *path, const char *to, crash_dirop **out);
/* Track the regular file at path as the victim of op, if there is one. */
int io_crash_take_victim(io_crash *c, crash_dirop *op, const char *path);
/* Finish a directory operation: record op if the real call succeeded
 * (rc == 0), else free it; returns rc. */
int io_crash_dirop_run(io_crash *c, crash_dirop *op, int rc);
void io_crash_dirop_free(io_crash *c, crash_dirop *op);
/* A successful sync_dir: entry operations in that directory are durable. */
void io_crash_dir_synced(io_crash *c, const char *path);

/* ---- the power cut (io_crash_cut.c) ------------------------------------ */

/* Forget everything pending; descriptors still open become stale. */
void io_crash_reset(io_crash *c);

#endif
