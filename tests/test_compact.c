/*
 * compact — the merge and key compaction builders (engine/compact.h) over
 * the sealed segments of a real partition, against a simple model:
 * merge copies every batch byte for byte into outputs that tile the same
 * offsets within the size limit; key compaction keeps exactly the newest
 * record of each key (the newer segments' records superseding), every
 * record without a key, and a newest tombstone only while it is younger
 * than tombstone_retention, over random workloads with tombstones; a key
 * set beyond the memory budget is refused, not grown. Beside a cold tier
 * (never rewritten), the hot stretch after it is compacted to the same
 * model, and one that would keep nothing keeps its last record alone as
 * its range's holder, once, also after a recorded loss; the dry run
 * counts what the run does, stretch by stretch.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cold.h"
#include "compact.h"
#include "compact_keys.h"
#include "maintenance.h"
#include "names.h"
#include "partition.h"
#include "store.h"
#include "stream.h"
#include "support.h"

#define TS0 1700000000000000LL
#define TS_STEP 1000

static char *dir, *pdir, *outdir;
static uint64_t events;
static segment_params params = {.segment_bytes_max = 64 * 1024, .index_interval_bytes = 4096, .file_mode = 0644};

typedef struct model_rec {
    char key[16]; /* "" : no key */
    int tombstone;
    char value[64];
} model_rec;

static model_rec *model;

/* Event i of n of workload seed: no key for one in ten, else one of
 * four keys of a window that slides over `keys` keys as i grows (so
 * that keys fall silent at every point of the log); a tombstone for one
 * keyed event in five; a value naming i. */
static void make_event(uint64_t *rng, uint64_t i, uint64_t n, uint32_t keys, model_rec *m)
{
    uint64_t x = test_rand(rng);
    m->key[0] = '\0';
    if (x % 10 != 0)
        snprintf(m->key, sizeof m->key, "k%u", (unsigned)(i * keys / n + (x >> 8) % 4));
    m->tombstone = m->key[0] && (x >> 32) % 5 == 0;
    snprintf(m->value, sizeof m->value, "{\"i\":%llu,\"pad\":\"%020llu\"}", (unsigned long long)i,
             (unsigned long long)x);
}

/* Stream "t" of one partition in a store opened at dir: 64 KiB segments
 * of 2 KiB batches, uncompressed; cold_dir (NULL: none) its cold tier's. */
static siglog *create_stream(const char *cold_dir)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = 64 * 1024;
    c.batch_bytes_max = 2048;
    c.compression = SIGLOG_COMPRESSION_NONE;
    if (cold_dir)
        snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold_dir);
    cr_assert_eq(siglog_stream_create(s, "t", &c), 0, "%s", siglog_errdetail());
    return s;
}

static void build(uint64_t seed, uint64_t n, uint32_t keys)
{
    dir = test_tmpdir("compact");
    siglog *s = create_stream(NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    model = calloc(n, sizeof *model);
    uint64_t rng = seed;
    for (uint64_t i = 0; i < n; i++) {
        make_event(&rng, i, n, keys, &model[i]);
        siglog_event e = {.key = model[i].key[0] ? model[i].key : NULL,
                          .key_len = strlen(model[i].key),
                          .value = model[i].value,
                          .value_len = strlen(model[i].value),
                          .timestamp_us = TS0 + (int64_t)i * TS_STEP,
                          .flags = model[i].tombstone ? SIGLOG_EVENT_TOMBSTONE : 0};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
    events = n;
    cr_assert_geq(asprintf(&pdir, "%s/streams/t/%0*u", dir, PARTITION_DIR_DIGITS, 0u), 0);
    outdir = test_path(dir, "out");
    cr_assert_eq(mkdir(outdir, 0755), 0);
}

static char *colddir;

static void teardown(void)
{
    if (colddir)
        test_rmtree(colddir);
    free(colddir);
    colddir = NULL;
    test_rmtree(dir);
    free(dir);
    free(pdir);
    free(outdir);
    free(model);
}

TestSuite(compact, .fini = teardown);

/* The partition's segments: sealed ones into in[], the active one into
 * *active. */
static size_t open_inputs(segment ***in, segment **active)
{
    catalog_snapshot *snap;
    cr_assert_eq(sl_catalog_snapshot_load(sl_io_posix(), pdir, &snap), 0, "%s", siglog_errdetail());
    size_t n = sl_catalog_snapshot_count(snap), sealed = 0;
    *in = calloc(n, sizeof **in);
    for (size_t i = 0; i < n; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(snap, i);
        segment *s;
        cr_assert_eq(sl_segment_open_at(sl_io_posix(), pdir, e->location, e->base_offset, 0, &params, &s), 0, "%s",
                     siglog_errdetail());
        if (e->state == CATALOG_SEG_SEALED)
            (*in)[sealed++] = s;
        else
            *active = s;
    }
    sl_catalog_snapshot_release(snap);
    cr_assert_geq(sealed, 4, "only %zu sealed segments", sealed);
    return sealed;
}

/* The sink: output segments in outdir, kept open until the end. */
typedef struct outputs {
    segment *seg[256];
    size_t n;
} outputs;

static int new_output(void *arg, uint64_t base, segment **out)
{
    outputs *o = arg;
    cr_assert_lt(o->n, 256);
    int rc = sl_segment_create(sl_io_posix(), outdir, base, &params, out);
    if (!rc)
        o->seg[o->n++] = *out;
    return rc;
}

static void seal_outputs(outputs *o)
{
    for (size_t i = 0; i < o->n; i++) {
        cr_assert_eq(sl_segment_seal(o->seg[i]), 0, "%s", siglog_errdetail());
        sl_segment_close(o->seg[i]);
    }
}

static uint8_t *slurp_seg(const char *d, uint64_t base, size_t *len)
{
    char path[4096];
    sl_segment_path(path, sizeof path, d, base, ".seg");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len ? *len : 1);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

/* Read every record of the output segments in order into fn, checking
 * they tile [from, to). */
typedef void (*rec_fn)(void *ctx, const siglog_record *r);

static void read_outputs(const outputs *o, uint64_t from, uint64_t to, rec_fn fn, void *ctx)
{
    uint64_t expect = from;
    bytebuf body = {0}, scratch = {0};
    for (size_t i = 0; i < o->n; i++) {
        segment *s;
        uint64_t base = 0;
        /* The outputs were created in offset order: their bases follow. */
        base = expect;
        cr_assert_eq(sl_segment_open(sl_io_posix(), outdir, base, 0, &params, &s), 0, "output at %llu: %s",
                     (unsigned long long)base, siglog_errdetail());
        cr_assert_leq(sl_segment_size(s), params.segment_bytes_max + 4096, "an output of %llu bytes",
                      (unsigned long long)sl_segment_size(s));
        uint64_t pos = 0;
        while (pos < sl_segment_size(s)) {
            batch_header h;
            cr_assert_eq(sl_segment_read_batch(s, pos, sl_segment_size(s), &h, &body), 1, "%s", siglog_errdetail());
            cr_assert_eq(h.base_offset, expect, "batch at %llu, expected %llu", (unsigned long long)h.base_offset,
                         (unsigned long long)expect);
            batch_iter it;
            siglog_record r;
            cr_assert_eq(sl_batch_iter_init(&it, &h, body.data, &scratch), 0);
            int rc;
            while ((rc = sl_batch_iter_next(&it, &r)) == 1)
                fn(ctx, &r);
            cr_assert_eq(rc, 0, "%s", siglog_errdetail());
            expect = batch_end_offset(&h);
            pos += BATCH_HEADER_BYTES + h.body_len;
        }
        sl_segment_close(s);
    }
    cr_assert_eq(expect, to, "outputs end at %llu, inputs at %llu", (unsigned long long)expect,
                 (unsigned long long)to);
    sl_bytebuf_free(&body);
    sl_bytebuf_free(&scratch);
}

static void close_all(segment **in, size_t n, segment *active)
{
    for (size_t i = 0; i < n; i++)
        sl_segment_close(in[i]);
    sl_segment_close(active);
    free(in);
}

/* ---- merge ---- */

Test(compact, merge_plan_takes_runs_of_small_sealed_segments_within_the_size)
{
    dir = test_tmpdir("compact");
    catalog_segment s[9] = {0};
    uint64_t bytes[9] = {10, 10, 50, 10, 10, 10, 10, 10, 10};
    for (int i = 0; i < 9; i++) {
        s[i].bytes = bytes[i];
        s[i].state = CATALOG_SEG_SEALED;
    }
    s[8].state = CATALOG_SEG_ACTIVE;
    compact_run runs[4];
    /* below 20 bytes, outputs up to 30: [0,1], (2 too big), [3,4,5], [6,7], 8 active */
    cr_assert_eq(sl_compact_merge_plan(s, 9, 20, 30, runs, 4), 3);
    cr_assert(runs[0].first == 0 && runs[0].count == 2);
    cr_assert(runs[1].first == 3 && runs[1].count == 3);
    cr_assert(runs[2].first == 6 && runs[2].count == 2);
    /* A lone small segment is no run. */
    s[1].bytes = 50;
    cr_assert_eq(sl_compact_merge_plan(s, 9, 20, 30, runs, 1), 2);
    cr_assert(runs[0].first == 3 && runs[0].count == 3);
}

typedef struct concat {
    uint64_t n;
} concat;

static void count_rec(void *ctx, const siglog_record *r)
{
    concat *c = ctx;
    cr_assert_eq(r->offset, c->n, "record at %llu, expected %llu", (unsigned long long)r->offset,
                 (unsigned long long)c->n);
    cr_assert_eq(r->value_len, strlen(model[c->n].value));
    cr_assert(r->value_len == 0 || memcmp(r->value, model[c->n].value, r->value_len) == 0);
    c->n++;
}

Test(compact, merge_copies_every_batch_byte_for_byte_into_tiling_outputs)
{
    build(1, 6000, 50);
    segment **in, *active;
    size_t n = open_inputs(&in, &active);
    /* Outputs of 3.5 inputs' size: some roll, the last is partial. */
    params.segment_bytes_max = 64 * 1024 * 7 / 2;
    outputs o = {0};
    compact_sink sink = {new_output, &o, params.segment_bytes_max, SIGLOG_COMPRESSION_LZ4};
    compact_stats st;
    cr_assert_eq(sl_compact_merge(in, n, &sink, &st), 0, "%s", siglog_errdetail());
    seal_outputs(&o);
    cr_assert_eq(st.segments_in, n);
    cr_assert_eq(st.segments_out, o.n);
    cr_assert_lt(o.n, n);
    cr_assert_eq(st.bytes_in, st.bytes_out);
    /* The concatenated .seg bytes are the same. */
    size_t in_len = 0, out_len = 0;
    uint8_t *in_bytes = NULL, *out_bytes = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *b = slurp_seg(pdir, sl_segment_base_offset(in[i]), &len);
        in_bytes = realloc(in_bytes, in_len + len);
        memcpy(in_bytes + in_len, b, len);
        in_len += len;
        free(b);
    }
    concat c = {0};
    uint64_t end = sl_segment_next_offset(in[n - 1]);
    read_outputs(&o, 0, end, count_rec, &c);
    cr_assert_eq(c.n, end);
    uint64_t base = 0;
    for (size_t i = 0; i < o.n; i++) {
        size_t len;
        segment *s;
        cr_assert_eq(sl_segment_open(sl_io_posix(), outdir, base, 0, &params, &s), 0);
        uint64_t next = sl_segment_next_offset(s);
        sl_segment_close(s);
        uint8_t *b = slurp_seg(outdir, base, &len);
        out_bytes = realloc(out_bytes, out_len + len);
        memcpy(out_bytes + out_len, b, len);
        out_len += len;
        free(b);
        base = next;
    }
    cr_assert_eq(out_len, in_len);
    cr_assert_eq(memcmp(in_bytes, out_bytes, in_len), 0, "merged bytes differ");
    free(in_bytes);
    free(out_bytes);
    close_all(in, n, active);
    params.segment_bytes_max = 64 * 1024;
}

/* ---- key compaction ---- */

typedef struct expect {
    uint8_t *keep; /* per offset: survives */
    uint64_t next, seen;
} expect;

static void check_survivor(void *ctx, const siglog_record *r)
{
    expect *e = ctx;
    while (e->next < r->offset) {
        cr_assert(!e->keep[e->next], "offset %llu should have survived", (unsigned long long)e->next);
        e->next++;
    }
    cr_assert(e->keep[r->offset], "offset %llu should have gone (key %s)", (unsigned long long)r->offset,
              model[r->offset].key);
    const model_rec *m = &model[r->offset];
    cr_assert_eq(r->key_len, strlen(m->key));
    /* a keyless record or a tombstone's value may be NULL with length 0 */
    cr_assert(r->key_len == 0 || memcmp(r->key, m->key, r->key_len) == 0);
    cr_assert_eq(r->value_len, strlen(m->value));
    cr_assert(r->value_len == 0 || memcmp(r->value, m->value, r->value_len) == 0);
    cr_assert_eq(r->timestamp_us, TS0 + (int64_t)r->offset * TS_STEP);
    cr_assert_eq((r->flags & SIGLOG_EVENT_TOMBSTONE) != 0, m->tombstone);
    e->next = r->offset + 1;
    e->seen++;
}

/* The model: survivors among offsets [0, end) given every event up to
 * total (the newer ones included); *expired counts the newest tombstones
 * past their retention, *young those within it. */
static uint8_t *model_survivors(uint64_t end, uint64_t total, int64_t now_us, uint64_t retention_us,
                                uint64_t *expired, uint64_t *young)
{
    uint8_t *keep = calloc(end ? end : 1, 1);
    for (uint64_t i = 0; i < end; i++) {
        if (!model[i].key[0]) {
            keep[i] = 1;
            continue;
        }
        uint64_t newest = i;
        for (uint64_t j = i + 1; j < total; j++)
            if (strcmp(model[j].key, model[i].key) == 0)
                newest = j;
        int64_t ts = TS0 + (int64_t)i * TS_STEP;
        keep[i] = newest == i && (!model[i].tombstone || ts >= now_us - (int64_t)retention_us);
        if (newest == i && model[i].tombstone)
            ++*(keep[i] ? young : expired);
    }
    return keep;
}

/* Whether a spill file has a name in the partition's directory. */
static int spill_left(void)
{
    char *p = test_path(pdir, COMPACT_SPILL_FILE);
    int there = access(p, F_OK) == 0;
    free(p);
    return there;
}

/* A key map budget that holds some 50 keys: key sets larger than that
 * spill. */
#define TINY_MEMORY (8 * 1024)

/* Key compaction of a workload of `keys` keys within `memory` bytes,
 * spilling to the partition's directory, checked against the model. */
static void compact_and_check(uint64_t seed, uint32_t keys, uint64_t memory)
{
    build(seed, 8000, keys);
    segment **in, *active;
    size_t n = open_inputs(&in, &active);
    uint64_t end = sl_segment_next_offset(in[n - 1]);
    /* Tombstones of the first half are past their retention. */
    compact_keys_params kp = {.now_us = TS0 + (int64_t)events * TS_STEP,
                              .tombstone_retention_us = events / 2 * TS_STEP,
                              .memory_bytes = memory,
                              .io = sl_io_posix(),
                              .spill_dir = pdir};
    outputs o = {0};
    compact_sink sink = {new_output, &o, params.segment_bytes_max, SIGLOG_COMPRESSION_LZ4};
    compact_stats st;
    cr_assert_eq(sl_compact_keys(in, n, &active, 1, &kp, &sink, &st), 0, "%s", siglog_errdetail());
    seal_outputs(&o);
    uint64_t expired = 0, young = 0;
    expect e = {.keep = model_survivors(end, events, kp.now_us, kp.tombstone_retention_us, &expired, &young)};
    if (keys >= 40)
        cr_assert(expired > 0 && young > 0, "seed %llu: %llu tombstones expired, %llu young: the workload must have both",
                  (unsigned long long)seed, (unsigned long long)expired, (unsigned long long)young);
    read_outputs(&o, 0, end, check_survivor, &e);
    uint64_t want = 0;
    for (uint64_t i = 0; i < end; i++)
        want += e.keep[i];
    cr_assert_eq(e.seen, want, "seed %llu: %llu survivors, the model has %llu", (unsigned long long)seed,
                 (unsigned long long)e.seen, (unsigned long long)want);
    cr_assert_eq(st.records_in, end);
    cr_assert_eq(st.records_dropped, end - want);
    cr_assert_lt(want, end / 2, "the workload must drop most records");
    /* Within the budget: one pass; past it, several, all in the budget. */
    cr_assert_leq(st.key_map_peak_bytes, memory);
    if (memory == TINY_MEMORY && keys > 100)
        cr_assert_gt(st.key_passes, 2, "%u keys in %llu bytes took %u passes", keys, (unsigned long long)memory,
                     st.key_passes);
    else if (memory > TINY_MEMORY)
        cr_assert_eq(st.key_passes, 1);
    free(e.keep);
    close_all(in, n, active);
    cr_assert(!spill_left(), "the spill file is left in %s", pdir);
}

static void fresh_workload(void)
{
    teardown();
    dir = pdir = outdir = NULL;
    model = NULL;
}

Test(compact, keys_keep_exactly_the_newest_per_key_against_a_model)
{
    static const uint32_t key_counts[] = {3, 40, 700};
    for (int i = 0; i < 3; i++) {
        compact_and_check(100 + (uint64_t)i, key_counts[i], 1 << 20);
        if (i < 2)
            fresh_workload();
    }
}

Test(compact, keys_past_the_memory_budget_spill_and_keep_the_same_as_the_model)
{
    static const uint32_t key_counts[] = {40, 700, 3000};
    for (int i = 0; i < 3; i++) {
        compact_and_check(200 + (uint64_t)i, key_counts[i], TINY_MEMORY);
        if (i < 2)
            fresh_workload();
    }
}

Test(compact, keys_past_the_budget_without_a_spill_directory_or_a_key_too_large_are_refused)
{
    build(7, 8000, 2000);
    segment **in, *active;
    size_t n = open_inputs(&in, &active);
    compact_keys_params kp = {.now_us = TS0, .memory_bytes = 16 * 1024};
    outputs o = {0};
    compact_sink sink = {new_output, &o, params.segment_bytes_max, SIGLOG_COMPRESSION_LZ4};
    compact_stats st;
    cr_assert_eq(sl_compact_keys(in, n, NULL, 0, &kp, &sink, &st), SIGLOG_ENOMEM);
    cr_assert(strstr(siglog_errdetail(), "no directory to spill to") != NULL, "%s", siglog_errdetail());
    /* A budget that cannot hold one key: no number of passes helps. */
    kp = (compact_keys_params){.now_us = TS0, .memory_bytes = 512, .io = sl_io_posix(), .spill_dir = pdir};
    cr_assert_eq(sl_compact_keys(in, n, NULL, 0, &kp, &sink, &st), SIGLOG_ENOMEM);
    cr_assert(strstr(siglog_errdetail(), "cannot hold a single key") != NULL, "%s", siglog_errdetail());
    cr_assert_eq(o.n, 0, "nothing written");
    close_all(in, n, active);
}

/* ---- through the rewrite primitive ---- */

/* A read-only handle on the store and its stream "t". */
static siglog *open_reader(siglog_stream **st)
{
    siglog *s = test_store_open_read_only(dir);
    cr_assert_eq(siglog_stream_get(s, "t", st), 0);
    return s;
}

/* Every record of partition 0 of "t" read by a read-only handle;
 * *gaps counts the recorded losses the cursor reports on the way. */
static void read_store_past_gaps(rec_fn fn, void *ctx, unsigned *gaps)
{
    siglog_stream *st;
    siglog *s = open_reader(&st);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    int rc;
    *gaps = 0;
    while ((rc = siglog_cursor_next(c, &r)) == 1 || rc == SIGLOG_EGAP) {
        if (rc == 1)
            fn(ctx, r);
        else
            ++*gaps;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(s), 0);
}

static void read_store(rec_fn fn, void *ctx)
{
    unsigned gaps;
    read_store_past_gaps(fn, ctx, &gaps);
    cr_assert_eq(gaps, 0);
}

static maintenance *maint_catalog(catalog **c)
{
    maintenance *m;
    cr_assert_eq(sl_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_maintenance_catalog(m, "t", 0, c), 0, "%s", siglog_errdetail());
    return m;
}

Test(compact, a_merge_through_the_primitive_keeps_every_event_in_fewer_segments)
{
    build(3, 8000, 50);
    catalog *c;
    maintenance *m = maint_catalog(&c);
    catalog_snapshot *was = sl_catalog_snapshot_get(c);
    size_t before = sl_catalog_snapshot_count(was);
    sl_catalog_snapshot_release(was);
    segment_params p = params;
    p.segment_bytes_max = 4 * 64 * 1024;
    compact_stats st;
    cr_assert_eq(sl_compact_partition_merge(c, &p, 128 * 1024, &st), 0, "%s", siglog_errdetail());
    catalog_snapshot *after = sl_catalog_snapshot_get(c);
    size_t n = sl_catalog_snapshot_count(after);
    cr_assert_lt(n, before, "%zu segments before, %zu after", before, n);
    cr_assert_eq(st.bytes_in, st.bytes_out);
    for (size_t i = 0; i + 1 < n; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(after, i);
        cr_assert_eq(e->state, CATALOG_SEG_SEALED);
        cr_assert_eq(e->record_count, e->end_offset - e->base_offset, "merged entry %zu lost records", i);
        cr_assert_leq(e->bytes, p.segment_bytes_max + 4096);
    }
    sl_catalog_snapshot_release(after);
    sl_maintenance_close(m);
    concat all = {0};
    read_store(count_rec, &all);
    cr_assert_eq(all.n, events);
}

/* Key compaction of partition 0 through the primitive within `memory`
 * bytes reads back as the model; a seek into a gap lands on the next
 * survivor. */
static void compact_partition_and_check(uint64_t memory)
{
    build(4, 8000, 400);
    catalog *c;
    maintenance *m = maint_catalog(&c);
    catalog_snapshot *snap = sl_catalog_snapshot_get(c);
    size_t n = sl_catalog_snapshot_count(snap);
    uint64_t end = sl_catalog_snapshot_segment(snap, n - 1)->base_offset;
    sl_catalog_snapshot_release(snap);
    compact_keys_params kp = {.now_us = TS0 + (int64_t)events * TS_STEP,
                              .tombstone_retention_us = events / 2 * TS_STEP,
                              .memory_bytes = memory};
    compact_stats st;
    cr_assert_eq(sl_compact_partition_keys(c, &params, SIGLOG_COMPRESSION_LZ4, &kp, &st), 0, "%s",
                 siglog_errdetail());
    cr_assert_eq(st.key_passes > 1, memory == TINY_MEMORY, "%u passes", st.key_passes);
    cr_assert(!spill_left(), "the spill file is left in %s", pdir);
    sl_maintenance_close(m);
    uint64_t expired = 0, young = 0;
    expect e = {.keep = model_survivors(events, events, kp.now_us, kp.tombstone_retention_us, &expired, &young)};
    /* The active segment was not compacted: all of it stays. */
    for (uint64_t i = end; i < events; i++)
        e.keep[i] = 1;
    read_store(check_survivor, &e);
    uint64_t want = 0;
    for (uint64_t i = 0; i < events; i++)
        want += e.keep[i];
    cr_assert_eq(e.seen, want, "%llu records read, the model keeps %llu", (unsigned long long)e.seen,
                 (unsigned long long)want);
    cr_assert_eq(st.records_dropped, end - (want - (events - end)));
    /* A seek by offset into a gap lands on the next survivor. */
    siglog_stream *stream;
    siglog *s = open_reader(&stream);
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, stream, 0, SIGLOG_SEEK_START, 0, 0), 0);
    size_t gaps = 0;
    for (uint64_t i = 0; i < end; i += 7) {
        if (e.keep[i])
            continue;
        uint64_t next = i;
        while (!e.keep[next])
            next++;
        const siglog_record *r;
        cr_assert_eq(siglog_cursor_seek(cur, SIGLOG_SEEK_OFFSET, (int64_t)i), 0);
        cr_assert_eq(siglog_cursor_next(cur, &r), 1, "%s", siglog_errdetail());
        cr_assert_eq(r->offset, next, "seek to %llu landed on %llu, not %llu", (unsigned long long)i,
                     (unsigned long long)r->offset, (unsigned long long)next);
        gaps++;
    }
    cr_assert_gt(gaps, 100);
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_close(s), 0);
    free(e.keep);
}

Test(compact, key_compaction_through_the_primitive_reads_back_as_the_model)
{
    compact_partition_and_check(1 << 20);
}

Test(compact, key_compaction_through_the_primitive_past_its_budget_reads_back_as_the_model)
{
    compact_partition_and_check(TINY_MEMORY);
}

/* A key compaction of partition 0 past its budget (it spills), as the
 * next run after a kill would make it. */
static void compact_tiny(compact_stats *st)
{
    catalog *c;
    maintenance *m = maint_catalog(&c);
    compact_keys_params kp = {.now_us = TS0 + (int64_t)events * TS_STEP,
                              .tombstone_retention_us = events / 2 * TS_STEP,
                              .memory_bytes = TINY_MEMORY};
    cr_assert_eq(sl_compact_partition_keys(c, &params, SIGLOG_COMPRESSION_LZ4, &kp, st), 0, "%s",
                 siglog_errdetail());
    sl_maintenance_close(m);
}

/* kill -9 of a process compacting past its budget, at whatever moment the
 * loaded machine gives, then a spill file left by name as a kill between
 * its creation and its unlink leaves it: the next run spills and leaves
 * no spill file (the name is unlinked as soon as the file is created, and
 * a stale one is replaced). */
Test(compact, a_key_compaction_killed_while_it_spills_leaves_no_spill_file_after_the_next_run, .timeout = 300)
{
    build(5, 8000, 400);
    for (int round = 0; round < 4; round++) {
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            for (;;) {
                compact_stats st;
                compact_tiny(&st);
            }
        }
        struct timespec ts = {0, (long)(20 + 35 * round) * 1000000L};
        nanosleep(&ts, NULL);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the compacting process ended on its own");
    }
    /* As a kill between the file's creation and its unlink leaves it. */
    char *stale = test_path(pdir, COMPACT_SPILL_FILE);
    FILE *f = fopen(stale, "wb");
    cr_assert_not_null(f);
    fputs("a killed run's spill", f);
    fclose(f);
    free(stale);
    compact_stats st;
    compact_tiny(&st);
    cr_assert_gt(st.key_passes, 1, "the run spilled");
    cr_assert(!spill_left(), "a spill file is left in %s", pdir);
}

/* ---- beside a cold tier ---- */

#define COLD_EVENTS 3000
#define HOT_EVENTS 4000
#define HOT_KEYS 8

/* Append model events [from, to) to partition 0 of "t" in one writer
 * session; with roll_first, the active segment is rolled first (as right
 * after an open), so that what came before is sealed. */
static void append_model(uint64_t from, uint64_t to, int roll_first)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    if (roll_first)
        cr_assert_eq(sl_partition_roll_idle(st->parts[0]), 0, "%s", siglog_errdetail());
    for (uint64_t i = from; i < to; i++) {
        siglog_event e = {.key = model[i].key[0] ? model[i].key : NULL, .key_len = strlen(model[i].key),
                          .value = model[i].value, .value_len = strlen(model[i].value),
                          .timestamp_us = TS0 + (int64_t)i * TS_STEP,
                          .flags = model[i].tombstone ? SIGLOG_EVENT_TOMBSTONE : 0};
        uint64_t off;
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, &off), 0, "%s", siglog_errdetail());
        cr_assert_eq(off, i);
    }
    cr_assert_eq(siglog_close(s), 0);
}

/* A store whose first COLD_EVENTS events (a random workload of `keys`
 * keys) are all in the cold tier, followed by HOT_EVENTS events in hot
 * sealed segments and HOT_KEYS in the active one, one of each key "hK".
 * The hot sealed events are the workload's too, or (superseded) events
 * of the keys "hK" only: then key compaction keeps none of them. */
static void build_cold(uint64_t seed, uint32_t keys, int superseded)
{
    dir = test_tmpdir("compact-cold");
    colddir = test_tmpdir("compact-cold-dir");
    cr_assert_geq(asprintf(&pdir, "%s/streams/t/%0*u", dir, PARTITION_DIR_DIGITS, 0u), 0);
    cr_assert_eq(siglog_close(create_stream(colddir)), 0);
    events = COLD_EVENTS + HOT_EVENTS + HOT_KEYS;
    model = calloc(events, sizeof *model);
    uint64_t rng = seed;
    for (uint64_t i = 0; i < COLD_EVENTS + HOT_EVENTS; i++) {
        make_event(&rng, i, COLD_EVENTS + HOT_EVENTS, keys, &model[i]);
        if (superseded && i >= COLD_EVENTS)
            snprintf(model[i].key, sizeof model[i].key, "h%u", (unsigned)(i % HOT_KEYS));
    }
    for (uint64_t i = COLD_EVENTS + HOT_EVENTS; i < events; i++) {
        snprintf(model[i].key, sizeof model[i].key, "h%u", (unsigned)(i % HOT_KEYS));
        snprintf(model[i].value, sizeof model[i].value, "{\"i\":%llu}", (unsigned long long)i);
    }
    append_model(0, COLD_EVENTS, 0);
    /* Every sealed segment goes cold (the first events rolled into one
     * first), then no more. */
    append_model(COLD_EVENTS, COLD_EVENTS, 1);
    test_set_cold_after(dir, 1);
    test_retain_all(dir);
    test_set_cold_after(dir, 0);
    append_model(COLD_EVENTS, COLD_EVENTS + HOT_EVENTS, 0);
    append_model(COLD_EVENTS + HOT_EVENTS, events, 1);
}

/* The partition's catalog entries, as (base, end, tier) triples, and how
 * many are cold. */
typedef struct layout {
    size_t n, cold;
    uint64_t base[128], end[128], records[128];
    uint8_t tier[128];
} layout;

static layout layout_of(catalog *c)
{
    cr_assert_eq(sl_catalog_refresh(c), 0, "%s", siglog_errdetail());
    catalog_snapshot *snap = sl_catalog_snapshot_get(c);
    layout l = {.n = sl_catalog_snapshot_count(snap), .cold = sl_cold_prefix(snap)};
    cr_assert_leq(l.n, 128);
    for (size_t i = 0; i < l.n; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(snap, i);
        l.base[i] = e->base_offset;
        l.end[i] = e->end_offset;
        l.records[i] = e->record_count;
        l.tier[i] = e->tier;
    }
    sl_catalog_snapshot_release(snap);
    return l;
}

/* Whether two runs' figures agree on what goes (a dry run writes nothing,
 * so it leaves segments_out and bytes_out 0). */
static void assert_same_figures(const compact_stats *dry, const compact_stats *st, const char *what)
{
    cr_assert(dry->segments_in == st->segments_in && dry->records_in == st->records_in &&
                  dry->records_dropped == st->records_dropped && dry->bytes_in == st->bytes_in,
              "%s: the dry run counts %llu segments, %llu records, %llu dropped, %llu bytes; the run %llu, %llu, "
              "%llu, %llu",
              what, (unsigned long long)dry->segments_in, (unsigned long long)dry->records_in,
              (unsigned long long)dry->records_dropped, (unsigned long long)dry->bytes_in,
              (unsigned long long)st->segments_in, (unsigned long long)st->records_in,
              (unsigned long long)st->records_dropped, (unsigned long long)st->bytes_in);
}

/* Whether no event after model event i has its key. */
static int newest_of_key(uint64_t i)
{
    for (uint64_t j = i + 1; j < events; j++)
        if (strcmp(model[j].key, model[i].key) == 0)
            return 0;
    return 1;
}

/* The key compaction parameters of the stores of build_cold. */
static compact_keys_params cold_kp(void)
{
    return (compact_keys_params){.now_us = TS0 + (int64_t)events * TS_STEP,
                                 .tombstone_retention_us = events / 2 * TS_STEP,
                                 .memory_bytes = 1 << 20};
}

/* A dry run of key compaction of c, then the run (*st): the same figures. */
static void dry_then_run(catalog *c, const compact_keys_params *kp, compact_stats *st, const char *what)
{
    compact_stats dry;
    cr_assert_eq(sl_compact_partition_keys_count(c, &params, kp, &dry), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_compact_partition_keys(c, &params, SIGLOG_COMPRESSION_LZ4, kp, st), 0, "%s",
                 siglog_errdetail());
    assert_same_figures(&dry, st, what);
}

/* Key compaction of the store of build_cold: the cold entries as they
 * were, every event read back as the model says (the cold and active
 * ones all kept), a dry run's count of what goes the run's, and with
 * `superseded` the hot stretch one segment holding its last event alone;
 * a second run changes nothing. */
static void compact_beside_cold_and_check(uint64_t seed, uint32_t keys, int superseded)
{
    build_cold(seed, keys, superseded);
    catalog *c;
    maintenance *m = maint_catalog(&c);
    layout was = layout_of(c);
    cr_assert_geq(was.cold, 2, "%zu cold entries", was.cold);
    cr_assert_eq(was.end[was.cold - 1], COLD_EVENTS, "the cold tier ends at %llu",
                 (unsigned long long)was.end[was.cold - 1]);
    cr_assert_geq(was.n - was.cold, 4, "%zu hot entries", was.n - was.cold);
    uint64_t sealed_end = was.end[was.n - 2];
    cr_assert_eq(sealed_end, COLD_EVENTS + HOT_EVENTS);

    compact_keys_params kp = cold_kp();
    compact_stats st;
    dry_then_run(c, &kp, &st, "the run");
    layout now = layout_of(c);

    uint64_t expired = 0, young = 0;
    expect e = {.keep = model_survivors(events, events, kp.now_us, kp.tombstone_retention_us, &expired, &young)};
    uint64_t hot_kept = 0, held = 0;
    for (uint64_t i = 0; i < events; i++) {
        if (i < COLD_EVENTS || i >= sealed_end) {
            e.keep[i] = 1; /* the cold tier and the active segment are not compacted */
            continue;
        }
        /* Its key's newest tombstone stays whatever its age: the cold
         * tier before it may hold an older value of the key. */
        if (model[i].tombstone && !e.keep[i] && newest_of_key(i)) {
            e.keep[i] = 1;
            held++;
        }
        hot_kept += e.keep[i];
    }
    if (!superseded)
        cr_assert_gt(held, 0, "premise: no expired tombstone is its key's newest in the hot stretch");
    if (superseded) {
        cr_assert_eq(hot_kept, 0, "premise: the model keeps nothing of the hot sealed stretch");
        e.keep[sealed_end - 1] = 1; /* the range's holder */
        cr_assert_eq(now.n, was.cold + 2, "%zu entries after the compaction", now.n);
        cr_assert(now.base[was.cold] == COLD_EVENTS && now.end[was.cold] == sealed_end &&
                  now.records[was.cold] == 1, "the hot stretch is not one entry of its holder");
    } else {
        cr_assert_gt(hot_kept, 0);
    }
    cr_assert_eq(now.cold, was.cold);
    for (size_t i = 0; i < was.cold; i++)
        cr_assert(now.base[i] == was.base[i] && now.end[i] == was.end[i] && now.tier[i] == CATALOG_TIER_COLD,
                  "cold entry %zu changed", i);
    for (size_t i = 1; i < now.n; i++)
        cr_assert_eq(now.base[i], now.end[i - 1], "entry %zu does not start where the one before ends", i);
    uint64_t want = 0;
    for (uint64_t i = 0; i < events; i++)
        want += e.keep[i];
    cr_assert_eq(st.records_dropped, events - want, "%llu dropped, the model drops %llu",
                 (unsigned long long)st.records_dropped, (unsigned long long)(events - want));

    /* Once is enough: a second run finds the holder and changes nothing. */
    compact_stats again;
    dry_then_run(c, &kp, &again, "the second run");
    layout after = layout_of(c);
    cr_assert_eq(after.n, now.n);
    if (superseded)
        cr_assert_eq(again.records_dropped + again.segments_out, 0, "the holder was rewritten again");
    sl_maintenance_close(m);
    read_store(check_survivor, &e);
    cr_assert_eq(e.seen, want, "seed %llu: %llu records read, the model keeps %llu", (unsigned long long)seed,
                 (unsigned long long)e.seen, (unsigned long long)want);
    free(e.keep);
}

Test(compact, key_compaction_after_a_cold_tier_reads_back_as_the_model)
{
    compact_beside_cold_and_check(300, 40, 0);
}

Test(compact, key_compaction_of_a_stretch_after_the_cold_tier_that_keeps_nothing_keeps_its_holder)
{
    compact_beside_cold_and_check(301, 40, 1);
}

/* The store of build_cold with every hot sealed event superseded, and the
 * second of its hot sealed segments lost (removed, the loss accepted):
 * two stretches after the cold tier, each keeping nothing. The dry run
 * counts each as the run compacts it (it counted them as one, a holder
 * for both), and each becomes one entry holding its last event alone;
 * once that is done, neither run finds anything to do. */
Test(compact, key_compaction_dry_run_counts_each_stretch_after_a_loss_as_the_run_does)
{
    build_cold(302, 40, 1);
    catalog *c;
    maintenance *m = maint_catalog(&c);
    layout was = layout_of(c);
    sl_maintenance_close(m);
    cr_assert_geq(was.n - was.cold, 4, "%zu hot entries", was.n - was.cold);
    size_t lost = was.cold + 1;
    uint64_t lost_from = was.base[lost], lost_to = was.end[lost], sealed_end = was.end[was.n - 2];
    test_remove_segment(pdir, lost_from);
    cr_assert_eq(siglog_verify(dir, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL), 0, "%s", siglog_errdetail());

    m = maint_catalog(&c);
    compact_keys_params kp = cold_kp();
    compact_stats st;
    dry_then_run(c, &kp, &st, "the first run");
    cr_assert_eq(st.records_dropped, st.records_in - 2, "each stretch keeps its holder");

    layout now = layout_of(c);
    cr_assert_eq(now.n, was.cold + 3, "%zu entries after the compaction", now.n);
    cr_assert(now.base[was.cold] == COLD_EVENTS && now.end[was.cold] == lost_from && now.records[was.cold] == 1,
              "the stretch before the loss is not one entry of its holder");
    cr_assert(now.base[was.cold + 1] == lost_to && now.end[was.cold + 1] == sealed_end &&
                  now.records[was.cold + 1] == 1,
              "the stretch after the loss is not one entry of its holder");

    compact_stats again;
    dry_then_run(c, &kp, &again, "the second run");
    cr_assert_eq(again.segments_in + again.records_dropped, 0, "a holder was rewritten again");
    sl_maintenance_close(m);

    /* The cold and active events, and the holders at the end of each
     * stretch; the loss reported once. */
    expect e = {.keep = calloc(events, 1)};
    for (uint64_t i = 0; i < events; i++)
        e.keep[i] = i < COLD_EVENTS || i >= sealed_end || i == lost_from - 1 || i == sealed_end - 1;
    unsigned gaps;
    read_store_past_gaps(check_survivor, &e, &gaps);
    cr_assert_eq(gaps, 1);
    cr_assert_eq(e.seen, COLD_EVENTS + HOT_KEYS + 2, "%llu records read", (unsigned long long)e.seen);
    free(e.keep);
}
