/*
 * forget — siglog_forget: every event of some keys removed from a
 * stream's sealed segments by a maintenance handle, each segment through
 * the rewrite primitive (compact.h, sl_compact_partition_drop).
 *
 * Two passes. The plan reads, for every partition, each segment whose key
 * filter does not exclude every key (a cold entry's filter is the one its
 * archive carries; an archive without one, of version 1, is read), and
 * notes the sealed ones that hold events of the keys; so are exported
 * archives (forget_archive.h). A cold entry is rewritten by forget_cold.h, any other through
 * the rewrite primitive. Maintenance never touches an active segment: when
 * one holds an event of a key, the forget has it rolled through the
 * writer's protocol (forget_roll.h: by opening the store as its writer,
 * or by asking the live writer and waiting for its answer, which also
 * zeroes the journal's old bytes; nothing changed when it does not
 * answer in time) and plans again, now skipping active segments: what
 * they hold was appended after the roll, so after the forget began, and
 * is not its. A live writer is asked for the scrub alone when no active
 * segment holds the keys, before anything is rewritten. Then each partition with something to remove gets its audit
 * record, and its segments are rewritten in offset order. Keys are looked up in a sorted
 * array: a forget names few keys, and each record costs one binary
 * search. Last, when no writer has the store, the commit journal's old
 * bytes are zeroed (journal.h, sl_journal_scrub_idle).
 *
 * Never half: before its first audit record the forget writes its intent
 * (forget_intent.h) listing the keyed hashes of the keys it found, and
 * removes it after the last rewrite. A run that finds an intent (the next
 * forget, or siglog_forget_finish) finishes it first: it cannot know the
 * keys, so it hashes the key of every event of the stream's sealed
 * segments (no key filter helps it) and removes those whose hash the
 * intent lists. It asks a live writer for the scrub as a forget does (the
 * same call, wait and error): the forget it finishes may have died before
 * zeroing the journal, which a writer opened since still holds.
 *
 * The audit names a key by its keyed BLAKE2b-256 under a key derived
 * from the store's secret for this use alone (FORGET_DOMAIN), so that the
 * record proves which key went to whoever holds that key, and to nobody
 * else: an unkeyed hash of a guessable key (an e-mail address) would give
 * the key away.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cold.h"
#include "compact.h"
#include "error.h"
#include "forget_archive.h"
#include "forget_cold.h"
#include "forget_intent.h"
#include "forget_roll.h"
#include "journal.h"
#include "keyfilter.h"
#include "maintenance.h"

#define FORGET_DOMAIN "siglog-forget-v1"
#define FORGET_HASH_BYTES FORGET_INTENT_HASH_BYTES
#define FORGET_HASH_HEX (2 * FORGET_HASH_BYTES)
/* Keyed hashes per audit record: what its detail holds beside the text. */
#define FORGET_HASHES_PER_RECORD ((AUDIT_DETAIL_MAX - 160) / (FORGET_HASH_HEX + 1))

/* A key to forget: its bytes (NULL when only an intent's hash is known)
 * and its keyed hash (once the job has its subkey). */
typedef struct forget_key {
    const uint8_t *data;
    size_t len;
    uint64_t filter_hash; /* keyfilter.h */
    uint8_t hash[FORGET_HASH_BYTES];
} forget_key;

static int key_cmp(const void *a, const void *b)
{
    const forget_key *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->data, y->data, x->len);
}

static int hash_cmp_raw(const void *a, const void *b)
{
    return memcmp(a, b, FORGET_HASH_BYTES);
}

static int hash_cmp(const void *a, const void *b)
{
    return hash_cmp_raw(((const forget_key *)a)->hash, ((const forget_key *)b)->hash);
}

/* One partition's plan: the sealed segments holding events of the keys. */
typedef struct forget_part {
    uint64_t *bases;
    uint8_t *tiers;
    uint8_t *emptied;                  /* per segment: every record goes */
    size_t n, cap;
    uint64_t events, bytes;            /* removed: count, key and value bytes */
    uint64_t offset_min, offset_max;
    int64_t time_min, time_max;
    uint8_t *found;                    /* per sorted key: it has events here */
    int active_held;                   /* its active segment holds some */
    int active_emptied;                /* and nothing else (so far) */
    uint64_t active_base;              /* that segment's base */
} forget_part;

typedef struct forget_job {
    maintenance *m;
    const char *stream;
    char *dir;        /* the stream's directory */
    siglog_stream_config cfg;
    segment_params params;
    forget_key *keys; /* sorted by key, or by hash when by_hash; distinct */
    size_t n_keys;
    int by_hash;      /* finishing an intent: events matched by keyed hash */
    int rolled;       /* the active segments holding keys were rolled */
    int writer_scrubbed; /* the live writer zeroed its journal's old bytes */
    int has_subkey;
    uint8_t subkey[FORGET_HASH_BYTES];
    forget_part *parts;
    forget_archives fa;     /* the exported archives (forget_archive.h) */
    uint8_t *archive_found; /* per sorted key: an archive holds events of it */
    const siglog_forget_options *o;
    siglog_forget_result *out;
    forget_reported *told;  /* unvisited exports told in this call */
} forget_job;

static void keyed_hash(const forget_job *j, const uint8_t *key, size_t len, uint8_t out[FORGET_HASH_BYTES])
{
    crypto_generichash(out, FORGET_HASH_BYTES, key, len, j->subkey, FORGET_HASH_BYTES);
}

/* The key of r among the job's, or NULL. */
static const forget_key *key_of(const forget_job *j, const siglog_record *r)
{
    if (r->key_len == 0)
        return NULL;
    forget_key probe = {.data = r->key, .len = r->key_len};
    if (!j->by_hash)
        return bsearch(&probe, j->keys, j->n_keys, sizeof *j->keys, key_cmp);
    keyed_hash(j, r->key, r->key_len, probe.hash);
    return bsearch(&probe, j->keys, j->n_keys, sizeof *j->keys, hash_cmp);
}

/* The key the keyed hashes of forgotten keys are made with. */
static int forget_subkey(forget_job *j)
{
    if (j->has_subkey)
        return 0;
    uint8_t secret[STORE_SECRET_BYTES];
    int rc = sl_maintenance_secret(j->m, secret);
    if (!rc)
        crypto_generichash(j->subkey, FORGET_HASH_BYTES, (const uint8_t *)FORGET_DOMAIN, strlen(FORGET_DOMAIN),
                           secret, sizeof secret);
    sodium_memzero(secret, sizeof secret);
    j->has_subkey = !rc;
    return rc;
}

/* Sort the job's keys by cmp and drop repeats (a key given twice is one
 * key: the intent lists distinct hashes). */
static void keys_sort_unique(forget_job *j, int (*cmp)(const void *, const void *))
{
    qsort(j->keys, j->n_keys, sizeof *j->keys, cmp);
    size_t kept = 0;
    for (size_t i = 0; i < j->n_keys; i++)
        if (kept == 0 || cmp(&j->keys[kept - 1], &j->keys[i]) != 0)
            j->keys[kept++] = j->keys[i];
    j->n_keys = kept;
}

/* The job's stream, settings and per-partition plans, for n keys the
 * caller then fills in. */
static int job_init(forget_job *j, maintenance *m, const char *stream, size_t n, const siglog_forget_options *o,
                    siglog_forget_result *out)
{
    *j = (forget_job){.m = m, .stream = stream, .o = o, .out = out, .n_keys = n};
    int rc = sl_maintenance_stream(m, stream, &j->dir, &j->cfg);
    if (rc)
        return rc;
    j->params = (segment_params){.segment_bytes_max = j->cfg.segment_bytes_max,
                                 .index_interval_bytes = j->cfg.index_interval_bytes,
                                 .file_mode = sl_maintenance_file_mode(m)};
    j->keys = calloc(n, sizeof *j->keys);
    j->parts = calloc(j->cfg.partitions, sizeof *j->parts);
    j->archive_found = calloc(n ? n : 1, 1);
    if (!j->keys || !j->parts || !j->archive_found)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if ((rc = sl_forget_archives_open(&j->fa, m, stream, BATCH_LZ4HC((int)j->cfg.warm_level), n, o->archive_dirs,
                                      o->archive_dir_count)) != 0)
        return rc;
    for (uint32_t p = 0; p < j->cfg.partitions; p++) {
        j->parts[p] = (forget_part){.time_min = INT64_MAX, .time_max = INT64_MIN, .offset_min = UINT64_MAX};
        if (!(j->parts[p].found = calloc(n, 1)))
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    return 0;
}

static void job_free(forget_job *j)
{
    for (uint32_t p = 0; j->parts && p < j->cfg.partitions; p++) {
        free(j->parts[p].bases);
        free(j->parts[p].tiers);
        free(j->parts[p].emptied);
        free(j->parts[p].found);
    }
    free(j->parts);
    free(j->keys);
    free(j->archive_found);
    sl_forget_archives_close(&j->fa);
    free(j->dir);
    sodium_memzero(j->subkey, sizeof j->subkey);
}

/* A job over the caller's keys. */
static int job_init_keys(forget_job *j, maintenance *m, const char *stream, const siglog_key *keys, size_t n,
                         const siglog_forget_options *o, siglog_forget_result *out)
{
    for (size_t i = 0; i < n; i++)
        if (!keys[i].data || keys[i].len == 0) {
            *j = (forget_job){0};
            return sl_err_set(SIGLOG_EINVAL, "siglog_forget: key %zu is empty: events without a key cannot be "
                                             "forgotten by key", i);
        }
    int rc = job_init(j, m, stream, n, o, out);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        j->keys[i] = (forget_key){.data = keys[i].data, .len = keys[i].len,
                                  .filter_hash = sl_keyfilter_hash(keys[i].data, keys[i].len)};
    keys_sort_unique(j, key_cmp);
    return 0;
}

/* A job finishing the intent it of stream `stream`. */
static int job_init_intent(forget_job *j, maintenance *m, const char *stream, const forget_intent *it,
                           const siglog_forget_options *o, siglog_forget_result *out)
{
    int rc = job_init(j, m, stream, it->n, o, out);
    if (!rc)
        rc = forget_subkey(j);
    if (rc)
        return rc;
    j->by_hash = 1;
    for (uint32_t i = 0; i < it->n; i++)
        memcpy(j->keys[i].hash, it->hashes + (size_t)i * FORGET_HASH_BYTES, FORGET_HASH_BYTES);
    return 0; /* the intent's hashes are ascending and distinct */
}

/* ---- the plan ---- */

/* 1 when key filter f excludes every key of job arg. */
static int excludes_every_key(void *arg, const keyfilter *f)
{
    const forget_job *j = arg;
    int excludes = 1;
    for (size_t k = 0; k < j->n_keys && excludes; k++)
        excludes = !sl_keyfilter_may_contain(f, j->keys[k].filter_hash);
    return excludes;
}

/* 1 when e's key filter excludes every key (e need not be read): a
 * segment's .kf, or the filter a cold entry's archive carries. */
static int filter_excludes_all(const forget_job *j, uint32_t p, catalog *c, const catalog_segment *e)
{
    if (j->by_hash)
        return 0; /* the filter knows keys, not their keyed hashes */
    if (sl_cold_entry(e))
        return sl_cold_filters_exclude(sl_maintenance_backend(j->m), &j->cfg, sl_maintenance_store_id(j->m),
                                       j->stream, p, e, excludes_every_key, (void *)j);
    keyfilter f;
    int rc = sl_keyfilter_load(sl_catalog_io(c), sl_catalog_dir(c), e, &f);
    if (rc != 1) {
        sl_err_clear(); /* no filter, or a damaged one: read the segment */
        return 0;
    }
    int excludes = excludes_every_key((void *)j, &f);
    sl_keyfilter_free(&f);
    return excludes;
}

typedef struct seg_matches {
    const forget_job *j;
    forget_part *part;
    uint64_t events, records;
} seg_matches;

static int note_match(void *arg, const siglog_record *r)
{
    seg_matches *sm = arg;
    sm->records++;
    const forget_key *k = key_of(sm->j, r);
    if (!k)
        return 0;
    forget_part *part = sm->part;
    sm->events++;
    part->events++;
    part->bytes += r->key_len + r->value_len;
    part->found[k - sm->j->keys] = 1;
    if (r->offset < part->offset_min)
        part->offset_min = r->offset;
    if (part->offset_max < r->offset + 1)
        part->offset_max = r->offset + 1;
    if (r->timestamp_us < part->time_min)
        part->time_min = r->timestamp_us;
    if (r->timestamp_us > part->time_max)
        part->time_max = r->timestamp_us;
    return 0;
}

/* Plan e, of whose records `matches` go. */
static int plan_push(forget_part *part, const catalog_segment *e, uint64_t matches)
{
    if (part->n == part->cap) {
        size_t cap = part->cap ? 2 * part->cap : 8;
        uint64_t *b = realloc(part->bases, cap * sizeof *b);
        if (b)
            part->bases = b;
        uint8_t *t = realloc(part->tiers, cap);
        if (t)
            part->tiers = t;
        uint8_t *x = realloc(part->emptied, cap);
        if (x)
            part->emptied = x;
        if (!b || !t || !x)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        part->cap = cap;
    }
    part->bases[part->n] = e->base_offset;
    part->emptied[part->n] = matches == e->record_count;
    part->tiers[part->n++] = e->tier;
    return 0;
}

/* Look at catalog entry e of partition p. */
static int plan_segment(forget_job *j, uint32_t p, catalog *c, const catalog_segment *e)
{
    int active = e->state == CATALOG_SEG_ACTIVE;
    /* Appended after the roll, or after the interrupted forget wrote its
     * intent (it rolled first): not the job's. */
    if (active && (j->rolled || j->by_hash))
        return 0;
    int cold = sl_cold_entry(e);
    if (!active && filter_excludes_all(j, p, c, e)) {
        j->out->segments_skipped++;
        return 0;
    }
    segment *seg;
    int rc = cold ? sl_cold_segment_open(sl_maintenance_backend(j->m), &j->cfg, sl_maintenance_store_id(j->m),
                                         j->stream, p, e, &seg)
                  : sl_segment_open_at(sl_catalog_io(c), sl_catalog_dir(c), e->location, e->base_offset, 0,
                                       &j->params, &seg);
    if (rc)
        return rc;
    j->out->segments_read++;
    seg_matches sm = {j, &j->parts[p], 0, 0};
    rc = sl_compact_scan(seg, active, note_match, &sm);
    sl_segment_close(seg);
    if (rc || !sm.events)
        return rc;
    j->out->segments_rewritten++;
    j->out->bytes_before += e->bytes;
    if (active) {
        j->parts[p].active_held = 1; /* rolled, then planned again */
        j->parts[p].active_emptied = sm.events == sm.records;
        j->parts[p].active_base = e->base_offset;
        j->out->segments_rolled++;
        return 0;
    }
    return plan_push(&j->parts[p], e, sm.events);
}

static int plan_partition(forget_job *j, uint32_t p)
{
    catalog *c;
    int rc = sl_maintenance_catalog(j->m, j->stream, p, &c);
    if (!rc)
        rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    for (size_t i = 0; i < sl_catalog_snapshot_count(s) && !rc; i++)
        rc = plan_segment(j, p, c, sl_catalog_snapshot_segment(s, i));
    sl_catalog_snapshot_release(s);
    j->out->partitions++;
    if (!rc && (j->parts[p].n || j->parts[p].active_held)) {
        j->out->partitions_changed++;
        j->out->events_removed += j->parts[p].events;
    }
    return rc;
}

/* ---- the audit records ---- */

/* The hex of the keyed hashes, space-separated, of the next keys (from
 * *next on in sorted order, which moves past them) that partition part
 * holds: at most FORGET_HASHES_PER_RECORD. */
static void hash_keys(const forget_job *j, const forget_part *part, size_t *next, char *buf, size_t cap)
{
    size_t used = 0, listed = 0;
    buf[0] = '\0';
    for (; *next < j->n_keys && listed < FORGET_HASHES_PER_RECORD; ++*next) {
        if (!part->found[*next])
            continue;
        char hex[FORGET_HASH_HEX + 1];
        sodium_bin2hex(hex, sizeof hex, j->keys[*next].hash, FORGET_HASH_BYTES);
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", listed ? " " : "", hex);
        listed++;
    }
}

static size_t keys_found(const forget_job *j, const forget_part *part)
{
    size_t found = 0;
    for (size_t k = 0; k < j->n_keys; k++)
        found += part->found[k];
    return found;
}

/* The records of what part holds in partition p (where: its segments,
 * or an exported archive): its counts and offsets on the first, the keyed
 * hashes over as many as they take. */
static int audit_part(const forget_job *j, uint32_t p, const forget_part *part, const char *where)
{
    size_t found = keys_found(j, part), next = 0, records = (found + FORGET_HASHES_PER_RECORD - 1) /
                                                           FORGET_HASHES_PER_RECORD;
    int rc = 0;
    for (size_t i = 0; i < records && !rc; i++) {
        audit_record r;
        sl_audit_record_init(&r, AUDIT_FORGET, AUDIT_BY_COMMAND);
        snprintf(r.stream, sizeof r.stream, "%s", j->stream);
        r.partition = p;
        if (i == 0) {
            r.offset_start = part->offset_min;
            r.offset_end = part->offset_max;
            r.time_min_us = part->time_min;
            r.time_max_us = part->time_max;
            r.events = part->events;
            r.bytes = part->bytes;
        }
        char hashes[AUDIT_DETAIL_MAX + 1];
        hash_keys(j, part, &next, hashes, sizeof hashes);
        snprintf(r.detail, sizeof r.detail,
                 "forget%s (record %zu of %zu) of %zu keys asked, %zu with events here, from %s; keyed "
                 "BLAKE2b-256 of each: %s",
                 j->by_hash ? ", finishing an interrupted one," : "", i + 1, records, j->n_keys, found, where,
                 hashes);
        rc = sl_maintenance_audit(j->m, &r);
    }
    return rc;
}

static int audit_partition(const forget_job *j, uint32_t p)
{
    char where[32];
    snprintf(where, sizeof where, "%zu segments", j->parts[p].n);
    return audit_part(j, p, &j->parts[p], where);
}

/* ---- removing ---- */

typedef struct drop_ctx {
    const forget_job *j;
    uint64_t told_end; /* the events below were handed to removed() */
} drop_ctx;

static int keep_unforgotten(void *arg, const siglog_record *r)
{
    drop_ctx *d = arg;
    if (!key_of(d->j, r))
        return 1;
    /* An emptied segment is read again with the one before it: each
     * event is told once. */
    if (d->j->o->removed && r->offset >= d->told_end) {
        d->j->o->removed(d->j->o->removed_ctx, r);
        d->told_end = r->offset + 1;
    }
    return 0;
}

static int apply_partition(forget_job *j, uint32_t p)
{
    const forget_part *part = &j->parts[p];
    catalog *c;
    int rc = sl_maintenance_catalog(j->m, j->stream, p, &c);
    drop_ctx d = {j, 0};
    uint64_t through = 0; /* the segments below were rewritten already */
    for (size_t i = 0; i < part->n && !rc; i++) {
        if (part->bases[i] < through)
            continue; /* an emptied segment before it took it in */
        int compression =
            part->tiers[i] == CATALOG_TIER_WARM ? BATCH_LZ4HC((int)j->cfg.warm_level) : (int)j->cfg.compression;
        compact_stats st;
        rc = part->tiers[i] == CATALOG_TIER_COLD
                 ? sl_forget_cold_drop(j->m, c, j->stream, p, &j->cfg, part->bases[i], keep_unforgotten, &d, &st)
                 : sl_compact_partition_drop(c, part->bases[i], &j->params, compression, keep_unforgotten, &d, &st,
                                             &through);
        j->out->bytes_after += st.bytes_out;
    }
    /* Finishing an intent: a run cut after a cold entry's commit left
     * its old archive, holding forgotten events (forget_cold.h). */
    if (!rc && j->by_hash) {
        uint32_t removed;
        rc = sl_forget_cold_leftovers(j->m, c, j->stream, p, &j->cfg, &removed);
    }
    return rc;
}

/* Whether the plan of part empties the segment at base. */
static int plan_empties(const forget_part *part, uint64_t base)
{
    for (size_t k = 0; k < part->n; k++)
        if (part->bases[k] == base)
            return part->emptied[k];
    return 0;
}

/* Whether entry e of partition part is the active segment a dry run
 * found holding keys: the real run rolls it before it plans again, so
 * for the rewrites it is a sealed segment like the others. */
static int rolled_by_run(const forget_job *j, const forget_part *part, const catalog_segment *e)
{
    return j->o->dry_run && part->active_held && e->state == CATALOG_SEG_ACTIVE && e->base_offset == part->active_base;
}

/* Whether entry e is sealed when the rewrites come, and whether the plan
 * empties it then. */
static int sealed_then(const forget_job *j, const forget_part *part, const catalog_segment *e)
{
    return e->state == CATALOG_SEG_SEALED || rolled_by_run(j, part, e);
}

static int emptied_then(const forget_job *j, const forget_part *part, const catalog_segment *e)
{
    return rolled_by_run(j, part, e) ? part->active_emptied
                                     : e->state == CATALOG_SEG_SEALED && plan_empties(part, e->base_offset);
}

/* The rewrite of partition p would stop at the cold tier's edge
 * (sl_compact_partition_drop): the sealed segment right after the last
 * cold entry would keep no event, nor would any sealed one after it, so
 * none can take its offsets over (the cold entry before it is never
 * rewritten). Asked once the intent is written and before any audit
 * record or rewrite, so that such a forget fails with its intent pending
 * and nothing else changed: once an append and a roll give the range a
 * keeper, the next run (a forget, or the finish) goes through. A dry run
 * asks it too, of the segments as its roll would leave them, so that it
 * fails as the forget would instead of telling what would go. */
static int check_cold_edge(const forget_job *j, uint32_t p)
{
    const forget_part *part = &j->parts[p];
    int planned = part->n || (j->o->dry_run && part->active_held);
    catalog *c;
    int rc = planned ? sl_maintenance_catalog(j->m, j->stream, p, &c) : 0;
    if (!planned || rc || (rc = sl_catalog_refresh(c)) != 0)
        return rc;
    catalog_snapshot *s = sl_catalog_snapshot_get(c);
    size_t i = sl_cold_prefix(s), count = sl_catalog_snapshot_count(s);
    int stuck = i > 0 && i < count;
    const catalog_segment *edge = stuck ? sl_catalog_snapshot_segment(s, i) : NULL;
    uint64_t edge_base = edge ? edge->base_offset : 0;
    for (; stuck && i < count && sealed_then(j, part, sl_catalog_snapshot_segment(s, i)); i++)
        stuck = emptied_then(j, part, sl_catalog_snapshot_segment(s, i));
    /* The edge itself must be sealed and emptied: an active one keeps. */
    stuck = stuck && emptied_then(j, part, edge);
    sl_catalog_snapshot_release(s);
    return stuck ? sl_compact_no_keeper(c, edge_base) : 0;
}

static int check_cold_edges(const forget_job *j)
{
    int rc = 0;
    for (uint32_t p = 0; !rc && p < j->cfg.partitions; p++)
        rc = check_cold_edge(j, p);
    return rc;
}

/* ---- exported archives ---- */

static long archive_match(void *arg, const siglog_record *r)
{
    const forget_job *j = arg;
    const forget_key *k = key_of(j, r);
    return k ? (long)(k - j->keys) : -1;
}

/* Read the archives in the directories given; count those holding keys
 * and the archives the audit trail names elsewhere. */
static int plan_archives(forget_job *j)
{
    if (!j->by_hash) {
        j->fa.excludes = excludes_every_key;
        j->fa.excludes_arg = j;
    }
    int rc = sl_forget_archives_plan(&j->fa, archive_match, j);
    for (size_t i = 0; !rc && i < j->fa.n_hold; i++) {
        const forget_archive *a = &j->fa.hold[i];
        j->out->events_removed += a->events;
        j->out->bytes_before += a->file_bytes;
        for (size_t k = 0; k < j->n_keys; k++)
            j->archive_found[k] |= a->found[k];
    }
    j->out->archives_read = j->fa.read;
    j->out->archives_skipped = j->fa.skipped;
    j->out->archives_rewritten = j->fa.n_hold;
    return rc ? rc : sl_forget_archives_unvisited(&j->fa, j->told, j->o->unvisited, j->o->unvisited_ctx,
                                                  &j->out->archives_unvisited);
}

/* Each archive holding keys: its audit record, then its rewrite. First,
 * what an interrupted rewrite left beside them. */
static int apply_archives(forget_job *j)
{
    uint32_t leftovers;
    int rc = sl_forget_archives_leftovers(&j->fa, &leftovers);
    for (size_t i = 0; !rc && i < j->fa.n_hold; i++) {
        const forget_archive *a = &j->fa.hold[i];
        forget_part part = {.events = a->events, .bytes = a->bytes, .offset_min = a->offset_min,
                            .offset_max = a->offset_max, .time_min = a->time_min, .time_max = a->time_max,
                            .found = a->found};
        char where[AUDIT_DETAIL_MAX / 2];
        snprintf(where, sizeof where, "the exported archive %s/%s", j->fa.dirs[a->dir], a->name);
        drop_ctx d = {j, 0};
        uint64_t after;
        if ((rc = audit_part(j, a->partition, &part, where)) == 0 &&
            (rc = sl_forget_archives_rewrite(&j->fa, i, keep_unforgotten, &d, &after)) == 0)
            j->out->bytes_after += after;
    }
    return rc;
}

/* ---- the intent ---- */

/* The intent of job j: the keyed hashes of the keys found in any
 * partition, ascending (the job's keys hashed and sorted by hash). */
static int intent_write(forget_job *j)
{
    for (size_t k = 0; k < j->n_keys; k++)
        keyed_hash(j, j->keys[k].data, j->keys[k].len, j->keys[k].hash);
    forget_intent it = {.store_id = sl_maintenance_store_id(j->m),
                        .started_us = sl_maintenance_io(j->m)->now_us(sl_maintenance_io(j->m))};
    if (!(it.hashes = malloc(j->n_keys * FORGET_HASH_BYTES)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (size_t k = 0; k < j->n_keys; k++) {
        int found = 0;
        for (uint32_t p = 0; p < j->cfg.partitions && !found; p++)
            found = j->parts[p].found[k];
        found |= j->archive_found[k];
        if (found)
            memcpy(it.hashes + (size_t)it.n++ * FORGET_HASH_BYTES, j->keys[k].hash, FORGET_HASH_BYTES);
    }
    qsort(it.hashes, it.n, FORGET_HASH_BYTES, hash_cmp_raw);
    int rc = sl_forget_intent_write(sl_maintenance_io(j->m), j->dir, &it, sl_maintenance_file_mode(j->m));
    free(it.hashes);
    return rc;
}

static int plan_all(forget_job *j)
{
    const siglog_forget_options *o = j->o;
    int rc = 0;
    for (uint32_t p = 0; !rc && p < j->cfg.partitions; p++) {
        rc = plan_partition(j, p);
        if (!rc && o->dry_run && o->progress)
            o->progress(o->progress_ctx, p + 1, j->cfg.partitions);
    }
    return rc;
}

static uint32_t forget_wait_ms(const siglog_forget_options *o)
{
    return o->wait_ms ? o->wait_ms : SIGLOG_FORGET_WAIT_DEFAULT_MS;
}

/* Roll the active segments the plan found holding keys, then plan again
 * from nothing (the rolled segments are sealed now). */
static int roll_and_replan(forget_job *j)
{
    uint32_t *parts = malloc(j->cfg.partitions * sizeof *parts);
    uint64_t *bases = malloc(j->cfg.partitions * sizeof *bases);
    size_t n = 0;
    for (uint32_t p = 0; parts && bases && p < j->cfg.partitions; p++)
        if (j->parts[p].active_held) {
            bases[n] = j->parts[p].active_base;
            parts[n++] = p;
        }
    int rc = parts && bases ? sl_forget_roll(j->m, j->stream, parts, bases, n, forget_wait_ms(j->o), &j->writer_scrubbed)
                            : sl_err_set(SIGLOG_ENOMEM, "out of memory");
    free(parts);
    free(bases);
    if (rc)
        return rc;
    for (uint32_t p = 0; p < j->cfg.partitions; p++) {
        forget_part *part = &j->parts[p];
        memset(part->found, 0, j->n_keys);
        *part = (forget_part){.bases = part->bases, .tiers = part->tiers, .emptied = part->emptied, .cap = part->cap,
                              .found = part->found,
                              .time_min = INT64_MAX, .time_max = INT64_MIN, .offset_min = UINT64_MAX};
    }
    siglog_forget_result *out = j->out;
    out->partitions = out->partitions_changed = 0;
    out->segments_skipped = out->segments_read = out->segments_rewritten = 0;
    out->events_removed = out->bytes_before = 0;
    j->rolled = 1; /* segments_rolled stays: the second plan skips active segments */
    return plan_all(j);
}

/* Plan (rolling active segments that hold keys first), then (unless a
 * dry run) write the intent when there is something to remove, audit and
 * rewrite each partition, and remove the intent. */
static int job_run(forget_job *j)
{
    const siglog_forget_options *o = j->o;
    int rc = plan_all(j);
    int roll = 0;
    for (uint32_t p = 0; p < j->cfg.partitions; p++)
        roll |= j->parts[p].active_held;
    if (!rc && roll && !o->dry_run)
        rc = roll_and_replan(j);
    /* After the roll's second plan, which counts the partitions afresh. */
    if (!rc)
        rc = plan_archives(j);
    /* A dry run fails where the forget would, having planned all. */
    if (rc || o->dry_run)
        return rc ? rc : check_cold_edges(j);
    /* A live writer's journal may hold bytes of the keys' events from
     * earlier generations: it is asked to zero them before anything
     * changes, so that a writer that does not answer leaves all as it
     * was. (Done already when it rolled for us.) Finishing an intent asks
     * too: the forget it finishes may have died before its own scrub,
     * and a writer that opened since holds those bytes in its journal. */
    if (!j->writer_scrubbed)
        rc = sl_forget_roll(j->m, j->stream, NULL, NULL, 0, forget_wait_ms(o), &j->writer_scrubbed);
    if (!rc && j->out->events_removed && !j->by_hash && (rc = forget_subkey(j)) == 0)
        rc = intent_write(j);
    if (!rc)
        rc = check_cold_edges(j);
    for (uint32_t p = 0; !rc && p < j->cfg.partitions; p++) {
        if (j->parts[p].n)
            rc = audit_partition(j, p);
        if (!rc && (j->parts[p].n || j->by_hash))
            rc = apply_partition(j, p);
        if (!rc && o->progress)
            o->progress(o->progress_ctx, p + 1, j->cfg.partitions);
    }
    if (!rc && (j->fa.n_hold || j->by_hash))
        rc = apply_archives(j);
    if (!rc && (j->out->events_removed || j->by_hash))
        rc = sl_forget_intent_remove(sl_maintenance_io(j->m), j->dir);
    return rc;
}

/* Zero the journal's old bytes when no writer has the store; a live
 * writer that zeroed them when asked (writer_scrubbed) counts as well. */
static int scrub_journal(maintenance *m, int writer_scrubbed, siglog_forget_result *out)
{
    int scrubbed;
    int rc = sl_journal_scrub_idle(sl_maintenance_io(m), sl_maintenance_store_path(m), sl_maintenance_store_id(m),
                                   &scrubbed);
    out->journal_scrubbed = (uint32_t)(scrubbed || writer_scrubbed);
    return rc;
}

/* Finish every stream's pending intent; *finished counts them, and
 * *writer_scrubbed says a live writer zeroed its journal for one. */
static int finish_intents(maintenance *m, const siglog_forget_options *o, siglog_forget_result *out,
                          forget_reported *told, uint32_t *finished, int *writer_scrubbed)
{
    io_dirent_list streams;
    int rc = sl_maintenance_streams(m, &streams);
    for (size_t i = 0; !rc && i < streams.count; i++) {
        char *dir;
        siglog_stream_config cfg;
        forget_intent it;
        if ((rc = sl_maintenance_stream(m, streams.names[i], &dir, &cfg)) != 0)
            break;
        rc = sl_forget_intent_load(sl_maintenance_io(m), dir, sl_maintenance_store_id(m), &it);
        free(dir);
        if (rc != 1)
            continue;
        forget_job j;
        if ((rc = job_init_intent(&j, m, streams.names[i], &it, o, out)) == 0) {
            j.told = told;
            rc = job_run(&j);
            *writer_scrubbed |= j.writer_scrubbed;
        }
        job_free(&j);
        sl_forget_intent_free(&it);
        *finished += !rc;
    }
    sl_io_dirent_list_free(&streams);
    return rc;
}

static const siglog_forget_options no_options;

SIGLOG_API int siglog_forget(siglog_maintenance *m, const char *stream, const siglog_key *keys, size_t n,
                             const siglog_forget_options *o, siglog_forget_result *out)
{
    sl_err_clear();
    if (!m || !stream || !keys || n == 0 || !out)
        return sl_err_set(SIGLOG_EINVAL, "siglog_forget: the handle, stream, at least one key and the result are "
                                         "required");
    memset(out, 0, sizeof *out);
    o = o ? o : &no_options;
    uint32_t finished = 0;
    int rc = 0;
    forget_job j = {0};
    forget_reported told = {0};
    if (!o->dry_run) {
        /* Their figures are not this forget's: counted apart. So is
         * their scrub, asked before this forget's keys were planned. */
        siglog_forget_result earlier = {0};
        int earlier_scrubbed = 0;
        rc = finish_intents(m, o, &earlier, &told, &finished, &earlier_scrubbed);
    }
    if (!rc && (rc = job_init_keys(&j, m, stream, keys, n, o, out)) == 0) {
        j.told = &told;
        rc = job_run(&j);
    }
    int writer_scrubbed = j.writer_scrubbed;
    job_free(&j);
    sl_forget_reported_free(&told);
    out->intents_finished = finished;
    if (!rc && !o->dry_run)
        rc = scrub_journal(m, writer_scrubbed, out);
    return rc;
}

SIGLOG_API int siglog_forget_finish(siglog_maintenance *m, const siglog_forget_options *o, siglog_forget_result *out)
{
    sl_err_clear();
    if (!m || !out)
        return sl_err_set(SIGLOG_EINVAL, "siglog_forget_finish: the handle and the result are required");
    memset(out, 0, sizeof *out);
    o = o ? o : &no_options;
    if (o->dry_run)
        return sl_err_set(SIGLOG_EINVAL, "siglog_forget_finish: a dry run finishes nothing (siglog_forget_pending "
                                         "lists the intents)");
    uint32_t finished = 0;
    int writer_scrubbed = 0;
    forget_reported told = {0};
    int rc = finish_intents(m, o, out, &told, &finished, &writer_scrubbed);
    sl_forget_reported_free(&told);
    out->intents_finished = finished;
    if (!rc)
        rc = scrub_journal(m, writer_scrubbed, out);
    return rc;
}
