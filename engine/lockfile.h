/*
 * lockfile — the pid a role's holder writes into its lock file
 * (writer.lock, maintenance.lock).
 *
 * The flock on the file is the lock; the pid in it is advice: it names
 * the holder in the error a second claimant gets, and tells a live holder
 * from someone holding the lock only for a moment without writing a pid
 * (readers reading the journal hold writer.lock shared, a writer's open
 * holds maintenance.lock shared while it removes rewrite leftovers). A
 * holder that closes truncates the file; one that dies leaves its pid,
 * which then names no live process.
 */
#ifndef SIGLOG_LOCKFILE_H
#define SIGLOG_LOCKFILE_H

#include "io.h"

#define LOCKFILE_PID_MAX 64

/* The pid text the lock file at fd holds ("" when none) into pid; returns
 * 1 when it names a live process (one we may not signal counts as live). */
int sl_lockfile_holder(const siglog_io *io, int fd, char pid[LOCKFILE_PID_MAX]);
/* Write this process's pid into the lock file it holds. */
void sl_lockfile_claim(const siglog_io *io, int fd);
/* Release: empty the file (this holder closed cleanly), close fd. */
void sl_lockfile_release(const siglog_io *io, int fd);

#endif
