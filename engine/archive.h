/*
 * archive — self-describing archive files: sealed segments of one
 * partition, readable without the store they came from
 * (format-spec/FORMAT.md, "Archive files").
 *
 * An archive is one buffer: a fixed header (store id, stream, partition,
 * offset and time range, counts), the stream name, a schema-version
 * summary (records per version), a segment table, the segments' batches
 * byte for byte as the store held them (so a batch keeps its own
 * checksums and an archive vouches for exactly the bytes that were
 * vouched in the store), an index (per batch: base offset, position, max
 * time) and a trailer with the XXH3-64 of everything before it.
 *
 * sl_archive_decode is the one parser of untrusted archive bytes: it
 * checks the trailer checksum first, then every rule of the format down
 * to each record, so a view it returns is safe to iterate without further
 * checks. The fuzz target parse_archive drives it.
 */
#ifndef SIGLOG_ARCHIVE_H
#define SIGLOG_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "bytebuf.h"
#include "catalog.h"
#include "siglog.h"

#define ARCHIVE_MAGIC 0x56414753u         /* "SGAV" */
#define ARCHIVE_TRAILER_MAGIC 0x45414753u /* "SGAE" */
#define ARCHIVE_VERSION 1
#define ARCHIVE_HEADER_BYTES 128
#define ARCHIVE_SCHEMA_ENTRY_BYTES 16
#define ARCHIVE_SEGMENT_ENTRY_BYTES 48
#define ARCHIVE_INDEX_ENTRY_BYTES 24
#define ARCHIVE_TRAILER_BYTES 16
#define ARCHIVE_SEGMENTS_MAX 65536u
#define ARCHIVE_SCHEMAS_MAX 4096u
#define ARCHIVE_SUFFIX ".sgar"

typedef struct archive_segment {
    uint64_t base_offset, end_offset; /* [base, end) */
    uint64_t record_count;
    uint64_t bytes;                   /* of its batches in the archive */
    int64_t max_timestamp_us;
} archive_segment;

typedef struct archive_schema {
    uint32_t version;
    uint64_t records;
} archive_schema;

/* What an archive says of itself. */
typedef struct archive_meta {
    uint64_t store_id;
    char stream[SIGLOG_NAME_MAX + 1];
    uint32_t partition;
    uint64_t first_offset, next_offset; /* [first, next) */
    uint64_t record_count;
    int64_t min_timestamp_us, max_timestamp_us;
    uint64_t batch_count;
    int64_t created_us;
} archive_meta;

/* A decoded archive: pointers into the caller's buffer, which must
 * outlive it. */
typedef struct archive_view {
    archive_meta meta;
    const uint8_t *buf;
    size_t len;
    uint32_t segment_count, schema_count;
    const uint8_t *segments; /* the table, ARCHIVE_SEGMENT_ENTRY_BYTES each */
    const uint8_t *schemas;  /* the summary, ARCHIVE_SCHEMA_ENTRY_BYTES each */
    const uint8_t *data;     /* the batches */
    uint64_t data_bytes;
    const uint8_t *index;    /* ARCHIVE_INDEX_ENTRY_BYTES per batch */
} archive_view;

archive_segment sl_archive_segment_at(const archive_view *v, uint32_t i);
archive_schema sl_archive_schema_at(const archive_view *v, uint32_t i);

/* Validate buf as an archive (see above) into *v. SIGLOG_ECORRUPT naming
 * the byte and the rule, SIGLOG_EVERSION, or SIGLOG_ENOMEM. */
int sl_archive_decode(const uint8_t *buf, size_t len, archive_view *v);

/* Build an archive of segments[0..n) (their batches back to back in
 * data, each segments[i].bytes long, already validated by the caller as
 * a store's sealed segments): meta's counts, range, times and the schema
 * summary are computed here from the records; meta supplies store_id,
 * stream, partition and created_us. The bytes go to out. 0,
 * SIGLOG_ECORRUPT (the data does not tile) or SIGLOG_ENOMEM. */
int sl_archive_encode(archive_meta *meta, const archive_segment *segments, uint32_t n, const uint8_t *data,
                      uint64_t data_bytes, bytebuf *out);

/* The first n entries of a partition's catalog snapshot as an archive's
 * input: their table into segs[0..n), their .seg files (each exactly as
 * long as its entry says: SIGLOG_ECORRUPT otherwise) appended to data.
 * The caller has checked they are sealed. */
int sl_archive_read_entries(const siglog_io *io, const char *dir, const catalog_snapshot *snap, size_t n,
                            archive_segment *segs, bytebuf *data);

/* Iterate a decoded archive's records in offset order. */
typedef struct archive_iter {
    const archive_view *v;
    uint64_t pos;     /* of the next batch in v->data */
    int in_batch;
    batch_iter it;
    bytebuf scratch;
} archive_iter;

void sl_archive_iter_init(archive_iter *ai, const archive_view *v);
/* 1 and *rec (valid until the next call), 0 at the end, or an error. */
int sl_archive_iter_next(archive_iter *ai, siglog_record *rec);
void sl_archive_iter_free(archive_iter *ai);

/* The decoded view of an open archive (archive_api.c). */
const archive_view *sl_archive_view_of(const siglog_archive *a);

#endif
