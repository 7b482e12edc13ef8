/*
 * archive_api — siglog_archive_open/next/close: read an archive file on
 * its own, without the store it came from (archive.h). The whole file is
 * checked at open (sl_archive_file_open, a piece at a time: memory does
 * not grow with the file) before anything is handed out, so a damaged
 * archive fails at open, naming the byte, and never half-way through a
 * replay; records are then read a batch at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "error.h"
#include "io.h"

struct siglog_archive {
    char *path; /* resolved: the user's path, symlinks to it included */
    archive_file file;
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
    a->path = sl_io_real_path(path);
    int rc = a->path ? sl_archive_file_open(&a->file, sl_io_posix(), a->path)
                     : sl_err_errno(-errno, "reading archive %s", path);
    if (rc) {
        free(a->path);
        free(a);
        return rc;
    }
    const archive_view *v = &a->file.view;
    const archive_meta *m = &v->meta;
    a->info = (siglog_archive_info){
        .store_id = m->store_id, .stream = m->stream, .partition = m->partition,
        .segment_count = v->segment_count, .first_offset = m->first_offset, .next_offset = m->next_offset,
        .record_count = m->record_count, .min_timestamp_us = m->min_timestamp_us,
        .max_timestamp_us = m->max_timestamp_us, .batch_count = m->batch_count, .bytes = a->file.len,
        .created_us = m->created_us, .schema_count = v->schema_count,
    };
    *out = a;
    return 0;
}

archive_file *sl_archive_file_of(siglog_archive *a)
{
    return &a->file;
}

SIGLOG_API const siglog_archive_info *siglog_archive_info_get(const siglog_archive *a)
{
    return a ? &a->info : NULL;
}

SIGLOG_API int siglog_archive_schema(const siglog_archive *a, uint32_t i, uint32_t *version, uint64_t *records)
{
    sl_err_clear();
    if (!a || i >= a->file.view.schema_count)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_schema: no schema entry %u", i);
    archive_schema s = sl_archive_schema_at(&a->file.view, i);
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
    int rc = sl_archive_file_next(&a->file, &a->rec);
    if (rc == 1)
        *rec = &a->rec;
    return rc;
}

SIGLOG_API int siglog_archive_check_filters(const siglog_archive *a)
{
    sl_err_clear();
    if (!a)
        return sl_err_set(SIGLOG_EINVAL, "siglog_archive_check_filters: no archive");
    return sl_archive_file_check_filters(&a->file);
}

SIGLOG_API void siglog_archive_close(siglog_archive *a)
{
    if (!a)
        return;
    sl_archive_file_close(&a->file);
    free(a->path);
    free(a);
}
