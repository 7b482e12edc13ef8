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

#include "compact_keys.h"
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

int sl_compact_each_batch(segment *s, int growing, compact_batch_fn fn, void *arg)
{
    bytebuf body = {0};
    uint64_t pos = 0, size = sl_segment_size(s);
    int rc = 0;
    while (!rc && pos < size) {
        batch_header h;
        int r = sl_segment_read_batch(s, pos, size, &h, &body);
        if (r != 1) {
            rc = r < 0 || growing
                     ? r
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

/* Every batch of the sealed segments in[0..n) in order, through fn; each
 * segment counted into st (segments_in, bytes_in) as its walk starts, so
 * that a run stopped by an error has counted the one it stopped in. */
static int each_input_batch(segment *const *in, size_t n, compact_stats *st, compact_batch_fn fn, void *arg)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        st->segments_in++;
        st->bytes_in += sl_segment_size(in[i]);
        rc = sl_compact_each_batch(in[i], 0, fn, arg);
    }
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
    if (st->key_map_peak_bytes > total->key_map_peak_bytes)
        total->key_map_peak_bytes = st->key_map_peak_bytes;
    if (st->key_passes > total->key_passes)
        total->key_passes = st->key_passes;
}

/* ---- merge ---- */

size_t sl_compact_merge_plan(const catalog_segment *segs, size_t n, uint64_t merge_below, uint64_t segment_bytes_max,
                             compact_run *runs, size_t max)
{
    size_t found = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint64_t total = 0;
        /* A run never spans a recorded loss (a hole between entries):
         * its outputs would cover the lost offsets as gaps, and readers
         * would no longer be told of the loss. */
        while (j < n && segs[j].state == CATALOG_SEG_SEALED && segs[j].tier != CATALOG_TIER_COLD &&
               segs[j].bytes < merge_below &&
               (j == i || (total + segs[j].bytes <= segment_bytes_max && segs[j].base_offset == segs[j - 1].end_offset))) {
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
    int rc = each_input_batch(in, n, st, copy_batch, &w);
    writer_free(&w);
    return rc;
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
        w->st->records_in++;
        if ((rc = k->keep(k->arg, &r)) <= 0) {
            w->st->records_dropped += rc == 0;
            continue;
        }
        rc = 0;
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
    int rc = each_input_batch(in, n, st, rewrite_batch, &k);
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

static int survives(void *arg, const siglog_record *r)
{
    return r->key_len == 0 ? 1 : sl_key_verdicts_keep(arg, r);
}

/* The verdicts over in[0..n) and newer[0..m): every key's newest record. */
static int verdicts_of(segment *const *in, size_t n, segment *const *newer, size_t m, const compact_keys_params *kp,
                       key_verdicts **out)
{
    segment **all = malloc((n + m) * sizeof *all);
    if (!all)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    memcpy(all, in, n * sizeof *all);
    if (m)
        memcpy(all + n, newer, m * sizeof *all);
    int rc = sl_key_verdicts_build(all, n + m, n, kp, out);
    free(all);
    return rc;
}

static void note_verdicts(compact_stats *st, const key_verdicts *v)
{
    st->key_map_peak_bytes = sl_key_verdicts_peak_bytes(v);
    st->key_passes = sl_key_verdicts_passes(v);
}

int sl_compact_keys(segment *const *in, size_t n, segment *const *newer, size_t m, const compact_keys_params *kp,
                    const compact_sink *sink, compact_stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0)
        return sl_err_set(SIGLOG_EINVAL, "key compaction of no segments");
    key_verdicts *v;
    int rc = verdicts_of(in, n, newer, m, kp, &v);
    if (rc)
        return rc;
    rc = sl_compact_rewrite(in, n, survives, v, sink, st);
    note_verdicts(st, v);
    sl_key_verdicts_free(v);
    return rc;
}

typedef struct keys_count {
    key_verdicts *v;
    bytebuf scratch;
    compact_stats *st;
} keys_count;

static int count_batch(void *arg, segment *s, const batch_header *h, const uint8_t *body)
{
    keys_count *kc = arg;
    batch_iter it;
    siglog_record r;
    int rc = sl_batch_iter_init(&it, h, body, &kc->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        kc->st->records_in++;
        if ((rc = survives(kc->v, &r)) >= 0) {
            kc->st->records_dropped += rc == 0;
            rc = 0;
        }
    }
    return rc < 0 ? sl_err_set(rc, "%s: %s", sl_segment_file_path(s), siglog_errdetail()) : 0;
}

int sl_compact_keys_count(segment *const *in, size_t n, segment *const *newer, size_t m,
                          const compact_keys_params *kp, compact_stats *st)
{
    memset(st, 0, sizeof *st);
    keys_count kc = {.st = st};
    int rc = verdicts_of(in, n, newer, m, kp, &kc.v);
    if (rc)
        return rc;
    rc = each_input_batch(in, n, st, count_batch, &kc);
    note_verdicts(st, kc.v);
    sl_key_verdicts_free(kc.v);
    sl_bytebuf_free(&kc.scratch);
    return rc;
}

/* ---- reading records ---- */

typedef struct scan_run {
    compact_record_fn fn;
    void *arg;
    bytebuf scratch;
} scan_run;

static int scan_batch(void *arg, segment *s, const batch_header *h, const uint8_t *body)
{
    scan_run *k = arg;
    batch_iter it;
    siglog_record r;
    int rc = sl_batch_iter_init(&it, h, body, &k->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1)
        rc = k->fn(k->arg, &r);
    return rc < 0 ? sl_err_set(rc, "%s: %s", sl_segment_file_path(s), siglog_errdetail()) : rc;
}

int sl_compact_scan(segment *s, int growing, compact_record_fn fn, void *arg)
{
    scan_run k = {.fn = fn, .arg = arg};
    int rc = sl_compact_each_batch(s, growing, scan_batch, &k);
    sl_bytebuf_free(&k.scratch);
    return rc;
}
