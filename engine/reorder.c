/*
 * reorder — siglog_reorder: records of several cursors put in event-time
 * order as they arrive, up to a lateness bound (see siglog.h).
 *
 * Records come from a siglog_merge of the cursors, so the order they are
 * read in is the merge's, the same on every run over the same finished
 * input. Each record kept and not late is copied (record_copy.h) into a
 * min-heap by (timestamp, stream name, partition, offset, cursor index);
 * the heap's top is handed out once the watermark passes it.
 *
 * Invariants: the watermark never moves down; every held record has a
 * timestamp at or past it (records below it are handed out before
 * anything more is read); so each record handed out in order is greater
 * than every one handed out in order before it. A late record is handed
 * out straight from the merge, valid until the next merge call, which
 * comes no earlier than the caller's next call.
 *
 * Handing out is two steps, reorder_peek (which record is next, left in
 * place) and reorder_take (it is gone), so that a batch call whose buffer
 * has no room for the next record leaves it for its next call.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "record_copy.h"

#define REORDER_MEMORY_DEFAULT (256ull << 20)
#define REORDER_MEMORY_MIN (1ull << 20)

typedef struct held {
    siglog_record rec; /* points into data */
    size_t src;
    size_t bytes; /* counted against the budget */
    uint8_t *data;
} held;

struct siglog_reorder {
    siglog_reorder_options o;
    siglog_merge *merge;
    const char **names; /* each cursor's stream name */
    held **heap;
    size_t heap_n, heap_cap;
    uint64_t held_bytes;
    int64_t max_seen, watermark;
    held *out; /* handed out by the last call: freed by the next */
    /* Read behind the watermark and not taken yet (points into the
     * merge, which is not called again before it is taken). */
    const siglog_record *late_rec;
    size_t late_src;
    uint64_t late;
    int finished;
    sl_err_later deferred; /* met by a batch call after some records */
};

static int held_less(const siglog_reorder *r, const held *a, const held *b)
{
    if (a->rec.timestamp_us != b->rec.timestamp_us)
        return a->rec.timestamp_us < b->rec.timestamp_us;
    int by_stream = strcmp(r->names[a->src], r->names[b->src]);
    if (by_stream)
        return by_stream < 0;
    if (a->rec.partition != b->rec.partition)
        return a->rec.partition < b->rec.partition;
    if (a->rec.offset != b->rec.offset)
        return a->rec.offset < b->rec.offset;
    return a->src < b->src;
}

static void heap_up(siglog_reorder *r, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!held_less(r, r->heap[i], r->heap[parent]))
            return;
        held *t = r->heap[i];
        r->heap[i] = r->heap[parent];
        r->heap[parent] = t;
        i = parent;
    }
}

static void heap_down(siglog_reorder *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, rt = l + 1, min = i;
        if (l < r->heap_n && held_less(r, r->heap[l], r->heap[min]))
            min = l;
        if (rt < r->heap_n && held_less(r, r->heap[rt], r->heap[min]))
            min = rt;
        if (min == i)
            return;
        held *t = r->heap[i];
        r->heap[i] = r->heap[min];
        r->heap[min] = t;
        i = min;
    }
}

static void held_free(held *h)
{
    if (h) {
        free(h->data);
        free(h);
    }
}

/* Copy rec (read from cursor src) onto the heap. */
static int hold(siglog_reorder *r, const siglog_record *rec, size_t src)
{
    if (r->heap_n == r->heap_cap) {
        size_t cap = r->heap_cap ? 2 * r->heap_cap : 256;
        held **heap = realloc(r->heap, cap * sizeof *heap);
        if (!heap)
            return sl_err_set(SIGLOG_ENOMEM, "siglog_reorder_next: out of memory for %zu held records", cap);
        r->heap = heap;
        r->heap_cap = cap;
    }
    size_t need = sl_record_copy_bytes(rec, 0), used = 0;
    held *h = calloc(1, sizeof *h);
    if (h)
        h->data = malloc(need ? need : 1);
    if (!h || !h->data) {
        held_free(h);
        return sl_err_set(SIGLOG_ENOMEM, "siglog_reorder_next: out of memory holding a record of %zu bytes", need);
    }
    sl_record_copy(rec, &h->rec, h->data, &used);
    h->src = src;
    h->bytes = sizeof *h + sizeof h + need;
    r->held_bytes += h->bytes;
    r->heap[r->heap_n] = h;
    heap_up(r, r->heap_n++);
    return 0;
}

/* The watermark after reading a record at ts: never down. */
static void watermark_see(siglog_reorder *r, int64_t ts)
{
    if (ts > r->max_seen)
        r->max_seen = ts;
    int64_t w = r->max_seen < INT64_MIN + r->o.max_lateness_us ? INT64_MIN : r->max_seen - r->o.max_lateness_us;
    if (w > r->watermark)
        r->watermark = w;
}

SIGLOG_API void siglog_reorder_options_default(siglog_reorder_options *o)
{
    memset(o, 0, sizeof *o);
    o->memory_bytes = REORDER_MEMORY_DEFAULT;
}

SIGLOG_API int siglog_reorder_open(siglog_reorder **out, siglog_cursor *const *cursors, size_t n,
                                   const siglog_reorder_options *o)
{
    sl_err_clear();
    if (!out || (n && !cursors))
        return sl_err_set(SIGLOG_EINVAL, "siglog_reorder_open: out and cursors are required");
    *out = NULL;
    if (o && o->max_lateness_us < 0)
        return sl_err_set(SIGLOG_EINVAL, "siglog_reorder_open: max_lateness_us %lld is negative",
                          (long long)o->max_lateness_us);
    siglog_reorder *r = calloc(1, sizeof *r);
    if (!r)
        return sl_err_set(SIGLOG_ENOMEM, "siglog_reorder_open: out of memory");
    if (o)
        r->o = *o;
    else
        siglog_reorder_options_default(&r->o);
    if (r->o.memory_bytes < REORDER_MEMORY_MIN)
        r->o.memory_bytes = REORDER_MEMORY_MIN;
    r->max_seen = r->watermark = INT64_MIN;
    int rc = siglog_merge_open(&r->merge, cursors, n);
    if (rc == 0 && !(r->names = calloc(n ? n : 1, sizeof *r->names)))
        rc = sl_err_set(SIGLOG_ENOMEM, "siglog_reorder_open: out of memory for %zu cursors", n);
    if (rc != 0) {
        siglog_reorder_close(r);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        r->names[i] = siglog_stream_name(siglog_cursor_stream(cursors[i]));
    *out = r;
    return 0;
}

/* The next record to hand out, left in place: a late record read but not
 * taken, or the heap's top once the watermark passed it (or at the
 * finish, or over the memory budget), or a record read from the merge
 * behind the watermark (late). 1 with *rec, *src and *late; 0 when
 * nothing can go out now; or the merge's error. Calling it again before
 * reorder_take gives the same record. */
static int reorder_peek(siglog_reorder *r, const siglog_record **rec, size_t *src, int *late)
{
    for (;;) {
        if (r->late_rec) {
            *rec = r->late_rec;
            *src = r->late_src;
            *late = 1;
            return 1;
        }
        if (r->held_bytes > r->o.memory_bytes) {
            /* Just past the earliest held: it and its equals go out. */
            int64_t ts = r->heap[0]->rec.timestamp_us;
            r->watermark = ts == INT64_MAX ? ts : ts + 1;
        }
        if (r->heap_n && (r->finished || r->heap[0]->rec.timestamp_us < r->watermark ||
                          r->held_bytes > r->o.memory_bytes)) {
            *rec = &r->heap[0]->rec;
            *src = r->heap[0]->src;
            *late = 0;
            return 1;
        }
        if (r->finished)
            return 0;
        const siglog_record *in;
        size_t from;
        int rc = siglog_merge_next(r->merge, &in, &from);
        if (rc <= 0)
            return rc;
        if (r->o.keep && !r->o.keep(r->o.keep_ctx, in))
            continue;
        if (in->timestamp_us < r->watermark) {
            r->late++;
            r->late_rec = in;
            r->late_src = from;
            continue;
        }
        watermark_see(r, in->timestamp_us);
        if ((rc = hold(r, in, from)) != 0)
            return rc;
    }
}

/* The record reorder_peek gave is handed out: the held copy it was (the
 * caller frees it once done with it), or NULL for a late record. */
static held *reorder_take(siglog_reorder *r)
{
    if (r->late_rec) {
        r->late_rec = NULL;
        return NULL;
    }
    held *h = r->heap[0];
    r->heap[0] = r->heap[--r->heap_n];
    heap_down(r, 0);
    r->held_bytes -= h->bytes;
    return h;
}

SIGLOG_API int siglog_reorder_next(siglog_reorder *r, const siglog_record **rec, size_t *cursor_index, int *late)
{
    sl_err_clear();
    if (!r || !rec)
        return sl_err_set(SIGLOG_EINVAL, "siglog_reorder_next: NULL argument");
    held_free(r->out);
    r->out = NULL;
    if (r->deferred.code)
        return sl_err_take_later(&r->deferred);
    size_t src;
    int is_late, rc = reorder_peek(r, rec, &src, &is_late);
    if (rc != 1)
        return rc;
    r->out = reorder_take(r); /* *rec points into it, or into the merge */
    if (cursor_index)
        *cursor_index = src;
    if (late)
        *late = is_late;
    return 1;
}

SIGLOG_API int siglog_reorder_next_batch(siglog_reorder *r, siglog_record *recs, size_t *cursor_index, int *late,
                                         size_t max, void *buf, size_t buf_len, size_t *buf_used)
{
    sl_err_clear();
    if (!r || !recs || !max || !buf)
        return sl_err_set(SIGLOG_EINVAL, "siglog_reorder_next_batch: reorder, records, max and buffer are required");
    if (max > INT_MAX)
        max = INT_MAX; /* the count is returned as an int */
    held_free(r->out);
    r->out = NULL;
    if (r->deferred.code)
        return sl_err_take_later(&r->deferred);
    size_t used = 0, n = 0;
    int rc = 0;
    while (n < max) {
        const siglog_record *in;
        size_t src;
        int is_late;
        rc = reorder_peek(r, &in, &src, &is_late);
        if (rc <= 0)
            break;
        size_t need = sl_record_copy_bytes(in, used);
        if (need > buf_len - used) {
            rc = 0; /* it stays the next one */
            if (n == 0) {
                used = need;
                rc = sl_err_set(SIGLOG_ETOOBIG,
                                "siglog_reorder_next_batch: the record at offset %" PRIu64
                                " needs %zu bytes, the buffer has %zu",
                                in->offset, need, buf_len);
            }
            break;
        }
        sl_record_copy(in, &recs[n], buf, &used);
        if (cursor_index)
            cursor_index[n] = src;
        if (late)
            late[n] = is_late;
        n++;
        held_free(reorder_take(r));
    }
    if (rc < 0 && n > 0)
        sl_err_put_off(&r->deferred, rc);
    if (buf_used)
        *buf_used = used;
    return n > 0 ? (int)n : rc;
}

SIGLOG_API void siglog_reorder_finish(siglog_reorder *r)
{
    if (r)
        r->finished = 1;
}

SIGLOG_API uint64_t siglog_reorder_late_count(const siglog_reorder *r)
{
    return r ? r->late : 0;
}

SIGLOG_API void siglog_reorder_close(siglog_reorder *r)
{
    if (!r)
        return;
    held_free(r->out);
    for (size_t i = 0; i < r->heap_n; i++)
        held_free(r->heap[i]);
    free(r->heap);
    free(r->names);
    siglog_merge_close(r->merge);
    free(r);
}
