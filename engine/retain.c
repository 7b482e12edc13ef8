/*
 * retain — siglog_retain: a stream's retention policy applied to its
 * partitions' sealed segments in the maintenance role (siglog.h,
 * "Retention").
 *
 * Per partition: plan on a snapshot of the catalog, then act on it:
 * purge first, then the cold tier (cold_move.c) and the warm tier for
 * what stays; last, the partition's orphan archives in cold_dir (none
 * but after a cut move or purge) are removed.
 * Purge order, each step safe to interrupt:
 *   1. the audit record of the purge, synced (the intent: audit.h);
 *   2. sl_catalog_remove_prefix: the catalog commits the new log start,
 *      then the files are unlinked (leftovers after a crash are removed
 *      by the next maintenance handle or writer's open).
 * A crash after 1 leaves a record of a purge not done; the next run
 * purges the same segments (they still qualify: time only moves on) and
 * records it again. Nothing is ever removed unrecorded.
 * Warm: each sealed hot segment older than warm_after is rewritten alone
 * through the rewrite primitive (compact.h, sl_compact_partition_recompress)
 * with LZ4HC, its record written first, the tier committed with the
 * rewrite: a crash leaves the old hot segment (done again next run) or
 * the warm one, never both.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "batch.h"
#include "catalog.h"
#include "cold.h"
#include "compact.h"
#include "consumer.h"
#include "error.h"
#include "maintenance.h"
#include "names.h"
#include "retain.h"

/* What the policy does to one partition. */
typedef struct purge_plan {
    size_t count;           /* leading entries to purge */
    size_t held;            /* entries after them the policy wants that a hold keeps */
    const char *held_by;    /* the first consumer holding */
} purge_plan;

/* The time before which an event is older than age (0: no limit). */
static int64_t cutoff(int64_t now_us, uint64_t age)
{
    if (age == 0)
        return INT64_MIN;
    /* Settings bound an age to a century: only a time near INT64_MIN
     * could underflow. */
    return now_us < INT64_MIN + (int64_t)age ? INT64_MIN : now_us - (int64_t)age;
}

/* The consumer whose hold keeps entry e of partition p, or NULL. A hold
 * keeps a segment holding an event at or past its committed offset,
 * unless the segment's newest event is older than max_hold. */
static const char *holder(const consumer_set *cs, uint32_t p, const catalog_segment *e, int64_t hold_cutoff)
{
    if (e->record_count == 0 || e->max_timestamp_us < hold_cutoff)
        return NULL;
    for (size_t i = 0; i < cs->n; i++) {
        const consumer_entry *c = &cs->e[i];
        /* A partition the consumer never committed in: it read nothing. */
        uint64_t next = p < c->partitions ? c->next[p] : 0;
        if ((c->flags & CONSUMER_HOLD) && next < e->end_offset)
            return c->name;
    }
    return NULL;
}

/* Plan the purge of snapshot s: the leading sealed entries that
 * delete_after or max_bytes choose, up to the first a hold keeps. */
static purge_plan plan_purge(const catalog_snapshot *s, const siglog_stream_config *cfg, const consumer_set *cs,
                             uint32_t p, int64_t now_us)
{
    purge_plan plan = {0};
    size_t n = sl_catalog_snapshot_count(s);
    uint64_t live = 0; /* hot and warm bytes: what max_bytes bounds */
    uint64_t cold = 0; /* the cold archives': what cold_max_bytes bounds */
    for (size_t i = 0; i < n; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (e->tier == CATALOG_TIER_HOT || e->tier == CATALOG_TIER_WARM)
            live += e->bytes;
        else if (e->tier == CATALOG_TIER_COLD)
            cold += e->bytes;
    }
    int64_t age_cut = cutoff(now_us, cfg->delete_after), hold_cut = cutoff(now_us, cfg->max_hold);
    /* The last entry (the active one) is never purged. */
    for (size_t i = 0; i + 1 < n; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (e->state != CATALOG_SEG_SEALED)
            break;
        int by_age = cfg->delete_after != 0 && e->max_timestamp_us < age_cut;
        /* max_bytes bounds hot and warm, cold_max_bytes the cold tier
         * (a prefix of the log): a cold entry before the hot ones is
         * purged by its own budget or its age, or stops the purge. */
        int is_cold = e->tier == CATALOG_TIER_COLD;
        int by_size = is_cold ? cfg->cold_max_bytes != 0 && cold > cfg->cold_max_bytes
                              : cfg->max_bytes != 0 && live > cfg->max_bytes;
        if (!by_age && !by_size)
            break;
        const char *h = plan.held ? plan.held_by : holder(cs, p, e, hold_cut);
        if (h) {
            plan.held++;
            plan.held_by = h;
        } else {
            plan.count++;
        }
        *(is_cold ? &cold : &live) -= e->bytes;
    }
    return plan;
}

/* The figures of entries [0, count) of s into the report. */
static void describe_purge(const catalog_snapshot *s, size_t count, siglog_retain_partition *out, int64_t *tmin,
                           int64_t *tmax)
{
    *tmin = INT64_MAX;
    *tmax = INT64_MIN;
    for (size_t i = 0; i < count; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        out->purged_bytes += e->bytes;
        out->purged_events += e->record_count;
        if (e->record_count && e->first_timestamp_us < *tmin)
            *tmin = e->first_timestamp_us;
        if (e->record_count && e->max_timestamp_us > *tmax)
            *tmax = e->max_timestamp_us;
    }
    out->purged_segments = count;
    out->purged_from = sl_catalog_snapshot_segment(s, 0)->base_offset;
    out->purged_to = sl_catalog_snapshot_segment(s, count - 1)->end_offset;
}

/* The intent of a purge, synced before it begins (the cold archives
 * among the entries purged go after the catalog's commit, as the hot
 * files do: sl_cold_purged). */
static int audit_purge(maintenance *m, const siglog_retain_partition *rp, int64_t tmin, int64_t tmax,
                       const siglog_stream_config *cfg)
{
    audit_record r;
    sl_audit_record_init(&r, AUDIT_PURGE, AUDIT_BY_POLICY);
    snprintf(r.stream, sizeof r.stream, "%s", rp->stream);
    r.partition = rp->partition;
    r.offset_start = rp->purged_from;
    r.offset_end = rp->purged_to;
    r.time_min_us = tmin;
    r.time_max_us = tmax;
    r.bytes = rp->purged_bytes;
    r.events = rp->purged_events;
    snprintf(r.detail, sizeof r.detail,
             "retention: %" PRIu64 " oldest segment(s) purged by delete_after=%" PRIu64 "us max_bytes=%" PRIu64
             " cold_max_bytes=%" PRIu64 " max_hold=%" PRIu64 "us",
             rp->purged_segments, cfg->delete_after, cfg->max_bytes, cfg->cold_max_bytes, cfg->max_hold);
    return sl_maintenance_audit(m, &r);
}

/* Sealed hot entry e goes warm: rewritten alone with LZ4HC, its record
 * of the move written and synced first. */
void sl_retain_move_record(audit_record *r, int action, const char *stream, uint32_t p, const catalog_segment *e)
{
    sl_audit_record_init(r, action, AUDIT_BY_POLICY);
    snprintf(r->stream, sizeof r->stream, "%s", stream);
    r->partition = p;
    r->offset_start = e->base_offset;
    r->offset_end = e->end_offset;
    r->time_min_us = e->first_timestamp_us;
    r->time_max_us = e->max_timestamp_us;
    r->bytes = e->bytes;
    r->events = e->record_count;
}

static int warm_segment(maintenance *m, catalog *c, const catalog_segment *e, const char *stream, uint32_t p,
                        const siglog_stream_config *cfg, siglog_retain_partition *rp)
{
    audit_record r;
    sl_retain_move_record(&r, AUDIT_WARM, stream, p, e);
    snprintf(r.detail, sizeof r.detail, "retention: segment %s rewritten with LZ4HC level %u by warm_after=%" PRIu64 "us",
             e->location, cfg->warm_level, cfg->warm_after);
    int rc = sl_maintenance_audit(m, &r);
    /* Room for the whole segment in one output, whatever the setting is
     * now: the move keeps its boundaries. */
    segment_params sp = {.segment_bytes_max = cfg->segment_bytes_max > e->bytes ? cfg->segment_bytes_max : e->bytes,
                         .index_interval_bytes = cfg->index_interval_bytes,
                         .file_mode = sl_maintenance_file_mode(m)};
    compact_stats st;
    if (!rc)
        rc = sl_compact_partition_recompress(c, e->base_offset, &sp, BATCH_LZ4HC((int)cfg->warm_level),
                                             CATALOG_TIER_WARM, &st);
    if (!rc)
        rp->warm_bytes_after += st.bytes_out;
    return rc;
}

/* The sealed hot entries of s from `first` whose newest event is older
 * than warm_after go warm (dry run: are counted). */
static int warm_partition(maintenance *m, catalog *c, const catalog_snapshot *s, size_t first, const char *stream,
                          uint32_t p, const siglog_stream_config *cfg, int64_t now_us, int dry_run,
                          siglog_retain_partition *rp)
{
    if (cfg->warm_after == 0)
        return 0;
    int64_t cut = cutoff(now_us, cfg->warm_after);
    int rc = 0;
    for (size_t i = first; i + 1 < sl_catalog_snapshot_count(s) && !rc; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (e->state != CATALOG_SEG_SEALED || e->tier != CATALOG_TIER_HOT || e->record_count == 0 ||
            e->max_timestamp_us >= cut)
            continue;
        rp->warm_segments++;
        rp->warm_bytes += e->bytes;
        if (!dry_run)
            rc = warm_segment(m, c, e, stream, p, cfg, rp);
    }
    return rc;
}

/* The sealed hot or warm entries of s from `first` whose newest event is
 * older than cold_after go cold, oldest first, up to the first that does
 * not (dry run: are counted): the cold tier stays a prefix of the log,
 * so purging it (delete_after, cold_max_bytes) removes a prefix too.
 * *past is the index after the last entry taken (s's entries before it
 * are cold now, whatever s says). */
static int cold_partition(maintenance *m, catalog *c, const catalog_snapshot *s, size_t first, const char *stream,
                          uint32_t p, const siglog_stream_config *cfg, int64_t now_us, int dry_run,
                          siglog_retain_partition *rp, size_t *past)
{
    *past = first;
    if (cfg->cold_after == 0 || !cfg->cold_dir[0])
        return 0;
    int64_t cut = cutoff(now_us, cfg->cold_after);
    int rc = 0;
    for (size_t i = first; i + 1 < sl_catalog_snapshot_count(s) && !rc; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (e->tier == CATALOG_TIER_COLD)
            continue;
        if (e->state != CATALOG_SEG_SEALED || e->tier > CATALOG_TIER_WARM || e->record_count == 0 ||
            e->max_timestamp_us >= cut)
            break;
        rp->cold_segments++;
        rp->cold_bytes += e->bytes;
        uint64_t after = 0;
        if (!dry_run && (rc = sl_cold_move(m, c, e, stream, p, cfg, &after)) == 0)
            rp->cold_bytes_after += after;
        *past = i + 1;
    }
    return rc;
}

static int retain_partition(maintenance *m, const char *stream, const siglog_stream_config *cfg,
                            const consumer_set *cs, uint32_t p, int64_t now_us, const siglog_retain_options *o,
                            unsigned what)
{
    catalog *c;
    int rc = sl_maintenance_catalog(m, stream, p, &c);
    if (rc)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    purge_plan plan = plan_purge(s, cfg, cs, p, now_us);
    siglog_retain_partition rp = {.stream = stream, .partition = p, .held_segments = plan.held,
                                  .held_by = plan.held_by};
    if (plan.count) {
        int64_t tmin, tmax;
        describe_purge(s, plan.count, &rp, &tmin, &tmax);
        if (!o->dry_run && (rc = audit_purge(m, &rp, tmin, tmax, cfg)) == 0 &&
            (rc = sl_catalog_remove_prefix(c, plan.count)) == 0)
            rc = sl_cold_purged(m, s, plan.count, stream, p, cfg);
    }
    /* What stays goes warm: the entries of s past the purged ones (each
     * found again by its base offset, the catalog having changed). */
    size_t past = plan.count;
    if (!rc && (what & RETAIN_MOVES))
        rc = cold_partition(m, c, s, plan.count, stream, p, cfg, now_us, o->dry_run, &rp, &past);
    if (!rc && (what & RETAIN_MOVES))
        rc = warm_partition(m, c, s, past, stream, p, cfg, now_us, o->dry_run, &rp);
    /* Last, with this run's moves and purges committed: what a cut one
     * left in cold_dir that no entry names (cold_orphans.c). */
    if (!rc)
        rc = sl_cold_orphans_remove(m, c, stream, p, cfg, o->dry_run, &rp.cold_orphans);
    sl_catalog_snapshot_release(s);
    if (!rc && o->partition_done)
        o->partition_done(o->ctx, &rp);
    return rc;
}

/* One stream's partitions; *done counts them for the progress. */
static int retain_stream(maintenance *m, const char *stream, int64_t now_us, const siglog_retain_options *o,
                         unsigned what, uint64_t *done, uint64_t total)
{
    char *dir;
    siglog_stream_config cfg;
    int rc = sl_maintenance_stream(m, stream, &dir, &cfg);
    if (rc)
        return rc;
    consumer_set cs = {0};
    rc = sl_consumers_load(sl_maintenance_io(m), dir, &cs);
    for (uint32_t p = 0; p < cfg.partitions && !rc; p++) {
        if ((rc = retain_partition(m, stream, &cfg, &cs, p, now_us, o, what)) != 0)
            rc = sl_err_set(rc, "retention of stream '%s' partition %u: %s", stream, p, siglog_errdetail());
        else if (o->progress)
            o->progress(o->ctx, ++*done, total);
    }
    sl_consumer_set_free(&cs);
    free(dir);
    return rc;
}

/* The partitions of every stream in names: the progress's total. */
static int count_partitions(const maintenance *m, const char *const *names, size_t n, uint64_t *total)
{
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        char *dir;
        siglog_stream_config cfg;
        int rc = sl_maintenance_stream(m, names[i], &dir, &cfg);
        if (rc)
            return rc;
        free(dir);
        *total += cfg.partitions;
    }
    return 0;
}

SIGLOG_API int siglog_retain(siglog_maintenance *m, int64_t now_us, const siglog_retain_options *o)
{
    sl_err_clear();
    return sl_retain(m, now_us, o, RETAIN_MOVES);
}

int sl_retain(maintenance *m, int64_t now_us, const siglog_retain_options *o, unsigned what)
{
    if (!m)
        return sl_err_set(SIGLOG_EINVAL, "siglog_retain: the maintenance handle is required");
    siglog_retain_options none = {0};
    if (!o)
        o = &none;
    io_dirent_list all = {0};
    const char *const *names = &o->stream;
    size_t n = 1;
    int rc = 0;
    if (!o->stream) {
        rc = sl_maintenance_streams(m, &all);
        names = (const char *const *)all.names;
        n = all.count;
    }
    uint64_t total = 0, done = 0;
    if (!rc)
        rc = count_partitions(m, names, n, &total);
    for (size_t i = 0; i < n && !rc; i++)
        rc = retain_stream(m, names[i], now_us, o, what, &done, total);
    sl_io_dirent_list_free(&all);
    return rc;
}
