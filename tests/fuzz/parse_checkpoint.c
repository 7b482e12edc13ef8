/*
 * parse_checkpoint: feed arbitrary bytes to the partition checkpoint
 * decoder (catalog.ckpt, FORMAT.md section 5), as they are and with their
 * checksum repaired so that mutations reach the field checks. An accepted
 * file must re-encode to the same bytes and hold its fields in order
 * (log start <= active base <= bound). Bytes after the first 48 become a
 * list of segment base offsets, checked against the decoded checkpoint:
 * the verdict must be exactly FORMAT.md's checks 2-4, and the end check
 * must accept exactly the ends at or past the bound. The same bytes go to
 * the version 2 decoder, as they are and with the trailing checksum
 * repaired: an accepted file must re-encode to the same bytes, with its
 * entries in order and the active one last.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "catalog.h"
#include "codec.h"
#include "fuzz_support.h"
#include "siglog.h"

#define TARGET "parse_checkpoint"
#define BASES_MAX 16

static void check_error(int rc)
{
    if (rc != SIGLOG_ECORRUPT && rc != SIGLOG_EVERSION)
        fuzz_fail(TARGET, "returned %d, not ECORRUPT or EVERSION", rc);
    if (siglog_errdetail()[0] == '\0')
        fuzz_fail(TARGET, "error %d without a detail", rc);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* FORMAT.md section 5, checks 2-4, written from the text. */
static int spec_allows(const catalog_checkpoint *c, const uint64_t *bases, size_t n)
{
    if (n == 0)
        return c->next_offset_floor == c->log_start_offset;
    return bases[0] <= c->log_start_offset && bases[n - 1] >= c->active_base;
}

static void check_segments(const catalog_checkpoint *c, const uint8_t *rest, size_t len)
{
    uint64_t bases[BASES_MAX];
    size_t n = 0;
    for (; n < BASES_MAX && (n + 1) * 8 <= len; n++)
        bases[n] = get_le64(rest + n * 8);
    qsort(bases, n, sizeof bases[0], cmp_u64);
    int rc = sl_catalog_check_segments("partition", c, bases, n);
    if (rc)
        check_error(rc);
    if ((rc == 0) != spec_allows(c, bases, n))
        fuzz_fail(TARGET, "segment check %s %zu segments the format %s", rc ? "refused" : "accepted", n,
                  rc ? "allows" : "refuses");
    uint64_t end = n ? bases[n - 1] : 0;
    rc = sl_catalog_check_end("partition", c, end);
    if ((rc == 0) != (end >= c->next_offset_floor))
        fuzz_fail(TARGET, "end check %s an end at %llu with bound %llu", rc ? "refused" : "accepted",
                  (unsigned long long)end, (unsigned long long)c->next_offset_floor);
}

static void round_trip(const uint8_t *data, size_t size, const uint8_t *rest, size_t rest_len)
{
    catalog_checkpoint c;
    int rc = sl_catalog_decode(data, size, &c);
    if (rc) {
        check_error(rc);
        return;
    }
    if (c.log_start_offset > c.active_base || c.active_base > c.next_offset_floor)
        fuzz_fail(TARGET, "accepted a checkpoint with fields out of order");
    uint8_t again[CATALOG_V1_FILE_BYTES];
    sl_catalog_encode(again, &c);
    if (size != CATALOG_V1_FILE_BYTES || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "accepted but re-encodes differently");
    check_segments(&c, rest, rest_len);
}

static void round_trip_v2(const uint8_t *data, size_t size)
{
    int version;
    uint64_t gen;
    catalog_checkpoint b;
    catalog_segment *segs;
    size_t n;
    int rc = sl_catalog_file_decode(data, size, &version, &gen, &b, &segs, &n);
    if (rc) {
        if (rc != SIGLOG_ENOMEM)
            check_error(rc);
        return;
    }
    if (version == CATALOG_VERSION) {
        uint8_t *again;
        size_t len;
        if (sl_catalog_file_encode(gen, &b, segs, n, &again, &len) != 0)
            fuzz_fail(TARGET, "an accepted version 2 file does not encode");
        if (len != size || memcmp(again, data, size) != 0)
            fuzz_fail(TARGET, "version 2: accepted but re-encodes differently");
        free(again);
        for (size_t i = 0; i < n; i++)
            if ((segs[i].state == CATALOG_SEG_ACTIVE) != (i + 1 == n) ||
                (i && segs[i].base_offset < segs[i - 1].end_offset))
                fuzz_fail(TARGET, "version 2: accepted entries out of order");
    }
    free(segs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    round_trip(data, size, NULL, 0);
    round_trip_v2(data, size);
    if (size >= 16) {
        /* A version 2 header with an honest trailing checksum. */
        uint8_t *copy = malloc(size);
        if (copy) {
            memcpy(copy, data, size);
            put_le32(copy, CATALOG_MAGIC);
            put_le16(copy + 4, CATALOG_VERSION);
            if (size >= 48)
                put_le64(copy + size - 8, XXH3_64bits(copy, size - 8));
            round_trip_v2(copy, size);
            free(copy);
        }
    }
    if (size < CATALOG_V1_FILE_BYTES)
        return 0;
    /* The first 48 bytes with an honest checksum, or nearly every
     * mutation would stop there; the rest is a segment list. */
    uint8_t copy[CATALOG_V1_FILE_BYTES];
    memcpy(copy, data, sizeof copy);
    put_le64(copy + 40, XXH3_64bits(copy, 40));
    round_trip(copy, sizeof copy, data + sizeof copy, size - sizeof copy);
    return 0;
}
