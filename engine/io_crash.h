/*
 * io_crash — a test I/O backend that simulates a power cut.
 *
 * Calls go through to real files (so the engine reads what it wrote), while
 * the backend remembers what is not yet durable: for each file the bytes
 * written since its last fsync/fdatasync (with the bytes they replaced) and
 * size changes; for each directory the creates, renames and unlinks since
 * its last sync_dir. io_crash_power_cut() then rewrites the real files into
 * one state a real disk could be in after losing power:
 *   - every unsynced write is kept, dropped, torn (a random prefix kept) or
 *     garbled (random bytes), per the mode and the seed;
 *   - unsynced directory operations are kept or undone (a created file
 *     vanishes, a rename is reversed, an unlinked file comes back);
 *   - files written through mmap are kept or zeroed (they are indexes,
 *     which the engine must be able to rebuild). A file is "map-dirty"
 *     while it has a writable mapping and until its next sync after that;
 *     DROP_ALL zeroes such a file whole, RANDOM/GARBLE keep it or zero it
 *     from a random page boundary to its end; its size is kept.
 * RANDOM and GARBLE decide per 512-byte sector (a later write into a sector
 * never survives an earlier one) and pick the file size after a random
 * prefix of its writes; directory operations survive as a random prefix
 * (in call order), as a journaling file system commits them.
 * Sync of a file makes its data durable, not its directory entry: a file
 * created and fdatasync'ed but whose directory was never synced can vanish.
 *
 * io_crash_die_after(n) makes the process "die" at the nth mutating call:
 * that call and every later one fail with -EIO and change nothing, so the
 * engine stops wherever it was, like a killed process (close_file and
 * munmap_file still release what they are given).
 */
#ifndef SIGLOG_IO_CRASH_H
#define SIGLOG_IO_CRASH_H

#include <stdint.h>

#include "io.h"

enum io_crash_mode {
    IO_CRASH_KEEP_ALL = 0,   /* as after a process kill: page cache survives */
    IO_CRASH_DROP_ALL = 1,   /* every unsynced write and dir op lost */
    IO_CRASH_RANDOM = 2,     /* each 512-byte sector keeps a random prefix
                              * of the writes into it (seeded): writes are
                              * kept, dropped or torn at sector boundaries */
    IO_CRASH_GARBLE = 3,     /* like RANDOM, and dropped writes may leave
                              * random bytes instead of the old ones */
};

typedef struct io_crash io_crash;

io_crash *io_crash_new(uint64_t seed);
void io_crash_free(io_crash *c);
const siglog_io *io_crash_io(io_crash *c);

/* Mutating calls (write, truncate, sync, msync, sync_dir, rename, unlink,
 * mkdir, rmdir, open with IO_CREATE or IO_TRUNC) performed so far; the
 * call that dies and calls after it are not counted. */
uint64_t io_crash_ops(const io_crash *c);
/* Die at the nth mutating call from the start (0: never), counted as
 * io_crash_ops counts: die_after(io_crash_ops(c) + k) dies k calls from
 * now. The power cut disarms it. */
void io_crash_die_after(io_crash *c, uint64_t nth);
int io_crash_dead(const io_crash *c);

/* Pending writes keep their old and new bytes, at most 256 MiB in all:
 * beyond that a write fails with -ENOMEM until a sync releases them. */

/* Apply the power cut to the real files under the paths seen, then forget
 * all pending state and come back to life (calls work again). Descriptors
 * the engine still holds are invalid afterwards: close the store first
 * (its calls fail harmlessly while dead). Returns 0 or -errno. */
int io_crash_power_cut(io_crash *c, int mode);

#endif
