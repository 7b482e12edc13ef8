/*
 * batch — the unit of writing, compression and checksumming
 * (format-spec/FORMAT.md, "Batch").
 *
 * Layout: a 64-byte header protected by its own XXH3-64, then the body:
 * the records, LZ4-compressed when that saves bytes. The header checksum is
 * verified before any length in it is trusted, so a torn or corrupt length
 * can never make a reader allocate or skip wildly.
 *
 * Invariants of a sealed batch: record_count >= 1; the batch covers the
 * offsets base_offset .. base_offset+last_offset_delta, and its records hold
 * some of them, in increasing order. Version 1 (what appends write) is
 * dense: last_offset_delta == record_count-1, record i has offset
 * base_offset+i. Version 2 has a gap (last_offset_delta >= record_count):
 * records a rewrite dropped keep their offsets unused, and the batch keeps
 * its range so that batches and segments still tile the offsets. body_len
 * and raw_len <= BATCH_BODY_BYTES_MAX; max_timestamp_us is the largest
 * record timestamp; reserved fields are zero.
 */
#ifndef SIGLOG_BATCH_H
#define SIGLOG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "siglog.h"

#define BATCH_MAGIC 0x31424753u /* "SGB1" little-endian */
#define BATCH_VERSION_DENSE 1 /* every offset of the range holds a record */
#define BATCH_VERSION_GAPS 2  /* some do not: written only when a gap exists */
#define BATCH_HEADER_BYTES 64
#define BATCH_CODEC_NONE 0
#define BATCH_CODEC_LZ4 1
/* Hard bound on any body length read from disk, whatever the config. */
#define BATCH_BODY_BYTES_MAX (32u << 20)
#define BATCH_RECORDS_MAX (1u << 24)

typedef struct batch_header {
    uint16_t version;
    uint16_t codec;
    uint64_t base_offset;
    uint32_t record_count;
    uint32_t last_offset_delta; /* version 2: from the header; version 1: record_count - 1 */
    uint32_t body_len;  /* stored bytes after the header */
    uint32_t raw_len;   /* body bytes after decompression */
    int64_t first_timestamp_us;
    int64_t max_timestamp_us;
    uint64_t body_checksum; /* XXH3-64 of the stored body */
} batch_header;

/* What the segment and journal need to know of a sealed batch. */
typedef struct batch_meta {
    uint64_t base_offset;
    uint32_t record_count;
    uint32_t last_offset_delta; /* the batch covers base_offset .. base_offset + this */
    uint32_t bytes;           /* header + body */
    int64_t max_timestamp_us;
    uint64_t body_checksum;   /* binds time index entries to the batch */
    /* Set by the builder only (0 from a decoded header): every record of
     * the batch, one at each offset it covers, has schema_version and a
     * time within [min_timestamp_us, max_timestamp_us], so what the
     * records tell of schema versions is known without decoding them. */
    int one_version;
    uint32_t schema_version;
    int64_t min_timestamp_us;
} batch_meta;

/* One past the last offset a batch covers: where the next batch starts. */
static inline uint64_t batch_end_offset(const batch_header *h)
{
    return h->base_offset + h->last_offset_delta + 1;
}

static inline uint64_t batch_meta_end_offset(const batch_meta *m)
{
    return m->base_offset + m->last_offset_delta + 1;
}

/* The description of a decoded batch, as sealing it would have given. */
static inline batch_meta batch_meta_of(const batch_header *h)
{
    return (batch_meta){.base_offset = h->base_offset,
                        .record_count = h->record_count,
                        .last_offset_delta = h->last_offset_delta,
                        .bytes = BATCH_HEADER_BYTES + h->body_len,
                        .max_timestamp_us = h->max_timestamp_us,
                        .body_checksum = h->body_checksum};
}

/* Decode and validate a 64-byte header: magic, version, header checksum,
 * bounds (record_count >= 1, lengths <= limits, reserved zero, codec
 * known, raw_len == body_len when uncompressed, the offset range not
 * overflowing, version 2 only with a gap). Returns 0 or SIGLOG_ECORRUPT / SIGLOG_EVERSION (detail set
 * without a path: callers prefix file and position). */
int sl_batch_header_decode(const uint8_t hdr[BATCH_HEADER_BYTES], batch_header *h);

/* The 64 bytes of a header, its checksum computed: for a header that
 * decoded, exactly the bytes it was decoded from (a rewrite copies a
 * batch whole this way). */
void sl_batch_header_encode(const batch_header *h, uint8_t out[BATCH_HEADER_BYTES]);

/* Check the body checksum. 0 or SIGLOG_ECORRUPT. */
int sl_batch_body_check(const batch_header *h, const uint8_t *body);

/* ---- building (writer side) ---- */

typedef struct batch_builder {
    bytebuf records;        /* encoded records, uncompressed, unless built into another buffer */
    bytebuf compressed;     /* scratch for LZ4 */
    bytebuf *out;           /* NULL: records are encoded in `records`; else the buffer of build_into */
    size_t batch_at;        /* the open batch's first byte in *out */
    size_t held;            /* bytes of *out the open batch holds from batch_at (0: none) */
    uint64_t base_offset;
    uint32_t record_count;
    uint32_t last_offset_delta; /* of the last record added, or as covered */
    int64_t first_timestamp_us;
    int64_t max_timestamp_us;
    int64_t min_timestamp_us;
    uint32_t schema_version; /* the first record's */
    int one_version;         /* every record has schema_version */
    int64_t opened_us;      /* monotonic time of the first record */
} batch_builder;

void sl_batch_builder_init(batch_builder *b);
void sl_batch_builder_free(batch_builder *b);
/* Encode the records of every batch from now on straight into `out`,
 * after what it holds, behind room for the header, so that sealing writes
 * the header in place and copies no uncompressed body (a writer's run of
 * pending batches). The caller owns `out` and every byte of it except the
 * open batch's, the last sl_batch_builder_open_bytes() of it; when it
 * moves them it says where (sl_batch_builder_moved). Sealing must be into
 * `out`. Call with no open batch. */
void sl_batch_builder_build_into(batch_builder *b, bytebuf *out);
/* The uncompressed bytes of the open batch's records. */
static inline size_t sl_batch_builder_body_len(const batch_builder *b)
{
    return b->held ? b->held - (b->out ? BATCH_HEADER_BYTES : 0) : 0;
}
/* Bytes at the end of a build_into buffer that the open batch holds. */
static inline size_t sl_batch_builder_open_bytes(const batch_builder *b)
{
    return b->held;
}
/* The owner of a build_into buffer moved the open batch's bytes to start
 * at `batch_at` (they are still the buffer's last). */
static inline void sl_batch_builder_moved(batch_builder *b, size_t batch_at)
{
    b->batch_at = batch_at;
}
/* Start an empty batch whose first record will get base_offset; the open
 * batch's records, if any, are dropped (also from a build_into buffer). */
void sl_batch_builder_reset(batch_builder *b, uint64_t base_offset, int64_t now_monotonic_us);
/* Encoded size of one record (to check limits before adding), independent
 * of the batch it lands in: exact except that the offset and timestamp
 * deltas, which depend on the record's place in its batch, are counted at
 * their widest, so it is at most 12 bytes over. */
size_t sl_batch_record_size(const siglog_event *ev, int64_t timestamp_us);
/* Append one record with the given (already resolved) timestamp at the
 * next offset (base_offset + record_count: appends are dense).
 * 0 or SIGLOG_ENOMEM. */
int sl_batch_builder_add(batch_builder *b, const siglog_event *ev, int64_t timestamp_us);
/* Append one record at `offset`, above the last record's (a rewrite that
 * drops records leaves the offsets between unused) and at most
 * base_offset + UINT32_MAX. 0, SIGLOG_EINVAL or SIGLOG_ENOMEM. */
int sl_batch_builder_add_at(batch_builder *b, const siglog_event *ev, int64_t timestamp_us, uint64_t offset);
/* Make the batch cover offsets up to last_offset even though no record
 * holds it (the records a rewrite dropped at the end of a batch), so that
 * the next batch still starts at last_offset + 1. Needs >= 1 record; never
 * shrinks the range. 0 or SIGLOG_EINVAL. */
int sl_batch_builder_cover(batch_builder *b, uint64_t last_offset);
/* Seal: compress when asked and when it saves bytes, checksum, and append
 * header+body to out (built into out: finish it where it stands, the
 * bytes now out's owner's): version 1 when the records fill the range, version
 * 2 when there is a gap. Fills *meta. The builder must hold >= 1 record; it
 * is left unchanged but for that (call reset for the next batch). compression is
 * SIGLOG_COMPRESSION_NONE, SIGLOG_COMPRESSION_LZ4 or BATCH_LZ4HC(level). */
int sl_batch_builder_seal(batch_builder *b, int compression, bytebuf *out, batch_meta *meta);
/* LZ4HC at level 1..12 (LZ4HC_CLEVEL_MAX): the same LZ4 block format
 * (codec LZ4: a reader cannot tell and needs nothing new), smaller and
 * slower to write, as fast to read. For rewrites of sealed segments. */
#define BATCH_LZ4HC_FLAG 0x100
#define BATCH_LZ4HC(level) (BATCH_LZ4HC_FLAG | (level))

/* ---- reading ---- */

typedef struct batch_iter {
    const uint8_t *pos, *end; /* remaining raw record bytes */
    uint64_t base_offset;
    uint32_t last_offset_delta;
    int64_t first_timestamp_us;
    int64_t max_timestamp_us; /* from the header: every record is <= it */
    int max_reached;          /* some record carried max_timestamp_us */
    uint32_t remaining;
    uint32_t index;           /* of the next record in the body */
    uint64_t min_delta;       /* the next record's offset_delta is at least this */
    siglog_header headers[SIGLOG_HEADERS_MAX];
} batch_iter;

/* Prepare iteration over a validated batch (header decoded, body checked):
 * decompresses into scratch when needed. 0, SIGLOG_ECORRUPT or
 * SIGLOG_ENOMEM. */
int sl_batch_iter_init(batch_iter *it, const batch_header *h, const uint8_t *body, bytebuf *scratch);
/* Whether every record of a checked batch decodes (a body can pass its
 * checksum and still hold records no reader could decode, e.g. a
 * malformed LZ4 block written with valid checksums). 1, 0, or SIGLOG_ENOMEM
 * (which says nothing about the batch). */
int sl_batch_records_valid(const batch_header *h, const uint8_t *body, bytebuf *scratch);

/* Next record: 1 and *rec filled (pointers into the body/scratch and
 * it->headers), 0 when done, SIGLOG_ECORRUPT when a record is malformed or
 * the record count or offsets disagree with the header. */
int sl_batch_iter_next(batch_iter *it, siglog_record *rec);

#endif
