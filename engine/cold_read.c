/*
 * cold_read — a cold entry read as a segment (cold.h): its archive in
 * cold_dir, found by name beneath the cold root, checked whole (trailer
 * checksum, every batch and record: sl_archive_file_open) and against
 * the catalog entry (store, stream, partition, offsets, counts), then its
 * one segment's batches served through a segment window
 * (sl_segment_open_window), so cursors, seeks and stat read it as they
 * read a segment of the store: the same records at the same offsets.
 * Reads only; writes nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cold.h"
#include "error.h"
#include "names.h"

/* The archive holds what entry e says, as one segment. */
static int check_entry(const archive_file *f, uint64_t store_id, const char *stream, uint32_t partition,
                       const catalog_segment *e)
{
    const archive_meta *m = &f->view.meta;
    if (m->store_id != store_id || strcmp(m->stream, stream) != 0 || m->partition != partition ||
        m->first_offset != e->base_offset || m->next_offset != e->end_offset || m->record_count != e->record_count ||
        f->view.segment_count != 1)
        return sl_err_set(SIGLOG_ECORRUPT,
                          "%s: holds store %016" PRIx64 " stream '%s' partition %u offsets %" PRIu64 "..%" PRIu64
                          " (%" PRIu64 " records, %u segments); the catalog's cold entry is offsets %" PRIu64
                          "..%" PRIu64 " (%" PRIu64 " records) of this store's stream '%s' partition %u",
                          f->path, m->store_id, m->stream, m->partition, m->first_offset, m->next_offset,
                          m->record_count, f->view.segment_count, e->base_offset, e->end_offset, e->record_count,
                          stream, partition);
    return 0;
}

/* e's archive beneath cfg's cold_dir, open in *f (f->fd the backend's)
 * and checked whole and against e; *path (malloc'd) names it. */
static int open_checked(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                        const char *stream, uint32_t partition, const catalog_segment *e, archive_file *f,
                        char **path)
{
    *path = NULL;
    io_root *root;
    char *real, name[COLD_NAME_MAX + 1];
    int rc = sl_cold_root_open(backend, NULL, cfg, &root, &real);
    if (rc)
        return sl_err_set(rc, "the cold entry %s: %s", e->location, siglog_errdetail());
    sl_cold_entry_archive_name(name, store_id, stream, partition, e);
    if (!(*path = sl_path_join(real, name)))
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    else if ((rc = sl_archive_file_open(f, sl_io_root_io(root), *path)) == 0)
        rc = check_entry(f, store_id, stream, partition, e);
    sl_io_root_close(root);
    free(real);
    return rc;
}

int sl_cold_check_filters(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                          const char *stream, uint32_t partition, const catalog_segment *e)
{
    archive_file f = {.fd = -1};
    char *path = NULL;
    int rc = open_checked(backend, cfg, store_id, stream, partition, e, &f, &path);
    f.io = backend; /* the root open_checked went through is closed: the fd is read as the backend's */
    if (!rc)
        rc = sl_archive_file_check_filters(&f);
    sl_archive_file_close(&f);
    free(path);
    return rc;
}

int sl_cold_filters_exclude(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                            const char *stream, uint32_t partition, const catalog_segment *e,
                            archive_filter_test test, void *arg)
{
    io_root *root;
    char *real, *path, name[COLD_NAME_MAX + 1];
    if (sl_cold_root_open(backend, NULL, cfg, &root, &real) != 0) {
        sl_err_clear(); /* the read that follows names it */
        return 0;
    }
    sl_cold_entry_archive_name(name, store_id, stream, partition, e);
    archive_meta m;
    int excluded = (path = sl_path_join(real, name)) != NULL &&
                   sl_archive_filters_exclude(sl_io_root_io(root), path, test, arg, &m) && m.store_id == store_id &&
                   strcmp(m.stream, stream) == 0 && m.partition == partition && m.first_offset == e->base_offset &&
                   m.next_offset == e->end_offset;
    free(path);
    sl_io_root_close(root);
    free(real);
    return excluded;
}

int sl_cold_segment_open(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                         const char *stream, uint32_t partition, const catalog_segment *e, segment **out)
{
    *out = NULL;
    char *path;
    archive_file f = { .fd = -1 };
    int rc = open_checked(backend, cfg, store_id, stream, partition, e, &f, &path);
    if (!rc) {
        archive_segment sg = sl_archive_segment_at(&f.view, 0);
        segment_window w = { .base_offset = e->base_offset, .next_offset = e->end_offset,
                             .record_count = sg.record_count, .bytes = sg.bytes,
                             .max_timestamp_us = sg.max_timestamp_us };
        int fd = f.fd;
        f.fd = -1; /* the window's now: its reads go to the backend */
        rc = sl_segment_open_window(backend, fd, path, f.view.data_pos, &w, out);
    }
    if (f.io)
        sl_archive_file_close(&f);
    free(path);
    return rc;
}

int sl_cold_batch_file_open(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                            const char *stream, uint32_t partition, const catalog_segment *e, archive_batch_file *bf,
                            char **path)
{
    archive_file f = { .fd = -1 };
    *bf = (archive_batch_file){ .io = backend, .fd = -1 };
    int rc = open_checked(backend, cfg, store_id, stream, partition, e, &f, path);
    if (!rc) {
        archive_segment sg = sl_archive_segment_at(&f.view, 0);
        bf->fd = f.fd;
        f.fd = -1; /* bf's now, closed through the backend */
        bf->path = *path;
        bf->pos = f.view.data_pos;
        bf->end = f.view.data_pos + sg.bytes;
    }
    if (f.io)
        sl_archive_file_close(&f);
    return rc;
}
