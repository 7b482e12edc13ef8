/*
 * catalog_listing — the segment list of a partition without a version 2
 * catalog.ckpt (a version 1 store, or one that lost the file), told from
 * the files of its directory (format-spec/FORMAT.md, "Rebuilding a lost
 * catalog").
 *
 * A segment's files are named by a stem: "<20 digits>" as the writer
 * made it, or "<20 digits>.r<G>" (a rewrite committed at generation G:
 * warm move, merge, key compaction, forget) or "<20 digits>.j<G>" (the
 * active segment an accepted loss made at generation G). Every such stem
 * is a candidate; temporary names ("-tmp") are not stems.
 *
 * Which candidates are the log, invariants the rewrite primitive keeps
 * (catalog.h): a rewrite's new files are synced and renamed before its
 * commit, and the old ones are unlinked only after it; a stem's
 * generation is above that of every file it replaces. So:
 *   - of several stems of one base, the highest generation is the log:
 *     either its commit happened (the others are what the commit had yet
 *     to unlink), or a crash cut the rewrite between its rename and its
 *     commit, and then its file is whole (synced before the rename) and
 *     holds the same offsets rewritten as asked (a forget's keys gone):
 *     taking it finishes the rewrite rather than undoing it;
 *   - an entry whose offsets lie wholly inside those of entries of a
 *     higher generation is dropped (a merge's inputs beside its output:
 *     its records are there already), told from the segments' own
 *     figures (their end offsets), so no event appears twice and none
 *     vanishes;
 *   - an entry that overlaps one of a higher generation without lying
 *     wholly inside it cannot be placed without dropping or doubling
 *     events: the listing is refused naming both files, nothing written.
 * An accepted loss's new active segment ".j<G>" is made before the
 * commit of generation G, and the floor file beside the directory is
 * written after every commit with its generation: a ".j<G>" stem above
 * the floor file's generation is an accept cut before its commit, not
 * the log (its audit record is written; the accept run again unlinks and
 * makes it anew). Only a cut between that commit and the floor file's
 * write followed by the loss of catalog.ckpt before any later commit
 * would leave a committed one above it.
 *
 * Only a listing with a generation stem needs the figures (one read-only
 * open of each segment but the last); a listing of plain names is taken
 * as it always was, each entry ending where the next begins.
 */
#include "catalog_listing.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "siglog.h"

/* A stem found: its base, its generation (0: a plain name). */
typedef struct listed {
    catalog_segment e;
    uint64_t generation;
} listed;

/* Whether name is "<stem>.seg" of a segment stem that may be the log's;
 * *out its entry with base and location set, *gen its generation. A
 * ".j<G>" stem with G above j_above is not. */
static int parse_stem(const char *name, uint64_t j_above, catalog_segment *out, uint64_t *gen)
{
    size_t len = strlen(name);
    if (len < SEGMENT_NAME_DIGITS + 4 || strcmp(name + len - 4, ".seg") != 0 || len - 4 > CATALOG_LOCATION_MAX)
        return 0;
    char stem[CATALOG_LOCATION_MAX + 1];
    memcpy(stem, name, len - 4);
    stem[len - 4] = '\0';
    char plain[SEGMENT_NAME_DIGITS + 5];
    memcpy(plain, stem, SEGMENT_NAME_DIGITS);
    memcpy(plain + SEGMENT_NAME_DIGITS, ".seg", 5);
    uint64_t base;
    if (sl_segment_parse_name(plain, &base) != 0 || !sl_catalog_location_valid(stem, base))
        return 0;
    const char *g = stem + SEGMENT_NAME_DIGITS;
    *gen = 0;
    if (*g) {
        /* ".r<G>" or ".j<G>", G decimal without a leading zero. */
        if ((g[1] != 'r' && g[1] != 'j') || g[2] < '1' || g[2] > '9')
            return 0;
        for (const char *d = g + 2; *d; d++) {
            if (*d < '0' || *d > '9' || *gen > (UINT64_MAX - 9) / 10)
                return 0;
            *gen = *gen * 10 + (uint64_t)(*d - '0');
        }
    }
    if (g[0] && g[1] == 'j' && *gen > j_above)
        return 0;
    *out = (catalog_segment){.base_offset = base, .end_offset = base, .max_timestamp_us = INT64_MIN,
                             .tier = CATALOG_TIER_HOT, .state = CATALOG_SEG_SEALED};
    memcpy(out->location, stem, len - 3);
    return 1;
}

static int by_base_then_newest(const void *a, const void *b)
{
    const listed *x = a, *y = b;
    if (x->e.base_offset != y->e.base_offset)
        return x->e.base_offset < y->e.base_offset ? -1 : 1;
    return x->generation > y->generation ? -1 : x->generation < y->generation;
}

static int by_newest(const void *a, const void *b)
{
    const listed *x = a, *y = b;
    if (x->generation != y->generation)
        return x->generation > y->generation ? -1 : 1;
    return x->e.base_offset < y->e.base_offset ? -1 : x->e.base_offset > y->e.base_offset;
}

static int by_base(const void *a, const void *b)
{
    const listed *x = a, *y = b;
    return x->e.base_offset < y->e.base_offset ? -1 : x->e.base_offset > y->e.base_offset;
}

/* The offsets [from, to) an entry holds: to a sealed one its figures'
 * end, to the last (the active one: its end is not known here) the next
 * offset after its base, so that whatever covers its base overlaps it. */
static uint64_t span_end(const listed *l, int last)
{
    return last ? l->e.base_offset + 1 : l->e.end_offset;
}

/* Of c[0..n), newest first, those kept: each that overlaps no newer kept
 * one, dropped when newer kept ones cover it whole, SIGLOG_ECORRUPT when
 * they cover only part of it. *kept the count, moved to the front. */
static int drop_covered(const char *dir, listed *c, size_t n, uint64_t last_base, size_t *kept)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t from = c[i].e.base_offset, to = span_end(&c[i], from == last_base);
        uint64_t covered = 0;
        const listed *other = NULL;
        for (size_t j = 0; j < k; j++) {
            uint64_t a = c[j].e.base_offset, b = span_end(&c[j], a == last_base);
            if (a >= to || b <= from)
                continue;
            other = &c[j];
            covered += (b < to ? b : to) - (a > from ? a : from);
        }
        if (!other) {
            c[k++] = c[i];
            continue;
        }
        /* Kept entries never overlap each other: their overlaps with
         * [from, to) add up to it only when they cover it whole. */
        if (covered != to - from)
            return sl_err_set(SIGLOG_ECORRUPT,
                              "%s: %s.seg (offsets %" PRIu64 "..%" PRIu64 ") and the newer %s.seg overlap "
                              "without one holding the other: which holds the log there cannot be told from the "
                              "files; nothing was rebuilt (restore %s, or remove the one that is not the log's)",
                              dir, c[i].e.location, from, to - 1, other->e.location, CATALOG_FILE);
    }
    *kept = k;
    return 0;
}

/* c[0..n) sorted by base, several stems of a base with a generation
 * stem among them: the newest of each base, the covered dropped, the
 * rest with their figures. */
static int choose(const siglog_io *io, const char *dir, listed *c, size_t *n)
{
    size_t m = 0;
    for (size_t i = 0; i < *n; i++)
        if (m == 0 || c[m - 1].e.base_offset != c[i].e.base_offset)
            c[m++] = c[i];
    if (m == 0)
        return *n = 0, 0;
    uint64_t last_base = c[m - 1].e.base_offset;
    /* Read-only opens: the parameters only size indexes a writer makes. */
    segment_params sp = {0};
    for (size_t i = 0; i + 1 < m; i++) {
        int rc = sl_catalog_read_figures(io, dir, &sp, &c[i].e);
        if (rc)
            return rc;
    }
    qsort(c, m, sizeof *c, by_newest);
    int rc = drop_covered(dir, c, m, last_base, n);
    if (rc)
        return rc;
    qsort(c, *n, sizeof *c, by_base);
    return 0;
}

int sl_catalog_listing_entries(const siglog_io *io, const char *dir, uint64_t j_above, catalog_segment **out,
                               size_t *count)
{
    *out = NULL;
    *count = 0;
    io_dirent_list l = {0};
    int rc = io->list_dir(io, dir, &l);
    if (rc < 0)
        return sl_err_errno(rc, "listing %s", dir);
    listed *c = malloc((l.count ? l.count : 1) * sizeof *c);
    if (!c) {
        sl_io_dirent_list_free(&l);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    size_t n = 0;
    int generations = 0;
    for (size_t i = 0; i < l.count; i++)
        if (parse_stem(l.names[i], j_above, &c[n].e, &c[n].generation))
            generations |= c[n++].generation != 0;
    sl_io_dirent_list_free(&l);
    qsort(c, n, sizeof *c, by_base_then_newest);
    rc = generations ? choose(io, dir, c, &n) : 0;
    catalog_segment *segs = rc ? NULL : malloc((n ? n : 1) * sizeof *segs);
    if (!rc && !segs)
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        segs[i] = c[i].e;
        /* Plain names: each sealed entry ends where the next begins. */
        if (!generations && i + 1 < n)
            segs[i].end_offset = c[i + 1].e.base_offset;
    }
    free(c);
    if (rc)
        return rc;
    if (n) {
        /* The newest segment is the writer's: its counts are lower bounds. */
        catalog_segment *a = &segs[n - 1];
        char loc[CATALOG_LOCATION_MAX + 1];
        memcpy(loc, a->location, sizeof loc);
        *a = (catalog_segment){.base_offset = a->base_offset, .end_offset = a->base_offset,
                               .max_timestamp_us = INT64_MIN, .tier = CATALOG_TIER_HOT,
                               .state = CATALOG_SEG_ACTIVE};
        memcpy(a->location, loc, sizeof loc);
    }
    *out = segs;
    *count = n;
    return 0;
}
