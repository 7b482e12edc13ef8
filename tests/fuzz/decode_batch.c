/*
 * decode_batch: feed arbitrary bytes to the batch reader (header, body
 * checksum, decompression, every record), once as they are and once with
 * both checksums repaired so that mutations reach the record parser; when
 * a batch decodes, re-encode its records with the builder — at their own
 * offsets, over the batch's whole range, so that gaps (version 2) survive —
 * and require the copy to decode to the same records, from the same raw
 * body bytes (the encoding is canonical), and to be byte-identical when
 * uncompressed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "batch.h"
#include "codec.h"

#define HDR_BODY_LEN 20
#define HDR_BODY_CHECKSUM 48
#define HDR_CHECKSUM 56

/* Reused across inputs: a fuzzer runs millions of them. */
static batch_builder builder;
static bytebuf reencoded, scratch_in, scratch_out, repaired;

static void fail(const char *what, uint64_t offset)
{
    fprintf(stderr, "decode_batch: re-encoded batch differs at offset %llu: %s\n", (unsigned long long)offset,
            what);
    abort();
}

static int bytes_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void compare_records(const siglog_record *a, const siglog_record *b)
{
    if (a->offset != b->offset || a->timestamp_us != b->timestamp_us ||
        a->schema_version != b->schema_version || a->flags != b->flags)
        fail("offset, timestamp, schema version or flags", a->offset);
    if (!bytes_equal(a->key, a->key_len, b->key, b->key_len) || (a->key == NULL) != (b->key == NULL))
        fail("key", a->offset);
    if (!bytes_equal(a->value, a->value_len, b->value, b->value_len))
        fail("value", a->offset);
    if (a->header_count != b->header_count)
        fail("header count", a->offset);
    for (uint32_t i = 0; i < a->header_count; i++) {
        const siglog_header *x = &a->headers[i], *y = &b->headers[i];
        if (!bytes_equal(x->key, x->key_len, y->key, y->key_len) ||
            !bytes_equal(x->value, x->value_len, y->value, y->value_len))
            fail("header", a->offset);
    }
}

/* Every record of a checked batch into the builder; 0 when the whole batch
 * is valid. */
static int rebuild(const batch_header *h, const uint8_t *body)
{
    batch_iter it;
    if (sl_batch_iter_init(&it, h, body, &scratch_in) != 0)
        return -1;
    sl_batch_builder_reset(&builder, h->base_offset, 0);
    siglog_record r;
    int rc;
    while ((rc = sl_batch_iter_next(&it, &r)) == 1) {
        siglog_event ev = {
            .key = r.key, .key_len = r.key_len,
            .value = r.value, .value_len = r.value_len,
            .timestamp_us = r.timestamp_us,
            .schema_version = r.schema_version,
            .flags = r.flags,
            .headers = r.headers, .header_count = r.header_count,
        };
        /* A decoded record's offset is one the builder takes (above the
         * last, within the range): failing is a bug or out of memory. */
        if (sl_batch_builder_add_at(&builder, &ev, r.timestamp_us, r.offset) != 0)
            abort();
    }
    if (rc == 0 && sl_batch_builder_cover(&builder, batch_end_offset(h) - 1) != 0)
        abort();
    return rc;
}

static void check_round_trip(const batch_header *h, const uint8_t *batch)
{
    const uint8_t *body = batch + BATCH_HEADER_BYTES;
    if (rebuild(h, body) != 0)
        return;
    /* The builder's buffer is the raw body it will seal: canonical encoding
     * means it is the input's raw body, byte for byte. */
    const uint8_t *raw_in = h->codec == BATCH_CODEC_LZ4 ? scratch_in.data : body;
    if (!bytes_equal(builder.records.data, builder.records.len, raw_in, h->raw_len))
        fail("raw body bytes", h->base_offset);

    batch_meta meta;
    reencoded.len = 0;
    int compression = h->codec == BATCH_CODEC_LZ4 ? SIGLOG_COMPRESSION_LZ4 : SIGLOG_COMPRESSION_NONE;
    if (sl_batch_builder_seal(&builder, compression, &reencoded, &meta) != 0)
        fail("seal failed", h->base_offset);
    if (h->codec == BATCH_CODEC_NONE &&
        !bytes_equal(reencoded.data, reencoded.len, batch, BATCH_HEADER_BYTES + (size_t)h->body_len))
        fail("uncompressed batch bytes", h->base_offset);

    batch_header h2;
    if (sl_batch_header_decode(reencoded.data, &h2) != 0 ||
        sl_batch_body_check(&h2, reencoded.data + BATCH_HEADER_BYTES) != 0)
        fail("re-encoded batch does not validate", h->base_offset);
    if (h2.version != h->version || h2.base_offset != h->base_offset || h2.record_count != h->record_count ||
        h2.last_offset_delta != h->last_offset_delta || h2.raw_len != h->raw_len ||
        h2.first_timestamp_us != h->first_timestamp_us || h2.max_timestamp_us != h->max_timestamp_us ||
        meta.bytes != reencoded.len)
        fail("header fields", h->base_offset);

    batch_iter a, b;
    if (sl_batch_iter_init(&a, h, body, &scratch_in) != 0 ||
        sl_batch_iter_init(&b, &h2, reencoded.data + BATCH_HEADER_BYTES, &scratch_out) != 0)
        fail("iterator init", h->base_offset);
    for (;;) {
        siglog_record ra, rb;
        int ka = sl_batch_iter_next(&a, &ra), kb = sl_batch_iter_next(&b, &rb);
        if (ka != kb)
            fail("record count or validity", h->base_offset + a.index);
        if (ka != 1)
            break;
        compare_records(&ra, &rb);
    }
}

static void decode(const uint8_t *data, size_t size)
{
    batch_header h;
    if (sl_batch_header_decode(data, &h) != 0 || size - BATCH_HEADER_BYTES < h.body_len ||
        sl_batch_body_check(&h, data + BATCH_HEADER_BYTES) != 0)
        return;
    check_round_trip(&h, data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < BATCH_HEADER_BYTES)
        return 0;
    decode(data, size);

    /* The same bytes with honest checksums: without this, almost every
     * mutation would stop at a checksum and the parser behind it would go
     * unexplored. */
    repaired.len = 0;
    if (sl_bytebuf_append(&repaired, data, size) != 0)
        abort();
    uint8_t *p = repaired.data;
    uint32_t body_len = get_le32(p + HDR_BODY_LEN);
    if (body_len <= size - BATCH_HEADER_BYTES)
        put_le64(p + HDR_BODY_CHECKSUM, XXH3_64bits(p + BATCH_HEADER_BYTES, body_len));
    put_le64(p + HDR_CHECKSUM, XXH3_64bits(p, HDR_CHECKSUM));
    decode(p, size);
    return 0;
}
