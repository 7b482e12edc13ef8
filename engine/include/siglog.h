/*
 * siglog.h — the whole public API of libsiglog, an embeddable append-only
 * event log for the signal events of AI systems.
 *
 * Nothing outside this header is part of the API. The on-disk format is
 * specified in format-spec/FORMAT.md.
 *
 * A short tour
 * ------------
 *
 *   siglog *s;
 *   siglog_options o;
 *   siglog_options_default(&o);
 *   o.create = 1;
 *   if (siglog_open(&s, "./store", &o) != 0) ...        // one writer process
 *
 *   siglog_stream_config c;
 *   siglog_stream_config_default(&c);
 *   c.partitions = 8;
 *   siglog_stream_create(s, "clicks", &c);              // once
 *
 *   siglog_stream *clicks;
 *   siglog_stream_get(s, "clicks", &clicks);
 *   siglog_event e = { .key = "user-7", .key_len = 6,
 *                      .value = "{\"a\":1}", .value_len = 7 };
 *   uint32_t part; uint64_t off;
 *   siglog_append(clicks, SIGLOG_PARTITION_BY_KEY, &e, 1, &part, &off);
 *   siglog_sync(s);                                     // durable now
 *
 *   siglog_cursor *cur;
 *   siglog_cursor_open(&cur, clicks, part, SIGLOG_SEEK_START, 0, 0);
 *   const siglog_record *r;
 *   while (siglog_cursor_next(cur, &r) == 1) ... r->value ...
 *   siglog_cursor_close(cur);
 *   siglog_close(s);
 *
 * Conventions
 * -----------
 * - Every function that can fail returns 0 (or a documented positive value)
 *   on success and a negative SIGLOG_E* code on failure. siglog_strerror()
 *   names the code; siglog_errdetail() says precisely what went wrong (path,
 *   offset, what was expected) for the calling thread's last failure.
 * - The library never prints, aborts or exits because of input: bad files,
 *   bad arguments and full disks are reported through return codes.
 * - Handles are opaque. Functions marked "thread-safe" may be called on the
 *   same handle from several threads at once; all others need one thread at
 *   a time per handle. Every *_close(NULL) is a no-op.
 * - Across fork(): a child must not use its parent's handles (it may open
 *   its own). The child lets go of the lock files the parent's handles
 *   hold, so a forked child never keeps the parent's store locked, not
 *   even after the parent closed it.
 * - Timestamps are signed 64-bit microseconds since the Unix epoch.
 *
 * ABI policy: until 1.0 the ABI may change with the minor version. The
 * shared library's soname is libsiglog.so.N, and N is raised by every
 * release that changes the ABI incompatibly (before 1.0 as after), so a
 * program linked against one soname never loads an incompatible library.
 * Option structs end in reserved[] fields that must stay zero (the *_default
 * functions set them), so fields can be added without changing their size.
 */
#ifndef SIGLOG_H
#define SIGLOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SIGLOG_BUILDING) && defined(__GNUC__)
#define SIGLOG_API __attribute__((visibility("default")))
#else
#define SIGLOG_API
#endif

#define SIGLOG_VERSION_MAJOR 0
#define SIGLOG_VERSION_MINOR 1
#define SIGLOG_VERSION_PATCH 0
#define SIGLOG_VERSION_NUMBER \
    (SIGLOG_VERSION_MAJOR * 10000 + SIGLOG_VERSION_MINOR * 100 + SIGLOG_VERSION_PATCH)

/* The runtime version of the library, as SIGLOG_VERSION_NUMBER. */
SIGLOG_API unsigned siglog_version_number(void);

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* X(name, value, message). Values lie in a private negative range so they
 * never collide with -errno. */
#define SIGLOG_ERRORS(X)                                                      \
    X(EINVAL,    -30001, "invalid argument")                                  \
    X(ENOENT,    -30002, "no such store, stream or partition")                \
    X(EEXIST,    -30003, "already exists")                                    \
    X(ELOCKED,   -30004, "store is locked by another writer")                 \
    X(EIO,       -30005, "input/output error")                                \
    X(ENOSPC,    -30006, "no space left on device")                           \
    X(ECORRUPT,  -30007, "corrupt data")                                      \
    X(EVERSION,  -30008, "unsupported format version")                        \
    X(ETOOBIG,   -30009, "record too large")                                  \
    X(EFAILED,   -30010, "refused: an earlier write or sync failed")          \
    X(ENOMEM,    -30011, "out of memory")                                     \
    X(ERDONLY,   -30012, "store is open read-only")                           \
    X(EGAP,      -30013, "offset is no longer in the log")                    \
    X(ELIMIT,    -30014, "a configured limit was reached")                    \
    X(EPERM,     -30015, "permission denied")                              \
    X(ESCHEMA,   -30016, "breaks the stream's schema contract")

enum siglog_error {
#define SIGLOG_ERROR_ENUM_(name, value, msg) SIGLOG_##name = value,
    SIGLOG_ERRORS(SIGLOG_ERROR_ENUM_)
#undef SIGLOG_ERROR_ENUM_
};

/* A static message for a code ("unknown error" for others). */
SIGLOG_API const char *siglog_strerror(int code);
/* The code's name without prefix, e.g. "ECORRUPT". */
SIGLOG_API const char *siglog_errname(int code);
/* What the calling thread's last failing siglog call said in detail, e.g.
 * "fsync of store/streams/clicks/00003/00000000000000012345.seg failed:
 * Input/output error". Valid until this thread's next siglog call. Never
 * NULL; "" when there is nothing to say. */
SIGLOG_API const char *siglog_errdetail(void);

/* ------------------------------------------------------------------------
 * Store
 * ------------------------------------------------------------------------ */

typedef struct siglog siglog;
typedef struct siglog_stream siglog_stream;
typedef struct siglog_cursor siglog_cursor;

/* What recovery found and did; passed to siglog_options.log_fn. */
enum siglog_log_level { SIGLOG_LOG_INFO = 0, SIGLOG_LOG_WARN = 1, SIGLOG_LOG_ERROR = 2 };

typedef struct siglog_options {
    int read_only;            /* 0 (default): take the writer lock.
                               * 1: a reader; any number of read-only
                               * handles may read beside one writer
                               * process. A reader never writes a byte of
                               * the store (see siglog_open).
                               * SIGLOG_READ_ONLY_CONSUMER: a reader that
                               * may commit consumer offsets, and writes
                               * nothing else (siglog_consumer_commit). */
    int create;               /* 1: create the store if the directory holds
                               * none. Default 0. */
    uint32_t file_mode;       /* mode of new files; default 0600. Recorded
                               * in the store when it is created: every
                               * later open uses the recorded modes, not
                               * its own (umask does not narrow them). */
    uint32_t dir_mode;        /* mode of new directories; default 0700 */
    uint64_t journal_bytes;   /* size of the preallocated commit journal;
                               * default 64 MiB, min 1 MiB. Recovery reads at
                               * most this much. */
    /* Called (from the calling thread of open, or the background thread)
     * with what recovery truncated or repaired, and with maintenance news.
     * Default NULL: silent. */
    void (*log_fn)(void *ctx, int level, const char *message);
    void *log_ctx;
    /* The library's own: leave it NULL (siglog_options_default does).
     * Its tests reach it through an internal header. */
    const void *internal;
    /* A writer open by another user than the owner of the store directory
     * fails with SIGLOG_EPERM (the files it made would lock the owner
     * out) unless this is 1: then every file and directory it creates gets
     * the owner's uid and gid (which needs the right to chown, i.e. root). */
    uint32_t force_owner;
    uint32_t reserved32;
    uint64_t reserved[7];
} siglog_options;

SIGLOG_API void siglog_options_default(siglog_options *o);

/* Open (or with o->create, create) the store in directory `path`.
 * A writer open takes an exclusive lock; a second writer gets SIGLOG_ELOCKED
 * and a detail naming the holder's pid. A writer open runs crash recovery.
 * A read-only open, and everything done with its handle, never creates,
 * changes, renames or removes a file of the store (writer.lock included)
 * and needs no write permission. When no writer holds the store, it reads
 * the commit journal into memory (checked) and serves the commits only the
 * journal holds -- a writer crashed before they reached their segments --
 * beyond the segments' ends, so it sees exactly what a writer's recovery
 * would put there; what it cannot serve consistently (the journal does not
 * continue a partition's segments) is an error, never a shorter answer.
 * Beside a live writer (one holding writer.lock) the journal is not read:
 * that writer recovered already, and its newest journal entries may not be
 * synced yet. To tell, the reader takes a shared flock on writer.lock while
 * it reads the journal; a writer starting meanwhile waits for it.
 * On success *out owns the handle until siglog_close(). o may be NULL. */
SIGLOG_API int siglog_open(siglog **out, const char *path, const siglog_options *o);

/* Write out and sync everything appended, stop the background thread, free
 * the handle and every stream handle and cursor-independent resource.
 * Cursors must be closed first. Returns the first error of the final sync
 * (the handle is freed anyway). siglog_close(NULL) returns 0. */
SIGLOG_API int siglog_close(siglog *s);

/* Hand every buffered batch of every stream to the operating system (for
 * durable streams this is a journal commit). Thread-safe. */
SIGLOG_API int siglog_flush(siglog *s);

/* Make every event appended before the call durable, whatever the streams'
 * sync policies. Thread-safe. After a failed sync the affected partitions
 * (or the store, for the journal) refuse appends with SIGLOG_EFAILED. */
SIGLOG_API int siglog_sync(siglog *s);

/* The store's id: 64 random bits drawn when it was created (FORMAT.md §3,
 * siglog.store), the same for every handle on it and for its whole life.
 * A copy of the store directory has the same id. Any handle; 0 for NULL. */
SIGLOG_API uint64_t siglog_store_id(const siglog *s);

/* ------------------------------------------------------------------------
 * Streams
 * ------------------------------------------------------------------------ */

enum siglog_sync_policy {
    SIGLOG_SYNC_NONE = 0,     /* the OS decides when bytes reach the disk */
    SIGLOG_SYNC_INTERVAL = 1, /* a background commit every sync_interval_ms */
    SIGLOG_SYNC_ALWAYS = 2,   /* an append returns once its events are on disk */
};

enum siglog_compression {
    SIGLOG_COMPRESSION_NONE = 0,
    SIGLOG_COMPRESSION_LZ4 = 1, /* per batch, kept only when it saves bytes */
};

#define SIGLOG_NAME_MAX 128      /* bytes in a stream name */
#define SIGLOG_PARTITIONS_MAX 4096
/* The longest value of a text setting (siglog_setting_set_text), in bytes. */
#define SIGLOG_SETTING_TEXT_MAX 255

typedef struct siglog_stream_config {
    uint32_t partitions;          /* default 1, 1..SIGLOG_PARTITIONS_MAX */
    uint32_t compression;         /* default SIGLOG_COMPRESSION_LZ4 */
    /* Default SIGLOG_SYNC_INTERVAL with 100 ms: a collector loses at most
     * the last 100 ms of events on a power cut, while one fdatasync per
     * 100 ms costs nothing measurable; ALWAYS is for callers that must
     * acknowledge each event to somebody else. */
    uint32_t sync_policy;
    uint32_t sync_interval_ms;    /* default 100, 1..60000 */
    uint64_t segment_bytes_max;   /* roll at this size; default 64 MiB,
                                   * 64 KiB..1 GiB */
    uint64_t segment_age_max_us;  /* roll an older active segment; default
                                   * 24 h; 0 = never by age */
    uint32_t record_bytes_max;    /* larger events are refused with
                                   * SIGLOG_ETOOBIG; default 1 MiB, max 16 MiB */
    uint32_t batch_bytes_max;     /* seal an open batch at this many
                                   * uncompressed bytes; default 64 KiB */
    uint32_t linger_us;           /* seal an open batch this old; default 5000 */
    uint32_t index_interval_bytes; /* index a batch every this many bytes;
                                    * default 4096 */
    uint32_t contract;            /* enum siglog_contract; default
                                   * SIGLOG_CONTRACT_OFF (siglog_append) */
    /* Retention (siglog(1), STREAM SETTINGS): the tiers a sealed segment
     * moves through as it ages, and the budgets that purge the oldest.
     * Every one defaults to 0, "off": a stream keeps everything, hot,
     * until its policy says otherwise. Durations are microseconds.
     * siglog_retain, and a writer every retention_interval, apply
     * warm_after, cold_after (with cold_dir), delete_after, max_bytes,
     * cold_max_bytes and max_hold ("Retention"), a writer min_free
     * (siglog_append). */
    uint32_t warm_level;          /* LZ4HC level of warm rewrites, 1..12;
                                   * default 9 */
    uint64_t warm_after;          /* rewrite sealed segments whose newest
                                   * event is older, with LZ4HC */
    uint64_t cold_after;          /* move older sealed segments to the cold
                                   * directory as archive files */
    uint64_t delete_after;        /* purge older segments and archives */
    uint64_t max_bytes;           /* purge the oldest while hot+warm is larger */
    uint64_t cold_max_bytes;      /* purge the oldest archives while cold is larger */
    uint64_t min_free;            /* free space the writer keeps on the
                                   * store's filesystem: bytes, or
                                   * SIGLOG_SPACE_PERCENT | percent (1..99) */
    uint64_t max_hold;            /* a consumer hold keeps nothing older
                                   * (0: holds have no age limit) */
    uint64_t retention_interval;  /* how often a writer applies the policy
                                   * itself (0: only siglog_retain does) */
    /* Compaction (siglog(1), STREAM SETTINGS): siglog_compact acts on
     * them, and a writer runs it every compact_interval (BY_CLEANUP, on a
     * thread of its own, skipped while the maintenance role is held). */
    uint64_t merge_below;         /* merge sealed segments smaller than
                                   * this (0, the default: a quarter of
                                   * segment_bytes_max) */
    uint64_t tombstone_retention; /* key compaction keeps a key's newest
                                   * tombstone this long (us); default 1 day */
    uint64_t compact_interval;    /* how often a writer compacts itself
                                   * (0, the default: never) */
    uint32_t cleanup;             /* enum siglog_cleanup; default DELETE */
    uint32_t reserved32;
    uint64_t reserved[4];
    /* Text settings (SIGLOG_SETTING_TEXT): NUL-terminated, "" is off. */
    char cold_dir[SIGLOG_SETTING_TEXT_MAX + 1]; /* the cold tier's directory:
                                   * an absolute path outside the store
                                   * (see "Stream settings") */
} siglog_stream_config;

/* What becomes of a stream's old events besides retention: DELETE only
 * retention removes them; COMPACT key compaction may keep only the
 * newest event of each key (and drop a key whose newest is a tombstone
 * once it is older than tombstone_retention). */
enum siglog_cleanup { SIGLOG_CLEANUP_DELETE = 0, SIGLOG_CLEANUP_COMPACT = 1 };

/* The retention fields grew siglog_stream_config by 64 bytes past its
 * first published size: a program must be rebuilt against this header
 * (a new soname under the ABI policy above once released). */

/* min_free as a share of the filesystem: SIGLOG_SPACE_PERCENT | p is p
 * percent (1..99) of the filesystem's size; without the bit, bytes. */
#define SIGLOG_SPACE_PERCENT (1ull << 63)

/* What appends check against the stream's schema versions ("Schema
 * contracts"): OFF nothing; WARN an event of an unregistered version is
 * refused, a nonconforming one is stored and counted per version and per
 * JSON path (siglog_schema_violations); ENFORCE a nonconforming event is
 * refused too, with its path and reason, and nothing of its call is
 * appended. */
enum siglog_contract {
    SIGLOG_CONTRACT_OFF = 0,
    SIGLOG_CONTRACT_WARN = 1,
    SIGLOG_CONTRACT_ENFORCE = 2,
};

SIGLOG_API void siglog_stream_config_default(siglog_stream_config *c);

/* Stream settings as a table: one siglog_setting per field of
 * siglog_stream_config (its name is the field's), in a fixed order, for
 * programs that set, list or document settings by name (the siglog tool
 * does all three from it). Rows are static: the pointers stay valid for
 * the life of the program. */
enum siglog_setting_type {
    SIGLOG_SETTING_COUNT = 0,    /* a plain number */
    SIGLOG_SETTING_SIZE = 1,     /* bytes */
    SIGLOG_SETTING_DURATION = 2, /* a time span of unit_us microseconds per unit */
    SIGLOG_SETTING_ENUM = 3,     /* the index of one of choices[] */
    SIGLOG_SETTING_SPACE = 4,    /* bytes (min..max), or SIGLOG_SPACE_PERCENT |
                                  * a percent of the filesystem (1..99) */
    SIGLOG_SETTING_TEXT = 5,     /* a string of at most SIGLOG_SETTING_TEXT_MAX
                                  * bytes ("" is off): read and set with
                                  * siglog_setting_text / siglog_setting_set_text;
                                  * min, max and default_value are 0 */
};

typedef struct siglog_setting {
    const char *name;           /* the siglog_stream_config field */
    int type;                   /* enum siglog_setting_type */
    uint32_t unit_us;           /* SIGLOG_SETTING_DURATION: microseconds per unit
                                 * of the value (1 or 1000); else 1 */
    int is_mutable;             /* may change after creation (siglog_stream_config_set) */
    uint64_t min, max;          /* the valid range, both included */
    uint64_t default_value;     /* what siglog_stream_config_default sets */
    const char *const *choices; /* SIGLOG_SETTING_ENUM: names by value, NULL-terminated */
    const char *summary;        /* one line saying what it does */
} siglog_setting;

/* Rows 0..siglog_setting_count()-1; NULL past the end. */
SIGLOG_API size_t siglog_setting_count(void);
SIGLOG_API const siglog_setting *siglog_setting_at(size_t i);
/* The row named name, or NULL. */
SIGLOG_API const siglog_setting *siglog_setting_find(const char *name);
/* The setting's value in c, widened to 64 bits (0 for a text setting). */
SIGLOG_API uint64_t siglog_setting_get(const siglog_stream_config *c, const siglog_setting *set);
/* Set the setting in c to value: SIGLOG_EINVAL (the detail naming the
 * setting and its range) and c unchanged when value is outside min..max.
 * Rules between settings (a batch must fit the journal) are checked when
 * the config is used. */
SIGLOG_API int siglog_setting_set(siglog_stream_config *c, const siglog_setting *set, uint64_t value);
/* A text setting's value in c (inside c), or NULL when set is not a text
 * setting. */
SIGLOG_API const char *siglog_setting_text(const siglog_stream_config *c, const siglog_setting *set);
/* Set a text setting: SIGLOG_EINVAL (the detail naming the setting and
 * the rule) and c unchanged when set is not a text setting or value
 * breaks its rule. cold_dir: "" (off) or an absolute path of at most
 * SIGLOG_SETTING_TEXT_MAX bytes, without control characters and
 * without "." or ".." components. Whether the directory exists is
 * checked when it is used, not here (it may be a mount that comes
 * later). */
SIGLOG_API int siglog_setting_set_text(siglog_stream_config *c, const siglog_setting *set, const char *value);

/* Create a stream. Names are 1..SIGLOG_NAME_MAX bytes of [A-Za-z0-9._-]
 * not starting with '.'; SIGLOG_EINVAL otherwise, SIGLOG_EEXIST if taken,
 * including by the remains of an earlier stream (a directory that still
 * holds partitions or segments, its metadata lost or damaged: see
 * siglog_stream_adopt). The stream is built under a temporary name and
 * renamed into place at the end: when this fails, nothing is left behind.
 * The config is durable when this returns. Writer handles only. */
SIGLOG_API int siglog_stream_create(siglog *s, const char *name, const siglog_stream_config *c);

/* Take over, as stream `name` with config c, the partitions an earlier
 * stream of that name left behind (its stream.meta lost or damaged), with
 * their events and offsets. Only when the directory holds exactly
 * c->partitions partition directories (and nothing else but the old
 * metadata) and each passes a reader's checks (its checkpoint, segments
 * and tail agree): SIGLOG_EINVAL or SIGLOG_ECORRUPT otherwise, and
 * nothing is written. Check the store with siglog_verify first. The
 * stream gets new metadata (a new stream id); get it again with
 * siglog_stream_get (a failed handle held from before stays valid until
 * siglog_close and keeps failing). Writer handles only. */
SIGLOG_API int siglog_stream_adopt(siglog *s, const char *name, const siglog_stream_config *c);

/* Look up a stream. The returned handle is owned by s and valid until
 * siglog_close(s). Thread-safe. A stream that failed to open (damaged or
 * missing stream.meta, a damaged partition) returns its failure (usually
 * SIGLOG_ECORRUPT, the detail naming the file and what is wrong); the
 * store's other streams are not affected. */
SIGLOG_API int siglog_stream_get(siglog *s, const char *name, siglog_stream **out);

/* Call fn once per stream in name order, failed streams included (see
 * siglog_stream_state); stops early and returns fn's value if it returns
 * non-zero. */
SIGLOG_API int siglog_stream_foreach(siglog *s, int (*fn)(void *ctx, siglog_stream *st), void *ctx);

SIGLOG_API const char *siglog_stream_name(const siglog_stream *st);
/* The stream's settings as they are now (a live change shows at once). */
SIGLOG_API void siglog_stream_config_get(const siglog_stream *st, siglog_stream_config *out);

/* Change the settings of stream `name` to c, a whole config: start from
 * siglog_stream_config_get and change the mutable settings (is_mutable in
 * the settings table). All or nothing: c is checked whole first (ranges,
 * a batch must fit the journal) and SIGLOG_EINVAL names what is wrong, an
 * immutable setting that differs included, with nothing written. Then the
 * change is recorded in the store's audit trail (action "config", the
 * detail naming each changed setting with its old and new value; see
 * siglog_audit_read) and stream.meta is replaced atomically, keeping
 * entries a newer siglog wrote; both are durable when this returns. A config equal to the
 * current one writes nothing. The live stream works by the new settings
 * at once, appenders and the background work of this handle included,
 * safely from any thread; a change of sync policy first makes everything
 * appended so far durable. Other processes hold no writer handle while
 * this one lives (the writer lock), and read the new settings at their
 * next open. Writer handles only (SIGLOG_ERDONLY); thread-safe. */
SIGLOG_API int siglog_stream_config_set(siglog *s, const char *name, const siglog_stream_config *c);

/* 0 for a stream that opened, else the SIGLOG_E* code it failed to open
 * with; *detail (when detail is not NULL) says why, naming the file ("" for
 * a working stream), valid as long as the handle. A failed stream has no
 * partitions (its config reads as the defaults with partitions 0) and every
 * append, cursor and partition query on it returns that code. */
SIGLOG_API int siglog_stream_state(const siglog_stream *st, const char **detail);

/* A partition's state (siglog_partition_info.state). */
enum siglog_partition_state {
    SIGLOG_PARTITION_OK = 0,
    SIGLOG_PARTITION_FAILED = 1,     /* a write or sync failed: appends refused
                                      * until the store is reopened */
    SIGLOG_PARTITION_DAMAGED = 2,    /* holds damage that must not be cut: readable
                                      * before and after it, the damage itself is
                                      * SIGLOG_ECORRUPT, appends refused (see
                                      * siglog_verify) */
    SIGLOG_PARTITION_UNSERVABLE = 3, /* serves nothing: reads and appends fail
                                      * with the detail */
};

#define SIGLOG_PARTITION_DETAIL_MAX 512

typedef struct siglog_partition_info {
    uint64_t log_start_offset;  /* first offset still in the log */
    uint64_t next_offset;       /* one past the last readable offset */
    uint64_t segment_count;
    uint64_t bytes;             /* segment bytes on disk, indexes excluded */
    uint64_t index_bytes;       /* offset and time index files, apparent size:
                                 * they are sparse, most of it is never
                                 * allocated on disk */
    int64_t first_timestamp_us; /* of the first readable record; 0 if empty */
    int64_t max_timestamp_us;   /* largest timestamp; 0 if empty */
    int failed;                 /* 1 unless state is SIGLOG_PARTITION_OK */
    int state;                  /* enum siglog_partition_state */
    char detail[SIGLOG_PARTITION_DETAIL_MAX]; /* why, unless OK (then ""):
                                 * the file, the byte and what is wrong */
    uint64_t reserved[4];
} siglog_partition_info;

/* What siglog_partition_info_get fills in. Its state and detail were added
 * after siglog_partition_info was first published, growing the struct: a
 * program must be rebuilt against this header (a new soname under the ABI
 * policy above once released). */

/* Fills *out (thread-safe). A partition that serves nothing (state
 * UNSERVABLE: its directory, a segment or its checkpoint missing or
 * damaged, or journal damage) returns SIGLOG_ECORRUPT with the detail,
 * and still fills state and detail (the counters are then 0). A damaged
 * or failed partition returns 0 with its state and detail. */
SIGLOG_API int siglog_partition_info_get(siglog_stream *st, uint32_t partition, siglog_partition_info *out);

/* One segment of a partition, as its catalog lists it (FORMAT.md,
 * "Partition checkpoint"). */
typedef struct siglog_segment_info {
    uint64_t base_offset;       /* its first offset */
    uint64_t end_offset;        /* one past the offsets it covers (records
                                 * a rewrite dropped keep theirs) */
    uint64_t record_count;      /* records in it (the active one: as of
                                 * the writer's last catalog write) */
    int64_t first_timestamp_us; /* of its first record (0 when unknown) */
    int64_t max_timestamp_us;   /* its largest record time */
    uint64_t bytes;             /* of its .seg file */
    uint32_t tier;              /* 0 hot, 1 warm, 2 cold, 3 archive */
    uint32_t state;             /* 0 active (the writer's last), 1 sealed,
                                 * 2 being replaced */
    const char *location;       /* its file stem in the partition directory */
    const uint32_t *schema_versions; /* sorted; schema_count of them */
    uint32_t schema_count;
    uint32_t reserved32;
    uint64_t reserved[4];
} siglog_segment_info;

/* The segments of a partition as one generation of its catalog (any
 * handle; reads the catalog from disk, so a reader sees the changes of a
 * writer or a maintenance handle in another process): *generation (may
 * be NULL) gets the generation, fn is called once per segment in offset
 * order, the info valid during the call only; fn returning non-zero stops
 * and is returned. A partition whose catalog predates version 2 is listed
 * from its directory (figures then 0, generation 0). */
SIGLOG_API int siglog_segments_foreach(siglog_stream *st, uint32_t partition, uint64_t *generation,
                                       int (*fn)(void *ctx, const siglog_segment_info *seg), void *ctx);

/* ------------------------------------------------------------------------
 * Appending
 * ------------------------------------------------------------------------ */

#define SIGLOG_PARTITION_BY_KEY UINT32_MAX /* xxh3(key) % partitions; keyless
                                            * events go round-robin */
#define SIGLOG_EVENT_TOMBSTONE 1u

typedef struct siglog_header {
    const void *key;
    uint32_t key_len;
    const void *value;
    uint32_t value_len;
} siglog_header;

#define SIGLOG_HEADERS_MAX 64

typedef struct siglog_event {
    const void *key;            /* optional; key_len 0 means no key */
    size_t key_len;
    const void *value;
    size_t value_len;
    int64_t timestamp_us;       /* event time; 0 = append time */
    uint32_t schema_version;
    uint32_t flags;             /* SIGLOG_EVENT_TOMBSTONE */
    const siglog_header *headers; /* provenance tags; up to SIGLOG_HEADERS_MAX */
    uint32_t header_count;
} siglog_event;

/* Append n events (n >= 1) to one stream. partition names the partition or
 * is SIGLOG_PARTITION_BY_KEY. On success the i-th event got partition
 * partitions_out[i] and offset offsets_out[i] (either array may be NULL).
 * Events for one partition keep their order and get dense offsets.
 * Returns when the events are acknowledged under the stream's sync policy:
 * for SIGLOG_SYNC_ALWAYS they are on disk. The bytes pointed to by events
 * are copied before return.
 * Errors: SIGLOG_ETOOBIG (nothing of this call appended), SIGLOG_EINVAL,
 * SIGLOG_ENOENT (partition out of range), SIGLOG_EFAILED, SIGLOG_EIO,
 * SIGLOG_ENOSPC (from the disk; or, nothing of this call appended, the
 * stream's min_free: the free space of the store's filesystem would fall
 * below it even after the writer purged what the retention policy allows,
 * the detail naming both figures), SIGLOG_ECORRUPT (the partition holds damage that its
 * open would not cut, the detail naming file and byte, see siglog verify;
 * or its directory or segments were found missing at open, the detail
 * naming the missing offsets: nothing is appended, so no offset is handed
 * out twice). After an I/O error, events of the call may have been
 * assigned offsets but are not acknowledged. Thread-safe. */
SIGLOG_API int siglog_append(siglog_stream *st, uint32_t partition, const siglog_event *events, size_t n,
                             uint32_t *partitions_out, uint64_t *offsets_out);

/* Durability per partition, for a collector that acknowledges its own
 * clients only for what is safe. An event is durable under its stream's
 * sync policy once its offset is below the partition's durable offset:
 *   SIGLOG_SYNC_ALWAYS    on disk (journal fdatasync) when siglog_append
 *                         returns: the durable offset already covers it;
 *   SIGLOG_SYNC_INTERVAL  on disk after the commit round that covers it:
 *                         the background commit every sync_interval_ms,
 *                         or an earlier one (siglog_sync, siglog_flush, an
 *                         ALWAYS append to any stream, back-pressure);
 *   SIGLOG_SYNC_NONE      written to its segment file, i.e. handed to the
 *                         operating system: it survives the process being
 *                         killed (SIGKILL included), but a power cut or an
 *                         OS crash may take it. Open batches are written
 *                         after linger_us; siglog_sync puts them on disk.
 * Offsets become durable in order within a partition; a durable event is
 * readable by cursors. Both calls are for the writer handle (SIGLOG_ERDONLY
 * on a read-only one) and are thread-safe; neither writes or syncs
 * anything itself, so waiting keeps the stream's throughput.
 * On a NONE stream a failed segment write (a full disk) drops the events
 * not yet written and hands their offsets out again: siglog_wait_durable
 * answers SIGLOG_EFAILED for every offset ever dropped so, since the event
 * there may not be the caller's; siglog_durable_offset cannot tell.
 *
 * *next gets one past the last durable offset of the partition (0 when
 * nothing is). */
SIGLOG_API int siglog_durable_offset(siglog_stream *st, uint32_t partition, uint64_t *next);

/* Block until `offset` of the partition is durable (returns 0), or
 * timeout_us microseconds pass first (returns 1; a negative timeout_us
 * waits without limit), or it can never become durable because the
 * partition or, for journaled streams, the store failed (SIGLOG_EFAILED,
 * the detail names the cause). An offset never appended is SIGLOG_EINVAL.
 * The waiter sleeps until the commit that publishes the offset wakes it;
 * it never polls. The store must not be closed while a thread waits. */
SIGLOG_API int siglog_wait_durable(siglog_stream *st, uint32_t partition, uint64_t offset, int64_t timeout_us);

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

typedef struct siglog_record {
    uint64_t offset;
    int64_t timestamp_us;
    uint32_t partition;
    uint32_t schema_version;
    uint32_t flags;             /* SIGLOG_EVENT_TOMBSTONE */
    uint32_t header_count;
    const void *key;            /* NULL when key_len == 0 */
    size_t key_len;
    const void *value;
    size_t value_len;
    const siglog_header *headers;
} siglog_record;

enum siglog_seek {
    SIGLOG_SEEK_START = 0,      /* the log start offset */
    SIGLOG_SEEK_END = 1,        /* the high-water mark: only new events */
    SIGLOG_SEEK_OFFSET = 2,     /* first record with offset >= arg */
    SIGLOG_SEEK_TIME = 3,       /* first record (in offset order) with
                                 * timestamp >= arg */
};

#define SIGLOG_CURSOR_FOLLOW 1u /* keep reading past the high-water mark
                                 * taken at open, as new events arrive */
/* Without this flag a hole in the offsets (a missing segment: one starts
 * above where the one before it ends, or the first starts above the log
 * start offset) that a read or a time seek passes over is an error,
 * SIGLOG_ECORRUPT naming the missing range: a time seek fails even when
 * the hole lies before the record it would land on, since the missing
 * events could have been the answer. With it, the cursor skips holes
 * silently and returns the events that are present. */
#define SIGLOG_CURSOR_ALLOW_GAPS 2u

/* Open a cursor on one partition. Without SIGLOG_CURSOR_FOLLOW the cursor
 * stops at the high-water mark taken now. A cursor never returns an event
 * that is not yet durable under the stream's policy, nor a half-written
 * batch. One thread at a time per cursor; cursors on the same store may be
 * used by many threads. Close cursors before closing their store. */
SIGLOG_API int siglog_cursor_open(siglog_cursor **out, siglog_stream *st, uint32_t partition,
                                  int seek, int64_t arg, unsigned flags);

/* Read the next record: returns 1 and sets *rec, 0 at the end (with
 * FOLLOW: nothing new yet — call again later), or a negative code. The
 * record and all bytes it points to stay valid until the next call on this
 * cursor or its close. SIGLOG_ECORRUPT names the file and byte position;
 * SIGLOG_EGAP means the next offsets are gone: retention removed them (the
 * cursor then moves to the new log start offset), or they were lost and
 * the loss was accepted (SIGLOG_VERIFY_ACCEPT_LOSS: the cursor then moves
 * past the lost range); the detail names the range, and the next call
 * goes on after it. */
SIGLOG_API int siglog_cursor_next(siglog_cursor *c, const siglog_record **rec);

/* Read up to max records at once: as many siglog_cursor_next calls, each
 * record copied into recs[] with its key, value and headers copied into
 * buf (buf_len bytes). Returns how many (1..max), 0 at the end (with
 * FOLLOW: nothing new yet), or a negative code. *buf_used (when not NULL)
 * gets the bytes of buf used.
 * Lifetime: every pointer in recs[0..n-1] (key, value, headers and the
 * headers' key and value) points into buf, never into the cursor, so the
 * records stay valid while the caller keeps buf unchanged, across later
 * reads and after the cursor's close.
 * A record that does not fit in what is left of buf stays for the next
 * call. When even the first does not fit: SIGLOG_ETOOBIG, nothing is
 * consumed and *buf_used gets the bytes that record needs (a buffer of
 * 16 MiB + 64 KiB, the largest
 * record_bytes_max allows plus its header array, always holds one). An error met after some
 * records were copied is returned by the next read of the cursor, after
 * those records: nothing between them is skipped. Reads may mix this call
 * and siglog_cursor_next. */
SIGLOG_API int siglog_cursor_next_batch(siglog_cursor *c, siglog_record *recs, size_t max, void *buf, size_t buf_len,
                                        size_t *buf_used);

/* Move the cursor to another position, as siglog_cursor_open's seek and
 * arg would, keeping its high-water mark (taken at open, or moved on by
 * FOLLOW). Much cheaper than a new cursor for repeated seeks: the cursor
 * keeps the segments it has read open. */
SIGLOG_API int siglog_cursor_seek(siglog_cursor *c, int seek, int64_t arg);

/* Hand out only the records whose key is exactly key[0..len) (len 0:
 * the records without a key); key NULL hands out every record again.
 * The key is copied. A sealed segment whose key filter (format-spec/
 * FORMAT.md, "Key filter") says it holds no such record is passed over
 * without being read; the active segment, and a segment whose filter is
 * missing, stale or damaged (reported through the store's log), are read.
 * The answer is the same as filtering every record: a filter may let a
 * segment through needlessly, never hold one back that has the key.
 * 0, SIGLOG_EINVAL or SIGLOG_ENOMEM. */
SIGLOG_API int siglog_cursor_set_key(siglog_cursor *c, const void *key, size_t len);

/* From now on hand out only records of schema version `version` (a
 * replay of one version), across seeks: records of other versions are
 * passed over, and a sealed segment whose catalog entry records the
 * versions it holds without this one is not read at all (FORMAT.md §5;
 * a segment whose versions are unknown is read). 0 or SIGLOG_EINVAL. */
SIGLOG_API int siglog_cursor_filter_schema(siglog_cursor *c, uint32_t version);

/* The offset the next record will have at least. */
SIGLOG_API uint64_t siglog_cursor_position(const siglog_cursor *c);

/* Block until new events may be readable or timeout_ms passes; returns 0
 * (also when woken early: call siglog_cursor_next to see). The commit
 * that makes events readable wakes the waiter, whichever process writes:
 * a writer publishes its high-water marks in the stream's hwm file
 * (format-spec/FORMAT.md), and a read-only handle sleeps on it rather
 * than polling. Without a live writer there (none open, one killed, or
 * one that cannot create the file) a read-only handle polls at most every
 * 20 ms. Any commit to the stream may wake it, not only its partition's. */
SIGLOG_API int siglog_cursor_wait(siglog_cursor *c, int timeout_ms);

SIGLOG_API void siglog_cursor_close(siglog_cursor *c);

/* A time-ordered merge of several cursors: records come in order of
 * (timestamp, stream name, partition, offset). The merge borrows the
 * cursors; close them after siglog_merge_close(). */
typedef struct siglog_merge siglog_merge;
SIGLOG_API int siglog_merge_open(siglog_merge **out, siglog_cursor *const *cursors, size_t n);
/* As siglog_cursor_next; *stream_index says which cursor it came from. */
SIGLOG_API int siglog_merge_next(siglog_merge *m, const siglog_record **rec, size_t *stream_index);
SIGLOG_API void siglog_merge_close(siglog_merge *m);

/* Exact event-time order: the records of several cursors sorted by
 * (timestamp, stream name, partition, offset, cursor index), whatever
 * order they were appended in, in bounded memory (an external merge sort).
 * siglog_sort_open reads every cursor to its end (do not use FOLLOW
 * cursors) before it returns: past memory_bytes it writes sorted runs to
 * files in spill_dir and merges them as records are handed out. Spill
 * files have no name (O_TMPFILE; on a file system without it, a name
 * removed at once after creation), so none outlives the process however
 * it ends; a named one that a killed process left is removed by the next
 * sort using that directory. The sort borrows the cursors (close them
 * after siglog_sort_close) and never writes to the store. */
typedef struct siglog_sort siglog_sort;

typedef struct siglog_sort_options {
    uint64_t memory_bytes;  /* records and index held in memory before a
                             * run is spilled; default 256 MiB, min 1 MiB */
    const char *spill_dir;  /* NULL: $TMPDIR, else /tmp */
    /* NULL keeps every record; else a record is sorted only when keep
     * returns non-zero (filters applied before sorting cost no memory). */
    int (*keep)(void *ctx, const siglog_record *r);
    void *keep_ctx;
    uint64_t reserved[4];
} siglog_sort_options;

SIGLOG_API void siglog_sort_options_default(siglog_sort_options *o);
/* o may be NULL (the defaults). Errors: the first cursor error (e.g.
 * SIGLOG_ECORRUPT, SIGLOG_EGAP), SIGLOG_EIO or SIGLOG_ENOSPC from the
 * spill directory, SIGLOG_ENOMEM. */
SIGLOG_API int siglog_sort_open(siglog_sort **out, siglog_cursor *const *cursors, size_t n,
                                const siglog_sort_options *o);
/* As siglog_cursor_next: 1 and *rec (valid until the next call or the
 * close), 0 at the end, or a negative code; *cursor_index (may be NULL)
 * says which cursor the record came from. */
SIGLOG_API int siglog_sort_next(siglog_sort *s, const siglog_record **rec, size_t *cursor_index);
/* Many records at once, as siglog_cursor_next_batch reads a cursor: up to
 * max records copied into recs[] with their bytes in buf (nothing points
 * into the sort, so they outlive the next call and the close), the cursor
 * each came from in cursor_index[] (may be NULL). Returns how many
 * (1..max), 0 at the end, or a negative code; *buf_used (may be NULL)
 * gets the bytes of buf used. A record that does not fit stays for the
 * next call; when even the first does not, SIGLOG_ETOOBIG and *buf_used
 * gets the bytes it needs. An error ends the sort: the records read in
 * that call are not handed out. Calls may mix with siglog_sort_next. */
SIGLOG_API int siglog_sort_next_batch(siglog_sort *s, siglog_record *recs, size_t *cursor_index, size_t max,
                                      void *buf, size_t buf_len, size_t *buf_used);
/* How many spill files this sort wrote (0: it fit in memory). */
SIGLOG_API uint64_t siglog_sort_spill_files(const siglog_sort *s);
/* Frees the sort and its spill files. siglog_sort_close(NULL) is a no-op. */
SIGLOG_API void siglog_sort_close(siglog_sort *s);

/* Event-time order as events arrive: the streaming form of siglog_sort,
 * for FOLLOW cursors too. Records are read in the order a siglog_merge of
 * the cursors gives and held back until the watermark passes them, then
 * handed out in (timestamp, stream name, partition, offset, cursor index)
 * order. The watermark is the greatest timestamp read so far minus
 * max_lateness_us; it passes a record whose timestamp is below it. A
 * record read when the watermark has already passed it cannot be put in
 * order any more: it is handed out at once, marked late, never dropped.
 * So the records not marked late come out strictly sorted, and a record
 * at most max_lateness_us behind the latest one read is never late.
 * Memory stays bounded: when the held records pass memory_bytes, the
 * watermark moves just past the earliest one held, which is handed out
 * (a record arriving behind it later is then late). The reorder borrows
 * the cursors (close them after siglog_reorder_close) and writes nothing. */
typedef struct siglog_reorder siglog_reorder;

typedef struct siglog_reorder_options {
    int64_t max_lateness_us; /* >= 0 */
    uint64_t memory_bytes;   /* held records' bytes; default 256 MiB, min 1 MiB */
    /* NULL keeps every record; else a record is ordered (and counted for
     * the watermark) only when keep returns non-zero. */
    int (*keep)(void *ctx, const siglog_record *r);
    void *keep_ctx;
    uint64_t reserved[4];
} siglog_reorder_options;

SIGLOG_API void siglog_reorder_options_default(siglog_reorder_options *o);
/* o may be NULL (the defaults: no lateness allowed). SIGLOG_EINVAL for a
 * negative max_lateness_us, SIGLOG_ENOMEM. */
SIGLOG_API int siglog_reorder_open(siglog_reorder **out, siglog_cursor *const *cursors, size_t n,
                                   const siglog_reorder_options *o);
/* 1 and *rec (valid until the next call or the close), *cursor_index and
 * *late (each may be NULL); 0 when nothing can be handed out now: every
 * cursor has nothing more for now and every record held is at or past
 * the watermark (wait on the cursors and call again, or finish); or a
 * cursor's error as siglog_merge_next gives it (after SIGLOG_EGAP the
 * cursor moved on: call again). After siglog_reorder_finish, 0 means
 * every record read was handed out. */
SIGLOG_API int siglog_reorder_next(siglog_reorder *r, const siglog_record **rec, size_t *cursor_index, int *late);
/* Many records at once, as siglog_cursor_next_batch reads a cursor: up to
 * max records, in the order siglog_reorder_next would give them, copied
 * into recs[] with their bytes in buf (nothing points into the reorder,
 * so they outlive the next call and the close); the cursor each came from
 * in cursor_index[] and whether it is late in late[] (each may be NULL).
 * Returns how many (1..max); 0 as siglog_reorder_next (nothing can be
 * handed out now, or after siglog_reorder_finish: all was); or a negative
 * code. *buf_used (may be NULL) gets the bytes of buf used. A record that
 * does not fit stays for the next call; when even the first does not,
 * SIGLOG_ETOOBIG, nothing is consumed and *buf_used gets the bytes it
 * needs. An error met after some records were copied is returned by the
 * next call, after those records. Calls may mix with siglog_reorder_next. */
SIGLOG_API int siglog_reorder_next_batch(siglog_reorder *r, siglog_record *recs, size_t *cursor_index, int *late,
                                         size_t max, void *buf, size_t buf_len, size_t *buf_used);
/* The input is over (the cursors are at their end, or the reader stops):
 * read nothing more and hand out every record held, in order, not late. */
SIGLOG_API void siglog_reorder_finish(siglog_reorder *r);
/* How many records were handed out late so far. */
SIGLOG_API uint64_t siglog_reorder_late_count(const siglog_reorder *r);
/* Frees the reorder and the records it holds; NULL is a no-op. */
SIGLOG_API void siglog_reorder_close(siglog_reorder *r);

/* ------------------------------------------------------------------------
 * Checking and inspecting (the verify and dump tools)
 * ------------------------------------------------------------------------ */

typedef struct siglog_verify_stats {
    uint64_t files;      /* segment, index and metadata files checked */
    uint64_t batches;    /* valid batches read */
    uint64_t records;    /* valid records decoded */
    uint64_t bytes;      /* segment bytes read */
    uint64_t problems;   /* problems found (before any repair) */
    uint64_t repairs;    /* repairs done */
    uint64_t reserved[4];
} siglog_verify_stats;

typedef struct siglog_verify_callbacks {
    /* One problem: the file, the byte position in it (UINT64_MAX when it
     * concerns the whole file) and what is wrong. */
    void (*problem)(void *ctx, const char *file, uint64_t position, const char *what);
    /* One repair done (with repair != 0). */
    void (*repaired)(void *ctx, const char *file, const char *what);
    /* Segment bytes checked so far, of total; called now and then. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
} siglog_verify_callbacks;

/* Check a whole store: the store file, every stream's metadata, every
 * segment batch by batch (both checksums, every record decoded, offsets
 * dense within and across segments), every index entry against the batch
 * it names, each partition's checkpoint against its segments (a missing
 * directory or segment is named with the missing offsets), and the
 * journal's header. Read-only unless repair != 0.
 * With repair, only repairable problems are mended: a torn tail of an
 * active segment is cut and indexes are rebuilt; this takes the writer
 * lock (SIGLOG_ELOCKED while a writer runs). Damage inside the log is
 * reported, never cut. Returns 0 when no problem remains, SIGLOG_ECORRUPT
 * when some do, or another error when the check itself could not run.
 * cb and stats may be NULL. */
/* Or'ed into a non-zero repair: open as the writer even when this process
 * is not the store's owner (siglog_options.force_owner). */
#define SIGLOG_VERIFY_FORCE_OWNER 2
/* Or'ed into a non-zero repair: a segment holding damage that repair may
 * not cut (inside what its summary or a checkpoint vouches for, or
 * followed by valid batches) is moved whole (.seg, .sum, .oix, .tix) into
 * STORE/quarantine/<its path in the store>.<unix seconds> by atomic
 * renames inside the store, the directories fsynced; the `repaired`
 * callback names each file and where it went. Its offsets are then
 * missing: the partition's checkpoint reports them (to readers, writers
 * and the re-check, so siglog_verify still returns SIGLOG_ECORRUPT), and
 * nothing continues past them silently. Without this flag nothing is
 * ever moved. */
#define SIGLOG_VERIFY_QUARANTINE 4
/* Or'ed into a non-zero repair: accept that segments whose files are gone
 * (deleted, or moved aside by SIGLOG_VERIFY_QUARANTINE in the same run)
 * are lost for good. Each partition's catalog then records the loss
 * (FORMAT.md, "Recorded loss"): lost at the start, the log starts after
 * it; in the middle or at the end, the offsets are a recorded gap and the
 * log goes on past every offset it had handed out (never reusing one),
 * in a new active segment when the active one was lost. Each loss is
 * recorded in the audit trail (action loss) before the catalog changes.
 * Afterwards the partition opens and reads go on after the loss; a cursor
 * reaching it gets SIGLOG_EGAP naming it once. A missing partition
 * directory took its catalog with it and cannot be accepted (it stays a
 * problem); nor can a partition whose catalog is version 1. */
#define SIGLOG_VERIFY_ACCEPT_LOSS 8
SIGLOG_API int siglog_verify(const char *path, int repair, const siglog_verify_callbacks *cb,
                             siglog_verify_stats *stats);

typedef struct siglog_batch_info {
    uint64_t position;          /* byte position in the segment file */
    uint64_t base_offset;
    uint32_t record_count;
    uint32_t stored_bytes;      /* header + body as stored */
    uint32_t raw_bytes;         /* body after decompression */
    uint32_t codec;             /* 0 none, 1 LZ4 */
    int64_t first_timestamp_us;
    int64_t max_timestamp_us;
    uint64_t body_checksum;
    int valid;                  /* 0: `problem` says why; the dump stops */
    const char *problem;
    /* The batch covers offsets base_offset..last_offset. Its records hold
     * all of them (format version 1, what appends write) or, after a
     * rewrite dropped some, record_count of them (version 2). */
    uint64_t last_offset;
    uint32_t version;
    uint32_t reserved32;
    uint64_t reserved[2];
} siglog_batch_info;

/* Walk one segment file (a path ending in .seg) batch by batch, calling
 * batch_fn for each batch and, when record_fn is not NULL, record_fn for
 * each of its records. Stops at the first invalid batch (reported through
 * batch_fn with valid = 0) or when a callback returns non-zero (returned).
 * Needs no store and takes no lock. */
SIGLOG_API int siglog_dump_segment(const char *segment_path, int (*batch_fn)(void *ctx, const siglog_batch_info *b),
                                   int (*record_fn)(void *ctx, const siglog_record *r), void *ctx);

/* ------------------------------------------------------------------------
 * Schema contracts
 * ------------------------------------------------------------------------
 * A stream keeps its schema versions: (version, name, definition in a
 * subset of JSON Schema, fingerprint, compatibility mode, registered_at),
 * in its directory (format-spec/FORMAT.md, "Schema registry"). The
 * definition language: "type" (string, integer, number, boolean, object,
 * array, null, or a list of them), "properties", "required", "items",
 * "enum", "additionalProperties", and the annotation "x-sensitivity":
 * public|internal|personal|secret on any property; the root is an object.
 * An event says its version in siglog_event.schema_version (0: none). */

enum siglog_schema_compat {        /* as Confluent Schema Registry means them */
    SIGLOG_COMPAT_NONE = 0,
    SIGLOG_COMPAT_BACKWARD = 1,    /* the new version reads events of the latest */
    SIGLOG_COMPAT_FORWARD = 2,     /* the latest reads events of the new version */
    SIGLOG_COMPAT_FULL = 3,        /* both */
    SIGLOG_COMPAT_BACKWARD_TRANSITIVE = 4, /* the same against every earlier version */
    SIGLOG_COMPAT_FORWARD_TRANSITIVE = 5,
    SIGLOG_COMPAT_FULL_TRANSITIVE = 6,
};

/* "none", "backward", ..., "full_transitive" ("?" for others); the mode
 * named name or -1. */
SIGLOG_API const char *siglog_compat_name(int compat);
SIGLOG_API int siglog_compat_parse(const char *name);

/* One reason a new version is incompatible: where in an event, the type
 * there under the earlier and the new version ("absent" when it has
 * none), and what breaks. Strings valid during the callback only. */
typedef struct siglog_schema_reason {
    uint32_t against;     /* the earlier version */
    const char *path;     /* JSON path, e.g. "$.user.id" */
    const char *old_type; /* e.g. "required string" */
    const char *new_type;
    const char *what;
} siglog_schema_reason;

typedef void (*siglog_schema_reason_fn)(void *ctx, const siglog_schema_reason *r);

/* Register definition[0..len) as `version` of the stream, checked against
 * the latest version (the *_TRANSITIVE modes: every version) under compat.
 * Durable when this returns. Registering exactly the definition a version
 * has again changes nothing and returns 0. Errors: SIGLOG_EINVAL (the
 * definition leaves the subset: the detail names the keyword and its JSON
 * path; version 0; a version below the latest; a name longer than 128
 * bytes or with control characters), SIGLOG_EEXIST (another definition
 * under that version), SIGLOG_ESCHEMA (incompatible: fn, when not NULL,
 * gets every reason before the call returns), SIGLOG_ECORRUPT (the
 * registry file is damaged, the detail naming it), SIGLOG_ERDONLY.
 * name may be NULL (""). Thread-safe. */
SIGLOG_API int siglog_schema_add(siglog_stream *st, uint32_t version, const char *name, const void *definition,
                                 size_t len, int compat, siglog_schema_reason_fn fn, void *ctx);

/* The same decision without registering anything (read-only handles too):
 * 0 when siglog_schema_add would succeed. */
SIGLOG_API int siglog_schema_check(siglog_stream *st, uint32_t version, const void *definition, size_t len,
                                   int compat, siglog_schema_reason_fn fn, void *ctx);

typedef struct siglog_schema_info {
    uint32_t version;
    uint32_t compat;              /* enum siglog_schema_compat */
    int64_t registered_at_us;
    uint64_t fingerprint;         /* XXH3-64 of definition */
    const char *name;
    const char *definition;       /* canonical JSON, NUL-terminated */
    size_t definition_len;
    uint64_t reserved[4];
} siglog_schema_info;

/* Version `version` of the stream: SIGLOG_ENOENT when not registered.
 * The strings stay valid until siglog_close. Thread-safe. */
SIGLOG_API int siglog_schema_get(siglog_stream *st, uint32_t version, siglog_schema_info *out);

/* Call fn for each registered version in ascending order; stops early and
 * returns fn's value when non-zero. fn must not register versions. */
SIGLOG_API int siglog_schema_foreach(siglog_stream *st, int (*fn)(void *ctx, const siglog_schema_info *info),
                                     void *ctx);

/* Validate value[0..len) against version `version`: the number of
 * violations (0: it conforms; at most max, max 0 meaning 1), each given
 * to fn (may be NULL) with the JSON path of the value and the reason, or
 * a negative code (SIGLOG_ENOENT for an unregistered version). */
SIGLOG_API int siglog_schema_validate(siglog_stream *st, uint32_t version, const void *value, size_t len,
                                      void (*fn)(void *ctx, const char *path, const char *reason), void *ctx,
                                      size_t max);

/* ---- Redaction: a record filter for readers without clearance ----
 * Every value of a field whose x-sensitivity, in the event's own schema
 * version, is at or above a level is replaced by a pseudonym (the hex of
 * a keyed BLAKE2b-256 of the value's compact JSON, keyed by the store's
 * secret: equal values give equal pseudonyms, so joins still work, but a
 * value cannot be recovered or guessed without the secret), or dropped.
 * FORMAT.md, "Redaction", gives the exact formula. */
enum siglog_sensitivity {
    SIGLOG_SENSITIVITY_PUBLIC = 0,
    SIGLOG_SENSITIVITY_INTERNAL = 1,
    SIGLOG_SENSITIVITY_PERSONAL = 2,
    SIGLOG_SENSITIVITY_SECRET = 3,
};
enum siglog_redact_mode {
    SIGLOG_REDACT_HASH = 0,     /* the value becomes its pseudonym (a string) */
    SIGLOG_REDACT_DROP = 1,     /* the field is removed (an array element:
                                 * the element) */
};

typedef struct siglog_redactor siglog_redactor;

/* A redactor for the stream's records at level (INTERNAL, PERSONAL or
 * SECRET) in mode. HASH needs the store's secret (store.secret, readable
 * by the store's owner only): SIGLOG_EPERM when this process may not read
 * it, SIGLOG_ENOENT when the store has none. SIGLOG_EINVAL for an unknown
 * level or mode. One thread at a time per redactor. */
SIGLOG_API int siglog_redactor_open(siglog_redactor **out, siglog_stream *st, int level, int mode);
/* The value of rec with its fields at or above the level redacted, per
 * rec's schema version: *value and *len (valid until the next call or the
 * close; rec's own bytes when nothing in its version is at the level).
 * Nothing is ever passed through unredacted: an event whose version is not
 * registered, or whose value is not a JSON object when its version marks
 * fields at the level, is SIGLOG_ESCHEMA naming its offset. */
SIGLOG_API int siglog_redact(siglog_redactor *r, const siglog_record *rec, const void **value, size_t *len);
SIGLOG_API void siglog_redactor_close(siglog_redactor *r); /* NULL is fine */

/* Schema usage: what a partition's log holds of each version, counted
 * as events reach the log (what a reader can see), persisted with the
 * partition and rebuilt from the log after a crash. */
typedef struct siglog_schema_usage {
    uint32_t partition;
    uint32_t version;             /* 0: events without a schema version */
    uint64_t first_offset;        /* of its first and last event */
    uint64_t last_offset;
    int64_t min_timestamp_us;     /* its earliest and latest event time */
    int64_t max_timestamp_us;
    uint64_t count;               /* its events */
    uint64_t nonconforming;       /* of those, events counted under
                                   * SIGLOG_CONTRACT_WARN that do not conform */
    uint64_t reserved[2];
} siglog_schema_usage;

/* Call fn for each version partition `partition` holds, in ascending
 * order; stops early and returns fn's value when non-zero. A read-only
 * handle reads the persisted figures and the log past them (without
 * writing anything). SIGLOG_ENOENT for a partition the stream lacks;
 * SIGLOG_ECORRUPT when the log cannot be read. Thread-safe. */
SIGLOG_API int siglog_schema_usage_foreach(siglog_stream *st, uint32_t partition,
                                           int (*fn)(void *ctx, const siglog_schema_usage *u), void *ctx);

/* The nonconforming events of version `version` in the stream's log (every
 * partition, see siglog_schema_usage), in
 * all (*total, may be NULL) and per JSON path: fn (may be NULL) once per
 * path, in order of first sight, with its count (an event counts once
 * per path it breaks). At most 64 paths per version and partition are
 * told apart; the rest count under the path "*". SIGLOG_ENOENT for an
 * unregistered version. Thread-safe. */
SIGLOG_API int siglog_schema_violations(siglog_stream *st, uint32_t version, uint64_t *total,
                                        void (*fn)(void *ctx, const char *path, uint64_t count), void *ctx);

/* The stream a cursor reads. */
SIGLOG_API siglog_stream *siglog_cursor_stream(const siglog_cursor *c);

/* ------------------------------------------------------------------------
 * Consumers
 * ------------------------------------------------------------------------
 * A named consumer of a stream keeps, per partition, its committed offset:
 * the NEXT offset it will read (everything below was delivered and
 * processed), so a job that stops and starts again reads on from there,
 * and one that crashed before committing reads again rather than skips.
 * A consumer with a hold keeps retention from purging events it has not
 * committed past, unless they are older than the stream's max_hold.
 *
 * Consumer offsets are the consumers' state, not the log's: the writer
 * handle may commit them, and so may a handle opened with read_only =
 * SIGLOG_READ_ONLY_CONSUMER, which writes nothing else (so a job commits
 * while another process holds the writer role). Commits from several
 * processes are serialised (FORMAT.md, "Consumer offsets"); each is
 * durable when the call returns. */

#define SIGLOG_READ_ONLY_CONSUMER 2
#define SIGLOG_CONSUMER_HOLD 1u /* siglog_consumer_commit flag: hold */

typedef struct siglog_consumer_info {
    const char *name;
    int hold;                   /* 1: holds retention back */
    int64_t committed_us;       /* wall clock of its last commit */
    uint32_t partitions;
    const uint64_t *next_offset; /* [partitions]: next offset to read */
} siglog_consumer_info;

/* Commit consumer `name`'s progress in one partition: next_offset is the
 * next offset it will read (at most the partition's next offset). Creates
 * the consumer on its first commit; SIGLOG_CONSUMER_HOLD in flags makes it
 * hold (a hold is released only by deleting the consumer). A commit of a
 * holding consumer is recorded in the audit trail first (action "hold").
 * Names are spelled as stream names. SIGLOG_ERDONLY for a plain reader. */
SIGLOG_API int siglog_consumer_commit(siglog_stream *st, const char *name, uint32_t partition,
                                      uint64_t next_offset, unsigned flags);
/* Delete a consumer (SIGLOG_ENOENT when it has none by that name); a
 * hold's release is recorded in the audit trail first. */
SIGLOG_API int siglog_consumer_delete(siglog_stream *st, const char *name);
/* Each consumer of the stream, by name; the info is valid during the call
 * only. fn returning non-zero stops and is returned. Any handle. */
SIGLOG_API int siglog_consumer_foreach(siglog_stream *st, int (*fn)(void *ctx, const siglog_consumer_info *c),
                                       void *ctx);

/* ------------------------------------------------------------------------
 * Maintenance
 * ------------------------------------------------------------------------
 * The third kind of handle beside the writer and readers. Maintenance
 * replaces or removes SEALED segments (retention, compaction, tier moves),
 * never the segment a writer appends to, and publishes each change as a
 * new generation of the partition's catalog, which the writer and the
 * readers pick up; a reader already reading a replaced segment finishes
 * it from its open file. A writer and a maintenance handle, usually in
 * two processes, work side by side: each writes only its own part of a
 * catalog, under a short lock (FORMAT.md, "Partition checkpoint").
 *
 * One maintenance handle per store at a time (an exclusive lock on
 * STORE/maintenance.lock, separate from the writer's). */

typedef struct siglog_maintenance siglog_maintenance;

/* Take the maintenance role of the existing store at `path`. From o (may
 * be NULL) only force_owner (as for a writer: another user than the
 * store's owner gets SIGLOG_EPERM without it) and `internal` (the
 * library's own) are used; the store is never created. Another maintenance handle, in any
 * process: SIGLOG_ELOCKED, the detail naming its pid. Creates
 * maintenance.lock if missing, and removes what an interrupted
 * maintenance change left in a partition (files its catalog does not
 * name) when it first works on that partition; writes nothing else until
 * asked. *out owns the role until siglog_maintenance_close. */
SIGLOG_API int siglog_maintenance_open(siglog_maintenance **out, const char *path, const siglog_options *o);
/* Release the role and free the handle. NULL is fine. */
SIGLOG_API void siglog_maintenance_close(siglog_maintenance *m);

/* Compaction of a stream's sealed segments (siglog(1), "compact"). */
enum siglog_compact_mode {
    /* Consecutive sealed segments each smaller than the stream's
     * merge_below become segments up to segment_bytes_max; every event's
     * offset, timestamp and bytes unchanged, nothing dropped. */
    SIGLOG_COMPACT_MERGE = 1,
    /* Streams with cleanup=compact only (SIGLOG_EINVAL otherwise): of the
     * events with a key in the sealed segments, only each key's newest
     * (the active segment counted) stays; a newest that is a tombstone
     * older than tombstone_retention goes too. Survivors keep their
     * offsets: the dropped ones leave gaps. */
    SIGLOG_COMPACT_KEYS = 2,
    /* Each stream as its cleanup setting says: KEYS for cleanup=compact
     * (its outputs are already full segments), MERGE for cleanup=delete.
     * What a writer's compact_interval runs. */
    SIGLOG_COMPACT_BY_CLEANUP = 3,
};

#define SIGLOG_COMPACT_ALL_PARTITIONS UINT32_MAX
#define SIGLOG_COMPACT_MEMORY_DEFAULT (256ull << 20)

typedef struct siglog_compact_options {
    uint32_t mode;              /* enum siglog_compact_mode */
    uint32_t partition;         /* or SIGLOG_COMPACT_ALL_PARTITIONS */
    uint32_t dry_run;           /* 1: figures only, nothing written */
    uint32_t reserved32;
    uint64_t memory_bytes;      /* key map budget of KEYS; 0: the default */
    /* Called after each partition (done of total), may be NULL. */
    void (*progress)(void *ctx, uint32_t done, uint32_t total);
    void *progress_ctx;
    uint64_t reserved[4];
} siglog_compact_options;

#define SIGLOG_COMPACT_UNKNOWN UINT64_MAX

typedef struct siglog_compact_result {
    uint32_t partitions;        /* partitions compacted (or looked at) */
    uint32_t streams;           /* streams compacted (or looked at) */
    uint64_t segments_in;       /* sealed segments replaced */
    uint64_t segments_out;      /* their replacements */
    uint64_t events_in;         /* events those segments held */
    uint64_t events_dropped;    /* of them, not kept */
    uint64_t bytes_before;      /* of the segments replaced */
    uint64_t bytes_after;       /* of their replacements */
    uint64_t key_map_bytes;     /* KEYS: the most its key map held at once */
    uint32_t key_passes;        /* KEYS: passes that mapped the keys of the
                                 * partition that needed most (1: all in
                                 * memory; more: spilled) */
    uint32_t reserved32b;
    uint64_t reserved[2];
} siglog_compact_result;

/* Compact stream `stream` (every partition, or o->partition) with the
 * stream's own settings; with stream NULL, every stream of the store in
 * name order (o->partition must then be ALL; with KEYS the streams with
 * cleanup=delete are left out), *out summing them and one audit record
 * per stream. Through the catalog's rewrite primitive: each
 * replacement is one catalog commit, so a crash leaves the old segments or
 * the new ones; a writer and readers go on beside it, and a cursor keeps
 * the segments of its snapshot. One audit record (action "compact") is
 * appended before anything is replaced, naming the mode, the partitions
 * and the sealed events and bytes in scope. With dry_run nothing is
 * written (no audit record either) and *out says what would be done: exact
 * for MERGE; for KEYS, segments_out and bytes_after are
 * SIGLOG_COMPACT_UNKNOWN (only writing them tells). Key compaction maps
 * every distinct key of a partition within memory_bytes: when they do
 * not fit, it maps them a class at a time in several passes over the
 * partition, the offsets each class keeps spilled to a temporary file in
 * the partition's directory that has no name past its creation (so none
 * is left however the process ends); the result is the same. Only a
 * single key larger than the budget fails (SIGLOG_ENOMEM), having
 * replaced nothing in that partition. Unknown stream or partition:
 * SIGLOG_ENOENT. */
SIGLOG_API int siglog_compact(siglog_maintenance *m, const char *stream, const siglog_compact_options *o,
                              siglog_compact_result *out);

/* Forgetting by key (siglog(1), "forget"). */

typedef struct siglog_key {
    const void *data;
    size_t len;                 /* at least 1: "no key" cannot be forgotten */
} siglog_key;

#define SIGLOG_FORGET_WAIT_DEFAULT_MS 10000u

typedef struct siglog_forget_options {
    uint32_t dry_run;           /* 1: figures only, nothing written */
    /* How long to wait, in milliseconds, for a writer that has the store
     * in another process to answer the forget's roll request (it rolls
     * the active segments holding events of the keys and zeroes its
     * journal's old bytes; FORMAT.md, "Roll request"). When it does not
     * answer in time the forget fails with SIGLOG_ELIMIT, nothing
     * changed. 0: SIGLOG_FORGET_WAIT_DEFAULT_MS. */
    uint32_t wait_ms;
    /* Called once for each event removed, in offset order within a
     * partition, while the rewrite that removes it reads it (before that
     * rewrite commits: after a crash, the run that finishes the forget
     * may call it again for the same event). May be NULL. */
    void (*removed)(void *ctx, const siglog_record *r);
    void *removed_ctx;
    /* Called after each partition (done of total), may be NULL. */
    void (*progress)(void *ctx, uint32_t done, uint32_t total);
    void *progress_ctx;
    /* Directories holding archives exported with siglog_archive_export
     * (they live outside the store, so the forget must be told where):
     * each archive there whose header names this store and the stream is
     * rewritten without the keys (or removed when nothing stays); others
     * are not touched. NULL / 0: none. */
    const char *const *archive_dirs;
    size_t archive_dir_count;
    /* Called once in a call (intents it finishes first included) with
     * each archive the audit trail says was exported from the stream into
     * a directory not among archive_dirs, its path as recorded with empty
     * and "." components left out: the forget could not look at it. An
     * export records its directory resolved; an older record naming it
     * relative is a directory given that it ends. May be NULL;
     * out->archives_unvisited counts them either way. */
    void (*unvisited)(void *ctx, const char *path);
    void *unvisited_ctx;
} siglog_forget_options;

typedef struct siglog_forget_result {
    uint32_t partitions;        /* partitions looked at */
    uint32_t partitions_changed;/* of them, holding events of the keys */
    uint32_t journal_scrubbed;  /* 1: the commit journal keeps no bytes
                                 * of batches before the forget (zeroed
                                 * by the forget, or by the live writer
                                 * it asked); 0: its journal holds
                                 * entries a writer's next open must
                                 * replay (or siglog_forget_finish
                                 * finished nothing beside a live
                                 * writer, so asked it nothing): it may
                                 * still hold them until they are
                                 * overwritten */
    uint32_t intents_finished;  /* interrupted forgets finished first
                                 * (their figures are not in the rest,
                                 * except with siglog_forget_finish) */
    uint64_t segments_skipped;  /* passed over: their key filter excludes
                                 * every key */
    uint64_t segments_read;     /* read to look for the keys */
    uint64_t segments_rewritten;/* held events of the keys (rewritten, or
                                 * would be with dry_run) */
    uint64_t events_removed;    /* (or would be, with dry_run) */
    uint64_t bytes_before;      /* of the segments rewritten */
    uint64_t bytes_after;       /* of their replacements (0 with dry_run) */
    uint64_t segments_rolled;   /* active segments holding events of the
                                 * keys, rolled first (with dry_run: that
                                 * would be; they count in
                                 * segments_rewritten too) */
    uint64_t archives_read;     /* exported archives of this store's
                                 * stream read in archive_dirs */
    uint64_t archives_rewritten;/* of them, holding events of the keys
                                 * (rewritten or removed; or would be
                                 * with dry_run); their events count in
                                 * events_removed, their bytes in
                                 * bytes_before and bytes_after */
    uint64_t archives_unvisited;/* exported archives of the stream the
                                 * audit trail names outside archive_dirs
                                 * (options.unvisited) */
    uint64_t archives_skipped;  /* exported archives of this store's
                                 * stream passed over unread: their key
                                 * filters exclude every key (not in
                                 * archives_read) */
} siglog_forget_result;

/* Remove every event whose key is one of keys[0..n) from every segment
 * of every partition of stream `stream` (hot, warm and cold tiers), in
 * the maintenance role beside a live writer and readers. Each segment
 * holding such events is rewritten without them through the catalog's
 * rewrite primitive, a cold one as a new archive in cold_dir that the
 * catalog then names before the old archive goes (FORMAT.md §4, "Forget
 * over the cold tier"; a crash leaves it old or new, never half): every
 * other event keeps its offset, time and bytes, the removed ones leave
 * gaps, and the new segment gets its indexes and key filter. Segments
 * whose key filter excludes every key are not read. Before a partition
 * changes, one audit record (action "forget") is appended for it naming
 * the keyed BLAKE2b-256 (the store's secret) of each key it holds events
 * of — never a key itself — with the events and bytes removed and the
 * range of offsets they lay in.
 *
 * Maintenance rewrites sealed segments only: an active segment holding an
 * event of a key is rolled first, through the writer's own protocol
 * (out->segments_rolled): by a writer handle the forget opens for that
 * moment, or, when a writer has the store in another process, by that
 * writer, which the forget asks with a roll request (FORMAT.md, "Roll
 * request") and waits for, at most o->wait_ms. The writer's background
 * task answers within a fraction of a second: it rolls those segments,
 * checkpoints and zeroes its journal's old bytes, keeping every
 * acknowledged event. When it does not answer in time (stopped, or
 * failed), the request is withdrawn and the forget fails with
 * SIGLOG_ELIMIT naming the writer and the request, nothing changed.
 * Events appended after the forget began are not its.
 *
 * Never half: before the first audit record the forget writes its intent,
 * STORE/streams/NAME/forget.intent (FORMAT.md, "Forget intent"), listing
 * the keyed hashes of the keys it found (never the keys), durable before
 * anything changes, removed after the last rewrite. A forget first
 * finishes every intent a crash left (out->intents_finished), matching
 * events by the keyed hash of their key; so does siglog_forget_finish.
 * Maintenance opens and writer opens do not finish intents; any handle
 * (read-only included) lists them with siglog_forget_pending.
 *
 * The commit journal keeps the bytes of batches already checkpointed
 * until the writer overwrites them: when no writer has the store, the
 * forget zeroes them at its end (out->journal_scrubbed 1, also when it
 * removed nothing); when one has it, the roll request asks that writer to
 * zero them, before anything changes.
 *
 * Archives exported with siglog_archive_export live outside the store:
 * those in o->archive_dirs are covered (FORMAT.md §4, "Forget over
 * exported archives"). Each directory is opened once and nothing beneath
 * it is reached through a symlink; each *.sgar file there is read and
 * checked whole (one that cannot be: its error, naming the file and byte,
 * before anything changes), and one whose header names this store and
 * `stream` and holds an event of a key gets its audit record, then is
 * replaced by an archive of the same name without those events (written
 * as NAME.forget, synced, read back whole, renamed over NAME: a crash
 * leaves NAME old or new), or removed when none stays. Every export the
 * audit trail records from `stream` into a directory not among
 * archive_dirs is told to o->unvisited and counted in
 * out->archives_unvisited: the forget cannot tell it is gone.
 *
 * With o->dry_run nothing is written (no audit record either) and *out
 * says what would go; where the forget would fail before its first
 * change (keys filling every sealed segment right after the cold tier
 * with no sealed segment after them keeping an event, FORMAT.md §4), the
 * dry run fails with the same SIGLOG_EINVAL and detail, *out still
 * saying what the plan found. Empty or NULL keys, n == 0: SIGLOG_EINVAL; unknown
 * stream: SIGLOG_ENOENT. o may be NULL (defaults). */
SIGLOG_API int siglog_forget(siglog_maintenance *m, const char *stream, const siglog_key *keys, size_t n,
                             const siglog_forget_options *o, siglog_forget_result *out);

/* Finish every forget a crash interrupted (the pending intents, see
 * siglog_forget): *out counts what they removed and intents_finished how
 * many; the journal is scrubbed as siglog_forget does: by the call when
 * no writer has the store, else by the live writer, asked for each
 * intent before it changes anything and waited for up to o->wait_ms
 * (SIGLOG_ELIMIT naming the writer, that intent left pending and nothing
 * of it changed, when it does not answer). None pending: 0 and an empty
 * *out. A damaged intent: SIGLOG_ECORRUPT naming the file and byte (left
 * in place). o->dry_run: SIGLOG_EINVAL. */
SIGLOG_API int siglog_forget_finish(siglog_maintenance *m, const siglog_forget_options *o,
                                    siglog_forget_result *out);

/* A forget not finished: its intent file. */
typedef struct siglog_forget_intent {
    char stream[SIGLOG_NAME_MAX + 1];
    uint32_t keys;              /* keyed hashes it lists */
    int64_t started_us;         /* when that forget began, unix us */
} siglog_forget_intent;

/* The pending forget intents of the store of s (any handle, read-only
 * included: it reads and writes nothing else), by stream name: *out
 * (siglog_forget_pending_free; NULL when none) and *n. A damaged
 * intent: SIGLOG_ECORRUPT naming the file and byte. */
SIGLOG_API int siglog_forget_pending(siglog *s, siglog_forget_intent **out, size_t *n);
SIGLOG_API void siglog_forget_pending_free(siglog_forget_intent *list);

/* ------------------------------------------------------------------------
 * Retention
 * ------------------------------------------------------------------------
 * siglog_retain applies each stream's retention policy (the settings
 * delete_after, max_bytes, max_hold, warm_after and warm_level) to its
 * partitions' SEALED segments, in the maintenance role, beside a running
 * writer and readers.
 *
 * Warm: after the purge, each sealed hot segment whose newest event is
 * older than now - warm_after is rewritten with LZ4HC at warm_level:
 * the same offsets, the same events and batches, smaller files (the LZ4
 * block format: every reader reads it as before), its catalog tier warm.
 * Each move is recorded in the audit trail (action "warm") first and
 * committed through the catalog's rewrite primitive: a crash leaves the
 * hot segment (the next run moves it) or the warm one.
 *
 * Purge removes the oldest whole segments: those at the start of the log
 * whose newest event is older than now - delete_after, the oldest hot and
 * warm ones while they hold more than max_bytes, and the oldest cold ones
 * while their archives hold more than cold_max_bytes. The log start
 * then moves to the first segment kept, so the offsets below it are gone
 * (readers get SIGLOG_EGAP there). A consumer created with a hold
 * (SIGLOG_CONSUMER_HOLD) keeps every segment holding an event at or past
 * its committed offset, unless the segment's newest event is older than
 * now - max_hold (max_hold 0: no limit); a kept segment stops the purge
 * of every newer one (only a prefix of the log is ever removed). The
 * active segment is never touched.
 *
 * Each purge is recorded in the audit trail (action "purge", cause
 * "policy": stream, partition, offset and time range, bytes, events and
 * the settings that chose it) and synced before the catalog changes;
 * then the catalog is committed and only then are the files unlinked. A
 * crash leaves the segments in place (a later run purges them and
 * records it again) or gone and recorded.
 *
 * Cold: after the purge, the oldest sealed segments whose newest event is
 * older than now - cold_after move into cold_dir, oldest first (the cold
 * tier is always the start of the log), each as one archive file
 * (FORMAT.md §4 "Cold tier" names it): copied, synced, read back and
 * checked, then committed in the catalog as tier cold, and only then is
 * the segment's file removed; each move is recorded (action "cold")
 * first. A cold_dir missing, read-only or full fails the call naming it,
 * the segment still in the store. Cursors, seeks, partition info and
 * siglog_verify read cold segments from their archives as part of the
 * partition. Then each sealed hot segment older than warm_after is
 * rewritten warm.
 *
 * A writer applies a stream's policy itself every retention_interval
 * (0: never), the first time at its open: each run takes the maintenance
 * role for its length (a handle of its own, in the writer's process) and
 * does what siglog_retain does as of the wall clock. While another handle
 * holds the role the run is skipped, not waited for, and reported through
 * options.log_fn. Runs go on a thread of their own: a long one never
 * delays the writer's commits. */

typedef struct siglog_retain_partition {
    const char *stream;
    uint32_t partition;
    uint32_t reserved32;
    uint64_t purged_segments;   /* segments purged (dry run: would be) */
    uint64_t purged_bytes;
    uint64_t purged_events;
    uint64_t purged_from;       /* offsets [from, to) purged; from == to: none */
    uint64_t purged_to;
    uint64_t held_segments;     /* segments the policy would purge that a
                                 * hold kept */
    const char *held_by;        /* the first consumer whose hold kept them
                                 * (NULL when none) */
    uint64_t warm_segments;     /* segments moved to the warm tier (dry
                                 * run: would be) */
    uint64_t warm_bytes;        /* their bytes before */
    uint64_t warm_bytes_after;  /* and after (0 in a dry run) */
    uint64_t cold_segments;     /* segments moved to the cold tier (dry
                                 * run: would be) */
    uint64_t cold_bytes;        /* their bytes before */
    uint64_t cold_bytes_after;  /* their archives' (0 in a dry run) */
    uint64_t cold_orphans;      /* orphan archives of the partition removed
                                 * from cold_dir: archives of this store no
                                 * catalog entry names, left by a cut move
                                 * or purge (dry run: found) */
    uint64_t reserved[1];
} siglog_retain_partition;

typedef struct siglog_retain_options {
    const char *stream;         /* only this stream (NULL: every stream) */
    int dry_run;                /* plan only: change and record nothing */
    /* Each partition, once done (or planned), in stream-name and
     * partition order; the strings are valid during the call. */
    void (*partition_done)(void *ctx, const siglog_retain_partition *p);
    /* Partitions done of total, after each. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
    uint64_t reserved[4];
} siglog_retain_options;

/* Apply the retention policy of the store's streams (o->stream: one) as
 * of now_us (microseconds since the epoch: the clock ages are measured
 * against; a test or a what-if passes another time). o may be NULL (every
 * stream, for real, no callbacks). Stops at the first partition that
 * fails, the detail naming its stream and partition: what the partitions
 * before it did stays done. A partition no writer has opened since this
 * version (no catalog yet) is SIGLOG_EINVAL. SIGLOG_ENOENT for an
 * unknown o->stream. */
SIGLOG_API int siglog_retain(siglog_maintenance *m, int64_t now_us, const siglog_retain_options *o);

/* ------------------------------------------------------------------------
 * Archives
 * ------------------------------------------------------------------------
 * An archive file holds sealed segments of one partition, its batches
 * byte for byte as the store held them, with everything needed to read it
 * without the store: store id, stream, partition, offset and time range,
 * record and batch counts, records per schema version, an index and a
 * whole-file XXH3-64 (FORMAT.md, "Archive files"). */

typedef struct siglog_archive siglog_archive;

typedef struct siglog_archive_info {
    uint64_t store_id;          /* of the store it came from */
    const char *stream;
    uint32_t partition;
    uint32_t segment_count;
    uint64_t first_offset;      /* offsets [first_offset, next_offset); gaps */
    uint64_t next_offset;       /* a rewrite left hold no record */
    uint64_t record_count;
    int64_t min_timestamp_us, max_timestamp_us;
    uint64_t batch_count;
    uint64_t bytes;             /* of the file */
    int64_t created_us;         /* when it was written */
    uint32_t schema_count;      /* entries for siglog_archive_schema */
    uint64_t reserved[4];
} siglog_archive_info;

/* siglog_archive_export's flags. */
#define SIGLOG_ARCHIVE_MOVE 1u /* remove the segments from the store once
                                * the archive holds them durably */

/* In the maintenance role (beside a live writer and readers, in any
 * process): copy partition `partition` of `stream`'s oldest sealed
 * segments whose newest event is older than before_us (INT64_MAX: every
 * sealed one; the active segment never), of any tier (a cold one read
 * from its archive in the stream's cold_dir, checked whole and against
 * its entry; missing or damaged: an error naming it, nothing written),
 * so the archive starts at the log start, into one archive file in
 * directory dir, named STREAM.PPPPP.FIRST-NEXT.sgar (offsets in 20
 * digits); its path goes to path_out (when not NULL). Every batch and
 * record is checked first (damage: SIGLOG_ECORRUPT naming the segment,
 * nothing written); the export is recorded in the audit trail (action
 * "archive"), then the file is written by atomic replace and synced,
 * every path resolved beneath dir without following a symlink
 * (SIGLOG_EPERM otherwise). Without flags the segments stay in the store.
 * With SIGLOG_ARCHIVE_MOVE, once the archive is durable it is read back
 * and checked to be the one built, the removal is recorded in the audit
 * trail, and the segments leave the store through its catalog (the log
 * start moves up to the first offset not archived; readers get
 * SIGLOG_EGAP below it), then the cold ones' archives leave cold_dir;
 * if anything fails before, nothing is removed.
 * Returns 1 when an archive was written, 0 when no segment qualifies;
 * SIGLOG_ENOENT for an unknown stream or partition. The archive is
 * streamed: memory stays a few times the largest batch, whatever the
 * segments' size. */
SIGLOG_API int siglog_archive_export(siglog_maintenance *m, const char *stream, uint32_t partition,
                                     int64_t before_us, const char *dir, unsigned flags, char *path_out,
                                     size_t path_cap);

/* siglog_archive_export_with's options; zeroed, they are
 * siglog_archive_export's with flags 0. */
typedef struct siglog_archive_export_options {
    unsigned flags;             /* SIGLOG_ARCHIVE_MOVE or 0 */
    /* Called from the calling thread as the export goes (NULL: not
     * called): `done` of `total` units, the bytes of the segments
     * exported counted twice (each is read once to check it and once to
     * write it). done only grows and reaches total once the file is
     * written, before a move's read-back check; nothing is called when no
     * segment qualifies. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    uint64_t reserved[4];       /* zero */
} siglog_archive_export_options;

/* siglog_archive_export with options (NULL: none), for a caller that
 * shows how far a long export is. */
SIGLOG_API int siglog_archive_export_with(siglog_maintenance *m, const char *stream, uint32_t partition,
                                          int64_t before_us, const char *dir, const siglog_archive_export_options *o,
                                          char *path_out, size_t path_cap);

/* What siglog_archive_restore brought back. */
typedef struct siglog_restore_result {
    uint64_t first_offset, next_offset; /* offsets [first, next) restored */
    uint64_t records;
    uint32_t segments;
    uint64_t reserved[4];
} siglog_restore_result;

/* In the maintenance role (beside a live writer and readers): bring the
 * archive file at path back into the partition it names (its store id
 * must be this store's: SIGLOG_EINVAL otherwise; its stream and partition
 * must exist: SIGLOG_ENOENT). The archive is checked whole first. Its
 * segments below the partition's log start come back as hot segments and
 * the log start moves down to the archive's first offset; the archive
 * must reach up to the log start (SIGLOG_EINVAL naming the offsets that
 * would be missing otherwise). Its part at or above the log start must
 * hold exactly the records the store holds there: then that part is a
 * no-op; otherwise SIGLOG_EEXIST naming the offsets and the first that
 * differs, and nothing changes (likewise SIGLOG_EINVAL for a segment
 * straddling the log start). The restore is recorded in the audit trail
 * (action "restore") before it is done; the segments are written through
 * the catalog (new files synced, then one catalog commit), so a crash
 * leaves the log as it was or with them. Returns 1 when segments came
 * back (*res, when not NULL, says which), 0 when every event of the
 * archive is in the store already. */
SIGLOG_API int siglog_archive_restore(siglog_maintenance *m, const char *path, siglog_restore_result *res);

/* Open an archive file, any store's or none's: the whole file is read and
 * checked (its checksum, then every rule down to each record) before this
 * returns, so damage is SIGLOG_ECORRUPT here, naming the file and byte.
 * Needs no store handle. */
SIGLOG_API int siglog_archive_open(siglog_archive **out, const char *path);
/* What the archive says of itself; valid until siglog_archive_close. */
SIGLOG_API const siglog_archive_info *siglog_archive_info_get(const siglog_archive *a);
/* Entry i (< schema_count) of its schema summary: a version and how many
 * of its records carry it, versions ascending. */
SIGLOG_API int siglog_archive_schema(const siglog_archive *a, uint32_t i, uint32_t *version, uint64_t *records);
/* Its records in offset order: 1 and *rec (valid until the next call), 0
 * at the end. */
SIGLOG_API int siglog_archive_next(siglog_archive *a, const siglog_record **rec);
/* Its key filters (archive version 2: one per segment, FORMAT.md §24),
 * as siglog verify checks them: 0 when each is usable and holds the key
 * of every record of its segment (a version 1 archive has none: 0),
 * SIGLOG_ECORRUPT naming the file, the filter's byte and what is wrong (a
 * reader then reads the segment instead). Reads its records again; what
 * siglog_archive_next hands out next is unchanged. */
SIGLOG_API int siglog_archive_check_filters(const siglog_archive *a);
SIGLOG_API void siglog_archive_close(siglog_archive *a);

/* ------------------------------------------------------------------------
 * The audit trail
 * ------------------------------------------------------------------------
 * Every tier move, purge, archive, restore, consumer commit with a hold
 * and setting change is recorded in the store's audit trail before it is
 * done (FORMAT.md, "Audit trail"). Records are hash-chained with a key
 * only the store's owner can read (store.secret, mode 0600), so removing,
 * editing or reordering records is detected by verification; records cut
 * from the end are detected only against a head kept elsewhere (the
 * summary's head_mac). The library writes records itself; programs only
 * read them. */

#define SIGLOG_AUDIT_NO_PARTITION UINT32_MAX

typedef struct siglog_audit_record {
    uint64_t seq;               /* 0, 1, 2, ... */
    int64_t time_us;            /* when it was recorded (before the action) */
    const char *action;         /* "warm", "cold", "purge", "archive",
                                 * "restore", "hold", "config", "forget",
                                 * "compact", or "action-N" (a later one) */
    const char *cause;          /* "policy" or "command" */
    const char *stream;         /* "" when the action is not a stream's */
    uint32_t partition;         /* SIGLOG_AUDIT_NO_PARTITION when none */
    uint64_t offset_start;      /* offsets [start, end); start == end: none */
    uint64_t offset_end;
    int64_t time_min_us;        /* event times; min > max: none */
    int64_t time_max_us;
    uint64_t bytes;
    uint64_t events;
    const char *host;           /* who did it */
    uint32_t pid;
    uint32_t uid;
    const char *detail;         /* the policy or command, free text */
} siglog_audit_record;

typedef struct siglog_audit_summary {
    uint64_t records;           /* whole records read */
    uint64_t torn_at;           /* byte of a torn last record (a crash
                                 * interrupted its write; its action never
                                 * began): UINT64_MAX when none */
    int verified;               /* 1 when the chain was checked */
    char head_mac[65];          /* hex of the last record's mac (verified
                                 * reads only): keep it elsewhere to detect
                                 * records later cut from the end */
    uint64_t reserved[4];
} siglog_audit_summary;

/* Read the audit trail of an open store (any handle; writes nothing),
 * calling fn for each record in order; the record and its strings are
 * valid during the call only. fn returning non-zero stops the read and is
 * returned. With verify, the chain is checked first, which needs the
 * store's secret: SIGLOG_EPERM when this process may not read it,
 * SIGLOG_ENOENT when the store has none. A store without a trail has no
 * records. Damage or tampering: SIGLOG_ECORRUPT, the detail naming the
 * first bad record's sequence number and byte; the records before it have
 * been passed to fn. summary may be NULL. */
SIGLOG_API int siglog_audit_read(siglog *s, int verify, int (*fn)(void *ctx, const siglog_audit_record *r),
                                 void *ctx, siglog_audit_summary *summary);

#ifdef __cplusplus
}
#endif
#endif /* SIGLOG_H */
