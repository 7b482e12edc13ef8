/*
 * consumer — named consumers of a stream and their committed offsets, in
 * streams/NAME/consumers (format-spec/FORMAT.md, "Consumer offsets").
 *
 * A consumer's committed offset in a partition is the NEXT offset it will
 * read: everything below it was delivered and processed. A consumer with a
 * hold keeps retention from purging what it has not committed past
 * (unless older than the stream's max_hold).
 *
 * Who writes: the consumers' state is not the log's. The writer handle may
 * commit, and so may a reader opened in the consumer role
 * (siglog_options.read_only = SIGLOG_READ_ONLY_CONSUMER), which writes
 * nothing but this file (and, for holds, an audit record): an evaluation
 * job commits while the collector holds the writer role. Several
 * processes may commit at once: each change is a read-modify-write of the
 * whole file under an exclusive flock on streams/NAME/consumers.lock, and
 * the file is replaced atomically (sl_io_replace_file), so a crash leaves the
 * old file or the new one and readers never see a half-written one.
 */
#ifndef SIGLOG_CONSUMER_H
#define SIGLOG_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "siglog.h"

#define CONSUMERS_FILE "consumers"
#define CONSUMERS_LOCK_FILE "consumers.lock"
#define CONSUMERS_MAGIC 0x4e434753u /* "SGCN" */
#define CONSUMERS_VERSION 1
#define CONSUMERS_HEADER_BYTES 16
#define CONSUMER_ENTRY_FIXED 16
#define CONSUMERS_MAX 1024
#define CONSUMER_HOLD 1u /* flags: the consumer holds retention back */

typedef struct consumer_entry {
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t flags;         /* CONSUMER_HOLD */
    int64_t committed_us;   /* wall clock of its last commit */
    uint32_t partitions;
    uint64_t *next;         /* [partitions]: next offset to read */
} consumer_entry;

typedef struct consumer_set {
    consumer_entry *e; /* sorted by name, names distinct */
    size_t n;
} consumer_set;

void sl_consumer_set_free(consumer_set *s);

/* The file codec. decode validates untrusted bytes (size, magic, version,
 * checksum, reserved zero, names valid, sorted and distinct, partition
 * counts 1..4096, flags known): SIGLOG_ECORRUPT or SIGLOG_EVERSION. encode
 * returns a malloc'd buffer. */
int sl_consumers_encode(const consumer_set *s, uint8_t **out, size_t *len);
int sl_consumers_decode(const uint8_t *buf, size_t len, consumer_set *out);

/* Load stream_dir's consumers (none when the file is missing). Writes
 * nothing; the detail of an error names the file. */
int sl_consumers_load(const siglog_io *io, const char *stream_dir, consumer_set *out);

/* A change to one consumer, applied under the lock: set partition's next
 * offset (set_partition < partitions), or delete (del). */
typedef struct consumer_change {
    const char *name;
    uint32_t partitions;    /* the stream's */
    int del;
    uint32_t partition;
    uint64_t next_offset;
    uint32_t flags;         /* with a commit: CONSUMER_HOLD to set it */
    int64_t now_us;
} consumer_change;

/* Before the file is replaced, with the consumer as it was (NULL when it
 * did not exist) and as it will be (NULL when deleted): a nonzero return
 * stops the change. The audit record of a hold is written here, before
 * the change it explains. */
typedef int (*consumer_before_fn)(void *ctx, const consumer_entry *old, const consumer_entry *new_);

/* Apply c to stream_dir's consumers under the lock, by the atomic-replace
 * recipe, calling before (when not NULL) first. Deleting a missing consumer is SIGLOG_ENOENT. */
int sl_consumers_change(const siglog_io *io, const char *stream_dir, uint32_t file_mode, const consumer_change *c,
                     consumer_before_fn before, void *ctx);

#endif
