/*
 * segment — appends are found again through the offset and time indexes,
 * a torn tail is told apart from damage in the middle of the file, indexes
 * are rebuilt (writable) or ignored (read-only) when unusable, and sealing
 * writes a valid summary. Each test builds real batches with the batch
 * codec and keeps a model of where every batch went.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "batch.h"
#include "codec.h"
#include "error.h"
#include "segment.h"
#include "support.h"

#define BASE 5000u
#define MAX_BATCHES 512
#define TS_RANGE 1000

/* What the test appended, batch by batch. */
typedef struct model {
    size_t n;
    uint64_t pos[MAX_BATCHES];
    uint64_t base[MAX_BATCHES];
    uint32_t count[MAX_BATCHES];
    uint32_t bytes[MAX_BATCHES];
    int64_t max_ts[MAX_BATCHES];
    int indexed[MAX_BATCHES]; /* by the interval rule of the format */
    uint64_t last_indexed_pos;
    uint64_t end;
    uint64_t next;
} model;

static char *dir;
static model m;
static uint64_t rng;
static segment_params params;

static void setup(void)
{
    dir = test_tmpdir("segment");
    memset(&m, 0, sizeof m);
    m.next = BASE;
    rng = 7;
    params = (segment_params){.segment_bytes_max = 1 << 20, .index_interval_bytes = 256, .file_mode = 0644};
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(segment, .init = setup, .fini = teardown);

static char *file_of(const char *ext)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    sl_segment_path(p, 512, dir, BASE, ext);
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    size_t n = test_file_size(path);
    uint8_t *b = malloc(n ? n : 1);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pread(fd, b, n, 0), (ssize_t)n);
    close(fd);
    *len = n;
    return b;
}

static void expect_same_file(const char *path, const uint8_t *want, size_t want_len)
{
    size_t len;
    uint8_t *got = slurp(path, &len);
    cr_expect_eq(len, want_len, "%s: %zu bytes, expected %zu", path, len, want_len);
    cr_expect(len == want_len && memcmp(got, want, len) == 0, "%s differs", path);
    free(got);
}

static segment *create_seg(void)
{
    segment *s = NULL;
    int rc = sl_segment_create(sl_io_posix(), dir, BASE, &params, &s);
    cr_assert_eq(rc, 0, "segment_create: %s", siglog_errdetail());
    return s;
}

static segment *open_seg(int writable)
{
    segment *s = NULL;
    int rc = sl_segment_open(sl_io_posix(), dir, BASE, writable, &params, &s);
    cr_assert_eq(rc, 0, "segment_open: %s", siglog_errdetail());
    return s;
}

/* Open the active segment as the writer does: scan, cut a torn tail, adopt. */
static segment *recover_seg(segment_tail *t)
{
    segment *s = open_seg(1);
    cr_assert_eq(sl_segment_scan_tail(s, t), 0, "%s", siglog_errdetail());
    cr_assert_eq(t->damaged, 0);
    if (t->valid_bytes < t->file_bytes)
        cr_assert_eq(sl_segment_truncate(s, t->valid_bytes), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_segment_adopt_tail(s, t), 0, "%s", siglog_errdetail());
    return s;
}

/* One batch of 1..4 records with random timestamps in [0, TS_RANGE) (ties
 * and disorder included) and random values, appended to out. */
static void build_batch(batch_builder *b, uint64_t base, bytebuf *out, batch_meta *meta)
{
    uint8_t value[160];
    sl_batch_builder_reset(b, base, 0);
    uint32_t n = 1 + (uint32_t)(test_rand(&rng) % 4);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = 20 + test_rand(&rng) % 140;
        for (size_t j = 0; j < len; j++)
            value[j] = (uint8_t)test_rand(&rng);
        siglog_event ev = {.key = "k", .key_len = 1, .value = value, .value_len = len};
        cr_assert_eq(sl_batch_builder_add(b, &ev, (int64_t)(test_rand(&rng) % TS_RANGE)), 0);
    }
    cr_assert_eq(sl_batch_builder_seal(b, SIGLOG_COMPRESSION_NONE, out, meta), 0);
}

/* Append n batches, one to three per sl_segment_append call. */
static void fill(segment *s, size_t n)
{
    batch_builder b;
    sl_batch_builder_init(&b);
    bytebuf out = {0};
    batch_meta metas[3];
    while (n > 0) {
        size_t k = 1 + test_rand(&rng) % 3;
        if (k > n)
            k = n;
        out.len = 0;
        for (size_t i = 0; i < k; i++) {
            build_batch(&b, m.next, &out, &metas[i]);
            cr_assert(m.n < MAX_BATCHES);
            m.pos[m.n] = m.end;
            m.base[m.n] = metas[i].base_offset;
            m.count[m.n] = metas[i].record_count;
            m.bytes[m.n] = metas[i].bytes;
            m.max_ts[m.n] = metas[i].max_timestamp_us;
            m.indexed[m.n] = m.end > 0 && m.end - m.last_indexed_pos >= params.index_interval_bytes;
            if (m.indexed[m.n])
                m.last_indexed_pos = m.end;
            m.end += metas[i].bytes;
            m.next += metas[i].record_count;
            m.n++;
        }
        cr_assert_eq(sl_segment_append(s, out.data, out.len, metas, k), 0, "%s", siglog_errdetail());
        n -= k;
    }
    cr_assert_eq(sl_segment_next_offset(s), m.next);
    cr_assert_eq(sl_segment_size(s), m.end);
    sl_bytebuf_free(&out);
    sl_batch_builder_free(&b);
}

static void append_raw(const void *data, size_t len)
{
    int fd = open(file_of(".seg"), O_WRONLY | O_APPEND);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static int64_t model_max_ts(size_t upto)
{
    int64_t mx = INT64_MIN;
    for (size_t i = 0; i < upto; i++)
        if (m.max_ts[i] > mx)
            mx = m.max_ts[i];
    return mx;
}

static long model_batch_at(uint64_t pos)
{
    for (size_t i = 0; i < m.n; i++)
        if (m.pos[i] == pos)
            return (long)i;
    return -1;
}

/* Where an index lookup should send a scan for batch j (m.n: past the
 * end): the last indexed batch at or before it, else the file's start. */
static uint64_t model_index_hit(size_t j)
{
    for (size_t i = j < m.n ? j + 1 : m.n; i-- > 0;)
        if (m.indexed[i])
            return m.pos[i];
    return 0;
}

/* ---- names ---- */

Test(segment, names_round_trip_and_strangers_are_refused)
{
    char buf[128];
    sl_segment_path(buf, sizeof buf, "d", 12345, ".seg");
    cr_assert_str_eq(buf, "d/00000000000000012345.seg");
    uint64_t v = 0;
    cr_assert_eq(sl_segment_parse_name(buf + 2, &v), 0);
    cr_assert_eq(v, 12345);
    cr_assert_eq(sl_segment_parse_name("18446744073709551615.seg", &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    static const char *bad[] = {"18446744073709551616.seg", "99999999999999999999.seg", "0000000000000001234.seg",
                                "000000000000000012345.seg", "00000000000000012345.oix", "00000000000000012345.seg~",
                                "0000000000000001234a.seg", "-0000000000000012345.seg", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(sl_segment_parse_name(bad[i], &v), -1, "accepted \"%s\"", bad[i]);
}

/* ---- appending and locating ---- */

Test(segment, create_starts_empty_with_its_clock)
{
    int64_t before = sl_io_posix()->now_us(sl_io_posix());
    segment *s = create_seg();
    int64_t after = sl_io_posix()->now_us(sl_io_posix());
    cr_assert_eq(sl_segment_base_offset(s), BASE);
    cr_assert_eq(sl_segment_next_offset(s), BASE);
    cr_assert_eq(sl_segment_size(s), 0);
    cr_assert_eq(sl_segment_max_timestamp(s), INT64_MIN);
    cr_assert(sl_segment_created_us(s) >= before && sl_segment_created_us(s) <= after);
    cr_assert_str_eq(sl_segment_file_path(s), file_of(".seg"));
    cr_assert(exists(file_of(".oix")) && exists(file_of(".tix")));
    cr_assert_eq(sl_segment_index_bytes(s), test_file_size(file_of(".oix")) + test_file_size(file_of(".tix")));
    sl_segment_close(s);
}

Test(segment, create_accepts_an_empty_leftover_but_not_data)
{
    close(open(file_of(".seg"), O_CREAT | O_WRONLY, 0644));
    segment *s = create_seg();
    fill(s, 2);
    sl_segment_close(s);
    s = NULL;
    cr_assert_eq(sl_segment_create(sl_io_posix(), dir, BASE, &params, &s), SIGLOG_EEXIST);
    cr_assert_null(s);
}

Test(segment, locate_offset_starts_at_or_before_the_batch_and_uses_the_index)
{
    segment *s = create_seg();
    fill(s, 300);
    for (int reopened = 0; reopened < 2; reopened++) {
        size_t j = 0, helped = 0;
        for (uint64_t target = BASE - 3; target < m.next + 3; target++) {
            while (j < m.n && m.base[j] + m.count[j] <= target)
                j++;
            uint64_t pos = 99;
            cr_assert_eq(sl_segment_locate_offset(s, target, UINT64_MAX, &pos), 0);
            /* Exactly the last indexed batch at or before the target's. */
            cr_assert_eq(pos, model_index_hit(j), "offset %llu: position %llu, expected %llu",
                         (unsigned long long)target, (unsigned long long)pos,
                         (unsigned long long)model_index_hit(j));
            helped += pos > 0;
        }
        cr_assert_gt(helped, 0);
        sl_segment_close(s);
        s = open_seg(0); /* the same answers from a read-only open */
    }
    sl_segment_close(s);
}

Test(segment, locate_time_never_skips_a_record_at_or_after_the_target)
{
    segment *s = create_seg();
    fill(s, 300);
    cr_assert_eq(sl_segment_max_timestamp(s), model_max_ts(m.n));
    for (int reopened = 0; reopened < 2; reopened++) {
        size_t helped = 0;
        for (int64_t target = -2; target <= TS_RANGE + 2; target++) {
            uint64_t pos = 99;
            cr_assert_eq(sl_segment_locate_time(s, target, UINT64_MAX, &pos), 0);
            long at = model_batch_at(pos);
            cr_assert_geq(at, 0, "ts %lld: position %llu is not a batch start", (long long)target,
                          (unsigned long long)pos);
            /* Every batch skipped holds only records before the target:
             * the first record >= target is at or after pos. */
            cr_assert_lt(model_max_ts((size_t)at), target, "ts %lld: position %llu skips a record at or after it",
                         (long long)target, (unsigned long long)pos);
            /* And it skips every indexed batch it can. */
            size_t j = 0;
            while (j < m.n && m.max_ts[j] < target)
                j++;
            cr_assert_eq(pos, model_index_hit(j), "ts %lld: position %llu, expected %llu", (long long)target,
                         (unsigned long long)pos, (unsigned long long)model_index_hit(j));
            helped += pos > 0;
        }
        cr_assert_gt(helped, 0);
        sl_segment_close(s);
        s = open_seg(0);
    }
    sl_segment_close(s);
}

Test(segment, read_batch_returns_each_batch_and_stops_at_the_limit)
{
    segment *s = create_seg();
    fill(s, 20);
    bytebuf buf = {0};
    batch_header h;
    for (size_t i = 0; i < m.n; i++) {
        cr_assert_eq(sl_segment_read_batch(s, m.pos[i], m.end, &h, &buf), 1, "%s", siglog_errdetail());
        cr_assert_eq(h.base_offset, m.base[i]);
        cr_assert_eq(h.record_count, m.count[i]);
        cr_assert_eq(buf.len, m.bytes[i] - BATCH_HEADER_BYTES);
    }
    size_t cap = buf.cap;
    cr_assert_eq(sl_segment_read_batch(s, m.end, m.end, &h, &buf), 0, "at the limit");
    cr_assert_eq(sl_segment_read_batch(s, m.pos[3], m.pos[4] - 1, &h, &buf), 0, "batch ends beyond the limit");
    cr_assert_eq(sl_segment_read_batch(s, m.pos[3], m.pos[3] + 10, &h, &buf), 0, "header beyond the limit");
    cr_assert_eq(sl_segment_read_batch(s, m.pos[3], m.end + 100, &h, &buf), 1, "limit beyond the file");
    cr_assert_eq(buf.cap, cap, "the caller's buffer is reused");
    sl_segment_close(s);

    test_flip_byte(file_of(".seg"), m.pos[5] + BATCH_HEADER_BYTES + 2, 0x10);
    s = open_seg(0);
    cr_assert_eq(sl_segment_read_batch(s, m.pos[5], m.end, &h, &buf), SIGLOG_ECORRUPT);
    char want[600];
    snprintf(want, sizeof want, "%s: invalid batch at byte %llu: ", file_of(".seg"), (unsigned long long)m.pos[5]);
    cr_assert(strncmp(siglog_errdetail(), want, strlen(want)) == 0, "detail: %s", siglog_errdetail());
    cr_assert_eq(sl_segment_read_batch(s, m.pos[5] + 1, m.end, &h, &buf), SIGLOG_ECORRUPT, "not a batch start");
    sl_bytebuf_free(&buf);
    sl_segment_close(s);
}

Test(segment, append_refuses_batches_that_do_not_continue_the_segment)
{
    segment *s = create_seg();
    fill(s, 3);
    batch_builder b;
    sl_batch_builder_init(&b);
    bytebuf out = {0};
    batch_meta meta;
    build_batch(&b, m.next + 1, &out, &meta);
    cr_expect_eq(sl_segment_append(s, out.data, out.len, &meta, 1), SIGLOG_EINVAL, "gap in offsets");
    out.len = 0;
    build_batch(&b, m.next, &out, &meta);
    cr_expect_eq(sl_segment_append(s, out.data, out.len - 1, &meta, 1), SIGLOG_EINVAL, "length disagrees");
    meta.record_count++;
    cr_expect_eq(sl_segment_append(s, out.data, out.len, &meta, 1), SIGLOG_EINVAL, "meta disagrees with header");
    cr_expect_eq(sl_segment_size(s), m.end);
    cr_expect_eq(test_file_size(file_of(".seg")), m.end, "nothing written");
    sl_segment_close(s);

    s = open_seg(0);
    meta.record_count--;
    cr_expect_eq(sl_segment_append(s, out.data, out.len, &meta, 1), SIGLOG_ERDONLY);
    sl_segment_close(s);
    s = open_seg(1);
    cr_expect_eq(sl_segment_append(s, out.data, out.len, &meta, 1), SIGLOG_EINVAL, "before the tail is adopted");
    sl_segment_close(s);
    sl_bytebuf_free(&out);
    sl_batch_builder_free(&b);
}

/* ---- recovery ---- */

static void expect_tail(const segment_tail *t, size_t valid_batches, uint64_t file_bytes)
{
    uint64_t valid = valid_batches < m.n ? m.pos[valid_batches] : m.end;
    uint64_t next = valid_batches < m.n ? m.base[valid_batches] : m.next;
    cr_assert_eq(t->valid_bytes, valid, "valid_bytes %llu, expected %llu", (unsigned long long)t->valid_bytes,
                 (unsigned long long)valid);
    cr_assert_eq(t->file_bytes, file_bytes);
    cr_assert_eq(t->next_offset, next);
    cr_assert_eq(t->record_count, next - BASE);
    cr_assert_eq(t->max_timestamp_us, model_max_ts(valid_batches));
}

Test(segment, torn_tail_at_every_byte_leaves_exactly_the_valid_prefix)
{
    /* Every batch indexed, then none: the scan starts from an index entry
     * that may name the torn batch itself, or from the file's start. */
    static const uint32_t intervals[] = {1, 1u << 30};
    for (size_t v = 0; v < 2; v++) {
        params.index_interval_bytes = intervals[v];
        segment *s = create_seg();
        fill(s, 12);
        sl_segment_close(s);
        size_t last = m.n - 1;
        for (uint64_t cut = m.end; cut-- > m.pos[last];) {
            test_truncate(file_of(".seg"), cut);
            s = open_seg(1);
            segment_tail t;
            cr_assert_eq(sl_segment_scan_tail(s, &t), 0, "%s", siglog_errdetail());
            expect_tail(&t, last, cut);
            cr_assert_eq(t.damaged, 0, "cut at %llu reported as damage at %llu", (unsigned long long)cut,
                         (unsigned long long)t.damage_next_pos);
            sl_segment_close(s);
        }
        /* The writer cuts the tail, adopts the state and appends again. */
        test_truncate(file_of(".seg"), m.pos[last] + m.bytes[last] / 2);
        segment_tail t;
        s = recover_seg(&t);
        cr_assert_eq(test_file_size(file_of(".seg")), m.pos[last]);
        m.n = last;
        m.end = m.pos[last];
        m.next = m.base[last];
        fill(s, 5);
        sl_segment_close(s);
        s = open_seg(1);
        cr_assert_eq(sl_segment_scan_tail(s, &t), 0);
        expect_tail(&t, m.n, m.end);
        sl_segment_close(s);

        test_rmtree(dir);
        cr_assert_eq(mkdir(dir, 0700), 0);
        memset(&m, 0, sizeof m);
        m.next = BASE;
    }
}

Test(segment, truncate_cuts_the_file_and_the_entries_beyond_it)
{
    params.index_interval_bytes = 1; /* every batch but the first indexed */
    segment *s = create_seg();
    fill(s, 10);
    sl_segment_close(s);
    s = open_seg(1);
    cr_assert_eq(sl_segment_truncate(s, m.pos[6] + 10), 0, "%s", siglog_errdetail());
    cr_assert_eq(test_file_size(file_of(".seg")), m.pos[6] + 10);
    index_file *ix = NULL;
    cr_assert_eq(sl_index_open(sl_io_posix(), file_of(".oix"), INDEX_KIND_OFFSET, BASE, 0, IO_READ, 0, &ix), 0);
    cr_assert_eq(sl_index_count(ix), 6, "entries for batches 1..6 stay");
    uint32_t rel, pos;
    sl_index_entry_offset(ix, 5, &rel, &pos);
    cr_assert_eq(pos, m.pos[6]);
    sl_index_close(ix);
    cr_assert_eq(sl_index_open(sl_io_posix(), file_of(".tix"), INDEX_KIND_TIME, BASE, 0, IO_READ, 0, &ix), 0);
    cr_assert_eq(sl_index_count(ix), 6);
    sl_index_close(ix);
    cr_assert_eq(sl_segment_truncate(s, m.end), SIGLOG_EINVAL, "truncate never extends");
    sl_segment_close(s);
}

/* After a failed append the writer cuts what part of the write reached the
 * file, back to its own end, and goes on appending. */
Test(segment, truncate_at_the_writers_end_keeps_appending)
{
    segment *s = create_seg();
    fill(s, 5);
    append_raw("partial write", 13);
    cr_assert_eq(sl_segment_truncate(s, m.end), 0, "%s", siglog_errdetail());
    fill(s, 5);
    sl_segment_close(s);
    segment_tail t;
    s = open_seg(1);
    cr_assert_eq(sl_segment_scan_tail(s, &t), 0);
    expect_tail(&t, m.n, m.end);
    cr_assert_eq(sl_segment_adopt_tail(s, &t), 0);
    cr_assert_eq(sl_segment_truncate(s, m.pos[2]), 0);
    batch_builder b;
    sl_batch_builder_init(&b);
    bytebuf out = {0};
    batch_meta meta;
    build_batch(&b, m.base[2], &out, &meta);
    cr_assert_eq(sl_segment_append(s, out.data, out.len, &meta, 1), SIGLOG_EINVAL, "a cut inside the state needs a scan");
    cr_assert_eq(sl_segment_scan_tail(s, &t), 0);
    cr_assert_eq(sl_segment_adopt_tail(s, &t), 0);
    cr_assert_eq(sl_segment_append(s, out.data, out.len, &meta, 1), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_segment_next_offset(s), m.base[2] + meta.record_count);
    sl_segment_close(s);
    sl_bytebuf_free(&out);
    sl_batch_builder_free(&b);
}

Test(segment, flipped_byte_in_the_middle_is_damage_not_a_tail)
{
    params.index_interval_bytes = 1u << 30; /* the tail scan covers the file */
    segment *s = create_seg();
    fill(s, 10);
    sl_segment_close(s);
    /* A byte in the body, then one in the header (base offset field). */
    static const uint64_t where[] = {BATCH_HEADER_BYTES + 3, 9};
    for (size_t w = 0; w < 2; w++) {
        test_flip_byte(file_of(".seg"), m.pos[5] + where[w], 0x04);
        s = open_seg(1);
        segment_tail t;
        cr_assert_eq(sl_segment_scan_tail(s, &t), 0, "%s", siglog_errdetail());
        expect_tail(&t, 5, m.end);
        cr_assert_eq(t.damaged, 1);
        cr_assert_eq(t.damage_next_pos, m.pos[6]);
        cr_assert_eq(t.damage_next_offset, m.base[6]);
        sl_segment_close(s);
        test_flip_byte(file_of(".seg"), m.pos[5] + where[w], 0x04);
    }
    /* The same flip in the last batch looks like a torn tail. */
    test_flip_byte(file_of(".seg"), m.pos[9] + BATCH_HEADER_BYTES + 3, 0x04);
    s = open_seg(1);
    segment_tail t;
    cr_assert_eq(sl_segment_scan_tail(s, &t), 0);
    expect_tail(&t, 9, m.end);
    cr_assert_eq(t.damaged, 0);
    sl_segment_close(s);
}

/* A valid batch whose offsets do not continue the segment (here a copy of
 * the first batch after the last) ends the valid prefix, and being older
 * than the prefix it is no evidence of damage: it is a tail to cut. */
Test(segment, batch_out_of_sequence_after_the_prefix_is_a_tail)
{
    segment *s = create_seg();
    fill(s, 6);
    sl_segment_close(s);
    size_t len;
    uint8_t *seg = slurp(file_of(".seg"), &len);
    append_raw(seg, m.bytes[0]);
    s = open_seg(1);
    segment_tail t;
    cr_assert_eq(sl_segment_scan_tail(s, &t), 0);
    expect_tail(&t, m.n, m.end + m.bytes[0]);
    cr_assert_eq(t.damaged, 0);
    sl_segment_close(s);
    free(seg);
}

/* A torn last batch whose value holds an older batch, byte for byte: the
 * damage search finds that header but does not take it for damage. */
Test(segment, old_batch_inside_a_torn_tail_is_not_damage)
{
    segment *s = create_seg();
    fill(s, 4);
    size_t len;
    uint8_t *seg = slurp(file_of(".seg"), &len);
    batch_builder b;
    sl_batch_builder_init(&b);
    sl_batch_builder_reset(&b, m.next, 0);
    siglog_event ev = {.value = seg, .value_len = m.bytes[0]};
    cr_assert_eq(sl_batch_builder_add(&b, &ev, 5), 0);
    bytebuf out = {0};
    batch_meta meta;
    cr_assert_eq(sl_batch_builder_seal(&b, SIGLOG_COMPRESSION_NONE, &out, &meta), 0);
    cr_assert_eq(sl_segment_append(s, out.data, out.len, &meta, 1), 0);
    sl_segment_close(s);
    test_truncate(file_of(".seg"), m.end + meta.bytes - 1);
    s = open_seg(1);
    segment_tail t;
    cr_assert_eq(sl_segment_scan_tail(s, &t), 0);
    expect_tail(&t, m.n, m.end + meta.bytes - 1);
    cr_assert_eq(t.damaged, 0);
    sl_segment_close(s);
    sl_bytebuf_free(&out);
    sl_batch_builder_free(&b);
    free(seg);
}

Test(segment, zero_length_segment_opens_scans_and_accepts_appends)
{
    close(open(file_of(".seg"), O_CREAT | O_WRONLY, 0644));
    segment_tail t;
    segment *s = recover_seg(&t);
    cr_assert_eq(t.valid_bytes, 0);
    cr_assert_eq(t.file_bytes, 0);
    cr_assert_eq(t.next_offset, BASE);
    cr_assert_eq(t.record_count, 0);
    cr_assert_eq(t.max_timestamp_us, INT64_MIN);
    cr_assert(exists(file_of(".oix")) && exists(file_of(".tix")), "indexes created");
    fill(s, 8);
    sl_segment_close(s);
    s = open_seg(0);
    bytebuf buf = {0};
    batch_header h;
    uint64_t pos = 0;
    size_t i = 0;
    while (sl_segment_read_batch(s, pos, test_file_size(file_of(".seg")), &h, &buf) == 1) {
        cr_assert_eq(h.base_offset, m.base[i++]);
        pos += BATCH_HEADER_BYTES + h.body_len;
    }
    cr_assert_eq(i, m.n);
    sl_bytebuf_free(&buf);
    sl_segment_close(s);
}

Test(segment, missing_or_corrupt_index_is_rebuilt_identically_on_writable_open)
{
    segment *s = create_seg();
    fill(s, 100);
    sl_segment_close(s);
    size_t oix_len, tix_len;
    uint8_t *oix = slurp(file_of(".oix"), &oix_len);
    uint8_t *tix = slurp(file_of(".tix"), &tix_len);
    cr_assert_gt(get_le32(oix + INDEX_HEADER_BYTES), 0, "the segment has index entries");

    cr_assert_eq(unlink(file_of(".oix")), 0);
    sl_segment_close(open_seg(1));
    expect_same_file(file_of(".oix"), oix, oix_len);
    expect_same_file(file_of(".tix"), tix, tix_len);

    test_flip_byte(file_of(".tix"), 30, 0x01);
    sl_segment_close(open_seg(1));
    expect_same_file(file_of(".oix"), oix, oix_len);
    expect_same_file(file_of(".tix"), tix, tix_len);

    cr_assert_eq(truncate(file_of(".oix"), 0), 0);
    sl_segment_close(open_seg(1));
    expect_same_file(file_of(".oix"), oix, oix_len);
    cr_assert(!exists(file_of(".oix.tmp")) && !exists(file_of(".tix.tmp")));
    free(oix);
    free(tix);
}

Test(segment, unusable_index_on_read_only_open_means_scan_from_start)
{
    segment *s = create_seg();
    fill(s, 100);
    sl_segment_close(s);
    size_t tix_len, seg_len;
    uint8_t *seg = slurp(file_of(".seg"), &seg_len);

    test_flip_byte(file_of(".tix"), 20, 0x01);
    uint8_t *tix = slurp(file_of(".tix"), &tix_len);
    cr_assert_eq(unlink(file_of(".oix")), 0);
    s = open_seg(0);
    for (uint64_t target = BASE; target < m.next; target += 7) {
        uint64_t pos = 99;
        cr_assert_eq(sl_segment_locate_offset(s, target, UINT64_MAX, &pos), 0);
        cr_assert_eq(pos, 0);
    }
    for (int64_t ts = 0; ts <= TS_RANGE; ts += 50) {
        uint64_t pos = 99;
        cr_assert_eq(sl_segment_locate_time(s, ts, UINT64_MAX, &pos), 0);
        cr_assert_eq(pos, 0);
    }
    segment_tail t;
    cr_assert_eq(sl_segment_scan_tail(s, &t), 0);
    expect_tail(&t, m.n, m.end);
    sl_segment_close(s);
    cr_assert(!exists(file_of(".oix")), "read-only open created an index");
    expect_same_file(file_of(".tix"), tix, tix_len);
    expect_same_file(file_of(".seg"), seg, seg_len);
    free(tix);
    free(seg);
}

Test(segment, index_beyond_a_shortened_file_is_repaired_by_adopt)
{
    segment *s = create_seg();
    fill(s, 100);
    sl_segment_close(s);
    /* Lose the last 30 batches but keep the index that names them. */
    test_truncate(file_of(".seg"), m.pos[70]);
    segment_tail t;
    s = recover_seg(&t);
    expect_tail(&t, 70, m.pos[70]);
    sl_segment_close(s);
    size_t oix_len, tix_len;
    uint8_t *oix = slurp(file_of(".oix"), &oix_len);
    uint8_t *tix = slurp(file_of(".tix"), &tix_len);
    /* The repaired indexes equal ones rebuilt from scratch. */
    cr_assert_eq(unlink(file_of(".oix")), 0);
    cr_assert_eq(unlink(file_of(".tix")), 0);
    sl_segment_close(open_seg(1));
    expect_same_file(file_of(".oix"), oix, oix_len);
    expect_same_file(file_of(".tix"), tix, tix_len);
    free(oix);
    free(tix);
}

/* Add `delta` to one field of every offset entry (and every time entry's
 * rel offset along with it, so that both indexes still agree). */
static void skew_index(size_t field, uint32_t delta)
{
    int fd = open(file_of(".oix"), O_RDWR);
    int tfd = open(file_of(".tix"), O_RDWR);
    cr_assert(fd >= 0 && tfd >= 0);
    for (uint32_t i = 0;; i++) {
        uint8_t e[8], te[16];
        cr_assert_eq(pread(fd, e, 8, INDEX_HEADER_BYTES + i * 8), 8);
        cr_assert_eq(pread(tfd, te, 16, INDEX_HEADER_BYTES + i * 16), 16);
        if (get_le32(e) == 0)
            break;
        put_le32(e + field, get_le32(e + field) + delta);
        put_le32(te + 8, get_le32(e));
        cr_assert_eq(pwrite(fd, e, 8, INDEX_HEADER_BYTES + i * 8), 8);
        cr_assert_eq(pwrite(tfd, te, 16, INDEX_HEADER_BYTES + i * 16), 16);
    }
    close(fd);
    close(tfd);
}

static void expect_wrong_index_distrusted(void)
{
    segment *s = open_seg(0);
    uint64_t pos = 99;
    cr_assert_eq(sl_segment_locate_offset(s, m.next - 1, UINT64_MAX, &pos), 0);
    cr_assert_eq(pos, 0, "a mismatching entry falls back to the start");
    sl_segment_close(s);
    segment_tail t;
    s = recover_seg(&t);
    expect_tail(&t, m.n, m.end);
    cr_assert_eq(sl_segment_locate_offset(s, m.next - 1, UINT64_MAX, &pos), 0);
    cr_assert_gt(pos, 0, "adopt rebuilt the index");
    cr_assert_eq(pos, model_index_hit(m.n - 1));
    sl_segment_close(s);
}

Test(segment, index_entry_one_byte_off_its_batch_is_not_trusted)
{
    segment *s = create_seg();
    fill(s, 60);
    sl_segment_close(s);
    skew_index(4, 1);
    expect_wrong_index_distrusted();
}

Test(segment, index_entry_naming_another_offset_is_not_trusted)
{
    segment *s = create_seg();
    fill(s, 60);
    sl_segment_close(s);
    skew_index(0, 1);
    expect_wrong_index_distrusted();
}

/* ---- sealing ---- */

Test(segment, seal_writes_a_valid_summary)
{
    segment *s = create_seg();
    fill(s, 40);
    int64_t created = sl_segment_created_us(s);
    cr_assert_eq(sl_segment_seal(s), 0, "%s", siglog_errdetail());
    cr_expect_eq(sl_segment_append(s, NULL, 0, NULL, 0), SIGLOG_EINVAL, "sealed segments are immutable");
    sl_segment_close(s);

    size_t len;
    uint8_t *sum = slurp(file_of(".sum"), &len);
    cr_assert_eq(len, 64);
    cr_expect_eq(get_le32(sum), SEGMENT_SUMMARY_MAGIC);
    cr_expect_eq(get_le16(sum + 4), SEGMENT_SUMMARY_VERSION);
    cr_expect_eq(get_le16(sum + 6), 0);
    cr_expect_eq(get_le64(sum + 8), BASE);
    cr_expect_eq(get_le64(sum + 16), m.next);
    cr_expect_eq(get_le64(sum + 24), m.next - BASE);
    cr_expect_eq(get_le64(sum + 32), m.end);
    cr_expect_eq((int64_t)get_le64(sum + 40), model_max_ts(m.n));
    cr_expect_eq((int64_t)get_le64(sum + 48), created);
    cr_expect_eq(get_le64(sum + 56), XXH3_64bits(sum, 56));
    free(sum);

    s = open_seg(0);
    cr_expect_eq(sl_segment_next_offset(s), m.next, "read-only open learns the range from the summary");
    cr_expect_eq(sl_segment_size(s), m.end);
    cr_expect_eq(sl_segment_max_timestamp(s), model_max_ts(m.n));
    cr_expect_eq(sl_segment_created_us(s), created);
    sl_segment_close(s);

    test_flip_byte(file_of(".sum"), 20, 0x01);
    s = open_seg(0);
    cr_expect_eq(sl_segment_next_offset(s), BASE, "a corrupt summary is not believed");
    cr_expect_eq(sl_segment_size(s), m.end);
    sl_segment_close(s);
}

/* ---- write-back hints ---- */

/* The POSIX backend with its writeback hints recorded (and failed with
 * EIO: a hint's failure must not fail the write it follows). */
#define HINTS_MAX 256
static struct {
    uint64_t off[HINTS_MAX], len[HINTS_MAX];
    size_t n;
} hints;

static int record_writeback(const siglog_io *io, int fd, uint64_t off, uint64_t len)
{
    (void)io;
    (void)fd;
    cr_assert(hints.n < HINTS_MAX);
    hints.off[hints.n] = off;
    hints.len[hints.n++] = len;
    return -EIO;
}

static siglog_io hinting_io(void)
{
    siglog_io io = *sl_io_posix();
    io.writeback = record_writeback;
    memset(&hints, 0, sizeof hints);
    return io;
}

/* The hints so far cover [from, end) back to back, each at least a
 * stride, and leave less than a stride of the file unhinted. */
static void expect_hints_cover(size_t first, uint64_t from, uint64_t stride)
{
    uint64_t at = from;
    for (size_t i = first; i < hints.n; i++) {
        cr_expect_eq(hints.off[i], at, "hint %zu starts at %" PRIu64 ", the last ended at %" PRIu64, i, hints.off[i],
                     at);
        cr_expect_geq(hints.len[i], stride, "hint %zu is %" PRIu64 " bytes", i, hints.len[i]);
        at = hints.off[i] + hints.len[i];
    }
    cr_expect_leq(at, m.end, "no hint goes past the written bytes");
    cr_expect_lt(m.end - at, stride, "%" PRIu64 " bytes written were never hinted", m.end - at);
}

/* A writer's segment hands every writeback_bytes it appends to
 * write-back, so that the seal's sync finds them written. */
Test(segment, appends_hand_each_stride_of_new_bytes_to_write_back)
{
    params.writeback_bytes = 4096;
    siglog_io io = hinting_io();
    segment *s = NULL;
    cr_assert_eq(sl_segment_create(&io, dir, BASE, &params, &s), 0, "%s", siglog_errdetail());
    fill(s, 200);
    cr_assert_gt(m.end, 8 * 4096, "the test writes several strides");
    cr_assert_gt(hints.n, 4);
    expect_hints_cover(0, 0, 4096);

    /* A cut below what was hinted: hints go on from the cut. */
    size_t before = hints.n;
    uint64_t cut = m.pos[m.n / 2];
    cr_assert_lt(cut, hints.off[before - 1]);
    cr_assert_eq(sl_segment_truncate(s, cut), 0, "%s", siglog_errdetail());
    segment_tail t;
    cr_assert_eq(sl_segment_scan_tail(s, &t), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_segment_adopt_tail(s, &t), 0, "%s", siglog_errdetail());
    m.n /= 2;
    m.end = cut;
    m.next = m.base[m.n];
    fill(s, 150);
    cr_assert_gt(hints.n, before);
    expect_hints_cover(before, cut, 4096);
    cr_assert_eq(sl_segment_seal(s), 0, "%s", siglog_errdetail());
    sl_segment_close(s);
}

Test(segment, no_write_back_hints_without_a_stride)
{
    siglog_io io = hinting_io();
    segment *s = NULL;
    cr_assert_eq(sl_segment_create(&io, dir, BASE, &params, &s), 0, "%s", siglog_errdetail());
    fill(s, 200);
    cr_expect_eq(hints.n, 0);
    sl_segment_close(s);
}

/* A writer's partition gives its active segment a stride of 1 MiB: about
 * 3 MiB of events leave hints that cover all but the last MiB. */
Test(segment, a_writers_active_segment_is_handed_to_write_back_every_mebibyte)
{
    siglog_io io = hinting_io();
    siglog *s = test_store_open(dir, &io);
    siglog_stream *st = test_stream_create(s, "events", 1, SIGLOG_SYNC_NONE, 64u << 20);
    static uint8_t value[4000]; /* random: LZ4 keeps its size */
    siglog_event ev = {.value = value, .value_len = sizeof value};
    for (int i = 0; i < 800; i++) {
        for (size_t k = 0; k < sizeof value; k++)
            value[k] = (uint8_t)test_rand(&rng);
        cr_assert_eq(siglog_append(st, 0, &ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
    cr_assert_geq(hints.n, 2);
    uint64_t at = 0;
    for (size_t i = 0; i < hints.n; i++) {
        cr_expect_eq(hints.off[i], at);
        cr_expect_geq(hints.len[i], 1u << 20);
        at = hints.off[i] + hints.len[i];
    }
    siglog_close(s);
    char seg[512];
    snprintf(seg, sizeof seg, "%s/streams/events/00000/00000000000000000000.seg", dir);
    uint64_t size = test_file_size(seg);
    cr_expect_gt(size, 3u << 20);
    cr_expect(at <= size && size - at < (1u << 20), "%" PRIu64 " of %" PRIu64 " bytes hinted", at, size);
}
