/*
 * archive_io — reading archive parts from files a piece at a time, shared
 * by the streaming writer (archive_write.c) and reader (archive_read.c):
 * batches one at a time, and the whole-file checksum through a fixed
 * buffer.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <xxhash.h>

#include "archive.h"
#include "error.h"

int sl_archive_batch_next(archive_batch_file *bf, batch_header *h, int header_only)
{
    if (bf->pos == bf->end)
        return 0;
    ssize_t got = bf->end - bf->pos < BATCH_HEADER_BYTES
                      ? 0
                      : sl_io_read_full(bf->io, bf->fd, bf->header, BATCH_HEADER_BYTES, bf->pos);
    if (got < 0)
        return sl_err_errno((int)got, "reading %s at byte %" PRIu64, bf->path, bf->pos);
    int rc = got == BATCH_HEADER_BYTES ? sl_batch_header_decode(bf->header, h) : SIGLOG_ECORRUPT;
    if (rc || h->body_len > bf->end - bf->pos - BATCH_HEADER_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: batch at byte %" PRIu64 ": %s", bf->path, bf->pos,
                          rc && got == BATCH_HEADER_BYTES ? siglog_errdetail() : "cut by the end of the data");
    if (!header_only) {
        if (sl_bytebuf_reserve(&bf->body, h->body_len) != 0)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        got = sl_io_read_full(bf->io, bf->fd, bf->body.data, h->body_len, bf->pos + BATCH_HEADER_BYTES);
        if (got < 0)
            return sl_err_errno((int)got, "reading %s at byte %" PRIu64, bf->path, bf->pos + BATCH_HEADER_BYTES);
        if ((size_t)got != h->body_len)
            return sl_err_set(SIGLOG_ECORRUPT, "%s: batch at byte %" PRIu64 ": cut", bf->path, bf->pos);
        bf->body.len = h->body_len;
    }
    bf->pos += BATCH_HEADER_BYTES + h->body_len;
    return 1;
}

int sl_archive_file_checksum(const siglog_io *io, int fd, const char *path, uint64_t len, uint8_t *buf, uint64_t *sum)
{
    XXH3_state_t *state = XXH3_createState();
    if (!state || XXH3_64bits_reset(state) != XXH_OK) {
        XXH3_freeState(state);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (uint64_t at = 0; at < len && !rc;) {
        size_t want = len - at < ARCHIVE_COPY_BYTES ? (size_t)(len - at) : ARCHIVE_COPY_BYTES;
        ssize_t got = sl_io_read_full(io, fd, buf, want, at);
        if (got < 0)
            rc = sl_err_errno((int)got, "reading %s at byte %" PRIu64, path, at);
        else if ((size_t)got != want)
            rc = sl_err_set(SIGLOG_EIO, "%s ends at byte %" PRIu64 ", before %" PRIu64, path, at + (uint64_t)got, len);
        else
            XXH3_64bits_update(state, buf, want);
        at += want;
    }
    uint8_t fixed[ARCHIVE_TRAILER_BYTES];
    sl_archive_trailer_encode(fixed, 0);
    XXH3_64bits_update(state, fixed, 8);
    *sum = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    return rc;
}

int sl_archive_records_next(archive_records *r, siglog_record *rec)
{
    for (;;) {
        if (r->in_batch) {
            int rc = sl_batch_iter_next(&r->it, rec);
            if (rc < 0)
                return sl_err_set(rc, "%s: batch ending at byte %" PRIu64 ": %s", r->bf.path, r->bf.pos,
                                  siglog_errdetail());
            if (rc == 1)
                return 1;
            r->in_batch = 0;
        }
        batch_header h;
        uint64_t at = r->bf.pos;
        int rc = sl_archive_batch_next(&r->bf, &h, 0);
        if (rc <= 0)
            return rc;
        if ((rc = sl_batch_body_check(&h, r->bf.body.data)) != 0 ||
            (rc = sl_batch_iter_init(&r->it, &h, r->bf.body.data, &r->scratch)) != 0)
            return sl_err_set(rc, "%s: batch at byte %" PRIu64 ": %s", r->bf.path, at, siglog_errdetail());
        r->in_batch = 1;
    }
}

void sl_archive_records_free(archive_records *r)
{
    sl_bytebuf_free(&r->bf.body);
    sl_bytebuf_free(&r->scratch);
    r->in_batch = 0;
}
