/*
 * maintenance — the third kind of handle beside the writer and readers
 * (DESIGN notes in catalog.h).
 *
 * One maintenance handle per store at a time: it holds an exclusive flock
 * on STORE/maintenance.lock (separate from writer.lock, so maintenance and
 * a writer run side by side, usually in two processes). It may replace or
 * remove SEALED segments only, through each partition's catalog
 * (catalog_rewrite_*, catalog_remove_prefix), and publishes each change as
 * a catalog generation that the writer and readers pick up. It never
 * touches an active segment, the journal or the next-offset floor.
 *
 * Thread-safety: one thread at a time.
 *
 * NOT IMPLEMENTED YET: this header is the contract of the next step;
 * nothing defines or includes it, so a caller fails to link rather than
 * running a stub.
 */
#ifndef SIGLOG_MAINTENANCE_H
#define SIGLOG_MAINTENANCE_H

#include <stdint.h>

#include "catalog.h"
#include "io.h"

#define MAINTENANCE_LOCK_FILE "maintenance.lock"

typedef struct maintenance maintenance;

/* Take the maintenance role of the store at store_path (an existing
 * store): SIGLOG_ELOCKED naming the holder's pid when another handle has
 * it. Creates maintenance.lock if missing; writes nothing else. */
int maintenance_open(maintenance **out, const siglog_io *io, const char *store_path);
/* Release the role (closes every catalog it opened). NULL is fine. */
void maintenance_close(maintenance *m);

/* The catalog of partition `partition` of stream `stream`, opened for
 * maintenance on first use (sl_catalog_open) and owned by the handle. */
int maintenance_catalog(maintenance *m, const char *stream, uint32_t partition, catalog **out);

#endif
