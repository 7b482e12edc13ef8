/*
 * catalog_floor — a copy of a partition's bounds kept beside its
 * directory, STREAM/PPPPP.floor (format-spec/FORMAT.md, "Partition
 * floor").
 *
 * Why: catalog.ckpt lives in the partition directory, so a directory
 * removed whole (rm -rf streams/S/00002) takes with it the one record of
 * which offsets the partition handed out. Recreating it empty would start
 * the log at 0 again and hand those offsets out twice. The floor file
 * survives it: it holds the log start and the next-offset floor of the
 * catalog's last write, so the partition can be refused (open, readers,
 * verify) and, once an operator accepts the loss (siglog verify --repair
 * --accept-loss, catalog_loss.h), go on past every offset it handed out.
 *
 * Invariant: the file's floor and generation are at most one catalog
 * write behind the catalog's. It is replaced right after each write of
 * catalog.ckpt (sl_catalog_update, still under catalog.lock, so
 * the writer and maintenance write it in the catalog's order), and the
 * catalog's floor is raised before the commit journal forgets the
 * batches below it: a crash between the two writes leaves the older
 * floor here and the batches above it still in the journal, which an
 * accepted loss puts back. A failed write of it fails the catalog's
 * commit as a failed write of catalog.ckpt would.
 *
 * Its generation lets a catalog rebuilt without catalog.ckpt (lost with
 * the file, or the directory) start above every generation the lost one
 * reached, so readers holding an older snapshot still see the new one as
 * newer and stems named by generation (".j<G>", ".r<G>") are not reused.
 *
 * A store from before it gets its floor files at a writer's open
 * (sl_catalog_keep_floor; when that fails, at the next catalog write); a
 * directory missing before that cannot be accepted (restore it), as
 * before.
 */
#ifndef SIGLOG_CATALOG_FLOOR_H
#define SIGLOG_CATALOG_FLOOR_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

#define CATALOG_FLOOR_MAGIC 0x4c464753u /* "SGFL" */
#define CATALOG_FLOOR_VERSION 1
#define CATALOG_FLOOR_BYTES 40
#define CATALOG_FLOOR_SUFFIX ".floor"

/* The floor file of partition directory dir ("<dir>.floor"): a malloc'd
 * path, or NULL when out of memory. */
char *sl_catalog_floor_path(const char *dir);

/* Codec (FORMAT.md). decode validates untrusted bytes: size, magic,
 * checksum, version, reserved zero, log start <= floor; SIGLOG_ECORRUPT
 * or SIGLOG_EVERSION, the detail naming the byte ("at byte N: ...").
 * active_base is not kept: it decodes as the floor. */
void sl_catalog_floor_encode(uint8_t buf[CATALOG_FLOOR_BYTES], uint64_t generation, const catalog_checkpoint *b);
int sl_catalog_floor_decode(const uint8_t *buf, size_t len, uint64_t *generation, catalog_checkpoint *b);

/* The floor file of dir: *found 0 (and 0 returned) when there is none;
 * SIGLOG_ECORRUPT naming it when it is damaged. Writes nothing. */
int sl_catalog_floor_read(const siglog_io *io, const char *dir, uint64_t *generation, catalog_checkpoint *b,
                          int *found);
/* Replace dir's floor file (atomic replace, its parent synced). */
int sl_catalog_floor_write(const siglog_io *io, const char *dir, uint64_t generation, const catalog_checkpoint *b,
                           uint32_t mode);

#endif
