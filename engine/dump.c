/*
 * dump — siglog_dump_segment: a segment file batch by batch, for the dump
 * tool. Independent of any store: it reads the file with pread through the
 * POSIX I/O layer and validates each batch as a reader would.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io.h"
#include "segment.h"

/* Tell batch_fn about an invalid batch; the dump ends with its return
 * value, or SIGLOG_ECORRUPT. */
static int report_invalid(int (*batch_fn)(void *, const siglog_batch_info *), void *ctx, uint64_t pos)
{
    int code = SIGLOG_ECORRUPT;
    siglog_batch_info b = {.position = pos, .valid = 0, .problem = siglog_errdetail()};
    int rc = batch_fn ? batch_fn(ctx, &b) : 0;
    return rc ? rc : code;
}

SIGLOG_API int siglog_dump_segment(const char *path, int (*batch_fn)(void *ctx, const siglog_batch_info *b),
                                   int (*record_fn)(void *ctx, const siglog_record *r), void *ctx)
{
    sl_err_clear();
    const siglog_io *io = sl_io_posix();
    /* The user's path to the file is theirs to choose, symlinks included. */
    char *real = sl_io_real_path(path);
    if (!real)
        return sl_err_errno(-errno, "open of %s", path);
    int fd = io->open_file(io, real, IO_READ, 0);
    free(real);
    if (fd < 0)
        return sl_err_errno(fd, "open of %s", path);
    uint64_t size = 0;
    int rc = io->file_size(io, fd, &size);
    if (rc < 0) {
        io->close_file(io, fd);
        return sl_err_errno(rc, "size of %s", path);
    }
    bytebuf body = {0}, scratch = {0};
    uint64_t pos = 0;
    rc = 0;
    while (pos < size && !rc) {
        uint8_t hdr[BATCH_HEADER_BYTES];
        ssize_t got = sl_io_read_full(io, fd, hdr, sizeof hdr, pos);
        if (got < 0) {
            rc = sl_err_errno((int)got, "read of %s at byte %" PRIu64, path, pos);
            break;
        }
        batch_header h;
        int v = (size_t)got < sizeof hdr ? sl_err_set(SIGLOG_ECORRUPT, "incomplete batch header (%zd of %d bytes)",
                                                   got, BATCH_HEADER_BYTES)
                                         : sl_batch_header_decode(hdr, &h);
        if (!v && h.body_len > size - pos - BATCH_HEADER_BYTES)
            v = sl_err_set(SIGLOG_ECORRUPT, "batch body of %u bytes runs past the end of the file", h.body_len);
        if (!v) {
            body.len = 0;
            v = sl_bytebuf_reserve(&body, h.body_len);
            got = v ? 0 : sl_io_read_full(io, fd, body.data, h.body_len, pos + BATCH_HEADER_BYTES);
            if (got < 0) {
                rc = sl_err_errno((int)got, "read of %s at byte %" PRIu64, path, pos);
                break;
            }
            if (!v)
                v = sl_batch_body_check(&h, body.data);
        }
        if (v) {
            rc = report_invalid(batch_fn, ctx, pos);
            break;
        }
        siglog_batch_info b = {
            .position = pos,
            .base_offset = h.base_offset,
            .record_count = h.record_count,
            .last_offset = batch_end_offset(&h) - 1,
            .version = h.version,
            .stored_bytes = BATCH_HEADER_BYTES + h.body_len,
            .raw_bytes = h.raw_len,
            .codec = h.codec,
            .first_timestamp_us = h.first_timestamp_us,
            .max_timestamp_us = h.max_timestamp_us,
            .body_checksum = h.body_checksum,
            .valid = 1,
        };
        if (batch_fn && (rc = batch_fn(ctx, &b)) != 0)
            break;
        if (record_fn) {
            batch_iter it;
            siglog_record r;
            int n;
            if ((n = sl_batch_iter_init(&it, &h, body.data, &scratch)) != 0) {
                rc = report_invalid(batch_fn, ctx, pos);
                break;
            }
            while ((n = sl_batch_iter_next(&it, &r)) == 1 && !(rc = record_fn(ctx, &r)))
                ;
            if (n < 0) {
                rc = report_invalid(batch_fn, ctx, pos);
                break;
            }
        }
        pos += BATCH_HEADER_BYTES + (uint64_t)h.body_len;
    }
    sl_bytebuf_free(&body);
    sl_bytebuf_free(&scratch);
    io->close_file(io, fd);
    return rc;
}
