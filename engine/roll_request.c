/*
 * roll_request — codec and file of a roll request (roll_request.h).
 *
 * Layout (little-endian; FORMAT.md, "Roll request"):
 *   0  magic "SLROLLRQ"    8
 *   8  version u32 (1)
 *  12  partition count n u32 (0 .. SIGLOG_PARTITIONS_MAX; 0: scrub only)
 *  16  store id u64
 *  24  asked, unix microseconds i64
 *  32  n partition numbers u32, strictly ascending
 *  32 + 4n  XXH3-64 of every byte before it, u64
 * Ascending makes the encoding of a set of partitions unique. Whether a
 * number is below the stream's partition count is the writer's check:
 * the codec does not know the stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "names.h"
#include "roll_request.h"

#define REQUEST_MAGIC "SLROLLRQ"
#define REQUEST_VERSION 1u

size_t sl_roll_request_size(uint32_t n)
{
    return ROLL_REQUEST_HEADER_BYTES + (size_t)n * 4 + ROLL_REQUEST_TRAILER_BYTES;
}

void sl_roll_request_encode(uint8_t *buf, const roll_request *r)
{
    memcpy(buf, REQUEST_MAGIC, 8);
    put_le32(buf + 8, REQUEST_VERSION);
    put_le32(buf + 12, r->n);
    put_le64(buf + 16, r->store_id);
    put_le64(buf + 24, (uint64_t)r->asked_us);
    for (uint32_t i = 0; i < r->n; i++)
        put_le32(buf + ROLL_REQUEST_HEADER_BYTES + (size_t)i * 4, r->parts[i]);
    size_t end = ROLL_REQUEST_HEADER_BYTES + (size_t)r->n * 4;
    put_le64(buf + end, XXH3_64bits(buf, end));
}

static int bad(const char *name, const char *what, size_t at)
{
    return sl_err_set(SIGLOG_ECORRUPT, "%s: %s (byte %zu)", name, what, at);
}

int sl_roll_request_decode(const uint8_t *buf, size_t len, uint64_t store_id, const char *name, roll_request *r)
{
    *r = (roll_request){0};
    if (len < sl_roll_request_size(0))
        return bad(name, "shorter than its header and checksum", len);
    if (memcmp(buf, REQUEST_MAGIC, 8) != 0)
        return bad(name, "bad magic", 0);
    uint32_t version = get_le32(buf + 8), n = get_le32(buf + 12);
    if (version != REQUEST_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "%s: version %u, this build reads %u (byte 8)", name, version,
                          REQUEST_VERSION);
    if (n > ROLL_REQUEST_PARTS_MAX)
        return bad(name, "partition count out of range", 12);
    if (len != sl_roll_request_size(n))
        return bad(name, "size does not match the partition count", len);
    size_t end = len - ROLL_REQUEST_TRAILER_BYTES;
    if (get_le64(buf + end) != XXH3_64bits(buf, end))
        return bad(name, "checksum mismatch", end);
    if (get_le64(buf + 16) != store_id)
        return bad(name, "written for another store", 16);
    const uint8_t *p = buf + ROLL_REQUEST_HEADER_BYTES;
    for (uint32_t i = 1; i < n; i++)
        if (get_le32(p + (size_t)(i - 1) * 4) >= get_le32(p + (size_t)i * 4))
            return bad(name, "partitions not strictly ascending", ROLL_REQUEST_HEADER_BYTES + (size_t)i * 4);
    if (!(r->parts = malloc(n ? (size_t)n * sizeof *r->parts : 1)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        r->parts[i] = get_le32(p + (size_t)i * 4);
    r->n = n;
    r->store_id = store_id;
    r->asked_us = (int64_t)get_le64(buf + 24);
    return 0;
}

void sl_roll_request_free(roll_request *r)
{
    free(r->parts);
    *r = (roll_request){0};
}

int sl_roll_request_load(const siglog_io *io, const char *stream_dir, uint64_t store_id, roll_request *r)
{
    *r = (roll_request){0};
    char *path = sl_path_join(stream_dir, ROLL_REQUEST_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    int got = sl_io_read_file(io, path, sl_roll_request_size(ROLL_REQUEST_PARTS_MAX), &data, &len);
    int rc;
    if (got == -ENOENT)
        rc = 0;
    else if (got < 0)
        rc = sl_err_errno(got, "reading %s", path);
    else if ((rc = sl_roll_request_decode(data, len, store_id, path, r)) == 0)
        rc = 1;
    free(data);
    free(path);
    return rc;
}

int sl_roll_request_write(const siglog_io *io, const char *stream_dir, const roll_request *r, uint32_t mode)
{
    size_t len = sl_roll_request_size(r->n);
    uint8_t *buf = malloc(len);
    char *path = sl_path_join(stream_dir, ROLL_REQUEST_FILE);
    int rc = 0;
    if (!buf || !path) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    } else {
        sl_roll_request_encode(buf, r);
        int w = sl_io_replace_file(io, stream_dir, path, buf, len, mode);
        if (w < 0)
            rc = sl_err_errno(w, "writing %s", path);
    }
    free(buf);
    free(path);
    return rc;
}

int sl_roll_request_remove(const siglog_io *io, const char *stream_dir)
{
    char *path = sl_path_join(stream_dir, ROLL_REQUEST_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int u = io->unlink(io, path);
    int rc = u < 0 && u != -ENOENT ? sl_err_errno(u, "removing %s", path) : 0;
    if (!rc && u == 0 && (u = io->sync_dir(io, stream_dir)) < 0)
        rc = sl_err_errno(u, "syncing %s", stream_dir);
    free(path);
    return rc;
}

int sl_roll_request_pending(const siglog_io *io, const char *stream_dir)
{
    char *path = sl_path_join(stream_dir, ROLL_REQUEST_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int is_dir;
    uint64_t size;
    int st = io->stat_path(io, path, &is_dir, &size);
    int rc = st == 0 ? 1 : st == -ENOENT ? 0 : sl_err_errno(st, "looking for %s", path);
    free(path);
    return rc;
}
