/*
 * cold — the cold tier's directory, the stream setting cold_dir
 * (format-spec/FORMAT.md §4).
 *
 * DESIGN NOTES
 *
 * cold_dir is the one directory outside the store that siglog writes
 * beneath: the store is a jail (io_jail.h), and the cold tier lives on
 * another disk or a network mount by design. So it must never lie inside
 * the store: a cold file there would be a stranger in the jail (a file
 * no catalog names, which the store's own cleanup may take for a
 * leftover) and a store copied or removed whole would take its cold tier
 * with it. The rule is checked when a config naming it is stored (stream
 * create, stream config), on the path as given and, when it exists, as
 * it resolves: the directory may be a mount that comes later, so its
 * absence is no error here.
 *
 * Opening it (sl_cold_root_open, the one function that does): the path
 * is checked against the store again and opened as given,
 * O_DIRECTORY|O_NOFOLLOW (a symlink at its last component is refused), as
 * a jail root (io_root.h): every archive beneath it is opened relative to
 * that descriptor with no symlink followed, like the store's own files.
 *
 * Naming: a cold entry's catalog location is "<base>.cold" (never a file
 * in the partition directory); its archive in cold_dir is
 * "<store id, 16 hex>.<stream>.<partition, 5 digits>.<base>-<end>.sgar",
 * base and end the entry's offsets in 20 digits (FORMAT.md §4, "Cold
 * tier"): stores, streams and partitions may share a cold_dir. A forget
 * replaces an archive by one under a new name, so that the catalog's
 * commit is what switches readers from one to the other: the entry's
 * location becomes "<base>.cold<G>" and its archive's name ends
 * ".g<G>.sgar", G counting the rewrites.
 */
#ifndef SIGLOG_COLD_H
#define SIGLOG_COLD_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"
#include "catalog.h"
#include "io_root.h"
#include "segment.h"
#include "siglog.h"

#define COLD_LOCATION_SUFFIX ".cold"
/* Longest archive name: 16 + 1 + stream + 1 + 5 + 1 + 20 + 1 + 20 + ".g" and 10 + 5. */
#define COLD_NAME_MAX (SIGLOG_NAME_MAX + 92)

/* SIGLOG_EINVAL naming cold_dir when c's cold_dir is the store at
 * store_path or beneath it (as given, or resolved when it exists); 0 when
 * it is outside, or empty. SIGLOG_ENOMEM. Reads metadata only. */
int sl_cold_dir_check(const char *store_path, const siglog_stream_config *c);

/* The catalog location of the cold entry at base whose archive was
 * written `generation` times by a forget (forget_cold.h): "<base>.cold",
 * then "<base>.cold<generation>". */
void sl_cold_location(char buf[CATALOG_LOCATION_MAX + 1], uint64_t base, uint32_t generation);
/* The generation of cold entry e's location (0 for "<base>.cold"). */
uint32_t sl_cold_generation(const catalog_segment *e);
/* 1 when e lives in the cold tier. */
int sl_cold_entry(const catalog_segment *e);
/* The index after s's last cold entry (0 without one). Retention keeps
 * the cold tier a prefix of the log (a restore may put hot entries
 * before it until the next run moves them); rewrites (compaction) work
 * on the entries after it only: a cold entry is never rewritten through
 * the catalog's rewrite primitive (a forget replaces its archive:
 * forget_cold.h). */
size_t sl_cold_prefix(const catalog_snapshot *s);
/* The archive name of entry [base, end) of that generation (see
 * "Naming"). */
void sl_cold_archive_name(char buf[COLD_NAME_MAX + 1], uint64_t store_id, const char *stream, uint32_t partition,
                          uint64_t base, uint64_t end, uint32_t generation);
/* The archive name of cold entry e. */
void sl_cold_entry_archive_name(char buf[COLD_NAME_MAX + 1], uint64_t store_id, const char *stream,
                                uint32_t partition, const catalog_segment *e);

/* Open the cold_dir of c as a jail through backend (see "Opening it"):
 * *real (malloc'd) is its path. SIGLOG_EINVAL when c has
 * none or it lies in the store at store_path (NULL: not checked), and an
 * I/O error naming cold_dir when it is missing, not a directory or cannot
 * be opened; nothing is left open on failure. */
int sl_cold_root_open(const siglog_io *backend, const char *store_path, const siglog_stream_config *c,
                      io_root **out, char **real);

/* The cold entry e of stream's partition, store store_id, as a read-only
 * segment (cold_read.c): its archive opened beneath cfg's cold_dir
 * through backend, checked whole and against e. SIGLOG_ENOENT (errno's
 * code) naming the archive when it is missing, SIGLOG_ECORRUPT naming
 * the file and byte when damaged or not e's; writes nothing. */
int sl_cold_segment_open(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                         const char *stream, uint32_t partition, const catalog_segment *e, segment **out);

/* 1 when cold entry e's archive (as sl_cold_segment_open finds it) is of
 * version 2, of e by its header, and its filter excludes every key a
 * reader looks for (test), read from its head and filter alone
 * (sl_archive_filters_exclude); 0 otherwise: the archive is to be read
 * (and checked whole). Writes nothing. */
int sl_cold_filters_exclude(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                            const char *stream, uint32_t partition, const catalog_segment *e,
                            archive_filter_test test, void *arg);

/* What verify asks of cold entry e's archive's key filter (opened and
 * checked as sl_cold_segment_open does it): sl_archive_file_check_filters.
 * Writes nothing. */
int sl_cold_check_filters(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                          const char *stream, uint32_t partition, const catalog_segment *e);

/* The same archive as sl_cold_segment_open opens and checks, its one
 * segment's batches handed to *bf to read in order (bf->io the backend;
 * close with sl_archive_source_close(bf, *path)), as an export or a
 * restore's comparison reads a segment file. */
int sl_cold_batch_file_open(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                            const char *stream, uint32_t partition, const catalog_segment *e, archive_batch_file *bf,
                            char **path);
/* Orphan archives (cold_orphans.c): files of store store_id's stream's
 * partition p in cfg's cold_dir, an archive or its temporary, that s
 * does not name as cold entries. fn gets each (io and dir to reach it,
 * its name and offsets); a non-zero return stops and is returned. A
 * cold_dir missing has none; nothing is written. */
typedef int (*cold_orphan_fn)(void *ctx, const siglog_io *io, const char *dir, const char *name, uint64_t base,
                              uint64_t end);
int sl_cold_orphans_list(const siglog_io *backend, const siglog_stream_config *cfg, uint64_t store_id,
                         const char *stream, uint32_t p, const catalog_snapshot *s, cold_orphan_fn fn, void *ctx);
/* Remove partition p's orphan archives as the catalog c (refreshed)
 * names its cold entries now; *count says how many (dry_run: found,
 * none removed). Only under the maintenance role m (see cold_orphans.c:
 * a move commits its archive after writing it). */
int sl_cold_orphans_remove(siglog_maintenance *m, catalog *c, const char *stream, uint32_t p,
                           const siglog_stream_config *cfg, int dry_run, uint64_t *count);

#endif
