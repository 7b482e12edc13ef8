/*
 * parse_archive: arbitrary bytes as an archive file (archive.h), once as
 * they are and once with every batch's checksums and the trailer made
 * honest, so that mutations reach the layout, table and record checks.
 * Oracles: an error is ECORRUPT, EVERSION or ENOMEM with a detail; an
 * accepted archive iterates exactly its record count in strictly
 * increasing offsets within its range, and re-encodes from its own tables
 * and data to exactly its bytes (one encoding per content). The streaming
 * reader of files (sl_archive_file_open) gives the same verdict as the
 * buffer decoder, the same error code, and the same records in order.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "archive.h"
#include "codec.h"
#include "fuzz_support.h"
#include "io.h"

#define TARGET "parse_archive"

/* An archive's bytes less what its key filters add (the header's and the
 * table's filter sizes zeroed, the filters left out) and the trailer's
 * checksum (which covers the version): the filters are not
 * among the archive's rules (a damaged one costs only itself), so only the
 * rest has one encoding. */
static void without_filters(const archive_view *v, const uint8_t *data, size_t size, bytebuf *out)
{
    out->len = 0;
    if (sl_bytebuf_append(out, data, (size_t)v->filter_pos) != 0 ||
        sl_bytebuf_append(out, data + size - ARCHIVE_TRAILER_BYTES, 8) != 0)
        abort();
    memset(out->data + 112, 0, 8);
    for (uint32_t i = 0; i < v->segment_count; i++)
        memset(out->data + v->data_pos - (size_t)(v->segment_count - i) * ARCHIVE_SEGMENT_ENTRY_BYTES + 40, 0, 8);
}

static void check_accepted(const archive_view *v, const uint8_t *data, size_t size)
{
    archive_iter it;
    sl_archive_iter_init(&it, v);
    siglog_record r;
    uint64_t n = 0, last = 0;
    int rc;
    while ((rc = sl_archive_iter_next(&it, &r)) == 1) {
        if (r.offset < v->meta.first_offset || r.offset >= v->meta.next_offset || (n && r.offset <= last))
            fuzz_fail(TARGET, "record %llu at offset %llu out of order or range", (unsigned long long)n,
                      (unsigned long long)r.offset);
        last = r.offset;
        n++;
    }
    sl_archive_iter_free(&it);
    if (rc != 0 || n != v->meta.record_count)
        fuzz_fail(TARGET, "accepted, but iterating gave %d after %llu of %llu records", rc, (unsigned long long)n,
                  (unsigned long long)v->meta.record_count);
    archive_segment *segs = malloc(v->segment_count * sizeof *segs);
    if (!segs)
        abort();
    for (uint32_t i = 0; i < v->segment_count; i++)
        segs[i] = sl_archive_segment_at(v, i);
    archive_meta m = { .store_id = v->meta.store_id, .partition = v->meta.partition,
                       .created_us = v->meta.created_us };
    memcpy(m.stream, v->meta.stream, sizeof m.stream);
    bytebuf again = { 0 };
    if (sl_archive_encode(&m, segs, v->segment_count, v->data, v->data_bytes, &again) != 0)
        fuzz_fail(TARGET, "accepted, but its own segments do not encode: %s", siglog_errdetail());
    /* A version 1 archive re-encodes as version 2: the rest compared. */
    archive_view w;
    if (sl_archive_decode(again.data, again.len, &w) != 0)
        fuzz_fail(TARGET, "re-encoded, it is refused: %s", siglog_errdetail());
    bytebuf x = { 0 }, y = { 0 };
    without_filters(v, data, size, &x);
    without_filters(&w, again.data, again.len, &y);
    if (v->version == 1)
        x.data[4] = 2;
    if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
        fuzz_fail(TARGET, "accepted (%u segments) but re-encodes differently", v->segment_count);
    for (uint32_t i = 0; i < w.segment_count; i++) {
        archive_segment seg = sl_archive_segment_at(&w, i);
        uint64_t at = w.filter_pos;
        for (uint32_t k = 0; k < i; k++)
            at += sl_archive_segment_at(&w, k).filter_bytes;
        keyfilter kf;
        if (sl_archive_filter_decode(&seg, i, again.data + at, at, "again", &kf) != 1)
            fuzz_fail(TARGET, "a filter written is not usable: %s", siglog_errdetail());
        sl_keyfilter_free(&kf);
    }
    sl_bytebuf_free(&x);
    sl_bytebuf_free(&y);
    sl_bytebuf_free(&again);
    free(segs);
}

/* The file reader over the same bytes: the buffer decoder's verdict (rc)
 * and, accepted, its records. */
static void same_from_file(const uint8_t *data, size_t size, int rc, const archive_view *v)
{
    static char *path;
    if (!path)
        path = fuzz_path(fuzz_scratch(), "archive.sgar");
    fuzz_write_file(path, data, size);
    archive_file f;
    int frc = sl_archive_file_open(&f, sl_io_posix(), path);
    if ((frc == 0) != (rc == 0) || (frc != rc && frc != SIGLOG_ENOMEM && rc != SIGLOG_ENOMEM))
        fuzz_fail(TARGET, "the buffer decoder says %d, the file reader %d (%s)", rc, frc, siglog_errdetail());
    if (frc)
        return;
    archive_iter it;
    sl_archive_iter_init(&it, v);
    siglog_record a, b;
    int x, y;
    do {
        x = sl_archive_iter_next(&it, &a);
        y = sl_archive_file_next(&f, &b);
        if (x != y || (x == 1 && (a.offset != b.offset || a.value_len != b.value_len ||
                                  (a.value_len && memcmp(a.value, b.value, a.value_len) != 0))))
            fuzz_fail(TARGET, "the file reader's records differ from the buffer's (%d, %d)", x, y);
    } while (x == 1);
    sl_archive_iter_free(&it);
    sl_archive_file_close(&f);
}

static void round_trip(const uint8_t *data, size_t size)
{
    archive_view v;
    int rc = sl_archive_decode(data, size, &v);
    same_from_file(data, size, rc, &v);
    if (rc) {
        fuzz_check_refusal(TARGET, rc);
        return;
    }
    check_accepted(&v, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    round_trip(data, size);
    if (size < ARCHIVE_HEADER_BYTES + ARCHIVE_TRAILER_BYTES)
        return 0;
    /* The batches where the header says they are, then the trailer. */
    uint8_t *copy = malloc(size);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    uint64_t at = get_le64(copy + 88);
    if (at < size - ARCHIVE_TRAILER_BYTES)
        fuzz_repair_batches(copy + at, size - ARCHIVE_TRAILER_BYTES - at);
    put_le64(copy + size - 8, XXH3_64bits(copy, size - 8));
    round_trip(copy, size);
    free(copy);
    return 0;
}
