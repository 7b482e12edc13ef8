/*
 * io_crash_dir — the power-cut simulator's pending directory-entry
 * operations (see io_crash_internal.h for the shared invariants).
 *
 * Each create, unlink, rename, mkdir and rmdir that succeeds is recorded in
 * call order as a crash_dirop, with the inode of the directory (both, for a
 * rename) whose sync_dir makes it durable. An op stays pending until every
 * directory it changed has been synced; the power cut undoes the pending
 * ones in reverse order, which is why paths are kept as the engine gave
 * them: undone newest first, each path again names what it named then.
 * An unlinked or overwritten regular file is held as the op's victim (one
 * victim_refs reference on its node) so that undoing the op can bring its
 * content back.
 */
#include "io_crash_internal.h"

#include <string.h>
#include <sys/stat.h>

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

void io_crash_dirop_free(io_crash *c, crash_dirop *op)
{
    if (op->victim) {
        op->victim->victim_refs--;
        io_crash_node_release_if_idle(c, op->victim);
    }
    free(op->path);
    free(op->to);
    free(op);
}

int io_crash_dirop_start(io_crash *c, int kind, const char *path, const char *to, crash_dirop **out)
{
    crash_dirop *op = crash_dirop_new(kind, path, to);
    /* Room first, so that a completed call is always recorded. */
    if (!op || crash_grow((void **)&c->dirops, &c->dirop_cap, c->dirop_count + 1, sizeof *c->dirops) < 0) {
        if (op)
            io_crash_dirop_free(c, op);
        return -ENOMEM;
    }
    *out = op;
    return 0;
}

/* Track the regular file at path as the victim of op, if there is one;
 * the op holds a reference on it until it is freed. */
int io_crash_take_victim(io_crash *c, crash_dirop *op, const char *path)
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
    int rc = io_crash_node_of_path(c, path, &st, &op->victim);
    if (rc == 0)
        op->victim->victim_refs++;
    return rc;
}

int io_crash_dirop_run(io_crash *c, crash_dirop *op, int rc)
{
    if (rc == 0) {
        c->dirops[c->dirop_count++] = op; /* room was reserved */
        return 0;
    }
    io_crash_dirop_free(c, op);
    return rc;
}

int io_crash_dirop_prepare(io_crash *c, int kind, const char *path, const char *to, crash_dirop **out)
{
    int rc = crash_mutate(c);
    return rc < 0 ? rc : io_crash_dirop_start(c, kind, path, to, out);
}

void io_crash_dir_synced(io_crash *c, const char *path)
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
            io_crash_dirop_free(c, op);
    }
    c->dirop_count = kept;
#endif
}
