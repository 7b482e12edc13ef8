/*
 * manifest — what a replay delivered, written as a JSON manifest when the
 * replay ends cleanly: the stream, each partition's delivered offset range
 * and count, every filter and option, the schema versions seen with their
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

#define MANIFEST_DIGEST_BYTES 32

typedef struct manifest_range {
    uint32_t partition;
    uint64_t first_offset, last_offset; /* delivered, inclusive */
    uint64_t events;
} manifest_range;

typedef struct manifest {
    crypto_generichash_state digest;
    manifest_range *ranges; /* in first-delivery order; a partition once */
    size_t nranges;
    uint32_t *versions; /* schema versions seen, in first-seen order */
    size_t nversions;
    uint64_t events;
    int failed; /* out of memory: no manifest can be written */
} manifest;

void manifest_begin(manifest *m);
/* Account for one delivered record. */
void manifest_add(manifest *m, const siglog_record *r);
/* Write the manifest to path atomically (a synced temporary file renamed
 * over it), with `options` (stolen) as the replay's filters and options.
 * Returns 0, or -1 with errno set. */
int manifest_write(manifest *m, siglog_stream *st, const char *stream, json_t *options, const char *path);
void manifest_free(manifest *m);

#endif
