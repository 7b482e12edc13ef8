/*
 * audit — see audit.h for the chain, the order of record and action, the
 * torn tail and the lock. Byte layouts: FORMAT.md, "Audit trail".
 */
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "names.h"
#include "store_secret.h"

/* Record fields (FORMAT.md): byte offsets within a record. */
enum {
    R_MAGIC = 0, R_LENGTH = 4, R_SEQ = 8, R_TIME = 16, R_ACTION = 24, R_CAUSE = 26, R_RESERVED1 = 27,
    R_PARTITION = 28, R_OFF_START = 32, R_OFF_END = 40, R_TIME_MIN = 48, R_TIME_MAX = 56, R_BYTES = 64,
    R_EVENTS = 72, R_PID = 80, R_UID = 84, R_STREAM_LEN = 88, R_HOST_LEN = 90, R_DETAIL_LEN = 92,
    R_RESERVED2 = 94,
};

/* How long an appender waits for another to finish (each holds the lock
 * for one record and one sync). */
#define AUDIT_LOCK_WAIT_US 10000000
/* Bytes after a bad record beyond which it cannot be a torn tail: a crash
 * leaves at most the one record being appended unsynced. */
#define AUDIT_TAIL_SCAN_MAX AUDIT_RECORD_MAX

static const char *const action_names[] = {
    [AUDIT_WARM] = "warm",       [AUDIT_COLD] = "cold",       [AUDIT_PURGE] = "purge",
    [AUDIT_ARCHIVE] = "archive", [AUDIT_RESTORE] = "restore", [AUDIT_HOLD] = "hold",
    [AUDIT_CONFIG] = "config",   [AUDIT_FORGET] = "forget",   [AUDIT_COMPACT] = "compact",
    [AUDIT_LOSS] = "loss",
};

const char *sl_audit_action_name(uint16_t action, char buf[24])
{
    if (action >= 1 && action <= AUDIT_ACTION_LAST)
        return action_names[action];
    snprintf(buf, 24, "action-%u", (unsigned)action);
    return buf;
}

uint16_t sl_audit_action_find(const char *name)
{
    for (uint16_t a = 1; a <= AUDIT_ACTION_LAST; a++)
        if (strcmp(action_names[a], name) == 0)
            return a;
    return 0;
}

const char *sl_audit_cause_name(uint8_t cause)
{
    return cause == AUDIT_BY_POLICY ? "policy" : cause == AUDIT_BY_COMMAND ? "command" : "unknown";
}

void sl_audit_record_init(audit_record *r, uint16_t action, uint8_t cause)
{
    memset(r, 0, sizeof *r);
    r->action = action;
    r->cause = cause;
    r->partition = AUDIT_NO_PARTITION;
    r->time_min_us = INT64_MAX;
    r->time_max_us = INT64_MIN;
}

void sl_audit_mac(uint8_t out[AUDIT_MAC_BYTES], const uint8_t *key, const uint8_t *bytes, size_t len)
{
    crypto_generichash(out, AUDIT_MAC_BYTES, bytes, len, key, STORE_SECRET_BYTES);
}

/* ---- codecs ---- */

void sl_audit_header_encode(uint8_t buf[AUDIT_HEADER_BYTES], uint64_t store_id, int64_t created_us)
{
    memset(buf, 0, AUDIT_HEADER_BYTES);
    put_le32(buf, AUDIT_MAGIC);
    put_le16(buf + 4, AUDIT_VERSION);
    put_le64(buf + 8, store_id);
    put_le64(buf + 16, (uint64_t)created_us);
    put_le64(buf + 24, XXH3_64bits(buf, 24));
}

int sl_audit_header_decode(const uint8_t *buf, size_t len, uint64_t store_id)
{
    if (len < AUDIT_HEADER_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "header is %zu bytes, expected %d", len, AUDIT_HEADER_BYTES);
    if (get_le32(buf) != AUDIT_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not a siglog audit trail (bad magic)");
    if (get_le64(buf + 24) != XXH3_64bits(buf, 24))
        return sl_err_set(SIGLOG_ECORRUPT, "header checksum mismatch");
    if (get_le16(buf + 4) != AUDIT_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "audit trail version %u, this build reads %d", get_le16(buf + 4),
                       AUDIT_VERSION);
    if (buf[6] || buf[7])
        return sl_err_set(SIGLOG_ECORRUPT, "header: reserved bytes 6..7 are not zero");
    if (get_le64(buf + 8) != store_id)
        return sl_err_set(SIGLOG_ECORRUPT, "trail of store %016" PRIx64 ", not of this store (%016" PRIx64 ")",
                       get_le64(buf + 8), store_id);
    return 0;
}

static size_t put_string(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return n;
}

size_t sl_audit_record_encode(uint8_t *buf, const audit_record *r, const uint8_t prev[AUDIT_MAC_BYTES],
                           const uint8_t *key)
{
    memset(buf, 0, AUDIT_RECORD_FIXED);
    size_t n = AUDIT_RECORD_FIXED;
    size_t stream = put_string(buf + n, r->stream);
    n += stream;
    size_t host = put_string(buf + n, r->host);
    n += host;
    size_t detail = put_string(buf + n, r->detail);
    n += detail;
    memcpy(buf + n, prev, AUDIT_MAC_BYTES);
    n += AUDIT_MAC_BYTES;
    put_le32(buf + R_MAGIC, AUDIT_RECORD_MAGIC);
    put_le32(buf + R_LENGTH, (uint32_t)(n + AUDIT_MAC_BYTES));
    put_le64(buf + R_SEQ, r->seq);
    put_le64(buf + R_TIME, (uint64_t)r->time_us);
    put_le16(buf + R_ACTION, r->action);
    buf[R_CAUSE] = r->cause;
    put_le32(buf + R_PARTITION, r->partition);
    put_le64(buf + R_OFF_START, r->offset_start);
    put_le64(buf + R_OFF_END, r->offset_end);
    put_le64(buf + R_TIME_MIN, (uint64_t)r->time_min_us);
    put_le64(buf + R_TIME_MAX, (uint64_t)r->time_max_us);
    put_le64(buf + R_BYTES, r->bytes);
    put_le64(buf + R_EVENTS, r->events);
    put_le32(buf + R_PID, r->pid);
    put_le32(buf + R_UID, r->uid);
    put_le16(buf + R_STREAM_LEN, (uint16_t)stream);
    put_le16(buf + R_HOST_LEN, (uint16_t)host);
    put_le16(buf + R_DETAIL_LEN, (uint16_t)detail);
    sl_audit_mac(buf + n, key, buf, n);
    return n + AUDIT_MAC_BYTES;
}

/* A string field: within its bound, no NUL (it is read back as a C
 * string). */
static int get_string(char *out, const uint8_t *p, size_t n, size_t max, const char *what)
{
    if (n > max)
        return sl_err_set(SIGLOG_ECORRUPT, "%s is %zu bytes, at most %zu", what, n, max);
    if (memchr(p, 0, n))
        return sl_err_set(SIGLOG_ECORRUPT, "%s holds a NUL byte", what);
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int sl_audit_record_decode(const uint8_t *buf, size_t len, audit_record *r, const uint8_t **prev,
                        const uint8_t **mac)
{
    if (len < AUDIT_RECORD_FIXED)
        return sl_err_set(SIGLOG_ECORRUPT, "record cut short (%zu bytes)", len);
    if (get_le32(buf + R_MAGIC) != AUDIT_RECORD_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "no record magic");
    size_t n = get_le32(buf + R_LENGTH);
    size_t stream = get_le16(buf + R_STREAM_LEN), host = get_le16(buf + R_HOST_LEN),
           detail = get_le16(buf + R_DETAIL_LEN);
    if (n < AUDIT_RECORD_MIN || n > AUDIT_RECORD_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "record length %zu outside %d..%d", n, AUDIT_RECORD_MIN, AUDIT_RECORD_MAX);
    if (n > len)
        return sl_err_set(SIGLOG_ECORRUPT, "record of %zu bytes cut short at %zu", n, len);
    if (n != AUDIT_RECORD_MIN + stream + host + detail)
        return sl_err_set(SIGLOG_ECORRUPT, "record length %zu does not match its strings (%zu, %zu, %zu bytes)", n,
                       stream, host, detail);
    if (buf[R_RESERVED1] || buf[R_RESERVED2] || buf[R_RESERVED2 + 1])
        return sl_err_set(SIGLOG_ECORRUPT, "reserved bytes are not zero");
    memset(r, 0, sizeof *r);
    const uint8_t *p = buf + AUDIT_RECORD_FIXED;
    int rc = get_string(r->stream, p, stream, SIGLOG_NAME_MAX, "stream name");
    if (!rc && stream && sl_name_validate_stream(r->stream) != 0)
        rc = sl_err_set(SIGLOG_ECORRUPT, "stream name is not valid");
    if (!rc)
        rc = get_string(r->host, p + stream, host, AUDIT_HOST_MAX, "host name");
    if (!rc)
        rc = get_string(r->detail, p + stream + host, detail, AUDIT_DETAIL_MAX, "detail");
    if (rc)
        return rc;
    r->seq = get_le64(buf + R_SEQ);
    r->time_us = (int64_t)get_le64(buf + R_TIME);
    r->action = get_le16(buf + R_ACTION);
    r->cause = buf[R_CAUSE];
    r->partition = get_le32(buf + R_PARTITION);
    r->offset_start = get_le64(buf + R_OFF_START);
    r->offset_end = get_le64(buf + R_OFF_END);
    r->time_min_us = (int64_t)get_le64(buf + R_TIME_MIN);
    r->time_max_us = (int64_t)get_le64(buf + R_TIME_MAX);
    r->bytes = get_le64(buf + R_BYTES);
    r->events = get_le64(buf + R_EVENTS);
    r->pid = get_le32(buf + R_PID);
    r->uid = get_le32(buf + R_UID);
    *prev = buf + n - 2 * AUDIT_MAC_BYTES;
    *mac = buf + n - AUDIT_MAC_BYTES;
    return (int)n;
}

/* ---- reading ---- */

/* Whether a whole record (with key: whose mac holds) starts anywhere in
 * bytes[0..len). Only a record appended after a synced one can follow it,
 * so such a record proves that a bad one before it is not a torn tail. */
static int whole_record_in(const audit_trail *t, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i + AUDIT_RECORD_MIN <= len; i++) {
        if (get_le32(bytes + i) != AUDIT_RECORD_MAGIC)
            continue;
        audit_record r;
        const uint8_t *prev, *mac;
        int n = sl_audit_record_decode(bytes + i, len - i, &r, &prev, &mac);
        uint8_t mine[AUDIT_MAC_BYTES];
        if (n < 0)
            continue;
        if (!t->key)
            return 1;
        sl_audit_mac(mine, t->key, bytes + i, (size_t)n - AUDIT_MAC_BYTES);
        if (sodium_memcmp(mine, mac, AUDIT_MAC_BYTES) == 0)
            return 1;
    }
    return 0;
}

/* The record at pos, which does not even decode, is a torn tail when no
 * whole record follows it (1), damage when one does (0); or a SIGLOG
 * code. */
static int is_torn_tail(const audit_trail *t, const char *path, int fd, uint64_t pos, uint64_t size)
{
    if (size - pos > AUDIT_TAIL_SCAN_MAX)
        return 0; /* more than any crash leaves unsynced */
    size_t len = (size_t)(size - pos - 1);
    uint8_t *rest = malloc(len ? len : 1);
    if (!rest)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    ssize_t got = sl_io_read_full(t->io, fd, rest, len, pos + 1);
    int torn = got < 0 ? sl_err_errno((int)got, "reading %s", path) : !whole_record_in(t, rest, (size_t)got);
    free(rest);
    return torn;
}

/* Read the trail open at fd, of `size` bytes (see sl_audit_read). */
static int read_fd(const audit_trail *t, const char *path, int fd, uint64_t size,
                   int (*fn)(void *ctx, const audit_record *r), void *ctx, audit_result *res)
{
    const siglog_io *io = t->io;
    uint8_t hdr[AUDIT_HEADER_BYTES];
    ssize_t got = sl_io_read_full(io, fd, hdr, sizeof hdr, 0);
    if (got < 0)
        return sl_err_errno((int)got, "reading %s", path);
    int rc = sl_audit_header_decode(hdr, (size_t)got, t->store_id);
    if (rc)
        return sl_err_set(rc, "%s: %s", path, siglog_errdetail());
    uint8_t chain[AUDIT_MAC_BYTES];
    if (t->key)
        sl_audit_mac(chain, t->key, hdr, sizeof hdr);
    else
        memset(chain, 0, sizeof chain);
    memcpy(res->head_mac, chain, sizeof chain);
    res->end = AUDIT_HEADER_BYTES;
    uint8_t *buf = malloc(AUDIT_RECORD_MAX);
    if (!buf)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (uint64_t pos = AUDIT_HEADER_BYTES; pos < size && !rc; pos = res->end) {
        size_t want = size - pos < AUDIT_RECORD_MAX ? (size_t)(size - pos) : AUDIT_RECORD_MAX;
        got = sl_io_read_full(io, fd, buf, want, pos);
        if (got < 0) {
            rc = sl_err_errno((int)got, "reading %s", path);
            break;
        }
        audit_record r;
        const uint8_t *prev, *mac;
        int n = sl_audit_record_decode(buf, (size_t)got, &r, &prev, &mac);
        const char *why = n < 0 ? siglog_errdetail() : NULL;
        uint8_t mine[AUDIT_MAC_BYTES];
        if (!why && t->key) {
            sl_audit_mac(mine, t->key, buf, (size_t)n - AUDIT_MAC_BYTES);
            if (sodium_memcmp(mine, mac, AUDIT_MAC_BYTES) != 0)
                why = "its mac does not match its content (edited, or written under another key)";
            else if (r.seq != res->records)
                why = "its sequence number is not the next one (a record before it was removed, or records were "
                      "reordered)";
            else if (sodium_memcmp(prev, chain, AUDIT_MAC_BYTES) != 0)
                why = "it does not follow the record before it (records were removed or reordered)";
        } else if (!why && r.seq != res->records) {
            why = "its sequence number is not the next one";
        }
        if (why) {
            /* the detail is overwritten by the scan below */
            char reason[256];
            snprintf(reason, sizeof reason, "%s", why);
            /* Whole but not believed: torn only as the file's last bytes.
             * Not whole: torn unless a whole record follows. */
            int torn = n > 0 ? pos + (uint64_t)n == size : is_torn_tail(t, path, fd, pos, size);
            if (torn < 0) {
                rc = torn;
                break;
            }
            if (torn) {
                res->torn_at = pos;
                break;
            }
            why = reason;
            rc = sl_err_set(SIGLOG_ECORRUPT, "%s: record %" PRIu64 " at byte %" PRIu64 ": %s", path, res->records,
                         pos, why);
            break;
        }
        if (t->key)
            memcpy(chain, mac, sizeof chain);
        memcpy(res->head_mac, mac, AUDIT_MAC_BYTES);
        res->records++;
        res->end = pos + (uint64_t)n;
        if (fn && (rc = fn(ctx, &r)) != 0)
            break;
    }
    free(buf);
    return rc;
}

static void result_init(audit_result *res)
{
    memset(res, 0, sizeof *res);
    res->torn_at = UINT64_MAX;
}

int sl_audit_read(const audit_trail *t, int (*fn)(void *ctx, const audit_record *r), void *ctx, audit_result *res)
{
    result_init(res);
    char *path = sl_path_join(t->dir, STORE_AUDIT_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int fd = t->io->open_file(t->io, path, IO_READ, 0);
    if (fd == -ENOENT)
        goto out; /* no action was ever recorded */
    if (fd < 0) {
        rc = sl_err_errno(fd, "opening %s", path);
        goto out;
    }
    uint64_t size;
    int r = t->io->file_size(t->io, fd, &size);
    rc = r < 0 ? sl_err_errno(r, "size of %s", path) : read_fd(t, path, fd, size, fn, ctx, res);
    t->io->close_file(t->io, fd);
out:
    free(path);
    return rc;
}

/* ---- appending ---- */

/* The appenders' lock: a descriptor holding an exclusive flock on
 * audit.lock, or a SIGLOG code. */
static int take_lock(const audit_trail *t)
{
    char *path = sl_path_join(t->dir, AUDIT_LOCK_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int fd = t->io->open_file(t->io, path, IO_WRITE | IO_CREATE | IO_LOCK, t->file_mode);
    int rc = fd;
    if (fd < 0) {
        rc = sl_err_errno(fd, "opening %s", path);
        goto out;
    }
    int l = t->io->lock_file(t->io, fd, 0);
    for (int64_t waited = 0; (l == -EWOULDBLOCK || l == -EAGAIN) && waited < AUDIT_LOCK_WAIT_US; waited += 1000) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        l = t->io->lock_file(t->io, fd, 0);
    }
    if (l < 0) {
        t->io->close_file(t->io, fd);
        rc = l == -EWOULDBLOCK || l == -EAGAIN
                 ? sl_err_set(SIGLOG_ELOCKED, "%s: another process has been appending for over %d s", path,
                           AUDIT_LOCK_WAIT_US / 1000000)
                 : sl_err_errno(l, "locking %s", path);
    }
out:
    free(path);
    return rc;
}

/* Who and where, filled in for every record. */
static void fill_origin(const audit_trail *t, audit_record *r, uint64_t seq)
{
    r->seq = seq;
    r->time_us = t->io->now_us(t->io);
    r->pid = (uint32_t)getpid();
    r->uid = (uint32_t)geteuid();
    if (gethostname(r->host, sizeof r->host) != 0)
        r->host[0] = '\0';
    r->host[AUDIT_HOST_MAX] = '\0';
}

/* Under the lock: create the trail if missing, then append. */
static int append_locked(const audit_trail *t, const char *path, audit_record *r)
{
    const siglog_io *io = t->io;
    int is_dir;
    uint64_t size;
    int st = io->stat_path(io, path, &is_dir, &size);
    if (st == -ENOENT) {
        uint8_t hdr[AUDIT_HEADER_BYTES];
        sl_audit_header_encode(hdr, t->store_id, io->now_us(io));
        st = sl_io_replace_file(io, t->dir, path, hdr, sizeof hdr, t->file_mode);
    }
    if (st < 0)
        return sl_err_errno(st, "creating %s", path);
    int fd = io->open_file(io, path, IO_WRITE, 0);
    if (fd < 0)
        return sl_err_errno(fd, "opening %s", path);
    audit_result res;
    result_init(&res);
    int rc = 0;
    int e = io->file_size(io, fd, &size);
    if (e < 0) {
        rc = sl_err_errno(e, "size of %s", path);
        goto out;
    }
    if ((rc = read_fd(t, path, fd, size, NULL, NULL, &res)) != 0)
        goto out;
    /* A torn tail's action never began (audit.h): cut it. */
    if (res.torn_at != UINT64_MAX && (e = io->ftruncate(io, fd, res.end)) < 0) {
        rc = sl_err_errno(e, "cutting the torn tail of %s at byte %" PRIu64, path, res.end);
        goto out;
    }
    fill_origin(t, r, res.records);
    uint8_t buf[AUDIT_RECORD_MAX];
    size_t n = sl_audit_record_encode(buf, r, res.head_mac, t->key);
    if ((e = sl_io_write_all(io, fd, buf, n, res.end)) < 0 || (e = io->fdatasync(io, fd)) < 0)
        rc = sl_err_errno(e, "appending to %s at byte %" PRIu64, path, res.end);
out:
    io->close_file(io, fd);
    return rc;
}

int sl_audit_append(const audit_trail *t, audit_record *r)
{
    if (!t->key)
        return sl_err_set(SIGLOG_EINVAL, "appending to the audit trail needs the store's secret");
    if (strlen(r->stream) > SIGLOG_NAME_MAX || strlen(r->detail) > AUDIT_DETAIL_MAX)
        return sl_err_set(SIGLOG_EINVAL, "audit record: stream or detail too long");
    char *path = sl_path_join(t->dir, STORE_AUDIT_FILE);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int lock = take_lock(t);
    int rc = lock < 0 ? lock : append_locked(t, path, r);
    if (lock >= 0)
        t->io->close_file(t->io, lock);
    free(path);
    return rc;
}
