/*
 * io_fault — a test I/O backend that wraps another and fails chosen calls.
 *
 * Arm it to fail the Nth matching call from now with an errno (EIO,
 * ENOSPC, ...) or to turn a write into a short write; once or persistently
 * (every matching call from then on). Optionally only calls on paths
 * containing a substring (descriptors remember the path they were opened
 * with). Used to prove: a clear error, nothing acknowledged lost, and after
 * a failed sync the partition refuses appends.
 */
#ifndef SIGLOG_IO_FAULT_H
#define SIGLOG_IO_FAULT_H

#include <stdint.h>

#include "io.h"

/* Op classes. close_file, munmap_file, lock_file, writeback and the
 * clocks are never failed (nor counted). */
enum io_fault_op {
    IO_FAULT_OPEN = 1u << 0,
    IO_FAULT_READ = 1u << 1,   /* pread, file_size, list_dir, stat_path, path_owner */
    IO_FAULT_WRITE = 1u << 2,  /* pwrite, pwritev */
    IO_FAULT_SYNC = 1u << 3,   /* fsync, fdatasync, msync, sync_dir */
    IO_FAULT_TRUNCATE = 1u << 4,
    IO_FAULT_RENAME = 1u << 5, /* path filter: either name matches */
    IO_FAULT_UNLINK = 1u << 6, /* unlink, rmdir */
    IO_FAULT_MKDIR = 1u << 7,
    IO_FAULT_MMAP = 1u << 8,
    IO_FAULT_ANY = 0xffffu,
};

/* Instead of an errno: write only half of the bytes (at least 1) and
 * return that count. Armed on a class other than WRITE it acts as EIO. */
#define IO_FAULT_SHORT_WRITE 1000000

typedef struct io_fault io_fault;

io_fault *io_fault_new(const siglog_io *base);
void io_fault_free(io_fault *f);
const siglog_io *io_fault_io(io_fault *f);

/* Fail the nth (1-based) call matching op_mask from now on with -err (or a
 * short write), and with persistent != 0 every matching call after it too.
 * path_substr: only calls on paths containing it (NULL: any path).
 * Re-arming replaces the previous arm. */
void io_fault_arm(io_fault *f, unsigned op_mask, uint64_t nth, int err, int persistent, const char *path_substr);
void io_fault_disarm(io_fault *f);
/* Calls matching op_mask seen since creation (armed or not). */
uint64_t io_fault_calls(const io_fault *f, unsigned op_mask);
/* Number of calls that were failed. */
uint64_t io_fault_injected(const io_fault *f);

#endif
