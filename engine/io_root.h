/*
 * io_root — the I/O table a store hands to its modules: any backend, with
 * every path op resolved beneath the store directory's descriptor
 * (io_jail.c). The descriptor is opened once, when the store is opened or
 * verified, so once a handle is live the store's path is a label only:
 * renaming the store, or replacing it or a parent directory by a symlink
 * or another directory, cannot make any later open, create, rename or
 * removal land outside the directory the handle opened.
 *
 * Descriptor ops (pread, fsync, ...) go to the backend unchanged.
 */
#ifndef SIGLOG_IO_ROOT_H
#define SIGLOG_IO_ROOT_H

#include "io.h"

typedef struct io_root io_root;

/* Open the directory `path` (already resolved: sl_io_real_path) without
 * following a symlink, and wrap `backend` around it. 0, or -errno /
 * -IO_EJAIL (sl_io_jail_detail() says why). */
int sl_io_root_open(const siglog_io *backend, const char *path, io_root **out);
/* The table: valid until sl_io_root_close. */
const siglog_io *sl_io_root_io(io_root *r);
void sl_io_root_close(io_root *r);

#endif
