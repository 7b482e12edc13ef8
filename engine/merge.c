/*
 * merge — a time-ordered merge of several cursors, built on the public
 * cursor API only.
 *
 * Each input cursor is in one of three states:
 *   HEAD  it has produced a record that the merge has not handed out yet;
 *         the record stays valid because the merge does not call the cursor
 *         again until that record has been returned;
 *   NEED  its last record was handed out (or it failed): it must be asked
 *         for the next one before the merge can choose;
 *   DRAIN it said "nothing more for now" (siglog_cursor_next returned 0).
 *
 * A binary min-heap holds the cursors in state HEAD, ordered by
 * (timestamp, stream name, partition, offset, input index). The record last returned
 * belongs to the cursor in `pending`: the next call refills that cursor
 * first, which keeps the "valid until the next call" promise of the cursor
 * API while never holding more than one record per cursor.
 *
 * Invariant: every record of a cursor has been returned in order before its
 * next one is read, so the merge is exact among the records readable when
 * they are merged. A DRAIN cursor is asked again only once the heap is empty
 * (every input has caught up), so a merge of non-following cursors costs one
 * extra call per cursor at the very end, and a merge of following cursors
 * picks up new events each time it catches up.

 */
#include "error.h"

#include <stdlib.h>
#include <string.h>

enum merge_state { MERGE_NEED, MERGE_HEAD, MERGE_DRAIN };

typedef struct merge_input {
    siglog_cursor *cursor;
    const siglog_record *head;
    enum merge_state state;
} merge_input;

struct siglog_merge {
    merge_input *in;
    size_t n;
    size_t *heap;  /* indexes into in[], min-heap by merge_less */
    size_t heap_n;
    size_t pending; /* input whose record was returned last, or n */
};

static int merge_less(const siglog_merge *m, size_t a, size_t b)
{
    const siglog_record *ra = m->in[a].head, *rb = m->in[b].head;
    if (ra->timestamp_us != rb->timestamp_us)
        return ra->timestamp_us < rb->timestamp_us;
    int by_stream = strcmp(siglog_stream_name(siglog_cursor_stream(m->in[a].cursor)),
                           siglog_stream_name(siglog_cursor_stream(m->in[b].cursor)));
    if (by_stream)
        return by_stream < 0;
    if (ra->partition != rb->partition)
        return ra->partition < rb->partition;
    if (ra->offset != rb->offset)
        return ra->offset < rb->offset;
    return a < b;
}

static void merge_swap(siglog_merge *m, size_t i, size_t j)
{
    size_t t = m->heap[i];
    m->heap[i] = m->heap[j];
    m->heap[j] = t;
}

static void merge_sift_up(siglog_merge *m, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!merge_less(m, m->heap[i], m->heap[parent]))
            break;
        merge_swap(m, i, parent);
        i = parent;
    }
}

static void merge_sift_down(siglog_merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->heap_n && merge_less(m, m->heap[l], m->heap[min]))
            min = l;
        if (r < m->heap_n && merge_less(m, m->heap[r], m->heap[min]))
            min = r;
        if (min == i)
            return;
        merge_swap(m, i, min);
        i = min;
    }
}

/* Ask input i for its next record; on a record, push it on the heap. */
static int merge_refill(siglog_merge *m, size_t i)
{
    merge_input *in = &m->in[i];
    int rc = siglog_cursor_next(in->cursor, &in->head);
    if (rc < 0) {
        in->state = MERGE_NEED; /* retried on the next call */
        return rc;
    }
    if (rc == 0) {
        in->state = MERGE_DRAIN;
        return 0;
    }
    in->state = MERGE_HEAD;
    m->heap[m->heap_n] = i;
    merge_sift_up(m, m->heap_n++);
    return 0;
}

/* Refill every input in state `which`; stops at the first error. */
static int merge_refill_all(siglog_merge *m, enum merge_state which)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->in[i].state != which)
            continue;
        int rc = merge_refill(m, i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

SIGLOG_API int siglog_merge_open(siglog_merge **out, siglog_cursor *const *cursors, size_t n)
{
    sl_err_clear();
    if (!out || (!cursors && n > 0))
        return sl_err_set(SIGLOG_EINVAL, "siglog_merge_open: NULL argument");
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (!cursors[i])
            return sl_err_set(SIGLOG_EINVAL, "siglog_merge_open: cursor %zu is NULL", i);
    siglog_merge *m = calloc(1, sizeof *m);
    if (!m)
        return sl_err_set(SIGLOG_ENOMEM, "siglog_merge_open: out of memory for %zu cursors", n);
    m->n = n;
    m->pending = n;
    m->in = calloc(n ? n : 1, sizeof *m->in);
    m->heap = calloc(n ? n : 1, sizeof *m->heap);
    if (!m->in || !m->heap) {
        siglog_merge_close(m);
        return sl_err_set(SIGLOG_ENOMEM, "siglog_merge_open: out of memory for %zu cursors", n);
    }
    /* Inputs start in NEED and are first read by siglog_merge_next, so
     * opening a merge never fails on a cursor's read error. */
    for (size_t i = 0; i < n; i++)
        m->in[i] = (merge_input){ .cursor = cursors[i], .state = MERGE_NEED };
    *out = m;
    return 0;
}

SIGLOG_API int siglog_merge_next(siglog_merge *m, const siglog_record **rec, size_t *stream_index)
{
    sl_err_clear();
    if (!m || !rec)
        return sl_err_set(SIGLOG_EINVAL, "siglog_merge_next: NULL argument");
    if (m->pending < m->n) {
        m->in[m->pending].state = MERGE_NEED;
        m->pending = m->n;
    }
    int rc = merge_refill_all(m, MERGE_NEED);
    if (rc < 0)
        return rc;
    if (m->heap_n == 0) {
        rc = merge_refill_all(m, MERGE_DRAIN);
        if (rc < 0)
            return rc;
        if (m->heap_n == 0)
            return 0;
    }
    size_t i = m->heap[0];
    m->heap[0] = m->heap[--m->heap_n];
    merge_sift_down(m, 0);
    m->pending = i;
    *rec = m->in[i].head;
    if (stream_index)
        *stream_index = i;
    return 1;
}

SIGLOG_API void siglog_merge_close(siglog_merge *m)
{
    if (!m)
        return;
    free(m->in);
    free(m->heap);
    free(m);
}
