/*
 * maintenance — the third kind of handle beside the writer and readers
 * (DESIGN notes in catalog.h); siglog_maintenance_open is its public face.
 *
 * One maintenance handle per store at a time: it holds an exclusive flock
 * on STORE/maintenance.lock (separate from writer.lock, so maintenance and
 * a writer run side by side, usually in two processes) for its whole life,
 * with its pid in the file for the error a second one gets. It may replace
 * or remove SEALED segments only, through each partition's catalog
 * (sl_catalog_rewrite_*, sl_catalog_remove_prefix), and publishes each
 * change as a catalog generation that the writer and readers pick up. It
 * never touches an active segment, the journal or the next-offset floor.
 *
 * Leftovers: the files of an interrupted rewrite exist only while
 * maintenance runs or after one died. So whoever proves that none runs
 * removes them: the maintenance handle when it first opens a partition's
 * catalog, and a writer's open when it can take maintenance.lock (shared,
 * for the moment of its open: sl_maintenance_idle_begin); a maintenance
 * open that finds the lock held without a live pid in it waits for that
 * moment to pass.
 *
 * Thread-safety: one thread at a time.
 */
#ifndef SIGLOG_MAINTENANCE_H
#define SIGLOG_MAINTENANCE_H

#include <stdint.h>

#include "audit.h"
#include "catalog.h"
#include "io.h"
#include "siglog.h"
#include "store_secret.h"

#define MAINTENANCE_LOCK_FILE "maintenance.lock"

typedef struct siglog_maintenance maintenance;

/* Take the maintenance role of the store at store_path (an existing
 * store; o as siglog_maintenance_open, NULL for the defaults):
 * SIGLOG_ELOCKED naming the holder's pid when another handle has it.
 * Creates maintenance.lock if missing; writes nothing else. */
int sl_maintenance_open(maintenance **out, const char *store_path, const siglog_options *o);
/* Release the role (closes every catalog it opened). NULL is fine. */
void sl_maintenance_close(maintenance *m);

/* The catalog of partition `partition` of stream `stream`, opened for
 * maintenance on first use and owned by the handle: a version 2 catalog
 * (SIGLOG_EINVAL for a partition no writer has opened since the catalog
 * came: open the store for writing once), whose leftovers are removed
 * then. SIGLOG_ENOENT for an unknown stream or partition. */
int sl_maintenance_catalog(maintenance *m, const char *stream, uint32_t partition, catalog **out);

/* The directory of stream `stream` (malloc'd) and its settings as its
 * stream.meta holds them: SIGLOG_ENOENT for an unknown stream,
 * SIGLOG_ECORRUPT naming a damaged file. */
int sl_maintenance_stream(const maintenance *m, const char *stream, char **dir, siglog_stream_config *cfg);
/* The names of the store's streams (sorted; free with
 * sl_io_dirent_list_free). */
int sl_maintenance_streams(const maintenance *m, io_dirent_list *out);

/* The store's I/O (jailed beneath its directory) and its recorded modes. */
const siglog_io *sl_maintenance_io(const maintenance *m);
const char *sl_maintenance_store_path(const maintenance *m);
uint32_t sl_maintenance_file_mode(const maintenance *m);
/* The I/O the handle was opened with, not jailed: for a directory the
 * caller names outside the store (an archive's target). */
const siglog_io *sl_maintenance_backend(const maintenance *m);
uint64_t sl_maintenance_store_id(const maintenance *m);
/* The force_owner it was opened with (siglog_options): a writer opened on
 * its behalf (forget_roll.h) writes as the store's owner too. */
uint32_t sl_maintenance_force_owner(const maintenance *m);

/* The store's secret (sl_store_secret_load's errors): the caller wipes
 * it (sodium_memzero) as soon as it is done with it. */
int sl_maintenance_secret(const maintenance *m, uint8_t out[STORE_SECRET_BYTES]);

/* Append r to the store's audit trail, signed with the store's secret
 * (read now: sl_store_secret_load's errors), durable when this returns 0
 * (sl_audit_append). Maintenance records its intent this way before it
 * changes anything. */
int sl_maintenance_audit(maintenance *m, audit_record *r);

/* A writer's open (store.c): 1 when leftovers may be removed now: a
 * maintenance handle ran before (maintenance.lock exists) and none runs
 * now, proven by a shared lock on maintenance.lock that *fd holds until
 * sl_maintenance_idle_end. 0 (*fd -1) when none ever ran (nothing to
 * remove) or one is live (they are its own: leave them). Writes
 * nothing. */
int sl_maintenance_idle_begin(const siglog_io *io, const char *store_path, int *fd);
void sl_maintenance_idle_end(const siglog_io *io, int fd);

#endif
