/*
 * archive_write — an archive file written as a stream from a partition's
 * sealed segments (archive.h; FORMAT.md, "Archive files"), its batches
 * re-encoded with LZ4HC.
 *
 * Memory is bounded whatever the segments' size: one batch at a time (its
 * body, its records decompressed, the re-encoded batch: a few times the
 * largest batch, whose body is at most BATCH_BODY_BYTES_MAX), the segment
 * table (40 bytes a segment) and schema summary (16 bytes a version), and
 * a fixed copy buffer. The file's layout puts the header and summary,
 * which depend on every record, before the batches, so:
 *   1. sl_archive_scan reads the segments batch by batch, checks each
 *      (header, body checksum, every record, the tiling) and tallies
 *      counts, times and schema versions: the header is then known but
 *      for the re-encoded sizes;
 *   2. sl_archive_write writes, into a temporary file beside the target,
 *      each batch re-encoded (the same records at the same offsets, the
 *      same batch ranges) at the data position the tally gives;
 *   3. the index, read back from the batch headers just written;
 *   4. the header, name, summary and segment table, now with the sizes;
 *   5. the trailer, from the XXH3-64 of the file read back in order;
 * then syncs it and renames it over the target (the atomic-replace
 * recipe), and, when asked, reads the target back and checks it whole.
 *
 * A forget's rewrite of an archive (forget_archive.h) or of a cold entry
 * (forget_cold.h) is such a write whose source sets keep: both passes
 * walk the source's units through forget_rebuild.h, which gives the
 * batches of the kept records and the segments they fall in, the same
 * in both passes (the write pass refuses a segment the scan did not
 * see). Its memory is the export's plus one rebuilt batch.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "codec.h"
#include "cold.h"
#include "error.h"
#include "forget_rebuild.h"
#include "names.h"

int sl_archive_source_open(const archive_source *src, size_t i, archive_batch_file *bf, char **path)
{
    if (src->archive) {
        *bf = sl_archive_file_segment(src->archive, (uint32_t)i);
        bf->borrowed = 1;
        if (!(*path = strdup(src->archive->path)))
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        return 0;
    }
    const catalog_segment *e = sl_catalog_snapshot_segment(src->snap, src->first + i);
    if (sl_cold_entry(e)) {
        const archive_cold_dir *cd = src->cold;
        *bf = (archive_batch_file){ .io = src->io, .fd = -1 };
        *path = NULL;
        if (!cd)
            return sl_err_set(SIGLOG_EINVAL, "%s: cold entry %s read with no cold_dir to find its archive in",
                              src->dir, e->location);
        return sl_cold_batch_file_open(cd->backend, cd->cfg, cd->store_id, cd->stream, cd->partition, e, bf, path);
    }
    char stem[CATALOG_LOCATION_MAX + 8];
    snprintf(stem, sizeof stem, "%s.seg", e->location);
    if (!(*path = sl_path_join(src->dir, stem)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    *bf = (archive_batch_file){ .io = src->io, .path = *path, .end = e->bytes };
    bf->fd = src->io->open_file(src->io, *path, IO_READ, 0);
    if (bf->fd < 0)
        return sl_err_errno(bf->fd, "opening %s", *path);
    uint64_t size = 0;
    int rc = src->io->file_size(src->io, bf->fd, &size);
    if (rc < 0)
        return sl_err_errno(rc, "reading the size of %s", *path);
    if (size != e->bytes)
        return sl_err_set(SIGLOG_ECORRUPT, "%s holds %" PRIu64 " bytes, the catalog says %" PRIu64, *path, size,
                          e->bytes);
    return 0;
}

void sl_archive_source_close(archive_batch_file *bf, char *path)
{
    if (bf->fd >= 0 && !bf->borrowed)
        bf->io->close_file(bf->io, bf->fd);
    sl_bytebuf_free(&bf->body);
    free(path);
}

/* Batch h of src was read: tell the progress, if any. */
static void advance(const archive_source *src, const batch_header *h)
{
    archive_progress *p = src->progress;
    if (!p || !p->fn)
        return;
    p->done += BATCH_HEADER_BYTES + (uint64_t)h->body_len;
    p->fn(p->ctx, p->done, p->total);
}

/* ---- the walk: the archive's segments and batches, as both passes read them ---- */

/* Unit i of src as the archive's table would give it (its bytes: the
 * source's). */
static archive_segment unit_segment(const archive_source *src, size_t i)
{
    if (src->archive)
        return sl_archive_segment_at(&src->archive->view, (uint32_t)i);
    const catalog_segment *e = sl_catalog_snapshot_segment(src->snap, src->first + i);
    return (archive_segment){ e->base_offset, e->end_offset, e->record_count, e->bytes, e->max_timestamp_us, 0 };
}

/* A pass over src: out is told each segment and batch of the archive
 * (forget_rebuild_out's order); path and at say which unit and byte is
 * being read, for out's messages. */
typedef struct walk {
    const archive_source *src;
    forget_rebuild_out out;
    const char *path;
    uint64_t at;
} walk;

/* The batches of one unit, open as bf: as they are, or through rb. */
static int walk_unit(walk *w, archive_batch_file *bf, forget_rebuild *rb)
{
    batch_header h;
    int rc;
    for (w->at = bf->pos; (rc = sl_archive_batch_next(bf, &h, 0)) == 1; w->at = bf->pos) {
        if (!rb)
            rc = w->out.batch(w->out.ctx, &h, bf->body.data);
        else if ((rc = sl_batch_body_check(&h, bf->body.data)) != 0)
            rc = sl_err_set(rc, "%s: batch at byte %" PRIu64 ": %s", w->path, w->at, siglog_errdetail());
        else
            rc = sl_forget_rebuild_batch(rb, &h, bf->body.data);
        if (rc)
            return rc;
        advance(w->src, &h);
    }
    return rc;
}

/* Every unit of w->src in order, one batch in memory at a time (two with
 * keep). COMPACT_NOTHING_KEPT: keep() left no record (out told nothing). */
static int walk_run(walk *w)
{
    const archive_source *src = w->src;
    forget_rebuild rb;
    if (src->keep)
        sl_forget_rebuild_init(&rb, src->keep, src->keep_arg, &w->out);
    int rc = 0;
    for (size_t i = 0; i < src->n && !rc; i++) {
        archive_batch_file bf = { .fd = -1 };
        char *path = NULL;
        archive_segment u = unit_segment(src, i);
        if ((rc = sl_archive_source_open(src, i, &bf, &path)) == 0) {
            w->path = path;
            if (src->keep)
                sl_forget_rebuild_unit(&rb, u.base_offset);
            else
                rc = w->out.begin(w->out.ctx, u.base_offset);
            if (!rc)
                rc = walk_unit(w, &bf, src->keep ? &rb : NULL);
            if (!rc && !src->keep)
                rc = w->out.end(w->out.ctx, u.base_offset, u.end_offset);
            else if (!rc && i + 1 == src->n) /* the last unit still names where the output ends */
                rc = sl_forget_rebuild_end(&rb, u.end_offset);
        }
        sl_archive_source_close(&bf, path);
        w->path = NULL;
    }
    if (src->keep)
        sl_forget_rebuild_free(&rb);
    return rc;
}

/* ---- step 1: the scan ---- */

typedef struct scan_pass {
    walk w;
    archive_segment *segs;
    archive_tally *t;
    bytebuf scratch;
    uint32_t k; /* the segment being tallied */
} scan_pass;

static int scan_begin(void *ctx, uint64_t base)
{
    scan_pass *s = ctx;
    if (s->w.src->keep)
        s->segs[s->k] = (archive_segment){ .base_offset = base };
    sl_archive_tally_segment_begin(s->t, &s->segs[s->k]);
    return 0;
}

static int scan_batch(void *ctx, const batch_header *h, const uint8_t *body)
{
    scan_pass *s = ctx;
    int rc = sl_archive_tally_batch(s->t, h, body, &s->scratch);
    if (rc && rc != SIGLOG_ENOMEM)
        rc = sl_err_set(rc, "%s: batch at byte %" PRIu64 ": %s", s->w.path, s->w.at, siglog_errdetail());
    return rc;
}

static int scan_end(void *ctx, uint64_t base, uint64_t end)
{
    scan_pass *s = ctx;
    archive_segment *seg = &s->segs[s->k];
    (void)base;
    if (s->w.src->keep) {
        /* What the rebuilt segment holds is what was tallied. */
        seg->end_offset = end;
        seg->record_count = s->t->segment_records;
        seg->max_timestamp_us = s->t->segment_max_ts;
    }
    int rc = sl_archive_tally_segment_end(s->t, seg, s->k);
    if (rc)
        return sl_err_set(rc, "%s: %s", s->w.path, siglog_errdetail());
    s->k++;
    return 0;
}

int sl_archive_scan(const archive_source *src, archive_segment *segs, archive_tally *t)
{
    sl_archive_tally_init(t);
    t->build_filters = 1; /* the archive's filters come from this read */
    for (size_t i = 0; i < src->n && !src->keep; i++)
        segs[i] = unit_segment(src, i);
    scan_pass s = { .w = { .src = src }, .segs = segs, .t = t };
    s.w.out = (forget_rebuild_out){ .begin = scan_begin, .batch = scan_batch, .end = scan_end, .ctx = &s };
    int rc = walk_run(&s.w);
    if (rc == COMPACT_NOTHING_KEPT)
        rc = 0; /* t->segments 0 says so */
    t->segments = s.k;
    sl_bytebuf_free(&s.scratch);
    if (rc)
        sl_archive_tally_free(t);
    return rc;
}

/* The batch h (body checked) again, its records sealed with compression
 * into out: the same records at the same offsets, the same range. */
static int reencode(batch_builder *b, const batch_header *h, const uint8_t *body, bytebuf *scratch,
                    int compression, bytebuf *out)
{
    batch_iter it;
    siglog_record r;
    sl_batch_builder_reset(b, h->base_offset, 0);
    int rc = sl_batch_iter_init(&it, h, body, scratch);
    while (!rc && (rc = sl_batch_iter_next(&it, &r)) == 1) {
        siglog_event ev = { .key = r.key, .key_len = r.key_len, .value = r.value, .value_len = r.value_len,
                            .schema_version = r.schema_version, .flags = r.flags, .headers = r.headers,
                            .header_count = r.header_count };
        rc = sl_batch_builder_add_at(b, &ev, r.timestamp_us, r.offset);
    }
    if (!rc)
        rc = sl_batch_builder_cover(b, batch_end_offset(h) - 1);
    batch_meta meta;
    out->len = 0;
    return rc ? rc : sl_batch_builder_seal(b, compression, out, &meta);
}

/* ---- step 2: the batches written ---- */

typedef struct write_pass {
    walk w;
    archive_segment *segs;
    uint32_t k, n; /* the segment being written, of n scanned */
    int compression;
    const siglog_io *io;
    int fd;
    const char *tmp;
    uint64_t pos, start; /* the next batch's file byte; the segment's first */
    batch_builder b;
    bytebuf scratch, out;
} write_pass;

/* The segment met is not the one scanned: keep() answered otherwise, or
 * the source changed between the passes. */
static int unlike_scan(const write_pass *p, uint64_t base, uint64_t end)
{
    return sl_err_set(SIGLOG_ECORRUPT, "%s: segment %u [%" PRIu64 ", %" PRIu64 ") reads otherwise than when "
                      "scanned", p->w.path ? p->w.path : p->tmp, p->k, base, end);
}

static int write_begin(void *ctx, uint64_t base)
{
    write_pass *p = ctx;
    if (p->k >= p->n || p->segs[p->k].base_offset != base)
        return unlike_scan(p, base, base);
    p->start = p->pos;
    return 0;
}

static int write_batch(void *ctx, const batch_header *h, const uint8_t *body)
{
    write_pass *p = ctx;
    int rc;
    /* Checked by sl_archive_scan; a change since is a bad body. */
    if ((rc = sl_batch_body_check(h, body)) != 0 ||
        (rc = reencode(&p->b, h, body, &p->scratch, p->compression, &p->out)) != 0)
        return sl_err_set(rc, "%s: batch at byte %" PRIu64 ": %s", p->w.path, p->w.at, siglog_errdetail());
    if ((rc = sl_io_write_all(p->io, p->fd, p->out.data, p->out.len, p->pos)) < 0)
        return sl_err_errno(rc, "writing %s", p->tmp);
    p->pos += p->out.len;
    return 0;
}

static int write_end(void *ctx, uint64_t base, uint64_t end)
{
    write_pass *p = ctx;
    if (p->segs[p->k].end_offset != end)
        return unlike_scan(p, base, end);
    p->segs[p->k++].bytes = p->pos - p->start;
    return 0;
}

/* Step 2: the batches re-encoded at data_pos of fd; segs[i].bytes become
 * their sizes in the archive. */
static int write_batches(const archive_source *src, archive_segment *segs, uint32_t n, int compression,
                         const siglog_io *io, int fd, const char *tmp, uint64_t data_pos, uint64_t *data_bytes)
{
    write_pass p = { .w = { .src = src }, .segs = segs, .n = n, .compression = compression, .io = io, .fd = fd,
                     .tmp = tmp, .pos = data_pos };
    p.w.out = (forget_rebuild_out){ .begin = write_begin, .batch = write_batch, .end = write_end, .ctx = &p };
    sl_batch_builder_init(&p.b);
    int rc = walk_run(&p.w);
    if (rc == COMPACT_NOTHING_KEPT || (!rc && p.k != n))
        rc = unlike_scan(&p, n ? segs[0].base_offset : 0, n ? segs[n - 1].end_offset : 0);
    *data_bytes = p.pos - data_pos;
    sl_batch_builder_free(&p.b);
    sl_bytebuf_free(&p.scratch);
    sl_bytebuf_free(&p.out);
    return rc;
}

/* Step 3: the index of the batches just written, after them. */
static int write_index(const siglog_io *io, int fd, const char *tmp, uint64_t data_pos, uint64_t data_bytes,
                       uint8_t *buf)
{
    archive_batch_file bf = { .io = io, .fd = fd, .path = tmp, .pos = data_pos, .end = data_pos + data_bytes };
    uint64_t at = data_pos + data_bytes;
    size_t used = 0;
    batch_header h;
    int rc;
    for (uint64_t pos = bf.pos; (rc = sl_archive_batch_next(&bf, &h, 1)) == 1; pos = bf.pos) {
        sl_archive_index_entry(buf + used, &h, pos - data_pos);
        used += ARCHIVE_INDEX_ENTRY_BYTES;
        if (used + ARCHIVE_INDEX_ENTRY_BYTES > ARCHIVE_COPY_BYTES) {
            if ((rc = sl_io_write_all(io, fd, buf, used, at)) < 0)
                return sl_err_errno(rc, "writing %s", tmp);
            at += used;
            used = 0;
        }
    }
    if (!rc && (rc = sl_io_write_all(io, fd, buf, used, at)) < 0)
        rc = sl_err_errno(rc, "writing %s", tmp);
    return rc;
}

/* Steps 2 to 5 into the open temporary fd; *file_bytes its final size. */
static int write_file(const archive_source *src, archive_meta *meta, archive_segment *segs, const archive_tally *t,
                      int compression, const siglog_io *io, int fd, const char *tmp, uint8_t *buf,
                      uint64_t *file_bytes)
{
    uint64_t data_pos = sl_archive_data_position(meta, t, t->segments), data_bytes = 0, sum = 0;
    int rc = write_batches(src, segs, t->segments, compression, io, fd, tmp, data_pos, &data_bytes);
    if (!rc)
        rc = write_index(io, fd, tmp, data_pos, data_bytes, buf);
    bytebuf head = { 0 };
    if (!rc)
        rc = sl_archive_head_encode(meta, t, segs, t->segments, data_bytes, &head);
    if (!rc && (rc = sl_io_write_all(io, fd, head.data, head.len, 0)) < 0)
        rc = sl_err_errno(rc, "writing %s", tmp);
    sl_bytebuf_free(&head);
    /* The filters follow the index, outside the trailer's checksum. */
    uint64_t body = data_pos + data_bytes + t->batches * ARCHIVE_INDEX_ENTRY_BYTES;
    if (!rc && (rc = sl_io_write_all(io, fd, t->filters.data, t->filters.len, body)) < 0)
        rc = sl_err_errno(rc, "writing %s", tmp);
    if (!rc)
        rc = sl_archive_file_checksum(io, fd, tmp, body, buf, &sum);
    uint8_t trailer[ARCHIVE_TRAILER_BYTES];
    sl_archive_trailer_encode(trailer, sum);
    uint64_t end = body + t->filters.len;
    if (!rc && (rc = sl_io_write_all(io, fd, trailer, sizeof trailer, end)) < 0)
        rc = sl_err_errno(rc, "writing %s", tmp);
    *file_bytes = end + ARCHIVE_TRAILER_BYTES;
    return rc;
}

/* The archive at path reads back whole: its checksum holds, and its
 * batches, checked again, tile segs and hold what t tallied. */
static int check_written(const siglog_io *io, const char *path, const archive_meta *meta,
                         const archive_segment *segs, size_t n, const archive_tally *t, uint64_t file_bytes,
                         uint8_t *buf)
{
    int fd = io->open_file(io, path, IO_READ, 0);
    if (fd < 0)
        return sl_err_errno(fd, "reading back archive %s", path);
    uint64_t size = 0, sum = 0;
    uint8_t trailer[ARCHIVE_TRAILER_BYTES];
    int rc = io->file_size(io, fd, &size);
    if (rc < 0)
        rc = sl_err_errno(rc, "reading back archive %s", path);
    else if (size != file_bytes)
        rc = sl_err_set(SIGLOG_EIO, "archive %s holds %" PRIu64 " bytes, %" PRIu64 " were written", path, size,
                        file_bytes);
    else if ((rc = sl_archive_file_checksum(io, fd, path, size - ARCHIVE_TRAILER_BYTES - t->filters.len, buf,
                                            &sum)) == 0 &&
             sl_io_read_full(io, fd, trailer, sizeof trailer, size - ARCHIVE_TRAILER_BYTES) != sizeof trailer)
        rc = sl_err_set(SIGLOG_EIO, "archive %s: its trailer does not read back", path);
    else if (!rc && get_le64(trailer + 8) != sum)
        rc = sl_err_set(SIGLOG_EIO, "archive %s: byte %" PRIu64 ": checksum mismatch on reading back", path,
                        size - 8);
    archive_tally again;
    sl_archive_tally_init(&again);
    bytebuf scratch = { 0 };
    archive_batch_file bf = { .io = io, .fd = fd, .path = path, .pos = sl_archive_data_position(meta, t, (uint32_t)n) };
    for (size_t i = 0; i < n && !rc; i++) {
        bf.end = bf.pos + segs[i].bytes;
        sl_archive_tally_segment_begin(&again, &segs[i]);
        batch_header h;
        uint64_t at = bf.pos;
        while (!rc && (rc = sl_archive_batch_next(&bf, &h, 0)) == 1) {
            if ((rc = sl_archive_tally_batch(&again, &h, bf.body.data, &scratch)) != 0)
                rc = sl_err_set(rc, "archive %s: batch at byte %" PRIu64 ": %s", path, at, siglog_errdetail());
            at = bf.pos;
        }
        if (!rc && (rc = sl_archive_tally_segment_end(&again, &segs[i], (uint32_t)i)) != 0)
            rc = sl_err_set(rc, "archive %s: %s", path, siglog_errdetail());
    }
    if (!rc && (again.records != t->records || again.batches != t->batches))
        rc = sl_err_set(SIGLOG_EIO, "archive %s reads back %" PRIu64 " records in %" PRIu64 " batches, not %" PRIu64
                        " in %" PRIu64, path, again.records, again.batches, t->records, t->batches);
    sl_archive_tally_free(&again);
    sl_bytebuf_free(&scratch);
    sl_bytebuf_free(&bf.body);
    io->close_file(io, fd);
    return rc ? sl_err_set(rc, "%s: nothing removed", siglog_errdetail()) : 0;
}

int sl_archive_write(const archive_source *src, archive_meta *meta, archive_segment *segs, const archive_tally *t,
                     const archive_target *to, uint64_t *file_bytes)
{
    if (t->segments == 0)
        return sl_err_set(SIGLOG_EINVAL, "%s: an archive holds at least one segment", to->path);
    char *tmp = NULL;
    uint8_t *buf = malloc(ARCHIVE_COPY_BYTES);
    if (!buf || asprintf(&tmp, "%s.tmp", to->path) < 0) {
        free(buf);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    const siglog_io *io = to->io;
    int fd = sl_io_create_temp(io, tmp, IO_WRITE, to->mode);
    int rc = fd < 0 ? sl_err_errno(fd, "creating %s", tmp)
                    : write_file(src, meta, segs, t, to->compression, io, fd, tmp, buf, file_bytes);
    if (!rc && (rc = io->fsync(io, fd)) < 0)
        rc = sl_err_errno(rc, "syncing %s", tmp);
    int crc = fd >= 0 ? io->close_file(io, fd) : 0;
    if (crc < 0 && !rc)
        rc = sl_err_errno(crc, "closing %s", tmp);
    if (!rc && (rc = io->rename(io, tmp, to->path)) < 0)
        rc = sl_err_errno(rc, "renaming %s", tmp);
    if (rc && fd >= 0)
        io->unlink(io, tmp); /* best effort: nothing else was touched */
    /* Renamed: a failed directory sync may lose the name, a failed write. */
    if (!rc && (rc = io->sync_dir(io, to->dir)) < 0)
        rc = sl_err_errno(rc, "syncing %s", to->dir);
    if (!rc && to->check)
        rc = check_written(io, to->path, meta, segs, t->segments, t, *file_bytes, buf);
    free(tmp);
    free(buf);
    return rc;
}
