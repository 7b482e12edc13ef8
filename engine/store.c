#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "background.h"
#include "codec.h"
#include "cold.h"
#include "commit.h"
#include "error.h"
#include "journal_verdict.h"
#include "lockfile.h"
#include "maintenance.h"
#include "names.h"
#include "options_io.h"

SIGLOG_API unsigned siglog_version_number(void)
{
    return SIGLOG_VERSION_NUMBER;
}

SIGLOG_API void siglog_options_default(siglog_options *o)
{
    memset(o, 0, sizeof *o);
    o->file_mode = STORE_DEFAULT_FILE_MODE;
    o->dir_mode = STORE_DEFAULT_DIR_MODE;
    o->journal_bytes = 64ull << 20;
}

/* siglog.store, little-endian: 0 u32 magic, 4 u16 version, 6..7 reserved
 * (zero), 8 u32 file mode, 12 u32 directory mode, 16 u64 store id, 24 i64
 * creation time (us), 32 u64 XXH3-64 of bytes 0..31. Version 1 records no
 * modes (bytes 8..15 zero: the defaults), version 2 both. */
void sl_store_meta_encode(uint8_t buf[STORE_FILE_BYTES], const store_meta *m, int64_t created_us)
{
    memset(buf, 0, STORE_FILE_BYTES);
    int with_modes = m->file_mode || m->dir_mode;
    put_le32(buf, STORE_MAGIC);
    put_le16(buf + 4, with_modes ? STORE_FORMAT_VERSION_MODES : STORE_FORMAT_VERSION);
    put_le32(buf + 8, m->file_mode);
    put_le32(buf + 12, m->dir_mode);
    put_le64(buf + 16, m->store_id);
    put_le64(buf + 24, (uint64_t)created_us);
    put_le64(buf + 32, XXH3_64bits(buf, 32));
}

int sl_store_meta_decode(const uint8_t *buf, size_t len, store_meta *m)
{
    if (len != STORE_FILE_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "store file is %zu bytes, expected %d", len, STORE_FILE_BYTES);
    if (get_le32(buf) != STORE_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not a siglog store file (bad magic)");
    if (get_le64(buf + 32) != XXH3_64bits(buf, 32))
        return sl_err_set(SIGLOG_ECORRUPT, "store file checksum mismatch");
    unsigned version = get_le16(buf + 4);
    if (version != STORE_FORMAT_VERSION && version != STORE_FORMAT_VERSION_MODES)
        return sl_err_set(SIGLOG_EVERSION, "store format version %u, this build reads %d and %d", version,
                       STORE_FORMAT_VERSION, STORE_FORMAT_VERSION_MODES);
    int reserved_end = version == STORE_FORMAT_VERSION ? 16 : 8;
    for (int i = 6; i < reserved_end; i++)
        if (buf[i])
            return sl_err_set(SIGLOG_ECORRUPT, "store file: reserved byte %d is not zero", i);
    m->file_mode = get_le32(buf + 8);
    m->dir_mode = get_le32(buf + 12);
    if (version == STORE_FORMAT_VERSION_MODES &&
        (!m->file_mode || !m->dir_mode || (m->file_mode | m->dir_mode) & ~07777u))
        return sl_err_set(SIGLOG_ECORRUPT, "store file: modes %o/%o are not permission bits", m->file_mode,
                       m->dir_mode);
    m->store_id = get_le64(buf + 16);
    return 0;
}

int sl_store_not_found(const char *path)
{
    return sl_err_set(SIGLOG_ENOENT, "%s is not a siglog store (no %s)", path, STORE_FILE);
}

void sl_store_log(struct siglog *s, int level, const char *fmt, ...)
{
    if (!s->opt.log_fn)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->opt.log_fn(s->opt.log_ctx, level, msg);
}

void sl_store_log_cb(void *ctx, int level, const char *msg)
{
    sl_store_log(ctx, level, "%s", msg);
}

int sl_store_streams_snapshot(struct siglog *s, siglog_stream ***out, size_t *n)
{
    pthread_mutex_lock(&s->streams_mu);
    *n = s->stream_count;
    *out = malloc((*n ? *n : 1) * sizeof **out);
    if (*out && *n)
        memcpy(*out, s->streams, *n * sizeof **out);
    pthread_mutex_unlock(&s->streams_mu);
    return *out ? 0 : sl_err_set(SIGLOG_ENOMEM, "out of memory");
}

void sl_store_wake_durable_waiters(struct siglog *s)
{
    /* Without a snapshot: this runs after a failure, perhaps out of memory. */
    pthread_mutex_lock(&s->streams_mu);
    for (size_t i = 0; i < s->stream_count; i++)
        for (uint32_t p = 0; p < s->streams[i]->cfg.partitions; p++)
            sl_partition_wake_waiters(s->streams[i]->parts[p]);
    pthread_mutex_unlock(&s->streams_mu);
}

/* Insert keeping the table sorted by name. Caller holds streams_mu. */
static int streams_insert(struct siglog *s, siglog_stream *st)
{
    siglog_stream **t = realloc(s->streams, (s->stream_count + 1) * sizeof *t);
    if (!t)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    s->streams = t;
    size_t i = s->stream_count;
    while (i > 0 && strcmp(t[i - 1]->name, st->name) > 0) {
        t[i] = t[i - 1];
        i--;
    }
    t[i] = st;
    s->stream_count++;
    if (st->id > s->max_stream_id)
        s->max_stream_id = st->id;
    return 0;
}

/* The new stream st takes failed stream old's place in the table; old
 * stays allocated until close, since handles live that long (callers
 * that hold it keep getting its failure). Caller holds streams_mu. */
static int streams_replace(struct siglog *s, siglog_stream *old, siglog_stream *st)
{
    siglog_stream **r = realloc(s->retired, (s->retired_count + 1) * sizeof *r);
    if (!r)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    s->retired = r;
    r[s->retired_count++] = old;
    for (size_t i = 0; i < s->stream_count; i++)
        if (s->streams[i] == old)
            s->streams[i] = st;
    if (st->id > s->max_stream_id)
        s->max_stream_id = st->id;
    return 0;
}

static siglog_stream *streams_find(struct siglog *s, const char *name)
{
    for (size_t i = 0; i < s->stream_count; i++)
        if (strcmp(s->streams[i]->name, name) == 0)
            return s->streams[i];
    return NULL;
}

/* Readers hold a shared lock on writer.lock while they read the journal
 * (read_journal_for_readers): a writer that finds the lock taken while the
 * process named in it is gone waits for them, this long at most. */
#define LOCK_WAIT_FOR_READERS_US 5000000

static int take_writer_lock(struct siglog *s)
{
    char *lock = sl_path_join(s->path, STORE_LOCK_FILE);
    if (!lock)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int fd = s->io->open_file(s->io, lock, IO_WRITE | IO_CREATE | IO_LOCK, s->opt.file_mode);
    if (fd < 0) {
        rc = sl_err_errno(fd, "opening %s", lock);
        goto out;
    }
    int l = s->io->lock_file(s->io, fd, 0);
    char pid[LOCKFILE_PID_MAX] = "";
    int alive = 0;
    for (int64_t waited = 0; l == -EWOULDBLOCK || l == -EAGAIN; waited += 10000) {
        /* Readers reading the journal take a moment; another writer does
         * not go away. */
        if ((alive = sl_lockfile_holder(s->io, fd, pid)) != 0 || waited >= LOCK_WAIT_FOR_READERS_US)
            break;
        struct timespec ten_ms = {0, 10000000};
        nanosleep(&ten_ms, NULL);
        l = s->io->lock_file(s->io, fd, 0);
    }
    if (l == -EWOULDBLOCK || l == -EAGAIN) {
        s->io->close_file(s->io, fd);
        if (alive)
            rc = sl_err_set(SIGLOG_ELOCKED, "store %s is locked by writer pid %s", s->path, pid);
        else
            rc = sl_err_set(SIGLOG_ELOCKED,
                         "store %s is locked, and %s names no live writer (%s): readers reading its journal for "
                         "over %d s, or a writer that has not written its pid yet",
                         s->path, lock, *pid ? pid : "empty", LOCK_WAIT_FOR_READERS_US / 1000000);
        goto out;
    }
    if (l < 0) {
        s->io->close_file(s->io, fd);
        rc = sl_err_errno(l, "locking %s", lock);
        goto out;
    }
    /* The pid names this writer in a second writer's error and tells a
     * writer finding the lock taken that a live writer, not readers,
     * holds it (lockfile.h). */
    sl_lockfile_claim(s->io, fd);
    s->lock_fd = fd;
out:
    free(lock);
    return rc;
}

int sl_store_meta_read(const siglog_io *io, const char *store_file, store_meta *m)
{
    void *data = NULL;
    size_t len = 0;
    int r = sl_io_read_file(io, store_file, 4096, &data, &len);
    if (r < 0)
        return r == -EFBIG ? sl_err_set(SIGLOG_ECORRUPT, "%s: too large for a store file", store_file)
                           : sl_err_errno(r, "reading %s", store_file);
    int rc = sl_store_meta_decode(data, len, m);
    free(data);
    if (rc)
        return sl_err_set(rc, "%s: %s", store_file, siglog_errdetail());
    if (!m->file_mode)
        m->file_mode = STORE_DEFAULT_FILE_MODE;
    if (!m->dir_mode)
        m->dir_mode = STORE_DEFAULT_DIR_MODE;
    return 0;
}

static int read_store_file(struct siglog *s, const char *store_file)
{
    store_meta m;
    int rc = sl_store_meta_read(s->io, store_file, &m);
    if (!rc) {
        /* The store's modes, not this process's options: every file of the
         * store stays readable by the same readers. */
        s->store_id = m.store_id;
        uint32_t owner = s->opt.file_mode & IO_MODE_PARENT_OWNER;
        s->opt.file_mode = m.file_mode | owner;
        s->opt.dir_mode = m.dir_mode | owner;
    }
    return rc;
}

int sl_store_check_owner(const siglog_io *io, const char *path, uint32_t force_owner, uint32_t *file_mode,
                         uint32_t *dir_mode)
{
    uint32_t uid, gid;
    int r = io->path_owner(io, path, &uid, &gid);
    if (r < 0)
        return sl_err_errno(r, "stat of %s", path);
    uint32_t me = (uint32_t)geteuid();
    if (uid == me)
        return 0;
    if (!force_owner)
        return sl_err_set(SIGLOG_EPERM,
                       "store %s belongs to uid %u, this process runs as uid %u: files it made would lock the "
                       "owner out (force the owner to write as the owner)",
                       path, uid, me);
    *file_mode |= IO_MODE_PARENT_OWNER;
    *dir_mode |= IO_MODE_PARENT_OWNER;
    return 0;
}

/* Load every stream directory. One that fails to open (damaged or missing
 * metadata, a damaged partition, an I/O error) is kept as a failed stream
 * with its reason, so the store and every other stream stay usable. */
static int load_streams(struct siglog *s)
{
    char *dir = sl_path_join(s->path, STORE_STREAMS_DIR);
    if (!dir)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    io_dirent_list l = {0};
    int rc = 0;
    int r = s->io->list_dir(s->io, dir, &l);
    if (r < 0)
        rc = sl_err_errno(r, "listing %s", dir);
    for (size_t i = 0; i < l.count && !rc; i++) {
        if (sl_name_validate_stream(l.names[i]) != 0)
            continue; /* temp files and strangers are not streams */
        char *sd = sl_path_join(dir, l.names[i]);
        siglog_stream *st = NULL;
        if (!sd) {
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        } else if (sl_stream_open(s, sd, !s->read_only, &st) != 0) {
            if (!st)
                rc = SIGLOG_ENOMEM;
            else
                sl_store_log(s, SIGLOG_LOG_ERROR, "stream '%s' failed to open: %s", st->name, st->failed_detail);
        }
        if (st && (rc = streams_insert(s, st)) != 0)
            sl_stream_close(st);
        free(sd);
    }
    sl_io_dirent_list_free(&l);
    free(dir);
    return rc;
}

/* Where the journal's copy of each partition starts (the first entry that
 * will be applied), before the partitions judge their tails. */
static int note_journal_starts(struct siglog *s)
{
    const journal_item *items;
    size_t n = sl_journal_verdict_items(s->verdict, &items);
    for (size_t i = 0; i < n; i++) {
        const journal_item *it = &items[i];
        if (!sl_journal_verdict_applies(s->verdict, it) ||
            sl_store_journal_start(s, it->stream_id, it->partition) != UINT64_MAX)
            continue; /* entries of a partition come in offset order */
        journal_start *t = realloc(s->journal_starts, (s->journal_start_count + 1) * sizeof *t);
        if (!t)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        s->journal_starts = t;
        t[s->journal_start_count++] = (journal_start){it->stream_id, it->partition, it->base_offset};
    }
    return 0;
}

uint64_t sl_store_journal_start(const struct siglog *s, uint32_t stream_id, uint32_t partition)
{
    for (size_t i = 0; i < s->journal_start_count; i++)
        if (s->journal_starts[i].stream_id == stream_id && s->journal_starts[i].partition == partition)
            return s->journal_starts[i].base_offset;
    return UINT64_MAX;
}

/* A journal entry whose stream failed to open, or whose stream is unknown
 * while a stream with unreadable metadata might be it, cannot be put back:
 * recycling the journal would lose it, so the writer open is refused. */
static int refuse_unplaceable_entry(struct siglog *s, uint32_t stream_id, uint32_t part)
{
    for (size_t i = 0; i < s->stream_count; i++) {
        siglog_stream *st = s->streams[i];
        if (st->failed && (st->id == stream_id || st->id == 0))
            return sl_err_set(SIGLOG_ECORRUPT,
                           "the journal holds commits of stream id %u partition %u that cannot be put back "
                           "while stream '%s' is unusable (%s); repair that stream before opening for writing",
                           stream_id, part, st->name, st->failed_detail);
    }
    return 0;
}

/* The partition of a usable stream that a journal entry names, or NULL. */
static partition *journal_entry_partition(struct siglog *s, uint32_t stream_id, uint32_t part)
{
    for (size_t i = 0; i < s->stream_count; i++) {
        siglog_stream *st = s->streams[i];
        if (st->id == stream_id && !st->failed && part < st->cfg.partitions)
            return st->parts[part];
    }
    return NULL;
}

/* A partition whose journal commits cannot all be served: it is failed,
 * alone, with the detail (sl_partition_fail_unservable). */
static int fail_for_journal(struct siglog *s, partition *p, const char *detail)
{
    sl_store_log(s, SIGLOG_LOG_ERROR, "%s", detail);
    sl_partition_fail_unservable(p, detail);
    s->journal_held = 1;
    return 0;
}

/* Warn of every damage in the journal, and fail each partition that an
 * acknowledged damage names (journal_verdict.h). */
static void apply_journal_verdict(struct siglog *s, const journal_verdict *v)
{
    const journal_damage *d;
    size_t nd = sl_journal_verdict_damages(v, &d);
    char what[512];
    for (size_t i = 0; i < nd; i++) {
        sl_journal_verdict_describe(v, &d[i], what, sizeof what);
        sl_store_log(s, SIGLOG_LOG_WARN, "%s: %s", sl_journal_verdict_path(v), what);
    }
    for (size_t i = 0; i < s->stream_count; i++) {
        siglog_stream *st = s->streams[i];
        for (uint32_t p = 0; !st->failed && p < st->cfg.partitions; p++) {
            const journal_damage *x = sl_journal_verdict_failing(v, st->id, p);
            if (!x)
                continue;
            char detail[SL_ERR_DETAIL_MAX];
            sl_journal_verdict_describe(v, x, what, sizeof what);
            snprintf(detail, sizeof detail, "stream '%s' partition %u cannot be served whole: %s: %s", st->name, p,
                     sl_journal_verdict_path(v), what);
            fail_for_journal(s, st->parts[p], detail);
        }
    }
}

/* With damage in the journal, a commit that does not continue its
 * partition is that partition's loss (an entry before it was damaged):
 * it fails that partition alone. Without, the open fails as before. */
static int journal_gap(struct siglog *s, partition *p, int rc)
{
    const journal_damage *d;
    /* A partition failed for segment damage refuses its journal commits:
     * the open fails then (sl_partition_replay). */
    if (rc != SIGLOG_ECORRUPT || sl_partition_damaged(p) || sl_journal_verdict_damages(s->verdict, &d) == 0)
        return rc;
    char detail[SL_ERR_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%s (after damage in the journal at byte %llu)", siglog_errdetail(),
             (unsigned long long)d[0].pos);
    return fail_for_journal(s, p, detail);
}

static int replay_entry(void *ctx, uint64_t pos, uint32_t stream_id, uint32_t part, const uint8_t *batches,
                        size_t len)
{
    struct siglog *s = ctx;
    (void)pos;
    partition *p = journal_entry_partition(s, stream_id, part);
    if (!p) {
        int rc = refuse_unplaceable_entry(s, stream_id, part);
        if (!rc)
            sl_store_log(s, SIGLOG_LOG_WARN, "journal entry for unknown stream id %u partition %u ignored", stream_id,
                      part);
        return rc;
    }
    int rc = sl_partition_replay(p, batches, len);
    if (rc)
        return journal_gap(s, p, rc);
    /* A partition found incomplete takes nothing: the journal keeps it
     * until the files are back or its loss is accepted (catalog_loss.h). */
    if (sl_partition_unserved_end(p))
        s->journal_held = 1;
    return 0;
}

/* A reader serves no stream that failed to open: what the journal holds of
 * one is left for a writer (refuse_unplaceable_entry). */
static int keep_entry_for_readers(void *ctx, uint64_t pos, uint32_t stream_id, uint32_t part,
                                  const uint8_t *batches, size_t len)
{
    struct siglog *s = ctx;
    (void)pos;
    partition *p = journal_entry_partition(s, stream_id, part);
    int rc = p ? sl_partition_add_journaled(p, batches, len) : 0;
    return rc ? journal_gap(s, p, rc) : 0;
}

int sl_store_journal_each(struct siglog *s, uint32_t stream_id, uint32_t partition, journal_replay_fn fn, void *ctx)
{
    const journal_item *items;
    size_t n = sl_journal_verdict_items(s->verdict, &items);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (items[i].stream_id == stream_id && items[i].partition == partition &&
            sl_journal_verdict_applies(s->verdict, &items[i]))
            rc = sl_journal_entry_at(s->journal, items[i].pos, fn, ctx);
    return rc;
}

/* Apply every valid journal entry the verdict allows, with fn. */
static int apply_journal(struct siglog *s, journal *j, journal_replay_fn fn)
{
    const journal_item *items;
    size_t n = sl_journal_verdict_items(s->verdict, &items);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (sl_journal_verdict_applies(s->verdict, &items[i]))
            rc = sl_journal_entry_at(j, items[i].pos, fn, s);
    return rc;
}

/* A reader's open: keep what the journal holds, so that commits only the
 * journal holds (a writer crashed before they reached their segments, or
 * before a checkpoint synced them) are served as a writer's recovery would
 * serve them, without writing anything (sl_partition_snapshot_get).
 *
 * Only a store no writer holds: a live writer has recovered already, and
 * its own journal entries may not be synced yet. A shared lock on an
 * existing writer.lock (opened read-only, never created) tells: it fails
 * while a writer holds the lock, and keeps one from starting, and so from
 * replaying and resetting the journal, while the journal is read. The
 * segments are read later: a writer that starts meanwhile only adds to them
 * what the journal held. No writer.lock: no writer ever had the store. */
static int read_journal_for_readers(struct siglog *s)
{
    char *lock = sl_path_join(s->path, STORE_LOCK_FILE);
    if (!lock)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    int fd = s->io->open_file(s->io, lock, IO_READ | IO_LOCK, 0);
    if (fd < 0 && fd != -ENOENT) {
        rc = sl_err_errno(fd, "opening %s", lock);
        goto out;
    }
    int l = fd >= 0 ? s->io->lock_file(s->io, fd, 1) : 0;
    if (l < 0 && l != -EWOULDBLOCK && l != -EAGAIN) {
        rc = sl_err_errno(l, "locking %s", lock);
    } else if (l == 0) {
        journal *j;
        rc = sl_journal_open_read(s->io, s->path, s->store_id, &j);
        if (!rc && j && !(rc = sl_journal_verdict_build(j, &s->verdict)) && !(rc = sl_journal_verdict_fatal(s->verdict)) &&
            !(rc = apply_journal(s, j, keep_entry_for_readers)))
            apply_journal_verdict(s, s->verdict);
        sl_journal_close(j);
        if (rc)
            rc = sl_err_set(rc, "reading the commit journal of %s: %s", s->path, siglog_errdetail());
    }
    if (fd >= 0)
        s->io->close_file(s->io, fd);
out:
    free(lock);
    return rc;
}

/* Writer recovery after the partitions cut their torn tails: put back what
 * the journal holds and the segments lost, make it durable, empty the
 * journal. Bounded by the journal's size, not the store's. */
static int recover_from_journal(struct siglog *s)
{
    int rc = apply_journal(s, s->journal, replay_entry);
    if (rc)
        return rc;
    /* Partitions failed over journal damage, or found incomplete, keep
     * what the journal holds: it is not recycled (sl_commit_checkpoint
     * refuses while one of them is there, siglog_close leaves it), and
     * the next open judges it again. */
    apply_journal_verdict(s, s->verdict);
    if (s->journal_held)
        return 0;
    /* An empty journal means the last checkpoint synced every journaled
     * segment and nothing came after: no sync to pay. */
    if (sl_journal_is_empty(s->journal))
        return 0;
    sl_store_log(s, SIGLOG_LOG_INFO, "replayed the commit journal of %s", s->path);
    return sl_commit_checkpoint(s);
}

static void store_free(struct siglog *s)
{
    sl_background_free(s->background); /* their tasks use the streams */
    sl_background_free(s->maintenance_tasks);
    sl_compact_task_free(s);
    for (size_t i = 0; i < s->stream_count; i++)
        sl_stream_close(s->streams[i]);
    free(s->streams);
    for (size_t i = 0; i < s->retired_count; i++)
        sl_stream_close(s->retired[i]);
    free(s->retired);
    free(s->journal_starts);
    sl_journal_verdict_free(s->verdict);
    sl_journal_close(s->journal);
    /* A pid left behind names a writer that is gone; none, one that
     * closed: either way a writer finding the lock busy then waits for
     * readers (take_writer_lock). */
    if (s->lock_fd >= 0)
        sl_lockfile_release(s->io, s->lock_fd);
    pthread_mutex_destroy(&s->streams_mu);
    pthread_mutex_destroy(&s->config_mu);
    pthread_mutex_destroy(&s->space_mu);
    sl_commit_free(s->commit);
    sodium_memzero(s->secret, sizeof s->secret);
    sl_io_root_close(s->root);
    free(s->path);
    free(s);
}

static int open_store(siglog **out, const char *path, siglog_options o);

SIGLOG_API int siglog_open(siglog **out, const char *path, const siglog_options *opt)
{
    sl_err_clear();
    if (!out || !path || !*path)
        return sl_err_set(SIGLOG_EINVAL, "siglog_open: out and path are required");
    *out = NULL;
    siglog_options o;
    if (opt)
        o = *opt;
    else
        siglog_options_default(&o);
    if (!sl_options_io(&o))
        sl_options_set_io(&o, sl_io_posix());
    /* Resolved once: every path of the store is built from this one, so
     * the I/O layer can refuse any symlink it meets below it. */
    char *real = sl_io_real_path(path);
    if (!real)
        return errno == ENOENT && !o.create ? sl_store_not_found(path)
                                            : sl_err_errno(-errno, "resolving the store path %s", path);
    int rc = open_store(out, real, o);
    free(real);
    return rc;
}

static int open_store(siglog **out, const char *path, siglog_options o)
{
    struct siglog *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    s->io = sl_options_io(&o);
    s->opt = o;
    s->read_only = o.read_only;
    s->lock_fd = -1;
    pthread_mutex_init(&s->streams_mu, NULL);
    pthread_mutex_init(&s->config_mu, NULL);
    pthread_mutex_init(&s->space_mu, NULL);

    const siglog_io *io = s->io;
    char *store_file = sl_path_join(path, STORE_FILE);
    int rc = 0;
    if (!store_file) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto fail;
    }
    int is_dir = 0;
    uint64_t size;
    int st = io->stat_path(io, store_file, &is_dir, &size);
    if (st == -ENOENT && !o.create) {
        rc = sl_store_not_found(path);
        goto fail;
    }
    if (st == -ENOENT && o.read_only) {
        rc = sl_err_set(SIGLOG_ERDONLY, "cannot create store %s read-only", path);
        goto fail;
    }
    if (st == -ENOENT) {
        int there = io->stat_path(io, path, &is_dir, &size);
        if (there == -ENOENT)
            rc = sl_store_create_dir(io, path, &o);
        else if (there < 0)
            rc = sl_err_errno(there, "stat of %s", path);
        if (rc)
            goto fail;
    }
    /* From here on the store directory is held open: a rename or a
     * replacement of its path under this handle redirects nothing. */
    if ((rc = sl_io_root_open(sl_options_io(&o), path, &s->root)) < 0) {
        rc = sl_err_errno(rc, "opening the store directory %s", path);
        goto fail;
    }
    s->io = io = sl_io_root_io(s->root);
    /* An existing store's recorded modes, and its owner, decide before
     * anything is created in it, the lock file included. */
    int have_meta = io->stat_path(io, store_file, &is_dir, &size) != -ENOENT;
    if (have_meta && (rc = read_store_file(s, store_file)) != 0)
        goto fail;
    if (!o.read_only &&
        (rc = sl_store_check_owner(io, path, o.force_owner, &s->opt.file_mode, &s->opt.dir_mode)) != 0)
        goto fail;
    if (!o.read_only && (rc = take_writer_lock(s)) != 0)
        goto fail;
    /* Checked again under the lock: another process may have created it. */
    if (!have_meta && io->stat_path(io, store_file, &is_dir, &size) == -ENOENT &&
        (rc = sl_store_create_in_place(io, path, &s->opt)) != 0)
        goto fail;
    if (!have_meta && (rc = read_store_file(s, store_file)) != 0)
        goto fail;
    if (!o.read_only && (rc = sl_store_secret_open(s)) != 0)
        goto fail;
    if (!o.read_only) {
        if (!(s->commit = sl_commit_new())) {
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
            goto fail;
        }
        rc = sl_journal_open(io, path, o.journal_bytes, s->store_id, s->opt.file_mode, &s->journal);
        /* Know where the journal's copy of each partition starts before
         * the partitions judge their tails (see sl_partition_open). */
        if (!rc && !(rc = sl_journal_verdict_build(s->journal, &s->verdict)) &&
            !(rc = sl_journal_verdict_fatal(s->verdict)))
            rc = note_journal_starts(s);
        if (rc)
            goto fail;
    }
    int idle_fd = -1;
    if (!o.read_only)
        s->maintenance_idle = sl_maintenance_idle_begin(io, path, &idle_fd);
    rc = load_streams(s);
    sl_maintenance_idle_end(io, idle_fd);
    s->maintenance_idle = 0;
    if (rc)
        goto fail;
    if (o.read_only && (rc = read_journal_for_readers(s)) != 0)
        goto fail;
    if (!o.read_only) {
        if ((rc = recover_from_journal(s)) != 0)
            goto fail;
        for (size_t i = 0; i < s->stream_count; i++) {
            sl_stream_usage_catch_up(s->streams[i]);
            sl_stream_attach_hint(s->streams[i]);
        }
        if ((rc = sl_store_tasks_start(s)) != 0)
            goto fail;
    }
    free(store_file);
    *out = s;
    return 0;
fail:
    free(store_file);
    store_free(s);
    return rc;
}

/* Seal and write (and with do_sync, fdatasync) every NONE-policy
 * partition: those never go through the journal. */
static int flush_unjournaled(struct siglog *s, int do_sync)
{
    siglog_stream **streams;
    size_t ns;
    int rc = sl_store_streams_snapshot(s, &streams, &ns);
    for (size_t i = 0; i < ns && !rc; i++) {
        siglog_stream *st = streams[i];
        if (STREAM_SETTING(st, sync_policy) != SIGLOG_SYNC_NONE)
            continue;
        for (uint32_t p = 0; p < st->cfg.partitions && !rc; p++)
            rc = sl_partition_flush(st->parts[p], do_sync);
    }
    free(streams);
    return rc;
}

static int flush_all(siglog *s, int do_sync)
{
    sl_err_clear();
    if (!s)
        return sl_err_set(SIGLOG_EINVAL, "store handle is NULL");
    if (s->read_only)
        return 0;
    int rc = flush_unjournaled(s, do_sync);
    int c = sl_commit_sync(s);
    return rc ? rc : c;
}

SIGLOG_API int siglog_flush(siglog *s)
{
    return flush_all(s, 0);
}

SIGLOG_API int siglog_sync(siglog *s)
{
    return flush_all(s, 1);
}

SIGLOG_API uint64_t siglog_store_id(const siglog *s)
{
    return s ? s->store_id : 0;
}

/* The close checkpoint of every partition the journal's did not cover:
 * with only_unjournaled the NONE-policy ones, else all. */
static int checkpoint_active_segments(siglog *s, int only_unjournaled)
{
    int rc = 0;
    for (size_t i = 0; i < s->stream_count && !rc; i++) {
        if (only_unjournaled && STREAM_SETTING(s->streams[i], sync_policy) != SIGLOG_SYNC_NONE)
            continue;
        for (uint32_t p = 0; p < s->streams[i]->cfg.partitions && !rc; p++)
            rc = sl_partition_close_checkpoint(s->streams[i]->parts[p]);
    }
    return rc;
}

SIGLOG_API int siglog_close(siglog *s)
{
    if (!s)
        return 0;
    sl_err_clear();
    int rc = 0;
    if (!s->read_only) {
        sl_store_tasks_stop(s);
        rc = flush_all(s, 1);
        /* Leave an empty journal and summaries that vouch for every
         * active segment: the next open has nothing to replay or scan.
         * The journaled partitions' close checkpoints run before the
         * journal is emptied (each writes its catalog once, floor and
         * versions together). A held journal stays as it is: the next
         * open replays it again (what the segments have already is
         * skipped). */
        int journaled_done = 0;
        if (!rc && !sl_commit_failed(s->commit) && !s->journal_held) {
            rc = sl_commit_close_checkpoint(s);
            journaled_done = 1;
        }
        if (!rc && !sl_commit_failed(s->commit))
            rc = checkpoint_active_segments(s, journaled_done);
    }
    store_free(s);
    return rc;
}

/* Create a stream, or with adopt take over the partitions an earlier
 * stream of that name left (its metadata lost or damaged). */
static int create_stream(siglog *s, const char *name, const siglog_stream_config *c, int adopt)
{
    sl_err_clear();
    if (!s || !c)
        return sl_err_set(SIGLOG_EINVAL, "creating a stream: store and config are required");
    if (s->read_only)
        return sl_err_set(SIGLOG_ERDONLY, "store %s is open read-only", s->path);
    int rc = sl_name_validate_stream(name);
    if (rc)
        return rc;
    siglog_stream_config cfg = *c;
    if ((rc = sl_stream_config_normalize(&cfg, sl_journal_capacity(s->journal))) != 0 ||
        (rc = sl_cold_dir_check(s->path, &cfg)) != 0)
        return rc;
    char *streams_dir = sl_path_join(s->path, STORE_STREAMS_DIR);
    char *dir = streams_dir ? sl_path_join(streams_dir, name) : NULL;
    if (!dir) {
        free(streams_dir);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&s->streams_mu);
    siglog_stream *old = streams_find(s, name), *st = NULL;
    uint32_t id = s->max_stream_id + 1;
    if (old && !old->failed) {
        rc = sl_err_set(SIGLOG_EEXIST, "stream '%s' already exists", name);
    } else if (adopt) {
        rc = sl_stream_adopt_check(s, dir, &cfg);
        if (!rc)
            rc = sl_stream_adopt_files(s, dir, name, id, &cfg);
        if (!rc)
            rc = sl_stream_open(s, dir, 1, &st);
    } else {
        /* Over a failed stream only when its directory is empty. */
        rc = sl_stream_create_files(s, streams_dir, name, id, &cfg);
        if (!rc && (rc = sl_stream_open(s, dir, 1, &st)) != 0)
            sl_stream_remove_new(s, streams_dir, name);
    }
    if (!rc)
        rc = old ? streams_replace(s, old, st) : streams_insert(s, st);
    if (rc)
        sl_stream_close(st);
    else
        sl_stream_attach_hint(st);
    pthread_mutex_unlock(&s->streams_mu);
    free(dir);
    free(streams_dir);
    return rc;
}

SIGLOG_API int siglog_stream_create(siglog *s, const char *name, const siglog_stream_config *c)
{
    return create_stream(s, name, c, 0);
}

SIGLOG_API int siglog_stream_adopt(siglog *s, const char *name, const siglog_stream_config *c)
{
    return create_stream(s, name, c, 1);
}

SIGLOG_API int siglog_stream_get(siglog *s, const char *name, siglog_stream **out)
{
    sl_err_clear();
    if (!s || !out)
        return sl_err_set(SIGLOG_EINVAL, "siglog_stream_get: store and out are required");
    *out = NULL;
    int rc = sl_name_validate_stream(name);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->streams_mu);
    siglog_stream *st = streams_find(s, name);
    if (!st && s->read_only) {
        /* A reader may look for a stream the writer created after it
         * opened the store. */
        char *streams_dir = sl_path_join(s->path, STORE_STREAMS_DIR);
        char *dir = streams_dir ? sl_path_join(streams_dir, name) : NULL;
        char *meta = dir ? sl_path_join(dir, STREAM_META_FILE) : NULL;
        int is_dir;
        uint64_t size;
        if (meta && s->io->stat_path(s->io, meta, &is_dir, &size) == 0) {
            sl_stream_open(s, dir, 0, &st);
            if (st && streams_insert(s, st) != 0) {
                sl_stream_close(st);
                st = NULL;
            }
        }
        free(meta);
        free(dir);
        free(streams_dir);
    }
    pthread_mutex_unlock(&s->streams_mu);
    if (!st)
        return sl_err_set(SIGLOG_ENOENT, "no stream '%s' in store %s", name, s->path);
    if ((rc = sl_stream_usable(st)) != 0)
        return rc;
    *out = st;
    return 0;
}

SIGLOG_API int siglog_stream_foreach(siglog *s, int (*fn)(void *ctx, siglog_stream *st), void *ctx)
{
    sl_err_clear();
    siglog_stream **streams;
    size_t n;
    int rc = sl_store_streams_snapshot(s, &streams, &n);
    for (size_t i = 0; i < n && !rc; i++)
        rc = fn(ctx, streams[i]);
    free(streams);
    return rc;
}

SIGLOG_API const char *siglog_stream_name(const siglog_stream *st)
{
    return st->name;
}

SIGLOG_API void siglog_stream_config_get(const siglog_stream *st, siglog_stream_config *out)
{
    sl_stream_config_load(st, out);
}

SIGLOG_API int siglog_stream_state(const siglog_stream *st, const char **detail)
{
    if (detail)
        *detail = st->failed ? st->failed_detail : "";
    return st->failed;
}

SIGLOG_API int siglog_partition_info_get(siglog_stream *st, uint32_t partition, siglog_partition_info *out)
{
    sl_err_clear();
    if (!st || !out)
        return sl_err_set(SIGLOG_EINVAL, "siglog_partition_info_get: stream and out are required");
    memset(out, 0, sizeof *out);
    int rc = sl_stream_partition_usable(st, partition);
    if (rc)
        return rc;
    return sl_partition_info(st->parts[partition], out);
}
