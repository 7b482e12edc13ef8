/*
 * archive — self-describing archive files: sealed segments of one
 * partition, readable without the store they came from
 * (format-spec/FORMAT.md, "Archive files").
 *
 * An archive is one file: a fixed header (store id, stream, partition,
 * offset and time range, counts), the stream name, a schema-version
 * summary (records per version), a segment table, the segments' batches
 * (re-encoded by the exporter with LZ4HC: the same records in the same
 * batch ranges, each batch with its own checksums), an index (per batch:
 * base offset, position, max time) and a trailer with the XXH3-64 of
 * everything before it.
 *
 * Two readers apply the format's rules, in the same order, from the same
 * pieces (prelude, trailer, head, tally): sl_archive_decode over a buffer
 * (the fuzz target's reference) and sl_archive_file_open over a file, a
 * piece at a time (what siglog_archive_open and restore use). Each checks
 * the trailer checksum first, then every rule down to each record. The
 * fuzz target parse_archive drives both and compares them.
 */
#ifndef SIGLOG_ARCHIVE_H
#define SIGLOG_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "bytebuf.h"
#include "catalog.h"
#include "key_set.h"
#include "keyfilter.h"
#include "siglog.h"

#define ARCHIVE_MAGIC 0x56414753u         /* "SGAV" */
#define ARCHIVE_TRAILER_MAGIC 0x45414753u /* "SGAE" */
#define ARCHIVE_VERSION 2 /* what is written; 1 (no filters) is read too */
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
    uint64_t filter_bytes;            /* of its key filter (version 1: 0) */
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
    const uint8_t *data;     /* the batches (NULL when read from a file) */
    uint64_t data_pos, data_bytes, index_pos; /* in the file */
    const uint8_t *index;    /* ARCHIVE_INDEX_ENTRY_BYTES per batch */
    unsigned version;
    uint64_t filter_pos, filter_bytes; /* the filters (version 1: none) */
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
    /* Set by a writer: each segment's key hashes are collected and, at its
     * end, its filter appended to filters (what the archive will hold). */
    int build_filters;
    key_set keys;
    bytebuf filters;
    /* Set by sl_archive_scan: the archive's segments (the source's units,
     * or with keep those that keep a record) and its first record's time. */
    uint32_t segments;
    int64_t first_ts;
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

/* How many bytes from the start of a len-byte archive whose header is
 * `header` the trailer's checksum covers: all but the filters and the
 * trailer (an untrusted filter length gives a count the checksum then
 * refuses). */
uint64_t sl_archive_checked_bytes(const uint8_t *header, uint64_t len);

/* The key filter of segment i of archive v whose bytes (seg's
 * filter_bytes of them, at file byte `at`) are `bytes`: 1 and *f when it
 * holds §23's rules and is of that segment (its base and end, summary
 * checksum 0), 0 when the archive has none (version 1), or
 * SIGLOG_ECORRUPT naming path, the byte and the rule: then the reader
 * reads the segment. */
int sl_archive_filter_decode(const archive_segment *seg, uint32_t i, const uint8_t *bytes, uint64_t at,
                             const char *path, keyfilter *f);

/* Where the batches start in an archive of n segments tallied as t. */
uint64_t sl_archive_data_position(const archive_meta *meta, const archive_tally *t, uint32_t n);
/* Append an archive's bytes before its batches (version 2: the table's
 * filter sizes are those of t's filters, which t must have built) (header, name, schema
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

/* The batches of one file, from pos up to end, one at a time. */
typedef struct archive_batch_file {
    const siglog_io *io;
    int fd;
    const char *path; /* for messages */
    uint64_t pos, end;
    uint8_t header[BATCH_HEADER_BYTES];
    bytebuf body; /* the last batch's body */
    int borrowed; /* fd is an open archive_file's: closing bf leaves it open */
} archive_batch_file;

/* The next batch: 1 with *h (decoded and checked) and its body in
 * bf->body (unchecked, unread with header_only), 0 at end, or
 * SIGLOG_ECORRUPT / an I/O error naming the file and byte. */
int sl_archive_batch_next(archive_batch_file *bf, batch_header *h, int header_only);

/* The buffer sl_archive_file_checksum reads through. */
#define ARCHIVE_COPY_BYTES (1u << 20)
/* XXH3-64 of bytes [0, len) of fd followed by the trailer's fixed first 8
 * bytes: what an archive's trailer checksum covers when len is the
 * trailer's position. buf holds ARCHIVE_COPY_BYTES. */
int sl_archive_file_checksum(const siglog_io *io, int fd, const char *path, uint64_t len, uint8_t *buf,
                             uint64_t *sum);

/* How far an export is: done of total units, told to fn (see
 * siglog_archive_export_options). */
typedef struct archive_progress {
    void (*fn)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
    uint64_t done, total;
} archive_progress;

/* Where a source's cold entries are read: each from its archive in
 * cfg's cold_dir (cold.h), named for store_id, stream and partition,
 * opened through backend (not the store's jail: cold_dir lies outside). */
typedef struct archive_cold_dir {
    const siglog_io *backend;
    const siglog_stream_config *cfg;
    uint64_t store_id;
    const char *stream;
    uint32_t partition;
} archive_cold_dir;

/* What an export archives: n entries of a partition's catalog snapshot
 * from `first` (the export: 0; a cold move: one) (sealed: the caller checked), their files in dir, read
 * through io, a cold entry's from its archive through cold. progress
 * (NULL: none) is told of each batch read by sl_archive_scan and by
 * sl_archive_write (its header and body bytes).
 * A forget's rewrite sets keep: the records keep() refuses are left out,
 * the units (the entries, or the n segments of `archive` when set) giving
 * the archive's segments as forget_rebuild.h says (one a unit that keeps
 * a record, an emptied unit's range joining a neighbour). keep() is asked
 * of every record by both passes, in offset order, and must answer alike. */
typedef struct archive_source {
    const siglog_io *io;
    const char *dir;
    const catalog_snapshot *snap;
    size_t first;            /* the entries [first, first + n) */
    size_t n;
    archive_progress *progress;
    const archive_cold_dir *cold; /* NULL: the entries hold no cold one */
    const struct archive_file *archive; /* NULL: the units are snap's entries */
    int (*keep)(void *arg, const siglog_record *r); /* NULL: every record (compact_keep_fn) */
    void *keep_arg;
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

/* A batch reader of src's entry i: its .seg file, which must be exactly as
 * long as the entry says (SIGLOG_ECORRUPT otherwise), or a cold entry's
 * archive in src->cold's cold_dir, checked whole and against the entry
 * (sl_cold_batch_file_open), or segment i of src->archive; *path
 * (malloc'd) names it. Close with sl_archive_source_close, also after a failure. */
int sl_archive_source_open(const archive_source *src, size_t i, archive_batch_file *bf, char **path);
void sl_archive_source_close(archive_batch_file *bf, char *path);

/* Step 1 of a streaming export: read src's segments batch by batch,
 * check each (header, body checksum, every record, the tiling of the
 * catalog's ranges) and tally them into *t; segs[0..n) get the entries'
 * table, t->segments = n. With src->keep, the batches rebuilt without
 * what keep() refuses are tallied and segs[0..t->segments) get their
 * table (t->segments 0, t->records 0: nothing stays). Memory: one batch
 * (with keep: two). 0, SIGLOG_ECORRUPT naming the file and byte, an I/O
 * error, or SIGLOG_ENOMEM; *t is freed on failure. */
int sl_archive_scan(const archive_source *src, archive_segment *segs, archive_tally *t);
/* The rest: write the archive of src (scanned into segs and t; meta
 * supplies store_id, stream, partition and created_us and gets the rest)
 * to `to` by atomic replace, its batches re-encoded one at a time in
 * memory bounded by the largest batch (archive_write.c says how);
 * *file_bytes is its size. A failure before the rename leaves to->path as
 * it was (only the check fails after it). */
int sl_archive_write(const archive_source *src, archive_meta *meta, archive_segment *segs, const archive_tally *t,
                     const archive_target *to, uint64_t *file_bytes);

/* The pieces of sl_archive_decode, which a reader of a file (archive_read.c)
 * puts together reading a piece at a time: the magic and version of the
 * header's first bytes in a len-byte file; the trailer against the
 * checksum of the bytes before it; how many bytes the head (header, name,
 * summary, segment table) takes as the header says, bounded; the head's
 * rules and layout into *v (pointers into head) and segs[0..segment_count);
 * and what the batches held, tallied, against it. Each 0, SIGLOG_ECORRUPT
 * naming the byte and rule, or SIGLOG_EVERSION. */
int sl_archive_prelude_check(const uint8_t *header, uint64_t len);
int sl_archive_trailer_check(const uint8_t *trailer, uint64_t len, uint64_t checksum);
uint64_t sl_archive_head_bytes(const uint8_t *header);
int sl_archive_head_check(const uint8_t *head, size_t head_len, uint64_t len, archive_view *v, archive_segment *segs);
int sl_archive_tally_check(const archive_view *v, const archive_segment *segs, const archive_tally *t);

/* The records of an archive_batch_file's batches in order, each batch's
 * body checked as it is read (a file changed since it was checked fails
 * naming the byte). */
typedef struct archive_records {
    archive_batch_file bf;
    batch_iter it;
    int in_batch;
    bytebuf scratch;
} archive_records;

/* 1 and *rec (valid until the next call), 0 past the last batch, or an
 * error naming the file and byte. */
int sl_archive_records_next(archive_records *r, siglog_record *rec);
void sl_archive_records_free(archive_records *r);

/* An archive file checked whole and read a piece at a time
 * (archive_read.c): the rules of sl_archive_decode, in memory bounded by
 * the largest batch and the head, whatever the file's size. */
typedef struct archive_file {
    const siglog_io *io;
    int fd;
    const char *path; /* the caller's, kept alive while open */
    uint64_t len;
    bytebuf head;      /* header, name, summary, segment table */
    archive_view view; /* its tables point into head; data and index NULL */
    archive_records records;
} archive_file;

/* Open and check path (SIGLOG_ECORRUPT naming the file, byte and rule,
 * SIGLOG_EVERSION, an I/O error, SIGLOG_ENOMEM); on failure nothing is
 * left open. */
int sl_archive_file_open(archive_file *f, const siglog_io *io, const char *path);
/* Its records in offset order: as sl_archive_records_next, the partition
 * set. */
int sl_archive_file_next(archive_file *f, siglog_record *rec);
/* The key filter of segment i (sl_archive_filter_decode), read from the
 * file; SIGLOG_EINVAL when the archive has no segment i. */
int sl_archive_file_filter(const archive_file *f, uint32_t i, keyfilter *kf);
/* Whether a keyfilter excludes every key a reader looks for: 1 when it
 * does. */
typedef int (*archive_filter_test)(void *arg, const keyfilter *f);
/* 1 when the archive at path is of version 2 and each of its segments'
 * filters excludes every key (test), judged from its head and filters
 * alone, *meta (NULL: not wanted) getting what its header says (not
 * checked against the whole-file checksum: the caller compares it with
 * what it expects); 0 otherwise, whatever the reason, and the archive is
 * to be read (archive_filter.c). */
int sl_archive_filters_exclude(const siglog_io *io, const char *path, archive_filter_test test, void *arg,
                               archive_meta *meta);
/* What verify asks of an open archive's filters: 0 when each is usable
 * (or there are none: version 1) and holds the key of every record of its
 * segment; SIGLOG_ECORRUPT naming the file, the filter's byte and the
 * rule or the offset whose key it excludes. */
int sl_archive_file_check_filters(const archive_file *f);
/* A batch reader of archive segment i's batches. */
archive_batch_file sl_archive_file_segment(const archive_file *f, uint32_t i);
void sl_archive_file_close(archive_file *f);

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

/* The file of an open archive (archive_api.c). */
archive_file *sl_archive_file_of(siglog_archive *a);

#endif
