/*
 * store_secret — see store_secret.h for what the key is for and when it is
 * made. store.secret, little-endian: 0 u32 magic "SGSK", 4 u16 version,
 * 6..7 reserved (zero), 8 u64 store id, 16..47 the secret, 48 u64 XXH3-64
 * of bytes 0..47.
 */
#include "store_secret.h"

#include <errno.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "names.h"
#include "store.h"

#define SECRET_AT 16
#define CHECKSUM_AT 48

void sl_store_secret_encode(uint8_t buf[STORE_SECRET_FILE_BYTES], uint64_t store_id,
                         const uint8_t secret[STORE_SECRET_BYTES])
{
    memset(buf, 0, STORE_SECRET_FILE_BYTES);
    put_le32(buf, STORE_SECRET_MAGIC);
    put_le16(buf + 4, STORE_SECRET_VERSION);
    put_le64(buf + 8, store_id);
    memcpy(buf + SECRET_AT, secret, STORE_SECRET_BYTES);
    put_le64(buf + CHECKSUM_AT, XXH3_64bits(buf, CHECKSUM_AT));
}

int sl_store_secret_decode(const uint8_t *buf, size_t len, uint64_t store_id, uint8_t secret[STORE_SECRET_BYTES])
{
    if (len != STORE_SECRET_FILE_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "secret file is %zu bytes, expected %d", len, STORE_SECRET_FILE_BYTES);
    if (get_le32(buf) != STORE_SECRET_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not a siglog secret file (bad magic)");
    if (get_le64(buf + CHECKSUM_AT) != XXH3_64bits(buf, CHECKSUM_AT))
        return sl_err_set(SIGLOG_ECORRUPT, "secret file checksum mismatch");
    unsigned version = get_le16(buf + 4);
    if (version != STORE_SECRET_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "secret file version %u, this build reads %d", version,
                       STORE_SECRET_VERSION);
    if (buf[6] || buf[7])
        return sl_err_set(SIGLOG_ECORRUPT, "secret file: reserved bytes 6..7 are not zero");
    if (get_le64(buf + 8) != store_id)
        return sl_err_set(SIGLOG_ECORRUPT, "secret file belongs to store %016llx, not to this store (%016llx)",
                       (unsigned long long)get_le64(buf + 8), (unsigned long long)store_id);
    memcpy(secret, buf + SECRET_AT, STORE_SECRET_BYTES);
    return 0;
}

int sl_store_secret_create(const siglog_io *io, const char *dir, uint64_t store_id, uint32_t mode_flags)
{
    if (sodium_init() < 0)
        return sl_err_set(SIGLOG_EIO, "libsodium failed to initialise");
    char *path = sl_path_join(dir, STORE_SECRET_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int is_dir;
    uint64_t size;
    int st = io->stat_path(io, path, &is_dir, &size);
    if (st == 0) {
        rc = sl_err_set(SIGLOG_EEXIST, "%s exists: a store's secret is never replaced", path);
    } else if (st != -ENOENT) {
        rc = sl_err_errno(st, "stat of %s", path);
    } else {
        uint8_t secret[STORE_SECRET_BYTES], buf[STORE_SECRET_FILE_BYTES];
        randombytes_buf(secret, sizeof secret);
        sl_store_secret_encode(buf, store_id, secret);
        int r = sl_io_replace_file(io, dir, path, buf, sizeof buf,
                                STORE_SECRET_MODE | (mode_flags & IO_MODE_PARENT_OWNER));
        if (r < 0)
            rc = sl_err_errno(r, "writing %s", path);
        sodium_memzero(secret, sizeof secret);
        sodium_memzero(buf, sizeof buf);
    }
    free(path);
    return rc;
}

int sl_store_secret_load(const siglog_io *io, const char *dir, uint64_t store_id, uint8_t out[STORE_SECRET_BYTES])
{
    char *path = sl_path_join(dir, STORE_SECRET_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    int rc = 0;
    int r = sl_io_read_file(io, path, STORE_SECRET_FILE_BYTES * 2, &data, &len);
    if (r == -EFBIG)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: too large for a secret file", path);
    else if (r == -ENOENT)
        rc = sl_err_set(SIGLOG_ENOENT, "store %s has no secret (%s is missing)", dir, path);
    else if (r < 0)
        rc = sl_err_errno(r, "reading %s", path);
    else if ((rc = sl_store_secret_decode(data, len, store_id, out)) != 0)
        rc = sl_err_set(rc, "%s: %s", path, siglog_errdetail());
    if (data) {
        sodium_memzero(data, len);
        free(data);
    }
    free(path);
    return rc;
}

/* Without a usable key the writer still opens: appends do not need it,
 * and what does (audit records, redaction) fails with the reason kept
 * here. */
static int no_secret(struct siglog *s, const char *fmt, const char *detail)
{
    snprintf(s->secret_detail, sizeof s->secret_detail, fmt, s->path, detail);
    sl_store_log(s, SIGLOG_LOG_ERROR, "%s", s->secret_detail);
    return 0;
}

int sl_store_secret_open(struct siglog *s)
{
    int rc = sl_store_secret_load(s->io, s->path, s->store_id, s->secret);
    if (rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION || rc == SIGLOG_EPERM)
        return no_secret(s, "store %s has no usable secret: %s", siglog_errdetail());
    if (rc != SIGLOG_ENOENT) {
        s->has_secret = rc == 0;
        return rc;
    }
    /* A store from before the file gets its key now, unless an audit trail
     * exists: records signed by a lost key must stay unverifiable rather
     * than look forged under a new one. */
    char *audit = sl_path_join(s->path, STORE_AUDIT_FILE);
    if (!audit)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int is_dir;
    uint64_t size;
    int st = s->io->stat_path(s->io, audit, &is_dir, &size);
    free(audit);
    if (st == 0)
        return no_secret(s, "store %s has an audit trail but no %s: its key is lost, and a new one would "
                            "make the trail look forged",
                         STORE_SECRET_FILE);
    if (st != -ENOENT)
        return sl_err_errno(st, "stat of %s/%s", s->path, STORE_AUDIT_FILE);
    if ((rc = sl_store_secret_create(s->io, s->path, s->store_id, s->opt.file_mode)) != 0)
        return rc;
    rc = sl_store_secret_load(s->io, s->path, s->store_id, s->secret);
    s->has_secret = rc == 0;
    return rc;
}

int sl_store_secret_get(struct siglog *s, uint8_t out[STORE_SECRET_BYTES])
{
    if (s->read_only)
        return sl_store_secret_load(s->io, s->path, s->store_id, out);
    if (!s->has_secret)
        return sl_err_set(SIGLOG_ENOENT, "%s", s->secret_detail);
    memcpy(out, s->secret, STORE_SECRET_BYTES);
    return 0;
}
