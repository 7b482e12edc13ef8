/*
 * catalog_rewrite — maintenance's changes of a partition's sealed
 * segments: the rewrite primitive, the removal of a prefix, schema
 * versions, and the removal of what an interrupted change left (DESIGN
 * NOTES and the contracts in catalog.h).
 *
 * Crash safety of a rewrite, step by step (what a crash after the step
 * leaves, and what the next open makes of it):
 *   1. new files under "<base>.r<G>-tmp.*" (O_EXCL), filled, sealed
 *      (fdatasync, summary by atomic replace)  → unnamed: leftovers
 *   2. renamed to "<base>.r<G>.*", directory synced → unnamed: leftovers
 *   3. the catalog names them (atomic replace: old or new generation)
 *      → old generation: the new files are leftovers; new: the old are
 *   4. old files unlinked, directory synced → nothing left
 * Every file a generation names is durable before that generation is
 * written, so either generation the crash leaves is whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "error.h"

#define TMP_SUFFIX "-tmp"

struct catalog_rewrite {
    catalog *c;
    catalog_segment *old; /* the entries replaced, as at begin (none for a
                           * restore below the log start) */
    size_t old_count;
    uint64_t lo, hi;      /* the offsets [lo, hi) the new segments tile */
    uint64_t tag;         /* G of the new stems */
    uint8_t tier;         /* of the new entries */
    segment **segs;       /* the new segments, in offset order (NULL once
                           * closed) */
    uint64_t *bases;      /* their base offsets */
    catalog_segment *versions; /* schema versions given per new segment */
    size_t n;
};

/* The catalog's current state, after picking up the writer's changes. */
static int current(catalog *c, catalog_snapshot **out)
{
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    *out = sl_catalog_snapshot_get(c);
    return 0;
}

/* Entries [first, first + count) exist and are sealed. */
static int check_sealed(const catalog *c, const catalog_snapshot *s, size_t first, size_t count)
{
    size_t n = sl_catalog_snapshot_count(s);
    if (count == 0 || first > n || count > n - first)
        return sl_err_set(SIGLOG_EINVAL, "%s: no segments %zu..%zu in a catalog of %zu", sl_catalog_dir(c), first,
                          first + count - 1, n);
    for (size_t i = first; i < first + count; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (e->state != CATALOG_SEG_SEALED)
            return sl_err_set(SIGLOG_EINVAL, "%s: segment %s is not sealed: maintenance changes sealed segments only",
                              sl_catalog_dir(c), e->location);
    }
    return 0;
}

/* Where the entries `want` (as seen before) are in s: SIGLOG_ECORRUPT when
 * they are not all there as they were (only maintenance changes sealed
 * entries, and it runs once per store). */
static int locate(const catalog_snapshot *s, const catalog_segment *want, size_t count, size_t *at)
{
    size_t n;
    catalog_segment *segs = sl_catalog_edit_segments((catalog_snapshot *)s, &n);
    size_t i = sl_catalog_snapshot_find(s, want[0].base_offset);
    for (size_t k = 0; k < count; k++)
        if (i + k >= n || segs[i + k].state != CATALOG_SEG_SEALED ||
            segs[i + k].base_offset != want[k].base_offset || strcmp(segs[i + k].location, want[k].location) != 0)
            return sl_err_set(SIGLOG_ECORRUPT,
                              "the catalog changed under maintenance: segment %s is no longer where it was",
                              want[k].location);
    *at = i;
    return 0;
}

static int unlink_and_sync(catalog *c, const catalog_segment *e, size_t count)
{
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i++)
        rc = sl_catalog_unlink_segment(c, e[i].location);
    if (!rc && count) {
        const siglog_io *io = sl_catalog_io(c);
        int r = io->sync_dir(io, sl_catalog_dir(c));
        if (r < 0)
            rc = sl_err_errno(r, "fsync of directory %s", sl_catalog_dir(c));
    }
    return rc;
}

/* ---- schema versions ---- */

typedef struct add_versions {
    uint64_t base;
    const uint32_t *v;
    size_t n;
} add_versions;

int sl_catalog_segment_insert_version(catalog_segment *e, uint32_t v)
{
    uint16_t i = 0;
    while (i < e->schema_count && e->schema_versions[i] < v)
        i++;
    if (i < e->schema_count && e->schema_versions[i] == v)
        return 0;
    if (e->schema_count == CATALOG_SCHEMA_VERSIONS_MAX)
        return sl_err_set(SIGLOG_ELIMIT, "segment %s holds more than %d schema versions", e->location,
                          CATALOG_SCHEMA_VERSIONS_MAX);
    memmove(&e->schema_versions[i + 1], &e->schema_versions[i], (e->schema_count - i) * sizeof(uint32_t));
    e->schema_versions[i] = v;
    e->schema_count++;
    return 1;
}

static int change_add_versions(catalog_snapshot *s, void *arg)
{
    const add_versions *a = arg;
    size_t n;
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    size_t i = sl_catalog_snapshot_find(s, a->base);
    if (i == n || segs[i].base_offset != a->base || segs[i].state != CATALOG_SEG_SEALED)
        return sl_err_set(SIGLOG_ENOENT, "no sealed segment starts at offset %" PRIu64, a->base);
    int changed = 0;
    for (size_t k = 0; k < a->n; k++) {
        int r = sl_catalog_segment_insert_version(&segs[i], a->v[k]);
        if (r < 0)
            return r;
        changed |= r;
    }
    return changed ? 0 : CATALOG_UNCHANGED;
}

int sl_catalog_segment_add_schema_versions(catalog *c, uint64_t base_offset, const uint32_t *versions, size_t n)
{
    int rc = sl_catalog_refresh(c);
    add_versions a = {base_offset, versions, n};
    return rc ? rc : sl_catalog_update(c, change_add_versions, &a);
}

/* Versions of `from` merged into `into`. */
static int merge_versions(catalog_segment *into, const catalog_segment *from)
{
    for (uint16_t k = 0; k < from->schema_count; k++) {
        int r = sl_catalog_segment_insert_version(into, from->schema_versions[k]);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- removing a prefix ---- */

typedef struct remove_arg {
    const catalog_segment *gone;
    size_t count;
} remove_arg;

static int change_remove_prefix(catalog_snapshot *s, void *arg)
{
    const remove_arg *a = arg;
    size_t at;
    int rc = locate(s, a->gone, a->count, &at);
    if (rc)
        return rc;
    if (at != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "the catalog changed under maintenance: segment %s is no longer first",
                          a->gone[0].location);
    size_t n;
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    memmove(segs, segs + a->count, (n - a->count) * sizeof *segs);
    sl_catalog_edit_resize(s, n - a->count);
    sl_catalog_edit_bounds(s)->log_start_offset = segs[0].base_offset;
    return 0;
}

int sl_catalog_remove_prefix(catalog *c, size_t count)
{
    catalog_snapshot *s;
    int rc = current(c, &s);
    if (rc)
        return rc;
    /* The active entry is never removed: its count is below n. */
    size_t n = sl_catalog_snapshot_count(s);
    rc = count >= n ? sl_err_set(SIGLOG_EINVAL, "%s: %zu segments cannot be removed from a catalog of %zu, whose "
                                                "last one is active", sl_catalog_dir(c), count, n)
                    : check_sealed(c, s, 0, count);
    catalog_segment *gone = rc ? NULL : malloc(count * sizeof *gone);
    if (!rc && !gone)
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (!rc) {
        memcpy(gone, sl_catalog_snapshot_segment(s, 0), count * sizeof *gone);
        remove_arg a = {gone, count};
        rc = sl_catalog_update(c, change_remove_prefix, &a);
    }
    sl_catalog_snapshot_release(s);
    /* Committed: the files are no longer the log's. */
    if (!rc)
        rc = unlink_and_sync(c, gone, count);
    free(gone);
    return rc;
}

/* ---- the rewrite primitive ---- */

static void stem_of(char *buf, uint64_t base, uint64_t tag, int tmp)
{
    snprintf(buf, CATALOG_LOCATION_MAX + 1, "%020" PRIu64 ".r%" PRIu64 "%s", base, tag, tmp ? TMP_SUFFIX : "");
}

int sl_catalog_rewrite_begin(catalog *c, size_t first, size_t count, catalog_rewrite **out)
{
    *out = NULL;
    catalog_snapshot *s;
    int rc = current(c, &s);
    if (rc)
        return rc;
    catalog_rewrite *rw = NULL;
    if ((rc = check_sealed(c, s, first, count)) == 0) {
        rw = calloc(1, sizeof *rw);
        if (!rw || !(rw->old = malloc(count * sizeof *rw->old)))
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    if (!rc) {
        memcpy(rw->old, sl_catalog_snapshot_segment(s, first), count * sizeof *rw->old);
        rw->old_count = count;
        rw->lo = rw->old[0].base_offset;
        rw->hi = rw->old[count - 1].end_offset;
        rw->c = c;
        rw->tag = sl_catalog_snapshot_generation(s) + 1;
        rw->tier = rw->old[0].tier;
        *out = rw;
    } else if (rw) {
        free(rw->old);
        free(rw);
    }
    sl_catalog_snapshot_release(s);
    return rc;
}

int sl_catalog_restore_begin(catalog *c, uint64_t first_offset, catalog_rewrite **out)
{
    *out = NULL;
    catalog_snapshot *s;
    int rc = current(c, &s);
    if (rc)
        return rc;
    uint64_t start = sl_catalog_snapshot_bounds(s)->log_start_offset;
    uint64_t tag = sl_catalog_snapshot_generation(s) + 1;
    sl_catalog_snapshot_release(s);
    if (first_offset >= start)
        return sl_err_set(SIGLOG_EINVAL, "%s: nothing to restore from offset %" PRIu64 ": the log starts at %" PRIu64,
                          sl_catalog_dir(c), first_offset, start);
    catalog_rewrite *rw = calloc(1, sizeof *rw);
    if (!rw)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    *rw = (catalog_rewrite){ .c = c, .lo = first_offset, .hi = start, .tag = tag, .tier = CATALOG_TIER_HOT };
    *out = rw;
    return 0;
}

int sl_catalog_rewrite_segment(catalog_rewrite *rw, uint64_t base_offset, const segment_params *params,
                               segment **out)
{
    *out = NULL;
    int in_order = rw->n ? base_offset > rw->bases[rw->n - 1] : base_offset == rw->lo;
    if (!in_order || base_offset >= rw->hi)
        return sl_err_set(SIGLOG_EINVAL,
                          "%s: a new segment at offset %" PRIu64 " does not continue a rewrite of offsets %" PRIu64
                          "..%" PRIu64,
                          sl_catalog_dir(rw->c), base_offset, rw->lo, rw->hi - 1);
    segment **grown = realloc(rw->segs, (rw->n + 1) * sizeof *grown);
    if (grown)
        rw->segs = grown;
    uint64_t *bases = grown ? realloc(rw->bases, (rw->n + 1) * sizeof *bases) : NULL;
    if (bases)
        rw->bases = bases;
    catalog_segment *versions = bases ? realloc(rw->versions, (rw->n + 1) * sizeof *versions) : NULL;
    if (!versions)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    rw->versions = versions;
    versions[rw->n].schema_count = 0;
    char stem[CATALOG_LOCATION_MAX + 1];
    stem_of(stem, base_offset, rw->tag, 1);
    int rc = sl_segment_create_fresh(sl_catalog_io(rw->c), sl_catalog_dir(rw->c), stem, base_offset, params,
                                     &rw->segs[rw->n]);
    if (rc)
        return rc;
    rw->bases[rw->n] = base_offset;
    *out = rw->segs[rw->n++];
    return 0;
}

int sl_catalog_rewrite_add_versions(catalog_rewrite *rw, const uint32_t *versions, size_t n)
{
    if (rw->n == 0)
        return sl_err_set(SIGLOG_EINVAL, "%s: schema versions before any new segment", sl_catalog_dir(rw->c));
    for (size_t k = 0; k < n; k++) {
        int r = sl_catalog_segment_insert_version(&rw->versions[rw->n - 1], versions[k]);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Unlink the files of new segment i under its temporary or final stem. */
static void unlink_new(catalog_rewrite *rw, size_t i, int tmp)
{
    char stem[CATALOG_LOCATION_MAX + 1];
    stem_of(stem, rw->bases[i], rw->tag, tmp);
    sl_catalog_unlink_segment(rw->c, stem);
}

static void close_new(catalog_rewrite *rw)
{
    for (size_t i = 0; i < rw->n; i++) {
        sl_segment_close(rw->segs[i]);
        rw->segs[i] = NULL;
    }
}

static void rewrite_free(catalog_rewrite *rw)
{
    close_new(rw);
    free(rw->segs);
    free(rw->bases);
    free(rw->versions);
    free(rw->old);
    free(rw);
}

void sl_catalog_rewrite_set_tier(catalog_rewrite *rw, uint8_t tier)
{
    rw->tier = tier;
}

void sl_catalog_rewrite_abort(catalog_rewrite *rw)
{
    if (!rw)
        return;
    close_new(rw);
    for (size_t i = 0; i < rw->n; i++)
        unlink_new(rw, i, 1);
    rewrite_free(rw);
}

/* The entries of the new segments, sealed (their files durable). */
static int seal_new(catalog_rewrite *rw, catalog_segment *e)
{
    for (size_t i = 0; i < rw->n; i++) {
        segment *sg = rw->segs[i];
        uint64_t end = i + 1 < rw->n ? rw->bases[i + 1] : rw->hi;
        if (sl_segment_next_offset(sg) > end)
            return sl_err_set(SIGLOG_EINVAL,
                              "%s: the new segment at offset %" PRIu64 " holds offsets up to %" PRIu64
                              ", beyond %" PRIu64 " where the %s starts",
                              sl_catalog_dir(rw->c), sl_segment_base_offset(sg), sl_segment_next_offset(sg) - 1,
                              end, i + 1 < rw->n ? "next new segment" : "segment after the rewritten ones");
        int rc = sl_segment_seal(sg);
        if (!rc)
            rc = sl_catalog_describe_segment(sg, &e[i]);
        if (rc)
            return rc;
        /* Dropped records keep their offsets: the entry covers them. */
        e[i].end_offset = end;
        e[i].state = CATALOG_SEG_SEALED;
        e[i].tier = rw->tier;
        stem_of(e[i].location, e[i].base_offset, rw->tag, 0);
        if ((rc = merge_versions(&e[i], &rw->versions[i])) != 0)
            return rc;
        for (size_t k = 0; k < rw->old_count; k++)
            if (rw->old[k].base_offset < end && rw->old[k].end_offset > e[i].base_offset &&
                (rc = merge_versions(&e[i], &rw->old[k])) != 0)
                return rc;
    }
    return 0;
}

/* Rename new segment i's files from their temporary stem to their stem. */
static int rename_new(catalog_rewrite *rw, size_t i)
{
    const siglog_io *io = sl_catalog_io(rw->c);
    const char *dir = sl_catalog_dir(rw->c);
    char from_stem[CATALOG_LOCATION_MAX + 1], to_stem[CATALOG_LOCATION_MAX + 1];
    stem_of(from_stem, rw->bases[i], rw->tag, 1);
    stem_of(to_stem, rw->bases[i], rw->tag, 0);
    for (int x = 0; x < SEGMENT_FILE_EXTS; x++) {
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/%s%s", dir, from_stem, sl_segment_file_exts[x]);
        snprintf(to, sizeof to, "%s/%s%s", dir, to_stem, sl_segment_file_exts[x]);
        int r = io->rename(io, from, to);
        if (r < 0)
            return sl_err_errno(r, "rename of %s to %s", from, to);
    }
    return 0;
}

typedef struct replace_arg {
    const catalog_rewrite *rw;
    const catalog_segment *fresh;
} replace_arg;

static int change_replace(catalog_snapshot *s, void *arg)
{
    const replace_arg *a = arg;
    const catalog_rewrite *rw = a->rw;
    size_t at;
    int rc = locate(s, rw->old, rw->old_count, &at);
    if (rc)
        return rc;
    size_t n;
    sl_catalog_edit_segments(s, &n);
    size_t tail = n - at - rw->old_count;
    if (rw->n > rw->old_count && !sl_catalog_edit_resize(s, n - rw->old_count + rw->n))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    memmove(segs + at + rw->n, segs + at + rw->old_count, tail * sizeof *segs);
    memcpy(segs + at, a->fresh, rw->n * sizeof *segs);
    sl_catalog_edit_resize(s, at + rw->n + tail);
    return 0;
}

/* A restore: the new entries go before the first one, which must still
 * start the log where it did, and the log starts at the first of them. */
static int change_restore(catalog_snapshot *s, void *arg)
{
    const replace_arg *a = arg;
    const catalog_rewrite *rw = a->rw;
    catalog_checkpoint *b = sl_catalog_edit_bounds(s);
    if (b->log_start_offset != rw->hi)
        return sl_err_set(SIGLOG_ECORRUPT, "the catalog changed under maintenance: the log starts at %" PRIu64
                          ", not %" PRIu64, b->log_start_offset, rw->hi);
    size_t n;
    sl_catalog_edit_segments(s, &n);
    if (!sl_catalog_edit_resize(s, n + rw->n))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    memmove(segs + rw->n, segs, (n - rw->n) * sizeof *segs);
    memcpy(segs, a->fresh, rw->n * sizeof *segs);
    sl_catalog_edit_bounds(s)->log_start_offset = rw->lo;
    return 0;
}

int sl_catalog_rewrite_commit(catalog_rewrite *rw)
{
    catalog *c = rw->c;
    catalog_segment *fresh = calloc(rw->n ? rw->n : 1, sizeof *fresh);
    int rc = !fresh ? sl_err_set(SIGLOG_ENOMEM, "out of memory")
             : rw->n == 0 ? sl_err_set(SIGLOG_EINVAL, "%s: a rewrite without a new segment", sl_catalog_dir(c))
                          : seal_new(rw, fresh);
    close_new(rw);
    size_t renamed = 0;
    while (!rc && renamed < rw->n && (rc = rename_new(rw, renamed)) == 0)
        renamed++;
    if (!rc) {
        const siglog_io *io = sl_catalog_io(c);
        int r = io->sync_dir(io, sl_catalog_dir(c));
        if (r < 0)
            rc = sl_err_errno(r, "fsync of directory %s", sl_catalog_dir(c));
    }
    if (rc) {
        /* Nothing names the new files: remove them (a rename may have
         * half happened: both names). */
        for (size_t i = 0; i < rw->n; i++) {
            unlink_new(rw, i, 1);
            unlink_new(rw, i, 0);
        }
    } else {
        replace_arg a = {rw, fresh};
        /* From here on a failure leaves files for remove_leftovers: which
         * generation survives is not known. */
        rc = sl_catalog_update(c, rw->old_count ? change_replace : change_restore, &a);
        if (!rc)
            rc = unlink_and_sync(c, rw->old, rw->old_count);
    }
    free(fresh);
    rewrite_free(rw);
    return rc;
}

/* ---- leftovers ---- */

/* The stem of a segment file name: the name without one of the segment
 * extensions (and an optional ".tmp" after it), into stem; 0 when name is
 * not a segment file name of any stem starting with 20 digits. */
static int file_stem(const char *name, char stem[CATALOG_LOCATION_MAX + 1], uint64_t *base)
{
    size_t len = strlen(name), stem_len = 0;
    if (len > 4 && strcmp(name + len - 4, ".tmp") == 0)
        len -= 4;
    for (int x = 0; x < SEGMENT_FILE_EXTS && !stem_len; x++) {
        size_t e = strlen(sl_segment_file_exts[x]);
        if (len > e && strncmp(name + len - e, sl_segment_file_exts[x], e) == 0)
            stem_len = len - e;
    }
    if (stem_len < SEGMENT_NAME_DIGITS || stem_len > CATALOG_LOCATION_MAX)
        return 0;
    memcpy(stem, name, stem_len);
    stem[stem_len] = '\0';
    uint64_t v = 0;
    for (int i = 0; i < SEGMENT_NAME_DIGITS; i++) {
        unsigned d = (unsigned)(unsigned char)stem[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *base = v;
    return 1;
}

static int named(const catalog_snapshot *s, const char *stem, uint64_t base)
{
    size_t i = sl_catalog_snapshot_find(s, base);
    for (; i < sl_catalog_snapshot_count(s) && sl_catalog_snapshot_segment(s, i)->base_offset == base; i++)
        if (strcmp(sl_catalog_snapshot_segment(s, i)->location, stem) == 0)
            return 1;
    return 0;
}

int sl_catalog_remove_leftovers(catalog *c)
{
    if (!sl_catalog_persisted(c))
        return 0;
    const siglog_io *io = sl_catalog_io(c);
    const char *dir = sl_catalog_dir(c);
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    size_t n = sl_catalog_snapshot_count(s);
    uint64_t active = n ? sl_catalog_snapshot_segment(s, n - 1)->base_offset : 0;
    io_dirent_list l = {0};
    int rc = io->list_dir(io, dir, &l);
    if (rc < 0) {
        sl_catalog_snapshot_release(s);
        return sl_err_errno(rc, "listing %s", dir);
    }
    rc = 0;
    int removed = 0;
    for (size_t i = 0; i < l.count && !rc; i++) {
        char stem[CATALOG_LOCATION_MAX + 1];
        uint64_t base;
        if (!file_stem(l.names[i], stem, &base) || named(s, stem, base))
            continue;
        /* A plain stem at or past the active base is the writer's. */
        if (strlen(stem) == SEGMENT_NAME_DIGITS && (n == 0 || base >= active))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, l.names[i]);
        int r = io->unlink(io, path);
        if (r < 0 && r != -ENOENT)
            rc = sl_err_errno(r, "unlink of %s", path);
        removed = 1;
    }
    sl_io_dirent_list_free(&l);
    sl_catalog_snapshot_release(s);
    if (!rc && removed) {
        int r = io->sync_dir(io, dir);
        if (r < 0)
            rc = sl_err_errno(r, "fsync of directory %s", dir);
    }
    return rc;
}
