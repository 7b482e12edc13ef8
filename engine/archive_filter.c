/*
 * archive_filter — whether an archive can be passed over for some keys
 * from its key filters alone (FORMAT.md §24, version 2), without reading
 * it whole: what a forget does before it reads a cold entry's or an
 * exported archive.
 *
 * Only the head (header, name, summary, segment table: its layout rules
 * checked, the whole-file checksum not) and the filters are read. That is
 * enough for the one answer given, "no record of these keys": each filter
 * was built from its segment's records when the archive was written and
 * is checked against its own checksum and bound to its segment's offsets
 * here. Anything else (version 1, a head that breaks a rule, a filter not
 * usable, a read that fails) answers "read it", so a filter costs reads,
 * never an answer.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "codec.h"
#include "error.h"

/* The head of an open archive into f (as sl_archive_file_open leaves it,
 * without the checks of the batches): 0 when it is version 2 and its
 * layout holds. */
static int read_head(archive_file *f, archive_segment **segs)
{
    uint8_t header[ARCHIVE_HEADER_BYTES];
    int rc = f->io->file_size(f->io, f->fd, &f->len);
    if (rc < 0 || sl_io_read_full(f->io, f->fd, header, sizeof header, 0) != (ssize_t)sizeof header)
        return SIGLOG_EIO;
    if ((rc = sl_archive_prelude_check(header, f->len)) != 0 || get_le16(header + 4) < 2)
        return SIGLOG_ECORRUPT;
    uint64_t head_len = sl_archive_head_bytes(header);
    if (head_len > f->len || sl_bytebuf_reserve(&f->head, (size_t)head_len) != 0 ||
        sl_io_read_full(f->io, f->fd, f->head.data, (size_t)head_len, 0) != (ssize_t)head_len)
        return SIGLOG_EIO;
    f->head.len = (size_t)head_len;
    uint32_t n = get_le32(header + 20);
    if (!(*segs = malloc((n && n <= ARCHIVE_SEGMENTS_MAX ? n : 1) * sizeof **segs)))
        return SIGLOG_ENOMEM;
    return sl_archive_head_check(f->head.data, f->head.len, f->len, &f->view, *segs);
}

int sl_archive_filters_exclude(const siglog_io *io, const char *path, archive_filter_test test, void *arg,
                               archive_meta *meta)
{
    archive_file f = {.io = io, .path = path, .fd = io->open_file(io, path, IO_READ, 0)};
    archive_segment *segs = NULL;
    int excluded = f.fd >= 0 && read_head(&f, &segs) == 0;
    for (uint32_t i = 0; excluded && i < f.view.segment_count; i++) {
        keyfilter kf;
        excluded = sl_archive_file_filter(&f, i, &kf) == 1 && test(arg, &kf);
        sl_keyfilter_free(&kf);
    }
    if (excluded && meta)
        *meta = f.view.meta;
    free(segs);
    sl_archive_file_close(&f);
    sl_err_clear(); /* whatever failed, the archive is read instead */
    return excluded;
}

/* Every record of segment i of f has a key kf may hold. */
static int holds_every_key(const archive_file *f, uint32_t i, const keyfilter *kf, uint64_t at)
{
    archive_records r = {.bf = sl_archive_file_segment(f, i)};
    siglog_record rec;
    int rc;
    while ((rc = sl_archive_records_next(&r, &rec)) == 1)
        if (!sl_keyfilter_may_contain(kf, sl_keyfilter_hash(rec.key, rec.key_len))) {
            rc = sl_err_set(SIGLOG_ECORRUPT, "%s: byte %" PRIu64 ": the key filter of segment %u excludes the key "
                            "of offset %" PRIu64 ", which the segment holds", f->path, at, i, rec.offset);
            break;
        }
    sl_archive_records_free(&r);
    return rc;
}

int sl_archive_file_check_filters(const archive_file *f)
{
    uint64_t at = f->view.filter_pos;
    int rc = 0;
    for (uint32_t i = 0; i < f->view.segment_count && !rc; i++) {
        keyfilter kf;
        if ((rc = sl_archive_file_filter(f, i, &kf)) == 1) {
            rc = holds_every_key(f, i, &kf, at);
            sl_keyfilter_free(&kf);
        }
        at += sl_archive_segment_at(&f->view, i).filter_bytes;
    }
    return rc;
}
