#include "partition.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cold.h"
#include "error.h"
#include "key_hashes.h"
#include "schema_contract.h"
#include "schema_usage_tally.h"

/* See partition.h for who takes `mu` and what it guards. */
struct partition {
    pthread_mutex_t mu;
    pthread_cond_t published;   /* broadcast when the hwm moves */
    const siglog_io *io;
    partition_config cfg;       /* see sl_partition_set_config */
    char *dir;
    uint32_t id;
    int writable;

    segment *active;            /* writer: the last segment; NULL read-only */
    catalog *cat;               /* writer: log start and bounds, persisted */
    uint64_t next_offset;       /* next offset to assign */

    batch_builder open;
    batch_run pending;
    batch_run inflight;
    int dirty;                  /* active segment written since last sync */

    /* NONE only: the offsets a failed segment write dropped and handed
     * out again (the hull of every such drop; empty when equal). An event
     * at such an offset may be the dropped one or its successor, so its
     * durability can never be confirmed (sl_partition_wait_durable). */
    uint64_t reissued_from, reissued_to;

    int failed;                 /* SIGLOG code; appends refused once set */
    char failed_detail[SL_ERR_DETAIL_MAX];
    int damaged;                /* failed at open: damage that must not be
                                 * cut (see sl_partition_open) */
    int unservable;             /* journal damage, or a log its catalog
                                 * finds incomplete: cursors fail too, with
                                 * failed_detail (set at open only) */
    uint64_t unserved_end;      /* unservable: one past the last offset
                                 * the journal held for it (0: none) */

    partition_snapshot hwm;
    /* Writer: where readers in other processes get the published mark
     * (the stream's, NULL without one), and the last batch written: it
     * starts at last_batch_pos and ends at last_batch_end. */
    hwm_file *hint;
    uint64_t last_batch_pos, last_batch_end;
    /* Writer, the catalog poll's: the hint's catalog change counter as it
     * last acted on it (valid once set). */
    uint32_t catalog_seen;
    int catalog_seen_valid;

    /* Writer: the schema-version figures of the log (schema_usage.h),
     * accounted as batches reach the segment, and the versions the
     * active segment holds (what the catalog records for it at the roll
     * and at a clean close; seg_versions_unknown when they could not all
     * be told: more than the catalog keeps, or batches written before the
     * open's catch-up). usage_scratch decompresses batches to count them. */
    schema_usage usage;
    uint32_t seg_versions[CATALOG_SCHEMA_VERSIONS_MAX];
    uint16_t seg_version_count;
    int seg_versions_unknown;
    bytebuf usage_scratch;
    /* Writer: the key hashes of what this handle appended, for the active
     * segment's key filter at its roll (key_hashes.h). */
    key_hashes keys;

    /* Read-only: the batches a writer-less store's journal holds for this
     * partition (checked, in offset order), filled at open and immutable
     * afterwards, so cursors read them without the lock. Those the
     * segments lack are served from here: what a writer's recovery would
     * put into the segments (DESIGN.md, "Write path"). */
    batch_run journaled;
};

/* The writer's segments go to write-back every 1 MiB (segment_params):
 * a seal's or a checkpoint's sync then waits for about that much, not for
 * a whole segment (64 MiB by default) written since the last sync. */
#define SEGMENT_WRITEBACK_BYTES (1u << 20)

/* Roll before relative offsets (u32 in the indexes) could overflow. */
#define REL_OFFSET_ROLL (UINT32_MAX - BATCH_RECORDS_MAX)
void sl_batch_run_clear(batch_run *r)
{
    r->bytes.len = 0;
    r->count = 0;
}

void sl_batch_run_free(batch_run *r)
{
    sl_bytebuf_free(&r->bytes);
    free(r->metas);
    memset(r, 0, sizeof *r);
}

/* Room for `need` metas in all. */
static int batch_run_reserve_meta(batch_run *r, size_t need)
{
    if (need <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap * 2 : 16;
    while (cap < need)
        cap *= 2;
    batch_meta *m = realloc(r->metas, cap * sizeof *m);
    if (!m)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    r->metas = m;
    r->cap = cap;
    return 0;
}

static void batch_run_swap(batch_run *a, batch_run *b)
{
    batch_run t = *a;
    *a = *b;
    *b = t;
}

/* Under mu (or at open, or read-only: nothing changes the config then). */
static segment_params seg_params(const partition *p)
{
    return (segment_params){
        .segment_bytes_max = p->cfg.stream.segment_bytes_max,
        .index_interval_bytes = p->cfg.stream.index_interval_bytes,
        .file_mode = p->cfg.file_mode,
        .writeback_bytes = SEGMENT_WRITEBACK_BYTES,
    };
}

/* For readers, who hold no lock: the config may change under them. */
static segment_params reader_params(partition *p)
{
    pthread_mutex_lock(&p->mu);
    segment_params sp = seg_params(p);
    pthread_mutex_unlock(&p->mu);
    return sp;
}

static void fail_locked(partition *p, int code);
static int write_pending_locked(partition *p);

/* The mark readers in other processes get (hwm.h): the last batch's
 * position only when the segment still ends where that batch does (after
 * recovery or a trimmed write it is not known: they scan). */
static void publish_hint_locked(const partition *p)
{
    if (!p->hint)
        return;
    uint64_t bytes = p->hwm.active_bytes;
    hwm_mark m = {.log_start_offset = p->hwm.log_start_offset,
                  .next_offset = p->hwm.hwm_offset,
                  .active_base = p->hwm.active_base,
                  .active_bytes = bytes,
                  .last_batch_pos = bytes == 0                  ? 0
                                    : p->last_batch_end == bytes ? p->last_batch_pos
                                                                 : HWM_NO_BATCH};
    sl_hwm_publish(p->hint, p->id, &m);
}

static void publish_locked(partition *p)
{
    p->hwm.log_start_offset = sl_catalog_get(p->cat)->log_start_offset;
    p->hwm.hwm_offset = sl_segment_next_offset(p->active);
    p->hwm.active_base = sl_segment_base_offset(p->active);
    p->hwm.active_bytes = sl_segment_size(p->active);
    pthread_cond_broadcast(&p->published);
    publish_hint_locked(p);
}

void sl_partition_attach_hint(partition *p, hwm_file *h)
{
    pthread_mutex_lock(&p->mu);
    p->hint = h;
    /* A partition failed at open publishes nothing: readers scan it. */
    if (p->active && !p->failed)
        publish_hint_locked(p);
    pthread_mutex_unlock(&p->mu);
}

static void logf_(partition_log_fn log, void *ctx, int level, const char *fmt, ...) ERR_PRINTF(4, 5);
static void logf_(partition_log_fn log, void *ctx, int level, const char *fmt, ...)
{
    if (!log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(ctx, level, msg);
}

/* Writer open that found damage it must not cut (the detail is set): the
 * partition stays readable as far as a reader sees the log (meeting the
 * damage as an error) and refuses appends with the detail. Nothing of it
 * may be in the journal (replay_locked refuses), so commits of
 * other partitions go on. */
static void open_damaged(partition *p, const segment_tail *t, partition_log_fn log, void *log_ctx)
{
    fail_locked(p, SIGLOG_ECORRUPT);
    logf_(log, log_ctx, SIGLOG_LOG_ERROR, "%s", p->failed_detail);
    p->damaged = 1;
    p->next_offset = t->end_offset;
    p->hwm = (partition_snapshot){.log_start_offset = sl_catalog_get(p->cat)->log_start_offset,
                                  .hwm_offset = t->end_offset,
                                  .active_base = sl_segment_base_offset(p->active),
                                  .active_bytes = t->end_bytes,
                                  .damaged = 1};
}

/* Writer open of a partition that is not what its catalog says it must
 * be (its directory or segments missing, its log ending below the bound,
 * its checkpoint damaged; the detail is set): it fails alone, like a
 * damaged one, but has nothing to serve (no active segment): every read
 * and append gets the detail. Nothing is created or cut, so no offset is
 * handed out again. */
static void open_missing(partition *p, partition_log_fn log, void *log_ctx)
{
    fail_locked(p, SIGLOG_ECORRUPT);
    logf_(log, log_ctx, SIGLOG_LOG_ERROR, "%s", p->failed_detail);
    p->damaged = 1;
    p->unservable = 1;
    sl_segment_close(p->active);
    p->active = NULL;
}

/* ---- schema usage (see the fields in struct partition) ---- */

/* Note that the active segment holds version v. */
static void seg_version_add(partition *p, uint32_t v)
{
    size_t i = 0;
    while (i < p->seg_version_count && p->seg_versions[i] < v)
        i++;
    if (i < p->seg_version_count && p->seg_versions[i] == v)
        return;
    if (p->seg_version_count == CATALOG_SCHEMA_VERSIONS_MAX) {
        p->seg_versions_unknown = 1;
        return;
    }
    memmove(&p->seg_versions[i + 1], &p->seg_versions[i], (p->seg_version_count - i) * sizeof *p->seg_versions);
    p->seg_versions[i] = v;
    p->seg_version_count++;
}

/* Account one record of the log at or past `covered`. One that fails
 * (memory) leaves the figures behind: the next open reads the rest back. */
static int usage_record_locked(partition *p, const siglog_record *r)
{
    if (r->offset < p->usage.covered)
        return 0;
    if (r->offset >= sl_segment_base_offset(p->active))
        seg_version_add(p, r->schema_version);
    return sl_schema_usage_account(&p->usage, p->cfg.schemas, (int)p->cfg.stream.contract, r);
}

/* Account the records of the batches just written from bytes (metas[0..n)),
 * those that continue what is accounted; see schema_usage.h. */
static void usage_batches_locked(partition *p, const uint8_t *bytes, const batch_meta *metas, size_t n)
{
    for (size_t i = 0; i < n; bytes += metas[i++].bytes) {
        if (metas[i].base_offset != p->usage.covered)
            continue; /* behind: the store's open reads it back */
        /* What the builder knew of its records is enough, unless each
         * value is to be judged against its schema. */
        if (metas[i].one_version && !(p->cfg.schemas && p->cfg.stream.contract == SIGLOG_CONTRACT_WARN)) {
            seg_version_add(p, metas[i].schema_version);
            if (sl_schema_usage_add_run(&p->usage, metas[i].schema_version, metas[i].base_offset,
                                        batch_meta_end_offset(&metas[i]) - 1, metas[i].record_count,
                                        metas[i].min_timestamp_us, metas[i].max_timestamp_us) != 0)
                return; /* memory: behind from here on */
            continue;
        }
        batch_header h;
        batch_iter it;
        siglog_record r = { .partition = p->id };
        int rc = sl_batch_header_decode(bytes, &h);
        if (!rc)
            rc = sl_batch_iter_init(&it, &h, bytes + BATCH_HEADER_BYTES, &p->usage_scratch);
        while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1)
            rc = usage_record_locked(p, &r);
        if (rc)
            return; /* memory: behind from here on */
        p->usage.covered = batch_meta_end_offset(&metas[i]);
    }
}

/* The versions of the active segment e, as its catalog entry records
 * them: none (unknown) when they could not all be told. */
static void seg_versions_describe(const partition *p, catalog_segment *e)
{
    int known = !p->seg_versions_unknown && p->usage.covered >= e->end_offset;
    e->schema_count = known ? p->seg_version_count : 0;
    memcpy(e->schema_versions, p->seg_versions, e->schema_count * sizeof *p->seg_versions);
}

static int change_active_versions(catalog_snapshot *s, void *arg)
{
    const catalog_segment *want = arg;
    size_t n;
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    catalog_segment *last = n ? &segs[n - 1] : NULL;
    if (!last || last->base_offset != want->base_offset || last->state != CATALOG_SEG_ACTIVE ||
        (last->schema_count == want->schema_count &&
         memcmp(last->schema_versions, want->schema_versions, want->schema_count * sizeof *want->schema_versions) == 0))
        return CATALOG_UNCHANGED;
    last->schema_count = want->schema_count;
    memcpy(last->schema_versions, want->schema_versions, sizeof last->schema_versions);
    return 0;
}

/* Persist the figures and, first, the active entry's versions (so a
 * crash between the two leaves the catalog ahead: the next open adds
 * what it reads back to them). Only where everything below `covered` is
 * durable: at a roll and a clean close. */
static int usage_file_save_locked(partition *p);

static int usage_save_locked(partition *p)
{
    catalog_segment e = { .base_offset = sl_segment_base_offset(p->active),
                          .end_offset = sl_segment_next_offset(p->active) };
    seg_versions_describe(p, &e);
    int rc = sl_catalog_update(p->cat, change_active_versions, &e);
    return rc ? rc : usage_file_save_locked(p);
}

/* The figures' file, once the catalog holds the active entry's versions. */
static int usage_file_save_locked(partition *p)
{
    catalog_snapshot *cs = sl_catalog_snapshot_get(p->cat);
    sl_schema_usage_tally_advance(&p->usage, cs);
    sl_catalog_snapshot_release(cs);
    return sl_schema_usage_save(p->io, p->dir, p->cfg.file_mode, &p->usage);
}

/* Whether p's figures are stale against its catalog (sl_schema_usage_stale,
 * or a rewrite changed the records below their tally). */
static int usage_stale(partition *p, uint64_t start)
{
    catalog_snapshot *cs = sl_catalog_snapshot_get(p->cat);
    const catalog_segment *first = sl_catalog_snapshot_count(cs) ? sl_catalog_snapshot_segment(cs, 0) : NULL;
    int stale = sl_schema_usage_stale(&p->usage, start, first ? first->base_offset : start,
                                      first && first->record_count ? first->end_offset : start) ||
                sl_schema_usage_tally_changed(&p->usage, cs);
    sl_catalog_snapshot_release(cs);
    return stale;
}

/* Writer open: the file's figures when they fit the log, else from the
 * log's start (read back at the store's open): also, without a warning,
 * when a prefix removal took counted events away since they were saved,
 * or a restore put events back below them.
 * The active segment's versions as its catalog entry recorded them. */
static int usage_open(partition *p, const catalog_segment *active, partition_log_fn log, void *log_ctx)
{
    int found;
    uint64_t start = sl_catalog_get(p->cat)->log_start_offset, end = sl_segment_next_offset(p->active);
    int rc = sl_schema_usage_load(p->io, p->dir, &p->usage, &found);
    if (rc == SIGLOG_ENOMEM)
        return rc;
    if (rc || (found && (p->usage.covered > end || p->usage.covered < start))) {
        logf_(log, log_ctx, SIGLOG_LOG_WARN, "%s: %s; rebuilding the schema usage from the log",
              rc ? siglog_errdetail() : p->dir, rc ? "damaged" : "schema usage does not fit the log");
        sl_schema_usage_free(&p->usage);
        found = 0;
    } else if (found && usage_stale(p, start)) {
        sl_schema_usage_free(&p->usage);
        found = 0;
    }
    if (!found)
        sl_schema_usage_init(&p->usage, start);
    if (active && active->base_offset == sl_segment_base_offset(p->active))
        for (uint16_t i = 0; i < active->schema_count; i++)
            seg_version_add(p, active->schema_versions[i]);
    return 0;
}

uint64_t sl_partition_usage_covered(partition *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t c = p->usage.covered;
    pthread_mutex_unlock(&p->mu);
    return c;
}

int sl_partition_usage_record(partition *p, const siglog_record *r)
{
    pthread_mutex_lock(&p->mu);
    int rc = usage_record_locked(p, r);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void sl_partition_usage_caught_up(partition *p, uint64_t end)
{
    pthread_mutex_lock(&p->mu);
    if (end > p->usage.covered)
        p->usage.covered = end; /* the offsets between hold no record */
    /* The figures now describe the log as the catalog lists it: what a
     * rewrite beside the writer changes from here on shows. */
    catalog_snapshot *cs = sl_catalog_snapshot_get(p->cat);
    sl_schema_usage_tally_advance(&p->usage, cs);
    sl_catalog_snapshot_release(cs);
    pthread_mutex_unlock(&p->mu);
}

int sl_partition_usage_get(partition *p, schema_usage *out)
{
    pthread_mutex_lock(&p->mu);
    int rc = sl_schema_usage_copy(out, &p->usage);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Writer: open the last segment and cut its torn tail. Damage that may not
 * be cut fails the partition only (open_damaged). */
static int open_active(partition *p, const catalog_segment *last, uint64_t journal_from, partition_log_fn log,
                       void *log_ctx)
{
    segment_params sp = seg_params(p);
    int rc;
    if (!last) {
        /* The log's first segment, where the log starts (0, or where a
         * loss the catalog recorded left it). Recorded at once, so that
         * its offsets are never handed out again should it go missing
         * before the first roll. */
        uint64_t base = sl_catalog_get(p->cat)->next_offset_floor;
        rc = sl_segment_create(p->io, p->dir, base, &sp, &p->active);
        if (rc)
            return rc;
        int s = p->io->sync_dir(p->io, p->dir);
        if (s < 0)
            return sl_err_errno(s, "fsync of directory %s failed", p->dir);
        return sl_catalog_segment_created(p->cat, base);
    }
    rc = sl_segment_open_at(p->io, p->dir, last->location, last->base_offset, 1, &sp, &p->active);
    if (rc)
        return rc;
    if (sl_segment_indexes_rebuilt(p->active))
        logf_(log, log_ctx, SIGLOG_LOG_WARN, "%s: rebuilt missing or invalid offset and time indexes from the segment",
              sl_segment_file_path(p->active));
    /* Journaled: what precedes the journal's copy was synced by the last
     * checkpoint (all of it when the journal holds nothing of this
     * partition). NONE: only what the segment's summary says a clean
     * close synced; the rest is scanned. */
    sl_segment_trust_below(p->active, p->cfg.stream.sync_policy == SIGLOG_SYNC_NONE ? sl_segment_durable_offset(p->active)
                                                                           : journal_from);
    segment_tail t;
    if ((rc = sl_segment_scan_tail(p->active, &t)) != 0)
        return rc;
    /* Damage past what was synced is what a power cut does to unsynced
     * writes (they reach the disk in any order): for a journaled stream the
     * journal puts the data back; a NONE stream never promised it. What
     * was synced is vouched for and never cut: by the summary (a clean
     * close), or for a journaled stream by the checkpoint that synced
     * everything below the journal's copy. */
    int none = p->cfg.stream.sync_policy == SIGLOG_SYNC_NONE;
    int journal_restores = !none && journal_from <= t.next_offset;
    int checkpointed = !none && journal_from != UINT64_MAX && t.next_offset < journal_from;
    if ((t.vouched_damage || (checkpointed && t.valid_bytes < t.file_bytes)) && !journal_restores) {
        sl_err_set(SIGLOG_ECORRUPT,
                "%s: invalid batch at byte %" PRIu64 " (offset %" PRIu64 "), inside what %s vouches for: "
                "damage, not a torn tail; nothing was truncated and the partition refuses appends (see siglog verify)",
                sl_segment_file_path(p->active), t.valid_bytes, t.next_offset,
                t.vouched_damage ? "the segment's summary" : "the last checkpoint");
        open_damaged(p, &t, log, log_ctx);
        return 0;
    }
    if (t.damaged && (journal_restores || (none && t.next_offset >= sl_segment_durable_offset(p->active)))) {
        logf_(log, log_ctx, SIGLOG_LOG_WARN,
              "%s: unsynced writes reached the disk out of order; cutting at byte %" PRIu64 " (offset %" PRIu64
              ")%s",
              sl_segment_file_path(p->active), t.valid_bytes, t.next_offset,
              none ? ": sync policy none, nothing after the last sync was promised"
                   : ", the journal holds the rest");
    } else if (t.damaged) {
        sl_err_set(SIGLOG_ECORRUPT,
                "%s: invalid batch at byte %" PRIu64 " (offset %" PRIu64 ") is followed by a valid batch at "
                "byte %" PRIu64 " (offset %" PRIu64 "): damage inside the log, not a torn tail; "
                "nothing was truncated and the partition refuses appends (see siglog verify)",
                sl_segment_file_path(p->active), t.valid_bytes, t.next_offset, t.damage_next_pos,
                t.damage_next_offset);
        open_damaged(p, &t, log, log_ctx);
        return 0;
    }
    if (t.valid_bytes < t.file_bytes) {
        logf_(log, log_ctx, SIGLOG_LOG_WARN, "%s: truncated torn tail from %" PRIu64 " to %" PRIu64 " bytes",
              sl_segment_file_path(p->active), t.file_bytes, t.valid_bytes);
        if ((rc = sl_segment_truncate(p->active, t.valid_bytes)) != 0)
            return rc;
    }
    return sl_segment_adopt_tail(p->active, &t);
}

/* The segments the catalog names are there (a version 2 file), or those
 * listed agree with its version 1 bounds. *snap: the catalog's state. */
static int check_catalog_files(const partition *p, catalog *cat, catalog_snapshot **snap)
{
    catalog_snapshot *s = *snap = sl_catalog_snapshot_get(cat);
    int rc = p->cfg.catalog_required ? sl_catalog_check_required(p->dir, s) : 0;
    if (rc)
        return rc;
    if (!sl_catalog_snapshot_listed(s))
        return sl_catalog_check_files(sl_catalog_io(cat), sl_catalog_dir(cat), s);
    size_t n = sl_catalog_snapshot_count(s);
    uint64_t *bases = malloc((n ? n : 1) * sizeof *bases);
    if (!bases)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        bases[i] = sl_catalog_snapshot_segment(s, i)->base_offset;
    rc = sl_catalog_match_segments(cat, bases, n);
    free(bases);
    return rc;
}

int sl_partition_open(partition **out, const siglog_io *io, const char *dir, uint32_t id, const partition_config *cfg,
                   int writable, uint64_t journal_from, partition_log_fn log, void *log_ctx)
{
    *out = NULL;
    partition *p = calloc(1, sizeof *p);
    if (!p || !(p->dir = strdup(dir))) {
        free(p);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->published, NULL);
    p->io = io;
    p->cfg = *cfg;
    p->id = id;
    p->writable = writable;
    sl_batch_builder_init(&p->open);
    /* Records are encoded into the pending run where their batch will be
     * written from: sealing copies no uncompressed body. */
    sl_batch_builder_build_into(&p->open, &p->pending.bytes);
    int rc = 0;
    if (writable) {
        /* Only stream creation makes partition directories: the catalog
         * reports a missing one, and segments missing from its log. */
        catalog_snapshot *cs = NULL;
        rc = sl_catalog_open(&p->cat, io, dir, cfg->file_mode);
        if (!rc)
            rc = check_catalog_files(p, p->cat, &cs);
        if (!rc)
            rc = sl_catalog_drop_unnamed_tail(p->cat);
        if (!rc && cfg->remove_leftovers)
            rc = sl_catalog_remove_leftovers(p->cat);
        int missing = rc == SIGLOG_ECORRUPT;
        if (!rc) {
            size_t n = sl_catalog_snapshot_count(cs);
            const catalog_segment *last = n ? sl_catalog_snapshot_segment(cs, n - 1) : NULL;
            rc = open_active(p, last, journal_from, log, log_ctx);
            if (!rc && p->active && !p->damaged)
                rc = usage_open(p, last, log, log_ctx);
        }
        sl_catalog_snapshot_release(cs);
        /* A damaged partition is left as it is: it writes nothing. */
        if (!rc && !p->damaged)
            missing = (rc = sl_catalog_check_end(dir, sl_catalog_get(p->cat), sl_segment_next_offset(p->active))) != 0;
        if (missing) {
            open_missing(p, log, log_ctx);
            rc = 0;
        }
        /* A store from before the catalog gets its checkpoint now, with
         * the figures of its sealed segments. */
        segment_params sp = seg_params(p);
        if (!rc && !p->damaged)
            rc = sl_catalog_fill_figures(p->cat, &sp);
        if (!rc && !p->damaged)
            rc = sl_catalog_commit(p->cat, sl_segment_base_offset(p->active), sl_segment_base_offset(p->active));
        /* A floor file it cannot write now is written by the next commit
         * of the catalog (which fails if it cannot): the open goes on. */
        if (!rc && !p->damaged && sl_catalog_keep_floor(p->cat) != 0)
            logf_(log, log_ctx, SIGLOG_LOG_WARN, "%s: %s; the next catalog write writes it", dir, siglog_errdetail());
        if (rc)
            goto fail;
        if (!p->damaged) {
            p->next_offset = sl_segment_next_offset(p->active);
            publish_locked(p);
        }
    }
    *out = p;
    return 0;
fail:
    sl_partition_close(p);
    return rc;
}

void sl_partition_close(partition *p)
{
    if (!p)
        return;
    sl_segment_close(p->active);
    sl_catalog_close(p->cat);
    sl_batch_builder_free(&p->open);
    sl_batch_run_free(&p->pending);
    sl_batch_run_free(&p->inflight);
    sl_batch_run_free(&p->journaled);
    sl_schema_usage_free(&p->usage);
    sl_bytebuf_free(&p->usage_scratch);
    sl_key_hashes_free(&p->keys);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->published);
    free(p->dir);
    free(p);
}

int sl_partition_rebuild_indexes(partition *p)
{
    pthread_mutex_lock(&p->mu);
    /* PARTITION_INDEXES_REBUILT: its open did, and said so */
    int rc = !p->active                              ? PARTITION_NOT_OPEN
             : sl_segment_indexes_rebuilt(p->active) ? PARTITION_INDEXES_REBUILT
                                                     : sl_segment_rebuild_indexes(p->active);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void fail_locked(partition *p, int code)
{
    if (p->failed)
        return;
    p->failed = code;
    snprintf(p->failed_detail, sizeof p->failed_detail, "%s", siglog_errdetail());
    pthread_cond_broadcast(&p->published);
}

int sl_partition_wait_durable(partition *p, uint64_t offset, const int *store_failed, const struct timespec *until)
{
    pthread_mutex_lock(&p->mu);
    int rc;
    /* A NONE partition never goes through the journal: a journal failure
     * does not concern it. */
    if (p->cfg.stream.sync_policy == SIGLOG_SYNC_NONE)
        store_failed = NULL;
    /* Checked once: a failed NONE write may hand the offset out again
     * while we wait (the reissued range below tells). */
    if (offset >= p->next_offset) {
        rc = sl_err_set(SIGLOG_EINVAL, "%s: offset %llu was never appended (next offset %llu)", p->dir,
                     (unsigned long long)offset, (unsigned long long)p->next_offset);
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    for (;;) {
        if (offset >= p->reissued_from && offset < p->reissued_to) {
            rc = sl_err_set(SIGLOG_EFAILED,
                         "%s: offset %llu was dropped by a failed segment write and handed out again: "
                         "whether its event is stored cannot be told",
                         p->dir, (unsigned long long)offset);
            break;
        }
        /* Durable first: a later failure does not undo what was durable. */
        if (offset < p->hwm.hwm_offset) {
            rc = 0;
            break;
        }
        if (p->failed) {
            rc = sl_err_set(SIGLOG_EFAILED, "%s: offset %llu will never be durable: %s", p->dir,
                         (unsigned long long)offset, p->failed_detail);
            break;
        }
        if (store_failed && __atomic_load_n(store_failed, __ATOMIC_ACQUIRE)) {
            rc = PARTITION_STORE_FAILED;
            break;
        }
        if (!until) {
            pthread_cond_wait(&p->published, &p->mu);
        } else if (pthread_cond_timedwait(&p->published, &p->mu, until) == ETIMEDOUT) {
            rc = offset < p->hwm.hwm_offset ? 0 : PARTITION_TIMED_OUT;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_wait_beyond(partition *p, uint64_t offset, const struct timespec *until)
{
    if (!p->writable)
        return 1;
    pthread_mutex_lock(&p->mu);
    if (p->hwm.hwm_offset <= offset)
        pthread_cond_timedwait(&p->published, &p->mu, until);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void sl_partition_wake_waiters(partition *p)
{
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->published);
    pthread_mutex_unlock(&p->mu);
}

void sl_partition_fail_unservable(partition *p, const char *detail)
{
    pthread_mutex_lock(&p->mu);
    sl_err_set(SIGLOG_ECORRUPT, "%s", detail);
    fail_locked(p, SIGLOG_ECORRUPT);
    p->unservable = 1;
    pthread_mutex_unlock(&p->mu);
}

static int seal_open_locked(partition *p)
{
    if (p->open.record_count == 0)
        return 0;
    int rc = batch_run_reserve_meta(&p->pending, p->pending.count + 1);
    if (rc)
        return rc;
    batch_meta meta;
    rc = sl_batch_builder_seal(&p->open, (int)p->cfg.stream.compression, &p->pending.bytes, &meta);
    if (rc)
        return rc;
    p->pending.metas[p->pending.count++] = meta;
    sl_batch_builder_reset(&p->open, p->next_offset, 0);
    return 0;
}

static int append_locked(partition *p, const siglog_event *const *events, size_t n, int64_t now_us,
                            uint64_t *offsets_out)
{
    int64_t mono = p->io->monotonic_us(p->io);
    for (size_t i = 0; i < n; i++) {
        const siglog_event *ev = events[i];
        int64_t ts = ev->timestamp_us ? ev->timestamp_us : now_us;
        size_t size = sl_batch_record_size(ev, ts);
        if (p->open.record_count && sl_batch_builder_body_len(&p->open) + size > p->cfg.stream.batch_bytes_max) {
            int rc = seal_open_locked(p);
            if (rc)
                return rc;
        }
        if (p->open.record_count == 0)
            sl_batch_builder_reset(&p->open, p->next_offset, mono);
        int rc = sl_batch_builder_add(&p->open, ev, ts);
        if (rc)
            return rc;
        sl_key_hashes_note(&p->keys, p->next_offset, ev->key, ev->key_len);
        if (offsets_out)
            offsets_out[i] = p->next_offset;
        p->next_offset++;
    }
    if (p->cfg.stream.sync_policy == SIGLOG_SYNC_NONE && p->pending.count)
        return write_pending_locked(p);
    return 0;
}

static int roll_locked(partition *p)
{
    uint64_t base = sl_segment_base_offset(p->active), end = sl_segment_next_offset(p->active);
    int rc = sl_segment_seal_keyed(p->active, sl_key_hashes_segment(&p->keys, base, end));
    sl_key_hashes_sealed(&p->keys, end);
    catalog_segment sealed;
    if (!rc)
        rc = sl_catalog_describe_segment(p->active, &sealed);
    if (!rc)
        seg_versions_describe(p, &sealed);
    if (rc) {
        fail_locked(p, rc);
        return rc;
    }
    segment_params sp = seg_params(p);
    segment *next;
    if ((rc = sl_segment_create(p->io, p->dir, end, &sp, &next)) != 0)
        return rc;
    int s = p->io->sync_dir(p->io, p->dir);
    if (s < 0) {
        rc = sl_err_errno(s, "fsync of directory %s failed", p->dir);
        sl_segment_close(next);
        fail_locked(p, rc);
        return rc;
    }
    sl_segment_close(p->active);
    p->active = next;
    p->dirty = 0;
    publish_locked(p);
    /* The new segment is durable, and every offset below its base with
     * the sealed one: the log can never again end below it. A crash
     * before this leaves the new segment empty and unnamed; the next
     * writer goes on in the sealed one and creates it again. */
    p->seg_version_count = 0;
    p->seg_versions_unknown = 0;
    if ((rc = sl_catalog_roll(p->cat, &sealed)) != 0 || (rc = usage_save_locked(p)) != 0) {
        fail_locked(p, rc);
        return rc;
    }
    return 0;
}

static int maybe_roll_locked(partition *p, int64_t now_us)
{
    uint64_t size = sl_segment_size(p->active);
    if (size == 0)
        return 0;
    int64_t age = now_us - sl_segment_created_us(p->active);
    int full = size >= p->cfg.stream.segment_bytes_max ||
               sl_segment_next_offset(p->active) - sl_segment_base_offset(p->active) >= REL_OFFSET_ROLL;
    int old = p->cfg.stream.segment_age_max_us && age >= (int64_t)p->cfg.stream.segment_age_max_us;
    return full || old ? roll_locked(p) : 0;
}

/* Write a run to the active segment, splitting it where the segment must
 * roll, so a segment never grows far past its limit. */
static int write_run_locked(partition *p, const batch_run *r)
{
    size_t first = 0;
    uint64_t pos = 0;
    int64_t now = p->io->now_us(p->io);
    while (first < r->count) {
        uint64_t room = p->cfg.stream.segment_bytes_max > sl_segment_size(p->active)
                            ? p->cfg.stream.segment_bytes_max - sl_segment_size(p->active)
                            : 0;
        size_t n = 0;
        uint64_t bytes = 0;
        do {
            bytes += r->metas[first + n].bytes;
            n++;
        } while (first + n < r->count && bytes + r->metas[first + n].bytes <= room);
        int rc = sl_segment_append(p->active, r->bytes.data + pos, (size_t)bytes, r->metas + first, n);
        if (!rc) {
            usage_batches_locked(p, r->bytes.data + pos, r->metas + first, n);
            sl_key_hashes_written(&p->keys, sl_segment_next_offset(p->active));
        }
        if (rc) {
            /* Cut whatever part of the write reached the file, so the
             * segment ends on a batch boundary again. */
            int keep = rc;
            if ((rc = sl_segment_truncate(p->active, sl_segment_size(p->active))) != 0)
                fail_locked(p, rc);
            return keep;
        }
        p->dirty = 1;
        p->last_batch_end = sl_segment_size(p->active);
        p->last_batch_pos = p->last_batch_end - r->metas[first + n - 1].bytes;
        first += n;
        pos += bytes;
        if ((rc = maybe_roll_locked(p, now)) != 0)
            return rc;
    }
    return 0;
}

/* The pending run's sealed batches were written: the open batch's bytes,
 * which followed them, start the pending buffer. */
static void pending_keep_open_locked(partition *p)
{
    bytebuf *b = &p->pending.bytes;
    size_t open = sl_batch_builder_open_bytes(&p->open);
    if (open) /* the buffer may have no array yet */
        memmove(b->data, b->data + b->len - open, open);
    b->len = open;
    p->pending.count = 0;
    sl_batch_builder_moved(&p->open, 0);
}

static int write_pending_locked(partition *p)
{
    if (p->pending.count == 0)
        return 0;
    if (p->failed)
        return sl_err_set(SIGLOG_EFAILED, "%s: partition failed earlier: %s", p->dir, p->failed_detail);
    int rc = write_run_locked(p, &p->pending);
    if (rc) {
        /* Nothing here was promised durable (policy NONE): what did not
         * reach the segment is dropped and its offsets are handed out
         * again. */
        uint64_t dropped_to = p->next_offset;
        p->next_offset = sl_segment_next_offset(p->active);
        sl_key_hashes_cut(&p->keys, p->next_offset);
        if (p->reissued_from == p->reissued_to || p->next_offset < p->reissued_from)
            p->reissued_from = p->next_offset;
        if (dropped_to > p->reissued_to)
            p->reissued_to = dropped_to;
        sl_batch_builder_reset(&p->open, p->next_offset, 0);
        sl_batch_run_clear(&p->pending);
        publish_locked(p);
        return rc;
    }
    pending_keep_open_locked(p);
    publish_locked(p);
    return 0;
}

static uint64_t take_pending_locked(partition *p, uint64_t max_bytes, uint64_t below)
{
    batch_run *src = &p->pending, *dst = &p->inflight;
    sl_batch_run_clear(dst);
    size_t n = 0;
    uint64_t bytes = 0;
    while (n < src->count && src->metas[n].base_offset < below && bytes + src->metas[n].bytes <= max_bytes)
        bytes += src->metas[n++].bytes;
    if (n == 0)
        return 0;
    /* The open batch's bytes follow the sealed ones and stay pending. */
    size_t open = sl_batch_builder_open_bytes(&p->open);
    if (n == src->count) {
        /* The common case: no copy but of an open batch that appends
         * began since the round sealed (the buffer swapped in gets it). */
        if (sl_bytebuf_reserve(&dst->bytes, open) != 0)
            return 0;
        batch_run_swap(src, dst);
        (void)sl_bytebuf_append(&src->bytes, dst->bytes.data + bytes, open); /* room reserved */
        dst->bytes.len = (size_t)bytes;
        sl_batch_builder_moved(&p->open, 0);
        return bytes;
    }
    /* Split: rare (a commit larger than the journal's free space). */
    if (sl_bytebuf_append(&dst->bytes, src->bytes.data, (size_t)bytes) != 0)
        return 0;
    if (batch_run_reserve_meta(dst, n) != 0)
        return 0;
    memcpy(dst->metas, src->metas, n * sizeof *dst->metas);
    dst->count = n;
    memmove(src->bytes.data, src->bytes.data + bytes, src->bytes.len - (size_t)bytes);
    src->bytes.len -= (size_t)bytes;
    memmove(src->metas, src->metas + n, (src->count - n) * sizeof *src->metas);
    src->count -= n;
    if (open)
        sl_batch_builder_moved(&p->open, src->bytes.len - open);
    return bytes;
}

static int apply_inflight_locked(partition *p)
{
    if (p->inflight.count == 0)
        return 0;
    int rc = write_run_locked(p, &p->inflight);
    sl_batch_run_clear(&p->inflight);
    if (rc) {
        /* The batches are safe in the journal; reopening replays them.
         * Until then this partition must not accept more. */
        fail_locked(p, rc);
        return rc;
    }
    publish_locked(p);
    return 0;
}

int sl_partition_close_checkpoint(partition *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (!p->failed) {
        rc = sl_segment_checkpoint(p->active);
        /* The floor and the active entry's versions in one catalog write
         * (usage_save_locked's order kept: the versions before the
         * figures' file); all of the segment is durable now. */
        catalog_segment e = { .base_offset = sl_segment_base_offset(p->active),
                              .end_offset = sl_segment_next_offset(p->active) };
        seg_versions_describe(p, &e);
        if (!rc)
            rc = sl_catalog_commit_and(p->cat, e.base_offset, e.end_offset, change_active_versions, &e);
        if (!rc)
            rc = usage_file_save_locked(p);
        if (rc)
            fail_locked(p, rc);
        else
            p->dirty = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int sync_locked(partition *p)
{
    if (!p->dirty)
        return 0;
    int rc = sl_segment_sync(p->active);
    if (rc) {
        fail_locked(p, rc);
        return rc;
    }
    p->dirty = 0;
    return 0;
}

static int replay_locked(partition *p, const uint8_t *batches, size_t len)
{
    if (p->unservable) {
        /* It takes nothing, but those offsets were acknowledged: how far
         * they go is kept for an accepted loss (sl_partition_unserved_end). */
        batch_header h;
        for (size_t pos = 0; pos < len && sl_batch_header_decode(batches + pos, &h) == 0;
             pos += BATCH_HEADER_BYTES + h.body_len)
            if (batch_end_offset(&h) > p->unserved_end)
                p->unserved_end = batch_end_offset(&h);
        return 0;
    }
    /* Emptying the journal afterwards would lose these commits. */
    if (p->damaged)
        return sl_err_set(SIGLOG_ECORRUPT, "the journal holds commits of a damaged partition: %s", p->failed_detail);
    size_t pos = 0;
    while (pos < len) {
        batch_header h;
        int rc = sl_batch_header_decode(batches + pos, &h);
        if (rc)
            return rc;
        uint32_t bytes = BATCH_HEADER_BYTES + h.body_len;
        uint64_t next = sl_segment_next_offset(p->active);
        if (batch_end_offset(&h) <= next) {
            pos += bytes;
            continue;
        }
        if (h.base_offset != next)
            return sl_err_set(SIGLOG_ECORRUPT,
                           "%s: journal holds offsets from %" PRIu64 " but the partition ends at %" PRIu64,
                           p->dir, h.base_offset, next);
        batch_meta meta = batch_meta_of(&h);
        batch_run one = {.bytes = {.data = (uint8_t *)batches + pos, .len = bytes, .cap = bytes},
                         .metas = &meta,
                         .count = 1};
        if ((rc = write_run_locked(p, &one)) != 0)
            return rc;
        pos += bytes;
    }
    p->next_offset = sl_segment_next_offset(p->active);
    publish_locked(p);
    return 0;
}

int sl_partition_append_batches(partition *p, const siglog_event *const *events, size_t n, int64_t now_us,
                             uint64_t *offsets_out, partition_appended *out)
{
    pthread_mutex_lock(&p->mu);
    int rc;
    if (p->damaged)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: partition refuses appends: %s", p->dir, p->failed_detail);
    else if (p->failed)
        rc = sl_err_set(SIGLOG_EFAILED, "%s: partition refuses appends since an earlier failure: %s", p->dir,
                     p->failed_detail);
    else
        rc = append_locked(p, events, n, now_us, offsets_out);
    out->sync_policy = p->cfg.stream.sync_policy;
    out->pending_bytes = p->pending.bytes.len;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_check_published(partition *p, uint64_t last_offset)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (p->hwm.hwm_offset <= last_offset)
        rc = sl_err_set(p->failed ? SIGLOG_EFAILED : SIGLOG_EIO, "%s: offset %llu was not made durable: %s", p->dir,
                     (unsigned long long)last_offset, p->failed ? p->failed_detail : "commit incomplete");
    pthread_mutex_unlock(&p->mu);
    return rc;
}

uint64_t sl_partition_published_offset(partition *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t next = p->hwm.hwm_offset;
    pthread_mutex_unlock(&p->mu);
    return next;
}

int sl_partition_commit_begin(partition *p, uint64_t *below)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    *below = 0;
    if (!p->failed && p->cfg.stream.sync_policy != SIGLOG_SYNC_NONE && (rc = seal_open_locked(p)) == 0)
        *below = p->next_offset; /* what was appended before the round */
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_take_pending(partition *p, uint64_t max_bytes, uint64_t below, partition_take *out)
{
    *out = (partition_take){0};
    pthread_mutex_lock(&p->mu);
    if (!p->failed && p->pending.count && p->pending.metas[0].base_offset < below) {
        uint64_t taken = take_pending_locked(p, max_bytes, below);
        if (taken) {
            out->bytes = p->inflight.bytes.data;
            out->len = p->inflight.bytes.len;
            out->more = p->pending.count && p->pending.metas[0].base_offset < below;
        } else {
            out->first_bytes = p->pending.metas[0].bytes;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int sl_partition_apply_inflight(partition *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = apply_inflight_locked(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void sl_partition_fail_inflight(partition *p, int code)
{
    pthread_mutex_lock(&p->mu);
    sl_batch_run_clear(&p->inflight);
    fail_locked(p, code);
    pthread_mutex_unlock(&p->mu);
}

int sl_partition_journal_checkpoint(partition *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = sync_locked(p);
    /* The journal forgets these batches next: from then on only the
     * segment holds them, and should the segment be lost (an accepted
     * loss) only the floor says their offsets were handed out. What the
     * segment holds is durable now. sl_catalog_commit writes only when the
     * floor moved. */
    if (!rc && p->active && !p->failed) {
        rc = sl_catalog_commit(p->cat, sl_segment_base_offset(p->active), sl_segment_next_offset(p->active));
        if (rc)
            fail_locked(p, rc);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_catalog_poll(partition *p, int64_t now_us)
{
    (void)now_us;
    /* Maintenance bumps the hwm file's counter after each catalog commit:
     * while it has not moved there is nothing to pick up, and no file is
     * read. It is loaded before the catalog's header, so a commit after
     * that read moves it again. Without the file (or before the first
     * poll) the header is read every time. `catalog_seen` is the poll's
     * own (one background task). */
    pthread_mutex_lock(&p->mu);
    hwm_file *hint = p->hint;
    pthread_mutex_unlock(&p->mu);
    if (hint) {
        uint32_t change = sl_hwm_catalog_change(hint);
        if (p->catalog_seen_valid && change == p->catalog_seen)
            return 0;
        p->catalog_seen = change;
        p->catalog_seen_valid = 1;
    }
    /* The header is read without `mu` (the directory and I/O are fixed):
     * appenders wait only when there is something to pick up. */
    uint64_t disk;
    int rc = sl_catalog_disk_generation(p->io, p->dir, &disk);
    if (rc) {
        p->catalog_seen_valid = 0; /* try again at the next poll */
        return rc;
    }
    pthread_mutex_lock(&p->mu);
    if (p->active && !p->failed && disk > sl_catalog_generation(p->cat)) {
        rc = sl_catalog_refresh(p->cat);
        if (!rc && p->hwm.log_start_offset != sl_catalog_get(p->cat)->log_start_offset) {
            p->hwm.log_start_offset = sl_catalog_get(p->cat)->log_start_offset;
            publish_hint_locked(p);
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (rc)
        p->catalog_seen_valid = 0;
    return rc;
}

uint64_t sl_partition_unserved_end(partition *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t end = p->unserved_end;
    pthread_mutex_unlock(&p->mu);
    return end;
}

int sl_partition_check_journal_release(partition *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (p->failed && !p->damaged)
        rc = sl_err_set(SIGLOG_EFAILED, "%s: failed partition (%s); the journal keeps its batches for the next open",
                     p->dir, p->failed_detail);
    else if (p->unserved_end)
        rc = sl_err_set(SIGLOG_EFAILED,
                     "%s: %s; the journal keeps its acknowledged batches (offsets up to %" PRIu64
                     ") until the files are restored or their loss is accepted (siglog verify --repair --accept-loss)",
                     p->dir, p->failed_detail, p->unserved_end - 1);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_seal_lingering(partition *p, int64_t mono_us)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (!p->failed && p->cfg.stream.sync_policy == SIGLOG_SYNC_NONE && p->open.record_count &&
        mono_us - p->open.opened_us >= (int64_t)p->cfg.stream.linger_us) {
        rc = seal_open_locked(p);
        if (!rc)
            rc = write_pending_locked(p);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_roll_if_old(partition *p, int64_t wall_us)
{
    pthread_mutex_lock(&p->mu);
    int rc = p->failed ? 0 : maybe_roll_locked(p, wall_us);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Roll the active segment when it holds anything; EFAILED when the
 * partition cannot take writes. */
static int roll_now_locked(partition *p)
{
    if (p->failed)
        return sl_err_set(SIGLOG_EFAILED, "partition %s: failed, not rolled", p->dir);
    if (!p->active)
        return sl_err_set(SIGLOG_EFAILED, "partition %s: found incomplete at open (see verify), not rolled", p->dir);
    return sl_segment_size(p->active) ? roll_locked(p) : 0;
}

int sl_partition_roll_idle(partition *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = p->active && !p->failed && (p->open.record_count || p->pending.count || p->inflight.count)
                 ? sl_err_set(SIGLOG_ELIMIT, "partition %s: events not yet in its segment, not rolled", p->dir)
                 : roll_now_locked(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_roll_asked(partition *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = roll_now_locked(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_flush(partition *p, int do_sync)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (p->cfg.stream.sync_policy == SIGLOG_SYNC_NONE) {
        rc = seal_open_locked(p);
        if (!rc)
            rc = write_pending_locked(p);
        if (!rc && do_sync)
            rc = sync_locked(p);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sl_partition_replay(partition *p, const uint8_t *batches, size_t len)
{
    pthread_mutex_lock(&p->mu);
    int rc = replay_locked(p, batches, len);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

const char *sl_partition_path(const partition *p)
{
    return p->dir;
}

int sl_partition_damaged(const partition *p)
{
    return p->damaged;
}

uint32_t sl_partition_id(const partition *p)
{
    return p->id;
}

const batch_run *sl_partition_journaled(const partition *p)
{
    return &p->journaled;
}

int sl_partition_catalog_snapshot(const partition *p, catalog_snapshot **out)
{
    int rc = sl_catalog_snapshot_load(p->io, p->dir, out);
    if (!rc && p->cfg.catalog_required && (rc = sl_catalog_check_required(p->dir, *out)) != 0) {
        sl_catalog_snapshot_release(*out);
        *out = NULL;
    }
    return rc;
}

static int excludes_hash(void *arg, const keyfilter *f)
{
    return !sl_keyfilter_may_contain(f, *(const uint64_t *)arg);
}

int sl_partition_cold_key_excluded(partition *p, const catalog_segment *e, uint64_t h)
{
    pthread_mutex_lock(&p->mu);
    partition_config pc = p->cfg;
    pthread_mutex_unlock(&p->mu);
    return sl_cold_filters_exclude(pc.backend, &pc.stream, pc.store_id, pc.stream_name, p->id, e, excludes_hash,
                                   &h);
}

int sl_partition_segment_open(partition *p, const catalog_segment *e, segment **out)
{
    if (sl_cold_entry(e)) {
        pthread_mutex_lock(&p->mu);
        partition_config pc = p->cfg;
        pthread_mutex_unlock(&p->mu);
        return sl_cold_segment_open(pc.backend, &pc.stream, pc.store_id, pc.stream_name, p->id, e, out);
    }
    segment_params sp = reader_params(p);
    return sl_segment_open_at(p->io, p->dir, e->location, e->base_offset, 0, &sp, out);
}

int sl_partition_segment_missing(const partition *p, const catalog_snapshot *cs, size_t i, size_t *after)
{
    return sl_catalog_missing_run(p->io, p->dir, cs, i, after);
}

int sl_partition_add_journaled(partition *p, const uint8_t *batches, size_t len)
{
    if (p->unservable)
        return 0; /* failed over journal damage: it serves nothing */
    batch_run *r = &p->journaled;
    for (size_t pos = 0; pos < len;) {
        batch_header h;
        int rc = sl_batch_header_decode(batches + pos, &h);
        if (rc)
            return rc;
        uint32_t bytes = BATCH_HEADER_BYTES + h.body_len;
        const batch_meta *last = r->count ? &r->metas[r->count - 1] : NULL;
        if (last && h.base_offset != batch_meta_end_offset(last))
            return sl_err_set(SIGLOG_ECORRUPT,
                           "%s: the journal holds offsets from %" PRIu64 " after offsets up to %" PRIu64, p->dir,
                           h.base_offset, batch_meta_end_offset(last) - 1);
        if ((rc = batch_run_reserve_meta(r, r->count + 1)) != 0 ||
            (rc = sl_bytebuf_append(&r->bytes, batches + pos, bytes)) != 0)
            return rc;
        r->metas[r->count++] = batch_meta_of(&h);
        pos += bytes;
    }
    return 0;
}

/* Serve the journaled batches beyond what the segments hold (out->hwm_offset
 * so far), as a writer's recovery would append them. */
static int snapshot_add_journaled(const partition *p, partition_snapshot *out)
{
    const batch_run *r = &p->journaled;
    out->journal_from = out->hwm_offset;
    uint64_t pos = 0;
    for (size_t i = 0; i < r->count; pos += r->metas[i++].bytes) {
        const batch_meta *m = &r->metas[i];
        if (batch_meta_end_offset(m) <= out->journal_from)
            continue; /* the segments hold it already */
        if (m->base_offset != out->journal_from)
            return sl_err_set(SIGLOG_ECORRUPT,
                           "%s: journal holds offsets from %" PRIu64 " but the partition ends at %" PRIu64, p->dir,
                           m->base_offset, out->journal_from);
        const batch_meta *last = &r->metas[r->count - 1];
        out->journal_batch = i;
        out->journal_pos = pos;
        out->hwm_offset = batch_meta_end_offset(last);
        return 0;
    }
    return 0;
}

/* What the segments of a read-only partition hold, from its directory,
 * checked against the catalog's checkpoint (*cp, when *found) unless gaps
 * are allowed: then the log starts where the checkpoint says, and the
 * cursor skips what is missing. */
static int snapshot_of_segments(partition *p, const hwm_mark *hint, partition_snapshot *out, catalog_checkpoint *cp,
                                int *found, int allow_gaps)
{
    /* One load: a version 2 file names the segments; without one the
     * catalog lists them, after reading the version 1 bounds (a writer
     * creates a segment before the checkpoint that names it). */
    catalog_snapshot *cs;
    int rc = sl_partition_catalog_snapshot(p, &cs);
    if (rc)
        return rc;
    *cp = *sl_catalog_snapshot_bounds(cs);
    *found = sl_catalog_snapshot_found(cs);
    size_t n = sl_catalog_snapshot_count(cs);
    uint64_t *bases = malloc((n ? n : 1) * sizeof *bases);
    if (!bases) {
        sl_catalog_snapshot_release(cs);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        bases[i] = sl_catalog_snapshot_segment(cs, i)->base_offset;
    if (*found && !allow_gaps)
        rc = sl_catalog_snapshot_listed(cs) ? sl_catalog_check_segments(p->dir, cp, bases, n)
                                         : sl_catalog_check_ends(p->io, p->dir, cs);
    if (rc || n == 0) {
        free(bases);
        sl_catalog_snapshot_release(cs);
        return rc;
    }
    segment_params sp = seg_params(p);
    segment *s;
    out->log_start_offset = allow_gaps && *found && cp->log_start_offset < bases[0] ? cp->log_start_offset : bases[0];
    out->active_base = bases[n - 1];
    out->hwm_offset = bases[n - 1];
    /* The writer's published mark, when the segment bytes confirm it, is
     * exactly what the tail scan below would find: no scan. Not with
     * journaled batches: those come from a writer that is gone. */
    if (hint && hint->active_base == bases[n - 1] && p->journaled.count == 0 &&
        sl_hwm_check_segment(p->io, p->dir, hint)) {
        free(bases);
        sl_catalog_snapshot_release(cs);
        out->hwm_offset = hint->next_offset;
        out->active_bytes = hint->active_bytes;
        return 0;
    }
    rc = sl_segment_open_at(p->io, p->dir, sl_catalog_snapshot_segment(cs, n - 1)->location, bases[n - 1], 0, &sp, &s);
    free(bases);
    sl_catalog_snapshot_release(cs);
    if (rc == SIGLOG_ENOENT)
        return 0; /* removed under us: an empty view is consistent */
    if (rc)
        return rc;
    /* As a writer's recovery: what precedes the journal's copy was synced
     * by the last checkpoint; index entries beyond it may name batches a
     * power cut took away. */
    uint64_t journal_from = p->journaled.count ? p->journaled.metas[0].base_offset : UINT64_MAX;
    sl_segment_trust_below(s, journal_from);
    segment_tail t;
    rc = sl_segment_scan_tail(s, &t);
    if (!rc && journal_from <= t.next_offset) {
        /* The journal restores what follows the valid prefix, whatever
         * it is (open_active cuts it). */
        out->hwm_offset = t.next_offset;
        out->active_bytes = t.valid_bytes;
    } else if (!rc) {
        /* Another process may be writing the tail: stop at the last fully
         * valid batch, whatever follows, unless it is vouched for (then
         * the cursor meets the damage as an error). */
        out->hwm_offset = t.end_offset;
        out->active_bytes = t.end_bytes;
        out->damaged = t.vouched_damage;
        out->damage_pos = t.valid_bytes;
        out->damage_offset = t.next_offset;
    }
    sl_segment_close(s);
    return rc;
}

int sl_partition_snapshot_get(partition *p, partition_snapshot *out, int allow_gaps)
{
    return sl_partition_snapshot_hinted(p, NULL, out, allow_gaps);
}

int sl_partition_snapshot_hinted(partition *p, const hwm_mark *hint, partition_snapshot *out, int allow_gaps)
{
    memset(out, 0, sizeof *out);
    /* Set at open, before any cursor: read without the lock. */
    if (p->unservable)
        return sl_err_set(SIGLOG_ECORRUPT, "%s", p->failed_detail);
    if (p->writable) {
        pthread_mutex_lock(&p->mu);
        *out = p->hwm;
        pthread_mutex_unlock(&p->mu);
        out->journal_from = out->hwm_offset;
        return 0;
    }
    catalog_checkpoint cp;
    int found = 0;
    int rc = snapshot_of_segments(p, hint, out, &cp, &found, allow_gaps);
    if (!rc)
        rc = snapshot_add_journaled(p, out);
    /* The log, the journal's commits included, never ends below what
     * the catalog's checkpoint recorded. */
    if (!rc && found && !allow_gaps)
        rc = sl_catalog_check_end(p->dir, &cp, out->hwm_offset);
    return rc;
}

/* See sl_partition_set_config. Unlike write_pending_locked, nothing is
 * published before the sync: a durability waiter must not wake early. */
static int settle_locked(partition *p)
{
    int rc = seal_open_locked(p);
    if (!rc && p->pending.count)
        rc = write_run_locked(p, &p->pending);
    if (!rc)
        rc = sync_locked(p);
    if (rc) {
        fail_locked(p, rc);
        return rc;
    }
    sl_batch_run_clear(&p->pending);
    publish_locked(p);
    return 0;
}

int sl_partition_set_config(partition *p, const siglog_stream_config *c)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (p->writable && !p->failed && c->sync_policy != p->cfg.stream.sync_policy)
        rc = settle_locked(p);
    p->cfg.stream = *c;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* First record timestamp and largest timestamp over all segments. */
static int timestamp_range(partition *p, const catalog_snapshot *cs, int64_t *first, int64_t *max)
{
    size_t n = sl_catalog_snapshot_count(cs);
    segment_params sp = reader_params(p);
    *first = 0;
    *max = INT64_MIN;
    bytebuf buf = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        segment *s;
        const catalog_segment *e = sl_catalog_snapshot_segment(cs, i);
        if (sl_cold_entry(e)) {
            /* Sealed, its times in the catalog: its archive stays shut. */
            if (i == 0)
                *first = e->first_timestamp_us;
            if (e->max_timestamp_us > *max)
                *max = e->max_timestamp_us;
            continue;
        }
        rc = sl_segment_open_at(p->io, p->dir, e->location, e->base_offset, 0, &sp, &s);
        if (rc == SIGLOG_ENOENT) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        /* A sealed segment's summary knows its largest timestamp; only the
         * last one (or one without a summary) is scanned. */
        segment_tail t = {.max_timestamp_us = sl_segment_max_timestamp(s), .valid_bytes = sl_segment_size(s)};
        if (i + 1 == n || t.max_timestamp_us == INT64_MIN)
            rc = sl_segment_scan_tail(s, &t);
        if (!rc && t.max_timestamp_us > *max)
            *max = t.max_timestamp_us;
        if (!rc && i == 0 && t.valid_bytes) {
            batch_header h;
            if (sl_segment_read_batch(s, 0, t.valid_bytes, &h, &buf) == 1)
                *first = h.first_timestamp_us;
        }
        sl_segment_close(s);
    }
    sl_bytebuf_free(&buf);
    if (*max == INT64_MIN)
        *max = 0;
    return rc;
}

/* Widen the timestamps with the journaled batches the snapshot serves. */
static void journaled_timestamp_range(const partition *p, const partition_snapshot *snap, siglog_partition_info *out)
{
    const batch_run *r = &p->journaled;
    if (snap->journal_from == snap->hwm_offset)
        return;
    if (snap->journal_from == snap->log_start_offset) {
        batch_header h;
        if (sl_batch_header_decode(r->bytes.data + snap->journal_pos, &h) == 0)
            out->first_timestamp_us = h.first_timestamp_us;
    }
    for (size_t i = snap->journal_batch; i < r->count; i++)
        if (r->metas[i].max_timestamp_us > out->max_timestamp_us)
            out->max_timestamp_us = r->metas[i].max_timestamp_us;
}

/* out's state and detail: the writer's failure as it stands, or what a
 * reader's snapshot found. */
static void info_state(partition *p, const partition_snapshot *snap, siglog_partition_info *out)
{
    int failed = 0, damaged = snap->damaged;
    if (p->writable) {
        pthread_mutex_lock(&p->mu);
        failed = p->failed;
        damaged |= p->damaged;
        /* The public field is shorter than a kept detail (its size is
         * ABI): a long one is cut there, never in siglog_errdetail. */
        if (failed)
            snprintf(out->detail, sizeof out->detail, "%.*s", (int)sizeof out->detail - 1, p->failed_detail);
        pthread_mutex_unlock(&p->mu);
    } else if (damaged) {
        char seg[4096];
        sl_segment_path(seg, sizeof seg, p->dir, snap->active_base, ".seg");
        int need = snprintf(out->detail, sizeof out->detail,
                            "%s: invalid batch at byte %" PRIu64 " (offset %" PRIu64 "), inside what the segment's "
                            "summary vouches for: damage, not a torn tail (see siglog verify)",
                            seg, snap->damage_pos, snap->damage_offset);
        if (need >= (int)sizeof out->detail) /* a very long path: say it was cut */
            memcpy(out->detail + sizeof out->detail - 4, "...", 4);
    }
    out->state = damaged ? SIGLOG_PARTITION_DAMAGED : failed ? SIGLOG_PARTITION_FAILED : SIGLOG_PARTITION_OK;
    out->failed = out->state != SIGLOG_PARTITION_OK;
}

int sl_partition_info(partition *p, siglog_partition_info *out)
{
    memset(out, 0, sizeof *out);
    partition_snapshot snap;
    int rc = sl_partition_snapshot_get(p, &snap, 0);
    if (rc == SIGLOG_ECORRUPT) {
        /* Nothing to serve: a missing directory or segment, a damaged
         * checkpoint, journal damage. The detail says which. */
        out->state = SIGLOG_PARTITION_UNSERVABLE;
        out->failed = 1;
        snprintf(out->detail, sizeof out->detail, "%s", siglog_errdetail());
    }
    if (rc)
        return rc;
    catalog_snapshot *cs;
    if ((rc = sl_partition_catalog_snapshot(p, &cs)) != 0)
        return rc;
    size_t n = sl_catalog_snapshot_count(cs);
    out->log_start_offset = snap.log_start_offset;
    out->next_offset = snap.hwm_offset;
    out->segment_count = n;
    for (size_t i = 0; i < n; i++) {
        static const char *const exts[] = {".seg", ".oix", ".tix"};
        for (int e = 0; e < 3; e++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s%s", p->dir, sl_catalog_snapshot_segment(cs, i)->location, exts[e]);
            int is_dir;
            uint64_t size = 0;
            if (p->io->stat_path(p->io, path, &is_dir, &size) == 0)
                *(e == 0 ? &out->bytes : &out->index_bytes) += size;
        }
    }
    rc = timestamp_range(p, cs, &out->first_timestamp_us, &out->max_timestamp_us);
    sl_catalog_snapshot_release(cs);
    if (!rc)
        journaled_timestamp_range(p, &snap, out);
    info_state(p, &snap, out);
    return rc;
}
