/*
 * compact_partition — the compaction builders (compact.h) run on a
 * partition through its catalog's rewrite primitive (catalog.h), the one
 * way sealed segments are replaced: a crash leaves the old segments or
 * the new ones, and readers keep the snapshot they hold.
 */
#include "compact.h"

#include <inttypes.h>
#include <stdlib.h>

#include "cold.h"
#include "error.h"

/* What rewrites one run: the builder, given the inputs and the sink. */
typedef int (*run_builder)(void *arg, segment *const *in, size_t n, segment *const *newer, size_t m,
                           const compact_sink *sink, compact_stats *st);

typedef struct primitive_sink {
    catalog_rewrite *rw;
    const segment_params *params;
} primitive_sink;

static int new_from_primitive(void *arg, uint64_t base_offset, segment **out)
{
    primitive_sink *ps = arg;
    return sl_catalog_rewrite_segment(ps->rw, base_offset, ps->params, out);
}

static void close_segments(segment **segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_segment_close(segs[i]);
    free(segs);
}

/* Open catalog entries [first, first + n) of snapshot s read-only. */
static int open_entries(catalog *c, const catalog_snapshot *s, size_t first, size_t n, const segment_params *p,
                        segment ***out)
{
    segment **segs = calloc(n ? n : 1, sizeof *segs);
    if (!segs)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, first + i);
        rc = sl_segment_open_at(sl_catalog_io(c), sl_catalog_dir(c), e->location, e->base_offset, 0, p, &segs[i]);
    }
    if (rc) {
        close_segments(segs, n);
        return rc;
    }
    *out = segs;
    return 0;
}

/* Replace entries [first, first + count) of s by what build writes; the
 * entries after them are its newer segments (none with newer 0). tier:
 * of the new entries (-1: the old first one's). */
static int rewrite_run_of(catalog *c, const catalog_snapshot *s, size_t first, size_t count, int newer_too,
                          const segment_params *p, int compression, int tier, run_builder build, void *arg,
                          compact_stats *st)
{
    size_t total = sl_catalog_snapshot_count(s), m = newer_too ? total - first - count : 0;
    segment **in = NULL, **newer = NULL;
    int rc = open_entries(c, s, first, count, p, &in);
    if (!rc && (rc = open_entries(c, s, first + count, m, p, &newer)) != 0)
        close_segments(in, count);
    if (rc)
        return rc;
    catalog_rewrite *rw = NULL;
    rc = sl_catalog_rewrite_begin(c, first, count, &rw);
    if (!rc && tier >= 0)
        sl_catalog_rewrite_set_tier(rw, (uint8_t)tier);
    primitive_sink ps = {rw, p};
    compact_sink sink = {new_from_primitive, &ps, p->segment_bytes_max, compression};
    if (!rc)
        rc = build(arg, in, count, newer, m, &sink, st);
    if (!rc) {
        rc = sl_catalog_rewrite_commit(rw);
    } else {
        sl_catalog_rewrite_abort(rw);
    }
    close_segments(in, count);
    close_segments(newer, m);
    return rc;
}

static int rewrite_run(catalog *c, const catalog_snapshot *s, size_t first, size_t count, const segment_params *p,
                       int compression, int tier, run_builder build, void *arg, compact_stats *st)
{
    return rewrite_run_of(c, s, first, count, 1, p, compression, tier, build, arg, st);
}

static int merge_builder(void *arg, segment *const *in, size_t n, segment *const *newer, size_t m,
                         const compact_sink *sink, compact_stats *st)
{
    (void)arg;
    (void)newer;
    (void)m;
    return sl_compact_merge(in, n, sink, st);
}

/* c's current snapshot (*s, to release) and its merge plan: *runs
 * (malloc'd) and their number. */
static int plan_merge(catalog *c, const segment_params *p, uint64_t merge_below, catalog_snapshot **s,
                      compact_run **runs, size_t *n_runs)
{
    *s = NULL;
    *runs = NULL;
    *n_runs = 0;
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    *s = sl_catalog_snapshot_get(c);
    size_t n = sl_catalog_snapshot_count(*s);
    if (!(*runs = malloc((n / 2 + 1) * sizeof **runs)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    *n_runs = sl_compact_merge_plan(sl_catalog_snapshot_segment(*s, 0), n, merge_below, p->segment_bytes_max, *runs,
                                    n / 2 + 1);
    return 0;
}

int sl_compact_partition_merge(catalog *c, const segment_params *p, uint64_t merge_below, compact_stats *total)
{
    *total = (compact_stats){0};
    catalog_snapshot *s;
    compact_run *runs;
    size_t runs_n;
    int rc = plan_merge(c, p, merge_below, &s, &runs, &runs_n);
    /* The last run first: a merge changes the entry count after it only,
     * so the runs before keep their places. */
    for (size_t r = runs_n; r-- > 0 && !rc;) {
        catalog_snapshot *now = sl_catalog_snapshot_get(c);
        compact_stats st;
        rc = rewrite_run(c, now, runs[r].first, runs[r].count, p, 0, -1, merge_builder, NULL, &st);
        sl_catalog_snapshot_release(now);
        if (!rc)
            sl_compact_stats_add(total, &st);
    }
    free(runs);
    if (s)
        sl_catalog_snapshot_release(s);
    return rc;
}

int sl_compact_partition_merge_count(catalog *c, const segment_params *p, uint64_t merge_below, compact_stats *total)
{
    *total = (compact_stats){0};
    catalog_snapshot *s;
    compact_run *runs;
    size_t runs_n;
    int rc = plan_merge(c, p, merge_below, &s, &runs, &runs_n);
    for (size_t r = 0; r < runs_n; r++) {
        /* A run fits one output: its total is within segment_bytes_max. */
        total->segments_out++;
        for (size_t i = runs[r].first; i < runs[r].first + runs[r].count; i++) {
            const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
            total->segments_in++;
            total->records_in += e->record_count;
            total->bytes_in += e->bytes;
            total->bytes_out += e->bytes;
        }
    }
    free(runs);
    if (s)
        sl_catalog_snapshot_release(s);
    return rc;
}

static int keys_builder(void *arg, segment *const *in, size_t n, segment *const *newer, size_t m,
                        const compact_sink *sink, compact_stats *st)
{
    return sl_compact_keys(in, n, newer, m, arg, sink, st);
}

/* kp, spilling a key map past its budget into c's own directory. */
static compact_keys_params spilling_in(catalog *c, const compact_keys_params *kp)
{
    compact_keys_params k = *kp;
    k.io = sl_catalog_io(c);
    k.spill_dir = sl_catalog_dir(c);
    return k;
}

/* How many entries of s, from the first, are sealed. */
static size_t sealed_prefix(const catalog_snapshot *s)
{
    size_t sealed = 0;
    while (sealed < sl_catalog_snapshot_count(s) && sl_catalog_snapshot_segment(s, sealed)->state == CATALOG_SEG_SEALED)
        sealed++;
    return sealed;
}

/* The first entry of the stretch ending at entry end - 1 of s: entries
 * each starting where the one before ends (no recorded loss between),
 * none cold (cold.h: never rewritten). */
static size_t stretch_start(const catalog_snapshot *s, size_t end)
{
    size_t first = end - 1, cold = sl_cold_prefix(s);
    while (first > cold &&
           sl_catalog_snapshot_segment(s, first - 1)->end_offset == sl_catalog_snapshot_segment(s, first)->base_offset)
        first--;
    return first;
}

static int note_offset(void *arg, const siglog_record *r)
{
    *(uint64_t *)arg = r->offset;
    return 0;
}

static int keep_offset(void *arg, const siglog_record *r)
{
    return r->offset == *(const uint64_t *)arg;
}

static int holder_builder(void *arg, segment *const *in, size_t n, segment *const *newer, size_t m,
                          const compact_sink *sink, compact_stats *st)
{
    (void)newer;
    (void)m;
    return sl_compact_rewrite(in, n, keep_offset, arg, sink, st);
}

/* What key compaction does with one stretch, entries [first, end) of the
 * snapshot s current when it comes to it: the real run rewrites, the dry
 * run counts. The walk (each_stretch) decides between them, so that the
 * dry run's figures are the run's by construction.
 *   keys:   compact the stretch, the entries after it read for newer keys;
 *           COMPACT_NOTHING_KEPT (one filled) when no record would stay;
 *   remove: the first stretch kept nothing: the log starts after it;
 *   holder: a later stretch kept nothing: it becomes one segment over its
 *           range holding its last record alone (keep_holder); one holds
 *           what keys filled in. */
typedef struct stretch_ops {
    int (*keys)(void *arg, catalog *c, const catalog_snapshot *s, size_t first, size_t end, compact_stats *one);
    int (*remove)(void *arg, catalog *c, size_t end);
    int (*holder)(void *arg, catalog *c, size_t first, size_t end, compact_stats *one);
} stretch_ops;

/* Whether stretch [first, end) of s, keeping no record, must be
 * rewritten to its holder: not when it is already one entry of one
 * record, so that runs after the first change nothing. */
static int needs_holder(const catalog_snapshot *s, size_t first, size_t end)
{
    return end - first > 1 || sl_catalog_snapshot_segment(s, end - 1)->record_count > 1;
}

/* Every stretch of c's sealed entries after the cold tier, the last
 * first: a rewrite changes the entries from its own on, so the stretches
 * before keep their places. *st sums what each did.
 *
 * Why a holder: the entry before a later stretch is cold (never
 * rewritten, cold.h) or ends at a recorded loss (a rewrite never covers
 * lost offsets), and the entries after it are the active segment or
 * another stretch beyond a loss, so no entry can take its range over,
 * and leaving the stretch whole kept every superseded record in it for
 * good. Its last record is kept as it was, at its offset: the newest of
 * the stretch, it is a superseded value or tombstone whose key has a
 * newer event after it (a reader sees that one last). A tombstone that
 * is its key's newest stays in such a stretch whatever its age
 * (compact_keys_params.older_may_exist): the entries before may hold an
 * older value of its key, which its going would bring back. */
static int each_stretch(catalog *c, const stretch_ops *ops, void *arg, compact_stats *st)
{
    *st = (compact_stats){0};
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    size_t end = sealed_prefix(s), cold = sl_cold_prefix(s);
    sl_catalog_snapshot_release(s);
    while (end > cold && !rc) {
        s = sl_catalog_snapshot_get(c);
        size_t first = stretch_start(s, end);
        compact_stats one;
        rc = ops->keys(arg, c, s, first, end, &one);
        int holder = rc == COMPACT_NOTHING_KEPT && first > 0 && needs_holder(s, first, end);
        sl_catalog_snapshot_release(s);
        if (rc == COMPACT_NOTHING_KEPT && first == 0) {
            one.segments_out = one.bytes_out = 0;
            rc = ops->remove(arg, c, end);
        } else if (holder) {
            rc = ops->holder(arg, c, first, end, &one);
        } else if (rc == COMPACT_NOTHING_KEPT) {
            one = (compact_stats){0}; /* left as it is */
            rc = 0;
        }
        if (!rc)
            sl_compact_stats_add(st, &one);
        end = first;
    }
    return rc;
}

/* ---- the real run ---- */

typedef struct run_arg {
    const segment_params *p;
    int compression;
    compact_keys_params k;
} run_arg;

static int run_keys(void *arg, catalog *c, const catalog_snapshot *s, size_t first, size_t end, compact_stats *one)
{
    run_arg *a = arg;
    a->k.older_may_exist = first > 0;
    return rewrite_run(c, s, first, end - first, a->p, a->compression, -1, keys_builder, &a->k, one);
}

static int run_remove(void *arg, catalog *c, size_t end)
{
    (void)arg;
    return sl_catalog_remove_prefix(c, end);
}

/* Entries [first, end) of c become one segment over the same range
 * holding only the stretch's last record, the range's holder (a segment
 * must hold a record to describe a range; each_stretch says why). */
static int keep_holder(void *arg, catalog *c, size_t first, size_t end, compact_stats *st)
{
    run_arg *a = arg;
    *st = (compact_stats){0};
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    const catalog_segment *last = sl_catalog_snapshot_segment(s, end - 1);
    segment *seg = NULL;
    uint64_t holder = UINT64_MAX;
    int rc = sl_segment_open_at(sl_catalog_io(c), sl_catalog_dir(c), last->location, last->base_offset, 0, a->p, &seg);
    if (!rc)
        rc = sl_compact_scan(seg, 0, note_offset, &holder);
    sl_segment_close(seg);
    if (!rc && holder == UINT64_MAX)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: the sealed segment at offset %" PRIu64 " holds no record",
                        sl_catalog_dir(c), last->base_offset);
    if (!rc)
        rc = rewrite_run_of(c, s, first, end - first, 0, a->p, a->compression, -1, holder_builder, &holder, st);
    sl_catalog_snapshot_release(s);
    return rc;
}

static const stretch_ops run_ops = {run_keys, run_remove, keep_holder};

int sl_compact_partition_keys(catalog *c, const segment_params *p, int compression, const compact_keys_params *kp,
                              compact_stats *st)
{
    run_arg a = {p, compression, spilling_in(c, kp)};
    return each_stretch(c, &run_ops, &a, st);
}

static int keep_every_record(void *arg, const siglog_record *r)
{
    (void)arg;
    (void)r;
    return 1;
}

static int recompress_builder(void *arg, segment *const *in, size_t n, segment *const *newer, size_t m,
                              const compact_sink *sink, compact_stats *st)
{
    (void)arg;
    (void)newer;
    (void)m;
    return sl_compact_rewrite(in, n, keep_every_record, NULL, sink, st);
}

int sl_compact_partition_recompress(catalog *c, uint64_t base_offset, const segment_params *p, int compression,
                                    uint8_t tier, compact_stats *st)
{
    *st = (compact_stats){0};
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    size_t i = sl_catalog_snapshot_find(s, base_offset);
    if (i == sl_catalog_snapshot_count(s) || sl_catalog_snapshot_segment(s, i)->base_offset != base_offset)
        rc = sl_err_set(SIGLOG_ENOENT, "%s: no segment starts at offset %" PRIu64, sl_catalog_dir(c), base_offset);
    else
        rc = rewrite_run(c, s, i, 1, p, compression, tier, recompress_builder, NULL, st);
    sl_catalog_snapshot_release(s);
    return rc;
}

/* ---- the dry run: the same walk, counting ---- */

typedef struct count_arg {
    const segment_params *p;
    compact_keys_params k;
} count_arg;

/* What the real run's rewrite of the stretch would drop, the entries
 * after it read for newer keys as the run reads them. */
static int count_keys(void *arg, catalog *c, const catalog_snapshot *s, size_t first, size_t end, compact_stats *one)
{
    count_arg *a = arg;
    a->k.older_may_exist = first > 0;
    size_t m = sl_catalog_snapshot_count(s) - end;
    segment **in = NULL, **newer = NULL;
    int rc = open_entries(c, s, first, end - first, a->p, &in);
    if (!rc && !(rc = open_entries(c, s, end, m, a->p, &newer))) {
        rc = sl_compact_keys_count(in, end - first, newer, m, &a->k, one);
        if (!rc && one->records_dropped == one->records_in)
            rc = COMPACT_NOTHING_KEPT;
        close_segments(newer, m);
    }
    if (in)
        close_segments(in, end - first);
    return rc;
}

static int count_remove(void *arg, catalog *c, size_t end)
{
    (void)arg;
    (void)c;
    (void)end;
    return 0;
}

/* The holder stays: every record of the stretch but its last goes. */
static int count_holder(void *arg, catalog *c, size_t first, size_t end, compact_stats *one)
{
    (void)arg;
    (void)c;
    (void)first;
    (void)end;
    one->records_dropped--;
    return 0;
}

static const stretch_ops count_ops = {count_keys, count_remove, count_holder};

int sl_compact_partition_keys_count(catalog *c, const segment_params *p, const compact_keys_params *kp,
                                    compact_stats *st)
{
    count_arg a = {p, spilling_in(c, kp)};
    return each_stretch(c, &count_ops, &a, st);
}

typedef struct drop_arg {
    compact_keep_fn keep;
    void *arg;
} drop_arg;

static int drop_builder(void *arg, segment *const *in, size_t n, segment *const *newer, size_t m,
                        const compact_sink *sink, compact_stats *st)
{
    (void)newer;
    (void)m;
    const drop_arg *d = arg;
    return sl_compact_rewrite(in, n, d->keep, d->arg, sink, st);
}

int sl_compact_no_keeper(catalog *c, uint64_t base)
{
    return sl_err_set(SIGLOG_EINVAL,
                      "%s: the segment at offset %" PRIu64 " follows the cold tier and would keep no event, and no "
                      "sealed segment after it keeps one to take its offsets over: append, let the active segment "
                      "roll and run it again",
                      sl_catalog_dir(c), base);
}

/* Entry i of s, emptied by keep() and after a cold entry, rewritten
 * together with the sealed entries after it, as few as keep at least one
 * record: their output starts at entry i's base. *through: the end of
 * the last one. SIGLOG_EINVAL when no sealed entry after it keeps one. */
static int drop_forward(catalog *c, const catalog_snapshot *s, size_t i, const segment_params *p, int compression,
                        drop_arg *d, compact_stats *st, uint64_t *through)
{
    size_t count = sl_catalog_snapshot_count(s);
    int rc = COMPACT_NOTHING_KEPT;
    for (size_t n = 2; rc == COMPACT_NOTHING_KEPT; n++) {
        if (i + n > count || sl_catalog_snapshot_segment(s, i + n - 1)->state != CATALOG_SEG_SEALED)
            return sl_compact_no_keeper(c, sl_catalog_snapshot_segment(s, i)->base_offset);
        rc = rewrite_run_of(c, s, i, n, 0, p, compression, -1, drop_builder, d, st);
        *through = sl_catalog_snapshot_segment(s, i + n - 1)->end_offset;
    }
    return rc;
}

int sl_compact_partition_drop(catalog *c, uint64_t base_offset, const segment_params *p, int compression,
                              compact_keep_fn keep, void *arg, compact_stats *st, uint64_t *through)
{
    *st = (compact_stats){0};
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    size_t i = sl_catalog_snapshot_find(s, base_offset);
    drop_arg d = {keep, arg};
    if (i == sl_catalog_snapshot_count(s) || sl_catalog_snapshot_segment(s, i)->base_offset != base_offset)
        rc = sl_err_set(SIGLOG_ENOENT, "%s: no segment starts at offset %" PRIu64, sl_catalog_dir(c), base_offset);
    else
        rc = rewrite_run_of(c, s, i, 1, 0, p, compression, -1, drop_builder, &d, st);
    if (!rc || rc == COMPACT_NOTHING_KEPT)
        *through = sl_catalog_snapshot_segment(s, i)->end_offset;
    /* An emptied segment's range cannot be an entry of its own: the log
     * start moves past it when it is the first, else the entry before
     * takes it over, rewritten together with it (keep() says of that
     * one's records what it said before). A cold entry before it is never
     * rewritten (cold.h): the entries after it take the range over. */
    if (rc == COMPACT_NOTHING_KEPT && i == 0) {
        uint64_t dropped = st->records_dropped;
        rc = sl_catalog_remove_prefix(c, 1);
        *st = (compact_stats){.segments_in = 1, .records_in = dropped, .records_dropped = dropped,
                              .bytes_in = sl_catalog_snapshot_segment(s, 0)->bytes};
    } else if (rc == COMPACT_NOTHING_KEPT && sl_cold_entry(sl_catalog_snapshot_segment(s, i - 1))) {
        rc = drop_forward(c, s, i, p, compression, &d, st, through);
    } else if (rc == COMPACT_NOTHING_KEPT) {
        rc = rewrite_run_of(c, s, i - 1, 2, 0, p, compression, -1, drop_builder, &d, st);
    }
    sl_catalog_snapshot_release(s);
    return rc;
}
