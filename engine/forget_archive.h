/*
 * forget_archive — a forget over archives exported with siglog archive
 * (archive_export.c), which live outside the store in directories the
 * caller names (siglog_forget_options.archive_dirs).
 *
 * Each directory is resolved once and opened as a jail root (io_root.h):
 * every file beneath it is opened relative to that descriptor, no symlink
 * followed. Its files named *.sgar are read whole and checked
 * (sl_archive_file_open); only an archive whose header names this store's
 * id and the forget's stream is this forget's: a name proves nothing, so
 * other stores' and streams' archives, of any name, are left as they are.
 * The cold tier's archives of this store (named "<store id>.<stream>.",
 * cold.h) are the catalog's, rewritten by forget_cold.h, and passed over
 * here. A file that cannot be read or checked fails the forget naming it
 * (file and byte): it might hold a key, and the proof must not be short.
 *
 * An archive holding an event of a key is replaced by one without it
 * over the same range [first, next), so its name stays, written by the
 * streaming archive writer (archive_write.c) as forget_rebuild.h says:
 * its kept records in batches of their own ranges, one segment for each
 * of its segments that keeps a record, over that segment's range; an
 * emptied segment's range goes to the kept segment before it, or, before
 * the first kept one, to that one (which then starts at first). Each
 * segment's key filter (§23) is built from the keys it keeps. So no new
 * segment holds more than the old one it stands for, and a restore of it
 * makes segments no larger than the store's were:
 *   1. NAME.forget is written (NAME.forget.tmp, synced, renamed, the
 *      directory synced) and read back whole;
 *   2. it is renamed over NAME and the directory synced.
 * A crash leaves NAME old or new, never neither; a NAME.forget (or its
 * .tmp) left beside it holds no forgotten event (only what stays) and is
 * removed by the next forget over the directory. An archive left without
 * records is unlinked and the directory synced. The old NAME still holds
 * the keys until 2; the forget's intent stays until every archive is
 * done, so the run that finishes it (given the same directories) does it.
 *
 * Memory: a batch or two at a time and the archive's tables (segment
 * table, schema summary, the filters of what stays), whatever its size:
 * the writer reads the archive twice (to tally what stays, then to write
 * it) and what it wrote once more to check it.
 */
#ifndef SIGLOG_FORGET_ARCHIVE_H
#define SIGLOG_FORGET_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"
#include "compact.h"
#include "io_root.h"
#include "maintenance.h"

/* An archive of this store's stream holding events of the keys. */
typedef struct forget_archive {
    size_t dir;                 /* its directory's index */
    char *name;
    uint32_t partition;
    uint64_t events, bytes;     /* to remove: count, key and value bytes */
    uint64_t offset_min, offset_max;
    int64_t time_min, time_max;
    uint64_t file_bytes;
    uint8_t *found;             /* per key (the caller's order) */
} forget_archive;

typedef struct forget_archives {
    maintenance *m;
    const char *stream;
    int compression;            /* of rewritten batches: BATCH_LZ4HC(warm_level), as an export's */
    size_t n_keys;
    size_t n_dirs;
    const char *const *dirs;    /* as the caller gave them */
    char **real;                /* resolved */
    io_root **roots;
    char **seen;                /* names of this stream's archives read */
    size_t n_seen;
    forget_archive *hold;
    size_t n_hold;
    uint64_t read;              /* archives of this store's stream read */
    /* Set by a forget that knows its keys: an archive of this store's
     * stream whose key filters exclude every key is passed over unread
     * (sl_archive_filters_exclude), counted in skipped. */
    archive_filter_test excludes;
    void *excludes_arg;
    uint64_t skipped;
} forget_archives;

/* Resolve and open dirs[0..n) for the forget of n_keys keys (the caller keeps them alive); an error
 * names the directory. Close with sl_forget_archives_close, also after a
 * failure. */
int sl_forget_archives_open(forget_archives *fa, maintenance *m, const char *stream, int compression,
                            size_t n_keys, const char *const *dirs, size_t n);
void sl_forget_archives_close(forget_archives *fa);

/* Which key of the caller's record r is: its index, or -1 for none. */
typedef long (*forget_archive_match_fn)(void *arg, const siglog_record *r);

/* Read every archive of this store's stream in the directories (see
 * above), noting in fa->hold those holding an event match() names. */
int sl_forget_archives_plan(forget_archives *fa, forget_archive_match_fn match, void *arg);

/* Rewrite fa->hold[i] without the records keep() refuses (see above);
 * *bytes_after the new file's size (0: the archive was emptied and
 * removed). */
int sl_forget_archives_rewrite(forget_archives *fa, size_t i, compact_keep_fn keep, void *arg,
                               uint64_t *bytes_after);

/* Remove NAME.forget and NAME.forget.tmp left by an interrupted rewrite
 * beside each archive NAME read; *removed counts them. */
int sl_forget_archives_leftovers(forget_archives *fa, uint32_t *removed);

/* The paths told as not visited in one forget call, each once although
 * the intents it finishes first read the same audit trail. */
typedef struct forget_reported {
    char **paths;
    size_t n;
} forget_reported;
void sl_forget_reported_free(forget_reported *r);

/* The archives the store's audit trail says were exported from this
 * stream ("archive" records) into a directory not given: *count
 * counts them, each path once, in the record's
 * spelling with empty and "." components left out; fn (may be NULL) is
 * told those not in *told yet, which are added to it. A record names the
 * directory resolved; an older one may name it relative to the exporter's
 * working directory, and it is given when it resolves to a directory
 * given from here or is the last components of one. A forget cannot tell
 * such an archive is gone, so it is reported, never passed over in
 * silence. */
int sl_forget_archives_unvisited(forget_archives *fa, forget_reported *told, void (*fn)(void *ctx, const char *path),
                                 void *ctx, uint64_t *count);

#endif
