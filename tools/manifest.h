/*
 * manifest — what a replay delivered, written as a JSON manifest when the
 * replay ends cleanly: the store (id and path), the streams, every filter
 * and option, where each partition's reading ended, each partition's
 * delivered offset range and count, the schema versions seen with their
 * fingerprints, the event count and a content digest a third party can
 * recompute from the events (FORMAT.md §22 gives the byte framing).
 *
 * The digest covers the records in delivery order, so two replays with the
 * same manifest digest delivered the same events in the same order.
 */
#ifndef SIGLOG_TOOLS_MANIFEST_H
#define SIGLOG_TOOLS_MANIFEST_H

#include <siglog.h>

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>

#define MANIFEST_VERSION 2
#define MANIFEST_DIGEST_BYTES 32
#define MANIFEST_DIGEST_HEX (2 * MANIFEST_DIGEST_BYTES + 1)

typedef struct manifest_range {
    uint32_t stream; /* index into the replay's streams */
    uint32_t partition;
    uint64_t first_offset, last_offset; /* delivered, inclusive */
    uint64_t events;
} manifest_range;

/* Where one partition's reading started and ended: the offsets in
 * [start_offset, end_offset) were read, none outside. */
typedef struct manifest_end {
    uint32_t stream, partition;
    uint64_t start_offset, end_offset;
} manifest_end;

/* qsort order of manifest_range and manifest_end (both start with
 * stream, partition): by stream, then partition. Inline, as manifest
 * writes the lists and manifest_load (built without manifest.c in the
 * parse_manifest fuzz target) reads them back. */
static inline int manifest_by_stream_partition(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    if (x[0] != y[0])
        return (x[0] > y[0]) - (x[0] < y[0]);
    return (x[1] > y[1]) - (x[1] < y[1]);
}

typedef struct manifest_version_seen {
    uint32_t stream, version;
} manifest_version_seen;

typedef struct manifest {
    crypto_generichash_state digest;
    const char *const *streams; /* borrowed; nstreams > 1 frames each event with its stream */
    size_t nstreams;
    manifest_range *ranges; /* in first-delivery order; a partition once */
    size_t nranges;
    manifest_end *ends;
    size_t nends;
    manifest_version_seen *versions; /* first-seen order */
    size_t nversions;
    uint64_t events;
    char hex[MANIFEST_DIGEST_HEX]; /* set by manifest_finish */
    int failed;                    /* out of memory: no manifest can be written */
} manifest;

void manifest_begin(manifest *m, const char *const *streams, size_t nstreams);
/* Account for one delivered record of streams[stream]. */
void manifest_add(manifest *m, uint32_t stream, const siglog_record *r);
/* Record where a partition's reading started and ended (once per
 * partition read). */
void manifest_note_end(manifest *m, uint32_t stream, uint32_t partition, uint64_t start_offset,
                       uint64_t end_offset);
/* Finish the digest into m->hex, and sort the ranges and ends by stream
 * and partition. Once, after the last manifest_add. */
void manifest_finish(manifest *m);
/* The finished manifest as JSON (a new reference), with `options`
 * (stolen) as the replay's filters and options and st[i] the handle of
 * streams[i]. NULL when out of memory. */
json_t *manifest_json(const manifest *m, siglog *s, const char *store_path, siglog_stream *const *st,
                      json_t *options);
/* Write doc (borrowed) to path atomically (a synced temporary file
 * renamed over it, the directory synced). Returns 0, or -1 with errno. */
int manifest_write(const json_t *doc, const char *path);
void manifest_free(manifest *m);

#endif
