/*
 * compact — merge and key compaction builders; see compact.h.
 *
 * Both write through one output writer (`writer`): batches go to the
 * sink's current output segment, and a batch that would take it past
 * segment_bytes_max starts the next one at the batch's base offset (a
 * non-empty output always takes at least one batch). Re-encoded batches
 * follow the rule of a rewrite that drops records (FORMAT.md §7): a batch
 * with survivors covers its whole input range; the range of a batch left
 * without survivors goes to the open batch before it, or, when there is
 * none, to the next batch that has survivors (`uncovered` says where the
 * next batch must start).
 */
#include "compact.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "error.h"

typedef struct writer {
    const compact_sink *sink;
    compact_stats *st;
    segment *cur;
    batch_builder open;   /* holds records when a re-encoded batch is open */
    bytebuf sealed;
    uint64_t uncovered;   /* the next batch written starts here */
} writer;

static void writer_init(writer *w, const compact_sink *sink, compact_stats *st, uint64_t base)
{
    memset(w, 0, sizeof *w);
    w->sink = sink;
    w->st = st;
    w->uncovered = base;
    sl_batch_builder_init(&w->open);
}

static void writer_free(writer *w)
{
    sl_batch_builder_free(&w->open);
    sl_bytebuf_free(&w->sealed);
}

/* Append one whole batch (header and body in buf) at w->uncovered. */
static int place(writer *w, const uint8_t *buf, size_t len, const batch_meta *m)
{
    if (w->cur && sl_segment_size(w->cur) > 0 && sl_segment_size(w->cur) + len > w->sink->segment_bytes_max)
        w->cur = NULL;
    if (!w->cur) {
        int rc = w->sink->new_segment(w->sink->arg, m->base_offset, &w->cur);
        if (rc)
            return rc;
        w->st->segments_out++;
    }
    int rc = sl_segment_append(w->cur, buf, len, m, 1);
    if (rc)
        return rc;
    w->st->bytes_out += len;
    w->uncovered = batch_meta_end_offset(m);
    return 0;
}

/* Seal the open re-encoded batch, if any, into the output. */
static int flush_open(writer *w)
{
    if (w->open.record_count == 0)
        return 0;
    batch_meta meta;
    w->sealed.len = 0;
    int rc = sl_batch_builder_seal(&w->open, w->sink->compression, &w->sealed, &meta);
    if (!rc)
        rc = place(w, w->sealed.data, w->sealed.len, &meta);
    w->open.record_count = 0;
    return rc;
}

/* Every batch of segment s in order: fn(arg, header, body). */
typedef int (*batch_fn)(void *arg, segment *s, const batch_header *h, const uint8_t *body);

static int each_batch(segment *s, batch_fn fn, void *arg)
{
    bytebuf body = {0};
    uint64_t pos = 0, size = sl_segment_size(s);
    int rc = 0;
    while (!rc && pos < size) {
        batch_header h;
        int r = sl_segment_read_batch(s, pos, size, &h, &body);
        if (r != 1) {
            rc = r < 0 ? r
                       : sl_err_set(SIGLOG_ECORRUPT, "%s: incomplete batch at byte %" PRIu64 " of a sealed segment",
                                    sl_segment_file_path(s), pos);
            break;
        }
        rc = fn(arg, s, &h, body.data);
        pos += BATCH_HEADER_BYTES + (uint64_t)h.body_len;
    }
    sl_bytebuf_free(&body);
    return rc;
}

void sl_compact_stats_add(compact_stats *total, const compact_stats *st)
{
    total->segments_in += st->segments_in;
    total->segments_out += st->segments_out;
    total->records_in += st->records_in;
    total->records_dropped += st->records_dropped;
    total->bytes_in += st->bytes_in;
    total->bytes_out += st->bytes_out;
}

/* ---- merge ---- */

size_t sl_compact_merge_plan(const catalog_segment *segs, size_t n, uint64_t merge_below, uint64_t segment_bytes_max,
                             compact_run *runs, size_t max)
{
    size_t found = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint64_t total = 0;
        while (j < n && segs[j].state == CATALOG_SEG_SEALED && segs[j].bytes < merge_below &&
               (j == i || total + segs[j].bytes <= segment_bytes_max)) {
            total += segs[j].bytes;
            j++;
        }
        if (j - i >= 2) {
            if (found < max)
                runs[found] = (compact_run){i, j - i};
            found++;
        }
        i = j > i ? j : i + 1;
    }
    return found;
}

static int copy_batch(void *arg, segment *s, const batch_header *h, const uint8_t *body)
{
    (void)s;
    writer *w = arg;
    if (h->base_offset != w->uncovered)
        return sl_err_set(SIGLOG_EINVAL, "%s: batch at offset %" PRIu64 " does not follow offset %" PRIu64
                                         ": the segments to merge are not consecutive",
                          sl_segment_file_path(s), h->base_offset, w->uncovered);
    size_t len = BATCH_HEADER_BYTES + (size_t)h->body_len;
    w->sealed.len = 0;
    if (sl_bytebuf_reserve(&w->sealed, len) != 0)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    sl_batch_header_encode(h, w->sealed.data);
    memcpy(w->sealed.data + BATCH_HEADER_BYTES, body, h->body_len);
    w->st->records_in += h->record_count;
    batch_meta m = batch_meta_of(h);
    return place(w, w->sealed.data, len, &m);
}

int sl_compact_merge(segment *const *in, size_t n, const compact_sink *sink, compact_stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0)
        return sl_err_set(SIGLOG_EINVAL, "merge of no segments");
    writer w;
    writer_init(&w, sink, st, sl_segment_base_offset(in[0]));
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        st->segments_in++;
        st->bytes_in += sl_segment_size(in[i]);
        rc = each_batch(in[i], copy_batch, &w);
    }
    writer_free(&w);
    return rc;
}

/* ---- key compaction: the key map ---- */

typedef struct key_entry {
    uint64_t hash;      /* 0: free slot (a real hash of 0 is stored as 1) */
    uint64_t key_pos;   /* in the arena */
    uint32_t key_len;
    uint8_t tombstone;  /* the newest record of the key is one */
    uint64_t offset;    /* of the newest record */
    int64_t timestamp_us;
} key_entry;

typedef struct key_map {
    key_entry *slots;
    size_t cap, used;
    bytebuf arena;
    uint64_t budget;
} key_map;

static uint64_t slot_hash(const void *key, size_t len)
{
    uint64_t h = XXH3_64bits(key, len);
    return h ? h : 1;
}

static int map_over_budget(const key_map *m, size_t cap, size_t arena)
{
    return (uint64_t)cap * sizeof(key_entry) + arena > m->budget;
}

static int budget_error(const key_map *m)
{
    return sl_err_set(SIGLOG_ENOMEM,
                      "key compaction: %zu distinct keys need more than its memory budget of %" PRIu64 " bytes",
                      m->used + 1, m->budget);
}

static key_entry *map_find(const key_map *m, uint64_t h, const void *key, size_t len)
{
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        key_entry *e = &m->slots[i];
        if (e->hash == 0 || (e->hash == h && e->key_len == len && memcmp(m->arena.data + e->key_pos, key, len) == 0))
            return e;
    }
}

static int map_grow(key_map *m)
{
    size_t cap = m->cap ? 2 * m->cap : 1024;
    if (map_over_budget(m, cap, m->arena.cap))
        return budget_error(m);
    key_entry *old = m->slots;
    size_t old_cap = m->cap;
    if (!(m->slots = calloc(cap, sizeof *m->slots))) {
        m->slots = old;
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].hash) {
            size_t j = old[i].hash & (cap - 1);
            while (m->slots[j].hash)
                j = (j + 1) & (cap - 1);
            m->slots[j] = old[i];
        }
    free(old);
    return 0;
}

/* Record r as the newest of its key seen so far (records come in offset
 * order). */
static int map_note(key_map *m, const siglog_record *r)
{
    if ((m->used + 1) * 4 > m->cap * 3) {
        int rc = map_grow(m);
        if (rc)
            return rc;
    }
    uint64_t h = slot_hash(r->key, r->key_len);
    key_entry *e = map_find(m, h, r->key, r->key_len);
    if (!e->hash) {
        if (map_over_budget(m, m->cap, m->arena.len + r->key_len))
            return budget_error(m);
        if (sl_bytebuf_reserve(&m->arena, r->key_len) != 0)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        memcpy(m->arena.data + m->arena.len, r->key, r->key_len);
        *e = (key_entry){.hash = h, .key_pos = m->arena.len, .key_len = r->key_len};
        m->arena.len += r->key_len;
        m->used++;
    }
    e->offset = r->offset;
    e->timestamp_us = r->timestamp_us;
    e->tombstone = (r->flags & SIGLOG_EVENT_TOMBSTONE) != 0;
    return 0;
}

/* ---- rewriting without some records ---- */

typedef struct rewrite_run {
    writer w;
    bytebuf scratch;
    compact_keep_fn keep;
    void *arg;
    uint64_t survivors;
} rewrite_run;

static int rewrite_batch(void *arg, segment *s, const batch_header *h, const uint8_t *body)
{
    rewrite_run *k = arg;
    writer *w = &k->w;
    batch_iter it;
    siglog_record r;
    int rc = sl_batch_iter_init(&it, h, body, &k->scratch), started = 0;
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        rc = 0;
        w->st->records_in++;
        if (!k->keep(k->arg, &r)) {
            w->st->records_dropped++;
            continue;
        }
        if (!started) {
            /* The batch before is complete: its range ends where this
             * one's begins (or at what an emptied batch left uncovered). */
            if ((rc = flush_open(w)) != 0)
                return rc;
            sl_batch_builder_reset(&w->open, w->uncovered, 0);
            started = 1;
        }
        siglog_event ev = {.key = r.key, .key_len = r.key_len, .value = r.value, .value_len = r.value_len,
                           .schema_version = r.schema_version, .flags = r.flags, .headers = r.headers,
                           .header_count = r.header_count};
        rc = sl_batch_builder_add_at(&w->open, &ev, r.timestamp_us, r.offset);
        k->survivors++;
    }
    if (rc < 0)
        return sl_err_set(rc, "%s: %s", sl_segment_file_path(s), siglog_errdetail());
    /* The whole range goes to the open batch (an emptied batch's too). */
    return w->open.record_count ? sl_batch_builder_cover(&w->open, batch_end_offset(h) - 1) : 0;
}

int sl_compact_rewrite(segment *const *in, size_t n, compact_keep_fn keep, void *arg, const compact_sink *sink,
                       compact_stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0)
        return sl_err_set(SIGLOG_EINVAL, "rewrite of no segments");
    rewrite_run k = {.keep = keep, .arg = arg};
    writer_init(&k.w, sink, st, sl_segment_base_offset(in[0]));
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        st->segments_in++;
        st->bytes_in += sl_segment_size(in[i]);
        rc = each_batch(in[i], rewrite_batch, &k);
    }
    /* No survivor means no batch was opened, so no output exists. */
    if (!rc && k.survivors == 0)
        rc = COMPACT_NOTHING_KEPT;
    if (!rc)
        rc = flush_open(&k.w);
    writer_free(&k.w);
    sl_bytebuf_free(&k.scratch);
    return rc;
}

/* ---- key compaction ---- */

typedef struct keys_run {
    key_map map;
    bytebuf scratch;
    const compact_keys_params *kp;
} keys_run;

static int note_batch(void *arg, segment *s, const batch_header *h, const uint8_t *body)
{
    keys_run *k = arg;
    batch_iter it;
    siglog_record r;
    int rc = sl_batch_iter_init(&it, h, body, &k->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1)
        rc = r.key_len ? map_note(&k->map, &r) : 0;
    if (rc < 0)
        return sl_err_set(rc, "%s: %s", sl_segment_file_path(s), siglog_errdetail());
    return 0;
}

static int survives(void *arg, const siglog_record *r)
{
    const keys_run *k = arg;
    if (r->key_len == 0)
        return 1;
    const key_entry *e = map_find(&k->map, slot_hash(r->key, r->key_len), r->key, r->key_len);
    if (e->offset != r->offset)
        return 0;
    if (!e->tombstone)
        return 1;
    /* A tombstone stays while readers may still need to see the delete. */
    return e->timestamp_us >= k->kp->now_us - (int64_t)k->kp->tombstone_retention_us;
}

/* The key map of in[0..n) and newer[0..m): every key's newest record. */
static int keys_note_all(keys_run *k, segment *const *in, size_t n, segment *const *newer, size_t m)
{
    int rc = 0;
    for (size_t i = 0; i < n + m && !rc; i++)
        rc = each_batch(i < n ? in[i] : newer[i - n], note_batch, k);
    return rc;
}

static void keys_run_free(keys_run *k)
{
    free(k->map.slots);
    sl_bytebuf_free(&k->map.arena);
    sl_bytebuf_free(&k->scratch);
}

int sl_compact_keys(segment *const *in, size_t n, segment *const *newer, size_t m, const compact_keys_params *kp,
                    const compact_sink *sink, compact_stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0)
        return sl_err_set(SIGLOG_EINVAL, "key compaction of no segments");
    keys_run k = {.kp = kp, .map = {.budget = kp->memory_bytes}};
    int rc = keys_note_all(&k, in, n, newer, m);
    if (!rc)
        rc = sl_compact_rewrite(in, n, survives, &k, sink, st);
    keys_run_free(&k);
    return rc;
}

typedef struct keys_count {
    keys_run *k;
    compact_stats *st;
} keys_count;

static int count_batch(void *arg, segment *s, const batch_header *h, const uint8_t *body)
{
    keys_count *kc = arg;
    batch_iter it;
    siglog_record r;
    int rc = sl_batch_iter_init(&it, h, body, &kc->k->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        rc = 0;
        kc->st->records_in++;
        kc->st->records_dropped += !survives(kc->k, &r);
    }
    return rc < 0 ? sl_err_set(rc, "%s: %s", sl_segment_file_path(s), siglog_errdetail()) : 0;
}

int sl_compact_keys_count(segment *const *in, size_t n, segment *const *newer, size_t m,
                          const compact_keys_params *kp, compact_stats *st)
{
    memset(st, 0, sizeof *st);
    keys_run k = {.kp = kp, .map = {.budget = kp->memory_bytes}};
    keys_count kc = {&k, st};
    int rc = keys_note_all(&k, in, n, newer, m);
    for (size_t i = 0; i < n && !rc; i++) {
        st->segments_in++;
        st->bytes_in += sl_segment_size(in[i]);
        rc = each_batch(in[i], count_batch, &kc);
    }
    keys_run_free(&k);
    return rc;
}
