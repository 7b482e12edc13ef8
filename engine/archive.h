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

/* What an archive's header and schema summary say of its batches, tallied
 * batch by batch (in memory by sl_archive_encode and sl_archive_decode, from
 * files by the streaming writer), checking each against its segment:
 * sl_archive_tally_segment_begin, sl_archive_tally_batch per batch in
 * order, sl_archive_tally_segment_end. Memory: the schema versions only. */
typedef struct archive_tally {
    uint64_t records, batches;
    int64_t min_ts, max_ts;
    archive_schema *schemas; /* ascending by version */
    uint32_t schema_count;
    /* of the segment being walked */
    uint64_t expect; /* the next batch's base offset */
    uint64_t segment_records;
    int64_t segment_max_ts;
} archive_tally;

void sl_archive_tally_init(archive_tally *t);
void sl_archive_tally_free(archive_tally *t);
void sl_archive_tally_segment_begin(archive_tally *t, const archive_segment *seg);
/* Add a batch whose header decoded: it must start where the last one
 * ended, its body match its checksum and every record decode. 0,
 * SIGLOG_ECORRUPT (detail without a position: callers add it) or
 * SIGLOG_ENOMEM. */
int sl_archive_tally_batch(archive_tally *t, const batch_header *h, const uint8_t *body, bytebuf *scratch);
/* The segment's batches ended: they must tile it and match its counts.
 * 0 or SIGLOG_ECORRUPT naming segment s. */
int sl_archive_tally_segment_end(archive_tally *t, const archive_segment *seg, uint32_t s);

/* Where the batches start in an archive of n segments tallied as t. */
uint64_t sl_archive_data_position(const archive_meta *meta, const archive_tally *t, uint32_t n);
/* Append an archive's bytes before its batches (header, name, schema
 * summary, segment table) to out, meta's range, counts and times set from
 * t and segments[0..n). 0 or SIGLOG_ENOMEM. */
int sl_archive_head_encode(archive_meta *meta, const archive_tally *t, const archive_segment *segments, uint32_t n,
                           uint64_t data_bytes, bytebuf *out);
/* One index entry: a batch at position pos from the data start. */
void sl_archive_index_entry(uint8_t entry[ARCHIVE_INDEX_ENTRY_BYTES], const batch_header *h, uint64_t pos);
/* The trailer of a file whose bytes before it hash to checksum; the
 * checksum covers the trailer's first 8 bytes, which are fixed: magic and
 * zero. */
void sl_archive_trailer_encode(uint8_t trailer[ARCHIVE_TRAILER_BYTES], uint64_t checksum);

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

/* What an export archives: the first n entries of a partition's catalog
 * snapshot (sealed: the caller checked), their files in dir, read
 * through io. */
typedef struct archive_source {
    const siglog_io *io;
    const char *dir;
    const catalog_snapshot *snap;
    size_t n;
} archive_source;

/* Where and how an export writes its archive (archive_write.c). */
typedef struct archive_target {
    const siglog_io *io; /* jailed to dir */
    const char *dir;     /* synced once the archive is renamed into it */
    const char *path;    /* the archive, in dir */
    uint32_t mode;       /* of the new file */
    int compression;     /* of the re-encoded batches: BATCH_LZ4HC(level) */
    int check;           /* read the archive back and check it whole */
} archive_target;

/* Step 1 of a streaming export: read src's segments batch by batch,
 * check each (header, body checksum, every record, the tiling of the
 * catalog's ranges) and tally them into *t; segs[0..n) get the entries'
 * table. Memory: one batch. 0, SIGLOG_ECORRUPT naming the file and byte,
 * an I/O error, or SIGLOG_ENOMEM; *t is freed on failure. */
int sl_archive_scan(const archive_source *src, archive_segment *segs, archive_tally *t);
/* The rest: write the archive of src (scanned into segs and t; meta
 * supplies store_id, stream, partition and created_us and gets the rest)
 * to `to` by atomic replace, its batches re-encoded one at a time in
 * memory bounded by the largest batch (archive_write.c says how);
 * *file_bytes is its size. A failure before the rename leaves to->path as
 * it was (only the check fails after it). */
int sl_archive_write(const archive_source *src, archive_meta *meta, archive_segment *segs, const archive_tally *t,
                     const archive_target *to, uint64_t *file_bytes);

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
