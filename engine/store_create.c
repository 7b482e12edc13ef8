/*
 * store_create — making a new store so that a failure leaves nothing
 * behind (format-spec/FORMAT.md, "Store file").
 *
 * A store directory that does not exist yet is built complete under a
 * temporary name beside it (PATH.init-<random>.tmp) and renamed into
 * place: every other process sees no store or a whole one. In a directory
 * that exists already, streams/, the preallocated journal and the store
 * secret are made first and siglog.store last, since siglog.store is what
 * makes a directory a store. Either way a failure (ENOSPC preallocating the
 * journal, EIO, ...) removes what it made. A crash in the middle may
 * leave the temporary directory, or files without siglog.store, which no
 * command takes for a store.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "error.h"
#include "journal.h"
#include "names.h"
#include "store.h"
#include "store_secret.h"

/* What build() made, so a failure removes exactly that. */
typedef struct made {
    int streams;
    int journal;
} made;

/* Remove what a failed build made in dir; best effort, the error being
 * reported is the build's. */
static void unbuild(const siglog_io *io, const char *dir, const made *m)
{
    static const char *const names[] = {STORE_FILE ".tmp", STORE_FILE, STORE_JOURNAL_FILE ".tmp",
                                        STORE_SECRET_FILE ".tmp", STORE_SECRET_FILE};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *p = sl_path_join(dir, names[i]);
        if (p)
            io->unlink(io, p);
        free(p);
    }
    char *journal = m->journal ? sl_path_join(dir, STORE_JOURNAL_FILE) : NULL;
    if (journal)
        io->unlink(io, journal);
    char *streams = m->streams ? sl_path_join(dir, STORE_STREAMS_DIR) : NULL;
    if (streams)
        io->rmdir(io, streams);
    free(journal);
    free(streams);
}

static int build(const siglog_io *io, const char *dir, const siglog_options *o, made *m)
{
    char *streams = sl_path_join(dir, STORE_STREAMS_DIR);
    char *journal_path = sl_path_join(dir, STORE_JOURNAL_FILE);
    char *store_file = sl_path_join(dir, STORE_FILE);
    int rc = 0;
    if (!streams || !journal_path || !store_file) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto out;
    }
    int r = io->mkdir(io, streams, o->dir_mode);
    m->streams = r == 0;
    if (r < 0 && r != -EEXIST) {
        rc = sl_err_errno(r, "creating directory %s", streams);
        goto out;
    }
    uint64_t store_id;
    if (getrandom(&store_id, sizeof store_id, 0) != sizeof store_id) {
        rc = sl_err_errno(-errno, "getrandom for the store id");
        goto out;
    }
    m->journal = io->stat_path(io, journal_path, NULL, NULL) == -ENOENT;
    journal *j = NULL;
    if ((rc = sl_journal_open(io, dir, o->journal_bytes, store_id, o->file_mode, &j)) != 0)
        goto out;
    sl_journal_close(j);
    /* A directory without siglog.store is no store, so a secret found here
     * is the leftover of a creation a crash interrupted, keying nothing:
     * the new store gets its own. */
    char *secret = sl_path_join(dir, STORE_SECRET_FILE);
    if (!secret) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto out;
    }
    io->unlink(io, secret);
    free(secret);
    if ((rc = sl_store_secret_create(io, dir, store_id, o->file_mode)) != 0)
        goto out;
    /* Last: from here on the directory is a store. */
    /* The modes every later file and directory gets, whoever opens the
     * store; the defaults are left unrecorded so the file stays version 1
     * for older readers. */
    uint32_t file_mode = o->file_mode & 07777u, dir_mode = o->dir_mode & 07777u;
    int defaults = file_mode == STORE_DEFAULT_FILE_MODE && dir_mode == STORE_DEFAULT_DIR_MODE;
    store_meta meta = {store_id, defaults ? 0 : file_mode, defaults ? 0 : dir_mode};
    uint8_t buf[STORE_FILE_BYTES];
    sl_store_meta_encode(buf, &meta, io->now_us(io));
    r = sl_io_replace_file(io, dir, store_file, buf, sizeof buf, o->file_mode);
    if (r < 0)
        rc = sl_err_errno(r, "writing %s", store_file);
out:
    free(store_file);
    free(journal_path);
    free(streams);
    return rc;
}

int sl_store_create_in_place(const siglog_io *io, const char *dir, const siglog_options *o)
{
    made m = {0};
    int rc = build(io, dir, o, &m);
    if (rc) {
        unbuild(io, dir, &m);
        /* The caller's lock file too: without siglog.store, nothing here
         * is a store. */
        char *lock = sl_path_join(dir, STORE_LOCK_FILE);
        if (lock)
            io->unlink(io, lock);
        free(lock);
    }
    return rc;
}

/* fsync the directory that holds `path` (trailing slashes ignored). */
static int sync_parent_dir(const siglog_io *io, const char *path)
{
    char *parent = strdup(path);
    if (!parent)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        strcpy(parent, ".");
    else
        slash[slash == parent] = '\0'; /* "/store" keeps "/" */
    int s = io->sync_dir(io, parent);
    int rc = s < 0 ? sl_err_errno(s, "fsync of directory %s failed", parent) : 0;
    free(parent);
    return rc;
}

int sl_store_create_dir(const siglog_io *io, const char *path, const siglog_options *o)
{
    uint64_t nonce;
    if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce)
        return sl_err_errno(-errno, "getrandom for a temporary name");
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.init-%016" PRIx64 ".tmp", path, nonce) < 0)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int r = io->mkdir(io, tmp, o->dir_mode);
    if (r < 0) {
        rc = sl_err_errno(r, "creating directory %s", tmp);
        goto out;
    }
    made m = {0};
    rc = build(io, tmp, o, &m);
    int renamed = 0;
    if (!rc) {
        r = io->rename(io, tmp, path);
        renamed = r == 0;
        /* EEXIST, ENOTEMPTY: another process made the store meanwhile;
         * theirs stands and the caller opens it. */
        if (r < 0 && r != -EEXIST && r != -ENOTEMPTY)
            rc = sl_err_errno(r, "renaming %s to %s", tmp, path);
    }
    if (!renamed) {
        unbuild(io, tmp, &m);
        io->rmdir(io, tmp);
    } else {
        /* The store's own entry in its parent: without this sync a power
         * cut may take the whole directory, and every event acknowledged
         * in it, away. */
        rc = sync_parent_dir(io, path);
    }
out:
    free(tmp);
    return rc;
}
