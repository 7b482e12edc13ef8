/*
 * stream — a named log with a fixed number of partitions and its config
 * (format-spec/FORMAT.md, "Stream metadata").
 *
 * A stream exists once STORE/streams/NAME is durable: creation builds the
 * whole stream (partition directories, then its metadata with the
 * atomic-replace recipe) under the temporary name streams/.NAME.tmp and
 * renames it into place last, so a failure or a crash leaves either the
 * whole stream or nothing but that temporary directory, which is no
 * stream (not a valid name) and is removed by the next creation of NAME.
 * A stream directory without metadata is therefore damage: open reports
 * it as a failed stream (see `failed` below). A name whose directory
 * still holds anything is refused; adopting takes an earlier stream's
 * partitions over explicitly, after checking them.
 */
#ifndef SIGLOG_STREAM_H
#define SIGLOG_STREAM_H

#include <stdint.h>

#include "error.h"
#include "partition.h"
#include "siglog.h"

#define STREAM_META_MAGIC 0x54534753u /* "SGST" */
#define STREAM_META_VERSION 2        /* what this build writes; it reads 1 too */
#define STREAM_META_V1_FIXED_BYTES 64
#define STREAM_META_HEADER_BYTES 16  /* v2: before the name */
#define STREAM_META_ENTRY_HEADER 4   /* v2: u16 tag, u16 length */
#define STREAM_META_ENTRIES_MAX 2048 /* v2: bytes of entries in a file */
#define STREAM_META_UNKNOWN_MAX 1024 /* v2: bytes of unknown entries kept */
#define STREAM_META_BYTES_MAX (STREAM_META_HEADER_BYTES + SIGLOG_NAME_MAX + STREAM_META_ENTRIES_MAX + 8)

/* The entries of a stream.meta v2 that this build does not know and may
 * ignore (no must-understand bit), as they were encoded (tag, length,
 * value), in ascending tag order: a rewrite puts them back, so a setting
 * a newer siglog added survives an older one's `stream config`. The
 * decoder keeps at most STREAM_META_UNKNOWN_MAX bytes of them, which
 * leaves room for every known entry within STREAM_META_ENTRIES_MAX. */
typedef struct stream_meta_extra {
    size_t len;
    uint8_t bytes[STREAM_META_UNKNOWN_MAX];
} stream_meta_extra;

struct siglog_stream {
    struct siglog *store;
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    /* The settings. The immutable ones (partitions, index_interval_bytes)
     * never change after open and are read plainly; the mutable ones may
     * change under a live writer (siglog_stream_config_set), so they are
     * read with STREAM_SETTING or sl_stream_config_load and written with
     * sl_stream_config_publish only, atomically field by field. Each
     * partition keeps its own copy, under its lock (sl_partition_set_config). */
    siglog_stream_config cfg;
    stream_meta_extra meta_extra; /* kept for rewriting stream.meta */
    int meta_version;             /* of stream.meta as it was opened: 2
                                   * makes catalog.ckpt required
                                   * (sl_catalog_check_required) */
    char *dir;
    partition **parts;
    struct schema_registry *schemas; /* its schema versions (schema_registry.h) */
    uint32_t round_robin;      /* atomic: next partition for keyless events */
    uint64_t pending_bytes_max; /* appenders commit themselves beyond this */
    hwm_file *hint;            /* writer: the partitions' published marks
                                * for other processes (NULL: none) */
    uint64_t space_headroom;   /* writer, atomic: bytes appends may still
                                * take before min_free is measured again
                                * (space.c) */
    int64_t space_purge_us;    /* writer: monotonic time of min_free's
                                * last purge (space.c, under space_mu) */
    int64_t roll_request_refused_us; /* writer: asked_us of the last roll
                                      * request refused (logged once;
                                      * store_roll_request.c only) */
    int64_t retention_last_us; /* writer: monotonic time of the retention
                                * task's last run on it (0: none yet); only
                                * that task uses it (store_retention.c) */
    /* A stream that could not be opened (damaged metadata or partition):
     * it stays in the store's table so it is listed with its reason, has
     * no partitions (cfg.partitions == 0, so every loop over partitions
     * skips it) and every operation on it fails with `failed`. The other
     * streams are not affected: damage stays where it is. id is 0 when
     * the metadata could not be read. */
    int failed;
    char failed_detail[SL_ERR_DETAIL_MAX];
};

/* One mutable setting of a live stream, read atomically. */
#define STREAM_SETTING(st, field) __atomic_load_n(&(st)->cfg.field, __ATOMIC_RELAXED)
/* All of a live stream's settings, each read atomically. */
void sl_stream_config_load(const siglog_stream *st, siglog_stream_config *out);
/* Make c the stream's settings for its readers (the partitions are set
 * before, by the caller). Only siglog_stream_config_set calls it,
 * serialized by the store's config_mu. */
void sl_stream_config_publish(siglog_stream *st, const siglog_stream_config *c);

/* Fill defaults for zero fields and check ranges. SIGLOG_EINVAL names the
 * offending field. journal_capacity bounds record and batch sizes. */
int sl_stream_config_normalize(siglog_stream_config *c, uint64_t journal_capacity);

/* stream.meta codec (FORMAT.md §4). encode writes version 2 with every
 * setting of the table and the unknown entries of extra (NULL: none)
 * merged in tag order; buf must hold STREAM_META_BYTES_MAX bytes; returns
 * the length. decode reads versions 1 and 2 and validates everything (it
 * parses untrusted bytes): SIGLOG_ECORRUPT, or SIGLOG_EVERSION for an
 * unknown version or an unknown tag that must be understood (the detail
 * names it). A setting a v2 file does not hold takes its default. extra
 * (may be NULL) receives the unknown entries a reader may ignore;
 * *version (may be NULL) the file's version. */
size_t sl_stream_meta_encode(uint8_t *buf, const char *name, uint32_t id, const siglog_stream_config *c,
                          const stream_meta_extra *extra);
int sl_stream_meta_decode(const uint8_t *buf, size_t len, char name[SIGLOG_NAME_MAX + 1], uint32_t *id,
                       siglog_stream_config *c, stream_meta_extra *extra, int *version);

/* Create the stream's directories and metadata under streams_dir (see
 * the top comment): on failure nothing is left. SIGLOG_EEXIST when
 * streams_dir/NAME exists and is not empty. */
int sl_stream_create_files(struct siglog *s, const char *streams_dir, const char *name, uint32_t id,
                        const siglog_stream_config *c);
/* Undo a creation whose stream could not be opened (never appended to). */
void sl_stream_remove_new(struct siglog *s, const char *streams_dir, const char *name);
/* May the partitions in stream directory dir be adopted with config c?
 * Exactly c->partitions partition directories and nothing else but
 * (damaged) metadata, and every partition passes a reader's checks
 * (catalog, segments, tail). Writes nothing. */
int sl_stream_adopt_check(struct siglog *s, const char *dir, const siglog_stream_config *c);
/* Write the metadata of an adopted stream into dir (atomic replace). */
int sl_stream_adopt_files(struct siglog *s, const char *dir, const char *name, uint32_t id,
                       const siglog_stream_config *c);
/* Load a stream from its directory (metadata, partitions). writable: open
 * the partitions for appending (recovering their tails). When that fails
 * for any reason but memory, *out is still set: to a failed stream named
 * after the directory, holding the error, for the caller to keep in the
 * table or close. */
int sl_stream_open(struct siglog *s, const char *dir, int writable, siglog_stream **out);
/* Writer, once the stream is recovered: publish its partitions' marks to
 * readers in other processes from now on (hwm.h). Without the file they
 * scan and poll: a warning through the store's log, not a failure. A
 * failed stream publishes nothing. */
void sl_stream_attach_hint(siglog_stream *st);
void sl_stream_close(siglog_stream *st);
/* 0 for a stream that works, else its failure (code, detail set). */
int sl_stream_usable(const siglog_stream *st);
/* sl_stream_usable, and SIGLOG_ENOENT naming the count when the stream has no
 * such partition. */
int sl_stream_partition_usable(const siglog_stream *st, uint32_t partition);

/* Writer, at the store's open once the journal is replayed and before
 * any append: read back what each partition's schema usage lacks
 * (schema_usage.h). A partition that cannot be read is left behind with
 * a warning. */
void sl_stream_usage_catch_up(siglog_stream *st);

#endif
