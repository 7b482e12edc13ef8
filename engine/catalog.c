#include "catalog.h"
#include "catalog_floor.h"
#include "catalog_listing.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "names.h"
#include "siglog.h"

/* The largest catalog.ckpt read: every entry at its largest. */
#define CATALOG_FILE_MAX ((size_t)64 << 20)
/* How long a catalog write waits for the other writer of the file (the
 * writer or maintenance: each holds catalog.lock for one atomic replace). */
#define CATALOG_LOCK_WAIT_MS 30000

struct catalog_snapshot {
    int refs; /* atomic */
    uint64_t generation;
    catalog_checkpoint bounds;
    int version; /* of the file it was read from: 0 none, 1, 2 */
    size_t n;
    catalog_segment *segs;
    /* With no file (version 0): the floor file beside the directory, when
     * has_floor (adopt_floor). */
    int has_floor;
    catalog_checkpoint floor;
};

struct catalog {
    const siglog_io *io;
    char *dir;
    char *path;
    char *lock_path;
    uint32_t file_mode;
    catalog_snapshot *cur; /* what this handle knows; the file's when
                            * cur->version == CATALOG_VERSION */
    catalog_commit_fn on_commit; /* after each write of the file (NULL: none) */
    /* The bounds this handle last wrote to the floor file beside the
     * directory (catalog_floor.h), valid once floor_written. */
    catalog_checkpoint floor_bounds;
    int floor_written;
};

/* ---- snapshots ---- */

static catalog_snapshot *snapshot_new(size_t n)
{
    catalog_snapshot *s = calloc(1, sizeof *s);
    if (s && n && !(s->segs = calloc(n, sizeof *s->segs))) {
        free(s);
        return NULL;
    }
    if (s)
        s->refs = 1;
    return s;
}

catalog_snapshot *sl_catalog_snapshot_ref(catalog_snapshot *s)
{
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

void sl_catalog_snapshot_release(catalog_snapshot *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(s->segs);
    free(s);
}

uint64_t sl_catalog_snapshot_generation(const catalog_snapshot *s)
{
    return s->generation;
}

int sl_catalog_snapshot_floor(const catalog_snapshot *s, catalog_checkpoint *out)
{
    if (s->has_floor)
        *out = s->floor;
    return s->has_floor;
}

const catalog_checkpoint *sl_catalog_snapshot_bounds(const catalog_snapshot *s)
{
    return &s->bounds;
}

size_t sl_catalog_snapshot_count(const catalog_snapshot *s)
{
    return s->n;
}

const catalog_segment *sl_catalog_snapshot_segment(const catalog_snapshot *s, size_t i)
{
    return &s->segs[i];
}

int sl_catalog_snapshot_listed(const catalog_snapshot *s)
{
    return s->version != CATALOG_VERSION;
}

int sl_catalog_snapshot_found(const catalog_snapshot *s)
{
    return s->version != 0;
}

size_t sl_catalog_snapshot_find(const catalog_snapshot *s, uint64_t offset)
{
    size_t lo = 0, hi = s->n; /* the first entry starting above offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* lo - 1 starts at or below offset: it holds it, unless offset is
     * past its end (a sealed one's; the active one grows). */
    if (lo > 0 && (offset < s->segs[lo - 1].end_offset || lo == s->n))
        return lo - 1;
    return lo;
}

/* A new entry for a segment the writer created (nothing in it yet). */
static catalog_segment active_entry(uint64_t base)
{
    catalog_segment e = {.base_offset = base, .end_offset = base, .max_timestamp_us = INT64_MIN,
                         .tier = CATALOG_TIER_HOT, .state = CATALOG_SEG_ACTIVE};
    sl_segment_stem(e.location, base);
    return e;
}

/* ---- reading the file ---- */

static int missing_dir(const siglog_io *io, const char *dir)
{
    int is_dir = 0;
    uint64_t size;
    int st = io->stat_path(io, dir, &is_dir, &size);
    if (st == -ENOENT || (st == 0 && !is_dir)) {
        /* The floor file beside it says what went with it. */
        catalog_checkpoint b;
        uint64_t generation;
        int found = 0;
        if (sl_catalog_floor_read(io, dir, &generation, &b, &found) == 0 && found)
            return sl_err_set(SIGLOG_ECORRUPT,
                              "partition directory %s is missing; it is not recreated by an open (that would hand "
                              "out its offsets again): restore it, or accept the loss of offsets %" PRIu64
                              "..%" PRIu64 " its floor file names (siglog verify --repair --accept-loss; the log "
                              "goes on at %" PRIu64 ")",
                              dir, b.log_start_offset, b.next_offset_floor - (b.next_offset_floor > 0),
                              b.next_offset_floor);
        return sl_err_set(SIGLOG_ECORRUPT,
                       "partition directory %s is missing and no floor file says which offsets it handed out; it "
                       "is not recreated (that would hand out its offsets again): restore it, see siglog verify",
                       dir);
    }
    return st < 0 ? sl_err_errno(st, "stat of %s", dir) : 0;
}

/* No catalog.ckpt: the floor file beside the directory is what is left
 * of it. Its bounds say which offsets were handed out (a rebuild goes on
 * past them, catalog_loss.h), and its generation is the catalog's, or
 * one behind it when a crash came between the two writes (every write of
 * the file is followed by one of the floor file, sl_catalog_update): the
 * snapshot starts one above it, so the first write it leads to is newer
 * than any generation a reader can hold, and generations never go back
 * (a reader picks up only a newer one, sl_catalog_refresh). A damaged one
 * is an error naming it, not nothing: trusting the listing alone would
 * hand out its offsets again. */
static int adopt_floor(const siglog_io *io, const char *dir, catalog_snapshot *s)
{
    uint64_t generation;
    int found;
    int rc = sl_catalog_floor_read(io, dir, &generation, &s->floor, &found);
    if (rc)
        return sl_err_set(rc,
                          "%s; with its %s missing it is what says which offsets the partition handed out: restore "
                          "it, or remove it to rebuild the catalog from the segments alone (offsets past them may "
                          "then be handed out again)",
                          siglog_errdetail(), CATALOG_FILE);
    s->has_floor = found;
    if (found)
        s->generation = generation + 1;
    return 0;
}

/* The file of dir decoded into a new snapshot (version 0: none). */
static int read_file(const siglog_io *io, const char *dir, catalog_snapshot **out)
{
    *out = NULL;
    int rc = missing_dir(io, dir);
    if (rc)
        return rc;
    char *path = sl_path_join(dir, CATALOG_FILE);
    catalog_snapshot *s = snapshot_new(0);
    if (!path || !s) {
        free(path);
        free(s);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    void *data = NULL;
    size_t len = 0;
    int r = sl_io_read_file(io, path, CATALOG_FILE_MAX, &data, &len);
    if (r == -ENOENT) {
        rc = adopt_floor(io, dir, s);
    } else if (r < 0) {
        rc = r == -EFBIG ? sl_err_set(SIGLOG_ECORRUPT, "%s: larger than a partition checkpoint", path)
                         : sl_err_errno(r, "reading %s", path);
    } else {
        rc = sl_catalog_file_decode(data, len, &s->version, &s->generation, &s->bounds, &s->segs, &s->n);
        if (rc)
            rc = sl_err_set(rc, "%s: %s", path, siglog_errdetail());
    }
    free(data);
    free(path);
    if (rc) {
        sl_catalog_snapshot_release(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sl_catalog_load(const siglog_io *io, const char *dir, catalog_checkpoint *out, int *found)
{
    catalog_snapshot *s;
    int rc = read_file(io, dir, &s);
    if (rc)
        return rc;
    *found = s->version != 0;
    *out = s->bounds;
    sl_catalog_snapshot_release(s);
    return 0;
}

int sl_catalog_list_segments(const siglog_io *io, const char *dir, uint64_t **bases, size_t *count)
{
    *bases = NULL;
    *count = 0;
    io_dirent_list l = {0};
    int rc = io->list_dir(io, dir, &l);
    if (rc < 0)
        return sl_err_errno(rc, "listing %s", dir);
    uint64_t *b = malloc((l.count ? l.count : 1) * sizeof *b);
    if (!b) {
        sl_io_dirent_list_free(&l);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    size_t n = 0;
    /* list_dir sorts bytewise and names have fixed width: offsets ascend. */
    for (size_t i = 0; i < l.count; i++)
        if (sl_segment_parse_name(l.names[i], &b[n]) == 0)
            n++;
    sl_io_dirent_list_free(&l);
    *bases = b;
    *count = n;
    return 0;
}

/* A partition without a version 2 file: its segments as listed
 * (catalog_listing.h: every segment stem, the newest of each base, none
 * that newer ones hold, no accept's cut before its commit), each sealed
 * but the last. */
static int snapshot_from_listing(const siglog_io *io, const char *dir, catalog_snapshot *s)
{
    catalog_segment *segs;
    size_t n;
    /* adopt_floor started the snapshot one above the floor file's. */
    uint64_t j_above = s->has_floor ? s->generation - 1 : UINT64_MAX;
    int rc = sl_catalog_listing_entries(io, dir, j_above, &segs, &n);
    if (rc)
        return rc;
    free(s->segs);
    s->segs = segs;
    s->n = n;
    return 0;
}

int sl_catalog_snapshot_load(const siglog_io *io, const char *dir, catalog_snapshot **out)
{
    catalog_snapshot *s;
    int rc = read_file(io, dir, &s);
    if (!rc && s->version != CATALOG_VERSION)
        rc = snapshot_from_listing(io, dir, s);
    if (rc) {
        sl_catalog_snapshot_release(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- checks ---- */

int sl_catalog_check_segments(const char *dir, const catalog_checkpoint *c, const uint64_t *bases, size_t n)
{
    if (n == 0 && c->next_offset_floor > c->log_start_offset)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "%s: every segment is missing: offsets %" PRIu64 "..%" PRIu64 " were written (see its %s); "
                       "nothing was recreated",
                       dir, c->log_start_offset, c->next_offset_floor - 1, CATALOG_FILE);
    if (n > 0 && bases[0] > c->log_start_offset)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "%s: segments missing at the start: offsets %" PRIu64 "..%" PRIu64 " (the log starts at %" PRIu64
                       ", the first segment found at %" PRIu64 ")",
                       dir, c->log_start_offset, bases[0] - 1, c->log_start_offset, bases[0]);
    if (n > 0 && bases[n - 1] < c->active_base)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "%s: segments missing at the end: the active segment starts at offset %" PRIu64
                       " but the last segment found starts at %" PRIu64 "; offsets from %" PRIu64
                       " on are missing and are not handed out again",
                       dir, c->active_base, bases[n - 1], c->active_base);
    return 0;
}

int sl_catalog_check_listed(const char *dir, const catalog_snapshot *s)
{
    uint64_t *bases = malloc((s->n ? s->n : 1) * sizeof *bases);
    if (!bases)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++)
        bases[i] = s->segs[i].base_offset;
    int rc = sl_catalog_check_segments(dir, &s->bounds, bases, s->n);
    free(bases);
    return rc;
}

int sl_catalog_check_end(const char *dir, const catalog_checkpoint *c, uint64_t next_offset)
{
    if (next_offset >= c->next_offset_floor)
        return 0;
    return sl_err_set(SIGLOG_ECORRUPT,
                   "%s: the log ends at offset %" PRIu64 " but offsets up to %" PRIu64 " were written and synced "
                   "(see its %s): offsets %" PRIu64 "..%" PRIu64 " are missing and are not handed out again",
                   dir, next_offset, c->next_offset_floor - 1, CATALOG_FILE, next_offset,
                   c->next_offset_floor - 1);
}

int sl_catalog_check_required(const char *dir, const catalog_snapshot *s)
{
    if (s->version == 0 && s->n == 0) {
        /* Nothing, where the floor file says offsets were handed out: the
         * directory was emptied or made again, or an accepted loss of it
         * was cut short. */
        const catalog_checkpoint *b = &s->floor;
        if (!s->has_floor || b->next_offset_floor == 0)
            return 0;
        return sl_err_set(SIGLOG_ECORRUPT,
                          "%s holds no %s and no segment, but its floor file says offsets up to %" PRIu64
                          " were handed out: it is not started again at offset 0; restore the partition, or accept "
                          "the loss of offsets %" PRIu64 "..%" PRIu64 " (siglog verify --repair --accept-loss; the "
                          "log goes on at %" PRIu64 ")",
                          dir, CATALOG_FILE, b->next_offset_floor - 1, b->log_start_offset, b->next_offset_floor - 1,
                          b->next_offset_floor);
    }
    /* Nothing yet, or a log still in its first segment at offset 0 that
     * no floor file says went further: the listing tells where it starts
     * (see catalog.h). */
    int floor_past = s->has_floor && s->floor.next_offset_floor > 0;
    if (s->version != 0 || s->n == 0 || (s->n == 1 && s->segs[0].base_offset == 0 && !floor_past))
        return 0;
    /* Its floor file says how far the log went: the segments newest may
     * have gone with the file, so a rebuild goes on past the floor. */
    if (floor_past)
        return sl_err_set(SIGLOG_ECORRUPT,
                          "%s/%s is missing; the partition holds %zu segment(s) from offset %" PRIu64
                          " and its floor file says offsets %" PRIu64 "..%" PRIu64
                          " were handed out: it is not rebuilt by an open; restore the file, or have it rebuilt "
                          "from the segments found, going on past offset %" PRIu64
                          " (siglog verify --repair --accept-loss%s)",
                          dir, CATALOG_FILE, s->n, s->segs[0].base_offset, s->floor.log_start_offset,
                          s->floor.next_offset_floor - 1, s->floor.next_offset_floor - 1,
                          s->segs[0].base_offset <= s->floor.log_start_offset
                              ? "; the log starts at its first segment, so no offset below it is lost"
                              : "");
    if (s->segs[0].base_offset == 0)
        return sl_err_set(SIGLOG_ECORRUPT,
                          "%s/%s is missing, but the partition holds %zu segments: which offsets it handed out "
                          "cannot be told, so it is not rebuilt from them; restore the file, or have it rebuilt from "
                          "the segments found (siglog verify --repair --accept-loss; the log starts at offset 0, so "
                          "no offset below it is lost)",
                          dir, CATALOG_FILE, s->n);
    return sl_err_set(SIGLOG_ECORRUPT,
                      "%s/%s is missing, but the partition holds %zu segment(s), the first at offset %" PRIu64
                      ": where its log starts and which offsets it handed out cannot be told, so it is not rebuilt "
                      "from them; restore the file, or accept that offsets below %" PRIu64
                      " are lost (siglog verify --repair --accept-loss)",
                      dir, CATALOG_FILE, s->n, s->segs[0].base_offset, s->segs[0].base_offset);
}

/* 0 when entry e's .seg is there, -ENOENT when missing. A cold entry has
 * no file in the partition directory: its archive lies in cold_dir,
 * checked by whoever opens it (cold.h), so it counts as there. */
static int seg_file_state(const siglog_io *io, const char *dir, const catalog_segment *e, char *path, size_t n)
{
    snprintf(path, n, "%s/%s.seg", dir, e->location);
    if (e->tier == CATALOG_TIER_COLD)
        return 0;
    int is_dir;
    uint64_t size;
    return io->stat_path(io, path, &is_dir, &size);
}

int sl_catalog_missing_run(const siglog_io *io, const char *dir, const catalog_snapshot *s, size_t i, size_t *after)
{
    char path[4096], first[4096];
    int st = seg_file_state(io, dir, &s->segs[i], first, sizeof first);
    if (st != -ENOENT)
        return st < 0 ? sl_err_errno(st, "stat of %s", first) : 0;
    size_t j = i + 1;
    while (j < s->n && (st = seg_file_state(io, dir, &s->segs[j], path, sizeof path)) == -ENOENT)
        j++;
    if (st < 0 && st != -ENOENT)
        return sl_err_errno(st, "stat of %s", path);
    *after = j;
    uint64_t from = s->segs[i].base_offset;
    if (j == s->n)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "%s: segments missing at the end: %s%s is missing; offsets from %" PRIu64
                       " on are missing and are not handed out again (see its %s)",
                       dir, first, j > i + 1 ? " and those after it" : "", from, CATALOG_FILE);
    return sl_err_set(SIGLOG_ECORRUPT,
                   "%s: segments missing %s: %s%s is missing: offsets %" PRIu64 "..%" PRIu64
                   " are missing (see its %s); nothing was recreated",
                   dir, i == 0 ? "at the start" : "in the middle", first, j > i + 1 ? " and those after it" : "",
                   from, s->segs[j].base_offset - 1, CATALOG_FILE);
}

int sl_catalog_check_ends(const siglog_io *io, const char *dir, const catalog_snapshot *s)
{
    size_t after;
    int rc = s->n ? sl_catalog_missing_run(io, dir, s, 0, &after) : 0;
    return rc || s->n < 2 ? rc : sl_catalog_missing_run(io, dir, s, s->n - 1, &after);
}

int sl_catalog_check_files(const siglog_io *io, const char *dir, const catalog_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        size_t after;
        int rc = sl_catalog_missing_run(io, dir, s, i, &after);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the writer's and maintenance's handle ---- */

int sl_catalog_open(catalog **out, const siglog_io *io, const char *dir, uint32_t file_mode)
{
    *out = NULL;
    catalog_snapshot *s;
    int rc = sl_catalog_snapshot_load(io, dir, &s);
    if (rc)
        return rc;
    catalog *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(dir)) || !(c->path = sl_path_join(dir, CATALOG_FILE)) ||
        !(c->lock_path = sl_path_join(dir, CATALOG_LOCK_FILE))) {
        sl_catalog_snapshot_release(s);
        sl_catalog_close(c);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    c->io = io;
    c->file_mode = file_mode;
    c->cur = s;
    *out = c;
    return 0;
}

void sl_catalog_close(catalog *c)
{
    if (!c)
        return;
    sl_catalog_snapshot_release(c->cur);
    free(c->lock_path);
    free(c->path);
    free(c->dir);
    free(c);
}

const catalog_checkpoint *sl_catalog_get(const catalog *c)
{
    return &c->cur->bounds;
}

uint64_t sl_catalog_generation(const catalog *c)
{
    return c->cur->generation;
}

const char *sl_catalog_dir(const catalog *c)
{
    return c->dir;
}

const siglog_io *sl_catalog_io(const catalog *c)
{
    return c->io;
}

catalog_snapshot *sl_catalog_snapshot_get(catalog *c)
{
    return sl_catalog_snapshot_ref(c->cur);
}

int sl_catalog_persisted(const catalog *c)
{
    return c->cur->version == CATALOG_VERSION;
}

int sl_catalog_match_segments(catalog *c, const uint64_t *bases, size_t n)
{
    if (c->cur->version == 1)
        return sl_catalog_check_segments(c->dir, &c->cur->bounds, bases, n);
    if (c->cur->version == CATALOG_VERSION)
        return 0;
    /* No file: a store from before it, or one that lost it. What is
     * found is the truth, but for the floor its floor file names. */
    uint64_t last = n ? bases[n - 1] : 0;
    uint64_t floor = c->cur->has_floor && c->cur->floor.next_offset_floor > last ? c->cur->floor.next_offset_floor
                                                                                 : last;
    c->cur->bounds = (catalog_checkpoint){n ? bases[0] : 0, last, floor};
    return 0;
}

/* Exclusive flock on catalog.lock, waiting while the other writer of the
 * file holds it (briefly: one atomic replace). Returns the descriptor,
 * whose close releases the lock, or an error code (negative as a
 * descriptor is never). */
static int lock_catalog(const catalog *c, int *fd_out)
{
    int fd = c->io->open_file(c->io, c->lock_path, IO_WRITE | IO_CREATE | IO_LOCK, c->file_mode);
    if (fd < 0)
        return sl_err_errno(fd, "opening %s", c->lock_path);
    for (int waited = 0;; waited++) {
        int l = c->io->lock_file(c->io, fd, 0);
        if (l == 0) {
            *fd_out = fd;
            return 0;
        }
        if ((l != -EWOULDBLOCK && l != -EAGAIN) || waited >= CATALOG_LOCK_WAIT_MS) {
            c->io->close_file(c->io, fd);
            return l == -EWOULDBLOCK || l == -EAGAIN
                       ? sl_err_set(SIGLOG_ELOCKED, "%s: held for over %d s", c->lock_path, CATALOG_LOCK_WAIT_MS / 1000)
                       : sl_err_errno(l, "locking %s", c->lock_path);
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

/* A private copy of s to change. */
static catalog_snapshot *snapshot_copy(const catalog_snapshot *s)
{
    catalog_snapshot *d = snapshot_new(s->n + 1); /* room for a roll's new entry */
    if (!d)
        return NULL;
    d->generation = s->generation;
    d->bounds = s->bounds;
    d->version = s->version;
    d->n = s->n;
    if (s->n)
        memcpy(d->segs, s->segs, s->n * sizeof *s->segs);
    return d;
}

static void derive_active_base(catalog_snapshot *s)
{
    s->bounds.active_base = s->n ? s->segs[s->n - 1].base_offset : s->bounds.log_start_offset;
}

int sl_catalog_update(catalog *c, catalog_change_fn change, void *arg)
{
    int lock_fd = -1;
    int rc = lock_catalog(c, &lock_fd);
    if (rc)
        return rc;
    /* Read-modify-write: the file as the other writer of it left it (a
     * handle that has not written version 2 yet starts from its own). */
    catalog_snapshot *disk = NULL, *next = NULL;
    rc = read_file(c->io, c->dir, &disk);
    if (!rc) {
        next = snapshot_copy(disk->version == CATALOG_VERSION ? disk : c->cur);
        if (!next)
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    int unchanged = 0;
    if (!rc) {
        rc = change(next, arg);
        unchanged = rc == CATALOG_UNCHANGED;
        if (unchanged)
            rc = 0;
        /* A catalog listed from the directory starts where its first
         * segment does. */
        if (next->version != CATALOG_VERSION && next->n)
            next->bounds.log_start_offset = next->segs[0].base_offset;
        derive_active_base(next);
    }
    int written = 0;
    if (!rc && (!unchanged || next->version != CATALOG_VERSION)) {
        written = 1;
        uint8_t *buf;
        size_t len;
        next->generation++;
        next->version = CATALOG_VERSION;
        rc = sl_catalog_file_encode(next->generation, &next->bounds, next->segs, next->n, &buf, &len);
        if (!rc) {
            int r = sl_io_replace_file(c->io, c->dir, c->path, buf, len, c->file_mode);
            free(buf);
            if (r < 0)
                rc = sl_err_errno(r, "writing %s", c->path);
        }
    }
    /* The floor file follows each write of the file, still under the
     * lock so that the writer's and maintenance's copies land in the
     * order of their catalog writes: its bounds, and its generation, so
     * that a catalog rebuilt without the file starts above every
     * generation it had (adopt_floor). Failing it fails the commit, whose
     * catalog is written: the handle adopts it all the same. */
    int floor_rc = 0;
    if (!rc && written) {
        floor_rc = sl_catalog_floor_write(c->io, c->dir, next->generation, &next->bounds, c->file_mode);
        c->floor_written = floor_rc == 0;
        c->floor_bounds = next->bounds;
    }
    c->io->close_file(c->io, lock_fd);
    sl_catalog_snapshot_release(disk);
    if (rc) {
        sl_catalog_snapshot_release(next);
        return rc;
    }
    sl_catalog_snapshot_release(c->cur);
    c->cur = next;
    if (floor_rc)
        return floor_rc;
    if (c->on_commit && written)
        c->on_commit(c);
    return 0;
}

/* Whether dir's floor file holds generation g's bounds b (a damaged one
 * does not). */
static int floor_holds(const catalog *c, uint64_t g, const catalog_checkpoint *b, int *holds)
{
    catalog_checkpoint f;
    uint64_t generation;
    int found;
    int rc = sl_catalog_floor_read(c->io, c->dir, &generation, &f, &found);
    if (rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION)
        rc = 0, found = 0;
    *holds = !rc && found && generation == g && f.log_start_offset == b->log_start_offset &&
             f.next_offset_floor == b->next_offset_floor;
    return rc;
}

int sl_catalog_keep_floor(catalog *c)
{
    if (c->floor_written || c->cur->version != CATALOG_VERSION)
        return 0;
    /* The usual open: the file is there and right. Checked without the
     * lock first, so that it writes nothing, not even the lock file. */
    int holds;
    int rc = floor_holds(c, c->cur->generation, &c->cur->bounds, &holds);
    if (rc || holds) {
        c->floor_written = holds;
        c->floor_bounds = c->cur->bounds;
        return rc;
    }
    int lock_fd = -1;
    rc = lock_catalog(c, &lock_fd);
    if (rc)
        return rc;
    /* Under the lock, against the file as the last writer of it left it
     * (maintenance may have written both since this handle read it). A
     * damaged floor file is replaced: the catalog is the truth. */
    catalog_snapshot *disk = NULL;
    rc = read_file(c->io, c->dir, &disk);
    if (!rc && disk->version == CATALOG_VERSION) {
        rc = floor_holds(c, disk->generation, &disk->bounds, &holds);
        if (!rc && !holds)
            rc = sl_catalog_floor_write(c->io, c->dir, disk->generation, &disk->bounds, c->file_mode);
        if (!rc) {
            c->floor_written = 1;
            c->floor_bounds = disk->bounds;
        }
    }
    c->io->close_file(c->io, lock_fd);
    sl_catalog_snapshot_release(disk);
    return rc;
}

void sl_catalog_on_commit(catalog *c, catalog_commit_fn fn)
{
    c->on_commit = fn;
}

int sl_catalog_refresh(catalog *c)
{
    catalog_snapshot *s;
    int rc = read_file(c->io, c->dir, &s);
    if (rc)
        return rc;
    if (s->version == CATALOG_VERSION && s->generation > c->cur->generation) {
        sl_catalog_snapshot_release(c->cur);
        c->cur = s;
    } else {
        sl_catalog_snapshot_release(s);
    }
    return 0;
}

int sl_catalog_disk_generation(const siglog_io *io, const char *dir, uint64_t *generation)
{
    *generation = 0;
    char *path = sl_path_join(dir, CATALOG_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    uint8_t head[CATALOG_GENERATION_PEEK_BYTES];
    int rc = 0;
    int fd = io->open_file(io, path, IO_READ, 0);
    if (fd >= 0) {
        ssize_t got = sl_io_read_full(io, fd, head, sizeof head, 0);
        io->close_file(io, fd);
        if (got < 0)
            rc = sl_err_errno((int)got, "reading %s", path);
        else
            *generation = sl_catalog_file_generation(head, (size_t)got);
    } else if (fd != -ENOENT) {
        rc = sl_err_errno(fd, "opening %s", path);
    }
    free(path);
    return rc;
}

/* ---- the writer's changes: the tail ---- */

static int change_created(catalog_snapshot *s, void *arg)
{
    uint64_t base = *(const uint64_t *)arg;
    if (s->n)
        return CATALOG_UNCHANGED; /* recorded already (a store from before) */
    s->segs[s->n++] = active_entry(base);
    s->bounds.log_start_offset = base;
    if (s->bounds.next_offset_floor < base)
        s->bounds.next_offset_floor = base;
    return 0;
}

int sl_catalog_segment_created(catalog *c, uint64_t base_offset)
{
    return sl_catalog_update(c, change_created, &base_offset);
}

static int change_roll(catalog_snapshot *s, void *arg)
{
    const catalog_segment *sealed = arg;
    catalog_segment *last = s->n ? &s->segs[s->n - 1] : NULL;
    if (!last || last->base_offset != sealed->base_offset)
        return sl_err_set(SIGLOG_EINVAL, "catalog: the active segment is not the one at %" PRIu64, sealed->base_offset);
    catalog_segment e = *sealed;
    e.state = CATALOG_SEG_SEALED; /* with the writer's schema versions: it owns the active entry */
    snprintf(e.location, sizeof e.location, "%s", last->location);
    *last = e;
    s->segs[s->n++] = active_entry(sealed->end_offset);
    if (s->bounds.next_offset_floor < sealed->end_offset)
        s->bounds.next_offset_floor = sealed->end_offset;
    return 0;
}

int sl_catalog_roll(catalog *c, const catalog_segment *sealed)
{
    return sl_catalog_update(c, change_roll, (void *)sealed);
}

static int change_commit(catalog_snapshot *s, void *arg)
{
    const uint64_t *v = arg; /* active base, floor */
    int changed = 0;
    if (s->n == 0 || s->segs[s->n - 1].base_offset < v[0]) {
        /* A store from before the file, upgraded: its last segment. */
        if (s->n == 0) {
            s->segs[s->n++] = active_entry(v[0]);
            s->bounds.log_start_offset = v[0];
            changed = 1;
        }
    }
    if (v[1] > s->bounds.next_offset_floor) {
        s->bounds.next_offset_floor = v[1];
        changed = 1;
    }
    catalog_segment *last = &s->segs[s->n - 1];
    if (s->bounds.next_offset_floor > last->end_offset) {
        last->end_offset = s->bounds.next_offset_floor;
        changed = 1;
    }
    return changed ? 0 : CATALOG_UNCHANGED;
}

int sl_catalog_commit(catalog *c, uint64_t active_base, uint64_t next_offset_floor)
{
    uint64_t v[2] = {active_base, next_offset_floor};
    /* The floor and the active entry are the writer's alone: when its own
     * state needs no change, neither does the file (no lock taken, nothing
     * written: a writer's open of a clean partition writes nothing). */
    if (sl_catalog_persisted(c)) {
        catalog_snapshot *probe = snapshot_copy(c->cur);
        if (!probe)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        int unchanged = change_commit(probe, v) == CATALOG_UNCHANGED;
        sl_catalog_snapshot_release(probe);
        if (unchanged)
            return 0;
    }
    return sl_catalog_update(c, change_commit, v);
}

typedef struct commit_and {
    uint64_t v[2]; /* active base, floor */
    catalog_change_fn also;
    void *also_arg;
} commit_and;

static int change_commit_and(catalog_snapshot *s, void *arg)
{
    commit_and *c = arg;
    int a = change_commit(s, c->v);
    int b = c->also(s, c->also_arg);
    if (a != 0 && a != CATALOG_UNCHANGED)
        return a;
    if (b != 0 && b != CATALOG_UNCHANGED)
        return b;
    return a == CATALOG_UNCHANGED && b == CATALOG_UNCHANGED ? CATALOG_UNCHANGED : 0;
}

int sl_catalog_commit_and(catalog *c, uint64_t active_base, uint64_t next_offset_floor, catalog_change_fn also,
                          void *also_arg)
{
    commit_and arg = { .v = { active_base, next_offset_floor }, .also = also, .also_arg = also_arg };
    return sl_catalog_update(c, change_commit_and, &arg);
}

catalog_segment *sl_catalog_edit_segments(catalog_snapshot *s, size_t *n)
{
    *n = s->n;
    return s->segs;
}

catalog_segment *sl_catalog_edit_resize(catalog_snapshot *s, size_t n)
{
    if (n > s->n) {
        catalog_segment *g = realloc(s->segs, n * sizeof *g);
        if (!g)
            return NULL;
        memset(g + s->n, 0, (n - s->n) * sizeof *g);
        s->segs = g;
    }
    s->n = n;
    return s->segs;
}

catalog_checkpoint *sl_catalog_edit_bounds(catalog_snapshot *s)
{
    return &s->bounds;
}

int sl_catalog_describe_segment(segment *seg, catalog_segment *out)
{
    uint64_t base = sl_segment_base_offset(seg);
    *out = active_entry(base);
    out->end_offset = sl_segment_next_offset(seg);
    out->record_count = sl_segment_record_count(seg);
    out->bytes = sl_segment_size(seg);
    out->max_timestamp_us = sl_segment_max_timestamp(seg);
    out->summary_checksum = sl_segment_summary_checksum(seg);
    if (out->bytes) {
        uint64_t pos;
        batch_header h;
        int rc = sl_segment_find_batch(seg, 0, out->bytes, base, &pos, &h);
        if (rc < 0)
            return rc;
        if (rc == 1)
            out->first_timestamp_us = h.first_timestamp_us;
    }
    return 0;
}

/* Unlink the files of stem in dir (those present). */
static int unlink_segment_files(const siglog_io *io, const char *dir, const char *stem)
{
    for (size_t e = 0; e < SEGMENT_FILE_EXTS; e++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s%s", dir, stem, sl_segment_file_exts[e]);
        int r = io->unlink(io, path);
        if (r < 0 && r != -ENOENT)
            return sl_err_errno(r, "unlink of %s", path);
    }
    return 0;
}

int sl_catalog_unlink_segment(catalog *c, const char *stem)
{
    return unlink_segment_files(c->io, c->dir, stem);
}

int sl_catalog_drop_unnamed_tail(catalog *c)
{
    const catalog_snapshot *s = c->cur;
    if (s->version != CATALOG_VERSION || s->n == 0)
        return 0;
    uint64_t *bases;
    size_t n;
    int rc = sl_catalog_list_segments(c->io, c->dir, &bases, &n);
    int dropped = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (bases[i] <= s->segs[s->n - 1].base_offset)
            continue;
        char stem[SEGMENT_STEM_MAX + 1], path[4096];
        sl_segment_stem(stem, bases[i]);
        snprintf(path, sizeof path, "%s/%s.seg", c->dir, stem);
        int is_dir;
        uint64_t size = 0;
        int st = c->io->stat_path(c->io, path, &is_dir, &size);
        if (st < 0)
            rc = sl_err_errno(st, "stat of %s", path);
        else if (size != 0)
            rc = sl_err_set(SIGLOG_ECORRUPT,
                         "%s: holds %" PRIu64 " bytes, but its catalog names no segment after offset %" PRIu64
                         ": not a segment this partition's writer made; nothing was changed",
                         path, size, s->segs[s->n - 1].base_offset);
        else if ((rc = unlink_segment_files(c->io, c->dir, stem)) == 0)
            dropped = 1;
    }
    free(bases);
    if (!rc && dropped) {
        int r = c->io->sync_dir(c->io, c->dir);
        if (r < 0)
            rc = sl_err_errno(r, "fsync of directory %s", c->dir);
    }
    return rc;
}
