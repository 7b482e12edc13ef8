/*
 * forget_rebuild — a forget's re-encoding of an archive's kept records;
 * see forget_rebuild.h.
 */
#include "forget_rebuild.h"

#include <inttypes.h>
#include <stdlib.h>

#include "error.h"

void sl_forget_rebuild_init(forget_rebuild *rb, compact_keep_fn keep, void *arg, int compression, uint64_t base)
{
    *rb = (forget_rebuild){.keep = keep, .arg = arg, .compression = compression, .base = base, .max_ts = INT64_MIN};
    sl_batch_builder_init(&rb->b);
}

/* The open batch sealed, covering offsets up to last. */
static int seal_open(forget_rebuild *cb, uint64_t last)
{
    batch_meta meta;
    int rc = sl_batch_builder_cover(&cb->b, last);
    if (!rc)
        rc = sl_batch_builder_seal(&cb->b, cb->compression, &cb->data, &meta);
    cb->open = 0;
    return rc;
}

/* Pass one over batch h: keep()'s verdict per record; *kept counts the
 * records that stay. */
static int judge(forget_rebuild *cb, const batch_header *h, const uint8_t *body, uint32_t *kept)
{
    if (cb->verdict_cap < h->record_count) {
        uint8_t *v = realloc(cb->verdict, h->record_count);
        if (!v)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        cb->verdict = v;
        cb->verdict_cap = h->record_count;
    }
    batch_iter it;
    siglog_record r;
    uint32_t n = 0;
    *kept = 0;
    int rc = sl_batch_iter_init(&it, h, body, &cb->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        rc = 0;
        if (n == h->record_count)
            return sl_err_set(SIGLOG_ECORRUPT, "a batch at offset %" PRIu64 " holds more records than it says",
                              h->base_offset);
        int k = cb->keep(cb->arg, &r);
        if (k < 0)
            return k;
        cb->verdict[n++] = (uint8_t)(k != 0);
        *kept += k != 0;
    }
    cb->records_in += n;
    return rc;
}

/* Pass two: the kept records of batch h into a batch of their own, which
 * covers h's range from its start (or from the output's start, when the
 * batches before were emptied). */
static int rebuild(forget_rebuild *cb, const batch_header *h, const uint8_t *body)
{
    int rc = cb->open ? seal_open(cb, h->base_offset - 1) : 0;
    if (rc)
        return rc;
    sl_batch_builder_reset(&cb->b, cb->data.len ? h->base_offset : cb->base, 0);
    cb->open = 1;
    batch_iter it;
    siglog_record r;
    uint32_t n = 0;
    rc = sl_batch_iter_init(&it, h, body, &cb->scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        rc = 0;
        if (!cb->verdict[n++])
            continue;
        siglog_event ev = {.key = r.key, .key_len = r.key_len, .value = r.value, .value_len = r.value_len,
                           .schema_version = r.schema_version, .flags = r.flags, .headers = r.headers,
                           .header_count = r.header_count};
        if ((rc = sl_batch_builder_add_at(&cb->b, &ev, r.timestamp_us, r.offset)) != 0 ||
            (rc = sl_catalog_segment_insert_version(&cb->kept, r.schema_version)) < 0)
            return rc;
        rc = 0; /* 1: the version was new */
        if (cb->records++ == 0)
            cb->first_ts = r.timestamp_us;
        if (r.timestamp_us > cb->max_ts)
            cb->max_ts = r.timestamp_us;
    }
    return rc;
}

int sl_forget_rebuild_batch(forget_rebuild *cb, const batch_header *h, const uint8_t *body)
{
    uint32_t kept;
    int rc = judge(cb, h, body, &kept);
    return rc || kept == 0 ? rc : rebuild(cb, h, body);
}

void sl_forget_rebuild_free(forget_rebuild *cb)
{
    sl_batch_builder_free(&cb->b);
    sl_bytebuf_free(&cb->data);
    sl_bytebuf_free(&cb->scratch);
    free(cb->verdict);
}

int sl_forget_rebuild_end(forget_rebuild *rb, uint64_t end)
{
    int rc = rb->open ? seal_open(rb, end - 1) : 0;
    return rc ? rc : rb->records ? 0 : COMPACT_NOTHING_KEPT;
}

int sl_forget_rebuild_encode(const forget_rebuild *rb, archive_meta *am, uint64_t end, bytebuf *out)
{
    archive_segment seg = {.base_offset = rb->base, .end_offset = end, .record_count = rb->records,
                           .bytes = rb->data.len, .max_timestamp_us = rb->max_ts};
    return sl_archive_encode(am, &seg, 1, rb->data.data, rb->data.len, out);
}

int sl_forget_rebuild_write(const forget_rebuild *rb, archive_meta *am, uint64_t end, const siglog_io *io,
                            const char *dir, const char *path, uint32_t mode, uint64_t *bytes)
{
    bytebuf out = {0};
    int rc = sl_forget_rebuild_encode(rb, am, end, &out);
    if (!rc && (rc = sl_io_replace_file(io, dir, path, out.data, out.len, mode)) < 0)
        rc = sl_err_errno(rc, "writing %s", path);
    archive_file f = {.fd = -1};
    if (!rc && (rc = sl_archive_file_open(&f, io, path)) != 0)
        rc = sl_err_set(rc, "reading back %s: %s", path, siglog_errdetail());
    else if (!rc) {
        if (f.view.meta.record_count != rb->records || f.len != out.len)
            rc = sl_err_set(SIGLOG_EIO, "%s reads back %" PRIu64 " records in %" PRIu64 " bytes, not %" PRIu64
                            " in %zu", path, f.view.meta.record_count, f.len, rb->records, out.len);
        sl_archive_file_close(&f);
    }
    *bytes = out.len;
    sl_bytebuf_free(&out);
    return rc;
}
