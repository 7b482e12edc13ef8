/*
 * catalog — the one owner of what a partition's log is: its segment list,
 * its bounds and their generations (format-spec/FORMAT.md, "Partition
 * checkpoint").
 *
 * DESIGN NOTES — who owns what, which lock guards it
 *
 * The persisted state is the partition's catalog.ckpt: a generation
 * number, the log start offset, the next-offset floor (every offset below
 * it was handed out and is durable: the log never ends below it, so no
 * offset is handed out twice) and the segment list, one entry per segment
 * in offset order: base and end offset, record count, first/max event
 * time, bytes, tier, location (the file stem in the partition directory),
 * state (active, sealed, being replaced), the schema versions it holds and
 * the checksum of its summary. Nothing but this module lists a partition
 * directory to learn which segments exist (verify lists it only to report
 * stray files).
 *
 * Three kinds of handle use a catalog:
 *   - the writer (one process, writer.lock) owns the TAIL: the active
 *     entry, the floor, and the roll that seals the active entry and
 *     appends a new one. Within the process the partition's lock (`mu`,
 *     partition.c) serialises its calls.
 *   - maintenance (one process, maintenance.lock; see maintenance.h) owns
 *     the SEALED entries: it replaces or removes them (sl_catalog_rewrite_*,
 *     sl_catalog_remove_prefix), which may move the log start up, and
 *     records their schema versions. It never touches the active entry or
 *     the floor.
 *   - readers take an immutable snapshot (catalog_snapshot) and never
 *     write.
 * Both writers of the file (writer and maintenance, usually two processes)
 * change it read-modify-write under an exclusive flock on the partition's
 * catalog.lock, held only for that (load, merge, atomic replace): each
 * reloads the file under the lock and applies only its own part, so
 * neither clobbers a change of the other. Every write bumps the
 * generation; a handle whose generation is older than the file's picks up
 * the other's change (sl_catalog_refresh). Generations never go back,
 * not even when the file is lost: each write of it is followed by one
 * of the floor file beside the directory, which carries its generation
 * (catalog_floor.h), and a catalog rebuilt or made again without the file
 * starts above that, so its first write is newer than any generation a
 * reader holds.
 *
 * Atomic replace (sl_io_replace_file): a crash leaves the old file or the new
 * one, and both are true: the floor only grows, and a value is written
 * only once what it vouches for is durable.
 *
 * When it is written (never per append): when a partition's first segment
 * is created (so a crash before the first roll still keeps the floor when
 * that segment is lost), at each roll once the new segment is durable, at
 * each journal checkpoint once the segments are synced and before the
 * journal forgets their batches (the floor: so an accepted loss of the
 * active segment never hands an acknowledged offset out again), at a
 * clean close, at a writer's open that had to build or upgrade it, and
 * at each maintenance change. The writer picks up maintenance's
 * generations between its own writes too (sl_partition_catalog_poll, a
 * background task: its log start is never stale for long), re-reading a
 * catalog only when maintenance bumped the stream's hwm file counter
 * after a commit (sl_catalog_on_commit, sl_hwm_catalog_bump).
 *
 * The rewrite primitive (sl_catalog_rewrite_*, catalog_rewrite.c), the
 * only way a segment's files change after it is sealed: new files are
 * built under temporary names (O_EXCL), synced, renamed to a stem no other
 * segment uses, the directory synced, the catalog committed (new
 * generation), and only then are the old files unlinked. A crash anywhere
 * leaves a catalog naming the old segments or the new ones, never both or
 * neither; files the catalog does not name are leftovers
 * (sl_catalog_remove_leftovers), removed by the next maintenance handle
 * and by a writer's open while no maintenance runs (maintenance.h). The
 * same goes for sl_catalog_remove_prefix (commit, then unlink). The state
 * CATALOG_SEG_REPLACING is never written by them: the catalog changes
 * once per rewrite, at its commit. A writer's open removes separately an
 * empty segment an interrupted roll left past the active entry
 * (sl_catalog_drop_unnamed_tail).
 *
 * Readers and replaced segments: a reader's snapshot names the files of
 * its generation. A segment the reader has open stays readable through its
 * descriptor after maintenance unlinks it; a reader that finds a file of
 * its snapshot gone takes a new snapshot and continues at the offset it
 * needs (the replacement holds the same offsets, or retention removed
 * them: SIGLOG_EGAP).
 *
 * Compatibility: a version 1 file (bounds only) and a partition without
 * any are read by listing the directory once, inside this module
 * (catalog_listing.h: every segment stem, plain or a rewrite's, the
 * newest of each base, none whose offsets newer ones hold); a writer
 * or maintenance open writes version 2 (upgrade on first write). Readers
 * never write. A version 2 stream's partition past its first segment
 * must have its file (sl_catalog_check_required: the callers that know
 * the stream's version ask).
 *
 * Thread-safety: a `catalog` is used under its owner's lock (the
 * partition's `mu` for the writer, the maintenance handle's for
 * maintenance). Snapshots are immutable and reference counted: any thread
 * may read, ref and release them.
 */
#ifndef SIGLOG_CATALOG_H
#define SIGLOG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "segment.h"

#define CATALOG_FILE "catalog.ckpt"
#define CATALOG_LOCK_FILE "catalog.lock"
#define CATALOG_MAGIC 0x4b434753u /* "SGCK" */
#define CATALOG_VERSION 2
#define CATALOG_V1_FILE_BYTES 48
/* Bounds on an entry (FORMAT.md): a location is a plain file stem. */
#define CATALOG_LOCATION_MAX 63
#define CATALOG_SCHEMA_VERSIONS_MAX 64
/* Bounds a reader of the file checks before allocating. */
#define CATALOG_SEGMENTS_MAX (1u << 20)

enum catalog_tier { CATALOG_TIER_HOT = 0, CATALOG_TIER_WARM = 1, CATALOG_TIER_COLD = 2, CATALOG_TIER_ARCHIVE = 3 };
enum catalog_seg_state {
    CATALOG_SEG_ACTIVE = 0,    /* the writer's last segment; its counts are
                                * lower bounds as of the last write */
    CATALOG_SEG_SEALED = 1,    /* immutable */
    CATALOG_SEG_REPLACING = 2, /* sealed, a rewrite of it is under way */
};

/* One segment of the log. Offsets may have gaps (records dropped by
 * compaction): record_count <= end_offset - base_offset. */
typedef struct catalog_segment {
    uint64_t base_offset;
    uint64_t end_offset;        /* one past its last offset (base when empty) */
    uint64_t record_count;
    int64_t first_timestamp_us; /* of its first record (0 when empty) */
    int64_t max_timestamp_us;   /* largest record time (INT64_MIN when empty) */
    uint64_t bytes;             /* of its .seg file */
    uint64_t summary_checksum;  /* XXH3-64 of its .sum file (0: active) */
    uint8_t tier;               /* enum catalog_tier */
    uint8_t state;              /* enum catalog_seg_state */
    uint16_t schema_count;
    uint32_t schema_versions[CATALOG_SCHEMA_VERSIONS_MAX]; /* sorted, distinct */
    char location[CATALOG_LOCATION_MAX + 1]; /* file stem: files are
                                * <dir>/<location>.seg/.oix/.tix/.sum */
} catalog_segment;

/* The bounds of the log. */
typedef struct catalog_checkpoint {
    uint64_t log_start_offset;  /* the first offset the log holds */
    uint64_t active_base;       /* the last segment starts here or later */
    uint64_t next_offset_floor; /* every offset below was handed out and is
                                 * durable: the log ends here or later */
} catalog_checkpoint;

/* ---- snapshots: what readers use ---- */

/* An immutable view of one generation. */
typedef struct catalog_snapshot catalog_snapshot;

/* Load the partition directory's catalog as a snapshot (readers: writes
 * nothing). A partition without a version 2 file is listed (see
 * "Compatibility"). SIGLOG_ECORRUPT naming the directory when it is
 * missing, or the file when it is damaged; SIGLOG_EVERSION. */
int sl_catalog_snapshot_load(const siglog_io *io, const char *dir, catalog_snapshot **out);
catalog_snapshot *sl_catalog_snapshot_ref(catalog_snapshot *s);
void sl_catalog_snapshot_release(catalog_snapshot *s); /* NULL is fine */

uint64_t sl_catalog_snapshot_generation(const catalog_snapshot *s);
/* A snapshot read without catalog.ckpt: 1 and *out the bounds of the
 * floor file beside the directory when there is one (its generation
 * starts one above the file's); else 0. */
int sl_catalog_snapshot_floor(const catalog_snapshot *s, catalog_checkpoint *out);
const catalog_checkpoint *sl_catalog_snapshot_bounds(const catalog_snapshot *s);
size_t sl_catalog_snapshot_count(const catalog_snapshot *s);
const catalog_segment *sl_catalog_snapshot_segment(const catalog_snapshot *s, size_t i);
/* Index of the segment holding `offset`, or of the first one after it
 * (count when none). */
size_t sl_catalog_snapshot_find(const catalog_snapshot *s, uint64_t offset);
/* 1 when the snapshot was built from a listing (no version 2 file). */
int sl_catalog_snapshot_listed(const catalog_snapshot *s);
/* 1 when the partition has a file at all (version 1 or 2). */
int sl_catalog_snapshot_found(const catalog_snapshot *s);
/* Every segment file the snapshot names exists: SIGLOG_ECORRUPT naming
 * the first one missing and its offsets otherwise. */
int sl_catalog_check_files(const siglog_io *io, const char *dir, const catalog_snapshot *s);
/* The same for the first and the last segment only (what a reader checks
 * when it takes a snapshot; a cursor meets a hole in the middle when it
 * gets there). */
int sl_catalog_check_ends(const siglog_io *io, const char *dir, const catalog_snapshot *s);
/* Whether the file of entry i is missing: 0 when it is there, else
 * SIGLOG_ECORRUPT naming the range of it and the missing entries right
 * after it, *after set to the first entry after them. */
int sl_catalog_missing_run(const siglog_io *io, const char *dir, const catalog_snapshot *s, size_t i, size_t *after);

/* Sorted base offsets of dir's plain "<20 digits>.seg" files: what a
 * writer's roll names (sl_catalog_drop_unnamed_tail) and what verify
 * checks of a partition whose catalog it cannot read. A partition
 * without a version 2 file is listed by catalog_listing.h, which takes
 * every stem. */
int sl_catalog_list_segments(const siglog_io *io, const char *dir, uint64_t **bases, size_t *count);

/* Sorted segment bases against the bounds: SIGLOG_ECORRUPT naming the
 * missing range when segments are missing at the start or at the end. */
int sl_catalog_check_segments(const char *dir, const catalog_checkpoint *c, const uint64_t *bases, size_t n);
/* The same for a snapshot built from a listing (a version 1 file). */
int sl_catalog_check_listed(const char *dir, const catalog_snapshot *s);
/* A log that ends at next_offset against the bounds: SIGLOG_ECORRUPT
 * naming the missing offsets when it ends below the floor. */
int sl_catalog_check_end(const char *dir, const catalog_checkpoint *c, uint64_t next_offset);

/* The rule for a stream whose stream.meta is version 2 (FORMAT.md,
 * "Partition checkpoint"): its writer names the first segment in a
 * catalog.ckpt right after creating it, and every roll and rewrite goes
 * through the file, so a partition whose log is past its first segment
 * (a second segment, or a first one at another offset than 0) without
 * any file lost it, perhaps together with its first segments: taking the
 * listing as the truth would restart the log at the first base left and
 * hand lower offsets out again. SIGLOG_ECORRUPT naming dir's file then; 0
 * for a snapshot read from a file, and for a partition with no segment or
 * with one at offset 0 (a log that starts at 0 either way; a crash between
 * the first segment and the file leaves that), unless its floor file
 * (catalog_floor.h) says offsets were handed out: SIGLOG_ECORRUPT then
 * too, since the newest segments may have gone with the file (a rebuild
 * goes on past the floor, catalog_loss.h). Streams of version 1
 * stores are read from the listing (see "Compatibility"): their callers
 * do not ask. Writes nothing. */
int sl_catalog_check_required(const char *dir, const catalog_snapshot *s);

/* ---- the file ---- */

/* catalog.ckpt codec (FORMAT.md). decode validates untrusted bytes (size,
 * magic, checksum, version, reserved zero, order of bounds and entries,
 * locations): SIGLOG_ECORRUPT or SIGLOG_EVERSION. A version 1 file
 * decodes to its bounds with no entries and generation 0 (*version says
 * which). encode returns a malloc'd buffer. */
int sl_catalog_file_encode(uint64_t generation, const catalog_checkpoint *b, const catalog_segment *segs, size_t n,
                        uint8_t **out, size_t *len);
int sl_catalog_file_decode(const uint8_t *buf, size_t len, int *version, uint64_t *generation, catalog_checkpoint *b,
                        catalog_segment **segs, size_t *n);

/* The generation a version 2 file's first CATALOG_GENERATION_PEEK_BYTES
 * claim, unchecked (0 when they are not a version 2 header): only a hint
 * that a full read (which checks everything) has something new. */
#define CATALOG_GENERATION_PEEK_BYTES 16
uint64_t sl_catalog_file_generation(const uint8_t *head, size_t len);

/* The version 1 file: exactly CATALOG_V1_FILE_BYTES, bounds only. decode
 * validates untrusted bytes (size, magic, checksum, version, reserved
 * zero, log_start <= active_base <= floor). */
void sl_catalog_encode(uint8_t buf[CATALOG_V1_FILE_BYTES], const catalog_checkpoint *c);
int sl_catalog_decode(const uint8_t *buf, size_t len, catalog_checkpoint *c);

/* 1 when loc may name the files of the segment at base_offset: its 20
 * digits, optionally followed by '.' and lower-case letters or digits. */
int sl_catalog_location_valid(const char *loc, uint64_t base_offset);

/* Read only the bounds of partition directory dir. *found is 0 when the
 * directory has no file. SIGLOG_ECORRUPT naming the directory when it is
 * missing, or the file when it is damaged. Writes nothing. */
int sl_catalog_load(const siglog_io *io, const char *dir, catalog_checkpoint *out, int *found);

/* ---- the writer's and maintenance's handle ---- */

typedef struct catalog catalog;

/* Open the catalog of partition directory dir for writing (the writer, or
 * maintenance): load it (a version 1 file or none: from a listing, taken
 * as the truth). Writes nothing until a commit; the caller checks the
 * files (sl_catalog_check_files) and removes leftovers
 * (sl_catalog_remove_leftovers) as its role allows. */
int sl_catalog_open(catalog **out, const siglog_io *io, const char *dir, uint32_t file_mode);
void sl_catalog_close(catalog *c);
/* Until the writer's open lists segments through the catalog: the
 * segments found, sorted bases[0..n), checked against the bounds, or
 * without a file taken as the truth (persisted at the next commit). */
int sl_catalog_match_segments(catalog *c, const uint64_t *bases, size_t n);

const catalog_checkpoint *sl_catalog_get(const catalog *c);
uint64_t sl_catalog_generation(const catalog *c);
const char *sl_catalog_dir(const catalog *c);
const siglog_io *sl_catalog_io(const catalog *c);
/* 1 once the handle's state is the version 2 file's. */
int sl_catalog_persisted(const catalog *c);
/* The current state as a snapshot (a new reference). */
catalog_snapshot *sl_catalog_snapshot_get(catalog *c);
/* Pick up another handle's newer generation from the file. */
int sl_catalog_refresh(catalog *c);
/* Called after each generation this handle writes (maintenance: to tell
 * a live writer, sl_hwm_catalog_bump). */
typedef void (*catalog_commit_fn)(catalog *c);
void sl_catalog_on_commit(catalog *c, catalog_commit_fn fn);

/* The generation of dir's version 2 file, from its header alone (0
 * when it has none): a cheap check whether sl_catalog_refresh has
 * anything to pick up. Any handle; writes nothing. */
int sl_catalog_disk_generation(const siglog_io *io, const char *dir, uint64_t *generation);

/* The one way the file changes (the writer's and maintenance's calls
 * below use it): under catalog.lock, reload the file, let `change` edit
 * a private copy (it may append one entry: room is there), write it as
 * the next generation by atomic replace, adopt it. change returns 0,
 * CATALOG_UNCHANGED (nothing to write, unless the file is not version 2
 * yet) or an error code (nothing written). */
#define CATALOG_UNCHANGED 1
typedef int (*catalog_change_fn)(catalog_snapshot *s, void *arg);
int sl_catalog_update(catalog *c, catalog_change_fn change, void *arg);
/* Writer, at its open: make the floor file beside the directory
 * (catalog_floor.h) hold the version 2 file's generation and bounds,
 * written only when it is missing (a store from before it), damaged or
 * behind. Each later
 * commit keeps it up to date (sl_catalog_update), and writes it when this
 * call failed. */
int sl_catalog_keep_floor(catalog *c);
/* For change functions: the snapshot being changed. */
catalog_segment *sl_catalog_edit_segments(catalog_snapshot *s, size_t *n);
/* Make the snapshot hold n entries (new ones zeroed): its entries, or
 * NULL when out of memory. */
catalog_segment *sl_catalog_edit_resize(catalog_snapshot *s, size_t n);
catalog_checkpoint *sl_catalog_edit_bounds(catalog_snapshot *s);

/* The figures of a segment as an entry would hold them (sealed: its
 * summary checksum too), read from the open segment. */
int sl_catalog_describe_segment(segment *seg, catalog_segment *out);

/* Writer, at its open of a catalog that is not version 2 yet (an
 * upgrade; catalog_figures.c): write it as version 2 with the figures of
 * every sealed entry read from its segment. Nothing when it is version 2
 * already. */
int sl_catalog_fill_figures(catalog *c, const segment_params *params);
/* The figures of sealed entry e (end offset, record count, times, bytes,
 * summary checksum) read from its segment in dir, opened read-only. */
int sl_catalog_read_figures(const siglog_io *io, const char *dir, const segment_params *params, catalog_segment *e);

/* Writer, at its open: a roll that crashed before its catalog write
 * leaves the new segment empty and unnamed past the last entry: unlink
 * it (a segment there that holds bytes is SIGLOG_ECORRUPT, not touched).
 * Only for a version 2 catalog. */
int sl_catalog_drop_unnamed_tail(catalog *c);
/* Unlink the files of the segment named stem (those present). */
int sl_catalog_unlink_segment(catalog *c, const char *stem);

/* Writer. The first segment was created and is durable: persist an entry
 * for it (so the floor survives a crash before the first roll). */
int sl_catalog_segment_created(catalog *c, uint64_t base_offset);
/* Writer, at a roll: the active segment `sealed` is sealed and durable
 * (its summary written), the next one at sealed->end_offset is created
 * and durable. Seals the active entry with the figures given, appends the
 * new active entry and raises the floor to its base. */
int sl_catalog_roll(catalog *c, const catalog_segment *sealed);
/* Writer: persist a new active base and floor (each only grows), written
 * only when something changed or nothing was persisted yet. Call only
 * once the segment at active_base and every offset below
 * next_offset_floor are durable. */
int sl_catalog_commit(catalog *c, uint64_t active_base, uint64_t next_offset_floor);
/* sl_catalog_commit and the change `also` made in one generation (one
 * write of the file and of its floor, where two calls wrote each twice):
 * nothing is written when neither changes anything. Same preconditions
 * as sl_catalog_commit; also must hold for the durable state only. */
int sl_catalog_commit_and(catalog *c, uint64_t active_base, uint64_t next_offset_floor, catalog_change_fn also,
                          void *also_arg);

/* ---- maintenance's operations (catalog_rewrite.c) ----
 * Maintenance only (maintenance.h): each works on SEALED entries, picks
 * up the writer's newer generation first (sl_catalog_refresh) and commits
 * through sl_catalog_update, so a roll of the writer in between is kept. */

/* Record schema versions (any order, duplicates fine) as held by the
 * sealed segment at base_offset; persisted as a new generation (nothing
 * written when it held them all already). SIGLOG_ENOENT when no sealed
 * entry starts there, SIGLOG_ELIMIT beyond CATALOG_SCHEMA_VERSIONS_MAX. */
int sl_catalog_segment_add_schema_versions(catalog *c, uint64_t base_offset, const uint32_t *versions, size_t n);
/* Insert schema version v into e's (ascending, distinct): 1 when added,
 * 0 when e had it, SIGLOG_ELIMIT (naming e) beyond
 * CATALOG_SCHEMA_VERSIONS_MAX. Changes e only. */
int sl_catalog_segment_insert_version(catalog_segment *e, uint32_t v);
/* Remove the first `count` segments (all sealed: SIGLOG_EINVAL
 * otherwise); the log start moves to the base of the next one. Commits,
 * then unlinks their files (a crash in between leaves leftovers). */
int sl_catalog_remove_prefix(catalog *c, size_t count);

/* The rewrite primitive (see DESIGN NOTES). Replace the sealed segments
 * [first, first + count) of the catalog by new ones covering the same
 * offsets:
 *   sl_catalog_rewrite_begin → for each new segment, in offset order:
 *   sl_catalog_rewrite_segment gives a fresh segment under a temporary
 *   stem, the caller appends batches to it (sl_segment_append) →
 *   sl_catalog_rewrite_commit seals and syncs them, renames them to their
 *   stems, syncs the directory, commits the catalog, unlinks the old
 *   files. sl_catalog_rewrite_abort unlinks what was built.
 * The first new segment starts where the first old one does; each ends
 * at or before the next one's base and the last at or before the old
 * end (records may be dropped: offsets are never renumbered). An entry
 * covers up to the next one's base (the last: the old end), so the
 * catalog's offsets stay those of before; its schema versions are those
 * of the old entries it overlaps, its tier the first old entry's. New
 * stems are "<base>.r<G>", G the generation the rewrite began at plus
 * one: no committed entry ever had it (each commit raises the
 * generation). Temporary stems are "<base>.r<G>-tmp", never a valid
 * location. */
typedef struct catalog_rewrite catalog_rewrite;
int sl_catalog_rewrite_begin(catalog *c, size_t first, size_t count, catalog_rewrite **out);
/* The segment is owned by the rewrite (closed by commit or abort). */
int sl_catalog_rewrite_segment(catalog_rewrite *rw, uint64_t base_offset, const segment_params *params,
                               segment **out);
/* The new entries' tier (default: the first old entry's): a tier move
 * is committed with the rewrite that makes it. */
void sl_catalog_rewrite_set_tier(catalog_rewrite *rw, uint8_t tier);
/* Record schema versions (any order, duplicates fine) as held by the new
 * segment last given by sl_catalog_rewrite_segment, beside those its
 * entry takes from the old entries it overlaps. SIGLOG_ELIMIT beyond
 * CATALOG_SCHEMA_VERSIONS_MAX. */
int sl_catalog_rewrite_add_versions(catalog_rewrite *rw, const uint32_t *versions, size_t n);
/* A restore through the same primitive: new segments tile the offsets
 * [first_offset, log start) below the log (none old: nothing is
 * unlinked); the commit puts their entries (tier hot, the versions given
 * by sl_catalog_rewrite_add_versions) before the first one and moves the
 * log start down to first_offset, provided the log still starts where it
 * did at begin (SIGLOG_ECORRUPT otherwise, nothing committed).
 * SIGLOG_EINVAL when first_offset is not below the log start. */
int sl_catalog_restore_begin(catalog *c, uint64_t first_offset, catalog_rewrite **out);
/* Frees rw whatever happens. On an error before the catalog's write the
 * new files are removed; on one during or after it they are left for
 * sl_catalog_remove_leftovers, which keeps whatever the catalog that
 * survived names. */
int sl_catalog_rewrite_commit(catalog_rewrite *rw);
void sl_catalog_rewrite_abort(catalog_rewrite *rw); /* NULL is fine */

/* Remove the leftovers of interrupted maintenance changes: in a version
 * 2 catalog's directory, the segment files (.seg/.oix/.tix/.sum, and
 * their .tmp) of a stem the catalog does not name, when only maintenance
 * makes such a stem (one with a suffix) or when it lies below the active
 * entry's base (replaced or removed segments). A stem past the active
 * entry is the writer's (sl_catalog_drop_unnamed_tail), any other name
 * is left alone. Call only while no maintenance change can be under way
 * (maintenance.h, "Leftovers"). Syncs the directory when it removed
 * something. */
int sl_catalog_remove_leftovers(catalog *c);

#endif
