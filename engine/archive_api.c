/*
 * archive_api — siglog_archive_open/next/close: read an archive file on
 * its own, without the store it came from (archive.h). The whole file is
 * read and checked by sl_archive_decode before anything is handed out, so
 * a damaged archive fails at open, naming the byte, and never half-way
 * through a replay.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "error.h"
#include "io.h"

/* Archives are read whole into memory: this bounds what one may claim. */
#define ARCHIVE_FILE_BYTES_MAX ((size_t)1 << 40)

struct siglog_archive {
    void *bytes;
    size_t len;
    archive_view view;
    archive_iter iter;
    siglog_record rec;
    siglog_archive_info info;
};

SIGLOG_API int siglog_archive_open(siglog_archive **out, const char *path)
{
    sl_err_clear();
    if (!out || !path)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_open: out and path are required");
    *out = NULL;
    siglog_archive *a = calloc(1, sizeof *a);
    if (!a)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    /* The user's path to the file is theirs to choose, symlinks included. */
    char *real = sl_io_real_path(path);
    int rc = real ? sl_io_read_file(sl_io_posix(), real, ARCHIVE_FILE_BYTES_MAX, &a->bytes, &a->len) : -errno;
    free(real);
    if (rc < 0)
        rc = sl_err_errno(rc, "reading archive %s", path);
    else if ((rc = sl_archive_decode(a->bytes, a->len, &a->view)) != 0)
        rc = sl_err_set(rc, "%s: %s", path, siglog_errdetail());
    if (rc) {
        free(a->bytes);
        free(a);
        return rc;
    }
    const archive_meta *m = &a->view.meta;
    a->info = (siglog_archive_info){
        .store_id = m->store_id, .stream = m->stream, .partition = m->partition,
        .segment_count = a->view.segment_count, .first_offset = m->first_offset, .next_offset = m->next_offset,
        .record_count = m->record_count, .min_timestamp_us = m->min_timestamp_us,
        .max_timestamp_us = m->max_timestamp_us, .batch_count = m->batch_count, .bytes = a->len,
        .created_us = m->created_us, .schema_count = a->view.schema_count,
    };
    sl_archive_iter_init(&a->iter, &a->view);
    *out = a;
    return 0;
}

const archive_view *sl_archive_view_of(const siglog_archive *a)
{
    return &a->view;
}

SIGLOG_API const siglog_archive_info *siglog_archive_info_get(const siglog_archive *a)
{
    return a ? &a->info : NULL;
}

SIGLOG_API int siglog_archive_schema(const siglog_archive *a, uint32_t i, uint32_t *version, uint64_t *records)
{
    sl_err_clear();
    if (!a || i >= a->view.schema_count)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_schema: no schema entry %u", i);
    archive_schema s = sl_archive_schema_at(&a->view, i);
    if (version)
        *version = s.version;
    if (records)
        *records = s.records;
    return 0;
}

SIGLOG_API int siglog_archive_next(siglog_archive *a, const siglog_record **rec)
{
    sl_err_clear();
    if (!a || !rec)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_next: archive and rec are required");
    int rc = sl_archive_iter_next(&a->iter, &a->rec);
    if (rc == 1)
        *rec = &a->rec;
    return rc;
}

SIGLOG_API void siglog_archive_close(siglog_archive *a)
{
    if (!a)
        return;
    sl_archive_iter_free(&a->iter);
    free(a->bytes);
    free(a);
}
