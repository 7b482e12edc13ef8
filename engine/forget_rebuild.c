/*
 * forget_rebuild — a forget's re-encoding of an archive's kept records,
 * streamed; see forget_rebuild.h.
 */
#include "forget_rebuild.h"

#include <inttypes.h>
#include <stdlib.h>

#include "error.h"

void sl_forget_rebuild_init(forget_rebuild *rb, compact_keep_fn keep, void *arg, const forget_rebuild_out *out)
{
    *rb = (forget_rebuild){.keep = keep, .arg = arg, .out = *out};
    sl_batch_builder_init(&rb->b);
}

void sl_forget_rebuild_unit(forget_rebuild *rb, uint64_t base)
{
    if (!rb->started)
        rb->first = base;
    rb->started = 1;
    rb->unit_base = base;
    rb->unit_new = 1;
}

/* The open batch sealed, covering offsets up to last, and given out. */
static int seal_open(forget_rebuild *rb, uint64_t last)
{
    batch_meta meta;
    batch_header h;
    rb->sealed.len = 0;
    rb->open = 0;
    int rc = sl_batch_builder_cover(&rb->b, last);
    if (!rc)
        rc = sl_batch_builder_seal(&rb->b, SIGLOG_COMPRESSION_NONE, &rb->sealed, &meta);
    if (!rc)
        rc = sl_batch_header_decode(rb->sealed.data, &h);
    return rc ? rc : rb->out.batch(rb->out.ctx, &h, rb->sealed.data + BATCH_HEADER_BYTES);
}

/* Pass one over batch h: keep()'s verdict per record; *kept counts the
 * records that stay. */
static int judge(forget_rebuild *rb, const batch_header *h, const uint8_t *body, uint32_t *kept)
{
    if (rb->verdict_cap < h->record_count) {
        uint8_t *v = realloc(rb->verdict, h->record_count);
        if (!v)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        rb->verdict = v;
        rb->verdict_cap = h->record_count;
    }
    batch_iter it;
    siglog_record r;
    uint32_t n = 0;
    *kept = 0;
    int rc = sl_batch_iter_init(&it, h, body, &rb->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        rc = 0;
        if (n == h->record_count)
            return sl_err_set(SIGLOG_ECORRUPT, "a batch at offset %" PRIu64 " holds more records than it says",
                              h->base_offset);
        int k = rb->keep(rb->arg, &r);
        if (k < 0)
            return k;
        rb->verdict[n++] = (uint8_t)(k != 0);
        *kept += k != 0;
    }
    rb->records_in += n;
    return rc;
}

/* Where the output batch of input batch h (which keeps a record)
 * starts, the batch before it sealed and, at a unit's first kept record,
 * the segment before it ended and the unit's begun (forget_rebuild.h). */
static int place(forget_rebuild *rb, const batch_header *h, uint64_t *start)
{
    int rc = 0;
    if (!rb->in_segment) {
        *start = rb->first; /* the emptied units before it join it */
        rb->seg_base = rb->first;
        rb->in_segment = 1;
        rc = rb->out.begin(rb->out.ctx, rb->first);
    } else if (rb->unit_new) {
        *start = rb->unit_base; /* its emptied batches before join it */
        if ((rc = seal_open(rb, rb->unit_base - 1)) == 0 &&
            (rc = rb->out.end(rb->out.ctx, rb->seg_base, rb->unit_base)) == 0)
            rc = rb->out.begin(rb->out.ctx, rb->unit_base);
        rb->seg_base = rb->unit_base;
    } else {
        *start = h->base_offset;
        rc = seal_open(rb, h->base_offset - 1);
    }
    rb->unit_new = 0;
    return rc;
}

/* Pass two: the kept records of batch h into a batch of their own. */
static int rebuild(forget_rebuild *rb, const batch_header *h, const uint8_t *body)
{
    uint64_t start;
    int rc = place(rb, h, &start);
    if (rc)
        return rc;
    sl_batch_builder_reset(&rb->b, start, 0);
    rb->open = 1;
    batch_iter it;
    siglog_record r;
    uint32_t n = 0;
    rc = sl_batch_iter_init(&it, h, body, &rb->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        rc = 0;
        if (!rb->verdict[n++])
            continue;
        siglog_event ev = {.key = r.key, .key_len = r.key_len, .value = r.value, .value_len = r.value_len,
                           .schema_version = r.schema_version, .flags = r.flags, .headers = r.headers,
                           .header_count = r.header_count};
        if ((rc = sl_batch_builder_add_at(&rb->b, &ev, r.timestamp_us, r.offset)) != 0)
            return rc;
        rb->records++;
    }
    return rc;
}

int sl_forget_rebuild_batch(forget_rebuild *rb, const batch_header *h, const uint8_t *body)
{
    uint32_t kept;
    int rc = judge(rb, h, body, &kept);
    return rc || kept == 0 ? rc : rebuild(rb, h, body);
}

int sl_forget_rebuild_end(forget_rebuild *rb, uint64_t end)
{
    if (!rb->in_segment)
        return COMPACT_NOTHING_KEPT;
    int rc = seal_open(rb, end - 1);
    rb->in_segment = 0;
    return rc ? rc : rb->out.end(rb->out.ctx, rb->seg_base, end);
}

void sl_forget_rebuild_free(forget_rebuild *rb)
{
    sl_batch_builder_free(&rb->b);
    sl_bytebuf_free(&rb->sealed);
    sl_bytebuf_free(&rb->scratch);
    free(rb->verdict);
}
