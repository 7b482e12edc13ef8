/*
 * quarantine — see quarantine.h.
 */
#include "quarantine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "segment.h"

/* Make STORE/quarantine/REL (REL: dir relative to store) and each missing
 * directory above it, each new one made durable in its parent. */
static int make_dirs(const siglog_io *io, const char *store, const char *rel, uint32_t dir_mode, char *out,
                     size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s", store, QUARANTINE_DIR);
    if (n < 0 || (size_t)n >= out_len)
        return sl_err_set(SIGLOG_EINVAL, "quarantine path too long under %s", store);
    const char *c = rel;
    for (;;) {
        int made = io->mkdir(io, out, dir_mode);
        if (made < 0 && made != -EEXIST)
            return sl_err_errno(made, "mkdir of %s", out);
        if (made == 0) {
            /* Its entry in the parent, durable before anything goes in. */
            char parent[4096];
            snprintf(parent, sizeof parent, "%.*s", (int)(strrchr(out, '/') - out), out);
            int s = io->sync_dir(io, parent);
            if (s < 0)
                return sl_err_errno(s, "fsync of directory %s", parent);
        }
        if (!*c)
            return 0;
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        size_t used = strlen(out);
        if (used + 1 + len >= out_len)
            return sl_err_set(SIGLOG_EINVAL, "quarantine path too long under %s", store);
        snprintf(out + used, out_len - used, "/%.*s", (int)len, c);
        c += len;
        while (*c == '/')
            c++;
    }
}

/* Move one file (absent: nothing to do) to to_dir/<its name>.<now_s>. */
static int move_one(const siglog_io *io, const char *from, const char *from_dir, const char *to_dir, int64_t now_s,
                    void (*moved)(void *ctx, const char *from, const char *to), void *ctx)
{
    int is_dir;
    uint64_t size;
    int st = io->stat_path(io, from, &is_dir, &size);
    if (st == -ENOENT)
        return 0;
    if (st < 0)
        return sl_err_errno(st, "stat of %s", from);
    char to[4096];
    int n = snprintf(to, sizeof to, "%s/%s.%" PRId64, to_dir, strrchr(from, '/') + 1, now_s);
    if (n < 0 || (size_t)n >= sizeof to)
        return sl_err_set(SIGLOG_EINVAL, "quarantine path too long for %s", from);
    /* A file moved aside earlier is never replaced. */
    if (io->stat_path(io, to, &is_dir, &size) != -ENOENT)
        return sl_err_set(SIGLOG_EEXIST, "%s is already in quarantine as %s", from, to);
    int rc = io->rename(io, from, to);
    if (rc < 0)
        return sl_err_errno(rc, "rename of %s to %s", from, to);
    if ((rc = io->sync_dir(io, to_dir)) < 0 || (rc = io->sync_dir(io, from_dir)) < 0)
        return sl_err_errno(rc, "fsync of the directories of %s and %s", from, to);
    moved(ctx, from, to);
    return 0;
}

int sl_quarantine_segment(const siglog_io *io, const char *store, const char *dir, uint64_t base, uint32_t dir_mode,
                       int64_t now_s, void (*moved)(void *ctx, const char *from, const char *to), void *ctx)
{
    size_t sl = strlen(store);
    if (strncmp(dir, store, sl) != 0 || dir[sl] != '/')
        return sl_err_set(SIGLOG_EINVAL, "%s is not inside the store %s", dir, store);
    char to_dir[4096];
    int rc = make_dirs(io, store, dir + sl + 1, dir_mode, to_dir, sizeof to_dir);
    /* The segment first: once it is gone its offsets are missing, and
     * what a crash may leave behind (its summary, its indexes) names no
     * segment. Its summary never stays without it: without the summary,
     * a writer could take vouched damage for a torn tail and cut it. */
    static const char *const exts[] = {".seg", ".sum", ".oix", ".tix", ".kf"};
    for (size_t i = 0; i < sizeof exts / sizeof *exts && !rc; i++) {
        char from[4096];
        sl_segment_path(from, sizeof from, dir, base, exts[i]);
        rc = move_one(io, from, dir, to_dir, now_s, moved, ctx);
    }
    return rc;
}
