/*
 * recover_tail: the input is the active segment of a partition after a
 * crash (a flags byte, then the .seg bytes; its indexes are missing, or
 * built over an earlier prefix of the file). Run the writer's recovery on
 * it: open writable, scan the tail, cut a torn tail, adopt. The prefix it
 * keeps must hold up: a second recovery of the result finds the same
 * prefix and changes nothing, every batch in it decodes whole with offset
 * ranges tiling the offsets from the base and records increasing within
 * them, valid_bytes never exceeds the file, and a read-only open reading
 * batch after batch up to valid_bytes reaches the same next offset and
 * largest timestamp, and counts the same records — when the prefix has no
 * gap: a writer counts an active segment's records from its offsets, as
 * appends are dense (gaps come only from rewrites of sealed segments, so
 * here only from forged bytes, for which the count may be high).
 *
 * Flags: bit 0: trust no index entry (sl_segment_trust_below(0)), as
 * recovery of a stream that never syncs does; bit 1: before recovery,
 * build the indexes over the first (byte 1 / 256) of the file, as a writer
 * would have left them before its last appends; bit 2: repair the
 * batch checksums first, so that mutations reach the checks behind them.
 */
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "fuzz_support.h"
#include "segment.h"
#include "siglog.h"

#define TARGET "recover_tail"
#define FLAG_TRUST_NOTHING 1u
#define FLAG_PREFIX_INDEXES 2u
#define FLAG_REPAIR 4u

static const segment_params params = {
    .segment_bytes_max = 1u << 20,
    .index_interval_bytes = 64, /* dense indexes: small inputs reach them */
    .file_mode = 0600,
};

static char *dir, *seg_path;
static bytebuf body, scratch;

static void check_code(int rc, const char *what)
{
    if (rc >= 0 || rc > SIGLOG_EINVAL || rc < SIGLOG_EPERM || siglog_errdetail()[0] == '\0')
        fuzz_fail(TARGET, "%s failed with %d and detail \"%s\"", what, rc, siglog_errdetail());
}

/* Writer recovery as sl_partition_open does it; 0 and *t, or an error code
 * (damage inside the log is reported by t->damaged, not cut). */
static int recover(int trust_nothing, segment_tail *t)
{
    segment *s = NULL;
    int rc = sl_segment_open(sl_io_posix(), dir, 0, 1, &params, &s);
    if (rc)
        return rc;
    if (trust_nothing)
        sl_segment_trust_below(s, 0);
    rc = sl_segment_scan_tail(s, t);
    if (!rc && t->valid_bytes > t->file_bytes)
        fuzz_fail(TARGET, "valid_bytes %llu beyond the file's %llu", (unsigned long long)t->valid_bytes,
                  (unsigned long long)t->file_bytes);
    if (!rc && !t->damaged && t->valid_bytes < t->file_bytes)
        rc = sl_segment_truncate(s, t->valid_bytes);
    if (!rc && !t->damaged)
        rc = sl_segment_adopt_tail(s, t);
    sl_segment_close(s);
    return rc;
}

/* Read the segment read-only from byte 0 to limit, checking every batch
 * and record; the result as a tail summary. */
static void read_back(uint64_t limit, segment_tail *got)
{
    segment *s = NULL;
    int rc = sl_segment_open(sl_io_posix(), dir, 0, 0, &params, &s);
    if (rc)
        fuzz_fail(TARGET, "read-only open after recovery: %s", siglog_errdetail());
    memset(got, 0, sizeof *got);
    got->max_timestamp_us = INT64_MIN;
    uint64_t pos = 0;
    while (pos < limit) {
        batch_header h;
        rc = sl_segment_read_batch(s, pos, limit, &h, &body);
        if (rc != 1)
            fuzz_fail(TARGET, "batch at byte %llu of the kept prefix (%llu bytes) does not read: %d %s",
                      (unsigned long long)pos, (unsigned long long)limit, rc, siglog_errdetail());
        if (h.base_offset != got->next_offset)
            fuzz_fail(TARGET, "batch at byte %llu has base %llu, expected %llu", (unsigned long long)pos,
                      (unsigned long long)h.base_offset, (unsigned long long)got->next_offset);
        batch_iter it;
        if (sl_batch_iter_init(&it, &h, body.data, &scratch) != 0)
            fuzz_fail(TARGET, "batch at byte %llu does not decompress: %s", (unsigned long long)pos,
                      siglog_errdetail());
        siglog_record r;
        uint32_t n = 0;
        uint64_t least = h.base_offset;
        while ((rc = sl_batch_iter_next(&it, &r)) == 1) {
            if (r.offset < least || r.offset >= batch_end_offset(&h))
                fuzz_fail(TARGET, "record offset %llu, expected %llu..%llu", (unsigned long long)r.offset,
                          (unsigned long long)least, (unsigned long long)batch_end_offset(&h) - 1);
            least = r.offset + 1;
            if (r.timestamp_us > got->max_timestamp_us)
                got->max_timestamp_us = r.timestamp_us;
            n++;
        }
        if (rc != 0 || n != h.record_count)
            fuzz_fail(TARGET, "batch at byte %llu: record %u of %u does not decode: %s", (unsigned long long)pos,
                      n, h.record_count, siglog_errdetail());
        got->next_offset = batch_end_offset(&h);
        got->record_count += n;
        pos += BATCH_HEADER_BYTES + (uint64_t)h.body_len;
    }
    got->valid_bytes = pos;
    sl_segment_close(s);
}

/* counts: compare the record counts too. */
static void same_prefix(const segment_tail *a, const segment_tail *b, int counts, const char *what)
{
    if (a->valid_bytes != b->valid_bytes || a->next_offset != b->next_offset ||
        (counts && a->record_count != b->record_count) || a->max_timestamp_us != b->max_timestamp_us)
        fuzz_fail(TARGET,
                  "%s: %llu bytes, next %llu, %llu records, max ts %lld; recovery said %llu bytes, next %llu, "
                  "%llu records, max ts %lld",
                  what, (unsigned long long)b->valid_bytes, (unsigned long long)b->next_offset,
                  (unsigned long long)b->record_count, (long long)b->max_timestamp_us,
                  (unsigned long long)a->valid_bytes, (unsigned long long)a->next_offset,
                  (unsigned long long)a->record_count, (long long)a->max_timestamp_us);
}

static void check_recovery(unsigned flags, uint8_t prefix_share, const uint8_t *seg, size_t seg_len)
{
    if (flags & FLAG_PREFIX_INDEXES) {
        segment_tail ignored;
        fuzz_write_file(seg_path, seg, seg_len * prefix_share / 256);
        int rc = recover(0, &ignored);
        if (rc)
            check_code(rc, "recovery of the prefix");
    }
    fuzz_write_file(seg_path, seg, seg_len);

    segment_tail first;
    int rc = recover(flags & FLAG_TRUST_NOTHING, &first);
    if (rc) {
        check_code(rc, "recovery");
        return;
    }
    if (first.file_bytes != seg_len)
        fuzz_fail(TARGET, "scan saw %llu bytes of a %zu-byte file", (unsigned long long)first.file_bytes, seg_len);

    /* Recovering what recovery left must find it whole and leave it. */
    segment_tail second;
    rc = recover(0, &second);
    if (rc)
        fuzz_fail(TARGET, "second recovery failed: %d %s", rc, siglog_errdetail());
    segment_tail read;
    read_back(first.valid_bytes, &read);
    int dense = read.record_count == read.next_offset; /* the base is 0 */
    same_prefix(&first, &second, dense, "second recovery");
    if (second.damaged != first.damaged)
        fuzz_fail(TARGET, "second recovery disagrees on damage");
    if (!second.damaged && second.file_bytes != second.valid_bytes)
        fuzz_fail(TARGET, "a torn tail remains after recovery: %llu of %llu bytes",
                  (unsigned long long)second.valid_bytes, (unsigned long long)second.file_bytes);
    same_prefix(&first, &read, dense, "reading the kept prefix");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_segment_paths(&dir, &seg_path);
    size_t seg_len;
    uint8_t *seg = fuzz_segment_bytes(data, size, data[0] & FLAG_REPAIR, &seg_len);
    if (!seg)
        return 0;
    fuzz_empty_dir(dir);
    check_recovery(data[0], data[1], seg, seg_len);
    free(seg);
    return 0;
}
