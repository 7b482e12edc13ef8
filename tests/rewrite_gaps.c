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

#include "catalog.h"
#include "compact.h"
#include "error.h"

/* The one output of the rewrite, in the scratch directory. */
typedef struct one_output {
    const siglog_io *io;
    const char *dir;
    const segment_params *params;
    segment *out;
} one_output;

static int new_output(void *arg, uint64_t base, segment **out)
{
    one_output *o = arg;
    if (o->out)
        return sl_err_set(SIGLOG_EINVAL, "a rewrite of one segment asked for a second output");
    int rc = sl_segment_create(o->io, o->dir, base, o->params, out);
    if (!rc)
        o->out = *out;
    return rc;
}

typedef struct drop_by_offset {
    rewrite_drop_fn drop;
    void *arg;
} drop_by_offset;

static int keep_record(void *arg, const siglog_record *r)
{
    const drop_by_offset *d = arg;
    return !d->drop(d->arg, r->offset);
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

typedef struct new_figures {
    const siglog_io *io;
    const char *dir;
    const segment_params *params;
    uint64_t base;
} new_figures;

/* What a compaction commits once its files are in place: the rewritten
 * entry's figures. */
static int change_figures(catalog_snapshot *s, void *arg)
{
    const new_figures *f = arg;
    size_t n;
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    for (size_t i = 0; i < n; i++)
        if (segs[i].base_offset == f->base)
            return sl_catalog_read_figures(f->io, f->dir, f->params, &segs[i]);
    return sl_err_set(SIGLOG_EINVAL, "%s: its catalog names no segment at %" PRIu64, f->dir, f->base);
}

/* The partition's catalog, when it is version 2, learns the new figures. */
static int update_catalog(const siglog_io *io, const char *dir, uint64_t base, const segment_params *params)
{
    catalog *c;
    int rc = sl_catalog_open(&c, io, dir, params->file_mode);
    if (rc)
        return rc;
    new_figures f = {io, dir, params, base};
    if (sl_catalog_persisted(c))
        rc = sl_catalog_update(c, change_figures, &f);
    sl_catalog_close(c);
    return rc;
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
    segment *in = NULL;
    one_output o = {.io = io, .dir = scratch_dir, .params = params};
    compact_sink sink = {new_output, &o, UINT64_MAX, compression};
    drop_by_offset d = {drop, arg};
    compact_stats st = {0};
    int rc = sl_segment_open(io, dir, base, 0, params, &in);
    if (!rc)
        rc = sl_compact_rewrite(&in, 1, keep_record, &d, &sink, &st);
    *dropped = st.records_dropped;
    if (!rc)
        rc = sl_segment_seal(o.out);
    sl_segment_close(o.out);
    sl_segment_close(in);
    if (!rc)
        rc = move_files(scratch_dir, dir, base);
    if (!rc)
        rc = update_catalog(io, dir, base, params);
    /* On failure the scratch files stay for inspection: rmdir then fails. */
    if (!rc && rmdir(scratch_dir) != 0)
        rc = sl_err_set(SIGLOG_EIO, "rmdir %s: %s", scratch_dir, strerror(errno));
    return rc;
}
