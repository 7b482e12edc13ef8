/*
 * catalog_file — the bytes of catalog.ckpt, versions 1 and 2
 * (format-spec/FORMAT.md, "Partition checkpoint"). Pure codec: no I/O.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "catalog.h"
#include "codec.h"
#include "error.h"

/* Version 1, 48 bytes: 0 u32 magic, 4 u16 version, 6 u16 reserved, 8 u64
 * log start offset, 16 u64 active base, 24 u64 next offset floor, 32 u64
 * reserved, 40 u64 XXH3-64 of bytes 0..39. */
#define V1_CHECKSUM_AT 40

/* Version 2: a 40-byte header (0 u32 magic, 4 u16 version, 6 u16
 * reserved, 8 u64 generation, 16 u64 log start offset, 24 u64 next offset
 * floor, 32 u32 segment count, 36 u32 reserved), the entries back to back,
 * then u64 XXH3-64 of everything before it. An entry: 64 fixed bytes
 * (below), its location, its schema versions as u32 each. */
#define V2_HEADER 40
#define V2_CHECKSUM 8
enum {
    E_BASE = 0,
    E_END = 8,
    E_RECORDS = 16,
    E_FIRST_TS = 24,
    E_MAX_TS = 32,
    E_BYTES = 40,
    E_SUMMARY = 48,
    E_TIER = 56,
    E_STATE = 57,
    E_SCHEMAS = 58,
    E_LOCATION_LEN = 60,
    E_RESERVED = 61, /* 3 bytes */
    E_FIXED = 64,
};

void sl_catalog_encode(uint8_t buf[CATALOG_V1_FILE_BYTES], const catalog_checkpoint *c)
{
    memset(buf, 0, CATALOG_V1_FILE_BYTES);
    put_le32(buf, CATALOG_MAGIC);
    put_le16(buf + 4, 1);
    put_le64(buf + 8, c->log_start_offset);
    put_le64(buf + 16, c->active_base);
    put_le64(buf + 24, c->next_offset_floor);
    put_le64(buf + V1_CHECKSUM_AT, XXH3_64bits(buf, V1_CHECKSUM_AT));
}

int sl_catalog_decode(const uint8_t *buf, size_t len, catalog_checkpoint *c)
{
    if (len != CATALOG_V1_FILE_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint is %zu bytes, expected %d", len, CATALOG_V1_FILE_BYTES);
    if (get_le32(buf) != CATALOG_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not a partition checkpoint (bad magic)");
    if (get_le64(buf + V1_CHECKSUM_AT) != XXH3_64bits(buf, V1_CHECKSUM_AT))
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint checksum mismatch");
    if (get_le16(buf + 4) != 1)
        return sl_err_set(SIGLOG_EVERSION, "partition checkpoint version %u, expected 1", get_le16(buf + 4));
    if (get_le16(buf + 6) != 0 || get_le64(buf + 32) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: reserved bytes are not zero");
    catalog_checkpoint d = {get_le64(buf + 8), get_le64(buf + 16), get_le64(buf + 24)};
    if (d.log_start_offset > d.active_base || d.active_base > d.next_offset_floor)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "partition checkpoint: log start %" PRIu64 ", active base %" PRIu64 " and next offset "
                       "bound %" PRIu64 " are out of order",
                       d.log_start_offset, d.active_base, d.next_offset_floor);
    *c = d;
    return 0;
}

uint64_t sl_catalog_file_generation(const uint8_t *head, size_t len)
{
    if (len < CATALOG_GENERATION_PEEK_BYTES || get_le32(head) != CATALOG_MAGIC || get_le16(head + 4) != CATALOG_VERSION)
        return 0;
    return get_le64(head + 8);
}

int sl_catalog_location_valid(const char *loc, uint64_t base_offset)
{
    char stem[SEGMENT_STEM_MAX + 1];
    sl_segment_stem(stem, base_offset);
    size_t len = strlen(loc);
    if (len > CATALOG_LOCATION_MAX || strncmp(loc, stem, SEGMENT_NAME_DIGITS) != 0)
        return 0;
    if (len == SEGMENT_NAME_DIGITS)
        return 1;
    if (loc[SEGMENT_NAME_DIGITS] != '.' || len == SEGMENT_NAME_DIGITS + 1)
        return 0;
    for (size_t i = SEGMENT_NAME_DIGITS + 1; i < len; i++)
        if (!((loc[i] >= 'a' && loc[i] <= 'z') || (loc[i] >= '0' && loc[i] <= '9')))
            return 0;
    return 1;
}

static size_t entry_bytes(const catalog_segment *e)
{
    return E_FIXED + strlen(e->location) + 4u * e->schema_count;
}

int sl_catalog_file_encode(uint64_t generation, const catalog_checkpoint *b, const catalog_segment *segs, size_t n,
                        uint8_t **out, size_t *len)
{
    size_t total = V2_HEADER + V2_CHECKSUM;
    for (size_t i = 0; i < n; i++)
        total += entry_bytes(&segs[i]);
    uint8_t *buf = calloc(1, total);
    if (!buf)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    put_le32(buf, CATALOG_MAGIC);
    put_le16(buf + 4, CATALOG_VERSION);
    put_le64(buf + 8, generation);
    put_le64(buf + 16, b->log_start_offset);
    put_le64(buf + 24, b->next_offset_floor);
    put_le32(buf + 32, (uint32_t)n);
    uint8_t *p = buf + V2_HEADER;
    for (size_t i = 0; i < n; i++) {
        const catalog_segment *e = &segs[i];
        size_t loc = strlen(e->location);
        put_le64(p + E_BASE, e->base_offset);
        put_le64(p + E_END, e->end_offset);
        put_le64(p + E_RECORDS, e->record_count);
        put_le64(p + E_FIRST_TS, (uint64_t)e->first_timestamp_us);
        put_le64(p + E_MAX_TS, (uint64_t)e->max_timestamp_us);
        put_le64(p + E_BYTES, e->bytes);
        put_le64(p + E_SUMMARY, e->summary_checksum);
        p[E_TIER] = e->tier;
        p[E_STATE] = e->state;
        put_le16(p + E_SCHEMAS, e->schema_count);
        p[E_LOCATION_LEN] = (uint8_t)loc;
        memcpy(p + E_FIXED, e->location, loc);
        p += E_FIXED + loc;
        for (uint16_t k = 0; k < e->schema_count; k++, p += 4)
            put_le32(p, e->schema_versions[k]);
    }
    put_le64(p, XXH3_64bits(buf, (size_t)(p - buf)));
    *out = buf;
    *len = total;
    return 0;
}

/* One entry at *p (before end), checked alone. */
static int decode_entry(const uint8_t **pp, const uint8_t *end, size_t i, catalog_segment *e)
{
    const uint8_t *p = *pp;
    if ((size_t)(end - p) < E_FIXED)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: entry %zu is cut short", i);
    memset(e, 0, sizeof *e);
    e->base_offset = get_le64(p + E_BASE);
    e->end_offset = get_le64(p + E_END);
    e->record_count = get_le64(p + E_RECORDS);
    e->first_timestamp_us = (int64_t)get_le64(p + E_FIRST_TS);
    e->max_timestamp_us = (int64_t)get_le64(p + E_MAX_TS);
    e->bytes = get_le64(p + E_BYTES);
    e->summary_checksum = get_le64(p + E_SUMMARY);
    e->tier = p[E_TIER];
    e->state = p[E_STATE];
    e->schema_count = get_le16(p + E_SCHEMAS);
    size_t loc = p[E_LOCATION_LEN];
    if (p[E_RESERVED] || p[E_RESERVED + 1] || p[E_RESERVED + 2])
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: entry %zu: reserved bytes are not zero", i);
    if (e->tier > CATALOG_TIER_ARCHIVE || e->state > CATALOG_SEG_REPLACING)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: entry %zu: tier %u or state %u unknown", i, e->tier,
                       e->state);
    if (e->end_offset < e->base_offset || e->record_count > e->end_offset - e->base_offset)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "partition checkpoint: entry %zu: base %" PRIu64 ", end %" PRIu64 " and %" PRIu64
                       " records do not fit",
                       i, e->base_offset, e->end_offset, e->record_count);
    if (e->schema_count > CATALOG_SCHEMA_VERSIONS_MAX || loc > CATALOG_LOCATION_MAX ||
        (size_t)(end - p) < E_FIXED + loc + 4u * e->schema_count)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: entry %zu is cut short or too long", i);
    memcpy(e->location, p + E_FIXED, loc);
    e->location[loc] = '\0';
    if (memchr(p + E_FIXED, 0, loc) || !sl_catalog_location_valid(e->location, e->base_offset))
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: entry %zu: location is not a segment name of offset %" PRIu64,
                       i, e->base_offset);
    p += E_FIXED + loc;
    for (uint16_t k = 0; k < e->schema_count; k++, p += 4) {
        e->schema_versions[k] = get_le32(p);
        if (k && e->schema_versions[k] <= e->schema_versions[k - 1])
            return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: entry %zu: schema versions out of order", i);
    }
    *pp = p;
    return 0;
}

/* The entries against each other and the bounds. */
static int check_entries(const catalog_checkpoint *b, const catalog_segment *s, size_t n)
{
    if (n == 0)
        return b->next_offset_floor == b->log_start_offset
                   ? 0
                   : sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: no segment, but offsets %" PRIu64 "..%" PRIu64
                                              " were written", b->log_start_offset, b->next_offset_floor - 1);
    if (s[0].base_offset != b->log_start_offset)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: the log starts at %" PRIu64 ", its first segment at %" PRIu64,
                       b->log_start_offset, s[0].base_offset);
    for (size_t i = 0; i < n; i++) {
        if ((s[i].state == CATALOG_SEG_ACTIVE) != (i + 1 == n))
            return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: entry %zu: only the last segment is active", i);
        if (i && (s[i].base_offset <= s[i - 1].base_offset || s[i].base_offset < s[i - 1].end_offset))
            return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: entry %zu overlaps the one before", i);
    }
    if (b->next_offset_floor < s[n - 1].base_offset)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: next offset floor %" PRIu64 " below the active base %" PRIu64,
                       b->next_offset_floor, s[n - 1].base_offset);
    return 0;
}

int sl_catalog_file_decode(const uint8_t *buf, size_t len, int *version, uint64_t *generation, catalog_checkpoint *b,
                        catalog_segment **segs, size_t *n)
{
    *segs = NULL;
    *n = 0;
    if (len >= 6 && get_le32(buf) == CATALOG_MAGIC && get_le16(buf + 4) == 1) {
        *version = 1;
        *generation = 0;
        return sl_catalog_decode(buf, len, b);
    }
    if (len < V2_HEADER + V2_CHECKSUM)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint is %zu bytes, too short", len);
    if (get_le32(buf) != CATALOG_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not a partition checkpoint (bad magic)");
    if (get_le64(buf + len - V2_CHECKSUM) != XXH3_64bits(buf, len - V2_CHECKSUM))
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint checksum mismatch");
    if (get_le16(buf + 4) != CATALOG_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "partition checkpoint version %u, this build reads 1 and %d",
                       get_le16(buf + 4), CATALOG_VERSION);
    if (get_le16(buf + 6) != 0 || get_le32(buf + 36) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: reserved bytes are not zero");
    uint32_t count = get_le32(buf + 32);
    /* Every entry takes at least E_FIXED bytes: bound the count first. */
    if (count > CATALOG_SEGMENTS_MAX || count > (len - V2_HEADER - V2_CHECKSUM) / E_FIXED)
        return sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: %u segments cannot fit in %zu bytes", count, len);
    catalog_checkpoint d = {.log_start_offset = get_le64(buf + 16), .next_offset_floor = get_le64(buf + 24)};
    catalog_segment *s = count ? calloc(count, sizeof *s) : NULL;
    if (count && !s)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    const uint8_t *p = buf + V2_HEADER, *end = buf + len - V2_CHECKSUM;
    int rc = 0;
    for (uint32_t i = 0; i < count && !rc; i++)
        rc = decode_entry(&p, end, i, &s[i]);
    if (!rc && p != end)
        rc = sl_err_set(SIGLOG_ECORRUPT, "partition checkpoint: %zu bytes after the last entry", (size_t)(end - p));
    if (!rc)
        rc = check_entries(&d, s, count);
    if (rc) {
        free(s);
        return rc;
    }
    d.active_base = count ? s[count - 1].base_offset : d.log_start_offset;
    *version = CATALOG_VERSION;
    *generation = get_le64(buf + 8);
    *b = d;
    *segs = s;
    *n = count;
    return 0;
}
