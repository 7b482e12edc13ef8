/*
 * io — every filesystem call the engine makes goes through this table.
 *
 * Like SQLite's VFS: the POSIX implementation is the default, and tests plug
 * in implementations that fail a chosen call (io_fault) or simulate a power
 * cut (io_crash). Nothing else in engine/ may call open/pwrite/fsync/rename
 * and friends directly.
 *
 * Conventions: every function returns 0 or a non-negative count on success
 * and -errno on failure (never a SIGLOG_E* code: callers translate, adding
 * the path to the detail). Short writes are retried inside sl_io_write_all();
 * a backend's pwrite may return a short count like the kernel's.
 *
 * Invariant for crash simulation: a byte is only guaranteed to survive a
 * power cut once fdatasync/fsync of its file returned 0; a directory entry
 * (create, rename, unlink) only once fsync of its directory returned 0.
 *
 * The store is a jail. The store resolves its own directory once, when it
 * is opened (sl_io_real_path: symlinks in the user's path *to* the store are
 * the user's choice), and holds it open (io_root.h). From then on every
 * path op of the POSIX backend (io_jail.c) resolves its path beneath that
 * descriptor without following any symbolic link (openat2 RESOLVE_BENEATH
 * | RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk), so a rename of the store's
 * path under a live handle redirects nothing; it acts with the *at()
 * call on the parent's descriptor, and checks what it finds before it
 * acts: open_file wants a regular file, mkdir/rmdir/list_dir/sync_dir a
 * directory, stat_path and rename either. A symlink, FIFO, device, socket,
 * or the wrong one of file/directory, anywhere in the path, fails the call
 * with -IO_EJAIL before anything is written (a FIFO is never opened, so
 * nothing blocks; a device is never opened for I/O) and sl_io_jail_detail()
 * names the component and what it is. unlink removes a symlink itself,
 * never its target, so a stale temporary file is unlinked before it is
 * created again with IO_EXCL. The test backends delegate path ops to the
 * POSIX one, so the rule holds for every backend.
 *
 * Files and directories the POSIX backend creates get exactly `mode`
 * (fchmod after creation: the process's umask does not narrow a store's
 * recorded mode, which is its contract with reader groups). With
 * IO_MODE_PARENT_OWNER in the mode, a new entry also gets the uid and gid
 * of the directory it is created in (the store owner's, when a writer runs
 * as another user with force_owner).
 */
#ifndef SIGLOG_IO_H
#define SIGLOG_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Flags for open_file (combine). */
#define IO_READ 0x0u     /* read-only */
#define IO_WRITE 0x1u    /* read-write */
#define IO_CREATE 0x2u   /* create if missing (O_CREAT) */
#define IO_EXCL 0x4u     /* with IO_CREATE: fail with -EEXIST if present */
#define IO_TRUNC 0x8u    /* truncate to 0 on open */
#define IO_LOCK 0x10u    /* a lock file: a forked child lets it go (fork_release.h) */

/* In the mode of open_file/mkdir: chown the new entry to its parent
 * directory's owner. Outside the permission bits (07777). */
#define IO_MODE_PARENT_OWNER 0x80000000u

/* -IO_EJAIL: a path op refused a symlink, FIFO, device, socket, or a file
 * where a directory belongs (or the reverse); sl_io_jail_detail() says which.
 * Above every errno, so it never collides with one. */
#define IO_EJAIL 4096

/* One entry of list_dir: names only, no "." or "..". */
typedef struct io_dirent_list {
    char **names;
    size_t count;
} io_dirent_list;

typedef struct siglog_io siglog_io;

struct siglog_io {
    /* Files are plain descriptors (ints >= 0) owned by the backend. */
    int (*open_file)(const siglog_io *io, const char *path, unsigned flags, uint32_t mode);
    int (*close_file)(const siglog_io *io, int fd);
    ssize_t (*pread)(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off);
    ssize_t (*pwrite)(const siglog_io *io, int fd, const void *buf, size_t len, uint64_t off);
    ssize_t (*pwritev)(const siglog_io *io, int fd, const struct iovec *iov, int iovcnt, uint64_t off);
    int (*fdatasync)(const siglog_io *io, int fd);
    int (*fsync)(const siglog_io *io, int fd);
    /* Start writing bytes [off, off + len) of a file back to its device
     * and return without waiting for them. A hint: it makes nothing
     * durable (only fdatasync/fsync do), and its failure is ignored (a
     * failed write-back shows at the sync that follows). It lets a sync
     * find most of a large file already written instead of writing it
     * all while the caller waits. A backend may leave it NULL (the test
     * backends that model durability do): no hints are given then. */
    int (*writeback)(const siglog_io *io, int fd, uint64_t off, uint64_t len);
    int (*ftruncate)(const siglog_io *io, int fd, uint64_t size);
    int (*file_size)(const siglog_io *io, int fd, uint64_t *size);
    /* Memory maps of index files. prot_write 0: read-only, shared. */
    int (*mmap_file)(const siglog_io *io, int fd, size_t len, int prot_write, void **addr);
    int (*munmap_file)(const siglog_io *io, void *addr, size_t len);
    int (*msync_file)(const siglog_io *io, void *addr, size_t len);

    int (*rename)(const siglog_io *io, const char *from, const char *to);
    int (*unlink)(const siglog_io *io, const char *path);
    int (*mkdir)(const siglog_io *io, const char *path, uint32_t mode);
    int (*rmdir)(const siglog_io *io, const char *path);
    /* fsync of a directory, making its entries durable. */
    int (*sync_dir)(const siglog_io *io, const char *path);
    /* Names in a directory, sorted bytewise. Free with sl_io_dirent_list_free. */
    int (*list_dir)(const siglog_io *io, const char *path, io_dirent_list *out);
    /* 0 if it exists (*is_dir set), -ENOENT if not. */
    int (*stat_path)(const siglog_io *io, const char *path, int *is_dir, uint64_t *size);
    /* Owner and group of a file or directory. */
    int (*path_owner)(const siglog_io *io, const char *path, uint32_t *uid, uint32_t *gid);
    /* The filesystem holding the directory of path (path itself need not
     * be a directory): bytes an unprivileged writer may still use
     * (statvfs f_bavail) and its size. A backend may leave it NULL: a
     * setting that needs it (min_free) is then refused, never ignored. */
    int (*fs_space)(const siglog_io *io, const char *path, uint64_t *avail, uint64_t *total);

    /* Non-blocking lock on an open file (flock), exclusive or, with
     * `shared`, shared (a read-only descriptor may take either).
     * -EWOULDBLOCK if another open file description holds a conflicting
     * one. Closing the descriptor releases it. */
    int (*lock_file)(const siglog_io *io, int fd, int shared);

    /* Wall clock in microseconds since the epoch, and a monotonic clock. */
    int64_t (*now_us)(const siglog_io *io);
    int64_t (*monotonic_us)(const siglog_io *io);

    void *ctx; /* backend state */
};

/* The process-wide POSIX implementation. */
const siglog_io *sl_io_posix(void);

/* This thread's explanation of the last -IO_EJAIL: "PATH is a symbolic
 * link, not a file". */
const char *sl_io_jail_detail(void);

/* A store's own directory, resolved once at open: realpath(path), or when
 * path does not exist yet, realpath of its parent joined with its last
 * component. malloc'd; NULL with errno set on failure. */
char *sl_io_real_path(const char *path);

/* Helpers over any backend. */

/* pwrite until done; a short write of 0 bytes becomes -EIO. */
int sl_io_write_all(const siglog_io *io, int fd, const void *buf, size_t len, uint64_t off);
/* pwritev until done. */
int sl_io_writev_all(const siglog_io *io, int fd, const struct iovec *iov, int iovcnt, uint64_t off);
/* pread until len bytes or end of file; returns the bytes read. */
ssize_t sl_io_read_full(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off);
/* How many bytes into buf a read from file offset off should land: there
 * its destination has the offset's phase modulo SL_IO_READ_ALIGN, so the
 * kernel copies each page-cache page to an address at the same offset
 * within 64 bytes. Why: on AMD Zen cores the kernel's `rep movsb` copy
 * runs about five times slower when the destination lies 1 to 63 bytes
 * past the source modulo the page (measured: the scan of a 64 MiB journal
 * from byte 8193 into a malloc'd buffer, 30 against 7 ms of CPU); an
 * equal phase never falls in that window. The buffer needs
 * SL_IO_READ_ALIGN - 1 bytes of room before the data. */
#define SL_IO_READ_ALIGN 64
static inline size_t sl_io_read_shift(const void *buf, uint64_t off)
{
    return (size_t)((off - (uint64_t)(uintptr_t)buf) & (SL_IO_READ_ALIGN - 1));
}
void sl_io_dirent_list_free(io_dirent_list *l);

/* Create a temporary file afresh: whatever has its name is unlinked first
 * (a symlink, not its target), then it is created with IO_EXCL. Returns a
 * descriptor or -errno. */
int sl_io_create_temp(const siglog_io *io, const char *path, unsigned flags, uint32_t mode);

/* The atomic-replace recipe for small metadata files: write `path.tmp`,
 * fsync it, rename over `path`, fsync `dir`. A crash at any point leaves
 * the old file or the new one. */
int sl_io_replace_file(const siglog_io *io, const char *dir, const char *path, const void *data, size_t len,
                    uint32_t mode);
/* Read a whole small file (at most max_len bytes, -EFBIG beyond). Caller
 * frees *data. */
int sl_io_read_file(const siglog_io *io, const char *path, size_t max_len, void **data, size_t *len);

#endif
