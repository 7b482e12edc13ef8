/*
 * archive_read — an archive file checked whole and then read, a piece at
 * a time: the same rules as sl_archive_decode (archive.c puts the pieces
 * together for a buffer, this file for a file), in memory bounded by the
 * largest batch, the head (header, name, schema summary, segment table:
 * at most about 3 MiB by the format's limits) and a fixed buffer, whatever
 * the file's size.
 *
 * Opening reads the file three times in part: the checksum over all of
 * it, then the head, then every batch, tallied against the tables, and the
 * index beside them. Records are handed out by reading the batches once
 * more; each batch's header and body checksum are checked again as it is
 * read, so a file changed since the open fails with the byte named, never
 * with records short.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "codec.h"
#include "error.h"

/* The index entries, read a chunk at a time, against the batches. */
typedef struct index_reader {
    const archive_file *f;
    uint8_t *buf; /* ARCHIVE_COPY_BYTES */
    uint64_t next;    /* file position of buf's first entry */
    size_t have, at;  /* bytes in buf, and read of them */
} index_reader;

static int index_matches(index_reader *ir, const batch_header *h, uint64_t pos)
{
    if (ir->at == ir->have) {
        uint64_t left = ir->f->view.index_pos + ir->f->view.meta.batch_count * ARCHIVE_INDEX_ENTRY_BYTES - ir->next;
        size_t want = left < ARCHIVE_COPY_BYTES ? (size_t)left : ARCHIVE_COPY_BYTES - ARCHIVE_COPY_BYTES % 24;
        ssize_t got = want ? sl_io_read_full(ir->f->io, ir->f->fd, ir->buf, want, ir->next) : 0;
        if (got < 0)
            return sl_err_errno((int)got, "reading %s at byte %" PRIu64, ir->f->path, ir->next);
        if ((size_t)got != want || want == 0)
            return sl_err_set(SIGLOG_ECORRUPT, "%s: byte %" PRIu64 ": the index ends before the batches",
                              ir->f->path, ir->next);
        ir->have = want;
        ir->at = 0;
        ir->next += want;
    }
    uint8_t entry[ARCHIVE_INDEX_ENTRY_BYTES];
    sl_archive_index_entry(entry, h, pos);
    uint64_t where = ir->next - ir->have + ir->at;
    if (memcmp(entry, ir->buf + ir->at, sizeof entry) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: byte %" PRIu64 ": the index differs from the batches", ir->f->path,
                          where);
    ir->at += sizeof entry;
    return 0;
}

/* Every batch against the segment table, tallied into *t, and the index. */
static int check_batches(archive_file *f, const archive_segment *segs, uint8_t *buf, archive_tally *t)
{
    const archive_view *v = &f->view;
    index_reader ir = { .f = f, .buf = buf, .next = v->index_pos };
    archive_batch_file bf = { .io = f->io, .fd = f->fd, .path = f->path, .pos = v->data_pos };
    bytebuf scratch = { 0 };
    int rc = 0;
    for (uint32_t s = 0; s < v->segment_count && !rc; s++) {
        if (segs[s].bytes > v->data_pos + v->data_bytes - bf.pos) {
            rc = sl_err_set(SIGLOG_ECORRUPT, "%s: segment %u's %" PRIu64 " bytes run past the data", f->path, s,
                            segs[s].bytes);
            break;
        }
        bf.end = bf.pos + segs[s].bytes;
        sl_archive_tally_segment_begin(t, &segs[s]);
        batch_header h;
        for (uint64_t at = bf.pos; !rc && (rc = sl_archive_batch_next(&bf, &h, 0)) == 1; at = bf.pos) {
            if ((rc = sl_archive_tally_batch(t, &h, bf.body.data, &scratch)) != 0)
                rc = rc == SIGLOG_ENOMEM ? rc : sl_err_set(rc, "%s: batch at byte %" PRIu64 ": %s", f->path, at,
                                                           siglog_errdetail());
            else
                rc = index_matches(&ir, &h, at - v->data_pos);
        }
        if (!rc && (rc = sl_archive_tally_segment_end(t, &segs[s], s)) != 0)
            rc = sl_err_set(rc, "%s: %s", f->path, siglog_errdetail());
        if (!rc && s + 1 < v->segment_count && segs[s + 1].base_offset != segs[s].end_offset)
            rc = sl_err_set(SIGLOG_ECORRUPT, "%s: segment %u starts at %" PRIu64 ", not where segment %u ends",
                            f->path, s + 1, segs[s + 1].base_offset, s);
    }
    if (!rc && bf.pos != v->data_pos + v->data_bytes)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: the segments hold %" PRIu64 " of the %" PRIu64 " data bytes", f->path,
                        bf.pos - v->data_pos, v->data_bytes);
    sl_bytebuf_free(&scratch);
    sl_bytebuf_free(&bf.body);
    return rc;
}

/* The checks of the open, in the order of sl_archive_decode. */
static int check_file(archive_file *f, uint8_t *buf)
{
    uint8_t header[ARCHIVE_HEADER_BYTES], trailer[ARCHIVE_TRAILER_BYTES];
    uint64_t sum = 0;
    int rc = f->io->file_size(f->io, f->fd, &f->len);
    if (rc < 0)
        return sl_err_errno(rc, "reading the size of %s", f->path);
    ssize_t got = sl_io_read_full(f->io, f->fd, header, sizeof header, 0);
    if (got < 0)
        return sl_err_errno((int)got, "reading %s", f->path);
    if ((rc = sl_archive_prelude_check(header, (size_t)got == sizeof header ? f->len : 0)) != 0)
        return rc;
    if ((got = sl_io_read_full(f->io, f->fd, trailer, sizeof trailer, f->len - sizeof trailer)) != sizeof trailer)
        return got < 0 ? sl_err_errno((int)got, "reading %s", f->path)
                       : sl_err_set(SIGLOG_ECORRUPT, "%s: cut while read", f->path);
    if ((rc = sl_archive_file_checksum(f->io, f->fd, f->path, sl_archive_checked_bytes(header, f->len), buf,
                                       &sum)) != 0 ||
        (rc = sl_archive_trailer_check(trailer, f->len, sum)) != 0)
        return rc;
    uint64_t head_len = sl_archive_head_bytes(header);
    if (head_len > f->len)
        head_len = ARCHIVE_HEADER_BYTES; /* refused by the layout's rules */
    if (sl_bytebuf_reserve(&f->head, (size_t)head_len) != 0)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if ((got = sl_io_read_full(f->io, f->fd, f->head.data, (size_t)head_len, 0)) != (ssize_t)head_len)
        return got < 0 ? sl_err_errno((int)got, "reading %s", f->path)
                       : sl_err_set(SIGLOG_ECORRUPT, "%s: cut while read", f->path);
    f->head.len = (size_t)head_len;
    uint32_t n = get_le32(header + 20);
    archive_segment *segs = malloc((n && n <= ARCHIVE_SEGMENTS_MAX ? n : 1) * sizeof *segs);
    if (!segs)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    archive_tally t;
    sl_archive_tally_init(&t);
    if ((rc = sl_archive_head_check(f->head.data, f->head.len, f->len, &f->view, segs)) == 0 &&
        (rc = check_batches(f, segs, buf, &t)) == 0)
        rc = sl_archive_tally_check(&f->view, segs, &t);
    sl_archive_tally_free(&t);
    free(segs);
    return rc;
}

int sl_archive_file_open(archive_file *f, const siglog_io *io, const char *path)
{
    *f = (archive_file){ .io = io, .path = path, .fd = -1 };
    uint8_t *buf = malloc(ARCHIVE_COPY_BYTES);
    if (!buf)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    f->fd = io->open_file(io, path, IO_READ, 0);
    int rc = f->fd < 0 ? sl_err_errno(f->fd, "reading archive %s", path) : check_file(f, buf);
    free(buf);
    if (rc) {
        if (!strstr(siglog_errdetail(), path))
            rc = sl_err_set(rc, "%s: %s", path, siglog_errdetail());
        sl_archive_file_close(f);
        return rc;
    }
    f->records.bf = (archive_batch_file){ .io = io, .fd = f->fd, .path = path, .pos = f->view.data_pos,
                                          .end = f->view.data_pos + f->view.data_bytes };
    return 0;
}

int sl_archive_file_next(archive_file *f, siglog_record *rec)
{
    int rc = sl_archive_records_next(&f->records, rec);
    if (rc == 1)
        rec->partition = f->view.meta.partition;
    return rc;
}

int sl_archive_file_filter(const archive_file *f, uint32_t i, keyfilter *kf)
{
    memset(kf, 0, sizeof *kf);
    /* The segment table is read only for the segments the head counts. */
    if (i >= f->view.segment_count)
        return sl_err_set(SIGLOG_EINVAL, "%s: no segment %" PRIu32 " (the archive holds %" PRIu32 ")", f->path, i,
                          f->view.segment_count);
    uint64_t at = f->view.filter_pos;
    for (uint32_t k = 0; k < i; k++)
        at += sl_archive_segment_at(&f->view, k).filter_bytes;
    archive_segment seg = sl_archive_segment_at(&f->view, i);
    if (!seg.filter_bytes)
        return 0;
    uint8_t *bytes = malloc((size_t)seg.filter_bytes); /* at most KEYFILTER_FILE_MAX: the head check */
    if (!bytes)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    ssize_t got = sl_io_read_full(f->io, f->fd, bytes, (size_t)seg.filter_bytes, at);
    int rc = got < 0 ? sl_err_errno((int)got, "reading %s at byte %" PRIu64, f->path, at)
             : (uint64_t)got != seg.filter_bytes
                 ? sl_err_set(SIGLOG_ECORRUPT, "%s: byte %" PRIu64 ": cut while read", f->path, at + (uint64_t)got)
                 : sl_archive_filter_decode(&seg, i, bytes, at, f->path, kf);
    free(bytes);
    return rc;
}

archive_batch_file sl_archive_file_segment(const archive_file *f, uint32_t i)
{
    uint64_t pos = f->view.data_pos;
    for (uint32_t k = 0; k < i; k++)
        pos += sl_archive_segment_at(&f->view, k).bytes;
    return (archive_batch_file){ .io = f->io, .fd = f->fd, .path = f->path, .pos = pos,
                                 .end = pos + sl_archive_segment_at(&f->view, i).bytes };
}

void sl_archive_file_close(archive_file *f)
{
    if (f->fd >= 0)
        f->io->close_file(f->io, f->fd);
    f->fd = -1;
    sl_bytebuf_free(&f->head);
    sl_archive_records_free(&f->records);
}
