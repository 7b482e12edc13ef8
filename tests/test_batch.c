/*
 * batch codec: every field survives a round trip under both codecs, LZ4 is
 * kept only when it saves bytes, and a reader rejects every corruption the
 * format can detect — header bit flips, body bit flips, truncation, count
 * mismatches and records that are malformed though their checksum holds.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "batch.h"
#include "checksum.h"
#include "codec.h"
#include "support.h"

/* ---- helpers ---- */

static batch_builder builder;
static bytebuf out;
static bytebuf scratch;

static void setup(void)
{
    sl_batch_builder_init(&builder);
    memset(&out, 0, sizeof out);
    memset(&scratch, 0, sizeof scratch);
}

static void teardown(void)
{
    sl_batch_builder_free(&builder);
    sl_bytebuf_free(&out);
    sl_bytebuf_free(&scratch);
}

TestSuite(batch, .init = setup, .fini = teardown);

static siglog_event event(const char *key, const char *value, int64_t ts)
{
    siglog_event e = {0};
    e.key = key;
    e.key_len = key ? strlen(key) : 0;
    e.value = value;
    e.value_len = strlen(value);
    e.timestamp_us = ts;
    return e;
}

/* n events alike but for their timestamps: first, first + 1, ... */
static void same_events(siglog_event *evs, size_t n, const char *key, const char *value, int64_t first)
{
    for (size_t i = 0; i < n; i++)
        evs[i] = event(key, value, first + (int64_t)i);
}

/* Build one batch from events (timestamps taken from the events) into out. */
static batch_meta seal(const siglog_event *evs, size_t n, uint64_t base, int compression)
{
    sl_batch_builder_reset(&builder, base, 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(sl_batch_builder_add(&builder, &evs[i], evs[i].timestamp_us), 0);
    batch_meta meta;
    out.len = 0;
    cr_assert_eq(sl_batch_builder_seal(&builder, compression, &out, &meta), 0, "%s", siglog_errdetail());
    return meta;
}

/* The header of the batch in out, which must decode. */
static batch_header out_header(void)
{
    batch_header h;
    cr_assert_eq(sl_batch_header_decode(out.data, &h), 0, "%s", siglog_errdetail());
    return h;
}

/* Header arrays for records kept by decode_all: the iterator's own array
 * is reused by its next record. */
#define KEPT_MAX 16
static siglog_header kept_headers[KEPT_MAX][SIGLOG_HEADERS_MAX];

/* Decode and validate the batch in buf; returns the first error, or 0
 * with every record read (at most max <= KEPT_MAX into recs). */
static int decode_all(const uint8_t *buf, size_t len, batch_header *h, siglog_record *recs, size_t max,
                      size_t *n)
{
    cr_assert_geq(len, BATCH_HEADER_BYTES);
    int rc = sl_batch_header_decode(buf, h);
    if (rc)
        return rc;
    cr_assert_eq(len, BATCH_HEADER_BYTES + (size_t)h->body_len, "batch length disagrees with body_len");
    rc = sl_batch_body_check(h, buf + BATCH_HEADER_BYTES);
    if (rc)
        return rc;
    batch_iter it;
    rc = sl_batch_iter_init(&it, h, buf + BATCH_HEADER_BYTES, &scratch);
    if (rc)
        return rc;
    *n = 0;
    siglog_record r;
    while ((rc = sl_batch_iter_next(&it, &r)) == 1) {
        if (*n < max) {
            cr_assert_leq(max, KEPT_MAX);
            memcpy(kept_headers[*n], r.headers, r.header_count * sizeof r.headers[0]);
            r.headers = kept_headers[*n];
            recs[*n] = r;
        }
        ++*n;
    }
    return rc;
}

static void assert_bytes_eq(const void *a, size_t alen, const void *b, size_t blen, const char *what)
{
    cr_assert_eq(alen, blen, "%s length %zu, expected %zu", what, alen, blen);
    if (alen)
        cr_assert_eq(memcmp(a, b, alen), 0, "%s bytes differ", what);
}

static void assert_record_matches(const siglog_record *r, const siglog_event *e, uint64_t offset)
{
    cr_assert_eq(r->offset, offset);
    cr_assert_eq(r->timestamp_us, e->timestamp_us, "timestamp %lld, expected %lld", (long long)r->timestamp_us,
                 (long long)e->timestamp_us);
    cr_assert_eq(r->schema_version, e->schema_version);
    cr_assert_eq(r->flags, e->flags);
    assert_bytes_eq(r->key, r->key_len, e->key, e->key_len, "key");
    if (e->key_len == 0)
        cr_assert_null(r->key, "a record without key must have key NULL");
    assert_bytes_eq(r->value, r->value_len, e->value, e->value_len, "value");
    cr_assert_eq(r->header_count, e->header_count);
    for (uint32_t i = 0; i < e->header_count; i++) {
        assert_bytes_eq(r->headers[i].key, r->headers[i].key_len, e->headers[i].key, e->headers[i].key_len,
                        "header key");
        assert_bytes_eq(r->headers[i].value, r->headers[i].value_len, e->headers[i].value,
                        e->headers[i].value_len, "header value");
    }
}

/* Recompute checksums after a test edited a batch on purpose, so that only
 * the rule under test can reject it. */
static void rechecksum_header(uint8_t *buf)
{
    put_le64(buf + 56, XXH3_64bits(buf, 56));
}

/* Both checksums; body_len in the header must describe bytes in buf. */
static void rechecksum(uint8_t *buf)
{
    put_le64(buf + 48, XXH3_64bits(buf + BATCH_HEADER_BYTES, get_le32(buf + 20)));
    rechecksum_header(buf);
}

/* An uncompressed batch around a hand-made raw body. */
static void forge(bytebuf *b, const uint8_t *raw, size_t raw_len, uint32_t count, int64_t first, int64_t max)
{
    b->len = 0;
    cr_assert_eq(sl_bytebuf_reserve(b, BATCH_HEADER_BYTES + raw_len), 0);
    uint8_t *p = b->data;
    memset(p, 0, BATCH_HEADER_BYTES);
    put_le32(p, BATCH_MAGIC);
    put_le16(p + 4, BATCH_VERSION_DENSE);
    put_le16(p + 6, BATCH_CODEC_NONE);
    put_le64(p + 8, 100);
    put_le32(p + 16, count);
    put_le32(p + 20, (uint32_t)raw_len);
    put_le32(p + 24, (uint32_t)raw_len);
    put_le64(p + 32, (uint64_t)first);
    put_le64(p + 40, (uint64_t)max);
    memcpy(p + BATCH_HEADER_BYTES, raw, raw_len);
    b->len = BATCH_HEADER_BYTES + raw_len;
    rechecksum(p);
}

static int decode_status(const bytebuf *b)
{
    batch_header h;
    siglog_record r[4];
    size_t n;
    return decode_all(b->data, b->len, &h, r, 4, &n);
}

ParameterizedTestParameters(batch, round_trip_every_field)
{
    static int compressions[] = {SIGLOG_COMPRESSION_NONE, SIGLOG_COMPRESSION_LZ4};
    return cr_make_param_array(int, compressions, 2);
}

/* ---- round trips ---- */

ParameterizedTest(int *compression, batch, round_trip_every_field)
{
    static const siglog_header hdrs[] = {
        {"source", 6, "web", 3},
        {"", 0, "empty-key", 9},
        {"consent", 7, "", 0},
    };
    siglog_event evs[] = {
        event("user-7", "{\"a\":1}", 1700000000000000),
        event(NULL, "{\"no\":\"key\"}", -5),           /* no key, negative, decreasing */
        event("k", "", 1700000000000001),               /* empty value, new max */
        event("tomb", "", INT64_MIN),                   /* tombstone, extreme low */
        event("h", "{\"with\":\"headers\"}", 42),
        event("s", "schema", 1700000000000001),
    };
    evs[1].schema_version = 1;
    evs[3].flags = SIGLOG_EVENT_TOMBSTONE;
    evs[4].headers = hdrs;
    evs[4].header_count = 3;
    evs[4].schema_version = 300;
    evs[5].schema_version = UINT32_MAX;
    size_t n_ev = sizeof evs / sizeof evs[0];

    batch_meta meta = seal(evs, n_ev, 1000, *compression);
    cr_assert_eq(meta.base_offset, 1000);
    cr_assert_eq(meta.record_count, n_ev);
    cr_assert_eq(meta.bytes, out.len);
    cr_assert_eq(meta.max_timestamp_us, 1700000000000001);

    batch_header h;
    siglog_record recs[8];
    size_t n;
    cr_assert_eq(decode_all(out.data, out.len, &h, recs, 8, &n), 0, "%s", siglog_errdetail());
    cr_assert_eq(n, n_ev);
    cr_assert_eq(h.base_offset, 1000);
    cr_assert_eq(h.first_timestamp_us, 1700000000000000);
    cr_assert_eq(h.max_timestamp_us, 1700000000000001);
    for (size_t i = 0; i < n_ev; i++)
        assert_record_matches(&recs[i], &evs[i], 1000 + i);
}

Test(batch, timestamps_at_both_extremes_round_trip)
{
    /* The delta INT64_MAX - INT64_MIN overflows int64: it must wrap and
     * come back exactly. */
    siglog_event evs[] = {event("a", "1", INT64_MAX), event("b", "2", INT64_MIN), event("c", "3", 0)};
    seal(evs, 3, 0, SIGLOG_COMPRESSION_NONE);
    batch_header h;
    siglog_record recs[3];
    size_t n;
    cr_assert_eq(decode_all(out.data, out.len, &h, recs, 3, &n), 0, "%s", siglog_errdetail());
    for (size_t i = 0; i < 3; i++)
        assert_record_matches(&recs[i], &evs[i], i);
}

Test(batch, one_mib_value_round_trips)
{
    size_t len = 1u << 20;
    char *value = malloc(len + 1);
    uint64_t seed = 7;
    for (size_t i = 0; i < len; i++)
        value[i] = (char)('a' + test_rand(&seed) % 4);
    value[len] = 0;
    siglog_event evs[] = {event("big", value, 1), event("small", "x", 2)};
    for (int c = SIGLOG_COMPRESSION_NONE; c <= SIGLOG_COMPRESSION_LZ4; c++) {
        seal(evs, 2, 5, c);
        batch_header h;
        siglog_record recs[2];
        size_t n;
        cr_assert_eq(decode_all(out.data, out.len, &h, recs, 2, &n), 0, "%s", siglog_errdetail());
        cr_assert_eq(n, 2);
        assert_record_matches(&recs[0], &evs[0], 5);
        assert_record_matches(&recs[1], &evs[1], 6);
    }
    free(value);
}

Test(batch, record_size_bounds_the_encoding_within_12_bytes)
{
    static const siglog_header hdrs[] = {{"k", 1, "v", 1}};
    siglog_event evs[] = {event("key", "value", 10), event(NULL, "", -10), event("x", "y", INT64_MAX)};
    evs[1].headers = hdrs;
    evs[1].header_count = 1;
    sl_batch_builder_reset(&builder, 0, 0);
    for (size_t i = 0; i < 3; i++) {
        size_t before = builder.records.len;
        size_t bound = sl_batch_record_size(&evs[i], evs[i].timestamp_us);
        cr_assert_eq(sl_batch_builder_add(&builder, &evs[i], evs[i].timestamp_us), 0);
        size_t actual = builder.records.len - before;
        cr_assert(bound >= actual && bound <= actual + 12, "bound %zu for a %zu-byte record", bound, actual);
    }
}

Test(batch, decode_then_reencode_gives_identical_bytes)
{
    static const siglog_header hdrs[] = {{"src", 3, "app", 3}};
    siglog_event evs[] = {event("a", "{\"v\":1}", 50), event(NULL, "{\"v\":1}", 40), event("a", "", 60)};
    evs[1].headers = hdrs;
    evs[1].header_count = 1;
    evs[2].flags = SIGLOG_EVENT_TOMBSTONE;
    char big[2048];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    evs[0].value = big;
    evs[0].value_len = strlen(big);

    for (int c = SIGLOG_COMPRESSION_NONE; c <= SIGLOG_COMPRESSION_LZ4; c++) {
        seal(evs, 3, 77, c);
        bytebuf first = {0};
        cr_assert_eq(sl_bytebuf_append(&first, out.data, out.len), 0);

        batch_header h;
        siglog_record recs[3];
        size_t n;
        cr_assert_eq(decode_all(first.data, first.len, &h, recs, 3, &n), 0, "%s", siglog_errdetail());
        cr_assert_eq(h.codec, c == SIGLOG_COMPRESSION_LZ4 ? BATCH_CODEC_LZ4 : BATCH_CODEC_NONE);
        siglog_event again[3];
        for (size_t i = 0; i < 3; i++) {
            again[i] = (siglog_event){
                .key = recs[i].key, .key_len = recs[i].key_len,
                .value = recs[i].value, .value_len = recs[i].value_len,
                .timestamp_us = recs[i].timestamp_us, .schema_version = recs[i].schema_version,
                .flags = recs[i].flags, .headers = recs[i].headers, .header_count = recs[i].header_count,
            };
        }
        seal(again, 3, 77, c);
        assert_bytes_eq(out.data, out.len, first.data, first.len, "re-encoded batch");
        sl_bytebuf_free(&first);
    }
}

Test(batch, sealing_twice_gives_the_same_bytes_and_reset_starts_afresh)
{
    siglog_event evs[] = {event("a", "one", 1), event("b", "two", 2)};
    seal(evs, 2, 9, SIGLOG_COMPRESSION_NONE);
    bytebuf first = {0};
    cr_assert_eq(sl_bytebuf_append(&first, out.data, out.len), 0);
    batch_meta meta;
    cr_assert_eq(sl_batch_builder_seal(&builder, SIGLOG_COMPRESSION_NONE, &out, &meta), 0);
    cr_assert_eq(out.len, 2 * first.len, "seal appends to out");
    assert_bytes_eq(out.data + first.len, first.len, first.data, first.len, "second seal");

    seal(evs + 1, 1, 11, SIGLOG_COMPRESSION_NONE);
    batch_header h;
    siglog_record r[1];
    size_t n;
    cr_assert_eq(decode_all(out.data, out.len, &h, r, 1, &n), 0, "%s", siglog_errdetail());
    cr_assert_eq(n, 1);
    assert_record_matches(&r[0], &evs[1], 11);
    cr_assert_eq(h.first_timestamp_us, 2);
    sl_bytebuf_free(&first);
}

/* Records at offsets base + at[i] (a gap when they are not 0, 1, 2, ...),
 * covering up to base + last, added to b (reset first). */
static void add_at(batch_builder *b, const siglog_event *evs, size_t n, const uint64_t *at, uint64_t last)
{
    sl_batch_builder_reset(b, 500, 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(sl_batch_builder_add_at(b, &evs[i], evs[i].timestamp_us, 500 + at[i]), 0, "%s",
                     siglog_errdetail());
    cr_assert_eq(sl_batch_builder_cover(b, 500 + last), 0);
}

/* The fast path of a writer (records encoded into its run, the header
 * written in place) gives the bytes and description of the general one,
 * behind whatever the run held, for both codecs, with and without a gap,
 * after an open batch was dropped and after the run's owner moved it. */
Test(batch, building_into_a_run_gives_the_bytes_of_a_separate_seal)
{
    static const siglog_header hdrs[] = {{"src", 3, "app", 3}};
    static char big[3000];
    memset(big, 'q', sizeof big - 1);
    siglog_event evs[] = {event("a", big, 50), event(NULL, "{\"v\":1}", 40), event("a", "", 60),
                          event("k", "tail", 70)};
    evs[1].headers = hdrs;
    evs[1].header_count = 1;
    evs[2].flags = SIGLOG_EVENT_TOMBSTONE;
    static const uint64_t dense[] = {0, 1, 2, 3}, gapped[] = {1, 4, 5, 9};
    static const char prefix[] = "bytes the run held before";
    for (int c = SIGLOG_COMPRESSION_NONE; c <= SIGLOG_COMPRESSION_LZ4; c++)
        for (int gap = 0; gap <= 1; gap++) {
            const uint64_t *at = gap ? gapped : dense;
            add_at(&builder, evs, 4, at, gap ? 11 : 3);
            batch_meta want;
            out.len = 0;
            cr_assert_eq(sl_batch_builder_seal(&builder, c, &out, &want), 0, "%s", siglog_errdetail());

            batch_builder into;
            sl_batch_builder_init(&into);
            bytebuf run = {0};
            cr_assert_eq(sl_bytebuf_append(&run, prefix, sizeof prefix), 0);
            sl_batch_builder_build_into(&into, &run);
            /* An open batch dropped by reset leaves the run as it was. */
            add_at(&into, evs + 1, 2, at, at[1]);
            cr_assert_gt(sl_batch_builder_open_bytes(&into), sl_batch_builder_body_len(&into));
            add_at(&into, evs, 2, at, at[1]);
            cr_assert_eq(run.len, sizeof prefix + sl_batch_builder_open_bytes(&into));
            /* The owner moves the open batch to the run's front: the
             * prefix is taken (as a commit takes sealed batches). */
            size_t open = sl_batch_builder_open_bytes(&into);
            memmove(run.data, run.data + run.len - open, open);
            run.len = open;
            sl_batch_builder_moved(&into, 0);
            cr_assert_eq(sl_batch_builder_add_at(&into, &evs[2], evs[2].timestamp_us, 500 + at[2]), 0);
            cr_assert_eq(sl_batch_builder_add_at(&into, &evs[3], evs[3].timestamp_us, 500 + at[3]), 0);
            cr_assert_eq(sl_batch_builder_cover(&into, 500 + (gap ? 11 : 3)), 0);
            batch_meta got;
            cr_assert_eq(sl_batch_builder_seal(&into, c, &run, &got), 0, "%s", siglog_errdetail());
            assert_bytes_eq(run.data, run.len, out.data, out.len, "batch built into the run");
            cr_assert(got.base_offset == want.base_offset && got.record_count == want.record_count &&
                      got.last_offset_delta == want.last_offset_delta && got.bytes == want.bytes &&
                      got.max_timestamp_us == want.max_timestamp_us && got.body_checksum == want.body_checksum &&
                      got.one_version == want.one_version && got.schema_version == want.schema_version &&
                      got.min_timestamp_us == want.min_timestamp_us,
                      "the descriptions differ");
            cr_assert_eq(sl_batch_builder_open_bytes(&into), 0, "sealed bytes are the run's");
            sl_batch_builder_free(&into);
            sl_bytebuf_free(&run);
        }
}

/* ---- compression choice ---- */

Test(batch, lz4_is_used_when_it_saves_bytes)
{
    siglog_event evs[64];
    same_events(evs, 64, "user-1", "{\"event\":\"click\",\"page\":\"/home\",\"ok\":true}", 0);
    seal(evs, 64, 0, SIGLOG_COMPRESSION_LZ4);
    batch_header h = out_header();
    cr_assert_eq(h.codec, BATCH_CODEC_LZ4);
    cr_assert_lt(h.body_len, h.raw_len);
    cr_assert_eq(h.raw_len, builder.records.len);
}

Test(batch, lz4_is_not_used_when_not_asked)
{
    siglog_event evs[16];
    same_events(evs, 16, "user-1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0);
    seal(evs, 16, 0, SIGLOG_COMPRESSION_NONE);
    batch_header h = out_header();
    cr_assert_eq(h.codec, BATCH_CODEC_NONE);
    cr_assert_eq(h.body_len, h.raw_len);
}

Test(batch, lz4_is_not_kept_for_random_bytes)
{
    char value[4097];
    uint64_t seed = 1;
    for (size_t i = 0; i < 4096; i++)
        value[i] = (char)(1 + test_rand(&seed) % 255);
    value[4096] = 0;
    siglog_event e = event("k", value, 0);
    seal(&e, 1, 0, SIGLOG_COMPRESSION_LZ4);
    batch_header h = out_header();
    cr_assert_eq(h.codec, BATCH_CODEC_NONE, "LZ4 kept although it does not pay");
    cr_assert_eq(h.body_len, builder.records.len);
    siglog_record r[1];
    size_t n;
    cr_assert_eq(decode_all(out.data, out.len, &h, r, 1, &n), 0);
    assert_record_matches(&r[0], &e, 0);
}

/* ---- header corruption ---- */

Test(batch, every_single_bit_flip_of_the_header_is_rejected)
{
    siglog_event evs[] = {event("a", "b", 1), event("c", "d", 2)};
    seal(evs, 2, 3, SIGLOG_COMPRESSION_NONE);
    for (unsigned bit = 0; bit < BATCH_HEADER_BYTES * 8; bit++) {
        uint8_t hdr[BATCH_HEADER_BYTES];
        memcpy(hdr, out.data, sizeof hdr);
        hdr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        batch_header h;
        int rc = sl_batch_header_decode(hdr, &h);
        cr_assert_eq(rc, SIGLOG_ECORRUPT, "flip of header bit %u accepted (rc %d)", bit, rc);
        const char *want = bit < 32 ? "bad magic" : "batch header checksum mismatch: stored 0x";
        cr_assert(strstr(siglog_errdetail(), want), "bit %u: detail \"%s\"", bit, siglog_errdetail());
    }
}

Test(batch, unknown_version_with_valid_checksum_is_a_version_error)
{
    siglog_event e = event("a", "b", 1);
    seal(&e, 1, 0, SIGLOG_COMPRESSION_NONE);
    put_le16(out.data + 4, 3);
    rechecksum_header(out.data);
    batch_header h;
    cr_assert_eq(sl_batch_header_decode(out.data, &h), SIGLOG_EVERSION);
    cr_assert(strstr(siglog_errdetail(), "version 3"), "%s", siglog_errdetail());
}

/* Each rule a reader applies to a header whose checksum holds. */
typedef struct header_rule {
    const char *name;
    unsigned pos, width;
    uint64_t value;
    const char *detail;
} header_rule;

Test(batch, header_fields_breaking_a_rule_are_rejected_even_with_valid_checksum)
{
    static const header_rule rules[] = {
        {"unknown codec", 6, 2, 2, "unknown batch codec 2"},
        {"reserved set", 28, 4, 1, "reserved field"},
        {"body_len over limit", 20, 4, BATCH_BODY_BYTES_MAX + 1ull, "exceeds the limit"},
        {"raw_len != body_len uncompressed", 24, 4, 1000, "expected body_len"},
        {"zero records", 16, 4, 0, "record_count 0"},
        {"too many records", 16, 4, BATCH_RECORDS_MAX + 1ull, "expected 1.."},
        {"more records than bytes allow", 16, 4, 1000, "cannot hold"},
        {"offset overflow", 8, 8, UINT64_MAX - 1, "overflow"},
        {"max below first", 40, 8, (uint64_t)-1, "max_timestamp_us -1"},
    };
    siglog_event evs[] = {event("a", "b", 10), event("c", "d", 20)};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        seal(evs, 2, 0, SIGLOG_COMPRESSION_NONE);
        const header_rule *r = &rules[i];
        if (r->width == 2)
            put_le16(out.data + r->pos, (uint16_t)r->value);
        else if (r->width == 4)
            put_le32(out.data + r->pos, (uint32_t)r->value);
        else
            put_le64(out.data + r->pos, r->value);
        rechecksum_header(out.data);
        batch_header h;
        cr_assert_eq(sl_batch_header_decode(out.data, &h), SIGLOG_ECORRUPT, "%s accepted", r->name);
        cr_assert(strstr(siglog_errdetail(), r->detail), "%s: detail \"%s\"", r->name, siglog_errdetail());
    }
}

Test(batch, lz4_body_not_smaller_than_raw_is_rejected)
{
    siglog_event evs[32];
    for (size_t i = 0; i < 32; i++)
        evs[i] = event("k", "compressible compressible compressible", 0);
    seal(evs, 32, 0, SIGLOG_COMPRESSION_LZ4);
    put_le32(out.data + 24, get_le32(out.data + 20)); /* raw_len = body_len */
    rechecksum(out.data);
    batch_header h;
    cr_assert_eq(sl_batch_header_decode(out.data, &h), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "expected less than raw_len"), "%s", siglog_errdetail());
}

/* ---- body corruption ---- */

Test(batch, every_single_bit_flip_of_the_body_is_rejected)
{
    static const siglog_header hdrs[] = {{"src", 3, "svc", 3}};
    siglog_event evs[8];
    same_events(evs, 8, "session-1", "{\"action\":\"scroll\",\"depth\":3}", 100);
    evs[3].headers = hdrs;
    evs[3].header_count = 1;
    for (int c = SIGLOG_COMPRESSION_NONE; c <= SIGLOG_COMPRESSION_LZ4; c++) {
        seal(evs, 8, 0, c);
        batch_header h = out_header();
        uint8_t *body = out.data + BATCH_HEADER_BYTES;
        for (size_t bit = 0; bit < (size_t)h.body_len * 8; bit++) {
            body[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            cr_assert_eq(sl_batch_body_check(&h, body), SIGLOG_ECORRUPT, "codec %d: body bit %zu flip accepted", c,
                         bit);
            body[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        cr_assert_eq(sl_batch_body_check(&h, body), 0);
        cr_assert(strstr(siglog_errdetail(), "batch body checksum mismatch: stored 0x"), "%s",
                  siglog_errdetail());
    }
}

Test(batch, body_cut_short_at_every_length_is_rejected)
{
    /* Even with both checksums recomputed, a shorter body can never yield
     * the records the header promises. */
    static const siglog_header hdrs[] = {{"a", 1, "bb", 2}};
    siglog_event evs[] = {event("k1", "value-one", 1), event(NULL, "", 2), event("k3", "v3", 3)};
    evs[1].headers = hdrs;
    evs[1].header_count = 1;
    seal(evs, 3, 0, SIGLOG_COMPRESSION_NONE);
    bytebuf full = {0};
    cr_assert_eq(sl_bytebuf_append(&full, out.data + BATCH_HEADER_BYTES, out.len - BATCH_HEADER_BYTES), 0);
    bytebuf cut = {0};
    for (size_t len = 0; len < full.len; len++) {
        forge(&cut, full.data, len, 3, 1, 3);
        cr_assert_eq(decode_status(&cut), SIGLOG_ECORRUPT, "body cut to %zu of %zu bytes accepted", len,
                     full.len);
    }
    forge(&cut, full.data, full.len, 3, 1, 3);
    cr_assert_eq(decode_status(&cut), 0, "%s", siglog_errdetail());
    sl_bytebuf_free(&cut);
    sl_bytebuf_free(&full);
}

Test(batch, lz4_body_cut_short_is_rejected)
{
    siglog_event evs[32];
    same_events(evs, 32, "k", "compressible compressible compressible", 0);
    seal(evs, 32, 0, SIGLOG_COMPRESSION_LZ4);
    batch_header h = out_header();
    cr_assert_eq(h.codec, BATCH_CODEC_LZ4);
    uint32_t body_len = h.body_len;
    for (uint32_t len = 1; len < body_len; len++) {
        put_le32(out.data + 20, len);
        rechecksum(out.data);
        cr_assert_eq(decode_status(&(bytebuf){out.data, BATCH_HEADER_BYTES + len, 0}), SIGLOG_ECORRUPT,
                     "LZ4 body cut to %u of %u bytes accepted", len, body_len);
    }
}

Test(batch, record_count_disagreeing_with_the_body_is_rejected)
{
    siglog_event evs[] = {event("a", "1", 1), event("b", "2", 2), event("c", "3", 3)};
    for (uint32_t count = 1; count <= 4; count++) {
        if (count == 3)
            continue;
        seal(evs, 3, 0, SIGLOG_COMPRESSION_NONE);
        put_le32(out.data + 16, count);
        rechecksum(out.data);
        cr_assert_eq(decode_status(&out), SIGLOG_ECORRUPT, "record_count %u for 3 records accepted", count);
    }
}

/* ---- malformed records under a valid checksum ---- */

/* Prefix hand-made record fields with their record_len varint at p. */
static size_t wrap_record(uint8_t *p, const uint8_t *fields, size_t n)
{
    size_t m = varint_put(p, n);
    memcpy(p + m, fields, n);
    return m + n;
}

/* A record in the documented layout, written by hand (no key, no headers,
 * schema 0), for batches the builder would never produce. */
static size_t put_record(uint8_t *p, uint8_t flags, uint64_t delta, int64_t ts_delta, const char *value)
{
    uint8_t fields[64];
    size_t n = 0;
    fields[n++] = flags;
    n += varint_put(fields + n, delta);
    n += varint_put(fields + n, zigzag_encode(ts_delta));
    n += varint_put(fields + n, 0); /* schema_version */
    n += varint_put(fields + n, 0); /* key_len */
    n += varint_put(fields + n, 0); /* header_count */
    n += varint_put(fields + n, strlen(value));
    memcpy(fields + n, value, strlen(value));
    n += strlen(value);
    return wrap_record(p, fields, n);
}

Test(batch, hand_made_batch_in_the_documented_layout_decodes)
{
    uint8_t raw[128];
    size_t n = put_record(raw, 0, 0, 0, "first");
    n += put_record(raw + n, 1, 1, -3, "second");
    bytebuf b = {0};
    forge(&b, raw, n, 2, 10, 10);
    batch_header h;
    siglog_record r[2];
    size_t count;
    cr_assert_eq(decode_all(b.data, b.len, &h, r, 2, &count), 0, "%s", siglog_errdetail());
    cr_assert_eq(count, 2);
    cr_assert_eq(r[1].offset, 101);
    cr_assert_eq(r[1].timestamp_us, 7);
    cr_assert_eq(r[1].flags, SIGLOG_EVENT_TOMBSTONE);
    assert_bytes_eq(r[1].value, r[1].value_len, "second", 6, "value");
    sl_bytebuf_free(&b);
}

Test(batch, record_with_trailing_bytes_is_rejected)
{
    uint8_t raw[64];
    size_t n = put_record(raw, 0, 0, 0, "value");
    raw[0]++; /* record_len one more than the fields... */
    raw[n++] = 0; /* ...and one more byte to cover it */
    bytebuf b = {0};
    forge(&b, raw, n, 1, 0, 0);
    cr_assert_eq(decode_status(&b), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "left after the value"), "%s", siglog_errdetail());
    sl_bytebuf_free(&b);
}

Test(batch, bytes_after_the_last_record_are_rejected)
{
    uint8_t raw[64];
    size_t n = put_record(raw, 0, 0, 0, "value");
    raw[n++] = 0;
    bytebuf b = {0};
    forge(&b, raw, n, 1, 0, 0);
    cr_assert_eq(decode_status(&b), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "follow the last record"), "%s", siglog_errdetail());
    sl_bytebuf_free(&b);
}

Test(batch, malformed_record_fields_are_rejected)
{
    struct {
        const char *name;
        uint8_t flags;
        uint64_t delta;
        int64_t ts_delta;
        int64_t max;
        const char *detail;
    } cases[] = {
        {"reserved flag bit", 0x02, 0, 0, 0, "flags 0x02"},
        {"offset not dense", 0, 1, 0, 0, "offset_delta 1, expected 0"},
        {"first delta non-zero", 0, 0, 5, 5, "expected 0"},
        {"timestamp above max", 0, 0, 0, -1, "max_timestamp_us"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t raw[64];
        size_t n = put_record(raw, cases[i].flags, cases[i].delta, cases[i].ts_delta, "v");
        bytebuf b = {0};
        /* "timestamp above max" needs first > max, which the header
         * rejects; put the bad timestamp on a second record instead. */
        if (cases[i].max < 0) {
            n += put_record(raw + n, 0, 1, 1, "v");
            forge(&b, raw, n, 2, 0, 0);
        } else {
            forge(&b, raw, n, 1, 0, cases[i].max);
        }
        cr_assert_eq(decode_status(&b), SIGLOG_ECORRUPT, "%s accepted", cases[i].name);
        cr_assert(strstr(siglog_errdetail(), cases[i].detail), "%s: detail \"%s\"", cases[i].name,
                  siglog_errdetail());
        sl_bytebuf_free(&b);
    }
}

Test(batch, max_timestamp_no_record_carries_is_rejected)
{
    uint8_t raw[64];
    size_t n = put_record(raw, 0, 0, 0, "a");
    n += put_record(raw + n, 0, 1, 1, "b");
    bytebuf b = {0};
    forge(&b, raw, n, 2, 0, 2); /* records at 0 and 1, header says max 2 */
    cr_assert_eq(decode_status(&b), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "no record has"), "%s", siglog_errdetail());
    sl_bytebuf_free(&b);
}

Test(batch, non_minimal_varint_is_rejected)
{
    /* record_len 9 with the value_len 1 spelled 0x81 0x00 */
    const uint8_t raw[] = {9, 0, 0, 0, 0, 0, 0, 0x81, 0x00, 'v'};
    bytebuf b = {0};
    forge(&b, raw, sizeof raw, 1, 0, 0);
    cr_assert_eq(decode_status(&b), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "bad value length"), "%s", siglog_errdetail());
    sl_bytebuf_free(&b);
}

Test(batch, header_count_over_the_limit_is_rejected)
{
    /* flags, offset_delta, timestamp, schema, key_len, then one header
     * too many (all empty), then value_len. */
    uint8_t fields[256] = {0};
    size_t n = 5;
    fields[n++] = SIGLOG_HEADERS_MAX + 1;
    n += 2 * (SIGLOG_HEADERS_MAX + 1) + 1;
    uint8_t raw[260];
    size_t len = wrap_record(raw, fields, n);
    bytebuf b = {0};
    forge(&b, raw, len, 1, 0, 0);
    cr_assert_eq(decode_status(&b), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "header_count"), "%s", siglog_errdetail());
    sl_bytebuf_free(&b);
}

/* ---- gaps: version 2 ---- */

/* A version 2 batch around a hand-made raw body covering base 100 ..
 * 100 + last_offset_delta. */
static void forge_gapped(bytebuf *b, const uint8_t *raw, size_t raw_len, uint32_t count, uint32_t last_offset_delta)
{
    forge(b, raw, raw_len, count, 0, 0);
    put_le16(b->data + 4, BATCH_VERSION_GAPS);
    put_le32(b->data + 28, last_offset_delta);
    rechecksum_header(b->data);
}

Test(batch, records_at_chosen_offsets_seal_as_version_2_and_keep_the_range)
{
    siglog_event evs[] = {event("a", "{\"v\":1}", 30), event(NULL, "x", 10), event("c", "", 20)};
    evs[2].flags = SIGLOG_EVENT_TOMBSTONE;
    static const uint64_t at[] = {102, 105, 106};
    for (int c = SIGLOG_COMPRESSION_NONE; c <= SIGLOG_COMPRESSION_LZ4; c++) {
        sl_batch_builder_reset(&builder, 100, 0);
        for (size_t i = 0; i < 3; i++)
            cr_assert_eq(sl_batch_builder_add_at(&builder, &evs[i], evs[i].timestamp_us, at[i]), 0, "%s",
                         siglog_errdetail());
        cr_assert_eq(sl_batch_builder_cover(&builder, 109), 0, "%s", siglog_errdetail());
        batch_meta meta;
        out.len = 0;
        cr_assert_eq(sl_batch_builder_seal(&builder, c, &out, &meta), 0, "%s", siglog_errdetail());
        cr_assert_eq(meta.last_offset_delta, 9);
        cr_assert_eq(batch_meta_end_offset(&meta), 110);
        cr_assert_eq(get_le16(out.data + 4), BATCH_VERSION_GAPS);
        cr_assert_eq(get_le32(out.data + 28), 9, "last_offset_delta sits at bytes 28..31");

        bytebuf first = {0};
        cr_assert_eq(sl_bytebuf_append(&first, out.data, out.len), 0);
        batch_header h;
        siglog_record recs[3];
        size_t n;
        cr_assert_eq(decode_all(first.data, first.len, &h, recs, 3, &n), 0, "%s", siglog_errdetail());
        cr_assert_eq(n, 3);
        cr_assert_eq(h.record_count, 3);
        cr_assert_eq(batch_end_offset(&h), 110);
        for (size_t i = 0; i < 3; i++)
            assert_record_matches(&recs[i], &evs[i], at[i]);

        /* Canonical: the records at the same offsets over the same range
         * give the same bytes. */
        sl_batch_builder_reset(&builder, 100, 0);
        for (size_t i = 0; i < 3; i++)
            cr_assert_eq(sl_batch_builder_add_at(&builder, &evs[i], evs[i].timestamp_us, recs[i].offset), 0);
        cr_assert_eq(sl_batch_builder_cover(&builder, batch_end_offset(&h) - 1), 0);
        out.len = 0;
        cr_assert_eq(sl_batch_builder_seal(&builder, c, &out, &meta), 0);
        assert_bytes_eq(out.data, out.len, first.data, first.len, "re-encoded gapped batch");
        sl_bytebuf_free(&first);
    }
}

Test(batch, records_filling_their_range_seal_as_version_1_with_zero_reserved_bytes)
{
    siglog_event evs[] = {event("a", "1", 1), event("b", "2", 2)};
    sl_batch_builder_reset(&builder, 7, 0);
    cr_assert_eq(sl_batch_builder_add_at(&builder, &evs[0], 1, 7), 0);
    cr_assert_eq(sl_batch_builder_add_at(&builder, &evs[1], 2, 8), 0);
    cr_assert_eq(sl_batch_builder_cover(&builder, 8), 0, "covering what the records hold changes nothing");
    batch_meta meta;
    out.len = 0;
    cr_assert_eq(sl_batch_builder_seal(&builder, SIGLOG_COMPRESSION_NONE, &out, &meta), 0);
    cr_assert_eq(get_le16(out.data + 4), BATCH_VERSION_DENSE);
    cr_assert_eq(get_le32(out.data + 28), 0);
    bytebuf dense = {0};
    cr_assert_eq(sl_bytebuf_append(&dense, out.data, out.len), 0);
    seal(evs, 2, 7, SIGLOG_COMPRESSION_NONE);
    assert_bytes_eq(out.data, out.len, dense.data, dense.len, "the same batch as appends write");
    sl_bytebuf_free(&dense);
}

Test(batch, builder_refuses_offsets_out_of_order_or_range)
{
    siglog_event e = event("a", "1", 1);
    sl_batch_builder_reset(&builder, 50, 0);
    cr_assert_eq(sl_batch_builder_cover(&builder, 60), SIGLOG_EINVAL, "an empty batch covers nothing");
    cr_assert_eq(sl_batch_builder_add_at(&builder, &e, 1, 49), SIGLOG_EINVAL, "below the base");
    cr_assert_eq(sl_batch_builder_add_at(&builder, &e, 1, 50 + (uint64_t)UINT32_MAX + 1), SIGLOG_EINVAL,
                 "beyond a u32 delta");
    cr_assert_eq(sl_batch_builder_add_at(&builder, &e, 1, 53), 0);
    cr_assert_eq(sl_batch_builder_add_at(&builder, &e, 1, 53), SIGLOG_EINVAL, "the same offset twice");
    cr_assert_eq(sl_batch_builder_add_at(&builder, &e, 1, 52), SIGLOG_EINVAL, "going back");
    cr_assert_eq(sl_batch_builder_cover(&builder, 52), SIGLOG_EINVAL, "shrinking the range");
    cr_assert_eq(builder.record_count, 1);
}

Test(batch, version_2_without_a_gap_is_rejected)
{
    siglog_event evs[] = {event("a", "1", 1), event("b", "2", 2)};
    seal(evs, 2, 0, SIGLOG_COMPRESSION_NONE);
    put_le16(out.data + 4, BATCH_VERSION_GAPS);
    put_le32(out.data + 28, 1); /* the two records fill 0..1 */
    rechecksum_header(out.data);
    batch_header h;
    cr_assert_eq(sl_batch_header_decode(out.data, &h), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "has no gap"), "%s", siglog_errdetail());
    put_le32(out.data + 28, 2);
    rechecksum_header(out.data);
    cr_assert_eq(sl_batch_header_decode(out.data, &h), 0, "%s", siglog_errdetail());
    cr_assert_eq(batch_end_offset(&h), 3);
}

Test(batch, gapped_offset_deltas_must_increase_within_the_range)
{
    struct {
        const char *name;
        uint64_t d0, d1;
        uint32_t last_offset_delta;
        const char *detail; /* NULL: valid */
    } cases[] = {
        {"gap at start, middle and end", 2, 4, 6, NULL},
        {"last record at the range's end", 0, 4, 4, NULL},
        {"repeated delta", 3, 3, 6, "offset_delta 3, expected 4..6"},
        {"decreasing delta", 3, 1, 6, "offset_delta 1, expected 4..6"},
        {"beyond the range", 0, 5, 4, "offset_delta 5, expected 1..4"},
        {"no room left for the last record", 4, 5, 4, "offset_delta 4, expected 0..3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t raw[64];
        size_t n = put_record(raw, 0, cases[i].d0, 0, "a");
        n += put_record(raw + n, 0, cases[i].d1, 0, "b");
        bytebuf b = {0};
        forge_gapped(&b, raw, n, 2, cases[i].last_offset_delta);
        batch_header h;
        siglog_record r[2];
        size_t count;
        int rc = decode_all(b.data, b.len, &h, r, 2, &count);
        if (!cases[i].detail) {
            cr_assert_eq(rc, 0, "%s: %s", cases[i].name, siglog_errdetail());
            cr_assert_eq(r[0].offset, 100 + cases[i].d0, "%s", cases[i].name);
            cr_assert_eq(r[1].offset, 100 + cases[i].d1, "%s", cases[i].name);
        } else {
            cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s accepted", cases[i].name);
            cr_assert(strstr(siglog_errdetail(), cases[i].detail), "%s: detail \"%s\"", cases[i].name,
                      siglog_errdetail());
        }
        sl_bytebuf_free(&b);
    }
}

Test(batch, the_documented_version_2_example_decodes)
{
    /* FORMAT.md, "Batch", the version 2 worked example, byte for byte. */
    static const uint8_t example[80] = {
        0x53, 0x47, 0x42, 0x31, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
        0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x3f, 0x3a, 0xcc, 0x1e, 0x56, 0x5a, 0x14, 0x64, 0xa6, 0x92, 0x88, 0x6d, 0x0b, 0xa2, 0x03, 0x92,
        0x07, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00,
    };
    batch_header h;
    siglog_record r[2];
    size_t n;
    cr_assert_eq(decode_all(example, sizeof example, &h, r, 2, &n), 0, "%s", siglog_errdetail());
    cr_assert_eq(h.version, BATCH_VERSION_GAPS);
    cr_assert_eq(batch_end_offset(&h), 15);
    cr_assert_eq(n, 2);
    cr_assert(r[0].offset == 11 && r[0].timestamp_us == 7, "first record: offset %llu, ts %lld",
              (unsigned long long)r[0].offset, (long long)r[0].timestamp_us);
    cr_assert(r[1].offset == 13 && r[1].timestamp_us == 8, "second record: offset %llu, ts %lld",
              (unsigned long long)r[1].offset, (long long)r[1].timestamp_us);
}

/* The AVX2 build of XXH3 and the dispatching call give the library's
 * XXH3_64bits at every length up to 4 KiB (each of XXH3's size classes and
 * stripe and block boundaries) and at batch sizes, from unaligned starts. */
Test(batch, bulk_checksum_equals_xxh3_at_every_length)
{
    enum { LEN = 300000 };
    uint8_t *buf = malloc(LEN + 8);
    cr_assert_not_null(buf);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < LEN + 8; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    static const size_t big[] = {16384, 65536, 65537, 131072 + 63, 262144, LEN};
    int avx2 = sl_checksum_avx2_usable();
    for (size_t n = 0; n <= 4096 + sizeof big / sizeof big[0]; n++) {
        size_t len = n <= 4096 ? n : big[n - 4097];
        const uint8_t *p = buf + n % 8;
        uint64_t want = XXH3_64bits(p, len);
        cr_assert_eq(sl_checksum_bulk(p, len), want, "length %zu", len);
        if (avx2)
            cr_assert_eq(sl_checksum_avx2(p, len), want, "AVX2, length %zu", len);
    }
    free(buf);
}
