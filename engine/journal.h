/*
 * journal — the store-wide commit journal (format-spec/FORMAT.md,
 * "Commit journal"; DESIGN.md, "Write path").
 *
 * Why: making N partition files durable costs N fdatasyncs per commit; the
 * journal makes a commit of any number of partitions durable with one write
 * and one fdatasync. The same batches then go to their segments unsynced;
 * a checkpoint (sl_journal_reset, after the caller synced every segment written
 * since the previous one) lets the journal start over.
 *
 * One file, preallocated and zero-filled once at its full size, so writes
 * overwrite allocated blocks and fdatasync never has to commit metadata.
 * Two header slots (bytes 0 and 4096) hold the generation; a reset writes
 * generation+1 into the other slot, so a torn header write leaves the old
 * one readable. Entries start at JOURNAL_DATA_START and carry the
 * generation: entries of older generations that still sit further in the
 * file are rejected by generation, torn ones by their checksums.
 *
 * Entry: 32-byte header (magic, stream id, partition, payload length,
 * generation, XXH3 of the first 24 bytes), then the payload: whole sealed
 * batches exactly as they go into the segment. An entry is valid only if
 * its header checksum matches and its payload is a sequence of valid
 * batches that fills payload_len exactly. An invalid entry that no valid
 * entry of the generation follows is a torn end, never acknowledged; one
 * that a valid entry follows is damage, handed to the caller to judge
 * (journal_verdict.h).
 *
 * Not thread-safe: the commit leader is its only user at a time.
 */
#ifndef SIGLOG_JOURNAL_H
#define SIGLOG_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "io.h"

#define JOURNAL_HEADER_MAGIC 0x484a4753u /* "SGJH" */
#define JOURNAL_ENTRY_MAGIC 0x454a4753u  /* "SGJE" */
#define JOURNAL_FORMAT_VERSION 1
#define JOURNAL_SLOT_BYTES 4096
#define JOURNAL_DATA_START (2 * JOURNAL_SLOT_BYTES)
#define JOURNAL_ENTRY_HEADER_BYTES 32
#define JOURNAL_BYTES_MIN (1u << 20)

typedef struct journal journal;

/* Open STORE/journal, creating it (zero-filled, via temp + rename) when
 * missing or shorter than its header. bytes: size for a new file. */
int sl_journal_open(const siglog_io *io, const char *store_dir, uint64_t bytes, uint64_t store_id, uint32_t mode,
                 journal **out);
/* Open STORE/journal read-only (a reader): never creates or changes
 * anything. *out stays NULL (and 0 is returned) when there is no journal.
 * Only sl_journal_replay may be used on it. */
int sl_journal_open_read(const siglog_io *io, const char *store_dir, uint64_t store_id, journal **out);
void sl_journal_close(journal *j);
/* Read-only check of STORE/journal's two header slots (verify): 0, or
 * SIGLOG_ECORRUPT with a detail when neither is valid or one that was
 * written (it has the header magic) is not. Never creates or changes
 * anything. */
int sl_journal_check(const siglog_io *io, const char *store_dir, uint64_t store_id);

/* Called for each valid entry of the current generation, in journal
 * order, with its byte position and its batches. A non-zero return stops
 * the replay and is returned. */
typedef int (*journal_replay_fn)(void *ctx, uint64_t pos, uint32_t stream_id, uint32_t partition,
                                 const uint8_t *batches, size_t len);
/* Called for damage: the invalid entry at byte pos of file `path` is
 * followed by a valid entry of the current generation at byte next (so it
 * is no torn end). known: its header is intact, so stream_id and partition
 * are the damaged entry's own; otherwise they mean nothing. A non-zero
 * return stops the replay and is returned. */
typedef int (*journal_damage_fn)(void *ctx, const char *path, uint64_t pos, uint64_t next, int known,
                                 uint32_t stream_id, uint32_t partition);
/* Scan the current generation from the start, handing on valid entries and
 * damage; the first invalid entry that no valid entry follows ends it (a
 * torn end, never acknowledged). Sets the write position to the end of the
 * last valid entry. Reads the rest of the file past an invalid entry to
 * tell which it is. */
int sl_journal_replay(journal *j, journal_replay_fn fn, journal_damage_fn damage, void *ctx);

/* Hand the valid entry at byte pos (found by sl_journal_replay) to fn again.
 * SIGLOG_ECORRUPT when it is no longer valid. */
int sl_journal_entry_at(journal *j, uint64_t pos, journal_replay_fn fn, void *ctx);

/* Bytes an entry with this payload takes. */
static inline uint64_t journal_entry_bytes(size_t payload_len)
{
    return JOURNAL_ENTRY_HEADER_BYTES + (uint64_t)payload_len;
}
uint64_t sl_journal_space_left(const journal *j);
uint64_t sl_journal_capacity(const journal *j); /* bytes for entries in all */

/* One entry to write. */
typedef struct journal_entry {
    uint32_t stream_id;
    uint32_t partition;
    const uint8_t *payload;
    size_t len;
} journal_entry;

/* Write entries at the write position with one pwritev (no sync).
 * SIGLOG_ELIMIT if they do not fit: the caller checkpoints first. */
int sl_journal_write(journal *j, const journal_entry *entries, size_t n);
int sl_journal_sync(journal *j);
/* Start a new generation (empties the journal). The caller must have
 * synced every segment holding what the journal held. */
int sl_journal_reset(journal *j);
uint64_t sl_journal_generation(const journal *j);

/* When no writer has the store at store_dir (an exclusive lock on
 * writer.lock, held meanwhile, says so) and its journal's current
 * generation holds no entry: zero the journal past its header slots
 * (the bytes of earlier generations) and sync, *scrubbed 1. *scrubbed 0
 * when a writer (or a reader reading the journal) has the lock, or the
 * journal holds entries a writer's next open must replay: then nothing
 * is written (journal_scrub.c). A store without writer.lock never had a
 * journal: *scrubbed 1. */
int sl_journal_scrub_idle(const siglog_io *io, const char *store_dir, uint64_t store_id, int *scrubbed);
int sl_journal_is_empty(const journal *j);
/* The writer's scrub, asked by a roll request (roll_request.h): zero the
 * journal past its header slots and sync. Only right after a checkpoint
 * (sl_journal_is_empty), by the commit leader: SIGLOG_EINVAL otherwise. */
int sl_journal_scrub_live(journal *j);
/* 1 when a writer (or, for a moment, a reader opening) holds the lock of
 * the store at store_dir, 0 when none does; takes it for an instant. */
int sl_journal_writer_live(const siglog_io *io, const char *store_dir);
const char *sl_journal_path(const journal *j);
const siglog_io *sl_journal_io(const journal *j);
/* Past it no byte was written since the last live scrub (UINT64_MAX
 * before the first): where the next one may stop. */
uint64_t sl_journal_dirty_end(const journal *j);
void sl_journal_scrubbed(journal *j);

#endif
