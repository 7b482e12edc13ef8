/*
 * io_crash_cut — the power cut: turn the pending state into one state a
 * real disk could be in after losing power (see io_crash_internal.h for
 * the shared invariants).
 *
 * It first rewrites each tracked inode: it undoes every pending data
 * record in reverse order (back to the durable image), then, for RANDOM and
 * GARBLE, replays them per 512-byte sector: each sector touched keeps the
 * effect of the first k of its records, k drawn per sector, as a disk that
 * wrote some sectors of the page cache and not others would. So a write may
 * be kept, dropped, or torn at any sector boundary, and later sectors may
 * survive while earlier ones are lost, but within a sector a later write
 * never survives an earlier one. GARBLE also leaves random bytes where the
 * records a sector lost would have been. The file size is that after a
 * random prefix of the records. Map-dirty files are kept, zeroed whole or
 * zeroed from a random page boundary, per the mode. Then it undoes
 * directory operations in reverse order: all of them (DROP_ALL), none
 * (KEEP_ALL), or, seeded, all after a random point (RANDOM, GARBLE): a
 * journaling file system commits metadata in order, so the survivors form
 * a prefix. Data goes first so that an undone unlink brings back the cut
 * content. All edits go through sl_io_posix and the nodes' own descriptors.
 */
#include "io_crash_internal.h"

#include <stdio.h>
#include <sys/stat.h>

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
    int rc = sl_io_write_all(c->posix, fd, b, len, off);
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
        rc = sl_io_write_all(c->posix, fd, r->old_bytes, r->old_len, r->off);
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
            if (crash_grow((void **)&sec, &cap, len + 1, sizeof *sec) < 0) {
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
                rc = sl_io_write_all(c->posix, n->fd, r->kind == REC_WRITE ? r->new_bytes + (a - r->off) : zeros,
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
    int rc = io_crash_file_size(n->fd, &size);
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
        keep_first_error(&first, io_crash_file_size(n->fd, &size_at_cut));
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
        rc = sl_io_write_all(c->posix, out, buf, (size_t)n, off);
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
    sl_io_dirent_list_free(&l);
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

void io_crash_reset(io_crash *c)
{
    for (size_t i = 0; i < c->dirop_count; i++)
        io_crash_dirop_free(c, c->dirops[i]);
    c->dirop_count = 0;
    c->map_count = 0;
    while (c->nodes) {
        crash_node *n = c->nodes;
        c->nodes = n->next;
        io_crash_node_free(c, n);
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
    io_crash_reset(c);
    pthread_mutex_unlock(&c->mu);
    return first;
}
