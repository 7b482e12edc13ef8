/*
 * cursor — reads one partition in offset order, across segments, up to a
 * consistent high-water mark (DESIGN.md, "Read path").
 *
 * A cursor opens its own descriptors on segments, so a segment that
 * maintenance replaces or deletes under it stays readable through them.
 * It reads batch by batch with pread into a reused buffer, checks both
 * checksums of every batch, and decompresses into a second reused buffer.
 *
 * Limits: in the segment that was active when the snapshot was taken it
 * never reads past the snapshot's byte count, so it never meets a batch
 * that is being written; earlier segments are sealed and read whole.
 * Segments must follow each other without holes: a missing range is
 * reported (SIGLOG_ECORRUPT, see missing_range), unless the cursor was
 * opened with SIGLOG_CURSOR_ALLOW_GAPS; a range removed by retention from
 * the start, or one the catalog records as lost (catalog_loss.h), is
 * SIGLOG_EGAP, reported once: the next read goes on after it. Offsets from the snapshot's journal_from on
 * are read from the partition's journaled batches in memory (a read-only
 * handle on a store whose writer crashed), checked when the journal was
 * read.
 *
 * Damage: a cursor reading forward meets a damaged batch as
 * SIGLOG_ECORRUPT (file and byte) and hands out nothing from it; one
 * seeking past it by offset resynchronises (skip_damage), so the events
 * after damage stay readable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cold.h"
#include "cursor.h"
#include "error.h"
#include "keyfilter.h"
#include "store.h"

/* Segments a cursor keeps open (least recently used goes first): seeks
 * that come back to a segment then cost no open, mapping or index check.
 * One descriptor each (index maps outlive their descriptors). A segment
 * read to its end is closed at once, so only seeking holds many. */
#define CURSOR_SEGMENTS_CACHED 64

typedef struct cached_segment {
    segment *seg;
    uint64_t base;
    uint64_t used;      /* LRU clock */
    int64_t max_ts;     /* valid when max_known */
    uint64_t end_offset; /* one past its last offset; valid when max_known */
    int max_known;
} cached_segment;

struct siglog_cursor {
    siglog_stream *st;
    partition *p;
    unsigned flags;
    partition_snapshot snap;
    uint64_t next_offset;     /* no record below this is handed out */
    segment *seg;             /* the segment being read, or NULL */
    uint64_t pos;             /* position of the next batch in seg */
    uint64_t seg_end_offset;  /* one past the range of the last batch read from seg */
    int reopened;             /* seg was reopened at its end already */
    int time_pending;         /* still looking for timestamp >= seek_time */
    int64_t seek_time;
    int in_batch;
    batch_iter it;
    bytebuf scratch;
    siglog_record rec;
    cached_segment cache[CURSOR_SEGMENTS_CACHED];
    size_t cached;
    uint64_t clock;
    catalog_snapshot *cat;    /* the partition's catalog as last loaded */
    uint64_t *bases;          /* its segment bases */
    size_t nbases;
    size_t jbatch;            /* next journaled batch to look at */
    uint64_t jpos;            /* its byte position in the journaled run */
    int schema_filter;        /* hand out only records of schema_version */
    uint32_t schema_version;  /* (siglog_cursor_filter_schema) */
    int held;                 /* rec is handed out again by the next read */
    sl_err_later deferred;    /* the next read fails with it (see cursor.h) */
    /* Read-only handles: the stream's hwm file, mapped read-only (NULL
     * when there is none or its writer is gone), and its change counter
     * as read before the snapshot was taken. */
    hwm_file *hint;
    uint32_t hint_seen;
    /* siglog_cursor_set_key: only records with this key are handed out. */
    int has_key;
    uint8_t *key;
    size_t key_len;
    uint64_t key_hash;
};

/* Stop reading the current segment (it stays cached). */
static void drop_segment(siglog_cursor *c)
{
    c->seg = NULL;
    c->in_batch = 0;
}

static cached_segment *cache_find(siglog_cursor *c, uint64_t base)
{
    for (size_t i = 0; i < c->cached; i++)
        if (c->cache[i].base == base) {
            c->cache[i].used = ++c->clock;
            return &c->cache[i];
        }
    return NULL;
}

static void cache_remove(siglog_cursor *c, size_t i)
{
    if (c->cache[i].seg == c->seg)
        drop_segment(c);
    sl_segment_close(c->cache[i].seg);
    c->cache[i] = c->cache[--c->cached];
}

/* The file stem of the segment at base, as the catalog names it. */
static const char *segment_location(const siglog_cursor *c, uint64_t base)
{
    size_t i = sl_catalog_snapshot_find(c->cat, base);
    return sl_catalog_snapshot_segment(c->cat, i)->location;
}

/* The cached segment with this base, opened on a miss. SIGLOG_ENOENT when
 * it is gone. */
static int cache_get(siglog_cursor *c, uint64_t base, cached_segment **out)
{
    if ((*out = cache_find(c, base)) != NULL)
        return 0;
    if (c->cached == CURSOR_SEGMENTS_CACHED) {
        size_t victim = 0;
        for (size_t i = 1; i < c->cached; i++)
            if (c->cache[i].used < c->cache[victim].used)
                victim = i;
        cache_remove(c, victim);
    }
    segment *s;
    int rc = sl_partition_segment_open(c->p, sl_catalog_snapshot_segment(c->cat, sl_catalog_snapshot_find(c->cat, base)), &s);
    if (rc)
        return rc;
    c->cache[c->cached] = (cached_segment){.seg = s, .base = base, .used = ++c->clock};
    *out = &c->cache[c->cached++];
    return 0;
}

/* Forget a cached segment (to see it again as it is now). */
static void cache_forget(siglog_cursor *c, uint64_t base)
{
    for (size_t i = 0; i < c->cached; i++)
        if (c->cache[i].base == base) {
            cache_remove(c, i);
            return;
        }
}

/* After a seek in c->seg: an index entry it found wrong (the seek scanned
 * instead, so the answer is right) is reported through the store's log,
 * once per entry found; verify --repair rebuilds the index. */
static int report_index_faults(siglog_cursor *c, uint32_t before, int rc)
{
    if (sl_segment_index_faults(c->seg) != before)
        sl_store_log(c->st->store, SIGLOG_LOG_WARN,
                  "%s: an index entry does not match the batch it names; scanned instead (siglog verify --repair "
                  "rebuilds the index)",
                  sl_segment_file_path(c->seg));
    return rc;
}

/* How far c->seg may be read: its size in the snapshot when it is the
 * active segment, its size when sealed. */
static uint64_t read_limit(const siglog_cursor *c)
{
    return sl_segment_base_offset(c->seg) == c->snap.active_base ? c->snap.active_bytes : sl_segment_size(c->seg);
}

static int open_at(siglog_cursor *c, uint64_t base)
{
    cached_segment *e;
    int rc = cache_get(c, base, &e);
    if (rc)
        return rc;
    c->seg = e->seg;
    c->seg_end_offset = base;
    c->reopened = 0;
    uint32_t faults = sl_segment_index_faults(c->seg);
    return report_index_faults(c, faults, sl_segment_locate_offset(c->seg, c->next_offset, read_limit(c), &c->pos));
}

/* Whether the catalog records [expected, base) as lost (catalog_loss.h):
 * the entry at base follows one that ends below it, at or before
 * `expected`. Nothing but an accepted loss leaves such a hole. */
static int recorded_loss(const siglog_cursor *c, uint64_t expected, uint64_t base)
{
    if (!c->cat || sl_catalog_snapshot_listed(c->cat))
        return 0;
    size_t j = sl_catalog_snapshot_find(c->cat, base);
    if (j == 0 || j >= sl_catalog_snapshot_count(c->cat) || sl_catalog_snapshot_segment(c->cat, j)->base_offset != base)
        return 0;
    const catalog_segment *prev = sl_catalog_snapshot_segment(c->cat, j - 1);
    return prev->end_offset < base && prev->end_offset <= expected && expected >= prev->base_offset;
}

/* The one check for a hole in the offsets: the log must go on at
 * `expected` (the log start offset, or one past the last offset of the
 * segment before) and the next segment starts at `base`. The log start
 * comes from the snapshot. A hole the catalog records as an accepted
 * loss is SIGLOG_EGAP (the caller moves on to `base`); any other is
 * SIGLOG_ECORRUPT. */
static int missing_range(const siglog_cursor *c, uint64_t expected, uint64_t base)
{
    if (base <= expected || (c->flags & SIGLOG_CURSOR_ALLOW_GAPS))
        return 0;
    if (recorded_loss(c, expected, base))
        return sl_err_set(SIGLOG_EGAP,
                          "%s: offsets %" PRIu64 "..%" PRIu64 " were lost (the loss is recorded in its %s); the log "
                          "goes on at %" PRIu64,
                          sl_partition_path(c->p), expected, base - 1, CATALOG_FILE, base);
    return sl_err_set(SIGLOG_ECORRUPT, "%s: offsets %" PRIu64 "..%" PRIu64 " are missing: no segment holds them",
                   sl_partition_path(c->p), expected, base - 1);
}

static int list_segments(siglog_cursor *c)
{
    free(c->bases);
    c->bases = NULL;
    c->nbases = 0;
    sl_catalog_snapshot_release(c->cat);
    int rc = sl_partition_catalog_snapshot(c->p, &c->cat);
    if (rc) {
        c->cat = NULL;
        return rc;
    }
    size_t n = sl_catalog_snapshot_count(c->cat);
    if (!(c->bases = malloc((n ? n : 1) * sizeof *c->bases)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        c->bases[i] = sl_catalog_snapshot_segment(c->cat, i)->base_offset;
    c->nbases = n;
    return 0;
}

/* Can the listing from before answer where next_offset lies? Yes when a
 * later segment follows the one holding it, or when that one is the
 * snapshot's last segment. */
static int listing_answers(const siglog_cursor *c)
{
    if (c->nbases == 0 || c->next_offset < c->bases[0])
        return 0;
    return c->next_offset < c->bases[c->nbases - 1] || c->bases[c->nbases - 1] == c->snap.active_base;
}

/* Whether the key filter of sealed segment e says it holds no record
 * with the cursor's key: 1 when it does, 0 when the segment must be read
 * (it may hold the key, or it has no usable filter). A damaged filter is
 * reported through the store's log and costs a read, never an answer. */
static int key_excluded(siglog_cursor *c, const catalog_segment *e)
{
    if (sl_cold_entry(e)) /* the filter its archive carries, if any */
        return sl_partition_cold_key_excluded(c->p, e, c->key_hash);
    keyfilter f;
    int rc = sl_keyfilter_load(c->st->store->io, sl_partition_path(c->p), e, &f);
    if (rc < 0) {
        sl_store_log(c->st->store, SIGLOG_LOG_WARN, "%s; the segment is read instead", siglog_errdetail());
        return 0;
    }
    int excluded = rc == 1 && !sl_keyfilter_may_contain(&f, c->key_hash);
    sl_keyfilter_free(&f);
    return excluded;
}

/* With a schema version: whether sealed segment e's catalog entry says it
 * holds no record of it (an entry without versions may hold any: FORMAT.md
 * §5). */
static int version_excluded(const siglog_cursor *c, const catalog_segment *e)
{
    if (!c->schema_filter || e->schema_count == 0)
        return 0;
    for (uint16_t k = 0; k < e->schema_count; k++)
        if (e->schema_versions[k] == c->schema_version)
            return 0;
    return 1;
}

/* With a key or a schema version: from segment *i on, pass over the
 * sealed segments that hold none of it (their catalog versions or key
 * filter say so), moving next_offset past them, and leave *i at the first
 * one to read. Only a segment that the next one follows without a hole,
 * below the snapshot's active segment and journaled offsets, is passed
 * over: holes and the journal keep their own rules. */
static void pass_excluded(siglog_cursor *c, size_t *i)
{
    while ((c->has_key || c->schema_filter) && *i + 1 < c->nbases) {
        const catalog_segment *e = sl_catalog_snapshot_segment(c->cat, *i);
        if (e->base_offset >= c->snap.active_base || e->end_offset != c->bases[*i + 1] ||
            e->end_offset >= c->snap.journal_from ||
            !(version_excluded(c, e) || (c->has_key && key_excluded(c, e))))
            return;
        c->next_offset = e->end_offset;
        ++*i;
    }
}

/* Whether sealed entry i of a fresh listing holds next_offset although a
 * segment with its base was just read to its end below next_offset: a
 * rewrite (a merge) replaced that segment by a longer one with the same
 * base between the read and the listing. Only the catalog says where an
 * entry ends; a directory listing cannot tell, and there nothing
 * replaces segments. */
static int replaced_past(const siglog_cursor *c, size_t i)
{
    if (!c->cat || sl_catalog_snapshot_listed(c->cat))
        return 0;
    const catalog_segment *e = sl_catalog_snapshot_segment(c->cat, i);
    return e->state != CATALOG_SEG_ACTIVE && e->end_offset > c->next_offset;
}

/* Open the segment holding c->next_offset. *none: there is nothing to
 * read at all yet. `after`: a segment base that was just read to its end
 * (UINT64_MAX if none): finding it again means a hole follows it. */
static int open_segment_for_next(siglog_cursor *c, uint64_t after)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int rc = attempt == 0 && after == UINT64_MAX && listing_answers(c) ? 0 : list_segments(c);
        if (rc)
            return rc;
        if (c->nbases == 0)
            return 0;
        if (c->next_offset < c->bases[0]) {
            uint64_t was = c->next_offset, start = c->bases[0];
            c->next_offset = start;
            if (after == UINT64_MAX && was == c->snap.log_start_offset)
                continue; /* we never handed out `was`: just move on */
            return sl_err_set(SIGLOG_EGAP, "%s: offset %" PRIu64 " was removed; the log now starts at %" PRIu64,
                           sl_partition_path(c->p), was, start);
        }
        size_t i = c->nbases - 1;
        while (c->bases[i] > c->next_offset)
            i--;
        uint64_t base = c->bases[i], following = i + 1 < c->nbases ? c->bases[i + 1] : 0;
        if (base == after && !replaced_past(c, i)) {
            /* next_offset is past its end: a hole up to the next one. */
            if (!following)
                return 0; /* the writer has not created the next one yet */
            if ((rc = missing_range(c, c->next_offset, following)) != 0) {
                if (rc == SIGLOG_EGAP)
                    c->next_offset = following; /* reported once: go on after it */
                return rc;
            }
            c->next_offset = base = following;
            i++;
        }
        pass_excluded(c, &i);
        base = c->bases[i];
        char was[SEGMENT_STEM_MAX + 1];
        snprintf(was, sizeof was, "%s", segment_location(c, base));
        rc = open_at(c, base);
        if (rc != SIGLOG_ENOENT)
            return rc;
        sl_err_later gone = {0};
        sl_err_put_off(&gone, rc);
        /* Removed or replaced since it was listed: list again. A file
         * its catalog still names is missing. */
        if ((rc = list_segments(c)) != 0)
            return rc;
        i = sl_catalog_snapshot_find(c->cat, base);
        if (!sl_catalog_snapshot_listed(c->cat) && i < c->nbases && c->bases[i] == base &&
            strcmp(segment_location(c, base), was) == 0) {
            /* A cold entry still named: its archive in cold_dir is gone
             * (nothing in the store stands for it), named as the open
             * found it. */
            if (sl_cold_entry(sl_catalog_snapshot_segment(c->cat, i)))
                return sl_err_take_later(&gone);
            size_t after;
            rc = sl_partition_segment_missing(c->p, c->cat, i, &after);
            if (rc == 0)
                continue; /* there again */
            if (!(c->flags & SIGLOG_CURSOR_ALLOW_GAPS) || after == c->nbases)
                return rc;
            c->next_offset = c->bases[after];
            attempt--; /* a hole skipped is no change under the cursor */
        }
    }
    return sl_err_set(SIGLOG_EIO, "%s: segments keep changing under the cursor", sl_partition_path(c->p));
}

/* The batch at c->pos is damaged (SIGLOG_ECORRUPT, detail set). A cursor
 * still on its way to a later offset resynchronises: it goes on at the
 * first valid batch header after the damage whose offsets continue the
 * segment, when that batch starts at or before the offset sought (the
 * offset is then not inside the damage). 1 when it did, else the error. */
static int skip_damage(siglog_cursor *c, uint64_t limit)
{
    char why[512];
    snprintf(why, sizeof why, "%s", siglog_errdetail());
    if (c->seg_end_offset >= c->next_offset)
        return sl_err_set(SIGLOG_ECORRUPT, "%s", why); /* the next record to hand out is in it */
    uint64_t at;
    batch_header h;
    int rc = sl_segment_find_batch(c->seg, c->pos + 1, limit, c->seg_end_offset, &at, &h);
    if (rc < 0)
        return rc;
    if (rc == 0 || h.base_offset > c->next_offset)
        return sl_err_set(SIGLOG_ECORRUPT, "%s", why);
    c->pos = at;
    return 1;
}

/* The next journaled batch holding offsets >= next_offset into the
 * iterator: 1, or 0 when there is none. */
static int next_journaled_batch(siglog_cursor *c)
{
    const batch_run *r = sl_partition_journaled(c->p);
    if (c->jbatch < c->snap.journal_batch) {
        c->jbatch = c->snap.journal_batch;
        c->jpos = c->snap.journal_pos;
    }
    while (c->jbatch < r->count) {
        const batch_meta *m = &r->metas[c->jbatch];
        const uint8_t *b = r->bytes.data + c->jpos;
        c->jbatch++;
        c->jpos += m->bytes;
        if (batch_meta_end_offset(m) <= c->next_offset)
            continue;
        batch_header h;
        int rc = sl_batch_header_decode(b, &h);
        if (!rc)
            rc = sl_batch_iter_init(&c->it, &h, b + BATCH_HEADER_BYTES, &c->scratch);
        if (rc)
            return rc;
        c->in_batch = 1;
        return 1;
    }
    return 0;
}

/* Read the next batch into the iterator: 1, 0 at the end of what the
 * snapshot allows, or an error. */
static int next_batch(siglog_cursor *c)
{
    uint64_t exhausted = UINT64_MAX, exhausted_at = UINT64_MAX;
    for (;;) {
        if (c->next_offset >= c->snap.hwm_offset)
            return 0;
        if (c->next_offset >= c->snap.journal_from) {
            drop_segment(c);
            return next_journaled_batch(c);
        }
        if (!c->seg) {
            int rc = open_segment_for_next(c, exhausted);
            if (rc || !c->seg)
                return rc;
        }
        uint64_t base = sl_segment_base_offset(c->seg);
        int active = base == c->snap.active_base;
        uint64_t limit = read_limit(c);
        batch_header h;
        const uint8_t *body;
        /* A segment opened while it was active may have been read past
         * the size it had then: it ended for this open. */
        int r = c->pos < limit ? sl_segment_next_batch(c->seg, c->pos, limit, &h, &body) : 0;
        if (r == SIGLOG_ECORRUPT && (r = skip_damage(c, limit)) == 1)
            continue;
        if (r < 0)
            return r;
        if (r == 1) {
            c->pos += BATCH_HEADER_BYTES + (uint64_t)h.body_len;
            c->seg_end_offset = batch_end_offset(&h);
            c->reopened = 0;
            if (c->seg_end_offset <= c->next_offset)
                continue; /* before the seek target */
            r = sl_batch_iter_init(&c->it, &h, body, &c->scratch);
            if (r)
                return r;
            c->in_batch = 1;
            return 1;
        }
        if (active) {
            /* The journal serves what follows the segment's end. */
            if (c->seg_end_offset < c->snap.journal_from || c->snap.journal_from == c->snap.hwm_offset)
                return 0;
            if (c->seg_end_offset > c->next_offset)
                c->next_offset = c->seg_end_offset;
            drop_segment(c);
            continue;
        }
        if (!c->reopened) {
            /* It may have been the active segment when we opened it, and
             * grown since: look at its size again once. */
            uint64_t pos = c->pos, end = c->seg_end_offset;
            cache_forget(c, base);
            int rc = open_at(c, base);
            if (rc == SIGLOG_ENOENT) {
                /* Replaced or removed by maintenance since the snapshot
                 * (sealed, then): go on at the offset needed from a new
                 * listing, in the replacement or past the removal. */
                if (end > c->next_offset)
                    c->next_offset = end;
                continue;
            }
            if (rc)
                return rc;
            c->pos = pos;
            c->seg_end_offset = end;
            c->reopened = 1;
            continue;
        }
        if (c->seg_end_offset > c->next_offset)
            c->next_offset = c->seg_end_offset;
        /* Read to its end: a reader going forward will not need it again,
         * so its descriptor is not held (many-partition merges would
         * otherwise keep every segment they passed open). */
        /* Read to its end twice at the same offset: the listing said the
         * sealed segment holds more (a rewrite replacing it by a longer
         * one, replaced_past), yet reading it again gave nothing more.
         * Its file is cut short of what its catalog entry vouches for;
         * going on would read it again forever. */
        if (exhausted == base && exhausted_at == c->next_offset) {
            int rc = sl_err_set(SIGLOG_ECORRUPT,
                                "%s: segment %020" PRIu64 " ends at byte %" PRIu64 " after offset %" PRIu64
                                ", short of what its catalog entry vouches for: the file was cut",
                                sl_partition_path(c->p), base, c->pos, c->next_offset);
            cache_forget(c, base);
            return rc;
        }
        cache_forget(c, base);
        exhausted = base;
        exhausted_at = c->next_offset;
    }
}

/* The largest timestamp in a cached segment and where it ends, computed
 * once per snapshot (refresh() forgets the last segment's: it may have
 * grown). Computed after the snapshot was taken, it covers every record
 * the snapshot holds. A segment with damage may hold any timestamp: it
 * counts as holding the latest, so a time seek reads it and meets the
 * damage. */
static int cached_max_ts(cached_segment *e)
{
    if (e->max_known)
        return 0;
    segment_tail t;
    int rc = sl_segment_scan_tail(e->seg, &t);
    if (rc)
        return rc;
    e->max_ts = t.record_count ? t.max_timestamp_us : INT64_MIN;
    if (t.damaged || t.vouched_damage)
        e->max_ts = INT64_MAX;
    e->end_offset = t.end_offset;
    e->max_known = 1;
    return 0;
}

static int seek_time(siglog_cursor *c, int64_t ts)
{
    c->time_pending = 1;
    c->seek_time = ts;
    c->next_offset = c->snap.hwm_offset; /* if no record is that late */
    int rc = c->nbases && c->bases[c->nbases - 1] == c->snap.active_base ? 0 : list_segments(c);
    /* Every segment before the one it lands in is passed over: a hole
     * there could have held the answer. */
    uint64_t expected = c->snap.log_start_offset;
    for (size_t i = 0; i < c->nbases && !rc && c->bases[i] < c->snap.hwm_offset; i++) {
        cached_segment *e;
        rc = cache_get(c, c->bases[i], &e);
        if (rc == SIGLOG_ENOENT) {
            rc = 0; /* gone since listed: the next one reports the hole */
            continue;
        }
        if (!rc && (rc = missing_range(c, expected, c->bases[i])) == SIGLOG_EGAP) {
            /* A recorded loss could have held the answer: land at it, so
             * that reading reports it (once) and goes on after it, still
             * skipping records before ts. */
            sl_err_clear();
            c->next_offset = expected;
            return 0;
        }
        if (!rc)
            rc = cached_max_ts(e);
        if (rc)
            break;
        expected = e->end_offset;
        if (e->max_ts >= ts) {
            c->seg = e->seg;
            c->next_offset = c->bases[i];
            c->seg_end_offset = c->bases[i];
            c->reopened = 0;
            uint32_t faults = sl_segment_index_faults(c->seg);
            return report_index_faults(c, faults, sl_segment_locate_time(c->seg, ts, read_limit(c), &c->pos));
        }
    }
    /* None of the segments' records is that late: the journaled ones may
     * be (records before ts are skipped as they are read). */
    if (!rc && c->snap.journal_from < c->snap.hwm_offset)
        c->next_offset = c->snap.journal_from;
    return rc;
}

/* Position the cursor (its snapshot stays as it is). */
static int seek_to(siglog_cursor *c, int seek, int64_t arg)
{
    drop_segment(c);
    c->held = 0;
    c->deferred.code = 0;
    c->time_pending = 0;
    c->jbatch = 0; /* may go back: look from the snapshot's first again */
    c->jpos = 0;
    switch (seek) {
    case SIGLOG_SEEK_START:
        c->next_offset = c->snap.log_start_offset;
        return 0;
    case SIGLOG_SEEK_END:
        c->next_offset = c->snap.hwm_offset;
        return 0;
    case SIGLOG_SEEK_OFFSET:
        c->next_offset = (uint64_t)arg > c->snap.log_start_offset ? (uint64_t)arg : c->snap.log_start_offset;
        return 0;
    default:
        return seek_time(c, arg);
    }
}

/* A snapshot for the cursor. Read-only handles take the writer's
 * published mark from the stream's hwm file when its segment bytes
 * confirm it (sl_partition_snapshot_hinted), mapping the file again when it
 * was missing or its writer gone: a writer may have started since. */
static int take_snapshot(siglog_cursor *c, partition_snapshot *s)
{
    int allow_gaps = (c->flags & SIGLOG_CURSOR_ALLOW_GAPS) != 0;
    if (!c->st->store->read_only)
        return sl_partition_snapshot_get(c->p, s, allow_gaps);
    if (c->hint && !sl_hwm_writer_live(c->hint)) {
        sl_hwm_reader_close(c->hint);
        c->hint = NULL;
    }
    if (!c->hint) {
        int rc = sl_hwm_reader_open(c->st->store->io, c->st->dir, c->st->cfg.partitions, &c->hint);
        if (rc)
            return rc;
    }
    hwm_mark mark;
    int have = 0;
    if (c->hint) {
        c->hint_seen = sl_hwm_change(c->hint); /* before the mark: a later publish changes it */
        have = sl_hwm_read(c->hint, sl_partition_id(c->p), &mark);
    }
    return sl_partition_snapshot_hinted(c->p, have ? &mark : NULL, s, allow_gaps);
}

SIGLOG_API int siglog_cursor_open(siglog_cursor **out, siglog_stream *st, uint32_t partition, int seek, int64_t arg,
                                  unsigned flags)
{
    sl_err_clear();
    if (!out || !st)
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_open: out and stream are required");
    *out = NULL;
    int rc = sl_stream_partition_usable(st, partition);
    if (rc)
        return rc;
    if (seek < SIGLOG_SEEK_START || seek > SIGLOG_SEEK_TIME ||
        (flags & ~(SIGLOG_CURSOR_FOLLOW | SIGLOG_CURSOR_ALLOW_GAPS)))
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_open: unknown seek mode %d or flags 0x%x", seek, flags);
    siglog_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    c->st = st;
    c->p = st->parts[partition];
    c->flags = flags;
    rc = take_snapshot(c, &c->snap);
    if (!rc)
        rc = seek_to(c, seek, arg);
    if (rc) {
        siglog_cursor_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* With FOLLOW: take a new snapshot; 1 if there may be more to read. */
static int refresh(siglog_cursor *c)
{
    partition_snapshot s;
    if (take_snapshot(c, &s) != 0)
        return 0;
    int moved = s.hwm_offset != c->snap.hwm_offset || s.active_base != c->snap.active_base ||
                s.active_bytes != c->snap.active_bytes;
    /* A cached largest timestamp of the last segment held for the old
     * snapshot only. */
    for (size_t i = 0; moved && i < c->cached; i++)
        if (c->cache[i].base == c->snap.active_base || c->cache[i].base == s.active_base)
            c->cache[i].max_known = 0;
    c->snap = s;
    return moved;
}

SIGLOG_API int siglog_cursor_next(siglog_cursor *c, const siglog_record **rec)
{
    sl_err_clear();
    if (!c || !rec)
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_next: cursor and rec are required");
    if (c->held) {
        c->held = 0;
        *rec = &c->rec;
        return 1;
    }
    if (c->deferred.code)
        return sl_err_take_later(&c->deferred);
    for (;;) {
        if (c->in_batch) {
            int r = sl_batch_iter_next(&c->it, &c->rec);
            if (r < 0)
                return c->seg ? sl_err_set(r, "%s at byte %" PRIu64 " of %s", siglog_errdetail(), c->pos,
                                        sl_segment_file_path(c->seg))
                              : sl_err_set(r, "%s in the journal's copy of offset %" PRIu64 " of %s",
                                        siglog_errdetail(), c->next_offset, sl_partition_path(c->p));
            if (r == 1) {
                if (c->rec.offset < c->next_offset)
                    continue;
                if (c->time_pending && c->rec.timestamp_us < c->seek_time)
                    continue;
                c->time_pending = 0;
                c->next_offset = c->rec.offset + 1;
                if ((c->has_key && (c->rec.key_len != c->key_len ||
                                    (c->key_len && memcmp(c->rec.key, c->key, c->key_len) != 0))) ||
                    (c->schema_filter && c->rec.schema_version != c->schema_version))
                    continue;
                c->rec.partition = sl_partition_id(c->p);
                if (!c->rec.key_len)
                    c->rec.key = NULL;
                *rec = &c->rec;
                return 1;
            }
            c->in_batch = 0;
        }
        int r = next_batch(c);
        if (r < 0)
            return r;
        if (r == 0 && !((c->flags & SIGLOG_CURSOR_FOLLOW) && refresh(c)))
            return 0;
    }
}

SIGLOG_API int siglog_cursor_filter_schema(siglog_cursor *c, uint32_t version)
{
    sl_err_clear();
    if (!c)
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_filter_schema: cursor is required");
    c->schema_filter = 1;
    c->schema_version = version;
    if (c->held && c->rec.schema_version != version)
        c->held = 0; /* already passed over */
    return 0;
}

SIGLOG_API uint64_t siglog_cursor_position(const siglog_cursor *c)
{
    return c->held ? c->rec.offset : c->next_offset;
}

void sl_cursor_unread(siglog_cursor *c)
{
    c->held = 1;
}

void sl_cursor_defer_error(siglog_cursor *c, int code)
{
    sl_err_put_off(&c->deferred, code);
}

SIGLOG_API int siglog_cursor_wait(siglog_cursor *c, int timeout_ms)
{
    sl_err_clear();
    if (!c)
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_wait: cursor is NULL");
    if (timeout_ms < 0)
        timeout_ms = 0;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (sl_partition_wait_beyond(c->p, c->next_offset, &until) == 0)
        return 0;
    /* Another process writes: sleep on its hwm file's change counter,
     * woken by the commit that publishes (any partition of the stream:
     * "may be readable"). Without a live writer there, poll, at most
     * every 20 ms: a writer may start, or one without the file write. */
    if (c->hint && sl_hwm_writer_live(c->hint)) {
        sl_hwm_wait(c->hint, c->hint_seen, timeout_ms);
        return 0;
    }
    struct timespec step = {0, (timeout_ms < 20 ? timeout_ms : 20) * 1000000L};
    nanosleep(&step, NULL);
    return 0;
}

SIGLOG_API int siglog_cursor_seek(siglog_cursor *c, int seek, int64_t arg)
{
    sl_err_clear();
    if (!c || seek < SIGLOG_SEEK_START || seek > SIGLOG_SEEK_TIME)
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_seek: cursor required, seek mode %d unknown", seek);
    return seek_to(c, seek, arg);
}

SIGLOG_API int siglog_cursor_set_key(siglog_cursor *c, const void *key, size_t len)
{
    sl_err_clear();
    if (!c || (!key && len))
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_set_key: cursor required, and a key for a length");
    uint8_t *copy = NULL;
    if (key && !(copy = malloc(len ? len : 1)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (len)
        memcpy(copy, key, len);
    free(c->key);
    c->key = copy;
    c->key_len = len;
    c->has_key = key != NULL;
    c->key_hash = key ? sl_keyfilter_hash(key, len) : 0;
    return 0;
}

SIGLOG_API void siglog_cursor_close(siglog_cursor *c)
{
    if (!c)
        return;
    free(c->key);
    while (c->cached)
        cache_remove(c, c->cached - 1);
    free(c->bases);
    sl_hwm_reader_close(c->hint);
    sl_catalog_snapshot_release(c->cat);
    sl_bytebuf_free(&c->scratch);
    free(c);
}

SIGLOG_API siglog_stream *siglog_cursor_stream(const siglog_cursor *c)
{
    return c->st;
}
