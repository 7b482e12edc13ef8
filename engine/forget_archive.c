/*
 * forget_archive — a forget over exported archives; see forget_archive.h.
 */
#include "forget_archive.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "audit.h"
#include "error.h"
#include "names.h"

#define LEFTOVER_SUFFIX ".forget"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int push_name(char ***v, size_t *n, const char *name)
{
    char **grown = realloc(*v, (*n + 1) * sizeof **v);
    if (!grown)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    *v = grown;
    if (!(grown[*n] = strdup(name)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    ++*n;
    return 0;
}

static int listed(char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], name) == 0)
            return 1;
    return 0;
}

int sl_forget_archives_open(forget_archives *fa, maintenance *m, const char *stream, int compression,
                            size_t n_keys, const char *const *dirs, size_t n)
{
    *fa = (forget_archives){.m = m, .stream = stream, .compression = compression, .n_keys = n_keys, .dirs = dirs};
    if (n == 0)
        return 0;
    fa->real = calloc(n, sizeof *fa->real);
    fa->roots = calloc(n, sizeof *fa->roots);
    if (!fa->real || !fa->roots)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (; fa->n_dirs < n; fa->n_dirs++) {
        size_t i = fa->n_dirs;
        if (!dirs[i] || !dirs[i][0])
            return sl_err_set(SIGLOG_EINVAL, "siglog_forget: archive directory %zu is empty", i);
        if (!(fa->real[i] = sl_io_real_path(dirs[i])))
            return sl_err_errno(-errno, "archive directory %s", dirs[i]);
        int rc = sl_io_root_open(sl_maintenance_backend(m), fa->real[i], &fa->roots[i]);
        if (rc < 0)
            return rc == -IO_EJAIL ? sl_err_set(SIGLOG_EPERM, "archive directory %s: %s", dirs[i],
                                                sl_io_jail_detail())
                                   : sl_err_errno(rc, "archive directory %s", dirs[i]);
    }
    return 0;
}

void sl_forget_archives_close(forget_archives *fa)
{
    for (size_t i = 0; i < fa->n_dirs; i++) {
        free(fa->real[i]);
        sl_io_root_close(fa->roots[i]);
    }
    for (size_t i = 0; i < fa->n_seen; i++)
        free(fa->seen[i]);
    for (size_t i = 0; i < fa->n_hold; i++) {
        free(fa->hold[i].name);
        free(fa->hold[i].found);
    }
    free(fa->real);
    free(fa->roots);
    free(fa->seen);
    free(fa->hold);
    *fa = (forget_archives){0};
}

/* Whether name is one of this store's cold archives of the stream, which
 * the catalog owns (cold.h, "Naming"). */
static int cold_archive(const forget_archives *fa, const char *name)
{
    char prefix[SIGLOG_NAME_MAX + 32];
    snprintf(prefix, sizeof prefix, "%016" PRIx64 ".%s.", sl_maintenance_store_id(fa->m), fa->stream);
    return strncmp(name, prefix, strlen(prefix)) == 0;
}

/* Open path in directory d and check it whole; *ours whether its header
 * names this store and the stream. Nothing left open unless *ours. */
static int open_archive(const forget_archives *fa, size_t d, const char *path, archive_file *f, int *ours)
{
    *ours = 0;
    *f = (archive_file){.fd = -1};
    int rc = sl_archive_file_open(f, sl_io_root_io(fa->roots[d]), path);
    if (rc)
        return sl_err_set(rc, "archive directory %s: %s (the forget cannot tell whether it holds a key)",
                          fa->dirs[d], siglog_errdetail());
    *ours = f->view.meta.store_id == sl_maintenance_store_id(fa->m) && strcmp(f->view.meta.stream, fa->stream) == 0;
    if (!*ours)
        sl_archive_file_close(f);
    return 0;
}

/* Note archive f (directory d, name) when match() names a record of it. */
static int plan_archive(forget_archives *fa, size_t d, const char *name, archive_file *f,
                        forget_archive_match_fn match, void *arg)
{
    forget_archive a = {.dir = d, .partition = f->view.meta.partition, .offset_min = UINT64_MAX,
                        .time_min = INT64_MAX, .time_max = INT64_MIN, .file_bytes = f->len};
    if (!(a.found = calloc(fa->n_keys ? fa->n_keys : 1, 1)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    siglog_record r;
    int rc;
    while ((rc = sl_archive_file_next(f, &r)) == 1) {
        long k = match(arg, &r);
        if (k < 0)
            continue;
        a.found[k] = 1;
        a.events++;
        a.bytes += r.key_len + r.value_len;
        a.offset_min = r.offset < a.offset_min ? r.offset : a.offset_min;
        a.offset_max = r.offset + 1 > a.offset_max ? r.offset + 1 : a.offset_max;
        a.time_min = r.timestamp_us < a.time_min ? r.timestamp_us : a.time_min;
        a.time_max = r.timestamp_us > a.time_max ? r.timestamp_us : a.time_max;
    }
    forget_archive *grown = rc || !a.events ? NULL : realloc(fa->hold, (fa->n_hold + 1) * sizeof *grown);
    if (!rc && a.events && (!grown || !(a.name = strdup(name))))
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (grown)
        fa->hold = grown;
    if (rc || !a.events) {
        free(a.found);
        return rc;
    }
    fa->hold[fa->n_hold++] = a;
    return 0;
}

/* 1 when path in directory d is an archive of this store's stream whose
 * filters exclude every key: it cannot hold an event of them. */
static int excluded(const forget_archives *fa, size_t d, const char *path)
{
    archive_meta m;
    return fa->excludes && sl_archive_filters_exclude(sl_io_root_io(fa->roots[d]), path, fa->excludes,
                                                      fa->excludes_arg, &m) &&
           m.store_id == sl_maintenance_store_id(fa->m) && strcmp(m.stream, fa->stream) == 0;
}

static int plan_dir(forget_archives *fa, size_t d, forget_archive_match_fn match, void *arg)
{
    const siglog_io *io = sl_io_root_io(fa->roots[d]);
    io_dirent_list names = {0};
    int rc = io->list_dir(io, fa->real[d], &names);
    if (rc < 0)
        return sl_err_errno(rc, "listing archive directory %s", fa->dirs[d]);
    rc = 0;
    for (size_t k = 0; k < names.count && !rc; k++) {
        const char *name = names.names[k];
        if (!ends_with(name, ARCHIVE_SUFFIX) || cold_archive(fa, name))
            continue;
        char *path = sl_path_join(fa->real[d], name);
        archive_file f;
        int ours = 0;
        if (!path)
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        else if (excluded(fa, d, path)) {
            fa->skipped++;
            rc = push_name(&fa->seen, &fa->n_seen, name);
        } else if ((rc = open_archive(fa, d, path, &f, &ours)) == 0 && ours) {
            fa->read++;
            if ((rc = push_name(&fa->seen, &fa->n_seen, name)) == 0)
                rc = plan_archive(fa, d, name, &f, match, arg);
            sl_archive_file_close(&f);
        }
        free(path);
    }
    sl_io_dirent_list_free(&names);
    return rc;
}

int sl_forget_archives_plan(forget_archives *fa, forget_archive_match_fn match, void *arg)
{
    int rc = 0;
    for (size_t d = 0; d < fa->n_dirs && !rc; d++)
        rc = plan_dir(fa, d, match, arg);
    return rc;
}

/* Rename from over to in directory real, then sync it. */
static int rename_synced(const siglog_io *io, const char *real, const char *from, const char *to)
{
    int rc = io->rename(io, from, to);
    if (rc < 0)
        return sl_err_errno(rc, "renaming %s to %s", from, to);
    if ((rc = io->sync_dir(io, real)) < 0)
        return sl_err_errno(rc, "syncing %s", real);
    return 0;
}

/* The archive f without what keep() refuses written to `next` (beside
 * it in directory d) by the streaming writer, read back whole; *bytes
 * its size, 0 when nothing stays (nothing written). */
static int write_kept(const forget_archives *fa, size_t d, archive_file *f, const char *next, compact_keep_fn keep,
                      void *arg, uint64_t *bytes)
{
    uint32_t n = f->view.segment_count;
    archive_segment *segs = calloc(n ? n : 1, sizeof *segs);
    if (!segs)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    const siglog_io *io = sl_io_root_io(fa->roots[d]);
    archive_source src = {.io = io, .dir = fa->real[d], .n = n, .archive = f, .keep = keep, .keep_arg = arg};
    archive_tally t;
    int rc = sl_archive_scan(&src, segs, &t);
    if (rc) {
        free(segs);
        return rc;
    }
    if (t.records > 0) {
        archive_meta am = f->view.meta; /* its store, stream, partition and creation time */
        archive_target to = {.io = io, .dir = fa->real[d], .path = next, .mode = sl_maintenance_file_mode(fa->m),
                             .compression = fa->compression, .check = 1};
        rc = sl_archive_write(&src, &am, segs, &t, &to, bytes);
    }
    sl_archive_tally_free(&t);
    free(segs);
    return rc;
}

int sl_forget_archives_rewrite(forget_archives *fa, size_t i, compact_keep_fn keep, void *arg,
                               uint64_t *bytes_after)
{
    const forget_archive *a = &fa->hold[i];
    const siglog_io *io = sl_io_root_io(fa->roots[a->dir]);
    const char *real = fa->real[a->dir];
    *bytes_after = 0;
    char *path = sl_path_join(real, a->name), *next = NULL;
    if (!path || !(next = malloc(strlen(path) + sizeof LEFTOVER_SUFFIX))) {
        free(path);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    sprintf(next, "%s%s", path, LEFTOVER_SUFFIX);
    archive_file f;
    int ours;
    int rc = open_archive(fa, a->dir, path, &f, &ours);
    if (!rc && !ours)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s changed during the forget: it is no longer an archive of this "
                                         "stream", path);
    if (!rc) {
        rc = write_kept(fa, a->dir, &f, next, keep, arg, bytes_after);
        sl_archive_file_close(&f);
    }
    if (!rc && *bytes_after == 0) {
        /* Nothing stays: the archive goes. */
        if ((rc = io->unlink(io, path)) < 0)
            rc = sl_err_errno(rc, "removing %s, emptied by the forget", path);
        else if ((rc = io->sync_dir(io, real)) < 0)
            rc = sl_err_errno(rc, "syncing %s", real);
    } else if (!rc) {
        rc = rename_synced(io, real, next, path);
    }
    free(path);
    free(next);
    return rc;
}

int sl_forget_archives_leftovers(forget_archives *fa, uint32_t *removed)
{
    *removed = 0;
    int rc = 0;
    for (size_t d = 0; d < fa->n_dirs && !rc; d++) {
        const siglog_io *io = sl_io_root_io(fa->roots[d]);
        io_dirent_list names = {0};
        if ((rc = io->list_dir(io, fa->real[d], &names)) < 0) {
            rc = sl_err_errno(rc, "listing archive directory %s", fa->dirs[d]);
            break;
        }
        uint32_t here = 0;
        for (size_t k = 0; k < names.count && !rc; k++) {
            char stem[4096];
            snprintf(stem, sizeof stem, "%s", names.names[k]);
            if (ends_with(stem, ".tmp"))
                stem[strlen(stem) - 4] = '\0';
            if (!ends_with(stem, ARCHIVE_SUFFIX LEFTOVER_SUFFIX))
                continue;
            stem[strlen(stem) - strlen(LEFTOVER_SUFFIX)] = '\0';
            if (!listed(fa->seen, fa->n_seen, stem))
                continue; /* not beside an archive of this stream: not ours to judge */
            char *path = sl_path_join(fa->real[d], names.names[k]);
            int r = path ? io->unlink(io, path) : -ENOMEM;
            if (r < 0 && r != -ENOENT)
                rc = sl_err_errno(r, "removing %s, left by an interrupted forget", path ? path : names.names[k]);
            here += r == 0;
            free(path);
        }
        sl_io_dirent_list_free(&names);
        int r = !rc && here ? io->sync_dir(io, fa->real[d]) : 0;
        if (r < 0)
            rc = sl_err_errno(r, "syncing %s", fa->real[d]);
        *removed += here;
    }
    return rc;
}

/* ---- exported archives not visited ---- */

void sl_forget_reported_free(forget_reported *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->paths[i]);
    free(r->paths);
    *r = (forget_reported){0};
}

typedef struct unvisited_ctx {
    const forget_archives *fa;
    forget_reported here;      /* this forget's, each once */
    forget_reported *told;     /* told to fn already, in this call */
    void (*fn)(void *ctx, const char *path);
    void *ctx;
    int rc;
} unvisited_ctx;

/* path with its empty and "." components left out, as a record may name
 * one export in several spellings ("d//x", "./d/x", "d/./x"): the same
 * text for the same place. ".." is kept: what it undoes is not known
 * without resolving. */
static void normalise(const char *path, char *out, size_t cap)
{
    size_t o = 0;
    if (path[0] == '/' && o + 1 < cap)
        out[o++] = '/';
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        int skip = len == 0 || (len == 1 && p[0] == '.');
        if (!skip && o + len + 2 < cap) {
            if (o > 0 && out[o - 1] != '/')
                out[o++] = '/';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len + (p[len] == '/');
    }
    out[o] = '\0';
}

/* Whether dir names one of the directories given: resolved now, or,
 * when relative (recorded so before exports recorded their resolved
 * directory: relative to a working directory not known now) and free of
 * "..", as the last components of one. */
static int given_dir(const forget_archives *fa, const char *dir)
{
    char *real = sl_io_real_path(dir[0] ? dir : ".");
    int given = 0;
    for (size_t d = 0; real && d < fa->n_dirs && !given; d++)
        given = strcmp(real, fa->real[d]) == 0;
    free(real);
    if (given || dir[0] == '/' || !dir[0] || strstr(dir, ".."))
        return given;
    size_t k = strlen(dir);
    for (size_t d = 0; d < fa->n_dirs && !given; d++) {
        size_t n = strlen(fa->real[d]);
        given = n > k && fa->real[d][n - k - 1] == '/' && strcmp(fa->real[d] + n - k, dir) == 0;
    }
    return given;
}

/* An export's record: "copied N batches to DIR/NAME" (archive_export.c). */
static int on_record(void *arg, const audit_record *r)
{
    unvisited_ctx *u = arg;
    const char *to = strstr(r->detail, " batches to ");
    if (r->action != AUDIT_ARCHIVE || strncmp(r->detail, "copied ", 7) != 0 || !to ||
        strcmp(r->stream, u->fa->stream) != 0)
        return 0;
    char path[AUDIT_DETAIL_MAX + 1];
    normalise(to + strlen(" batches to "), path, sizeof path);
    char *slash = strrchr(path, '/');
    char dir[AUDIT_DETAIL_MAX + 1];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 0, path);
    /* A directory given was read whole: an archive gone from it is gone.
     * One of the same name found in another is not this one: an export
     * of the same range to two directories names both alike. */
    if (!path[0] || given_dir(u->fa, dir) || listed(u->here.paths, u->here.n, path))
        return 0;
    if ((u->rc = push_name(&u->here.paths, &u->here.n, path)) != 0)
        return 1;
    if (listed(u->told->paths, u->told->n, path))
        return 0;
    if ((u->rc = push_name(&u->told->paths, &u->told->n, path)) != 0)
        return 1;
    if (u->fn)
        u->fn(u->ctx, path);
    return 0;
}

int sl_forget_archives_unvisited(forget_archives *fa, forget_reported *told, void (*fn)(void *ctx, const char *path),
                                 void *ctx, uint64_t *count)
{
    unvisited_ctx u = {.fa = fa, .told = told, .fn = fn, .ctx = ctx};
    audit_trail t = {.io = sl_maintenance_io(fa->m), .dir = sl_maintenance_store_path(fa->m),
                     .store_id = sl_maintenance_store_id(fa->m)};
    audit_result res;
    int rc = sl_audit_read(&t, on_record, &u, &res);
    if (u.rc)
        rc = u.rc;
    *count = u.here.n;
    sl_forget_reported_free(&u.here);
    return rc;
}
