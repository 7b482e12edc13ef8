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
#include <limits.h>

#include "cursor.h"
#include "error.h"
#include "record_batch.h"

static int cursor_source_next(void *ctx, const siglog_record **r, size_t *idx)
{
    (void)idx;
    return siglog_cursor_next(ctx, r);
}

static void cursor_source_unread(void *ctx)
{
    sl_cursor_unread(ctx);
}

SIGLOG_API int siglog_cursor_next_batch(siglog_cursor *c, siglog_record *recs, size_t max, void *buf, size_t buf_len,
                                        size_t *buf_used)
{
    sl_err_clear();
    if (!c || !recs || !max || !buf)
        return sl_err_set(SIGLOG_EINVAL, "siglog_cursor_next_batch: cursor, records, max and buffer are required");
    if (max > INT_MAX)
        max = INT_MAX; /* the count is returned as an int */
    const record_source src = { c, cursor_source_next, cursor_source_unread, "siglog_cursor_next_batch" };
    size_t used, n;
    int rc = sl_record_batch_fill(&src, recs, NULL, max, buf, buf_len, &used, &n);
    if (rc < 0 && n > 0 && rc != SIGLOG_ETOOBIG)
        sl_cursor_defer_error(c, rc);
    if (buf_used)
        *buf_used = used;
    return n > 0 ? (int)n : rc;
}
