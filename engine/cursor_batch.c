/*
 * cursor_batch — siglog_cursor_next_batch: many records per call, each
 * copied with its key, value and headers into the caller's buffer, so a
 * program crossing a foreign-function boundary (the Python module) pays
 * that crossing once per batch instead of once per record.
 *
 * Layout in the buffer, per record in delivery order: its siglog_header
 * array (aligned for it), then the key, the value and each header's key
 * and value bytes. Nothing points outside the buffer, so the records
 * outlive the cursor's next read and its close.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdalign.h>
#include <string.h>

#include "cursor.h"
#include "error.h"

static size_t align_up(size_t n)
{
    size_t a = alignof(siglog_header);
    return (n + a - 1) / a * a;
}

/* Bytes r takes in the buffer when the buffer has `used` bytes in use. */
static size_t record_bytes(const siglog_record *r, size_t used)
{
    size_t n = align_up(used) - used + (size_t)r->header_count * sizeof(siglog_header) + r->key_len + r->value_len;
    for (uint32_t i = 0; i < r->header_count; i++)
        n += (size_t)r->headers[i].key_len + r->headers[i].value_len;
    return n;
}

static const void *copy_bytes(uint8_t *buf, size_t *used, const void *p, size_t n)
{
    if (!n)
        return NULL;
    uint8_t *to = buf + *used;
    memcpy(to, p, n);
    *used += n;
    return to;
}

/* Copy r into recs[] and buf at *used (record_bytes says it fits). */
static void copy_record(const siglog_record *r, siglog_record *out, uint8_t *buf, size_t *used)
{
    *out = *r;
    *used = align_up(*used);
    siglog_header *h = (siglog_header *)(void *)(buf + *used);
    *used += (size_t)r->header_count * sizeof(siglog_header);
    out->headers = r->header_count ? h : NULL;
    out->key = copy_bytes(buf, used, r->key, r->key_len);
    out->value = copy_bytes(buf, used, r->value, r->value_len);
    if (r->value_len == 0)
        out->value = buf + *used; /* an empty value is still a value */
    for (uint32_t i = 0; i < r->header_count; i++) {
        h[i] = r->headers[i];
        h[i].key = copy_bytes(buf, used, r->headers[i].key, r->headers[i].key_len);
        h[i].value = copy_bytes(buf, used, r->headers[i].value, r->headers[i].value_len);
    }
}

SIGLOG_API int siglog_cursor_next_batch(siglog_cursor *c, siglog_record *recs, size_t max, void *buf, size_t buf_len,
                                        size_t *buf_used)
{
    sl_err_clear();
    if (!c || !recs || !max || !buf)
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_next_batch: cursor, records, max and buffer are required");
    if (max > INT_MAX)
        max = INT_MAX; /* the count is returned as an int */
    size_t used = 0, n = 0;
    int rc = 0;
    while (n < max) {
        const siglog_record *r;
        rc = siglog_cursor_next(c, &r);
        if (rc <= 0)
            break;
        size_t need = record_bytes(r, used);
        if (need > buf_len - used) {
            sl_cursor_unread(c);
            if (n == 0) {
                used = need;
                rc = sl_err_set(SIGLOG_ETOOBIG,
                             "siglog_cursor_next_batch: the record at offset %" PRIu64 " needs %zu bytes, the buffer has %zu",
                             r->offset, need, buf_len);
            }
            break;
        }
        copy_record(r, &recs[n++], buf, &used);
    }
    if (rc < 0 && n > 0 && rc != SIGLOG_ETOOBIG)
        sl_cursor_defer_error(c, rc);
    if (buf_used)
        *buf_used = used;
    return n > 0 ? (int)n : rc;
}
