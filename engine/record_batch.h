/*
 * record_batch — the loop behind siglog_cursor_next_batch and
 * siglog_sort_next_batch: records taken one at a time from a source (a
 * cursor, a sort) and copied one after another into the caller's records
 * and buffer (record_copy.h), until the batch is full.
 *
 * Inline, so that each caller's source calls stay direct calls on the
 * batch path a Python iteration runs.
 */
#ifndef SIGLOG_RECORD_BATCH_H
#define SIGLOG_RECORD_BATCH_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "record_copy.h"

/* Where a batch's records come from. next gives the next record (1), the
 * end (0) or an error (< 0), with *idx what the source says of it (a sort:
 * the cursor it came from); unread hands the record next gave last back,
 * so that the next call gives it again. */
typedef struct record_source {
    void *ctx;
    int (*next)(void *ctx, const siglog_record **r, size_t *idx);
    void (*unread)(void *ctx);
    const char *call; /* the API call filling the batch, named in its error */
} record_source;

/* Copy records of src into recs[0..max) and buf[0..buf_len) (index[i],
 * when index is not NULL, the idx of recs[i]) until max are copied, the
 * source ends or fails, or a record does not fit: that one is handed back
 * and, when it would be the first, the answer is SIGLOG_ETOOBIG naming it
 * with *used the bytes it needs. Returns the source's last answer (1 when
 * stopped by max or by a record that did not fit after others); *n the
 * records copied, *used the buffer's bytes they take. */
static inline int sl_record_batch_fill(const record_source *src, siglog_record *recs, size_t *index, size_t max,
                                       uint8_t *buf, size_t buf_len, size_t *used, size_t *n)
{
    *used = 0;
    *n = 0;
    int rc = 0;
    while (*n < max) {
        const siglog_record *r;
        size_t idx = 0;
        rc = src->next(src->ctx, &r, &idx);
        if (rc <= 0)
            break;
        size_t need = sl_record_copy_bytes(r, *used);
        if (need > buf_len - *used) {
            src->unread(src->ctx);
            if (*n == 0) {
                *used = need;
                rc = sl_err_set(SIGLOG_ETOOBIG, "%s: the record at offset %" PRIu64 " needs %zu bytes, the buffer has %zu",
                                src->call, r->offset, need, buf_len);
            }
            break;
        }
        if (index)
            index[*n] = idx;
        sl_record_copy(r, &recs[(*n)++], buf, used);
    }
    return rc;
}

#endif
