/*
 * keyfilter — the per-segment key filter: never a false negative and a
 * false-positive rate within its design bound over random keys; its file
 * round-trips and refuses every damaged byte; every sealed segment gets
 * one; a cursor with a key reads only the segments whose filter admits it
 * (counted at the I/O layer) and answers exactly as a scan of every
 * record does, also when filters are missing, stale or damaged.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "keyfilter.h"
#include "names.h"
#include "options_io.h"
#include "support.h"

/* ---- the filter ---------------------------------------------------------- */

static void random_key(uint64_t *rng, char *buf, size_t n)
{
    snprintf(buf, n, "key-%016llx-%llu", (unsigned long long)test_rand(rng),
             (unsigned long long)(test_rand(rng) % 1000));
}

/* Expected rate at 10 bits per key (keyfilter.h): 1.3 %. With 200 000
 * probes the measured rate's standard deviation is 0.025 %, so 2 % is
 * far outside chance and still a bound a broken hash spread would break. */
#define FPR_BOUND 0.02

Test(keyfilter, never_a_false_negative_and_rate_within_bound)
{
    static const uint64_t sizes[] = {1, 7, 100, 5000, 40000};
    uint64_t rng = 42;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint64_t n = sizes[s];
        uint64_t *hashes = malloc(n * sizeof *hashes);
        cr_assert_not_null(hashes);
        keyfilter f;
        keyfilter_binding of = {0, n, 1};
        cr_assert_eq(sl_keyfilter_init(&f, sl_keyfilter_blocks_for(n), &of), 0);
        for (uint64_t i = 0; i < n; i++) {
            char k[64];
            random_key(&rng, k, sizeof k);
            hashes[i] = sl_keyfilter_hash(k, strlen(k));
            sl_keyfilter_add(&f, hashes[i]);
        }
        for (uint64_t i = 0; i < n; i++)
            cr_assert(sl_keyfilter_may_contain(&f, hashes[i]), "false negative for key %llu of %llu",
                      (unsigned long long)i, (unsigned long long)n);
        if (n >= 5000) {
            /* Keys from another generator state were never inserted
             * (a 64-bit collision aside). */
            uint64_t probes = 200000, hits = 0, other = 7;
            for (uint64_t i = 0; i < probes; i++) {
                char k[64];
                random_key(&other, k, sizeof k);
                hits += (uint64_t)sl_keyfilter_may_contain(&f, sl_keyfilter_hash(k, strlen(k)));
            }
            double rate = (double)hits / (double)probes;
            cr_assert_leq(rate, FPR_BOUND, "false-positive rate %.4f with %llu keys", rate, (unsigned long long)n);
        }
        sl_keyfilter_free(&f);
        free(hashes);
    }
}

Test(keyfilter, sized_at_ten_bits_per_key_within_bounds)
{
    cr_assert_eq(sl_keyfilter_blocks_for(0), 1);
    cr_assert_eq(sl_keyfilter_blocks_for(1), 1);
    cr_assert_eq(sl_keyfilter_blocks_for(25), 1);  /* 250 bits */
    cr_assert_eq(sl_keyfilter_blocks_for(26), 2);  /* 260 bits */
    cr_assert_eq(sl_keyfilter_blocks_for(UINT64_MAX), KEYFILTER_BLOCKS_MAX);
}

Test(keyfilter, file_round_trips_and_refuses_every_flipped_byte)
{
    keyfilter f, g;
    keyfilter_binding of = {100, 250, 0x1234};
    cr_assert_eq(sl_keyfilter_init(&f, 3, &of), 0);
    for (int i = 0; i < 70; i++)
        sl_keyfilter_add(&f, sl_keyfilter_hash(&i, sizeof i));
    uint8_t *buf;
    size_t len;
    cr_assert_eq(sl_keyfilter_encode(&f, &buf, &len), 0);
    cr_assert_eq(len, KEYFILTER_HEADER_BYTES + 3 * KEYFILTER_BLOCK_BYTES + 8);
    cr_assert_eq(sl_keyfilter_decode(buf, len, &g), 0, "%s", siglog_errdetail());
    cr_assert_eq(g.block_count, 3);
    cr_assert_eq(g.key_count, 70);
    cr_assert_eq(memcmp(&g.of, &of, sizeof of), 0);
    cr_assert_eq(memcmp(g.words, f.words, 3 * KEYFILTER_BLOCK_BYTES), 0);
    sl_keyfilter_free(&g);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x10;
        int rc = sl_keyfilter_decode(buf, len, &g);
        cr_assert(rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION, "byte %zu flipped: %d", i, rc);
        buf[i] ^= 0x10;
    }
    for (size_t cut = 0; cut < len; cut += 7)
        cr_assert_eq(sl_keyfilter_decode(buf, cut, &g), SIGLOG_ECORRUPT, "cut at %zu", cut);
    free(buf);
    sl_keyfilter_free(&f);
}

/* ---- filters of a stream's segments ------------------------------------ */

/* A backend that counts the distinct .seg files opened. */
#define SEG_PATHS_MAX 256

typedef struct seg_counter {
    siglog_io io;
    const siglog_io *base;
    char *paths[SEG_PATHS_MAX];
    size_t count;
} seg_counter;

static int count_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    seg_counter *c = io->ctx;
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".seg") == 0) {
        size_t i = 0;
        while (i < c->count && strcmp(c->paths[i], path) != 0)
            i++;
        if (i == c->count) {
            cr_assert_lt(c->count, SEG_PATHS_MAX);
            c->paths[c->count++] = strdup(path);
        }
    }
    return c->base->open_file(c->base, path, flags, mode);
}

static void counter_reset(seg_counter *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->paths[i]);
    c->count = 0;
}

static char *dir;
static seg_counter counter;

#define EVENTS 4000
#define EVENTS_PER_KEY 20

static void key_of(uint64_t i, char *buf, size_t n)
{
    snprintf(buf, n, "user-%llu", (unsigned long long)(i / EVENTS_PER_KEY));
}

/* 4000 events of ~1 KiB in 64 KiB segments (about 65 of them), each key
 * on 20 consecutive events, every 13th event without a key; the store
 * closed and opened again halfway, so that the segment active then is
 * sealed by a writer that did not append all of it. */
static void setup(void)
{
    dir = test_tmpdir("keyfilter");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = 64 * 1024;
    c.batch_bytes_max = 4096;
    c.compression = SIGLOG_COMPRESSION_NONE;
    cr_assert_eq(siglog_stream_create(s, "t", &c), 0);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    for (uint64_t i = 0; i < EVENTS; i++) {
        if (i == EVENTS / 2 + 7) {
            cr_assert_eq(siglog_close(s), 0);
            s = test_store_open(dir, NULL);
            cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
        }
        char k[32], v[1100];
        key_of(i, k, sizeof k);
        int n = snprintf(v, sizeof v, "{\"i\":%llu,\"pad\":\"%01000d\"}", (unsigned long long)i, 0);
        siglog_event e = {.key = i % 13 ? k : NULL, .key_len = i % 13 ? strlen(k) : 0, .value = v,
                          .value_len = (size_t)n};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
    counter.base = sl_io_posix();
    counter.io = *counter.base;
    counter.io.open_file = count_open;
    counter.io.ctx = &counter;
}

static void teardown(void)
{
    counter_reset(&counter);
    test_rmtree(dir);
    free(dir);
}

TestSuite(keyfilter_stream, .init = setup, .fini = teardown);

static char *partition_dir(void)
{
    char *pdir = NULL;
    cr_assert_geq(asprintf(&pdir, "%s/streams/t/%0*u", dir, PARTITION_DIR_DIGITS, 0u), 0);
    return pdir;
}

/* Offsets of the records with key k (NULL: no key) read by a cursor
 * with the key set, and the .seg files it opened. */
static size_t keyed_offsets(const char *k, size_t klen, uint64_t *out, size_t max, size_t *segs_opened)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    sl_options_set_io(&o, &counter.io);
    siglog *s;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    counter_reset(&counter);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_cursor_set_key(c, k, klen), 0);
    const siglog_record *r;
    size_t n = 0;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        cr_assert_eq(r->key_len, klen);
        cr_assert(klen == 0 || memcmp(r->key, k, klen) == 0);
        cr_assert_lt(n, max);
        out[n++] = r->offset;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    *segs_opened = counter.count;
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(s), 0);
    return n;
}

/* The offsets the workload gave key k, as a scan of every record finds
 * them. */
static size_t expected_offsets(const char *k, uint64_t *out)
{
    size_t n = 0;
    for (uint64_t i = 0; i < EVENTS; i++) {
        char kk[32];
        key_of(i, kk, sizeof kk);
        int keyed = i % 13 != 0;
        if (k ? keyed && strcmp(kk, k) == 0 : !keyed)
            out[n++] = i;
    }
    return n;
}

static void check_key(const char *k, size_t max_segments)
{
    uint64_t got[EVENTS], want[EVENTS];
    size_t segs;
    size_t n = keyed_offsets(k ? k : "", k ? strlen(k) : 0, got, EVENTS, &segs);
    size_t m = expected_offsets(k, want);
    cr_assert_eq(n, m, "key %s: %zu records, expected %zu", k ? k : "(none)", n, m);
    cr_assert_eq(memcmp(got, want, n * sizeof *got), 0, "key %s: other offsets", k ? k : "(none)");
    cr_assert_leq(segs, max_segments, "key %s: %zu segment files opened", k ? k : "(none)", segs);
}

static size_t count_ext(const char *pdir, const char *ext)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '%s$'", pdir, ext);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = 0;
    cr_assert_eq(fscanf(p, "%zu", &n), 1);
    pclose(p);
    return n;
}

Test(keyfilter_stream, every_sealed_segment_has_a_filter)
{
    char *pdir = partition_dir();
    size_t segs = count_ext(pdir, ".seg");
    cr_assert_gt(segs, 40, "only %zu segments", segs);
    cr_assert_eq(count_ext(pdir, ".kf"), segs - 1, "the active segment has none, every sealed one has");
    free(pdir);
}

Test(keyfilter_stream, a_key_reads_only_the_segments_that_may_hold_it)
{
    /* 20 events of ~1 KiB: one or two segments hold the key; the active
     * one is always read; false positives at 1.3 % of ~65 add one or two. */
    check_key("user-100", 6);
    check_key("user-3", 6);
    check_key("user-199", 6);
    check_key("nobody", 4);
    /* Records without a key: every 13th, in every segment. */
    check_key(NULL, 1000);
}

Test(keyfilter_stream, missing_stale_or_damaged_filters_cost_reads_never_answers)
{
    char *pdir = partition_dir();
    char cmd[4096];
    /* Damage one filter, swap two others (stale: bound to another
     * segment), remove the rest. */
    snprintf(cmd, sizeof cmd,
             "cd %s && set -- $(ls *.kf) && printf 'x' | dd of=$1 bs=1 seek=60 conv=notrunc 2>/dev/null && "
             "cp $2 $3.tmp && cp $3 $2 && mv $3.tmp $3 && shift 3 && rm -f \"$@\"",
             pdir);
    cr_assert_eq(system(cmd), 0);
    /* Segment 0 holds user-0..2, segments 1 and 2 user-3..8 (~60
     * events of ~1 KiB each). */
    check_key("user-0", 1000);
    check_key("user-4", 1000);
    check_key("user-7", 1000);
    check_key("user-100", 1000);
    check_key("nobody", 1000);
    free(pdir);
}

/* Each filter a writer built at a roll, from the key hashes it kept while
 * appending or (the segment active at the reopen) from the records read
 * back, is byte for byte the filter the records read back give. */
Test(keyfilter_stream, filters_from_the_appends_are_those_read_back)
{
    char *pdir = partition_dir();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ls %s | grep '\\.kf$'", pdir);
    FILE *ls = popen(cmd, "r");
    cr_assert_not_null(ls);
    char name[256];
    size_t checked = 0;
    segment_params sp = {.segment_bytes_max = 64 * 1024, .index_interval_bytes = 4096, .file_mode = 0600};
    while (fscanf(ls, "%255s", name) == 1) {
        uint64_t base = strtoull(name, NULL, 10);
        char *path = NULL;
        cr_assert_geq(asprintf(&path, "%s/%s", pdir, name), 0);
        size_t built_len, again_len;
        void *built, *again;
        cr_assert_eq(sl_io_read_file(sl_io_posix(), path, KEYFILTER_FILE_MAX, &built, &built_len), 0);
        segment *seg;
        cr_assert_eq(sl_segment_open(sl_io_posix(), pdir, base, 0, &sp, &seg), 0, "%s", siglog_errdetail());
        cr_assert_eq(sl_keyfilter_write_segment(seg, NULL), 0, "%s", siglog_errdetail());
        sl_segment_close(seg);
        cr_assert_eq(sl_io_read_file(sl_io_posix(), path, KEYFILTER_FILE_MAX, &again, &again_len), 0);
        cr_assert(built_len == again_len && memcmp(built, again, built_len) == 0, "%s differs", name);
        free(built);
        free(again);
        free(path);
        checked++;
    }
    pclose(ls);
    cr_assert_gt(checked, 40);
    free(pdir);
}
