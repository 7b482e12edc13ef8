/*
 * journal_scrub — zero what a store's commit journal still holds of
 * earlier generations, for a forget (siglog_forget): a checkpoint starts
 * a new generation by its header alone, so the bytes of batches already
 * in their segments stay in the file until later entries overwrite them,
 * and a byte search would find a forgotten value there.
 *
 * Maintenance scrubs only while no writer has the store: the journal is
 * the writer's (one owner), so the scrub holds writer.lock exclusively for
 * its duration,
 * and only when the current generation holds no entry (a writer that
 * died left entries its next open must replay: those are not dead bytes
 * and stay). The header slots are left as they are; zeros are never a
 * valid entry, so a crash in the middle leaves a journal that reads the
 * same. A live writer scrubs its own journal when a roll request asks it
 * to (sl_journal_scrub_live, store_roll_request.c), right after a
 * checkpoint: then the current generation holds no entry either.
 */
#include <errno.h>
#include <stdlib.h>

#include "error.h"
#include "journal.h"
#include "names.h"

#define SCRUB_CHUNK_BYTES (1u << 20)

static int count_entry(void *ctx, uint64_t pos, uint32_t stream_id, uint32_t partition, const uint8_t *batches,
                       size_t len)
{
    (void)pos;
    (void)stream_id;
    (void)partition;
    (void)batches;
    (void)len;
    ++*(uint64_t *)ctx;
    return 0;
}

static int count_damage(void *ctx, const char *path, uint64_t pos, uint64_t next, int known, uint32_t stream_id,
                        uint32_t partition)
{
    (void)path;
    (void)pos;
    (void)next;
    (void)known;
    (void)stream_id;
    (void)partition;
    ++*(uint64_t *)ctx;
    return 0;
}

/* Entries (valid or damaged) of the journal's current generation. */
static int current_entries(const siglog_io *io, const char *store_dir, uint64_t store_id, uint64_t *n)
{
    *n = 0;
    journal *j;
    int rc = sl_journal_open_read(io, store_dir, store_id, &j);
    if (!rc && j)
        rc = sl_journal_replay(j, count_entry, count_damage, n);
    sl_journal_close(j);
    return rc;
}

/* Zero bytes [JOURNAL_DATA_START, end) of the journal (end past its
 * size: to its end) and sync them. */
static int zero_data(const siglog_io *io, const char *path, uint64_t end)
{
    int fd = io->open_file(io, path, IO_WRITE, 0);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return sl_err_errno(fd, "opening %s", path);
    uint64_t size = 0;
    uint8_t *zeros = calloc(1, SCRUB_CHUNK_BYTES);
    int rc = zeros ? io->file_size(io, fd, &size) : -ENOMEM;
    if (size > end)
        size = end;
    for (uint64_t pos = JOURNAL_DATA_START; !rc && pos < size;) {
        size_t len = size - pos < SCRUB_CHUNK_BYTES ? (size_t)(size - pos) : SCRUB_CHUNK_BYTES;
        ssize_t w = io->pwrite(io, fd, zeros, len, pos);
        rc = w < 0 ? (int)w : w == 0 ? -EIO : 0;
        pos += rc ? 0 : (uint64_t)w;
    }
    if (!rc)
        rc = io->fdatasync(io, fd);
    if (rc)
        rc = sl_err_errno(rc, "zeroing %s", path);
    free(zeros);
    io->close_file(io, fd);
    return rc;
}

int sl_journal_scrub_idle(const siglog_io *io, const char *store_dir, uint64_t store_id, int *scrubbed)
{
    *scrubbed = 0;
    char *lock = sl_path_join(store_dir, STORE_LOCK_FILE), *path = sl_path_join(store_dir, STORE_JOURNAL_FILE);
    int rc = lock && path ? 0 : sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int fd = rc ? -1 : io->open_file(io, lock, IO_READ | IO_LOCK, 0);
    if (fd == -ENOENT) {
        *scrubbed = 1; /* no writer ever had the store: it has no journal */
    } else if (fd < 0 && !rc) {
        rc = sl_err_errno(fd, "opening %s", lock);
    } else if (!rc && io->lock_file(io, fd, 0) == 0) {
        uint64_t entries;
        rc = current_entries(io, store_dir, store_id, &entries);
        if (!rc && entries == 0 && (rc = zero_data(io, path, UINT64_MAX)) == 0)
            *scrubbed = 1;
    }
    /* Closing the descriptor releases the lock. */
    if (fd >= 0)
        io->close_file(io, fd);
    free(lock);
    free(path);
    return rc;
}

int sl_journal_scrub_live(journal *j)
{
    if (!sl_journal_is_empty(j))
        return sl_err_set(SIGLOG_EINVAL, "%s: the journal holds entries of its generation, not scrubbed",
                          sl_journal_path(j));
    /* Only what was written since the last scrub can be other than
     * zeros: a forget beside a busy writer zeroes that, not the whole
     * preallocated file. */
    int rc = zero_data(sl_journal_io(j), sl_journal_path(j), sl_journal_dirty_end(j));
    if (!rc)
        sl_journal_scrubbed(j);
    return rc;
}

int sl_journal_writer_live(const siglog_io *io, const char *store_dir)
{
    char *lock = sl_path_join(store_dir, STORE_LOCK_FILE);
    if (!lock)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int fd = io->open_file(io, lock, IO_READ | IO_LOCK, 0);
    int rc = fd == -ENOENT ? 0 : fd < 0 ? sl_err_errno(fd, "opening %s", lock) : io->lock_file(io, fd, 0) != 0;
    /* Closing the descriptor releases the lock, when it was taken. */
    if (fd >= 0)
        io->close_file(io, fd);
    free(lock);
    return rc;
}
