/*
 * batch — encoding, sealing, validating and iterating record batches.
 * The byte layout and every validity rule are specified in
 * format-spec/FORMAT.md, sections "Batch" and "Record"; this file is one
 * implementation of them.
 *
 *   +------------------ 64-byte header ------------------+---- body ----+
 *   | magic ver codec base count body raw lod first max  |  records,    |
 *   | body_checksum header_checksum(bytes 0..55)          |  maybe LZ4   |
 *   +----------------------------------------------------+--------------+
 *
 * Why the reader is strict: a batch is checksummed, so anything a checksum
 * does not explain (a non-minimal varint, a record with trailing bytes, a
 * max timestamp no record carries) is a writer bug or a forged file, and
 * reporting it beats guessing. The strictness also makes the encoding
 * canonical: decoding a valid batch and re-encoding its records gives the
 * same raw body, byte for byte, which is what the decode_batch fuzz target
 * checks.
 *
 * Hot-path discipline: sl_batch_builder_add reserves once per record and writes
 * the fields straight into the builder's buffer; seal compresses into the
 * builder's reused scratch and hashes the stored body exactly once.
 */
#include "batch.h"

#include <assert.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "checksum.h"
#include "codec.h"
#include "error.h"

/* Byte positions of the header fields. */
enum {
    HDR_MAGIC = 0,
    HDR_VERSION = 4,
    HDR_CODEC = 6,
    HDR_BASE_OFFSET = 8,
    HDR_RECORD_COUNT = 16,
    HDR_BODY_LEN = 20,
    HDR_RAW_LEN = 24,
    HDR_LAST_OFFSET_DELTA = 28, /* version 2; reserved (zero) in version 1 */
    HDR_FIRST_TS = 32,
    HDR_MAX_TS = 40,
    HDR_BODY_CHECKSUM = 48,
    HDR_CHECKSUM = 56,
};

#define RECORD_FLAG_TOMBSTONE 0x01u
/* The smallest record: record_len, flags, offset_delta, timestamp, schema,
 * key_len, header_count and value_len, one byte each. */
#define RECORD_BYTES_MIN 8u
/* Widest offset_delta of a dense batch: varint of BATCH_RECORDS_MAX - 1
 * (24 bits). The bound applies to appends, which are dense. */
#define OFFSET_DELTA_BYTES_MAX 4u

/* Timestamps are stored as deltas from the batch's first timestamp, taken
 * modulo 2^64 so that any pair of int64 timestamps round-trips. */
static inline uint64_t timestamp_delta(int64_t ts, int64_t first)
{
    return zigzag_encode((int64_t)((uint64_t)ts - (uint64_t)first));
}

static inline int64_t timestamp_apply(int64_t first, uint64_t zz)
{
    return (int64_t)((uint64_t)first + (uint64_t)zigzag_decode(zz));
}

/* ---- building ---- */

/* Bytes of a record after its record_len varint, given the widths of the
 * two position-dependent varints. */
static size_t record_fields_len(const siglog_event *ev, size_t offset_delta_bytes, size_t ts_bytes)
{
    size_t n = 1 + offset_delta_bytes + ts_bytes + varint_size(ev->schema_version) +
               varint_size(ev->key_len) + ev->key_len + varint_size(ev->header_count) +
               varint_size(ev->value_len) + ev->value_len;
    for (uint32_t i = 0; i < ev->header_count; i++) {
        const siglog_header *hd = &ev->headers[i];
        n += varint_size(hd->key_len) + hd->key_len + varint_size(hd->value_len) + hd->value_len;
    }
    return n;
}

size_t sl_batch_record_size(const siglog_event *ev, int64_t timestamp_us)
{
    /* The bound must not depend on the batch, so the timestamp's own value
     * cannot narrow its delta: any delta may take the widest varint. */
    (void)timestamp_us;
    size_t fields = record_fields_len(ev, OFFSET_DELTA_BYTES_MAX, VARINT_MAX_BYTES);
    return varint_size(fields) + fields;
}

void sl_batch_builder_init(batch_builder *b)
{
    memset(b, 0, sizeof *b);
}

void sl_batch_builder_free(batch_builder *b)
{
    sl_bytebuf_free(&b->records);
    sl_bytebuf_free(&b->compressed);
}

void sl_batch_builder_build_into(batch_builder *b, bytebuf *out)
{
    assert(!b->held);
    b->out = out;
}

void sl_batch_builder_reset(batch_builder *b, uint64_t base_offset, int64_t now_monotonic_us)
{
    if (b->out && b->held)
        b->out->len = b->batch_at;
    b->records.len = 0;
    b->held = 0;
    b->base_offset = base_offset;
    b->record_count = 0;
    b->last_offset_delta = 0;
    b->first_timestamp_us = 0;
    b->max_timestamp_us = 0;
    b->opened_us = now_monotonic_us;
}

static inline uint8_t *put_bytes(uint8_t *p, const void *data, size_t len)
{
    p += varint_put(p, len);
    if (len)
        memcpy(p, data, len);
    return p + len;
}

/* Append one record whose offset_delta the caller checked: above the last
 * record's, within a u32. */
static int add_record(batch_builder *b, const siglog_event *ev, int64_t timestamp_us, uint32_t offset_delta)
{
    /* The caller validated the event against the public limits. */
    assert(ev->header_count <= SIGLOG_HEADERS_MAX);
    assert(!(ev->flags & ~SIGLOG_EVENT_TOMBSTONE));

    if (b->record_count == 0) {
        b->first_timestamp_us = b->max_timestamp_us = b->min_timestamp_us = timestamp_us;
        b->schema_version = ev->schema_version;
        b->one_version = 1;
    }
    uint64_t ts_zz = timestamp_delta(timestamp_us, b->first_timestamp_us);
    size_t fields = record_fields_len(ev, varint_size(offset_delta), varint_size(ts_zz));
    size_t total = varint_size(fields) + fields;
    /* Built into another buffer, the batch starts with room for its
     * header, which sealing fills in place. */
    bytebuf *out = b->out ? b->out : &b->records;
    size_t slot = b->held == 0 && b->out ? BATCH_HEADER_BYTES : 0;
    int rc = sl_bytebuf_reserve(out, slot + total);
    if (rc)
        return rc;
    if (b->held == 0)
        b->batch_at = out->len;
    out->len += slot;
    b->held += slot;

    uint8_t *p = out->data + out->len;
    p += varint_put(p, fields);
    *p++ = (ev->flags & SIGLOG_EVENT_TOMBSTONE) ? RECORD_FLAG_TOMBSTONE : 0;
    p += varint_put(p, offset_delta);
    p += varint_put(p, ts_zz);
    p += varint_put(p, ev->schema_version);
    p = put_bytes(p, ev->key, ev->key_len);
    p += varint_put(p, ev->header_count);
    for (uint32_t i = 0; i < ev->header_count; i++) {
        p = put_bytes(p, ev->headers[i].key, ev->headers[i].key_len);
        p = put_bytes(p, ev->headers[i].value, ev->headers[i].value_len);
    }
    p = put_bytes(p, ev->value, ev->value_len);
    assert(p == out->data + out->len + total);

    out->len += total;
    b->held += total;
    b->record_count++;
    b->last_offset_delta = offset_delta;
    if (timestamp_us > b->max_timestamp_us)
        b->max_timestamp_us = timestamp_us;
    if (timestamp_us < b->min_timestamp_us)
        b->min_timestamp_us = timestamp_us;
    b->one_version &= ev->schema_version == b->schema_version;
    return 0;
}

int sl_batch_builder_add(batch_builder *b, const siglog_event *ev, int64_t timestamp_us)
{
    /* Dense: the record count is the delta, and a sealable batch holds at
     * most BATCH_RECORDS_MAX records. */
    return add_record(b, ev, timestamp_us, b->record_count);
}

int sl_batch_builder_add_at(batch_builder *b, const siglog_event *ev, int64_t timestamp_us, uint64_t offset)
{
    uint64_t least = b->record_count ? b->base_offset + b->last_offset_delta + 1 : b->base_offset;
    if (offset < least || offset - b->base_offset > UINT32_MAX)
        return sl_err_set(SIGLOG_EINVAL, "record at offset %llu in a batch at base offset %llu, expected %llu..%llu",
                       (unsigned long long)offset, (unsigned long long)b->base_offset, (unsigned long long)least,
                       (unsigned long long)b->base_offset + UINT32_MAX);
    return add_record(b, ev, timestamp_us, (uint32_t)(offset - b->base_offset));
}

int sl_batch_builder_cover(batch_builder *b, uint64_t last_offset)
{
    uint64_t last = b->base_offset + b->last_offset_delta;
    if (b->record_count == 0 || last_offset < last || last_offset - b->base_offset > UINT32_MAX ||
        last_offset == UINT64_MAX)
        return sl_err_set(SIGLOG_EINVAL, "a batch at base offset %llu holding offsets up to %llu cannot cover %llu",
                       (unsigned long long)b->base_offset, (unsigned long long)last, (unsigned long long)last_offset);
    b->last_offset_delta = (uint32_t)(last_offset - b->base_offset);
    return 0;
}

void sl_batch_header_encode(const batch_header *h, uint8_t out[BATCH_HEADER_BYTES])
{
    put_le32(out + HDR_MAGIC, BATCH_MAGIC);
    put_le16(out + HDR_VERSION, h->version);
    put_le16(out + HDR_CODEC, h->codec);
    put_le64(out + HDR_BASE_OFFSET, h->base_offset);
    put_le32(out + HDR_RECORD_COUNT, h->record_count);
    put_le32(out + HDR_BODY_LEN, h->body_len);
    put_le32(out + HDR_RAW_LEN, h->raw_len);
    put_le32(out + HDR_LAST_OFFSET_DELTA, h->version == BATCH_VERSION_GAPS ? h->last_offset_delta : 0);
    put_le64(out + HDR_FIRST_TS, (uint64_t)h->first_timestamp_us);
    put_le64(out + HDR_MAX_TS, (uint64_t)h->max_timestamp_us);
    put_le64(out + HDR_BODY_CHECKSUM, h->body_checksum);
    put_le64(out + HDR_CHECKSUM, XXH3_64bits(out, HDR_CHECKSUM));
}

int sl_batch_builder_seal(batch_builder *b, int compression, bytebuf *out, batch_meta *meta)
{
    assert(b->record_count >= 1);
    size_t raw_len = sl_batch_builder_body_len(b);
    if (raw_len > BATCH_BODY_BYTES_MAX || b->record_count > BATCH_RECORDS_MAX)
        return sl_err_set(SIGLOG_EINVAL,
                       "batch of %u records in %zu bytes exceeds the format's limits (%u records, %u bytes)",
                       b->record_count, raw_len, BATCH_RECORDS_MAX, BATCH_BODY_BYTES_MAX);
    assert(!b->out || (b->out == out && b->batch_at + b->held == out->len));

    /* Dense batches stay version 1, readable by every reader: the version
     * changes only where the bytes mean more (FORMAT.md, "Versioning"). */
    int dense = b->last_offset_delta == b->record_count - 1;
    batch_header h = {
        .version = dense ? BATCH_VERSION_DENSE : BATCH_VERSION_GAPS,
        .codec = BATCH_CODEC_NONE,
        .base_offset = b->base_offset,
        .record_count = b->record_count,
        .last_offset_delta = b->last_offset_delta,
        .body_len = (uint32_t)raw_len,
        .raw_len = (uint32_t)raw_len,
        .first_timestamp_us = b->first_timestamp_us,
        .max_timestamp_us = b->max_timestamp_us,
    };
    uint8_t *slot = b->out ? b->out->data + b->batch_at : NULL;
    const uint8_t *body = b->out ? slot + BATCH_HEADER_BYTES : b->records.data;

    if (compression == SIGLOG_COMPRESSION_LZ4 || (compression & BATCH_LZ4HC_FLAG)) {
        /* A destination one byte smaller than the input makes LZ4 give up
         * (return 0) as soon as compression cannot pay, so incompressible
         * batches cost neither a full compression nor extra memory. */
        int rc = sl_bytebuf_reserve(&b->compressed, h.raw_len - 1);
        if (rc)
            return rc;
        const char *src = (const char *)body;
        char *dst = (char *)b->compressed.data;
        int n = compression & BATCH_LZ4HC_FLAG
                    ? LZ4_compress_HC(src, dst, (int)h.raw_len, (int)h.raw_len - 1, compression & ~BATCH_LZ4HC_FLAG)
                    : LZ4_compress_default(src, dst, (int)h.raw_len, (int)h.raw_len - 1);
        if (n > 0) {
            b->compressed.len = (size_t)n;
            body = b->compressed.data;
            h.body_len = (uint32_t)n;
            h.codec = BATCH_CODEC_LZ4;
        }
    }

    h.body_checksum = sl_checksum_bulk(body, h.body_len);
    if (slot) {
        /* In place: an uncompressed body is already where it belongs. */
        if (body != slot + BATCH_HEADER_BYTES)
            memcpy(slot + BATCH_HEADER_BYTES, body, h.body_len);
        sl_batch_header_encode(&h, slot);
        out->len = b->batch_at + BATCH_HEADER_BYTES + (size_t)h.body_len;
        b->held = 0;
    } else {
        int rc = sl_bytebuf_reserve(out, BATCH_HEADER_BYTES + (size_t)h.body_len);
        if (rc)
            return rc;
        uint8_t *dst = out->data + out->len;
        sl_batch_header_encode(&h, dst);
        memcpy(dst + BATCH_HEADER_BYTES, body, h.body_len);
        out->len += BATCH_HEADER_BYTES + (size_t)h.body_len;
    }

    meta->base_offset = h.base_offset;
    meta->record_count = h.record_count;
    meta->last_offset_delta = h.last_offset_delta;
    meta->bytes = BATCH_HEADER_BYTES + h.body_len;
    meta->max_timestamp_us = h.max_timestamp_us;
    meta->body_checksum = h.body_checksum;
    meta->one_version = dense && b->one_version;
    meta->schema_version = b->schema_version;
    meta->min_timestamp_us = b->min_timestamp_us;
    return 0;
}

/* ---- validating ---- */

int sl_batch_header_decode(const uint8_t hdr[BATCH_HEADER_BYTES], batch_header *h)
{
    uint32_t magic = get_le32(hdr + HDR_MAGIC);
    if (magic != BATCH_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "bad magic: batch header starts with 0x%08x, expected 0x%08x (\"SGB1\")",
                       magic, BATCH_MAGIC);
    /* Nothing else in the header is believed before its checksum holds. */
    uint64_t stored = get_le64(hdr + HDR_CHECKSUM);
    uint64_t computed = XXH3_64bits(hdr, HDR_CHECKSUM);
    if (stored != computed)
        return sl_err_set(SIGLOG_ECORRUPT, "batch header checksum mismatch: stored 0x%016llx, computed 0x%016llx",
                       (unsigned long long)stored, (unsigned long long)computed);

    batch_header d = {
        .version = get_le16(hdr + HDR_VERSION),
        .codec = get_le16(hdr + HDR_CODEC),
        .base_offset = get_le64(hdr + HDR_BASE_OFFSET),
        .record_count = get_le32(hdr + HDR_RECORD_COUNT),
        .body_len = get_le32(hdr + HDR_BODY_LEN),
        .raw_len = get_le32(hdr + HDR_RAW_LEN),
        .first_timestamp_us = (int64_t)get_le64(hdr + HDR_FIRST_TS),
        .max_timestamp_us = (int64_t)get_le64(hdr + HDR_MAX_TS),
        .body_checksum = get_le64(hdr + HDR_BODY_CHECKSUM),
    };
    uint32_t lod_field = get_le32(hdr + HDR_LAST_OFFSET_DELTA);

    if (d.version != BATCH_VERSION_DENSE && d.version != BATCH_VERSION_GAPS)
        return sl_err_set(SIGLOG_EVERSION, "batch format version %u, this build reads versions %u and %u", d.version,
                       BATCH_VERSION_DENSE, BATCH_VERSION_GAPS);
    if (d.codec != BATCH_CODEC_NONE && d.codec != BATCH_CODEC_LZ4)
        return sl_err_set(SIGLOG_ECORRUPT, "unknown batch codec %u, expected 0 (none) or 1 (LZ4)", d.codec);
    if (d.version == BATCH_VERSION_DENSE && lod_field != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "batch header reserved field is 0x%08x, expected 0", lod_field);
    if (d.body_len > BATCH_BODY_BYTES_MAX || d.raw_len > BATCH_BODY_BYTES_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "batch body_len %u / raw_len %u exceeds the limit of %u bytes", d.body_len,
                       d.raw_len, BATCH_BODY_BYTES_MAX);
    if (d.codec == BATCH_CODEC_NONE && d.raw_len != d.body_len)
        return sl_err_set(SIGLOG_ECORRUPT, "uncompressed batch has raw_len %u, expected body_len %u", d.raw_len,
                       d.body_len);
    if (d.codec == BATCH_CODEC_LZ4 && d.body_len >= d.raw_len)
        return sl_err_set(SIGLOG_ECORRUPT, "LZ4 batch body_len %u, expected less than raw_len %u", d.body_len,
                       d.raw_len);
    if (d.record_count < 1 || d.record_count > BATCH_RECORDS_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "batch record_count %u, expected 1..%u", d.record_count,
                       BATCH_RECORDS_MAX);
    if ((uint64_t)d.record_count * RECORD_BYTES_MIN > d.raw_len)
        return sl_err_set(SIGLOG_ECORRUPT, "batch raw_len %u cannot hold %u records, expected at least %llu bytes",
                       d.raw_len, d.record_count, (unsigned long long)d.record_count * RECORD_BYTES_MIN);
    /* Version 2 exists for gaps: a range its records fill is version 1, so
     * that one set of records has one encoding. */
    if (d.version == BATCH_VERSION_GAPS && lod_field < d.record_count)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "version 2 batch with last_offset_delta %u and %u records has no gap, expected version 1 or "
                       "last_offset_delta >= record_count",
                       lod_field, d.record_count);
    d.last_offset_delta = d.version == BATCH_VERSION_GAPS ? lod_field : d.record_count - 1;
    if (d.base_offset >= UINT64_MAX - d.last_offset_delta)
        return sl_err_set(SIGLOG_ECORRUPT, "batch offsets overflow: base_offset %llu + last_offset_delta %u + 1",
                       (unsigned long long)d.base_offset, d.last_offset_delta);
    if (d.max_timestamp_us < d.first_timestamp_us)
        return sl_err_set(SIGLOG_ECORRUPT, "batch max_timestamp_us %lld, expected >= first_timestamp_us %lld",
                       (long long)d.max_timestamp_us, (long long)d.first_timestamp_us);
    *h = d;
    return 0;
}

int sl_batch_body_check(const batch_header *h, const uint8_t *body)
{
    uint64_t computed = sl_checksum_bulk(body, h->body_len);
    if (computed != h->body_checksum)
        return sl_err_set(SIGLOG_ECORRUPT, "batch body checksum mismatch: stored 0x%016llx, computed 0x%016llx",
                       (unsigned long long)h->body_checksum, (unsigned long long)computed);
    return 0;
}

/* ---- iterating ---- */

int sl_batch_iter_init(batch_iter *it, const batch_header *h, const uint8_t *body, bytebuf *scratch)
{
    const uint8_t *raw = body;
    if (h->codec == BATCH_CODEC_LZ4) {
        scratch->len = 0;
        int rc = sl_bytebuf_reserve(scratch, h->raw_len);
        if (rc)
            return rc;
        int n = LZ4_decompress_safe((const char *)body, (char *)scratch->data, (int)h->body_len, (int)h->raw_len);
        if (n < 0)
            return sl_err_set(SIGLOG_ECORRUPT, "LZ4 batch body of %u bytes is malformed (error %d), expected %u bytes out",
                           h->body_len, n, h->raw_len);
        if ((uint32_t)n != h->raw_len)
            return sl_err_set(SIGLOG_ECORRUPT, "LZ4 batch body decompresses to %d bytes, expected raw_len %u", n,
                           h->raw_len);
        scratch->len = h->raw_len;
        raw = scratch->data;
    }
    it->pos = raw;
    it->end = raw + h->raw_len;
    it->base_offset = h->base_offset;
    it->last_offset_delta = h->last_offset_delta;
    it->first_timestamp_us = h->first_timestamp_us;
    it->max_timestamp_us = h->max_timestamp_us;
    it->max_reached = 0;
    it->remaining = h->record_count;
    it->index = 0;
    it->min_delta = 0;
    return 0;
}

/* A bounded reader over one record's bytes. Varints must be minimal: a
 * padded varint decodes to the same number, so accepting it would let two
 * byte strings mean one record. */
typedef struct reader {
    const uint8_t *p, *end;
} reader;

static inline int read_varint(reader *r, uint64_t *v)
{
    return varint_get_minimal(&r->p, r->end, v);
}

/* A length-prefixed byte string; *len fits in uint32_t since a record does. */
static inline int read_bytes(reader *r, const uint8_t **data, uint32_t *len)
{
    uint64_t n;
    if (read_varint(r, &n) != 0 || n > (uint64_t)(r->end - r->p))
        return -1;
    *data = r->p;
    *len = (uint32_t)n;
    r->p += n;
    return 0;
}

static int record_corrupt(const batch_iter *it, const char *fmt, ...) ERR_PRINTF(2, 3);

static int record_corrupt(const batch_iter *it, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sl_err_set(SIGLOG_ECORRUPT, "record %u of the batch at base offset %llu: %s", it->index,
                   (unsigned long long)it->base_offset, what);
}

int sl_batch_iter_next(batch_iter *it, siglog_record *rec)
{
    if (it->remaining == 0)
        return 0;

    reader outer = {it->pos, it->end};
    uint64_t record_len;
    if (read_varint(&outer, &record_len) != 0)
        return record_corrupt(it, "bad record_len varint");
    if (record_len > (uint64_t)(outer.end - outer.p))
        return record_corrupt(it, "record_len %llu, expected at most the %zu bytes left in the body",
                              (unsigned long long)record_len, (size_t)(outer.end - outer.p));
    reader r = {outer.p, outer.p + record_len};

    if (r.p == r.end)
        return record_corrupt(it, "record ends before its flags");
    uint8_t flags = *r.p++;
    if (flags & ~RECORD_FLAG_TOMBSTONE)
        return record_corrupt(it, "flags 0x%02x, expected only bit 0 (tombstone)", flags);

    uint64_t offset_delta, ts_zz, schema, header_count;
    if (read_varint(&r, &offset_delta) != 0)
        return record_corrupt(it, "bad offset_delta varint");
    /* Strictly increasing within the range; in a dense batch (range =
     * record_count) that leaves exactly offset_delta == index. */
    uint64_t most = it->last_offset_delta - (it->remaining - 1);
    if (offset_delta < it->min_delta || offset_delta > most)
        return record_corrupt(it, "offset_delta %llu, expected %llu..%llu", (unsigned long long)offset_delta,
                              (unsigned long long)it->min_delta, (unsigned long long)most);
    if (read_varint(&r, &ts_zz) != 0)
        return record_corrupt(it, "bad timestamp varint");
    if (it->index == 0 && ts_zz != 0)
        return record_corrupt(it, "first record's timestamp delta is %lld, expected 0",
                              (long long)zigzag_decode(ts_zz));
    int64_t ts = timestamp_apply(it->first_timestamp_us, ts_zz);
    if (ts > it->max_timestamp_us)
        return record_corrupt(it, "timestamp %lld, expected at most the batch's max_timestamp_us %lld",
                              (long long)ts, (long long)it->max_timestamp_us);
    if (read_varint(&r, &schema) != 0 || schema > UINT32_MAX)
        return record_corrupt(it, "bad schema_version varint, expected a value <= %u", UINT32_MAX);

    const uint8_t *key, *value;
    uint32_t key_len, value_len;
    if (read_bytes(&r, &key, &key_len) != 0)
        return record_corrupt(it, "bad key length");
    if (read_varint(&r, &header_count) != 0 || header_count > SIGLOG_HEADERS_MAX)
        return record_corrupt(it, "bad header_count, expected at most %d", SIGLOG_HEADERS_MAX);
    for (uint32_t i = 0; i < header_count; i++) {
        siglog_header *hd = &it->headers[i];
        const uint8_t *hk, *hv;
        if (read_bytes(&r, &hk, &hd->key_len) != 0 || read_bytes(&r, &hv, &hd->value_len) != 0)
            return record_corrupt(it, "bad header %u", i);
        hd->key = hk;
        hd->value = hv;
    }
    if (read_bytes(&r, &value, &value_len) != 0)
        return record_corrupt(it, "bad value length");
    if (r.p != r.end)
        return record_corrupt(it, "%zu bytes left after the value, expected record_len %llu to end there",
                              (size_t)(r.end - r.p), (unsigned long long)record_len);

    if (ts == it->max_timestamp_us)
        it->max_reached = 1;
    if (it->remaining == 1) {
        /* The last record: the header's summary must match the body. */
        if (r.end != it->end)
            return record_corrupt(it, "%zu bytes follow the last record, expected the body to end",
                                  (size_t)(it->end - r.end));
        if (!it->max_reached)
            return record_corrupt(it, "no record has the batch's max_timestamp_us %lld",
                                  (long long)it->max_timestamp_us);
    } else if (r.end == it->end) {
        return record_corrupt(it, "body ends after this record, expected %u more", it->remaining - 1);
    }

    rec->offset = it->base_offset + offset_delta;
    rec->timestamp_us = ts;
    rec->partition = 0;
    rec->schema_version = (uint32_t)schema;
    rec->flags = (flags & RECORD_FLAG_TOMBSTONE) ? SIGLOG_EVENT_TOMBSTONE : 0;
    rec->header_count = (uint32_t)header_count;
    rec->key = key_len ? key : NULL;
    rec->key_len = key_len;
    rec->value = value;
    rec->value_len = value_len;
    rec->headers = it->headers;

    it->pos = r.end;
    it->min_delta = offset_delta + 1;
    it->index++;
    it->remaining--;
    return 1;
}

int sl_batch_records_valid(const batch_header *h, const uint8_t *body, bytebuf *scratch)
{
    batch_iter it;
    siglog_record r;
    int rc = sl_batch_iter_init(&it, h, body, scratch);
    while (rc == 0 && (rc = sl_batch_iter_next(&it, &r)) == 1)
        rc = 0;
    /* Only malformed records make the batch invalid; running out of memory
     * must not read as damage (recovery would cut or skip the batch). */
    return rc == 0 ? 1 : rc == SIGLOG_ECORRUPT ? 0 : rc;
}
