/*
 * forget_intent — codec and file of a forget's intent (forget_intent.h).
 *
 * Layout (little-endian; FORMAT.md, "Forget intent"):
 *   0  magic "SLFORGET"    8
 *   8  version u32 (1)
 *  12  key count n u32 (1 .. FORGET_INTENT_KEYS_MAX)
 *  16  store id u64
 *  24  started, unix microseconds i64
 *  32  n keyed BLAKE2b-256 hashes, strictly ascending (memcmp order)
 *  32 + 32n  XXH3-64 of every byte before it, u64
 * The order makes the encoding of a set of keys unique, and lets the
 * finishing run look hashes up by binary search.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "forget_intent.h"
#include "names.h"

#define INTENT_MAGIC "SLFORGET"
#define INTENT_VERSION 1u

size_t sl_forget_intent_size(uint32_t n)
{
    return FORGET_INTENT_HEADER_BYTES + (size_t)n * FORGET_INTENT_HASH_BYTES + FORGET_INTENT_TRAILER_BYTES;
}

void sl_forget_intent_encode(uint8_t *buf, const forget_intent *it)
{
    memcpy(buf, INTENT_MAGIC, 8);
    put_le32(buf + 8, INTENT_VERSION);
    put_le32(buf + 12, it->n);
    put_le64(buf + 16, it->store_id);
    put_le64(buf + 24, (uint64_t)it->started_us);
    size_t hashes = (size_t)it->n * FORGET_INTENT_HASH_BYTES;
    memcpy(buf + FORGET_INTENT_HEADER_BYTES, it->hashes, hashes);
    put_le64(buf + FORGET_INTENT_HEADER_BYTES + hashes, XXH3_64bits(buf, FORGET_INTENT_HEADER_BYTES + hashes));
}

static int bad(const char *name, const char *what, size_t at)
{
    return sl_err_set(SIGLOG_ECORRUPT, "%s: %s (byte %zu)", name, what, at);
}

int sl_forget_intent_decode(const uint8_t *buf, size_t len, uint64_t store_id, const char *name, forget_intent *it)
{
    *it = (forget_intent){0};
    if (len < sl_forget_intent_size(1))
        return bad(name, "shorter than one key", len);
    if (memcmp(buf, INTENT_MAGIC, 8) != 0)
        return bad(name, "bad magic", 0);
    uint32_t version = get_le32(buf + 8), n = get_le32(buf + 12);
    if (version != INTENT_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "%s: version %u, this build reads %u (byte 8)", name,
                          version, INTENT_VERSION);
    if (n == 0 || n > FORGET_INTENT_KEYS_MAX)
        return bad(name, "key count out of range", 12);
    if (len != sl_forget_intent_size(n))
        return bad(name, "size does not match the key count", len);
    size_t end = len - FORGET_INTENT_TRAILER_BYTES;
    if (get_le64(buf + end) != XXH3_64bits(buf, end))
        return bad(name, "checksum mismatch", end);
    if (get_le64(buf + 16) != store_id)
        return bad(name, "written for another store", 16);
    const uint8_t *h = buf + FORGET_INTENT_HEADER_BYTES;
    for (uint32_t i = 1; i < n; i++)
        if (memcmp(h + (size_t)(i - 1) * FORGET_INTENT_HASH_BYTES, h + (size_t)i * FORGET_INTENT_HASH_BYTES,
                   FORGET_INTENT_HASH_BYTES) >= 0)
            return bad(name, "hashes not strictly ascending", FORGET_INTENT_HEADER_BYTES + (size_t)i * FORGET_INTENT_HASH_BYTES);
    if (!(it->hashes = malloc(end - FORGET_INTENT_HEADER_BYTES)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    memcpy(it->hashes, h, end - FORGET_INTENT_HEADER_BYTES);
    it->n = n;
    it->store_id = store_id;
    it->started_us = (int64_t)get_le64(buf + 24);
    return 0;
}

void sl_forget_intent_free(forget_intent *it)
{
    free(it->hashes);
    *it = (forget_intent){0};
}

int sl_forget_intent_load(const siglog_io *io, const char *stream_dir, uint64_t store_id, forget_intent *it)
{
    *it = (forget_intent){0};
    char *path = sl_path_join(stream_dir, FORGET_INTENT_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    int r = sl_io_read_file(io, path, sl_forget_intent_size(FORGET_INTENT_KEYS_MAX), &data, &len);
    int rc;
    if (r == -ENOENT)
        rc = 0;
    else if (r < 0)
        rc = sl_err_errno(r, "reading %s", path);
    else if ((rc = sl_forget_intent_decode(data, len, store_id, path, it)) == 0)
        rc = 1;
    free(data);
    free(path);
    return rc;
}

int sl_forget_intent_write(const siglog_io *io, const char *stream_dir, const forget_intent *it, uint32_t mode)
{
    size_t len = sl_forget_intent_size(it->n);
    uint8_t *buf = malloc(len);
    char *path = sl_path_join(stream_dir, FORGET_INTENT_FILE);
    int rc = 0;
    if (!buf || !path) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    } else {
        sl_forget_intent_encode(buf, it);
        int r = sl_io_replace_file(io, stream_dir, path, buf, len, mode);
        if (r < 0)
            rc = sl_err_errno(r, "writing %s", path);
    }
    free(buf);
    free(path);
    return rc;
}

int sl_forget_intent_remove(const siglog_io *io, const char *stream_dir)
{
    char *path = sl_path_join(stream_dir, FORGET_INTENT_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int r = io->unlink(io, path);
    int rc = r < 0 && r != -ENOENT ? sl_err_errno(r, "removing %s", path) : 0;
    if (!rc && r == 0 && (r = io->sync_dir(io, stream_dir)) < 0)
        rc = sl_err_errno(r, "syncing %s", stream_dir);
    free(path);
    return rc;
}
