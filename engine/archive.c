/*
 * archive — the archive file codec; see archive.h and FORMAT.md,
 * "Archive files".
 *
 * Layout, little-endian:
 *   header (128)  name  schema summary  segment table  batches  index  trailer (16)
 * Header: 0 u32 magic "SGAV", 4 u16 version, 6 u16 name length, 8 u64
 * store id, 16 u32 partition, 20 u32 segment count, 24 u64 first offset,
 * 32 u64 next offset, 40 u64 record count, 48 i64 min time, 56 i64 max
 * time, 64 u64 batch count, 72 u32 schema count, 76 u32 zero, 80 i64
 * created, 88 u64 data position, 96 u64 data bytes, 104 u64 index
 * position, 112..127 zero.
 * Schema entry: u32 version, u32 zero, u64 records (versions ascending).
 * Version 2 adds the filters: header 112 u64 their bytes (version 1:
 * zero), segment entry 40 u64 its filter's bytes, and after the index the
 * filters back to back, each a key filter file's bytes (FORMAT.md §23).
 * Segment entry: u64 base, u64 end, u64 records, u64 bytes, i64 max time,
 * u64 filter bytes. Index entry: u64 base offset, u64 position (from the
 * data start), i64 max time. Trailer: u32 "SGAE", u32 zero, u64 XXH3-64
 * of every byte before the filters, then of the trailer's first 8.
 */
#include "archive.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "names.h"

archive_segment sl_archive_segment_at(const archive_view *v, uint32_t i)
{
    const uint8_t *p = v->segments + (size_t)i * ARCHIVE_SEGMENT_ENTRY_BYTES;
    return (archive_segment){ get_le64(p), get_le64(p + 8), get_le64(p + 16), get_le64(p + 24),
                              (int64_t)get_le64(p + 32), get_le64(p + 40) };
}

archive_schema sl_archive_schema_at(const archive_view *v, uint32_t i)
{
    const uint8_t *p = v->schemas + (size_t)i * ARCHIVE_SCHEMA_ENTRY_BYTES;
    return (archive_schema){ get_le32(p), get_le64(p + 8) };
}

/* What the batches hold, found by walking them. */
typedef struct data_stats {
    archive_tally t;
    bytebuf index; /* the index entries, as written */
} data_stats;

void sl_archive_tally_init(archive_tally *t)
{
    *t = (archive_tally){ .min_ts = INT64_MAX, .max_ts = INT64_MIN };
}

void sl_archive_tally_free(archive_tally *t)
{
    free(t->schemas);
    t->schemas = NULL;
    sl_key_set_free(&t->keys);
    sl_bytebuf_free(&t->filters);
}

static void stats_free(data_stats *st)
{
    sl_archive_tally_free(&st->t);
    sl_bytebuf_free(&st->index);
}

static int count_schema(archive_tally *t, uint32_t version)
{
    uint32_t lo = 0, hi = t->schema_count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t->schemas[mid].version < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->schema_count && t->schemas[lo].version == version) {
        t->schemas[lo].records++;
        return 0;
    }
    if (t->schema_count == ARCHIVE_SCHEMAS_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "more than %u schema versions", ARCHIVE_SCHEMAS_MAX);
    archive_schema *grown = realloc(t->schemas, (t->schema_count + 1) * sizeof *grown);
    if (!grown)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    t->schemas = grown;
    memmove(&grown[lo + 1], &grown[lo], (t->schema_count - lo) * sizeof *grown);
    grown[lo] = (archive_schema){ version, 1 };
    t->schema_count++;
    return 0;
}

int sl_archive_tally_batch(archive_tally *t, const batch_header *h, const uint8_t *body, bytebuf *scratch)
{
    if (h->base_offset != t->expect)
        return sl_err_set(SIGLOG_ECORRUPT, "the batch starts at offset %" PRIu64 ", not %" PRIu64, h->base_offset,
                          t->expect);
    batch_iter it;
    int rc = sl_batch_body_check(h, body);
    if (!rc)
        rc = sl_batch_iter_init(&it, h, body, scratch);
    siglog_record r;
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        if (t->records == 0)
            t->first_ts = r.timestamp_us;
        t->records++;
        t->segment_records++;
        if (r.timestamp_us < t->min_ts)
            t->min_ts = r.timestamp_us;
        if (r.timestamp_us > t->max_ts)
            t->max_ts = r.timestamp_us;
        rc = count_schema(t, r.schema_version);
        if (!rc && t->build_filters)
            rc = sl_key_set_add(&t->keys, sl_keyfilter_hash(r.key, r.key_len));
    }
    if (rc)
        return rc;
    t->batches++;
    t->expect = batch_end_offset(h);
    if (h->max_timestamp_us > t->segment_max_ts)
        t->segment_max_ts = h->max_timestamp_us;
    return 0;
}

static void add_to_filter(void *filter, uint64_t h)
{
    sl_keyfilter_add(filter, h);
}

/* The filter of the segment just tallied, from its keys (summary checksum
 * 0: an archive's segment has no .sum), appended to t->filters. */
static int build_filter(archive_tally *t, const archive_segment *seg)
{
    keyfilter f = { 0 };
    keyfilter_binding of = { seg->base_offset, seg->end_offset, 0 };
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = sl_keyfilter_init(&f, sl_keyfilter_blocks_for(t->keys.n), &of);
    if (!rc) {
        sl_key_set_each(&t->keys, add_to_filter, &f);
        rc = sl_keyfilter_encode(&f, &buf, &len);
    }
    if (!rc && sl_bytebuf_append(&t->filters, buf, len) != 0)
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    free(buf);
    sl_keyfilter_free(&f);
    sl_key_set_clear(&t->keys);
    return rc;
}

/* The size of a filter of the given bytes' block count (§23: 56 + 32n). */
static uint64_t filter_size(const uint8_t *filter)
{
    return KEYFILTER_HEADER_BYTES + (uint64_t)get_le32(filter + 8) * KEYFILTER_BLOCK_BYTES + 8;
}

void sl_archive_tally_segment_begin(archive_tally *t, const archive_segment *seg)
{
    t->expect = seg->base_offset;
    t->segment_records = 0;
    t->segment_max_ts = INT64_MIN;
}

int sl_archive_tally_segment_end(archive_tally *t, const archive_segment *seg, uint32_t s)
{
    if (t->expect != seg->end_offset || t->segment_records != seg->record_count ||
        t->segment_max_ts != seg->max_timestamp_us || seg->base_offset == seg->end_offset)
        return sl_err_set(SIGLOG_ECORRUPT, "segment %u [%" PRIu64 ", %" PRIu64 ") does not match its batches "
                          "(they end at %" PRIu64 ", hold %" PRIu64 " records)",
                          s, seg->base_offset, seg->end_offset, t->expect, t->segment_records);
    return t->build_filters ? build_filter(t, seg) : 0;
}

void sl_archive_index_entry(uint8_t entry[ARCHIVE_INDEX_ENTRY_BYTES], const batch_header *h, uint64_t pos)
{
    put_le64(entry, h->base_offset);
    put_le64(entry + 8, pos);
    put_le64(entry + 16, (uint64_t)h->max_timestamp_us);
}

/* Walk segs[0..n)'s batches in data: each valid (header, body checksum,
 * records), tiling its segment's offsets, the segments' byte counts
 * adding up to data_bytes. */
static int scan_data(const archive_segment *segs, uint32_t n, const uint8_t *data, uint64_t data_bytes,
                     int build_filters, data_stats *st)
{
    *st = (data_stats){ 0 };
    sl_archive_tally_init(&st->t);
    st->t.build_filters = build_filters;
    bytebuf scratch = { 0 };
    uint64_t pos = 0;
    int rc = 0;
    for (uint32_t s = 0; s < n && !rc; s++) {
        if (segs[s].bytes > data_bytes - pos) {
            rc = sl_err_set(SIGLOG_ECORRUPT, "archive: segment %u's %" PRIu64 " bytes run past the data", s,
                            segs[s].bytes);
            break;
        }
        uint64_t end = pos + segs[s].bytes;
        sl_archive_tally_segment_begin(&st->t, &segs[s]);
        while (pos < end && !rc) {
            batch_header h;
            if (end - pos < BATCH_HEADER_BYTES || (rc = sl_batch_header_decode(data + pos, &h)) != 0 ||
                h.body_len > end - pos - BATCH_HEADER_BYTES) {
                rc = sl_err_set(SIGLOG_ECORRUPT, "archive: batch at data byte %" PRIu64 " of segment %u: %s", pos,
                                s, rc ? siglog_errdetail() : "cut by the segment's end");
                break;
            }
            if ((rc = sl_archive_tally_batch(&st->t, &h, data + pos + BATCH_HEADER_BYTES, &scratch)) != 0) {
                rc = rc == SIGLOG_ENOMEM ? rc : sl_err_set(SIGLOG_ECORRUPT, "archive: batch at data byte %" PRIu64
                                                           ": %s", pos, siglog_errdetail());
                break;
            }
            uint8_t entry[ARCHIVE_INDEX_ENTRY_BYTES];
            sl_archive_index_entry(entry, &h, pos);
            if (sl_bytebuf_append(&st->index, entry, sizeof entry) != 0) {
                rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
                break;
            }
            pos += BATCH_HEADER_BYTES + h.body_len;
        }
        if (!rc && (rc = sl_archive_tally_segment_end(&st->t, &segs[s], s)) != 0)
            rc = sl_err_set(rc, "archive: %s", siglog_errdetail());
        if (!rc && s + 1 < n && segs[s + 1].base_offset != segs[s].end_offset)
            rc = sl_err_set(SIGLOG_ECORRUPT, "archive: segment %u starts at %" PRIu64 ", not where segment %u ends",
                            s + 1, segs[s + 1].base_offset, s);
    }
    if (!rc && pos != data_bytes)
        rc = sl_err_set(SIGLOG_ECORRUPT, "archive: the segments hold %" PRIu64 " of the %" PRIu64 " data bytes",
                        pos, data_bytes);
    sl_bytebuf_free(&scratch);
    if (rc)
        stats_free(st);
    return rc;
}

uint64_t sl_archive_data_position(const archive_meta *meta, const archive_tally *t, uint32_t n)
{
    return ARCHIVE_HEADER_BYTES + strlen(meta->stream) + (uint64_t)t->schema_count * ARCHIVE_SCHEMA_ENTRY_BYTES +
           (uint64_t)n * ARCHIVE_SEGMENT_ENTRY_BYTES;
}

int sl_archive_head_encode(archive_meta *meta, const archive_tally *t, const archive_segment *segments, uint32_t n,
                           uint64_t data_bytes, bytebuf *out)
{
    meta->first_offset = segments[0].base_offset;
    meta->next_offset = segments[n - 1].end_offset;
    meta->record_count = t->records;
    meta->min_timestamp_us = t->min_ts;
    meta->max_timestamp_us = t->max_ts;
    meta->batch_count = t->batches;
    size_t name_len = strlen(meta->stream);
    uint64_t data_pos = sl_archive_data_position(meta, t, n);
    if (sl_bytebuf_reserve(out, (size_t)data_pos) != 0)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    uint8_t *p = out->data + out->len;
    memset(p, 0, (size_t)data_pos);
    put_le32(p, ARCHIVE_MAGIC);
    put_le16(p + 4, ARCHIVE_VERSION);
    put_le16(p + 6, (uint16_t)name_len);
    put_le64(p + 8, meta->store_id);
    put_le32(p + 16, meta->partition);
    put_le32(p + 20, n);
    put_le64(p + 24, meta->first_offset);
    put_le64(p + 32, meta->next_offset);
    put_le64(p + 40, meta->record_count);
    put_le64(p + 48, (uint64_t)meta->min_timestamp_us);
    put_le64(p + 56, (uint64_t)meta->max_timestamp_us);
    put_le64(p + 64, meta->batch_count);
    put_le32(p + 72, t->schema_count);
    put_le64(p + 80, (uint64_t)meta->created_us);
    put_le64(p + 88, data_pos);
    put_le64(p + 96, data_bytes);
    put_le64(p + 104, data_pos + data_bytes);
    put_le64(p + 112, t->filters.len);
    uint8_t *q = p + ARCHIVE_HEADER_BYTES;
    memcpy(q, meta->stream, name_len);
    q += name_len;
    for (uint32_t i = 0; i < t->schema_count; i++, q += ARCHIVE_SCHEMA_ENTRY_BYTES) {
        put_le32(q, t->schemas[i].version);
        put_le64(q + 8, t->schemas[i].records);
    }
    size_t filter_at = 0;
    for (uint32_t i = 0; i < n; i++, q += ARCHIVE_SEGMENT_ENTRY_BYTES) {
        uint64_t filter = filter_at < t->filters.len ? filter_size(t->filters.data + filter_at) : 0;
        filter_at += (size_t)filter;
        put_le64(q + 40, filter);
        put_le64(q, segments[i].base_offset);
        put_le64(q + 8, segments[i].end_offset);
        put_le64(q + 16, segments[i].record_count);
        put_le64(q + 24, segments[i].bytes);
        put_le64(q + 32, (uint64_t)segments[i].max_timestamp_us);
    }
    out->len += (size_t)data_pos;
    return 0;
}

void sl_archive_trailer_encode(uint8_t trailer[ARCHIVE_TRAILER_BYTES], uint64_t checksum)
{
    put_le32(trailer, ARCHIVE_TRAILER_MAGIC);
    put_le32(trailer + 4, 0);
    put_le64(trailer + 8, checksum);
}

int sl_archive_encode(archive_meta *meta, const archive_segment *segments, uint32_t n, const uint8_t *data,
                      uint64_t data_bytes, bytebuf *out)
{
    if (n == 0 || n > ARCHIVE_SEGMENTS_MAX)
        return sl_err_set(SIGLOG_EINVAL, "archive: %u segments, must be 1..%u", n, ARCHIVE_SEGMENTS_MAX);
    data_stats st;
    int rc = scan_data(segments, n, data, data_bytes, 1, &st);
    if (rc)
        return rc;
    uint64_t total = sl_archive_data_position(meta, &st.t, n) + data_bytes + st.index.len + st.t.filters.len +
                     ARCHIVE_TRAILER_BYTES;
    out->len = 0;
    if (total > SIZE_MAX || sl_bytebuf_reserve(out, (size_t)total) != 0)
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory for an archive of %" PRIu64 " bytes", total);
    if (!rc)
        rc = sl_archive_head_encode(meta, &st.t, segments, n, data_bytes, out);
    if (!rc) {
        memcpy(out->data + out->len, data, (size_t)data_bytes);
        out->len += (size_t)data_bytes;
        memcpy(out->data + out->len, st.index.data, st.index.len);
        out->len += st.index.len;
        size_t checked = out->len;
        memcpy(out->data + out->len, st.t.filters.data, st.t.filters.len);
        out->len += st.t.filters.len;
        /* The checksum covers the trailer's first 8 bytes too, not the
         * filters. */
        uint8_t trailer[ARCHIVE_TRAILER_BYTES];
        sl_archive_trailer_encode(trailer, 0);
        XXH3_state_t *xs = XXH3_createState();
        if (!xs)
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        else {
            XXH3_64bits_reset(xs);
            XXH3_64bits_update(xs, out->data, checked);
            XXH3_64bits_update(xs, trailer, 8);
            sl_archive_trailer_encode(out->data + out->len, XXH3_64bits_digest(xs));
            XXH3_freeState(xs);
            out->len += ARCHIVE_TRAILER_BYTES;
        }
    }
    stats_free(&st);
    return rc;
}

int sl_archive_prelude_check(const uint8_t *header, uint64_t len)
{
    if (len < ARCHIVE_HEADER_BYTES + ARCHIVE_TRAILER_BYTES || get_le32(header) != ARCHIVE_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not an archive file (bad magic or %" PRIu64 " bytes)", len);
    if (get_le16(header + 4) != 1 && get_le16(header + 4) != ARCHIVE_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "archive version %u, this build reads 1 and %d", get_le16(header + 4),
                          ARCHIVE_VERSION);
    return 0;
}

/* Version 1 has no filters (its bytes 112.. are zero, a rule checked
 * once the checksum holds). */
static uint64_t filter_section_bytes(const uint8_t *header)
{
    return get_le16(header + 4) >= 2 ? get_le64(header + 112) : 0;
}

uint64_t sl_archive_checked_bytes(const uint8_t *header, uint64_t len)
{
    uint64_t filters = filter_section_bytes(header);
    uint64_t body = len - ARCHIVE_TRAILER_BYTES; /* the prelude check saw len >= 144 */
    return filters <= body - ARCHIVE_HEADER_BYTES ? body - filters : body;
}

int sl_archive_trailer_check(const uint8_t *trailer, uint64_t len, uint64_t checksum)
{
    if (get_le32(trailer) != ARCHIVE_TRAILER_MAGIC || get_le32(trailer + 4) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: byte %" PRIu64 ": no trailer (the file is cut or damaged)",
                          len - ARCHIVE_TRAILER_BYTES);
    if (get_le64(trailer + 8) != checksum)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: byte %" PRIu64 ": checksum mismatch (the file is damaged)",
                          len - 8);
    return 0;
}

uint64_t sl_archive_head_bytes(const uint8_t *header)
{
    uint64_t name_len = get_le16(header + 6), schemas = get_le32(header + 72), segments = get_le32(header + 20);
    if (name_len > SIGLOG_NAME_MAX || schemas > ARCHIVE_SCHEMAS_MAX || segments > ARCHIVE_SEGMENTS_MAX)
        return ARCHIVE_HEADER_BYTES; /* the header alone: refused by its rules */
    return ARCHIVE_HEADER_BYTES + name_len + schemas * ARCHIVE_SCHEMA_ENTRY_BYTES +
           segments * ARCHIVE_SEGMENT_ENTRY_BYTES;
}

/* The header's own rules and the layout it gives, before the contents:
 * buf holds head_len bytes of the len-byte file. */
static int decode_layout(const uint8_t *buf, size_t head_len, uint64_t len, archive_view *v)
{
    archive_meta *m = &v->meta;
    size_t name_len = get_le16(buf + 6);
    v->segment_count = get_le32(buf + 20);
    v->schema_count = get_le32(buf + 72);
    m->batch_count = get_le64(buf + 64);
    uint64_t data_pos = get_le64(buf + 88), index_pos = get_le64(buf + 104);
    v->data_bytes = get_le64(buf + 96);
    v->version = get_le16(buf + 4);
    v->filter_bytes = filter_section_bytes(buf);
    if (name_len == 0 || name_len > SIGLOG_NAME_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: byte 6: stream name length %zu, must be 1..%d", name_len,
                          SIGLOG_NAME_MAX);
    if (get_le32(buf + 76) || !bytes_all_zero(buf + (v->version >= 2 ? 120 : 112), v->version >= 2 ? 8 : 16))
        return sl_err_set(SIGLOG_ECORRUPT, "archive: reserved header bytes are not zero");
    if (v->segment_count == 0 || v->segment_count > ARCHIVE_SEGMENTS_MAX || v->schema_count > ARCHIVE_SCHEMAS_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: %u segments and %u schema versions, must be 1..%u and "
                          "0..%u", v->segment_count, v->schema_count, ARCHIVE_SEGMENTS_MAX, ARCHIVE_SCHEMAS_MAX);
    uint64_t want_data = ARCHIVE_HEADER_BYTES + name_len + (uint64_t)v->schema_count * ARCHIVE_SCHEMA_ENTRY_BYTES +
                         (uint64_t)v->segment_count * ARCHIVE_SEGMENT_ENTRY_BYTES;
    uint64_t body = sl_archive_checked_bytes(buf, len);
    if (body + v->filter_bytes + ARCHIVE_TRAILER_BYTES != len)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: byte 112: %" PRIu64 " bytes of filters in a %" PRIu64
                          "-byte file", v->filter_bytes, len);
    if (data_pos != want_data || data_pos > body || v->data_bytes > body - data_pos ||
        index_pos != data_pos + v->data_bytes || m->batch_count > (body - index_pos) / ARCHIVE_INDEX_ENTRY_BYTES ||
        index_pos + m->batch_count * ARCHIVE_INDEX_ENTRY_BYTES != body || data_pos > head_len)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: byte 88: the data (%" PRIu64 " bytes at %" PRIu64 ") and "
                          "index (%" PRIu64 " entries at %" PRIu64 ") do not tile the %" PRIu64 "-byte file",
                          v->data_bytes, data_pos, m->batch_count, index_pos, len);
    memcpy(m->stream, buf + ARCHIVE_HEADER_BYTES, name_len);
    m->stream[name_len] = '\0';
    if (strlen(m->stream) != name_len || sl_name_validate_stream(m->stream) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: byte %d: an invalid stream name", ARCHIVE_HEADER_BYTES);
    v->schemas = buf + ARCHIVE_HEADER_BYTES + name_len;
    v->segments = v->schemas + (size_t)v->schema_count * ARCHIVE_SCHEMA_ENTRY_BYTES;
    v->data_pos = data_pos;
    v->index_pos = index_pos;
    v->filter_pos = body;
    m->store_id = get_le64(buf + 8);
    m->partition = get_le32(buf + 16);
    m->first_offset = get_le64(buf + 24);
    m->next_offset = get_le64(buf + 32);
    m->record_count = get_le64(buf + 40);
    m->min_timestamp_us = (int64_t)get_le64(buf + 48);
    m->max_timestamp_us = (int64_t)get_le64(buf + 56);
    m->created_us = (int64_t)get_le64(buf + 80);
    if (m->partition >= SIGLOG_PARTITIONS_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: byte 16: partition %u", m->partition);
    return 0;
}

/* The tables' own rules; segs[i] get the segment entries. */
static int check_tables(const archive_view *v, archive_segment *segs)
{
    uint64_t filters = 0;
    for (uint32_t i = 0; i < v->segment_count; i++) {
        segs[i] = sl_archive_segment_at(v, i);
        uint64_t fb = segs[i].filter_bytes, blocks = (fb - KEYFILTER_HEADER_BYTES - 8) / KEYFILTER_BLOCK_BYTES;
        if (v->version < 2 ? fb != 0
                           : fb < KEYFILTER_HEADER_BYTES + KEYFILTER_BLOCK_BYTES + 8 || fb > KEYFILTER_FILE_MAX ||
                                 (fb - KEYFILTER_HEADER_BYTES - 8) % KEYFILTER_BLOCK_BYTES || blocks == 0)
            return sl_err_set(SIGLOG_ECORRUPT, "archive: byte %" PRIu64 ": segment entry %u: %s",
                              v->data_pos - (uint64_t)(v->segment_count - i) * ARCHIVE_SEGMENT_ENTRY_BYTES + 40, i,
                              v->version < 2 ? "reserved bytes are not zero" : "not the size of a key filter");
        filters += fb;
    }
    if (filters != v->filter_bytes)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: byte 112: %" PRIu64 " bytes of filters, the segments' add up "
                          "to %" PRIu64, v->filter_bytes, filters);
    for (uint32_t i = 0; i < v->schema_count; i++) {
        const uint8_t *p = v->schemas + (size_t)i * ARCHIVE_SCHEMA_ENTRY_BYTES;
        if (get_le32(p + 4) || (i && get_le32(p) <= get_le32(p - ARCHIVE_SCHEMA_ENTRY_BYTES)))
            return sl_err_set(SIGLOG_ECORRUPT, "archive: schema entry %u: reserved bytes set or versions not "
                              "ascending", i);
    }
    return 0;
}

int sl_archive_head_check(const uint8_t *head, size_t head_len, uint64_t len, archive_view *v, archive_segment *segs)
{
    int rc = decode_layout(head, head_len, len, v);
    return rc ? rc : check_tables(v, segs);
}

int sl_archive_tally_check(const archive_view *v, const archive_segment *segs, const archive_tally *t)
{
    const archive_meta *m = &v->meta;
    if (m->first_offset != segs[0].base_offset || m->next_offset != segs[v->segment_count - 1].end_offset ||
        m->record_count != t->records || m->min_timestamp_us != t->min_ts || m->max_timestamp_us != t->max_ts ||
        m->batch_count != t->batches)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: the header's range, counts or times differ from what the "
                          "batches hold ([%" PRIu64 ", %" PRIu64 "), %" PRIu64 " records in %" PRIu64 " batches)",
                          segs[0].base_offset, segs[v->segment_count - 1].end_offset, t->records, t->batches);
    if (t->schema_count != v->schema_count)
        return sl_err_set(SIGLOG_ECORRUPT, "archive: the summary names %u schema versions, the records %u",
                          v->schema_count, t->schema_count);
    for (uint32_t i = 0; i < t->schema_count; i++) {
        archive_schema s = sl_archive_schema_at(v, i);
        if (s.version != t->schemas[i].version || s.records != t->schemas[i].records)
            return sl_err_set(SIGLOG_ECORRUPT, "archive: schema entry %u (version %u, %" PRIu64 " records) differs "
                              "from the records", i, s.version, s.records);
    }
    return 0;
}

/* The batches against the tables and header. */
static int check_contents(archive_view *v, const archive_segment *segs)
{
    data_stats st;
    int rc = scan_data(segs, v->segment_count, v->data, v->data_bytes, 0, &st);
    if (rc)
        return rc;
    rc = sl_archive_tally_check(v, segs, &st.t);
    if (!rc && memcmp(v->index, st.index.data, st.index.len) != 0)
        rc = sl_err_set(SIGLOG_ECORRUPT, "archive: the index differs from the batches");
    stats_free(&st);
    return rc;
}

int sl_archive_decode(const uint8_t *buf, size_t len, archive_view *v)
{
    memset(v, 0, sizeof *v);
    int rc = sl_archive_prelude_check(buf, len);
    if (rc)
        return rc;
    XXH3_state_t *xs = XXH3_createState();
    if (!xs)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    XXH3_64bits_reset(xs);
    XXH3_64bits_update(xs, buf, (size_t)sl_archive_checked_bytes(buf, len));
    XXH3_64bits_update(xs, buf + len - ARCHIVE_TRAILER_BYTES, 8);
    uint64_t sum = XXH3_64bits_digest(xs);
    XXH3_freeState(xs);
    if ((rc = sl_archive_trailer_check(buf + len - ARCHIVE_TRAILER_BYTES, len, sum)) != 0)
        return rc;
    v->buf = buf;
    v->len = len;
    uint32_t claimed = get_le32(buf + 20); /* the head check refuses more than the maximum */
    archive_segment *segs = malloc((claimed && claimed <= ARCHIVE_SEGMENTS_MAX ? claimed : 1) * sizeof *segs);
    if (!segs)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if ((rc = sl_archive_head_check(buf, len, len, v, segs)) == 0) {
        v->data = buf + v->data_pos;
        v->index = buf + v->index_pos;
        rc = check_contents(v, segs);
    }
    free(segs);
    return rc;
}

int sl_archive_filter_decode(const archive_segment *seg, uint32_t i, const uint8_t *bytes, uint64_t at,
                             const char *path, keyfilter *f)
{
    memset(f, 0, sizeof *f);
    if (!seg->filter_bytes)
        return 0;
    int rc = sl_keyfilter_decode(bytes, (size_t)seg->filter_bytes, f);
    keyfilter_binding of = f->of;
    if (!rc && (of.base_offset != seg->base_offset || of.end_offset != seg->end_offset || of.summary_checksum)) {
        sl_keyfilter_free(f);
        rc = sl_err_set(SIGLOG_ECORRUPT, "bound to offsets %" PRIu64 "..%" PRIu64 ", not the segment's",
                        of.base_offset, of.end_offset);
    }
    if (rc)
        return sl_err_set(rc == SIGLOG_ENOMEM ? rc : SIGLOG_ECORRUPT, "%s: byte %" PRIu64 ": the key filter of "
                          "segment %u [%" PRIu64 ", %" PRIu64 "): %s", path, at, i, seg->base_offset,
                          seg->end_offset, siglog_errdetail());
    return 1;
}

void sl_archive_iter_init(archive_iter *ai, const archive_view *v)
{
    memset(ai, 0, sizeof *ai);
    ai->v = v;
}

int sl_archive_iter_next(archive_iter *ai, siglog_record *rec)
{
    for (;;) {
        if (ai->in_batch) {
            int rc = sl_batch_iter_next(&ai->it, rec);
            if (rc != 0) {
                rec->partition = ai->v->meta.partition;
                return rc;
            }
            ai->in_batch = 0;
        }
        if (ai->pos >= ai->v->data_bytes)
            return 0;
        /* Checked by sl_archive_decode: every header and body is valid. */
        batch_header h;
        int rc = sl_batch_header_decode(ai->v->data + ai->pos, &h);
        if (!rc)
            rc = sl_batch_iter_init(&ai->it, &h, ai->v->data + ai->pos + BATCH_HEADER_BYTES, &ai->scratch);
        if (rc)
            return rc;
        ai->pos += BATCH_HEADER_BYTES + h.body_len;
        ai->in_batch = 1;
    }
}

void sl_archive_iter_free(archive_iter *ai)
{
    sl_bytebuf_free(&ai->scratch);
}
