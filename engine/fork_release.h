/*
 * fork_release — lock files are let go in a forked child.
 *
 * Every lock siglog takes is an flock on a lock file (writer.lock,
 * maintenance.lock, catalog.lock, audit.lock, consumers.lock). An flock
 * belongs to the open file description, and fork() gives the child a
 * copy of every descriptor: a child forked while its parent held such a
 * lock holds it too, until the child closes that descriptor or exits.
 * The parent's own close then no longer releases it. A collector that
 * forks a long-lived helper would keep its store locked against the next
 * writer after it closed, and a fork while a roll held catalog.lock for
 * its atomic replace left every later catalog update of that partition,
 * in the parent and in any maintenance process, waiting it out until
 * they failed with SIGLOG_ELOCKED (maintenance_live saw both).
 *
 * So the POSIX backend opens every lock file through here (IO_LOCK): the
 * descriptor is noted, and a pthread_atfork handler closes the noted
 * descriptors in the child. The child never uses its parent's handles
 * (siglog.h says so), so nothing there misses them.
 *
 * Invariant: a descriptor is noted exactly from its open to its close,
 * both done under the registry's mutex, which fork's prepare handler also
 * takes: no fork sees a lock file's descriptor opened but not yet noted,
 * or closed but still noted (the descriptor number reused by another
 * file the child would then lose).
 */
#ifndef SIGLOG_FORK_RELEASE_H
#define SIGLOG_FORK_RELEASE_H

/* Call open_fn(ctx) under the registry's mutex and note the descriptor
 * it returns (>= 0). Returns it, or open_fn's negative errno, or -ENOMEM
 * (the descriptor closed) when it cannot be noted. */
int sl_fork_release_open(int (*open_fn)(void *ctx), void *ctx);

/* Close fd, first un-noting it when it is noted (under the mutex). 0 or
 * -errno, as close(2). */
int sl_fork_release_close(int fd);

#endif
