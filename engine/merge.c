/*
 * merge — a time-ordered merge of several cursors, built on the public
 * cursor API only.
 *
 * Each input cursor is in one of three states:
 *   HEAD  it has produced a record that the merge has not handed out yet,
 *         or the record handed out last (see `pending`); the record stays
 *         valid because the merge does not call the cursor again until
 *         that record has been returned and the caller called again;
 *   NEED  it failed: it must be asked for a record again before the merge
 *         can choose (also every input before the first call);
 *   DRAIN it said "nothing more for now" (siglog_cursor_next returned 0).
 *
 * A binary min-heap holds the cursors in state HEAD, each entry carrying
 * its record's sort key by value: (timestamp, stream rank, partition,
 * offset, input index). The stream rank is the order of the cursor's
 * stream name among the inputs' names, worked out once at open, so a tie
 * in time (every event of one append call shares its timestamp) costs
 * integer compares, not a name comparison through two calls per compare.
 *
 * The record returned last belongs to the cursor in `pending`, whose
 * entry stays at the top of the heap: the next call asks that cursor
 * first and puts its new key in place of the old one with one sift down
 * (a pop and a push would sift twice). So the "valid until the next call"
 * promise of the cursor API holds while the merge never holds more than
 * one record per cursor.
 *
 * Invariant: every record of a cursor has been returned in order before its
 * next one is read, so the merge is exact among the records readable when
 * they are merged. A DRAIN cursor is asked again only once the heap is empty
 * (every input has caught up), so a merge of non-following cursors costs one
 * extra call per cursor at the very end, and a merge of following cursors
 * picks up new events each time it catches up. `need` counts the inputs in
 * state NEED, so a call with none of them looks at no other input.
 */
#include "error.h"

#include <stdlib.h>
#include <string.h>

enum merge_state { MERGE_NEED, MERGE_HEAD, MERGE_DRAIN };

typedef struct merge_input {
    siglog_cursor *cursor;
    const siglog_record *head;
    uint32_t rank; /* order of the cursor's stream name among the inputs' */
    enum merge_state state;
} merge_input;

typedef struct merge_key {
    int64_t timestamp_us;
    uint32_t rank;
    uint32_t partition;
    uint64_t offset;
    size_t in; /* index into in[]; last tie-breaker */
} merge_key;

struct siglog_merge {
    merge_input *in;
    size_t n;
    merge_key *heap; /* min-heap by key_less of the inputs in state HEAD */
    size_t heap_n;
    size_t pending; /* input whose record was returned last (heap[0]), or n */
    size_t need;    /* inputs in state NEED */
};

static int key_less(const merge_key *a, const merge_key *b)
{
    if (a->timestamp_us != b->timestamp_us)
        return a->timestamp_us < b->timestamp_us;
    if (a->rank != b->rank)
        return a->rank < b->rank;
    if (a->partition != b->partition)
        return a->partition < b->partition;
    if (a->offset != b->offset)
        return a->offset < b->offset;
    return a->in < b->in;
}

static merge_key key_of(const siglog_merge *m, size_t i)
{
    const siglog_record *r = m->in[i].head;
    return (merge_key){ .timestamp_us = r->timestamp_us, .rank = m->in[i].rank, .partition = r->partition,
                        .offset = r->offset, .in = i };
}

/* The entry at i moved up the heap to where it belongs. */
static void merge_sift_up(siglog_merge *m, size_t i)
{
    merge_key k = m->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!key_less(&k, &m->heap[parent]))
            break;
        m->heap[i] = m->heap[parent];
        i = parent;
    }
    m->heap[i] = k;
}

/* The entry at i moved down the heap to where it belongs. */
static void merge_sift_down(siglog_merge *m, size_t i)
{
    merge_key k = m->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = l;
        if (l >= m->heap_n)
            break;
        if (r < m->heap_n && key_less(&m->heap[r], &m->heap[l]))
            min = r;
        if (!key_less(&m->heap[min], &k))
            break;
        m->heap[i] = m->heap[min];
        i = min;
    }
    m->heap[i] = k;
}

static void merge_pop_top(siglog_merge *m)
{
    m->heap[0] = m->heap[--m->heap_n];
    if (m->heap_n)
        merge_sift_down(m, 0);
}

/* Ask input i (in state NEED or DRAIN, not on the heap) for its next
 * record; on a record, push it on the heap. */
static int merge_refill(siglog_merge *m, size_t i)
{
    merge_input *in = &m->in[i];
    int rc = siglog_cursor_next(in->cursor, &in->head);
    enum merge_state was = in->state;
    in->state = rc < 0 ? MERGE_NEED : rc == 0 ? MERGE_DRAIN : MERGE_HEAD;
    m->need += (in->state == MERGE_NEED) - (was == MERGE_NEED);
    if (rc < 0)
        return rc; /* retried on the next call */
    if (rc == 1) {
        m->heap[m->heap_n] = key_of(m, i);
        merge_sift_up(m, m->heap_n++);
    }
    return 0;
}

/* Ask the pending input, whose entry is the heap's top, for its next
 * record: the new key takes the top's place, or the entry leaves the heap. */
static int merge_refill_pending(siglog_merge *m)
{
    size_t i = m->pending;
    merge_input *in = &m->in[i];
    m->pending = m->n;
    int rc = siglog_cursor_next(in->cursor, &in->head);
    if (rc == 1) {
        m->heap[0] = key_of(m, i);
        merge_sift_down(m, 0);
        return 0;
    }
    merge_pop_top(m);
    in->state = rc < 0 ? MERGE_NEED : MERGE_DRAIN;
    m->need += rc < 0;
    return rc < 0 ? rc : 0;
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

typedef struct merge_name {
    const char *name;
    size_t in;
} merge_name;

static int merge_name_cmp(const void *a, const void *b)
{
    return strcmp(((const merge_name *)a)->name, ((const merge_name *)b)->name);
}

/* Each input's rank: inputs of equally named streams share one, and the
 * ranks order as the names do under strcmp. */
static int merge_rank_streams(siglog_merge *m)
{
    merge_name *by_name = calloc(m->n ? m->n : 1, sizeof *by_name);
    if (!by_name)
        return -1;
    for (size_t i = 0; i < m->n; i++)
        by_name[i] = (merge_name){ siglog_stream_name(siglog_cursor_stream(m->in[i].cursor)), i };
    qsort(by_name, m->n, sizeof *by_name, merge_name_cmp);
    uint32_t rank = 0;
    for (size_t k = 0; k < m->n; k++) {
        if (k > 0 && strcmp(by_name[k - 1].name, by_name[k].name) != 0)
            rank++;
        m->in[by_name[k].in].rank = rank;
    }
    free(by_name);
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
    m->need = n;
    m->in = calloc(n ? n : 1, sizeof *m->in);
    m->heap = calloc(n ? n : 1, sizeof *m->heap);
    /* Inputs start in NEED and are first read by siglog_merge_next, so
     * opening a merge never fails on a cursor's read error. */
    for (size_t i = 0; m->in && i < n; i++)
        m->in[i] = (merge_input){ .cursor = cursors[i], .state = MERGE_NEED };
    if (!m->in || !m->heap || merge_rank_streams(m) != 0) {
        siglog_merge_close(m);
        return sl_err_set(SIGLOG_ENOMEM, "siglog_merge_open: out of memory for %zu cursors", n);
    }
    *out = m;
    return 0;
}

SIGLOG_API int siglog_merge_next(siglog_merge *m, const siglog_record **rec, size_t *stream_index)
{
    sl_err_clear();
    if (!m || !rec)
        return sl_err_set(SIGLOG_EINVAL, "siglog_merge_next: NULL argument");
    int rc = 0;
    if (m->pending < m->n)
        rc = merge_refill_pending(m);
    if (rc == 0 && m->need)
        rc = merge_refill_all(m, MERGE_NEED);
    if (rc < 0)
        return rc;
    if (m->heap_n == 0) {
        rc = merge_refill_all(m, MERGE_DRAIN);
        if (rc < 0)
            return rc;
        if (m->heap_n == 0)
            return 0;
    }
    size_t i = m->heap[0].in;
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
