/*
 * rewrite_gaps — see rewrite_gaps.h.
 */
#include "rewrite_gaps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "error.h"

/* The rewritten segment while it is being built: the batch being filled
 * (`open`, when it holds records), and where the range not yet given to a
 * batch starts. */
typedef struct rewriter {
    segment *out;
    int compression;
    batch_builder open;
    bytebuf sealed;
    uint64_t uncovered; /* first offset no built batch covers yet */
} rewriter;

/* Seal the open batch into the new segment. */
static int flush_open(rewriter *w)
{
    if (w->open.record_count == 0)
        return 0;
    batch_meta meta;
    w->sealed.len = 0;
    int rc = sl_batch_builder_seal(&w->open, w->compression, &w->sealed, &meta);
    if (!rc)
        rc = sl_segment_append(w->out, w->sealed.data, w->sealed.len, &meta, 1);
    w->uncovered = batch_meta_end_offset(&meta);
    w->open.record_count = 0;
    return rc;
}

/* One batch of the old segment: its surviving records, over its range. */
static int rewrite_batch(rewriter *w, const batch_header *h, const uint8_t *body, bytebuf *scratch,
                         rewrite_drop_fn drop, void *arg, uint64_t *dropped)
{
    batch_iter it;
    siglog_record r;
    int rc = sl_batch_iter_init(&it, h, body, scratch), started = 0;
    while (rc == 0 && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        rc = 0;
        if (drop(arg, r.offset)) {
            ++*dropped;
            continue;
        }
        if (!started) {
            /* A batch with survivors starts its own: the one before is
             * complete (its range ends where this one's begins). */
            if ((rc = flush_open(w)) != 0)
                return rc;
            sl_batch_builder_reset(&w->open, w->uncovered, 0);
            started = 1;
        }
        siglog_event ev = {
            .key = r.key, .key_len = r.key_len,
            .value = r.value, .value_len = r.value_len,
            .schema_version = r.schema_version,
            .flags = r.flags,
            .headers = r.headers, .header_count = r.header_count,
        };
        rc = sl_batch_builder_add_at(&w->open, &ev, r.timestamp_us, r.offset);
    }
    if (rc)
        return rc;
    /* The range of a batch left empty goes to the open batch before it;
     * with none, `uncovered` stays put and the next batch takes it. */
    return w->open.record_count ? sl_batch_builder_cover(&w->open, batch_end_offset(h) - 1) : 0;
}

static int move_files(const char *from_dir, const char *to_dir, uint64_t base)
{
    static const char *const exts[] = {".seg", ".oix", ".tix", ".sum", ".kf"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char from[4096], to[4096];
        sl_segment_path(from, sizeof from, from_dir, base, exts[i]);
        sl_segment_path(to, sizeof to, to_dir, base, exts[i]);
        if (rename(from, to) != 0)
            return sl_err_set(SIGLOG_EIO, "rename of %s to %s: %s", from, to, strerror(errno));
    }
    return 0;
}

int rewrite_dropping(const siglog_io *io, const char *dir, uint64_t base, const segment_params *params,
                     int compression, rewrite_drop_fn drop, void *arg, uint64_t *dropped)
{
    if (!io)
        io = sl_io_posix();
    char scratch_dir[4096];
    snprintf(scratch_dir, sizeof scratch_dir, "%s.rewrite", dir);
    if (mkdir(scratch_dir, 0700) != 0)
        return sl_err_set(SIGLOG_EIO, "mkdir %s: %s", scratch_dir, strerror(errno));
    *dropped = 0;
    segment *in = NULL;
    rewriter w = {.compression = compression, .uncovered = base};
    sl_batch_builder_init(&w.open);
    bytebuf body = {0}, decoded = {0};
    int rc = sl_segment_open(io, dir, base, 0, params, &in);
    if (!rc)
        rc = sl_segment_create(io, scratch_dir, base, params, &w.out);
    uint64_t pos = 0, size = in ? sl_segment_size(in) : 0;
    while (!rc && pos < size) {
        batch_header h;
        int r = sl_segment_read_batch(in, pos, size, &h, &body);
        if (r != 1) {
            rc = r < 0 ? r : sl_err_set(SIGLOG_ECORRUPT, "%s: incomplete batch at byte %" PRIu64, dir, pos);
            break;
        }
        rc = rewrite_batch(&w, &h, body.data, &decoded, drop, arg, dropped);
        pos += BATCH_HEADER_BYTES + (uint64_t)h.body_len;
    }
    if (!rc && w.open.record_count == 0)
        rc = sl_err_set(SIGLOG_EINVAL, "%s: every record of segment %" PRIu64 " would be dropped", dir, base);
    if (!rc)
        rc = flush_open(&w);
    if (!rc)
        rc = sl_segment_seal(w.out);
    sl_segment_close(w.out);
    sl_segment_close(in);
    if (!rc)
        rc = move_files(scratch_dir, dir, base);
    sl_batch_builder_free(&w.open);
    sl_bytebuf_free(&w.sealed);
    sl_bytebuf_free(&body);
    sl_bytebuf_free(&decoded);
    /* On failure the scratch files stay for inspection: rmdir then fails. */
    if (!rc && rmdir(scratch_dir) != 0)
        rc = sl_err_set(SIGLOG_EIO, "rmdir %s: %s", scratch_dir, strerror(errno));
    return rc;
}
