/*
 * cursor_batch — siglog_cursor_next_batch: many records per call, each
 * copied with its key, value and headers into the caller's buffer, so a
 * program crossing a foreign-function boundary (the Python module) pays
 * that crossing once per batch instead of once per record.
 *
 * The records are copied one after another in delivery order
 * (record_copy.h): nothing points outside the buffer, so they outlive the
 * cursor's next read and its close.
 */
#include <inttypes.h>
#include <limits.h>

#include "cursor.h"
#include "error.h"
#include "record_copy.h"

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
        size_t need = sl_record_copy_bytes(r, used);
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
        sl_record_copy(r, &recs[n++], buf, &used);
    }
    if (rc < 0 && n > 0 && rc != SIGLOG_ETOOBIG)
        sl_cursor_defer_error(c, rc);
    if (buf_used)
        *buf_used = used;
    return n > 0 ? (int)n : rc;
}
